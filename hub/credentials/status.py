"""Credential status for OB 3.0: Bitstring Status List entries and lists, and the 1EdTech Revocation List.

- Bitstring Status List v1.0 (https://www.w3.org/TR/vc-bitstring-status-list/): each credential gets
  a ``BitstringStatusListEntry`` (purpose ``revocation``) naming a bit in a list the hub serves as a
  signed ``BitstringStatusListCredential``. The bit is read from ``Assertion.revoked`` when the list is
  rendered, so a revocation shows at the next fetch with no second copy of the state.
- 1EdTech Revocation List (https://www.imsglobal.org/spec/vcrl/v1p0/): the same revocations as a JSON
  list of credential ids, for verifiers that check that method.

Index allocation is an atomic ``UPDATE status_list SET next_index = next_index + 1 ... RETURNING`` (one
statement, row-locked on PostgreSQL, database-locked on SQLite), backed by a unique constraint on
``(status_list_id, status_index)``: concurrent awards never share an index and an index is never reused.
"""

from __future__ import annotations

import base64
import gzip
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.context import HubContext
from hub.credentials.models import STATUS_LIST_SIZE, CredentialStatusEntry, StatusList
from hub.db import utcnow
from hub.errors import NotFound, ServiceUnavailable
from hub.i18n import lazy as _l
from hub.timefmt import isoformat_z

log = logging.getLogger(__name__)

REVOCATION = "revocation"


def _claim_indexes(session: Session, list_id: int, count: int) -> range | None:
    """Take ``count`` consecutive indexes of a list in one statement (None when it has no room)."""
    stmt = (
        update(StatusList)
        .where(StatusList.id == list_id, StatusList.next_index + count <= StatusList.size)
        .values(next_index=StatusList.next_index + count)
        .returning(StatusList.next_index)
    )
    got = session.execute(stmt).scalar_one_or_none()
    return None if got is None else range(got - count, got)


def _open_list(session: Session, issuer: Issuer, purpose: str) -> StatusList:
    """The issuer's newest list for ``purpose``; a new one when there is none or it is full."""
    current = session.scalars(
        select(StatusList)
        .where(StatusList.issuer_id == issuer.id, StatusList.purpose == purpose)
        .order_by(StatusList.sequence.desc())
        .limit(1)
    ).first()
    if current is not None and current.next_index < current.size:
        return current
    new = StatusList(
        issuer_id=issuer.id,
        purpose=purpose,
        sequence=0 if current is None else current.sequence + 1,
        size=STATUS_LIST_SIZE,
        next_index=0,
    )
    try:
        with session.begin_nested():
            session.add(new)
            session.flush()
    except IntegrityError:  # a concurrent award opened the same list first: use it
        return _open_list(session, issuer, purpose)
    return new


def status_entry(session: Session, assertion: Assertion, purpose: str = REVOCATION) -> CredentialStatusEntry:
    """The assertion's status list entry for ``purpose``, looked up only (the read paths: public GETs
    never write; the award allocates it, :func:`allocate_status`).

    Raises:
        ServiceUnavailable: the assertion has none yet (an award made before status lists, which
            ``badgehub init`` gives one: :func:`backfill`).
    """
    entry = session.scalars(
        select(CredentialStatusEntry).where(
            CredentialStatusEntry.assertion_id == assertion.id, CredentialStatusEntry.purpose == purpose
        )
    ).first()
    if entry is None:
        raise ServiceUnavailable(
            _l("this credential's status entry is not made yet; try again later"), credential=assertion.public_id
        )
    return entry


def backfill(session: Session, purpose: str = REVOCATION, chunk: int = 500) -> int:
    """Allocate status entries for the assertions that have none (``badgehub init``, after migrating:
    awards made before status lists existed). Returns how many were allocated."""
    done = 0
    while True:
        missing = session.scalars(
            select(Assertion)
            .where(
                ~select(CredentialStatusEntry.id)
                .where(CredentialStatusEntry.assertion_id == Assertion.id, CredentialStatusEntry.purpose == purpose)
                .exists()
            )
            .order_by(Assertion.id)
            .limit(chunk)
        ).all()
        if not missing:
            return done
        allocate_statuses(session, list(missing), purpose)
        done += len(missing)


def allocate_status(
    session: Session, assertion: Assertion, purpose: str = REVOCATION, *, fresh: bool = False
) -> CredentialStatusEntry:
    """The assertion's status list entry for ``purpose``, allocating a fresh index on first call.

    Idempotent per assertion (``fresh=True`` skips the look-up for an assertion inserted in this
    transaction, which cannot have an entry yet). Call it in the award transaction (it flushes); a credential built
    without one allocates it then.
    """
    if not fresh:
        entry = session.scalars(
            select(CredentialStatusEntry).where(
                CredentialStatusEntry.assertion_id == assertion.id, CredentialStatusEntry.purpose == purpose
            )
        ).first()
        if entry is not None:
            return entry
    return allocate_statuses(session, [assertion], purpose)[0]


def allocate_statuses(
    session: Session, assertions: list[Assertion], purpose: str = REVOCATION
) -> list[CredentialStatusEntry]:
    """Status list entries for assertions inserted in this transaction (which have none yet), in order.

    Indexes of one issuer are taken in one ``UPDATE … RETURNING`` on its list row: a batch of awards
    locks that hot row once, just before its commit, instead of once per award for the whole batch.
    A list too full for the block is filled one index at a time, then the next list is opened.
    """
    entries: dict[int, CredentialStatusEntry] = {}
    by_issuer: dict[int, list[Assertion]] = {}
    for a in assertions:
        by_issuer.setdefault(a.badge_class.issuer_id, []).append(a)
    for group in by_issuer.values():
        issuer = group[0].badge_class.issuer
        pending = list(group)
        while pending:
            status_list = _open_list(session, issuer, purpose)
            count = len(pending)
            indexes = _claim_indexes(session, status_list.id, count) or _claim_indexes(session, status_list.id, 1)
            if indexes is None:
                session.expire(status_list)  # filled up by others meanwhile; the next round opens a new list
                continue
            for index in indexes:
                a = pending.pop(0)
                entries[a.id] = CredentialStatusEntry(
                    assertion_id=a.id, purpose=purpose, status_list_id=status_list.id, status_index=index
                )
    session.add_all(entries.values())
    session.flush()
    return [entries[a.id] for a in assertions]


def status_entry_json(ctx: HubContext, entry: CredentialStatusEntry, *, jwt: bool = False) -> dict:
    """The credential's ``credentialStatus`` (BitstringStatusListEntry, Bitstring Status List §2.1).

    ``jwt``: point at the list's VC-JWT form (:meth:`hub.urls.Urls.status_list_jwt`), for a VC-JWT
    credential (JWT-only verifiers verify a JWT list's signature, not a Data Integrity proof); else at
    the Data Integrity form. Both forms carry the same bits.
    """
    sl = entry.status_list
    urls = ctx.urls
    list_url = (urls.status_list_jwt if jwt else urls.status_list)(sl.issuer.public_id, sl.public_id)
    return {
        "id": f"{list_url}#{entry.status_index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": entry.purpose,
        "statusListIndex": str(entry.status_index),
        "statusListCredential": list_url,
    }


def encode_bitstring(size: int, set_bits) -> str:
    """``encodedList``: multibase base64url (``u``) of the GZIP of the bitstring; bit 0 is the most
    significant bit of byte 0 (Bitstring Status List §3.2, "Bitstring Generation Algorithm")."""
    data = bytearray((size + 7) // 8)
    for i in set_bits:
        data[i >> 3] |= 0x80 >> (i & 7)
    # mtime=0 keeps the encoding a function of the bits alone (same list, same bytes).
    packed = gzip.compress(bytes(data), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_bitstring(encoded: str) -> bytes:
    """Inverse of :func:`encode_bitstring` (for tests and for reading lists back)."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url ('u')")
    raw = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def revoked_indexes(session: Session, status_list: StatusList) -> list[int]:
    return list(
        session.scalars(
            select(CredentialStatusEntry.status_index)
            .join(Assertion, Assertion.id == CredentialStatusEntry.assertion_id)
            .where(CredentialStatusEntry.status_list_id == status_list.id, Assertion.revoked.is_(True))
        )
    )


def find_status_list(session: Session, issuer_public_id: str, list_public_id: str) -> StatusList:
    sl = session.scalars(
        select(StatusList)
        .join(Issuer, Issuer.id == StatusList.issuer_id)
        .where(StatusList.public_id == list_public_id, Issuer.public_id == issuer_public_id)
    ).first()
    if sl is None:
        raise NotFound(f"no status list {list_public_id}")
    return sl


def status_list_credential_json(
    session: Session, ctx: HubContext, status_list: StatusList, issuer_id: str, *, jwt: bool = False
) -> dict:
    """The unsigned BitstringStatusListCredential for ``status_list`` (sign it with the issuer's key).

    ``validFrom`` is now: the list is re-made on each request from the assertions' ``revoked`` flags.
    ``jwt``: the VC-JWT form's document, whose ``id`` is its own URL (:meth:`hub.urls.Urls.status_list_jwt`).
    """
    urls = ctx.urls
    url = (urls.status_list_jwt if jwt else urls.status_list)(status_list.issuer.public_id, status_list.public_id)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": isoformat_z(utcnow()),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": status_list.purpose,
            "encodedList": encode_bitstring(status_list.size, revoked_indexes(session, status_list)),
        },
    }


def revocation_list_1edtech(session: Session, ctx: HubContext, issuer: Issuer, issuer_id: str) -> dict:
    """The issuer's 1EdTech Revocation List: ``{"id", "issuer", "revokedCredentials": [{"id",
    "revocationReason"}]}`` with the ``urn:uuid`` ids of every revoked OB 3.0 credential."""
    rows = session.scalars(
        select(Assertion)
        .join(BadgeClass, BadgeClass.id == Assertion.badge_class_id)
        .where(BadgeClass.issuer_id == issuer.id, Assertion.revoked.is_(True))
        .order_by(Assertion.id)
    )
    revoked = []
    for a in rows:
        item = {"id": f"urn:uuid:{a.public_id}"}
        if a.revocation_reason:
            item["revocationReason"] = a.revocation_reason
        revoked.append(item)
    return {
        "id": ctx.urls.revocation_list_1edtech(issuer.public_id),
        "issuer": issuer_id,
        "revokedCredentials": revoked,
    }
