"""Accounts services: passwords, roles, reset links, TOTP (RFC 6238), API tokens, scoping rules."""

from __future__ import annotations

import pyotp
import pytest

from hub.accounts import services as accounts
from hub.accounts.access import AWARD, CONFIGURE, VIEW, Principal
from hub.errors import Forbidden, NotFound, ValidationError


def test_passwords_are_hashed_and_checked(ctx):
    with ctx.db.session_scope() as s:
        user = accounts.create_user(s, email=" Ada@Example.ORG ", password="long enough pw")
        assert user.email == "ada@example.org"
        assert user.password_hash.startswith("scrypt:") and "long enough pw" not in user.password_hash
        assert accounts.authenticate(s, "ADA@example.org", "long enough pw") is user
        assert accounts.authenticate(s, "ada@example.org", "wrong password") is None
        assert accounts.authenticate(s, "nobody@example.org", "long enough pw") is None
        with pytest.raises(ValidationError):
            accounts.create_user(s, email="ada@example.org", password="another long one")
        with pytest.raises(ValidationError):
            accounts.create_user(s, email="bob@example.org", password="short")
        user.active = False
        assert accounts.authenticate(s, "ada@example.org", "long enough pw") is None


def test_reset_link_works_once(ctx):
    with ctx.db.session_scope() as s:
        user = accounts.create_user(s, email="ada@example.org", password="long enough pw")
        token = accounts.make_reset_token(ctx, user)
        assert accounts.user_from_reset_token(s, ctx, token) is user
        accounts.set_password(s, user, "a brand new password")
        with pytest.raises(ValidationError):
            accounts.user_from_reset_token(s, ctx, token)  # the password changed: the link is spent
        with pytest.raises(ValidationError):
            accounts.user_from_reset_token(s, ctx, token + "x")


def test_totp_accepts_each_code_once(ctx):
    with ctx.db.session_scope() as s:
        user = accounts.create_user(s, email="ada@example.org", password="long enough pw")
        uri = accounts.begin_totp(s, ctx, user)
        assert uri.startswith("otpauth://totp/")
        secret = accounts.totp_secret(ctx, user)
        assert secret not in (user.totp_secret_encrypted or "")
        now = 1_764_410_000
        code = pyotp.TOTP(secret).at(now)
        assert accounts.verify_totp(s, ctx, user, code, at=now)
        assert not accounts.verify_totp(s, ctx, user, code, at=now)  # replay refused
        assert not accounts.verify_totp(s, ctx, user, "000000", at=now + 300)
        assert accounts.verify_totp(s, ctx, user, pyotp.TOTP(secret).at(now + 30), at=now + 40)  # one step drift


def test_api_tokens_are_stored_hashed_and_revocable(ctx):
    with ctx.db.session_scope() as s:
        user = accounts.create_user(s, email="ada@example.org", password="long enough pw")
        row, token = accounts.create_api_token(s, user, name="ci", scope="award")
        assert token.startswith("bh_") and token not in row.token_hash
        assert accounts.resolve_api_token(s, token) is row and row.last_used_at is not None
        assert accounts.resolve_api_token(s, token[:-1] + ("a" if token[-1] != "a" else "b")) is None
        assert accounts.resolve_api_token(s, "bh_nothing") is None
        accounts.revoke_api_token(s, row)
        assert accounts.resolve_api_token(s, token) is None
        with pytest.raises(ValidationError):
            accounts.create_api_token(s, user, name="x", scope="root")


def test_principal_abilities_and_scopes():
    staff = Principal(1, "s@x", roles={10: "staff"})
    admin = Principal(2, "a@x", roles={10: "admin"})
    reader = Principal(2, "a@x", roles={10: "admin"}, scope="read")
    site = Principal(3, "site@x", site_admin=True)
    assert staff.may(10, AWARD, write=True) and not staff.may(10, CONFIGURE)
    assert admin.may(10, CONFIGURE, write=True) and not admin.may(11, VIEW)
    assert reader.may(10, CONFIGURE) and not reader.may(10, AWARD, write=True)
    assert site.may(99, CONFIGURE, write=True) and site.issuer_ids() is None
    with pytest.raises(NotFound):
        admin.require(11, VIEW)  # another issuer: its objects do not exist for this user
    with pytest.raises(Forbidden):
        staff.require(10, CONFIGURE)
    with pytest.raises(Forbidden):
        admin.require_site_admin()
