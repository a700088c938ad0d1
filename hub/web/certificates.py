"""Certificate pages and admin endpoints.

- ``GET/POST /verify``: anyone uploads a PDF certificate and reads whether its signature is intact,
  which issuer signed it, and the embedded credential's current status (HTML; JSON with
  ``Accept: application/json``).
- ``PUT /api/v1/issuers/<id>/certificate-layout``: JSON ``{"html": str|null, "css": str|null,
  "bilingual": bool}`` sets the issuer's template (sanitised, see README.md, "PDF certificate").
- ``POST /api/v1/issuers/<id>/signing-certificate``: multipart ``pkcs12`` file + ``passphrase``
  installs an uploaded signing certificate; without a file, a new self-issued one is made.

The admin endpoints are a flask-smorest blueprint in the API's OpenAPI document, authenticated and
scoped like :mod:`hub.web.api` (``configure`` at the issuer). Register ``bp`` with
``app.register_blueprint(hub.web.certificates.bp)`` and ``admin`` with :func:`hub.web.api.mount`.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, render_template, request
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import fields, validate

from hub.accounts.access import CONFIGURE
from hub.badges.models import Issuer
from hub.certificates import verify
from hub.context import current_context
from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.operations import actions
from hub.verification.report import VERDICT_TITLES
from hub.web import api, db_session, verifier
from hub.web.admin import limiter
from hub.web.admin.scoping import load
from hub.web.negotiation import wants_html

bp = Blueprint("certificates", __name__)
admin = ApiBlueprint(
    "certificates_admin", __name__, url_prefix="/api/v1", description="PDF certificates: layout and signing certificate"
)


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(verifier.rate_limit, methods=["POST"])
def verify_upload():
    """Verify any badge (:mod:`hub.web.verifier`): form fields ``file`` (PNG, SVG, PDF, JSON, JWT), ``url``
    or ``text``, and ``email`` (optional, the recipient). A PDF also gets the PDF certificate report; with
    ``Accept: application/json`` the answer is JSON (the report's fields and the verdict's)."""
    report = verdict = None
    if request.method == "POST":
        ctx = current_context()
        upload = request.files.get("file")
        data = verifier.read_upload(upload, ctx.settings.verify_max_bytes) if upload and upload.filename else None
        url, text = (request.form.get("url") or "").strip(), (request.form.get("text") or "").strip()
        if data is None and not url and not text:
            message = _l("choose a badge file, or give its URL, JSON or JWT")
            if wants_html():  # the form again, with what to do, rather than a bare error page
                return render_template("verify.html", error=message, urls=current_context().urls), 422
            raise ValidationError(message, field="file")
        if data is not None and (data.startswith(b"%PDF-") or (upload.filename or "").lower().endswith(".pdf")):
            report = verify.verify_pdf(db_session(), ctx, data)
        verdict = verifier.run(data=data, url=url or None, text=text or None, email=request.form.get("email"))
        if not wants_html():
            return {**(asdict(report) | {"ok": report.ok} if report else {}), **verdict.as_json()}
    return render_template(
        "verify.html", report=report, verdict=verdict, verdict_titles=VERDICT_TITLES, urls=current_context().urls
    )


class LayoutIn(api.Base):
    html = api.Text(
        **api.Opt,
        validate=validate.Length(max=200_000),
        metadata={"description": "Jinja body of the certificate (sandboxed); null: the default template"},
    )
    css = api.Text(**api.Opt, validate=validate.Length(max=200_000), metadata={"description": "used with `html`"})
    bilingual = fields.Boolean(load_default=False)


class LayoutOut(api.Base):
    issuer = api.Text()
    custom_template = fields.Boolean()
    bilingual = fields.Boolean()


class SigningCertificateOut(api.Base):
    issuer = api.Text()
    source = api.Text(metadata={"description": "uploaded | self-issued"})
    fingerprint = api.Text(metadata={"description": "SHA-256 of the certificate (hex)"})


PKCS12_FORM = {
    "type": "object",
    "properties": {
        "pkcs12": {"type": "string", "format": "binary", "description": "PKCS#12 file: certificate, key, chain"},
        "passphrase": {"type": "string"},
    },
    "required": ["pkcs12"],
}


@admin.put("/issuers/<issuer_id>/certificate-layout")
@admin.arguments(LayoutIn)
@admin.response(200, LayoutOut)
def put_layout(body, issuer_id: str):
    """Set the issuer's certificate template (issuer administrators)."""
    s = db_session()
    issuer = load(s, api.me(), Issuer, issuer_id, CONFIGURE, write=True)
    layout = actions.set_certificate_layout(
        s,
        api.me(),
        issuer,
        html=body.get("html"),
        css=body.get("css"),
        bilingual=body["bilingual"],
        ctx=current_context(),
    )
    s.flush()
    return {"issuer": issuer_id, "custom_template": layout.template_html is not None, "bilingual": layout.bilingual}


@admin.post("/issuers/<issuer_id>/signing-certificate")
@admin.doc(
    requestBody={
        "required": False,
        "description": "no body: a new self-issued certificate; a form: the `pkcs12` file it must carry",
        "content": {"multipart/form-data": {"schema": PKCS12_FORM}},
    }
)
@admin.response(201, SigningCertificateOut)
def post_signing_certificate(issuer_id: str):
    """Install an uploaded PKCS#12 signing certificate, or without a file a new self-issued one."""
    s = db_session()
    issuer = load(s, api.me(), Issuer, issuer_id, CONFIGURE, write=True)
    upload = request.files.get("pkcs12")
    if upload is None and request.content_length:
        raise ValidationError(
            _l("a form must carry the PKCS#12 file (pkcs12); send no body for a self-issued certificate"),
            field="pkcs12",
        )
    data = upload.read() if upload is not None else None
    passphrase = request.form.get("passphrase") or None
    row = actions.set_signing_certificate(s, current_context(), api.me(), issuer, pkcs12=data, passphrase=passphrase)
    s.flush()
    return {"issuer": issuer_id, "source": row.source, "fingerprint": row.fingerprint}, 201
