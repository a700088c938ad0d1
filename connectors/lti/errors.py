"""Errors of the LTI tool, as :class:`hub.errors.HubError` subclasses.

``detail`` is written for the person in front of the LMS (shown on the error page): a lazy text
(``_l(...)``, :mod:`hub.i18n`) rendered in the page's language (the launch's ``locale`` claim once the
launch is valid, else ``Accept-Language``). ``reason`` is the precise cause for the administrator's log
line, in English (never shown, never holding a token or a key); it defaults to the detail in English.
Titles are English message ids (``N_``), translated where they are shown.
"""

from __future__ import annotations

from hub.errors import HubError
from hub.i18n import N_


class LtiError(HubError):
    """Base class of the tool's errors."""

    status = 400
    slug = "lti-error"
    title = N_("The course tool could not open")

    def __init__(self, detail="", *, reason: str = "", **extra):
        super().__init__(detail, **extra)
        self.reason = reason or str(self)  # str(): the detail in English


class LaunchRefused(LtiError):
    """An OIDC login or a launch failed validation (unknown registration or deployment, bad signature,
    wrong audience, expired or replayed token, missing claims). LTI 1.3 section 5.1.3,
    https://www.imsglobal.org/spec/security/v1p0/#authentication-response-validation."""

    status = 401
    slug = "lti-launch-refused"
    #: The language of the launch's ``locale`` claim, once its signature is verified (the refusal page
    #: then speaks it); None: the request's language (``Accept-Language``).
    locale: str | None = None


class SessionExpired(LtiError):
    """A tool page was used after its launch expired (or with an unknown launch id)."""

    status = 403
    slug = "lti-session-expired"
    title = N_("This page has expired")


class NotAllowed(LtiError):
    """A learner tried an instructor action."""

    status = 403
    slug = "lti-forbidden"
    title = N_("Not allowed")


class PlatformServiceError(LtiError):
    """A call to the platform (token endpoint, AGS, NRPS, dynamic registration) failed."""

    status = 502
    slug = "lti-platform-error"
    title = N_("The learning platform did not answer as expected")


class RegistrationError(LtiError):
    """Dynamic registration cannot proceed (bad ``openid_configuration``, issuer mismatch, refused)."""

    status = 400
    slug = "lti-registration-error"
    title = N_("Registration failed")
