"""Signing in and out, the TOTP step, password reset by e-mail, the user's own account and API tokens."""

from __future__ import annotations

import base64
import io
import logging
import time

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import force_locale, refresh
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.accounts.models import ApiToken, User
from hub.badges.recipient import normalise_email
from hub.context import current_context
from hub.db import utcnow
from hub.errors import HubError, ValidationError
from hub.i18n import set_locale
from hub.learners.mail import MailError, Message, mailer_for
from hub.operations import actions
from hub.web import db_session
from hub.web.admin import bp, limiter, once, principal

log = logging.getLogger(__name__)
TOTP_PENDING_SECONDS = 300
LOGIN_LIMITS = "10 per minute;50 per hour"


class ConsoleUser:
    """Flask-Login's view of a :class:`User`; its id carries the password stamp, so a password change
    ends every other session."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.public_id}:{accounts.session_stamp(self.user)}"


def load_user(user_id: str) -> ConsoleUser | None:
    public_id, _sep, stamp = (user_id or "").partition(":")
    user = db_session().scalar(select(User).where(User.public_id == public_id))
    if user is None or not user.active or stamp != accounts.session_stamp(user):
        return None
    return ConsoleUser(user)


def _safe_next(target: str | None) -> str:
    # Only paths inside the console: never an absolute or scheme-relative URL (open redirect), nor one
    # with a control character (CR/LF would split the Location header; browsers drop tabs and newlines).
    if (
        target
        and target.startswith("/admin")
        and not target.startswith("//")
        and not any(c < " " or c == "\x7f" for c in target)
    ):
        return target
    return url_for("admin.dashboard")


def _finish_login(user: User):
    session.clear()  # a fresh session (and CSRF token) after signing in: no session fixation
    login_user(ConsoleUser(user))
    session.permanent = True
    if user.locale:
        session["lang"] = user.locale
    user.last_login_at = utcnow()
    db_session().flush()
    log.info("console sign-in", extra={"user": user.public_id})


def _email_key() -> str:
    typed = request.form.get("email") or ""
    try:
        return normalise_email(typed)  # every written form of one address shares its limit
    except ValidationError:
        return typed.strip().lower() or get_addr()


def lang_code() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "en")


def get_addr() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMITS, methods=["POST"])
@limiter.limit("5 per minute", methods=["POST"], key_func=_email_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    if request.method == "POST":
        user = accounts.authenticate(db_session(), request.form.get("email", ""), request.form.get("password", ""))
        if user is None:
            flash(_("Wrong e-mail or password."), "error")
            return render_template("admin/login.html", email=request.form.get("email", "")), 401
        nxt = _safe_next(request.args.get("next"))
        if user.totp_enabled:
            session["totp_pending"] = {"u": user.public_id, "at": time.time(), "next": nxt}
            return redirect(url_for("admin.login_totp"))
        _finish_login(user)
        return redirect(nxt)
    return render_template("admin/login.html", email="")


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMITS, methods=["POST"])
def login_totp():
    pending = session.get("totp_pending")
    if not pending or time.time() - pending["at"] > TOTP_PENDING_SECONDS:
        session.pop("totp_pending", None)
        return redirect(url_for("admin.login"))
    if request.method == "POST":
        user = accounts.get_user(db_session(), pending["u"])
        if accounts.verify_totp(db_session(), current_context(), user, request.form.get("code", "")):
            _finish_login(user)
            return redirect(pending["next"])
        db_session().commit()
        flash(_("The code is not correct."), "error")
        return render_template("admin/login_totp.html"), 401
    return render_template("admin/login_totp.html")


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("admin.login"))


@bp.post("/language")
def language():
    """Switch the console language (remembered for the session, and on the account when signed in)."""
    lang = request.form.get("lang")
    if lang not in ("pl", "en"):
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated:
        actions.set_user_locale(db_session(), principal(), current_user.user, lang)
        db_session().flush()
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMITS, methods=["POST"])
def forgot_password():
    if request.method == "POST":
        ctx = current_context()
        user = accounts.user_by_email(db_session(), request.form.get("email"))
        if user is not None and user.active:
            # Built from HUB_BASE_URL, never from the request's Host header (reset-link poisoning).
            path = url_for("admin.reset_password", token=accounts.make_reset_token(ctx, user))
            link = ctx.urls.base + path.removeprefix(request.script_root)
            lang = user.locale or lang_code()  # the user's own setting, else the language of this page
            with force_locale(lang):
                body = _(
                    "Someone asked to reset the password of your Badge Hub account.\n\n"
                    "To choose a new password, open this link within an hour:\n%(link)s\n\n"
                    "If it was not you, ignore this message.",
                    link=link,
                )
                message = Message(to=user.email, subject=_("Badge Hub: reset your password"), text=body, locale=lang)
            try:
                mailer_for(ctx.settings).send(message)
            except MailError:
                pass  # logged by the mailer; the answer stays the same (no account enumeration)
        # The same answer whether or not the address is known: no account enumeration.
        flash(_("If the address belongs to an account, we have sent it a link to reset the password."), "info")
        return redirect(url_for("admin.login"))
    return render_template("admin/password_forgot.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMITS, methods=["POST"])
def reset_password(token: str):
    s = db_session()
    try:
        user = accounts.user_from_reset_token(s, current_context(), token)
    except HubError:
        flash(_("The reset link is not valid or has expired. Ask for a new one."), "error")
        return redirect(url_for("admin.forgot_password"))
    if request.method == "POST":
        if request.form.get("password") != request.form.get("password2"):
            flash(_("The passwords do not match."), "error")
            return render_template("admin/password_reset.html", token=token), 422
        try:
            accounts.set_password(s, user, request.form.get("password", ""))
        except HubError:
            flash(_("The password must have at least %(n)d characters.", n=accounts.MIN_PASSWORD), "error")
            return render_template("admin/password_reset.html", token=token), 422
        s.flush()
        flash(_("Your password has been changed. Sign in with the new one."), "info")
        return redirect(url_for("admin.login"))
    return render_template("admin/password_reset.html", token=token)


# ---- the user's own account ---------------------------------------------------------------------------


@bp.get("/account")
@login_required
def account():
    return _account_page(new_token=once.take("api_token"))


def _account_page(new_token: str | None = None):
    tokens = db_session().scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.user.id).order_by(ApiToken.id.desc())
    )
    return render_template("admin/account.html", tokens=tokens.all(), new_token=new_token)


@bp.post("/account/language")
@login_required
def account_language():
    """The user's language setting (``pl``, ``en``, or empty: the browser's): console pages, API error
    messages and e-mails to the user follow it."""
    s, user = db_session(), current_user.user
    try:
        actions.set_user_locale(s, principal(), user, request.form.get("locale") or None)
    except HubError as exc:
        flash(_("Could not save: %(detail)s", detail=exc.detail), "error")
        return redirect(url_for("admin.account"))
    s.flush()
    if user.locale:
        session["lang"] = user.locale
    else:
        session.pop("lang", None)
    # This response already speaks the new language (the flash below included).
    set_locale(user.locale)
    g.pop("hub_principal", None)
    refresh()
    flash(_("Saved."), "info")
    return redirect(url_for("admin.account"))


@bp.post("/account/password")
@login_required
def change_password():
    s, user = db_session(), current_user.user
    if accounts.authenticate(s, user.email, request.form.get("current", "")) is None:
        flash(_("The current password is not correct."), "error")
    elif request.form.get("password") != request.form.get("password2"):
        flash(_("The passwords do not match."), "error")
    else:
        try:
            accounts.set_password(s, user, request.form.get("password", ""))
        except HubError:
            flash(_("The password must have at least %(n)d characters.", n=accounts.MIN_PASSWORD), "error")
        else:
            s.flush()
            login_user(ConsoleUser(user))  # the stamp changed: keep this session, end the others
            flash(_("Your password has been changed."), "info")
    return redirect(url_for("admin.account"))


@bp.route("/account/totp", methods=["GET", "POST"])
@login_required
def totp_setup():
    """Start (GET shows a fresh QR code) and confirm (POST with a code) the TOTP second factor."""
    import qrcode
    import qrcode.image.svg

    s, ctx, user = db_session(), current_context(), current_user.user
    if request.method == "POST":
        try:
            accounts.confirm_totp(s, ctx, user, request.form.get("code", ""))
        except HubError:
            s.flush()
            flash(_("The code is not correct."), "error")
            return redirect(url_for("admin.totp_setup"))
        actions.audit.record(s, principal(), "user.totp_enable", "user", user.public_id)
        s.flush()
        flash(_("Two-step sign-in is on."), "info")
        return redirect(url_for("admin.account"))
    if user.totp_enabled:
        return redirect(url_for("admin.account"))
    uri = accounts.begin_totp(s, ctx, user)
    s.commit()
    buf = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage).save(buf)
    qr = "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()
    return render_template("admin/totp_setup.html", qr=qr, secret=accounts.totp_secret(ctx, user))


@bp.post("/account/totp/off")
@login_required
def totp_disable():
    s, user = db_session(), current_user.user
    if accounts.authenticate(s, user.email, request.form.get("current", "")) is None:
        flash(_("The current password is not correct."), "error")
        return redirect(url_for("admin.account"))
    accounts.disable_totp(s, user)
    actions.audit.record(s, principal(), "user.totp_disable", "user", user.public_id)
    s.flush()
    flash(_("Two-step sign-in is off."), "info")
    return redirect(url_for("admin.account"))


@bp.post("/account/tokens")
@login_required
def token_create():
    s = db_session()
    try:
        _row, token = actions.create_api_token(
            s, principal(), current_user.user, name=request.form.get("name", ""), scope=request.form.get("scope", "")
        )
    except HubError as exc:
        flash(_("Could not save: %(detail)s", detail=exc.detail), "error")
        return redirect(url_for("admin.account"))
    s.flush()
    # Shown once, on the page this redirect leads to (a reload there makes no second token); never
    # stored in clear: hashed in the database, encrypted in the session until shown (hub.web.admin.once).
    once.keep("api_token", token)
    return redirect(url_for("admin.account"))


@bp.post("/account/tokens/<token_id>/revoke")
@login_required
def token_revoke(token_id: str):
    s = db_session()
    row = s.scalar(select(ApiToken).where(ApiToken.public_id == token_id, ApiToken.user_id == current_user.user.id))
    if row is None:
        abort(404)
    actions.revoke_api_token(s, principal(), row)
    s.flush()
    flash(_("The token is revoked."), "info")
    return redirect(url_for("admin.account"))
