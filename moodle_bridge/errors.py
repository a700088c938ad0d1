"""Moodle Web Services failures as :class:`hub.errors.HubError` subclasses.

Moodle answers every web-service error with HTTP 200 and a JSON body
``{"exception": ..., "errorcode": ..., "message": ..., ["debuginfo": ...]}``
(https://moodledev.io/docs/apis/subsystems/external/writing-a-service, recorded from Moodle 5.1).
:func:`error_from_body` turns such a body into the matching class below, so callers catch
``MoodleNotEnrolled`` rather than comparing error codes, and the hub core never sees ``requests``.

Titles are English message ids (``N_``) and the bridge's own details lazy texts (:mod:`hub.i18n`),
shown in the reader's language; Moodle's ``message`` is passed on as Moodle wrote it (in the site's
language).
"""

from __future__ import annotations

from typing import Any

from hub.errors import HubError
from hub.i18n import N_
from hub.i18n import lazy as _l


class MoodleError(HubError):
    """A Moodle web-service call failed. ``errorcode``/``exception`` are Moodle's, when it sent them."""

    status = 502
    slug = "moodle-error"
    title = N_("Moodle web service error")

    def __init__(self, detail: str = "", *, errorcode: str | None = None, exception: str | None = None, **extra):
        super().__init__(detail, errorcode=errorcode, exception=exception, **extra)
        self.errorcode = errorcode
        self.exception = exception


class MoodleUnavailable(MoodleError):
    """The site did not answer, timed out, or answered 5xx after every retry (maintenance, overload).
    504: the hub is the gateway here, and the Moodle site behind it did not answer."""

    status = 504
    slug = "moodle-unavailable"
    title = N_("Moodle site unavailable")


class MoodleProtocolError(MoodleError):
    """The answer is not Moodle's JSON: wrong site URL, web services or the REST protocol disabled."""

    slug = "moodle-protocol-error"
    title = N_("Unexpected answer from Moodle")


class MoodleInvalidToken(MoodleError):
    """``invalidtoken``: the token does not exist (mistyped, deleted, or already removed on expiry)."""

    slug = "moodle-invalid-token"
    title = N_("Moodle rejected the web service token")


class MoodleTokenExpired(MoodleInvalidToken):
    """The token's ``validuntil`` passed. Moodle says ``accessexception`` once, then deletes the token."""

    slug = "moodle-token-expired"
    title = N_("Moodle web service token expired")


class MoodleAccessDenied(MoodleError):
    """``accessexception`` / ``nopermissions`` / ``accessdenied``: the function is not in the token's
    service, a capability is missing, or the token is IP-restricted (see the README's capability list)."""

    slug = "moodle-access-denied"
    title = N_("Moodle denied access")


class MoodleNotEnrolled(MoodleError):
    """``notenroled`` / ``usernotenroled``: the user is not tracked for completion in that course."""

    slug = "moodle-not-enrolled"
    title = N_("User not enrolled in the Moodle course")


class MoodleNoCompletionCriteria(MoodleError):
    """``nocriteriaset``: the course has completion enabled but no criteria, so nobody can complete it."""

    slug = "moodle-no-completion-criteria"
    title = N_("Moodle course has no completion criteria")


class MoodleInvalidParameter(MoodleError):
    """``invalidparameter``: a parameter was refused (a bug in the caller, or an unknown course id)."""

    slug = "moodle-invalid-parameter"
    title = N_("Moodle refused a parameter")


class MoodleCompetenciesDisabled(MoodleError):
    """``competenciesarenotenabled``: the site has competencies switched off."""

    slug = "moodle-competencies-disabled"
    title = N_("Competencies are disabled on the Moodle site")


_BY_CODE: dict[str, type[MoodleError]] = {
    "invalidtoken": MoodleInvalidToken,
    "invalidtimedtoken": MoodleTokenExpired,
    "accessexception": MoodleAccessDenied,
    "nopermissions": MoodleAccessDenied,
    "accessdenied": MoodleAccessDenied,
    "requireloginerror": MoodleAccessDenied,
    "notenroled": MoodleNotEnrolled,
    "usernotenroled": MoodleNotEnrolled,
    "nocriteriaset": MoodleNoCompletionCriteria,
    "invalidparameter": MoodleInvalidParameter,
    "competenciesarenotenabled": MoodleCompetenciesDisabled,
}


def is_error_body(body: Any) -> bool:
    """True when a decoded REST answer is Moodle's error object rather than a result."""
    return isinstance(body, dict) and "exception" in body and "errorcode" in body


def error_from_body(body: dict[str, Any], wsfunction: str) -> MoodleError:
    """Build the typed error for Moodle's error body ``{"exception", "errorcode", "message"[, "debuginfo"]}``.

    An ``accessexception`` whose message or debuginfo says "token expired" (Moodle's
    ``webservice_access_exception`` on a token past ``validuntil``) becomes :class:`MoodleTokenExpired`.
    """
    code = str(body.get("errorcode") or "")
    message = str(body.get("message") or code or "") or _l("unknown Moodle error")
    debuginfo = body.get("debuginfo")
    cls = _BY_CODE.get(code, MoodleError)
    if code == "accessexception" and "token expired" in f"{message} {debuginfo or ''}".lower():
        cls = MoodleTokenExpired
    extra = {"wsfunction": wsfunction}
    if debuginfo:
        extra["debuginfo"] = str(debuginfo)
    detail = _l("%(function)s: %(message)s", function=wsfunction, message=message)
    return cls(detail, errorcode=code, exception=body.get("exception"), **extra)
