"""Keyset pagination shared by console listings and the JSON API: stable under inserts, no OFFSET scans.

A page is ``limit`` rows of a query ordered by the model's row id (descending unless ``ascending``);
the cursor is the public id of the last row shown, so row ids never leave the hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import NotFound, ValidationError
from hub.i18n import lazy as _l

MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    """``items``: the rows; ``next``: the cursor for the following page, or None at the end."""

    items: list
    next: str | None


def page(
    session: Session, query, model, *, limit: int = 50, cursor: str | None = None, ascending: bool = False
) -> Page:
    """One page of ``query`` (which must select ``model`` and be ordered by ``model.id`` in the same direction).

    Raises:
        ValidationError: ``limit`` outside 1..500.
        NotFound: ``cursor`` names no row of this list (a well-formed id of a row deleted since, say).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(_l("limit must be between 1 and %(max)s", max=MAX_LIMIT), field="limit")
    if cursor:
        from hub.web.admin.scoping import is_public_id

        anchor = session.scalar(select(model.id).where(model.public_id == cursor)) if is_public_id(cursor) else None
        if anchor is None:
            raise NotFound(_l("the cursor does not name a row of this list"), field="cursor")
        query = query.where(model.id > anchor if ascending else model.id < anchor)
    rows = list(session.scalars(query.limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].public_id if more and rows else None)
