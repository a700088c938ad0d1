"""The issuer's verification settings in the console: public endpoints, the certificate that signs PDF
certificates (upload a PKCS#12, or a new self-issued one), and the PDF certificate layout."""

from __future__ import annotations

import io
import re

from hub.accounts.models import AuditEntry
from hub.badges.models import Issuer
from hub.certificates import keys
from hub.certificates.models import CertificateLayout
from tests.hub.certificates.test_render_and_sign import _pkcs12_with_chain
from tests.hub.web.conftest import post_form, sign_in


def _active(ctx, issuer_id: int) -> list[str]:
    with ctx.db.session_scope() as s:
        return [r.fingerprint for r in keys.active_rows(s, s.get(Issuer, issuer_id))]


def test_issuer_page_lists_the_public_verification_addresses(client, ctx, world):
    sign_in(client, "admin-a@example.org")
    a = world["a"]
    html = client.get(f"/admin/issuers/{a['issuer_pid']}?lang=en").get_data(as_text=True)
    for path in ("", "/revocations", "/did.json", "/revocations/1edtech"):
        assert f"/issuers/{a['issuer_pid']}{path}</a>" in html
    assert "did:web:" in html and "/verify</a>" in html
    (made,) = _active(ctx, a["issuer_id"])  # self-issued with the issuer: no public GET has to make it
    assert made in html and "None yet" not in html


def test_upload_pkcs12_replaces_the_signing_certificate_and_is_audited(client, ctx, world):
    a = world["a"]
    sign_in(client, "admin-a@example.org")
    url = f"/admin/issuers/{a['issuer_pid']}/signing-certificate"
    assert post_form(client, url, {"action": "self-issue"}).status_code == 302
    first = _active(ctx, a["issuer_id"])
    assert len(first) == 1

    p12, _ca = _pkcs12_with_chain("Szkoła Podstawowa nr 7 w Łodzi")
    wrong = post_form(
        client,
        url + "?lang=en",
        {"action": "upload", "passphrase": "wrong", "pkcs12": (io.BytesIO(p12), "issuer.p12")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422 and "cannot be read" in wrong.get_data(as_text=True)
    assert _active(ctx, a["issuer_id"]) == first  # nothing half-written

    done = post_form(
        client,
        url,
        {"action": "upload", "passphrase": "secret", "pkcs12": (io.BytesIO(p12), "issuer.p12")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    now = _active(ctx, a["issuer_id"])
    assert len(now) == 1 and now != first
    page = client.get(f"/admin/issuers/{a['issuer_pid']}").get_data(as_text=True)
    assert "Szkoła Podstawowa nr 7 w Łodzi" in page and now[0] in page and "Test CA – Łódź" in page
    with ctx.db.session_scope() as s:
        entries = s.query(AuditEntry).filter_by(action="issuer.signing_certificate").order_by(AuditEntry.id)
        entry = entries.all()[-1]
        assert entry.before == {"fingerprint": first[0]}
        assert entry.after == {"fingerprint": now[0], "source": "uploaded"}
        assert "secret" not in str(entry.after)

    missing = post_form(client, url + "?lang=pl", {"action": "upload"})
    assert missing.status_code == 422 and "Wybierz plik PKCS#12" in missing.get_data(as_text=True)


def test_certificate_layout_is_validated_and_saved(client, ctx, world):
    a = world["a"]
    sign_in(client, "admin-a@example.org")
    url = f"/admin/issuers/{a['issuer_pid']}/certificate-layout"
    bad = post_form(client, url + "?lang=en", {"template_html": "<h1>{{ recipient_name </h1>", "bilingual": "1"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "template error on line 1" in body
    assert "{{ recipient_name &lt;/h1&gt;" in body  # the input is kept
    good = post_form(client, url, {"template_html": "<h1>{{ recipient_name }}</h1>", "bilingual": "1"})
    assert good.status_code == 302
    page = client.get(f"/admin/issuers/{a['issuer_pid']}").get_data(as_text=True)
    assert re.search(r'name="bilingual" value="1"\s+checked', page)
    with ctx.db.session_scope() as s:
        entry = s.query(AuditEntry).filter_by(action="issuer.certificate_layout").one()
        assert entry.after["bilingual"] is True and entry.before is None


def test_console_shows_the_problem_next_to_the_template(client, ctx, world):
    a = world["a"]
    sign_in(client, "admin-a@example.org")
    url = f"/admin/issuers/{a['issuer_pid']}/certificate-layout"
    page = post_form(client, url + "?lang=pl", {"template_html": "<h1>{{ c.badge_name }}</h1>\n{{ 1/0 }}"})
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'aria-invalid="true" aria-describedby="template_html-error"' in body
    assert '<p class="field-error" id="template_html-error">błąd szablonu w wierszu 2: division by zero' in body
    assert "{{ 1/0 }}</textarea>" in body  # the input is kept
    css = post_form(client, url + "?lang=en", {"template_html": "<p>x</p>", "template_css": "@import 'x.css';"})
    assert 'id="template_css-error">@import is not allowed' in css.get_data(as_text=True)
    with ctx.db.session_scope() as s:
        assert s.query(CertificateLayout).count() == 0


def test_issuer_staff_see_the_settings_but_cannot_change_them(client, world):
    a = world["a"]
    sign_in(client, "staff-a@example.org")
    page = client.get(f"/admin/issuers/{a['issuer_pid']}").get_data(as_text=True)
    assert "signing-certificate" in page and "Upload certificate" not in page
    url = f"/admin/issuers/{a['issuer_pid']}/certificate-layout"
    assert post_form(client, url, {"bilingual": "1"}).status_code == 403
    url = f"/admin/issuers/{a['issuer_pid']}/signing-certificate"
    assert post_form(client, url, {"action": "self-issue"}).status_code == 403
