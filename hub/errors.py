"""The hub's one exception tree, rendered as RFC 9457 problem JSON by the web layer.

Every error the hub raises on purpose is a :class:`HubError`. ``status`` is the HTTP status it maps to,
``slug`` names its problem type (served as ``type: <base>/problems/<slug>``), ``title`` is the short,
stable summary and ``detail`` the occurrence-specific message. Platform-specific exceptions (requests,
standardwebhooks, Moodle) are translated into these at the connector boundary.
See https://www.rfc-editor.org/rfc/rfc9457.

Languages: ``title`` is an English message id (marked with :func:`hub.i18n.N_`), translated where it is
shown. ``detail`` is a plain string or, for messages people read, a lazy text
(``ValidationError(_l("the image is empty"))``, :mod:`hub.i18n`) rendered in the request's language on
console pages, error pages and problem JSON; ``str(exc)`` is always English (logs, tracebacks).
"""

from __future__ import annotations

from hub.i18n import N_, english, lazy


class HubError(Exception):
    """Base class. ``extra`` members are added to the problem document (lazy texts in them are rendered
    in the request's language)."""

    status = 500
    slug = "internal-error"
    title = N_("Internal error")

    def __init__(self, detail: str = "", **extra):
        detail = detail or lazy(self.title)
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def __str__(self) -> str:
        """The detail in English, whatever the request's language (for logs and operators)."""
        return english(self.detail)


class ConfigurationError(HubError):
    """A setting or a stored configuration (mapping, rule) is invalid."""

    slug = "configuration-error"
    title = N_("Configuration error")


class ValidationError(HubError):
    """Input is malformed; ``errors`` may carry per-field messages."""

    status = 422
    slug = "validation-error"
    title = N_("Invalid input")


class BadRequest(HubError):
    """The request body cannot be read (not JSON, not UTF-8)."""

    status = 400
    slug = "bad-request"
    title = N_("Malformed request")


class Forbidden(HubError):
    status = 403
    slug = "forbidden"
    title = N_("Forbidden")


class NotFound(HubError):
    status = 404
    slug = "not-found"
    title = N_("Not found")


class Conflict(HubError):
    """The request is understood but the object's state does not allow it now (e.g. retrying a job
    that has not failed)."""

    status = 409
    slug = "conflict"
    title = N_("Conflict")


class Gone(HubError):
    status = 410
    slug = "gone"
    title = N_("Gone")


class UnsupportedMediaType(HubError):
    status = 415
    slug = "unsupported-media-type"
    title = N_("Unsupported media type")


class PayloadTooLarge(HubError):
    status = 413
    slug = "payload-too-large"
    title = N_("Payload too large")


class SignatureError(HubError):
    """A webhook or token signature is missing, malformed, stale or wrong."""

    status = 401
    slug = "invalid-signature"
    title = N_("Invalid signature")


class Unauthorized(HubError):
    """No or an unknown API credential (``Authorization: Bearer …``)."""

    status = 401
    slug = "unauthorized"
    title = N_("Authentication required")


class ServiceUnavailable(HubError):
    """A dependency (the database) is unreachable; the sender should retry later."""

    status = 503
    slug = "service-unavailable"
    title = N_("Service unavailable")


class ImageError(ValidationError):
    slug = "invalid-image"
    title = N_("Invalid image")


class EventNotProcessable(HubError):
    """A stored event cannot be turned into awards (no recipient, no rule). Kept for replay."""

    status = 422
    slug = "event-not-processable"
    title = N_("Event cannot be processed")
