"""The learner's pages: claim and magic-link sign-in, their badges and settings, curation, export,
deletion, and the public portfolio.

Sign-in state is the Flask session (signed cookie, HttpOnly, SameSite=Lax) holding the learner's
public id. Links from e-mails open a page with a button and are redeemed by its POST, so mail
scanners that prefetch links cannot use them up. Every POST carries a per-session CSRF token.
Register with ``app.register_blueprint(hub.web.learner.bp)``.
"""

from __future__ import annotations

import base64
import functools
import io

from flask import Blueprint, Response, redirect, render_template, request, session, stream_with_context
from flask_babel import get_locale

from hub.backpack import services as backpack
from hub.context import current_context
from hub.errors import Forbidden
from hub.i18n import lazy as _l
from hub.learners import export
from hub.learners import services as learners
from hub.learners.mail import MailError, mailer_for
from hub.learners.models import Learner
from hub.learners.profile import Presentation
from hub.obapi import services as obapi
from hub.operations import backpack as backpack_ops
from hub.operations import wallets as wallet_ops
from hub.operations.uow import after_commit
from hub.verification.report import VERDICT_TITLES
from hub.web import csrf, db_session, verifier
from hub.web.boundary import body_limit

bp = Blueprint("learner", __name__)

SESSION_KEY = "learner"
#: A consent page (``/oauth/authorize?...``) to go back to after signing in (:mod:`hub.web.obapi`).
NEXT_KEY = "learner.next"


def current_learner() -> Learner | None:
    """The signed-in learner of this request, if any."""
    public_id = session.get(SESSION_KEY)
    if not public_id:
        return None
    try:
        return learners.learner_by_public_id(db_session(), public_id)
    except Exception:  # deleted meanwhile: sign out
        session.pop(SESSION_KEY, None)
        return None


def owns(pres: Presentation) -> bool:
    """True when the signed-in learner is the one ``pres`` belongs to."""
    return pres.learner is not None and session.get(SESSION_KEY) == pres.learner.public_id


@bp.before_request
def _check_csrf():
    # Claim and sign-in links carry their own single-use secret, and are redeemed from a page that may
    # have been opened in another browser than the one holding the session.
    if request.method == "POST" and not request.path.startswith(("/me/claim/", "/me/login")):
        csrf.protect()


def _start_session(learner: Learner):
    session.clear()
    session[SESSION_KEY] = learner.public_id


def signed_in(view):
    """Run ``view(learner, ...)`` for a signed-in learner; others are sent to the sign-in page."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        learner = current_learner()
        if learner is None:
            return redirect(current_context().urls.learner_home() + "/login", 303)
        return view(learner, *args, **kwargs)

    return wrapper


@bp.route("/me/claim/<token>", methods=["GET", "POST"])
def claim(token: str):
    """GET: a page with a button; POST: redeem the claim link, sign in, show the badge."""
    if request.method == "GET":
        return render_template("learner/link.html", action=request.path, purpose="claim")
    s = db_session()
    learner, assertion = learners.claim(s, current_context(), token)
    s.flush()
    _start_session(learner)
    return redirect(f"{current_context().urls.learner_home()}#badge-{assertion.public_id}", 303)


@bp.route("/me/login", methods=["GET", "POST"])
def login():
    """Ask for a magic sign-in link by e-mail. The answer is the same whether the address is known."""
    if request.method == "GET":
        return render_template("learner/login.html", sent=False)
    s = db_session()
    message = learners.request_login(s, current_context(), request.form.get("email", ""), str(get_locale() or "en"))
    if message is not None:  # the link works only once its token row is committed (request boundary)
        after_commit(s, _send_quietly, current_context().settings, message)
    return render_template("learner/login.html", sent=True)


def _send_quietly(settings, message) -> None:
    try:
        mailer_for(settings).send(message)
    except MailError:
        pass  # logged by the mailer; the learner can ask again


@bp.route("/me/login/<token>", methods=["GET", "POST"])
def login_link(token: str):
    if request.method == "GET":
        return render_template("learner/link.html", action=request.path, purpose="login")
    s = db_session()
    learner = learners.login(s, current_context(), token)
    s.flush()
    target = session.get(NEXT_KEY)
    _start_session(learner)
    if isinstance(target, str) and target.startswith("/oauth/authorize?"):
        return redirect(current_context().settings.base_url + target, 303)
    return redirect(current_context().urls.learner_home(), 303)


@bp.post("/me/logout")
def logout():
    session.clear()
    return redirect(current_context().urls.learner_home() + "/login", 303)


@bp.get("/me")
@signed_in
def home(learner: Learner):
    s = db_session()
    awards = learners.badges_of(s, learner)
    s.commit()  # new curation rows
    from hub.paths.services import learner_paths

    progress = learner_paths(s, [e.email for e in learner.emails if e.verified_at is not None])
    return render_template(
        "learner/home.html",
        learner=learner,
        awards=awards,
        imported=backpack.imported_of(s, learner),
        imported_checks=backpack.checks,
        verdict_titles=VERDICT_TITLES,
        urls=current_context().urls,
        progress=progress,
        connections=obapi.connections_of(s, learner),
        scope_texts=obapi.SCOPE_TEXTS,
    )


# one badge file, applied before the form is first read
body_limit("learner.import_badge", lambda settings: settings.verify_max_bytes + 65536)


@bp.post("/me/import")
@signed_in
def import_badge(learner: Learner):
    """Import a badge from elsewhere: form field ``file`` (read in chunks up to ``HUB_VERIFY_MAX_BYTES``),
    ``url`` or ``text`` (JSON or JWT). Verified against the learner's addresses, then kept."""
    ctx = current_context()
    upload = request.files.get("file")
    data = verifier.read_upload(upload, ctx.settings.verify_max_bytes) if upload and upload.filename else None
    given = backpack.Given(
        data=data,
        url=(request.form.get("url") or "").strip() or None,
        text=(request.form.get("text") or "").strip() or None,
    )
    s = db_session()
    row, _verdict = backpack_ops.import_badge(s, ctx, learner, given)
    s.flush()
    return redirect(f"{ctx.urls.learner_home()}#imported-{row.public_id}", 303)


@bp.post("/me/badges/<assertion_id>/wallet")
@signed_in
def wallet_offer(learner: Learner, assertion_id: str):
    """Offer one of the learner's badges to a wallet (OpenID4VCI, :mod:`hub.web.oid4vci`): a page with
    the ``openid-credential-offer://`` link and its QR code (SVG), valid ``HUB_WALLET_OFFER_MINUTES``,
    single use. A POST, so that every offer is made on purpose (and the page is not cached)."""
    import qrcode
    import qrcode.image.svg

    ctx = current_context()
    s = db_session()
    new = wallet_ops.create_offer(s, ctx, learner, assertion_id)
    s.flush()
    buf = io.BytesIO()
    qrcode.make(new.link, image_factory=qrcode.image.svg.SvgPathImage).save(buf)
    qr = "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    response = Response(
        render_template(
            "learner/wallet.html",
            assertion=new.row.assertion,
            link=new.link,
            qr=qr,
            minutes=ctx.settings.wallet_offer_minutes,
            urls=ctx.urls,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/me/imported/<public_id>/delete")
@signed_in
def remove_imported(learner: Learner, public_id: str):
    s = db_session()
    backpack_ops.remove_badge(s, learner, public_id)
    s.flush()
    return redirect(current_context().urls.learner_home(), 303)


@bp.post("/me/settings")
@signed_in
def settings(learner: Learner):
    s = db_session()
    learners.update_settings(
        s,
        learner,
        display_name=request.form.get("display_name"),
        locale=request.form.get("locale") or None,
        show_name=request.form.get("show_name") == "on",
        allow_indexing=request.form.get("allow_indexing") == "on",
        ctx=current_context(),
    )
    s.flush()
    return redirect(current_context().urls.learner_home(), 303)


@bp.post("/me/badges")
@signed_in
def curate(learner: Learner):
    """Form fields: ``order`` (assertion ids, first to last, repeated) and ``public`` (ids to show)."""
    s = db_session()
    learners.curate(s, learner, request.form.getlist("order"), set(request.form.getlist("public")))
    s.flush()
    return redirect(current_context().urls.learner_home(), 303)


@bp.get("/me/export.zip")
@signed_in
def export_zip(learner: Learner):
    """The learner's data as a ZIP, streamed."""
    body = stream_with_context(export.stream(current_context(), learner.id))
    resp = Response(body, content_type="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="badges-{learner.public_id}.zip"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/me/delete")
@signed_in
def delete(learner: Learner):
    """Delete the account; the form must carry ``confirm=delete``."""
    if request.form.get("confirm") != "delete":
        raise Forbidden(_l("type “delete” to confirm"))
    s = db_session()
    learners.delete_learner(s, learner)
    s.flush()
    session.clear()
    return render_template("learner/deleted.html")


@bp.get("/portfolio/<learner_id>")
def portfolio(learner_id: str):
    """The learner's public badges in their order; ``noindex`` unless the learner allows indexing."""
    learner, shown = learners.portfolio(db_session(), learner_id)
    return render_template("learner/portfolio.html", learner=learner, shown=shown, urls=current_context().urls)
