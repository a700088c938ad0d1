"""Names people typed are isolated on console pages, so a bidi control (U+202E) in one cannot reorder
the text around it (e.g. the e-mail address next to a recipient's name)."""

from __future__ import annotations

from hub.badges.models import Assertion, BadgeClass, Issuer
from tests.hub.web.conftest import sign_in

RLO_NAME = "Kasia 😀 \u202eevil"


def test_award_and_lists_isolate_names(client, ctx, world):
    a = world["a"]
    with ctx.db.session_scope() as s:
        award = s.query(Assertion).filter_by(public_id=a["assertion"]).one()
        award.recipient_name = RLO_NAME
        s.get(BadgeClass, a["badge_id"]).name = "Odznaka \u202ezła"
        s.get(Issuer, a["issuer_id"]).name = "Wystawca \u202eX"
    sign_in(client, "admin-a@example.org")
    page = client.get(f"/admin/awards/{a['assertion']}?lang=en").get_data(as_text=True)
    assert f"<dd><bdi>{RLO_NAME}</bdi> &lt;<bdi>a@example.org</bdi>&gt;</dd>" in page
    assert "<h1><bdi>Odznaka \u202ezła</bdi></h1>" in page
    assert "<title>\u2068Odznaka \u202ezła\u2069 · Badge Hub</title>" in page
    awards = client.get("/admin/awards?lang=en").get_data(as_text=True)
    assert f"<td><bdi>{RLO_NAME}</bdi> &lt;<bdi>a@example.org</bdi>&gt;</td>" in awards
    assert "<td><bdi>Odznaka \u202ezła</bdi></td>" in awards
    assert ">\u2068Odznaka \u202ezła\u2069</option>" in awards  # options take no markup
    badges = client.get("/admin/badges?lang=en").get_data(as_text=True)
    assert "<bdi>Odznaka \u202ezła</bdi></a></td><td><bdi>Wystawca \u202eX</bdi></td>" in badges
    issuer = client.get(f"/admin/issuers/{a['issuer_pid']}?lang=en").get_data(as_text=True)
    assert "<h1><bdi>Wystawca \u202eX</bdi></h1>" in issuer
