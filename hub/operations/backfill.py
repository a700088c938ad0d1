"""What public GETs need and older data may lack, made on a write path (``badgehub init``, after
migrating), since a public GET never writes: OB 3.0 keys for issuers made before the hub gave them at
creation, status list entries for awards made before status lists, and each issuer's self-issued PDF
signing certificate. Safe to run any number of times (each step makes only what is missing).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.badges.models import Issuer
from hub.certificates import keys as certificate_keys
from hub.context import HubContext
from hub.credentials import ob3keys, status


def backfill(session: Session, ctx: HubContext) -> dict[str, int]:
    """Make what is missing (in the caller's unit of work). Returns counts: ``issuer_keys`` (issuers
    given an OB 3.0 key), ``status_entries`` (awards given a status list entry), ``signing_certificates``
    (issuers given a self-issued PDF signing certificate).

    Raises:
        ConfigurationError: the key-encryption key cannot encrypt (``HUB_KEY_ENCRYPTION_KEY``).
    """
    counts = {"issuer_keys": ob3keys.backfill(session, ctx), "status_entries": status.backfill(session)}
    signed = 0
    for issuer in session.scalars(select(Issuer).order_by(Issuer.id)):
        if not certificate_keys.active_rows(session, issuer):
            certificate_keys.self_issue(session, ctx, issuer)
            signed += 1
    counts["signing_certificates"] = signed
    return counts
