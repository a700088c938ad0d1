"""The learner's backpack: import badges from anywhere (file, URL, paste), see them with their
verification state, re-verified by the scheduled job (an e-mail when one changes), in the ZIP export;
the import is an audited operation."""

from __future__ import annotations

import io
import json
import re
import zipfile

import requests
from nacl.signing import SigningKey

from hub.accounts.models import AuditEntry
from hub.backpack.models import ImportedBadge
from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.credentials.ob3keys import multikey_from_public
from hub.learners.mail import mailer_for
from hub.operations import backpack as backpack_ops
from tests.hub.verification.support import EMAIL, award_one
from tests.hub.verification.test_other_issuers import EMAIL as OTHER_EMAIL
from tests.hub.verification.test_other_issuers import _credential, _jcs_sign

HTML = {"Accept": "text/html"}


def _signed_in(app, email):
    from tests.conftest import Factory

    learner_id = Factory(app.extensions["hub"]).learner(email)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["learner"] = learner_id
    return client


def _csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/me").get_data(as_text=True)).group(1)


def _allow_loopback(app):
    ctx = app.extensions["hub"]
    object.__setattr__(ctx, "settings", ctx.settings.with_(verify_allow_private_hosts=True))


def test_learner_imports_hub_badges_sees_them_and_the_job_notices_a_revocation(live_server):
    ctx = live_server.extensions["hub"]
    _allow_loopback(live_server)
    aid = award_one(live_server)
    client = _signed_in(live_server, EMAIL)
    png = requests.get(ctx.urls.assertion_baked(aid), timeout=10).content
    jwt = requests.get(ctx.urls.credential_jwt(aid), timeout=10).text
    token = _csrf(client)
    r = client.post("/me/import", data={"csrf_token": token, "file": (io.BytesIO(png), "badge.png")})
    assert r.status_code == 303, r.get_data(as_text=True)
    assert client.post("/me/import", data={"csrf_token": token, "text": jwt}).status_code == 303
    again = client.post("/me/import", data={"csrf_token": token, "url": ctx.urls.assertion(aid)})
    assert again.status_code == 303
    with ctx.db.session_scope() as s:
        rows = s.query(ImportedBadge).order_by(ImportedBadge.id).all()
        assert [(r.kind, r.state) for r in rows] == [("ob2-hosted", "valid"), ("ob3-vc-jwt", "valid")]  # URL = PNG's
        assert rows[0].original_type == "image/png" and rows[0].source == "url"
        assert s.query(AuditEntry).filter_by(action="backpack.import").count() == 3
    page = client.get("/me?lang=en").get_data(as_text=True)
    assert page.count('data-state="valid"') == 2 and "Badges from elsewhere" in page
    assert 'data-check="recipient" data-status="passed"' in page

    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.query(Assertion).filter_by(public_id=aid).one(), "Pomyłka")
    before = len(mailer_for(ctx.settings).sent)
    with ctx.db.session_scope() as s:
        backpack_ops.reverify_now(s, ctx)
    with ctx.db.session_scope() as s:
        assert {r.state for r in s.query(ImportedBadge)} == {"revoked"}
    mails = [m for m in list(mailer_for(ctx.settings).sent)[before:] if m.to == EMAIL]
    assert len(mails) == 2 and all("revoked" in m.subject or "unieważniona" in m.subject for m in mails), mails

    with ctx.db.session_scope() as s:
        backpack_ops.reverify_now(s, ctx)  # no change: no new e-mail
    assert len([m for m in list(mailer_for(ctx.settings).sent)[before:] if m.to == EMAIL]) == 2

    export = client.get("/me/export.zip")
    names = zipfile.ZipFile(io.BytesIO(export.data)).namelist()
    imported = [n for n in names if n.startswith("imported/")]
    assert any(n.endswith("original.png") for n in imported) and any(n.endswith("badge.jwt") for n in imported)
    verification = json.loads(
        zipfile.ZipFile(io.BytesIO(export.data)).read(next(n for n in imported if n.endswith("verification.json")))
    )
    assert verification["state"] == "revoked" and verification["checks"]


def test_import_of_another_issuers_credential_and_refusals(app, ctx):
    client = _signed_in(app, OTHER_EMAIL)
    key = SigningKey.generate()
    did = "did:key:" + multikey_from_public(bytes(key.verify_key))
    signed = _jcs_sign(_credential(did), key, f"{did}#{did[8:]}")
    token = _csrf(client)
    assert client.post("/me/import", data={"csrf_token": token, "text": json.dumps(signed)}).status_code == 303
    with ctx.db.session_scope() as s:
        row = s.query(ImportedBadge).one()
        assert (row.kind, row.state, row.name) == ("ob3-data-integrity", "valid", "Analiza danych")
    tampered = json.loads(json.dumps(signed))
    tampered["id"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert client.post("/me/import", data={"csrf_token": token, "text": json.dumps(tampered)}).status_code == 303
    with ctx.db.session_scope() as s:
        assert sorted(r.state for r in s.query(ImportedBadge)) == ["invalid", "valid"]
    bad = client.post("/me/import?lang=en", data={"csrf_token": token, "text": "no badge here"}, headers=HTML)
    assert bad.status_code == 422 and "not a badge" in bad.get_data(as_text=True)
    huge = client.post(
        "/me/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"x" * (ctx.settings.verify_max_bytes + 70_000)), "a.png")},
        headers=HTML,
    )
    assert huge.status_code == 413
    with ctx.db.session_scope() as s:
        assert s.query(ImportedBadge).count() == 2
        row = s.query(ImportedBadge).filter_by(state="invalid").one().public_id
    assert client.post(f"/me/imported/{row}/delete", data={"csrf_token": token}).status_code == 303
    with ctx.db.session_scope() as s:
        assert s.query(ImportedBadge).count() == 1
        assert s.query(AuditEntry).filter_by(action="backpack.remove").count() == 1


def test_import_needs_a_signed_in_learner(client):
    assert client.post("/me/import", data={"text": "{}"}).status_code in (303, 400)
