"""The hub's one exception tree, rendered as RFC 9457 problem JSON by the web layer.

Every error the hub raises on purpose is a :class:`HubError`. ``status`` is the HTTP status it maps to,
``slug`` names its problem type (served as ``type: <base>/problems/<slug>``), ``title`` is the short,
stable summary and ``detail`` the occurrence-specific message. Platform-specific exceptions (requests,
standardwebhooks, Moodle) are translated into these at the connector boundary.
See https://www.rfc-editor.org/rfc/rfc9457.
"""

from __future__ import annotations


class HubError(Exception):
    """Base class. ``extra`` members are added to the problem document."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str = "", **extra):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class ConfigurationError(HubError):
    """A setting or a stored configuration (mapping, rule) is invalid."""

    slug = "configuration-error"
    title = "Configuration error"


class ValidationError(HubError):
    """Input is malformed; ``errors`` may carry per-field messages."""

    status = 422
    slug = "validation-error"
    title = "Invalid input"


class BadRequest(HubError):
    """The request body cannot be read (not JSON, not UTF-8)."""

    status = 400
    slug = "bad-request"
    title = "Malformed request"


class Forbidden(HubError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(HubError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Gone(HubError):
    status = 410
    slug = "gone"
    title = "Gone"


class UnsupportedMediaType(HubError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class PayloadTooLarge(HubError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class SignatureError(HubError):
    """A webhook or token signature is missing, malformed, stale or wrong."""

    status = 401
    slug = "invalid-signature"
    title = "Invalid signature"


class Unauthorized(HubError):
    """No or an unknown API credential (``Authorization: Bearer …``)."""

    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class ServiceUnavailable(HubError):
    """A dependency (the database) is unreachable; the sender should retry later."""

    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class ImageError(ValidationError):
    slug = "invalid-image"
    title = "Invalid image"


class EventNotProcessable(HubError):
    """A stored event cannot be turned into awards (no recipient, no rule). Kept for replay."""

    status = 422
    slug = "event-not-processable"
    title = "Event cannot be processed"
