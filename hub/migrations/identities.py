"""Re-normalise the e-mail identities stored before :func:`hub.badges.recipient.normalise_email` applied
Unicode NFC and IDNA (UTS #46), reporting, never merging, the rows that collapse into one.

Run by the Alembic revision ``e5a1c0d7f3b2`` (and callable again on any connection: it only rewrites
values that differ from their normal form). What it changes:

- ``hub_user.email`` and ``learner_email.email`` (unique): each address takes its normal form unless another
  row already holds that form, or takes it in this run (the oldest row, lowest id, wins). The rows left
  in their old form are *collisions*: two console accounts, or two learners, that are one person. They are
  reported and left alone, for an administrator to merge (a learner's badges are found by the normal
  form, so the surviving learner sees them).
- ``assertion.recipient_plain`` and ``assertion.once_key``: the plain address takes its normal form; the
  once-only key of a badge class that may be earned once is recomputed from it. Two awards of one once-only
  badge to one person (issued twice because the forms differed) keep the newer one's old key and are
  reported, for an administrator to revoke one. ``recipient_identity`` (the salted hash) and the
  signatures are not touched: issued credentials stay verifiable as issued.
- ``link_token.email`` and ``issuer.email``: normal form (not unique).

Addresses that are not addresses under the new rules (an IDNA-invalid domain) are reported and kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.badges.recipient import normalise_email
from hub.errors import ValidationError

log = logging.getLogger(__name__)

_user = sa.table("hub_user", sa.column("id"), sa.column("public_id"), sa.column("email"))
_learner_email = sa.table("learner_email", sa.column("id"), sa.column("learner_id"), sa.column("email"))
_learner = sa.table("learner", sa.column("id"), sa.column("public_id"))
_link_token = sa.table("link_token", sa.column("id"), sa.column("email"))
_issuer = sa.table("issuer", sa.column("id"), sa.column("email"))
_badge_class = sa.table("badge_class", sa.column("id"), sa.column("public_id"), sa.column("allow_multiple"))
_assertion = sa.table(
    "assertion",
    sa.column("id"),
    sa.column("public_id"),
    sa.column("badge_class_id"),
    sa.column("recipient_plain"),
    sa.column("once_key"),
)


@dataclass
class Report:
    """What :func:`renormalise` did: ``changed`` rows per table; ``collisions``: one line each (English)
    naming the rows that are one identity and were left apart; ``unusable``: stored addresses that are not
    addresses under the new rules (kept as they are)."""

    changed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    collisions: list[str] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as text lines (what the migration prints)."""
        out = [f"identities: {table}: {n} row(s) re-normalised" for table, n in sorted(self.changed.items()) if n]
        out += [f"identities: COLLISION (left apart, merge by hand): {c}" for c in self.collisions]
        out += [f"identities: not an address under the new rules, kept: {u}" for u in self.unusable]
        return out or ["identities: every stored address was already in its normal form"]


def _normal(value: str | None, where: str, report: Report) -> str | None:
    if value is None:
        return None
    try:
        return normalise_email(value)
    except ValidationError:
        report.unusable.append(f"{where}: {value!r}")
        return value


def _unique_column(conn: Connection, table, owner_column, label: str, report: Report) -> None:
    """Normalise a unique e-mail column; rows whose normal form another row holds are collisions."""
    rows = conn.execute(sa.select(table.c.id, owner_column, table.c.email).order_by(table.c.id)).all()
    taken = {r.email: r for r in rows}
    groups: dict[str, list] = defaultdict(list)
    for r in rows:
        groups[_normal(r.email, f"{table.name} {r.id}", report) or r.email].append(r)
    for normal, members in groups.items():
        holder = taken.get(normal) or members[0]
        if holder.email != normal:
            conn.execute(sa.update(table).where(table.c.id == holder.id).values(email=normal))
            report.changed[table.name] += 1
        others = [m for m in members if m.id != holder.id]
        if others:
            names = ", ".join(f"{label} {m[1]} ({m.email!r})" for m in [holder, *others])
            report.collisions.append(f"{normal!r} is one identity of {names}")


def _once_key(badge_public_id: str, email: str) -> str:
    # the award service's once-only key (hub.badges.services._once_key), frozen here for the migration
    return hashlib.sha256(f"{badge_public_id}\x00{email}".encode()).hexdigest()


def _assertions(conn: Connection, report: Report) -> None:
    query = (
        sa.select(
            _assertion.c.id,
            _assertion.c.public_id,
            _assertion.c.recipient_plain,
            _assertion.c.once_key,
            _badge_class.c.public_id.label("badge"),
            _badge_class.c.allow_multiple,
        )
        .join(_badge_class, _badge_class.c.id == _assertion.c.badge_class_id)
        .order_by(_assertion.c.id)
    )
    rows = conn.execute(query).all()
    keys = {r.once_key: r for r in rows if r.once_key}
    for r in rows:
        if r.recipient_plain is None:
            continue  # erased recipient: nothing to normalise, its key stays
        normal = _normal(r.recipient_plain, f"assertion {r.public_id}", report)
        values: dict[str, str] = {}
        if normal != r.recipient_plain:
            values["recipient_plain"] = normal
        if r.once_key and not r.allow_multiple:
            key = _once_key(r.badge, normal)
            holder = keys.get(key)
            if holder is None:
                values["once_key"] = key
                keys[key] = r
                keys.pop(r.once_key, None)
            elif holder.id != r.id:
                report.collisions.append(
                    f"badge {r.badge} (earned once) was issued twice to {normal!r}: "
                    f"assertions {holder.public_id} and {r.public_id}"
                )
        if values:
            conn.execute(sa.update(_assertion).where(_assertion.c.id == r.id).values(**values))
            report.changed["assertion"] += 1


def _plain_column(conn: Connection, table, report: Report) -> None:
    for r in conn.execute(sa.select(table.c.id, table.c.email).where(table.c.email.is_not(None))).all():
        normal = _normal(r.email, f"{table.name} {r.id}", report)
        if normal != r.email:
            conn.execute(sa.update(table).where(table.c.id == r.id).values(email=normal))
            report.changed[table.name] += 1


def renormalise(conn: Connection) -> Report:
    """Bring every stored e-mail identity on ``conn`` to :func:`hub.badges.recipient.normalise_email`'s
    form (see the module docstring), in the caller's transaction. Logs each collision at WARNING.

    Returns:
        the :class:`Report`.
    """
    report = Report()
    _unique_column(conn, _user, _user.c.public_id, "user", report)
    learner_public_id = (
        sa.select(_learner.c.public_id).where(_learner.c.id == _learner_email.c.learner_id).scalar_subquery()
    )
    _unique_column(conn, _learner_email, learner_public_id.label("learner"), "learner", report)
    _assertions(conn, report)
    _plain_column(conn, _link_token, report)
    _plain_column(conn, _issuer, report)
    for line in report.collisions:
        log.warning("identities: collision left apart: %s", line)
    return report
