"""A bidi control (U+202E RIGHT-TO-LEFT OVERRIDE) in a name people typed cannot reorder the text around
it, beyond the public page: the PDF certificate, the OB 3.0 credential page, the audit log, the LTI
deep-link list and the award e-mail (hub.bidi)."""

from __future__ import annotations

from types import SimpleNamespace

from flask import render_template

from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.bidi import isolate_if_needed, visible_json
from hub.certificates import services as certificates
from hub.learners.mail import mailer_for
from tests.hub.certificates.support import award, pdf_text
from tests.hub.web.conftest import sign_in

RLO_ISSUER = "Szkoła \u202eX"
RLO_BADGE = "Odznaka \u202ezła"
HTML = {"Accept": "text/html"}


def _rlo_award(client, ctx, factory) -> str:
    info = factory.setup(badge_name=RLO_BADGE)
    with ctx.db.session_scope() as s:
        s.get(Issuer, info["issuer_id"]).name = RLO_ISSUER
    return award(client, ctx, factory, setup=info)


def test_isolation_only_where_it_is_needed():
    assert isolate_if_needed("Zażółć gęślą jaźń") == "Zażółć gęślą jaźń"
    assert isolate_if_needed(None) is None
    assert isolate_if_needed(RLO_BADGE) == f"\u2068{RLO_BADGE}\u2069"
    assert isolate_if_needed("שלום") == "\u2068שלום\u2069"
    assert visible_json({"name": RLO_BADGE}) == '{"name": "Odznaka \\u202ezła"}'


def test_the_pdf_certificate_isolates_names(client, ctx, factory):
    aid = _rlo_award(client, ctx, factory)
    with ctx.db.session_scope() as s:
        pdf = certificates.certificate_pdf(s, ctx, s.query(Assertion).filter_by(public_id=aid).one())
    text = pdf_text(pdf)
    # without isolation the override ran on and drew "(lp.elpmaxe.alokzs//:sptth)"
    assert "(https://szkola.example.pl)" in text, text


def test_the_ob3_credential_page_isolates_names(client, ctx, factory):
    aid = _rlo_award(client, ctx, factory)
    html = client.get(f"/credentials/{aid}", headers=HTML).get_data(as_text=True)
    assert f"<title>\u2068{RLO_BADGE}\u2069 — " in html
    assert f"<bdi>{RLO_ISSUER}</bdi>" in html and f"<h1><bdi>{RLO_BADGE}</bdi></h1>" in html


def test_the_award_email_isolates_names_in_its_subject_and_text(client, ctx, factory):
    _rlo_award(client, ctx, factory)
    mail = mailer_for(ctx.settings).sent[-1]
    assert mail.subject.endswith(f"\u2068{RLO_BADGE}\u2069")
    assert f"\u2068{RLO_ISSUER}\u2069" in mail.text


def test_the_audit_log_shows_bidi_controls_as_escapes(client, world):
    from tests.hub.web.conftest import post_form

    sign_in(client, "site@example.org")
    post_form(
        client,
        f"/admin/issuers/{world['a']['issuer_pid']}",
        {"name": RLO_ISSUER, "url": "https://szkola.example.pl", "email": "", "description": ""},
    )
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Szkoła \\u202eX" in page and "\u202e" not in page.split("<main", 1)[-1]


def test_the_lti_deep_link_list_isolates_badge_names(app, ctx, factory):
    info = factory.setup(badge_name=RLO_BADGE)
    with ctx.db.session_scope() as s:
        badge = s.get(BadgeClass, info["badge_id"])
        with app.test_request_context("/lti/launch"):
            html = render_template(
                "lti/deep_link.html", launch=SimpleNamespace(launch_id="l"), badges=[badge], urls=ctx.urls
            )
    assert f"<strong><bdi>{RLO_BADGE}</bdi></strong>" in html
