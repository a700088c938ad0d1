"""Open Badges API operations: a host registers (RFC 7591), a learner lets it in or disconnects it, and a
connected host pushes a badge into the learner's backpack. Each is audited; the boundary commits.

The push goes through the backpack's one import path (:func:`hub.operations.backpack.import_badge`): the
badge is verified against the learner's addresses and stored with its verdict, or refused whole
(``ValidationError``, nothing stored) when no badge can be read from it. A daily ``obapi.purge`` job
deletes expired codes and dead tokens (:func:`hub.obapi.services.purge`).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import jobs
from hub.accounts import audit
from hub.accounts.access import Principal
from hub.backpack import services as backpack
from hub.backpack.models import ImportedBadge
from hub.context import HubContext
from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.learners.models import Learner
from hub.obapi import services as obapi
from hub.obapi.models import OAuthClient, OAuthToken
from hub.operations import backpack as backpack_ops
from hub.operations.backpack import learner_principal
from hub.verification import Verdict

PURGE = "obapi.purge"
PURGE_EVERY_SECONDS = 24 * 3600


def _client_principal(client_id: str) -> Principal:
    return Principal(None, f"oauth-client:{client_id}", scope="read", via="obapi")


def register_client(session: Session, metadata: dict, client_id: str, secret: str) -> OAuthClient:
    """:func:`hub.obapi.services.register_client`, audited as ``obapi.register``. Raises as that."""
    row = obapi.register_client(session, metadata, client_id, secret)
    audit.record(
        session,
        _client_principal(client_id),
        "obapi.register",
        "oauth_client",
        row.public_id,
        after={"name": row.name, "redirect_uris": metadata.get("redirect_uris"), "scope": row.client_metadata["scope"]},
    )
    return row


def record_consent(session: Session, learner: Learner, client: OAuthClient, scope: str, allowed: bool) -> None:
    """Audit the learner's answer on the consent page (``obapi.authorize`` or ``obapi.deny``)."""
    audit.record(
        session,
        learner_principal(learner),
        "obapi.authorize" if allowed else "obapi.deny",
        "oauth_client",
        client.public_id,
        after={"scope": scope},
    )


def issue_token(session: Session, settings, client: OAuthClient, learner_id: int, token: dict) -> OAuthToken:
    """Keep a token response's digests (:func:`hub.obapi.services.save_token`): a code exchanged or a
    refresh, audited as ``obapi.token`` (who, which client, which scopes; never the token)."""
    row = obapi.save_token(session, settings, client, learner_id, token)
    audit.record(
        session,
        _client_principal(client.client_id),
        "obapi.token",
        "oauth_token",
        row.public_id,
        after={"client": client.public_id, "scope": row.scope},
    )
    return row


def revoke_token(session: Session, row: OAuthToken) -> None:
    """RFC 7009 revocation by the client (:func:`hub.obapi.services.revoke`), audited as ``obapi.revoke``."""
    obapi.revoke(session, row)
    audit.record(session, _client_principal(row.client.client_id), "obapi.revoke", "oauth_token", row.public_id)


def disconnect(session: Session, learner: Learner, client_public_id: str) -> OAuthClient:
    """Revoke all of the learner's tokens for one application, audited as ``obapi.disconnect``.
    Raises NotFound."""
    client = obapi.disconnect(session, learner, client_public_id)
    audit.record(session, learner_principal(learner), "obapi.disconnect", "oauth_client", client.public_id)
    return client


def push_badge(
    session: Session, ctx: HubContext, learner: Learner, badge: object, **kw
) -> tuple[ImportedBadge, Verdict]:
    """Import what a connected host sent: an assertion or credential object (JSON), a compact JWS /
    VC-JWT string, or the URL of a hosted assertion. Returns ``(row, verdict)``.

    Raises:
        ValidationError: ``badge`` is none of these, or no badge can be read from it (nothing stored).
    """
    if isinstance(badge, dict):
        given = backpack.Given(text=json.dumps(badge))
    elif isinstance(badge, str) and badge.strip().startswith(("https://", "http://")):
        given = backpack.Given(url=badge.strip())
    elif isinstance(badge, str) and badge.strip():
        given = backpack.Given(text=badge.strip())
    else:
        raise ValidationError(_l("give the badge as a JSON object, a signed (JWS) string or a URL"), field="assertion")
    return backpack_ops.import_badge(session, ctx, learner, given, **kw)


def _purge_targets(session: Session, ctx: HubContext):
    # daily, and only once some host has registered (no empty job on hubs that never use the API)
    if session.scalar(select(OAuthClient.id).limit(1)) is not None:
        yield "all", {}, None, PURGE_EVERY_SECONDS


def run_purge(ctx: HubContext, run: jobs.JobRun) -> None:
    """The ``obapi.purge`` job: :func:`hub.obapi.services.purge` in one transaction."""
    with ctx.db.session_scope() as session:
        removed = obapi.purge(session)
    run.progress(removed, None, f"{removed} expired codes and tokens removed")


jobs.register(PURGE, run_purge, max_attempts=3, schedule=jobs.Schedule(_purge_targets))
