"""Request-free services of the Open Badges API: clients, authorization codes, tokens, connections, and
what the API shows of a learner (profile, badges as OB 2.0 assertions or OB 3.0 credentials).

Secrets are random (:func:`secrets.token_urlsafe`, 256 bits or more) and only their digests are stored
(:func:`hub.obapi.models.digest`). Services flush, never commit (the boundary does). Scopes are the
1EdTech scope URIs (https://www.imsglobal.org/spec/ob/v2p1/#scopes,
https://www.imsglobal.org/spec/ob/v3p0/#scopes).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.backpack.models import ImportedBadge
from hub.badges.services import require_line
from hub.errors import NotFound, ValidationError
from hub.i18n import lazy as _l
from hub.learners.models import Learner
from hub.obapi.models import OAuthClient, OAuthCode, OAuthToken, digest
from hub.settings import Settings

V2P1 = "https://purl.imsglobal.org/spec/ob/v2p1/scope/"
V3P0 = "https://purl.imsglobal.org/spec/ob/v3p0/scope/"
ASSERTION_READ = V2P1 + "assertion.readonly"
ASSERTION_CREATE = V2P1 + "assertion.create"
PROFILE_READ_V2 = V2P1 + "profile.readonly"
CREDENTIAL_READ = V3P0 + "credential.readonly"
CREDENTIAL_UPSERT = V3P0 + "credential.upsert"
PROFILE_READ_V3 = V3P0 + "profile.readonly"
PROFILE_UPDATE_V3 = V3P0 + "profile.update"
SCOPES_V2P1 = (ASSERTION_READ, ASSERTION_CREATE, PROFILE_READ_V2)
SCOPES_V3P0 = (CREDENTIAL_READ, CREDENTIAL_UPSERT, PROFILE_READ_V3, PROFILE_UPDATE_V3)
SCOPES = SCOPES_V2P1 + SCOPES_V3P0

#: What each scope lets a connected application do, for the consent page and the /me page.
SCOPE_TEXTS = {
    ASSERTION_READ: _l("read the badges in your backpack"),
    ASSERTION_CREATE: _l("add badges to your backpack"),
    PROFILE_READ_V2: _l("read your name and e-mail address"),
    CREDENTIAL_READ: _l("read the badges in your backpack"),
    CREDENTIAL_UPSERT: _l("add badges to your backpack"),
    PROFILE_READ_V3: _l("read your name and e-mail address"),
    PROFILE_UPDATE_V3: _l("change the name on your profile"),
}

#: Lifetime of an authorization code (RFC 6749 section 4.1.2 recommends at most 10 minutes).
CODE_SECONDS = 600


def _now() -> datetime:
    return datetime.now(UTC)


def scope_list(scope: str | None) -> list[str]:
    """The known scopes in a space-separated ``scope`` string, in :data:`SCOPES` order."""
    asked = set((scope or "").split())
    return [s for s in SCOPES if s in asked]


def new_client_credentials() -> tuple[str, str]:
    """A random ``(client_id, client_secret)`` (192 and 256 bits, URL-safe base64)."""
    return secrets.token_urlsafe(24), secrets.token_urlsafe(32)


#: RFC 7591 section 2 client metadata the hub reads: text members, and lists of text.
_TEXT_MEMBERS = (
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "scope",
    "software_id",
    "software_version",
    "token_endpoint_auth_method",
    "jwks_uri",
)
_LIST_MEMBERS = ("redirect_uris", "grant_types", "response_types", "contacts")


def check_client_metadata(doc) -> None:
    """Refuse a Dynamic Client Registration request (RFC 7591 section 3.1) whose members the hub reads
    have the wrong JSON type, or text it cannot store or show: before Authlib reads it (it assumes the
    types). ``client_name``: one line of at most 255 characters; other text at most 2,048 characters; lists
    of at most 20 texts; no NUL or other control characters anywhere.

    Raises:
        ValidationError: ``field`` naming the member (answered as ``invalid_client_metadata``).
    """
    if not isinstance(doc, dict):
        raise ValidationError(_l("the registration must be a JSON object"), field="body")
    for name in _TEXT_MEMBERS:
        value = doc.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 2048 or _has_control(value)):
            raise ValidationError(_l("%(name)s must be a text without control characters", name=name), field=name)
    if doc.get("client_name") is not None:
        require_line(doc["client_name"], "client_name")
    for name in _LIST_MEMBERS:
        value = doc.get(name)
        if value is None:
            continue
        if (
            not isinstance(value, list)
            or len(value) > 20
            or not all(isinstance(v, str) and len(v) <= 2048 and not _has_control(v) for v in value)
        ):
            raise ValidationError(_l("%(name)s must be a list of texts", name=name), field=name)


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def register_client(session: Session, metadata: dict, client_id: str, secret: str) -> OAuthClient:
    """Store a client registered by RFC 7591 with its validated ``metadata`` and its credentials (the
    secret is shown to the client once, in the registration response, and stored as a digest).

    Raises:
        ValidationError: no ``redirect_uris`` (the authorization code grant needs one), or a scope this
            hub does not offer.
    """
    if not metadata.get("redirect_uris"):
        raise ValidationError(_l("redirect_uris is required"), field="redirect_uris")
    unknown = [s for s in (metadata.get("scope") or "").split() if s not in SCOPES]
    if unknown:
        raise ValidationError(_l("unknown scope: %(scope)s", scope=" ".join(unknown)), field="scope")
    if not metadata.get("scope"):
        metadata = {**metadata, "scope": " ".join(SCOPES)}
    name = str(metadata.get("client_name") or metadata.get("client_uri") or client_id)[:255]
    row = OAuthClient(client_id=client_id, secret_hash=digest(secret), name=name, client_metadata=metadata)
    session.add(row)
    session.flush()
    return row


def client_by_client_id(session: Session, client_id: str | None) -> OAuthClient | None:
    return session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id)) if client_id else None


def save_code(
    session: Session,
    client: OAuthClient,
    learner: Learner,
    code: str,
    *,
    redirect_uri: str,
    scope: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> OAuthCode:
    """Keep an authorization code (its digest) for :data:`CODE_SECONDS`."""
    row = OAuthCode(
        code_hash=digest(code),
        client_id=client.id,
        learner_id=learner.id,
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method or ("S256" if code_challenge else None),
        expires_at=_now() + timedelta(seconds=CODE_SECONDS),
    )
    session.add(row)
    session.flush()
    return row


def find_code(session: Session, code: str, client: OAuthClient) -> OAuthCode | None:
    """The unexpired code ``code`` issued to ``client``, else None."""
    row = session.scalar(select(OAuthCode).where(OAuthCode.code_hash == digest(code), OAuthCode.client_id == client.id))
    return row if row is not None and not row.is_expired() else None


def delete_code(session: Session, row: OAuthCode) -> None:
    """A code is used once (RFC 6749 section 4.1.2)."""
    session.delete(row)
    session.flush()


def save_token(session: Session, settings: Settings, client: OAuthClient, learner_id: int, token: dict) -> OAuthToken:
    """Store the digests of a token response's ``access_token`` and ``refresh_token`` (Authlib's token
    dict: ``access_token``, ``expires_in`` seconds, ``refresh_token``, ``scope``)."""
    now = _now()
    refresh = token.get("refresh_token")
    row = OAuthToken(
        client_id=client.id,
        learner_id=learner_id,
        access_hash=digest(token["access_token"]),
        refresh_hash=digest(refresh) if refresh else None,
        scope=token.get("scope") or "",
        created_at=now,
        access_expires_at=now + timedelta(seconds=int(token.get("expires_in") or 0)),
        refresh_expires_at=now + timedelta(days=settings.obapi_refresh_token_days) if refresh else None,
    )
    session.add(row)
    session.flush()
    return row


def token_by_access(session: Session, access_token: str) -> OAuthToken | None:
    return session.scalar(select(OAuthToken).where(OAuthToken.access_hash == digest(access_token)))


def token_by_refresh(session: Session, refresh_token: str) -> OAuthToken | None:
    return session.scalar(select(OAuthToken).where(OAuthToken.refresh_hash == digest(refresh_token)))


def revoke(session: Session, row: OAuthToken) -> None:
    """Revoke a token pair (RFC 7009: the access and the refresh token go together)."""
    if row.revoked_at is None:
        row.revoked_at = _now()
    session.flush()


@dataclass(frozen=True)
class Connection:
    """An application the learner let in: its client row, the scopes granted, when it was last let in."""

    client: OAuthClient
    scopes: list[str]
    since: datetime


def connections_of(session: Session, learner: Learner) -> list[Connection]:
    """The applications holding a live (unrevoked, refreshable or unexpired) token of ``learner``."""
    now = _now()
    rows = session.scalars(
        select(OAuthToken)
        .where(OAuthToken.learner_id == learner.id, OAuthToken.revoked_at.is_(None))
        .order_by(OAuthToken.created_at)
    )
    found: dict[int, Connection] = {}
    for row in rows:
        if row.access_expires_at <= now and not row.is_refresh_usable():
            continue
        earlier = found.get(row.client_id)
        scopes = sorted(set(scope_list(row.scope)) | set(earlier.scopes if earlier else []), key=SCOPES.index)
        found[row.client_id] = Connection(row.client, scopes, earlier.since if earlier else row.created_at)
    return list(found.values())


def disconnect(session: Session, learner: Learner, client_public_id: str) -> OAuthClient:
    """Revoke every token ``learner`` gave the client with public id ``client_public_id``.

    Raises:
        NotFound: no such client.
    """
    client = session.scalar(select(OAuthClient).where(OAuthClient.public_id == client_public_id))
    if client is None:
        raise NotFound(_l("no such connected application"))
    session.execute(
        update(OAuthToken)
        .where(
            OAuthToken.learner_id == learner.id,
            OAuthToken.client_id == client.id,
            OAuthToken.revoked_at.is_(None),
        )
        .values(revoked_at=_now())
    )
    session.execute(delete(OAuthCode).where(OAuthCode.learner_id == learner.id, OAuthCode.client_id == client.id))
    session.flush()
    return client


def imported_count(session: Session, learner: Learner) -> int:
    """How many badges are in the learner's backpack."""
    return len(list(session.scalars(select(ImportedBadge.id).where(ImportedBadge.learner_id == learner.id))))


#: Revoked tokens are kept this long (the learner's "Connected applications" and the audit trail refer
#: to them), then purged with the expired ones.
KEEP_REVOKED_DAYS = 30


def purge(session: Session) -> int:
    """Delete expired authorization codes, tokens whose refresh token (or, without one, whose access
    token) has expired, and tokens revoked over :data:`KEEP_REVOKED_DAYS` ago. Returns how many rows."""
    now = _now()
    codes = session.execute(delete(OAuthCode).where(OAuthCode.expires_at < now))
    dead = (
        (OAuthToken.refresh_expires_at < now)
        | (OAuthToken.refresh_expires_at.is_(None) & (OAuthToken.access_expires_at < now))
        | (OAuthToken.revoked_at < now - timedelta(days=KEEP_REVOKED_DAYS))
    )
    tokens = session.execute(delete(OAuthToken).where(dead))
    session.flush()
    return int(getattr(codes, "rowcount", 0) or 0) + int(getattr(tokens, "rowcount", 0) or 0)


def is_ob3(row: ImportedBadge) -> bool:
    return row.kind.startswith("ob3")


def badges_of(session: Session, learner: Learner, *, ob3: bool, limit: int, offset: int) -> tuple[list, int]:
    """One page of the learner's backpack as ``(items, total)``: OB 2.0 badges as assertion JSON
    (``ob3=False``), OB 3.0 badges as the credential JSON or, when one was given as a VC-JWT, its compact
    JWS string (``ob3=True``)."""
    rows = [
        r
        for r in session.scalars(
            select(ImportedBadge)
            .where(ImportedBadge.learner_id == learner.id)
            .order_by(ImportedBadge.position, ImportedBadge.id)
        )
        if is_ob3(r) == ob3 and r.document is not None
    ]
    return [_shown(r) for r in rows[offset : offset + limit]], len(rows)


def _shown(row: ImportedBadge):
    payload = (row.payload or "").strip()
    if payload.count(".") == 2 and not payload.startswith("{"):
        return payload  # a compact JWS / VC-JWT as it was given
    return row.document


def profile_of(learner: Learner, portfolio_url: str, *, ob3: bool) -> dict:
    """The learner as an OB 2.0 Profile (https://www.imsglobal.org/sites/default/files/Badges/OBv2p0Final/index.html#Profile)
    or an OB 3.0 Profile (https://www.imsglobal.org/spec/ob/v3p0/#profile): ``id`` (their portfolio page),
    ``name`` and ``email`` (the first verified address)."""
    email = next((e.email for e in learner.emails if e.verified_at is not None), None)
    doc: dict = (
        {
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
            ],
            "type": ["Profile"],
        }
        if ob3
        else {"@context": "https://w3id.org/openbadges/v2", "type": "Profile"}
    )
    doc["id"] = portfolio_url
    if learner.display_name:
        doc["name"] = learner.display_name
    if email:
        doc["email"] = email
    return doc


def update_profile(session: Session, learner: Learner, doc: dict) -> None:
    """OB 3.0 ``PUT /profile``: only ``name`` can change (addresses are verified by sign-in, not set).

    Raises:
        ValidationError: ``name`` is not a string of 1 to 255 characters.
    """
    name = doc.get("name")
    if not isinstance(name, str):
        raise ValidationError(_l("name must be a text of 1 to 255 characters"), field="name")
    learner.display_name = require_line(name, "name")  # printed on certificates: one line, no control characters
    session.flush()
