"""The public verifier: ``/verify`` (HTML form, no account) and ``POST /api/v1/verify`` (JSON), both over
:func:`hub.verification.verify`.

- ``/verify`` takes a badge file (PNG, SVG, PDF, JSON, JWT), a URL or pasted JSON/JWT, and optionally the
  recipient's e-mail; it shows the verdict and each check in the request's language. A PDF upload also
  shows the PDF certificate report (:func:`hub.certificates.verify.verify_pdf`) as before.
- ``POST /api/v1/verify`` takes ``{"url" | "text" | "data" (base64 of the file), "email"?}`` and answers
  the verdict JSON (:meth:`hub.verification.report.Verdict.as_json`). No authentication (it is in the
  OpenAPI document with ``security: []``).

Both are rate limited per client address (``HUB_VERIFY_RATE_LIMIT``, Flask-Limiter) and size limited
(``HUB_VERIFY_MAX_BYTES``: an upload is read in chunks and refused as soon as it passes the limit), and
store nothing they were given: the verifier reads the database only for this hub's own PDFs, and logs
one line with the verdict, never the badge.
"""

from __future__ import annotations

import base64
import logging
from typing import ClassVar

from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import fields, validate

from hub.badges.recipient import normalise_email
from hub.context import current_context
from hub.errors import HubError, ValidationError
from hub.i18n import lazy as _l
from hub.i18n import number
from hub.schemas import NOT_BLANK, base64_file, one_given
from hub.schemas import ApiSchema as Base
from hub.verification import Verdict, verify
from hub.web import db_session
from hub.web.admin import limiter
from hub.web.boundary import body_limit

log = logging.getLogger(__name__)

api_bp = ApiBlueprint(
    "api_verify", __name__, url_prefix="/api/v1", description="Public badge verifier (no account needed)"
)

#: Endpoints the verify rate limit applies to (see :func:`hub.web.admin._not_limited`).
LIMITED_ENDPOINTS = frozenset({"certificates.verify_upload", "api_verify.verify_badge"})


def rate_limit() -> str:
    """The ``HUB_VERIFY_RATE_LIMIT`` of the running app (a Flask-Limiter limit string)."""
    return current_context().settings.verify_rate_limit


class TooLarge(HubError):
    status = 413
    slug = "too-large"
    title = "Payload too large"


def read_upload(storage, limit: int) -> bytes:
    """The uploaded file's bytes, read in 64 KiB chunks; refused as soon as it passes ``limit`` bytes.

    Raises:
        TooLarge: more than ``limit`` bytes.
    """
    chunks, size = [], 0
    while True:
        chunk = storage.stream.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            log.info("verify upload refused: more than %s bytes", limit)
            raise TooLarge(_l("the file is larger than %(limit)s bytes", limit=number(limit)))
        chunks.append(chunk)


def emails_from(value: str | None) -> list[str]:
    """The recipient addresses typed into the form (comma or space separated), normalised."""
    return [normalise_email(e) for e in (value or "").replace(",", " ").split() if "@" in e][:5]


def badge_body_bytes(settings) -> int:
    """The request body limit of a route that takes one badge: ``HUB_VERIFY_MAX_BYTES`` as base64 in JSON
    (or a multipart upload) plus a little, bytes."""
    return settings.verify_max_bytes * 4 // 3 + 65536


body_limit("api_verify", badge_body_bytes)
body_limit("certificates.verify_upload", badge_body_bytes)


def run(*, data: bytes | None = None, url: str | None = None, text: str | None = None, email: str | None = None):
    """Verify what was given, for the web views (read-only database session)."""
    ctx = current_context()
    return verify(ctx, data=data, url=url, text=text, emails=emails_from(email), session=db_session())


class VerifyIn(Base):
    # what the view refuses first ("give one of url, text or data"), in the document
    object_rules: ClassVar[dict] = one_given(url=NOT_BLANK, text=NOT_BLANK, data={"type": "string", "minLength": 1})

    url = fields.String(
        load_default=None,
        validate=validate.Length(max=2048),
        metadata={"description": "URL of a hosted assertion, credential or baked image"},
    )
    text = fields.String(load_default=None, metadata={"description": "pasted JSON (assertion or credential) or JWT"})
    data = base64_file("base64 of a badge file (PNG, SVG, PDF, JSON)", load_default=None)
    email = fields.String(
        load_default=None,
        validate=validate.Length(max=1000),
        metadata={"description": "the recipient's e-mail address, to check the recipient"},
    )


class VerifyCheck(Base):
    name = fields.String(
        metadata={
            "description": "input, unbake, format, contexts, schema, hosted, badge_class, "
            "issuer, signature, proof, key, revocation, recipient, expiry, "
            "image, pdf_signature, pdf_credential"
        }
    )
    title = fields.String()
    status = fields.String(metadata={"description": "passed | failed | skipped"})
    code = fields.String(metadata={"description": "stable slug of the reason, e.g. png-duplicate-chunk"})
    reason = fields.String()


class VerifyVerdict(Base):
    verdict = fields.String(metadata={"description": "valid | revoked | expired | invalid | unverifiable"})
    title = fields.String()
    kind = fields.String(metadata={"description": "ob2-hosted | ob2-signed | ob3-data-integrity | ob3-vc-jwt | pdf"})
    name = fields.String(allow_none=True)
    issuerName = fields.String(allow_none=True)  # noqa: N815
    checkedAt = fields.String(allow_none=True)  # noqa: N815
    checks = fields.List(fields.Nested(VerifyCheck))


@api_bp.post("/verify")
@limiter.limit(rate_limit, methods=["POST"])
@api_bp.arguments(VerifyIn)
@api_bp.response(200, VerifyVerdict)
@api_bp.doc(security=[])
def verify_badge(body):
    """Verify any Open Badge (OB 2.0 or 3.0, file, URL, JSON or JWT), check by check; no account needed.

    Give one of `url`, `text` or `data` (base64). Nothing given is stored. Rate limited per address."""
    if not any((body.get(k) or "").strip() for k in ("url", "text", "data")):
        # an API client that sent nothing to verify made an error (the HTML form shows the form again)
        raise ValidationError(_l("give one of url, text or data (base64 of the badge file)"), field="url")
    data = base64.b64decode(body["data"]) if body.get("data") else None  # base64: VerifyIn's pattern said so
    try:
        verdict: Verdict = run(data=data, url=body.get("url"), text=body.get("text"), email=body.get("email"))
    except ValidationError as exc:
        if exc.extra.get("field") == "recipient.email":  # the address check names the award's field
            exc.extra["field"] = "email"
        raise
    return verdict.as_json()


def init_app(app, api) -> None:
    """Register the public API route (unauthenticated: not added to ``hub.api_blueprints``)."""
    api.register_blueprint(api_bp)
    app.extensions.setdefault("hub.limited_endpoints", set()).update(LIMITED_ENDPOINTS)
