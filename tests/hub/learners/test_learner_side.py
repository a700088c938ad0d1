"""The learner's side: award e-mail with a claim link (signed, expiring, single-use), magic-link
sign-in, settings, curation and portfolio, streamed export, deletion."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

from sqlalchemy import update

from hub.badges.models import Assertion
from hub.badges.recipient import hash_identity
from hub.db import utcnow
from hub.learners.mail import mailer_for
from hub.learners.models import Learner, LinkToken, Notification
from tests.conftest import completion, post_event
from tests.hub.certificates.support import POLISH_NAME, award, pdf_text

EMAIL = "zofia@example.edu"


def _mails(ctx, to=EMAIL):
    return [m for m in mailer_for(ctx.settings).sent if m.to == to]


def _link(message, kind: str) -> str:
    return re.search(rf"http://hub\.test(/me/{kind}/\S+)", message.text).group(1)


def _csrf(client) -> str:
    html = client.get("/me").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _claim(client, ctx, factory, **kw):
    before = len(_mails(ctx))
    aid = award(client, ctx, factory, **kw)
    mails = _mails(ctx)
    assert len(mails) == before + 1
    return aid, mails[-1]


def test_award_sends_one_email_in_the_recipients_language_after_commit(client, ctx, factory):
    aid, mail = _claim(client, ctx, factory)
    assert mail.locale == "pl" and "Otrzymujesz odznakę: Zażółć gęślą jaźń" == mail.subject
    assert "Szkoła Łódź przyznaje Ci odznakę „Zażółć gęślą jaźń”." in mail.text
    with ctx.db.session_scope() as s:
        assert s.query(Notification).one().status == "sent"
    # the same completion again (another delivery id) awards nothing new, so mails nothing
    before = len(_mails(ctx))
    post_event(client, completion(email=EMAIL, name=POLISH_NAME), msg_id="msg_again_1")
    assert len(_mails(ctx)) == before


def test_claim_link_signs_in_once_and_refuses_reuse_tampering_and_expiry(client, ctx, factory):
    aid, mail = _claim(client, ctx, factory)
    path = _link(mail, "claim")
    assert client.get(path).status_code == 200  # a page with a button: prefetching does not use it
    resp = client.post(path)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"#badge-{aid}")
    home = client.get("/me").get_data(as_text=True)
    assert "Zażółć gęślą jaźń" in home and EMAIL in home
    other = client.application.test_client()
    assert other.post(path).status_code == 410  # reused
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert other.post(f"/me/claim/{tampered}").status_code == 400
    assert other.post("/me/claim/not-a-token").status_code == 400
    # a fresh link whose row has expired
    with ctx.db.session_scope() as s:
        from hub.learners import notifications

        a = s.query(Assertion).filter_by(public_id=aid).one()
        fresh = _link(notifications.award_message(s, ctx, a), "claim")
        s.execute(
            update(LinkToken).where(LinkToken.used_at.is_(None)).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert other.post(fresh).status_code == 410
    assert client.application.test_client().post("/me/login/" + token).status_code == 400  # wrong purpose


def test_magic_link_login_does_not_reveal_unknown_addresses(client, ctx, factory):
    award(client, ctx, factory)
    stranger = client.post("/me/login", data={"email": "nobody@example.edu"}).get_data(as_text=True)
    known = client.post("/me/login", data={"email": " Zofia@Example.EDU "}).get_data(as_text=True)
    assert 'id="sent"' in stranger and 'id="sent"' in known
    assert _mails(ctx, "nobody@example.edu") == []
    path = _link(_mails(ctx)[-1], "login")
    assert client.post(path).status_code == 303
    assert "Zażółć gęślą jaźń" in client.get("/me").get_data(as_text=True)
    assert client.application.test_client().post(path).status_code == 410


def _signed_in(client, ctx, factory, **kw) -> str:
    aid, mail = _claim(client, ctx, factory, **kw)
    client.post(_link(mail, "claim"))
    return aid


def test_settings_curation_and_portfolio(client, ctx, factory):
    aid1 = _signed_in(client, ctx, factory, setup_kw={"allow_multiple": True})
    post_event(client, completion(email=EMAIL, name=POLISH_NAME, course_id=43, timecompleted=1764500000))
    with ctx.db.session_scope() as s:
        ids = [a.public_id for a in s.query(Assertion).order_by(Assertion.id)]
        learner = s.query(Learner).one().public_id
    assert len(ids) == 2 and ids[0] == aid1
    csrf = _csrf(client)
    assert client.post("/me/settings", data={"display_name": "Zofia Ń"}).status_code == 400  # no CSRF token
    client.post(
        "/me/settings", data={"csrf_token": csrf, "display_name": "Zofia Źdźbło", "locale": "en", "show_name": "on"}
    )
    client.post("/me/badges", data={"csrf_token": csrf, "order": list(reversed(ids)), "public": ids})
    page = client.application.test_client().get(f"/portfolio/{learner}", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert "Badges of <bdi>Zofia Źdźbło</bdi>" in html and 'content="noindex, nofollow"' in html
    assert html.index(f"/assertions/{ids[1]}") < html.index(f"/assertions/{ids[0]}")  # the learner's order
    client.post("/me/badges", data={"csrf_token": csrf, "order": ids, "public": [ids[1]]})
    html = client.application.test_client().get(f"/portfolio/{learner}").get_data(as_text=True)
    assert f"/assertions/{ids[1]}" in html and f"/assertions/{ids[0]}" not in html  # private again
    # the certificate follows the new name, in the learner's language, re-made (old cache is stale)
    pdf = client.application.test_client().get(f"/assertions/{aid1}/certificate.pdf")
    text = pdf_text(pdf.data)
    assert "Zofia Źdźbło" in text and "Date of issue" in text


def test_export_zip_is_streamed_with_json_images_and_pdfs(client, ctx, factory):
    aid = _signed_in(client, ctx, factory)
    resp = client.get("/me/export.zip")
    assert resp.is_streamed and resp.mimetype == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(resp.data))
    names = zf.namelist()
    profile = json.loads(zf.read("learner.json"))
    assert profile["emails"] == [EMAIL] and profile["badges"][0]["assertion"] == aid
    folder = f"badges/001-{aid}"
    assert {f"{folder}/assertion-ob2.json", f"{folder}/credential-ob3.json", f"{folder}/badge.png"} <= set(names)
    assert zf.read(f"{folder}/certificate.pdf").startswith(b"%PDF-")
    assert json.loads(zf.read(f"{folder}/credential-ob3.json"))["id"] == f"urn:uuid:{aid}"


def test_deletion_erases_personal_data_and_keeps_the_award_verifiable(client, ctx, factory):
    aid = _signed_in(client, ctx, factory)
    client.get(f"/assertions/{aid}/certificate.pdf")  # cache a certificate with the name
    assert client.post("/me/delete", data={"csrf_token": _csrf(client), "confirm": "no"}).status_code == 403
    assert client.post("/me/delete", data={"csrf_token": _csrf(client), "confirm": "delete"}).status_code == 200
    with ctx.db.session_scope() as s:
        a = s.query(Assertion).filter_by(public_id=aid).one()
        assert a.recipient_plain is None and a.recipient_name is None
        assert a.recipient_identity == hash_identity(EMAIL, a.recipient_salt)
        assert s.query(Learner).count() == 0 and s.query(LinkToken).count() == 0
    hosted = client.get(f"/assertions/{aid}", headers={"Accept": "application/ld+json"}).get_json()
    assert hosted["recipient"]["identity"] == hash_identity(EMAIL, hosted["recipient"]["salt"])
    assert client.get("/me").status_code == 303  # signed out
