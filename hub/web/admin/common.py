"""What the console's screens share: a form's unit of work (:func:`saving`), the refusal message
(:func:`failed`), the principal's issuers and the job runner."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from types import SimpleNamespace

from flask import current_app, flash, request
from flask_babel import gettext as _

from hub.badges import services as badges
from hub.badges.models import Issuer
from hub.errors import HubError
from hub.web import db_session
from hub.web.admin import principal
from hub.web.admin.scoping import scope

log = logging.getLogger(__name__)


def failed(exc: HubError, status: int = 422):
    """Flash why a form was refused, in the page's language (``exc.detail`` may be a lazy text); the
    log line stays English (``str(exc)``)."""
    log.info("console %s %s refused (%s): %s", request.method, request.path, exc.slug, exc)
    flash(_("Could not save: %(detail)s", detail=exc.detail), "error")
    return status


@contextmanager
def saving(message: str | None = None):
    """One form's changes: flush and flash ``message`` when the block succeeds (the request's boundary
    commits, :func:`hub.web.commit_db_session`); on a :class:`HubError` roll back, flash the reason and
    set ``saved.status`` to 422 (the error is handled here, so the page renders again with the form;
    ``saved.error`` is the error, for forms that show it next to a field). Other errors propagate."""
    saved = SimpleNamespace(status=200, failed=False, error=None)
    session = db_session()
    try:
        yield saved
    except HubError as exc:
        session.rollback()
        saved.status, saved.failed, saved.error = failed(exc), True, exc
        return
    session.flush()
    if message:
        flash(message, "info")


def issuers_for(ability: str) -> list[Issuer]:
    """The issuers the signed-in principal has ``ability`` at (all, for site administrators)."""
    return db_session().scalars(badges.list_issuers(scope(principal(), Issuer, ability))).all()


def runner():
    """This process's job runner (:class:`hub.jobs.runner.Runner`)."""
    return current_app.extensions["hub.jobs"]
