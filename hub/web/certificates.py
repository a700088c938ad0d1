"""Certificate pages and admin endpoints.

- ``GET/POST /verify``: anyone uploads a PDF certificate and reads whether its signature is intact,
  which issuer signed it, and the embedded credential's current status (HTML; JSON with
  ``Accept: application/json``).
- ``PUT /api/v1/issuers/<id>/certificate-layout``: JSON ``{"html": str|null, "css": str|null,
  "bilingual": bool}`` sets the issuer's template (sanitised, see README.md, "PDF certificate").
- ``POST /api/v1/issuers/<id>/signing-certificate``: multipart ``pkcs12`` file + ``passphrase``
  installs an uploaded signing certificate; without a file, a new self-issued one is made.

Admin endpoints use the API's bearer token. Register with ``app.register_blueprint(hub.web.certificates.bp)``
and ``app.register_blueprint(hub.web.certificates.admin)``.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, render_template, request

from hub.badges.models import Issuer
from hub.badges.services import get_by_public_id
from hub.certificates import keys, verify
from hub.certificates import services as certificates
from hub.context import current_context
from hub.errors import BadRequest, ValidationError
from hub.i18n import lazy as _l
from hub.web import api, db_session
from hub.web.negotiation import wants_html

bp = Blueprint("certificates", __name__)
admin = Blueprint("certificates_admin", __name__, url_prefix="/api/v1")
admin.before_request(api._authenticate)


@bp.route("/verify", methods=["GET", "POST"])
def verify_upload():
    """Check an uploaded PDF certificate (form field ``file``)."""
    report = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationError(_l("choose a PDF file"), field="file")
        ctx = current_context()
        with ctx.db.session_scope() as session:
            report = verify.verify_pdf(session, ctx, upload.read())
        if not wants_html():
            return {**asdict(report), "ok": report.ok}
    return render_template("verify.html", report=report, urls=current_context().urls)


@admin.put("/issuers/<issuer_id>/certificate-layout")
def put_layout(issuer_id: str):
    doc = request.get_json(silent=True)
    if not isinstance(doc, dict):
        raise BadRequest(_l("send a JSON object"))
    s = db_session()
    issuer = get_by_public_id(s, Issuer, issuer_id)
    layout = certificates.set_layout(
        s, issuer, html=doc.get("html"), css=doc.get("css"), bilingual=bool(doc.get("bilingual"))
    )
    s.commit()
    return {"issuer": issuer_id, "custom_template": layout.template_html is not None, "bilingual": layout.bilingual}


@admin.post("/issuers/<issuer_id>/signing-certificate")
def post_signing_certificate(issuer_id: str):
    s = db_session()
    ctx = current_context()
    issuer = get_by_public_id(s, Issuer, issuer_id)
    upload = request.files.get("pkcs12")
    if upload is not None:
        row = keys.upload_pkcs12(s, ctx, issuer, upload.read(), request.form.get("passphrase"))
    else:
        row = keys.self_issue(s, ctx, issuer)
    s.commit()
    return {"issuer": issuer_id, "source": row.source, "fingerprint": row.fingerprint}, 201
