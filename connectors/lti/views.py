"""The tool's HTTP endpoints (blueprint ``lti``).

Pages are server-rendered and work inside an LMS iframe without cookies: after the launch, every page
and form carries the launch id (a 256-bit random name of the stored launch; pages are sent with
``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` so it does not leak). Only the short
OIDC state cookie is needed: ``SameSite=None; Secure; Partitioned`` (CHIPS,
https://developer.mozilla.org/en-US/docs/Web/Privacy/Guides/Privacy_sandbox/Partitioned_cookies), so
browsers blocking third-party cookies keep it for the LMS page; where the platform offers its storage
(``lti_storage_target``), the login's proof goes there too (``lti.put_data`` / ``lti.get_data``,
https://www.imsglobal.org/spec/lti-cs-oidc/v0p1). When both fail the tool offers a new window that
starts a fresh launch at the platform (:func:`connectors.lti.launch.relaunch_url`).

Every response carries ``Content-Security-Policy: frame-ancestors ...`` (:mod:`connectors.lti.framing`):
the launched registration's origins on the launch and the pages after it; ``'none'`` when the request
names a platform that is not registered and active; the origins of every active registration when the
platform cannot be told (an expired page). The console and API for registrations live in
:mod:`connectors.lti.console` and :mod:`connectors.lti.api`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from hub.accounts.access import Principal
from hub.badges.models import BadgeClass
from hub.context import HubContext, current_context
from hub.errors import HubError, NotFound, ValidationError
from hub.i18n import lazy as _l
from hub.i18n import set_locale
from hub.paths.services import learner_paths

from . import framing, tenancy
from . import jobs as lti_jobs
from . import services as svc
from .dynreg import register, tool_urls
from .errors import NotAllowed, PlatformServiceError
from .launch import (
    STATE_COOKIE,
    STATE_TTL,
    STORAGE_FIELD,
    CookiesBlocked,
    Launch,
    LaunchRefused,
    StorageCheck,
    load_launch,
    start_login,
    validate_launch,
)
from .models import RULE_GRADE, LtiContext, LtiContextBadge
from .registrations import (
    find_registration,
    get_registration,
    record_unknown_deployment,
    registration_json,
    tool_jwks,
)
from .store import Store, make_store

log = logging.getLogger(__name__)
bp = Blueprint("lti", __name__, url_prefix="/lti", template_folder="templates")
#: Dynamic registration needs no sign-in and makes the hub call the platform: a few tries per client
#: address (``request.remote_addr``; behind proxies, name them in ``HUB_TRUSTED_PROXIES``). Counted in
#: the app's rate-limit storage (Redis with ``HUB_REDIS_URL``, else the database), shared by the workers.
REGISTER_LIMITS = "10 per minute;30 per hour"
limiter = Limiter(get_remote_address, key_prefix="lti")


@limiter.request_filter
def _not_limited() -> bool:
    return request.endpoint != "lti.dynamic_registration"  # the other tool pages skip the bookkeeping


def _too_many_registrations():
    return _l("Too many registration attempts from your address. Wait a few minutes and try again.")


def _framed_by(origins: tuple[str, ...]) -> None:
    """Let only ``origins`` frame this response (empty: nobody)."""
    g.lti_frame_origins = origins


def _framed_by_launch(claims: dict) -> None:
    """The launch's registration (while active) and the LMS page its claims name may frame the page."""
    origins = framing.cache(current_app).of_registration(str(claims.get("badgehub_registration") or ""))
    _framed_by(origins + framing.launch_origins(claims) if origins else ())


@bp.after_request
def _frame_ancestors(response):
    """``Content-Security-Policy: frame-ancestors`` on every response of the tool (never X-Frame-Options)."""
    origins = g.get("lti_frame_origins")
    if origins is None:  # the platform cannot be told: any active registration may show the page
        origins = framing.cache(current_app).all_active()
    response.headers["Content-Security-Policy"] = framing.policy(origins)
    response.headers.pop("X-Frame-Options", None)
    return response


def _use_locale(code: str | None) -> None:
    """The launch's ``locale`` claim decides the language; Flask-Babel caches the locale per request,
    so drop what an earlier message (e.g. during validation) computed."""
    from flask_babel import refresh

    set_locale(code)
    refresh()


def _ctx() -> HubContext:
    return current_context()


def _store() -> Store:
    store = current_app.extensions.get("lti.store")
    if store is None:
        store = current_app.extensions["lti.store"] = make_store(_ctx())
    return store


def _page(html: str, status: int = 200):
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _refused(exc: LaunchRefused):
    """Log the precise cause for the administrator, then let the hub render the readable page."""
    log.warning("LTI %s %s refused: %s", request.method, request.path, exc.reason)
    raise exc


# ---- OIDC login, launch, JWKS, registration -----------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/login/<reg_id>", methods=["GET", "POST"])
def login(reg_id: str | None = None):
    """OIDC third-party-initiated login (LTI 1.3 section 5.1.1): redirect to the platform's auth endpoint.
    ``/lti/login/<registration id>``: the login URL dynamic registration gives each registration, which
    names it when the platform sends no ``client_id``."""
    params = (request.form if request.method == "POST" else request.args).to_dict()
    ctx = _ctx()
    _framed_by(framing.cache(current_app).of_platform(params.get("iss") or "", params.get("client_id") or None))
    try:
        started = start_login(
            ctx,
            _store(),
            params,
            registration=reg_id,
            launch_url=tool_urls(ctx.settings.base_url)["launch"],
            tool_host=urlsplit(ctx.settings.base_url).netloc.lower(),
        )
    except LaunchRefused as exc:
        _refused(exc)
    if started.storage:  # put the proof in the platform's storage, then go on to the platform
        storage = {k: started.storage[k] for k in ("target", "origin", "key", "value")}
        response = _page(
            render_template("lti/storage.html", storage=storage, action="put", next_url=started.redirect_url)
        )
    else:
        response = make_response("", 302)
        response.headers["Location"] = started.redirect_url
    secure = request.is_secure
    response.set_cookie(
        STATE_COOKIE.format(state=started.state),
        started.state,
        max_age=STATE_TTL,
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",  # SameSite=None (cross-site form post) requires Secure
        partitioned=secure,  # CHIPS: kept for the LMS page when third-party cookies are blocked
        path=url_for("lti.launch"),
    )
    return response


def _from_own_page() -> bool:
    """The request was sent by a page of the tool itself (Fetch Metadata ``Sec-Fetch-Site``,
    https://www.w3.org/TR/fetch-metadata/; the ``Origin`` header where a browser sends no metadata)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    own = urlsplit(_ctx().settings.base_url)
    return request.headers.get("Origin") == f"{own.scheme}://{own.netloc}"


@bp.post("/launch")
def launch():
    """The launch (LTI 1.3 section 5.1.2): validate, remember the course, show the person's page."""
    ctx = _ctx()
    try:
        done = validate_launch(ctx, _store(), request.form.to_dict(), request.cookies, same_origin=_from_own_page())
        with ctx.db.session_scope() as session:
            reg = get_registration(session, done.claims["badgehub_registration"])
            _framed_by(framing.registration_origins(reg) + framing.launch_origins(done.claims))
            context = svc.upsert_context(session, reg, done)
            badge_id = done.custom.get("badge_class")
            if context is not None and badge_id and done.is_instructor:
                badge = session.scalar(select(BadgeClass).where(BadgeClass.public_id == badge_id))
                if badge is not None and tenancy.owns(reg, badge):  # another issuer's placement links nothing
                    svc.link_badge(session, ctx, context, badge)
    except StorageCheck as check:  # no cookie: read the login's proof back from the platform's storage
        _framed_by(framing.cache(current_app).of_platform(check.iss, check.client_id))
        storage = {"target": check.target, "origin": check.origin, "key": check.key, "field": STORAGE_FIELD}
        return _page(
            render_template(
                "lti/storage.html", storage=storage, action="get", next_url=url_for("lti.launch"), fields=check.fields
            )
        )
    except CookiesBlocked as exc:
        params = exc.login_params
        log.warning(
            "LTI launch without its state cookie (iss=%s); offering a new window at %s",
            params.get("iss"),
            exc.relaunch_url or "the course (the platform's launch page cannot be told)",
        )
        _framed_by(framing.cache(current_app).of_platform(params.get("iss") or "", params.get("client_id")))
        return _page(render_template("lti/cookies.html", relaunch_url=exc.relaunch_url), 200)
    except LaunchRefused as exc:
        pending = getattr(exc, "pending_deployment", None)
        if pending:  # an unknown deployment of a known registration waits for the administrator
            with ctx.db.session_scope() as session:
                reg = find_registration(session, pending[0], pending[1])
                if reg is not None:
                    record_unknown_deployment(session, reg, pending[2])
                    _framed_by(framing.registration_origins(reg))  # its own platform shows the refusal
        if exc.locale:
            _use_locale(exc.locale)
        _refused(exc)
    _use_locale(done.locale)
    if done.is_deep_link:
        return _deep_link_page(done)
    if done.is_instructor:
        return _course_page(done)
    return _learner_page(done)


@bp.get("/logo.png")
def logo():
    """The tool's icon (128x128 PNG), the ``logo_uri`` of dynamic registration."""
    response = send_from_directory(Path(__file__).parent / "static", "badgehub-logo.png", mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/jwks")
def jwks():
    """The tool's public keys (RFC 7517 JWK Set), current and in rotation overlap."""
    with _ctx().db.session_scope() as session:
        doc = tool_jwks(session)
    response = jsonify(doc)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/register")
@limiter.limit(REGISTER_LIMITS, error_message=_too_many_registrations)
def dynamic_registration():
    """LTI Dynamic Registration initiation (https://www.imsglobal.org/spec/lti-dr/v1p0#registration-initiation-launch).

    Open to anyone (the platform's administrator is signed in to the platform, not to the hub), so it is
    rate-limited per client address (:data:`REGISTER_LIMITS`), its calls go to public addresses only
    (:mod:`hub.netguard`) and the registrations it stores wait for approval, at most
    :data:`connectors.lti.dynreg.MAX_PENDING` of them."""
    ctx = _ctx()
    config_url = request.args.get("openid_configuration", "")
    # The platform opens this page in its own frame or window; it has no buttons to hijack.
    _framed_by(tuple(filter(None, [framing.origin(config_url)])))
    if not config_url:
        raise ValidationError(_l("Open this address from your learning platform's tool registration page."))
    try:
        with ctx.db.session_scope() as session:
            reg = register(session, ctx, config_url, request.args.get("registration_token"))
            info = registration_json(reg)
    except HubError as exc:
        log.warning("LTI dynamic registration from %s failed: %s", config_url, getattr(exc, "reason", None) or exc)
        raise
    return _page(render_template("lti/registered.html", registration=info))


# ---- the person's pages ------------------------------------------------------------------------


def _current() -> tuple[Launch, HubContext]:
    launch_id = request.values.get("launch")
    done = load_launch(_store(), launch_id)
    _framed_by_launch(done.claims)
    _use_locale(done.locale)
    return done, _ctx()


def _launch_principal(session, done: Launch) -> Principal:
    """Whom the teacher of ``done`` acts as: the registration's principal, reaching only its issuer's
    badge classes. Raises NotAssigned (a 403 page) while the registration has no issuer."""
    return tenancy.principal(get_registration(session, done.claims["badgehub_registration"]))


def _instructor() -> tuple[Launch, HubContext, Principal]:
    done, ctx = _current()
    if not done.is_instructor:
        log.warning("LTI learner sub=%s tried an instructor action %s", done.sub, request.path)
        raise NotAllowed(_l("Only teachers of this course can do this."))
    if not done.context_id:
        raise NotAllowed(_l("Open the tool from inside a course."))
    with ctx.db.session_scope() as session:
        p = _launch_principal(session, done)
    return done, ctx, p


def _context(session, done: Launch) -> LtiContext:
    context = svc.find_context(session, done.claims["badgehub_registration"], done.context_id)
    if context is None:
        raise NotAllowed(_l("Open the tool from inside a course."))
    return context


def _course_services(done: Launch) -> svc.CourseServices:
    with _ctx().db.session_scope() as session:
        return svc.course_services(_ctx(), _context(session, done))


def _course_page(done: Launch, message: str | None = None, error: str | None = None, status: int = 200):
    ctx = _ctx()
    with ctx.db.session_scope() as session:
        p = _launch_principal(session, done)  # before any platform call: refused while unassigned
    members, roster_error = [], None
    try:  # the platform call happens outside any database transaction
        members = [m for m in svc.roster(ctx, _store(), _course_services(done)) if m.is_learner]
    except PlatformServiceError as exc:
        log.warning("LTI roster of context %s: %s", done.context_id, exc.reason)
        roster_error = exc.detail
    with ctx.db.session_scope() as session:
        context = _context(session, done)
        linked = svc.linked_badges(context)
        html = render_template(
            "lti/course.html",
            launch=done,
            context=context,
            linked=linked,
            available=[b for b in tenancy.badge_classes(session, p) if b not in linked],
            members=members,
            roster_error=roster_error,
            issued=svc.issued_in_context(session, context),
            urls=ctx.urls,
            message=message,
            error=error,
            RULE_GRADE=RULE_GRADE,
            grade_sync=lti_jobs.last_grade_sync(session, context),
            grade_sync_minutes=ctx.settings.lti_grade_sync_minutes,
        )
    return _page(html, status)


def _learner_page(done: Launch):
    ctx = _ctx()
    with ctx.db.session_scope() as session:
        earned = svc.learner_assertions(session, done)
        context = _context(session, done) if done.context_id else None
        earned_ids = {a.badge_class_id for a in earned}
        in_course = {b.id for b in svc.linked_badges(context)} if context else set()
        focus = done.custom.get("badge_class")
        to_earn = [b for b in (svc.linked_badges(context) if context else []) if b.id not in earned_ids]
        to_earn.sort(key=lambda b: b.public_id != focus)
        emails = {a.recipient_plain for a in earned if a.recipient_plain} | ({done.email} if done.email else set())
        html = render_template(
            "lti/learner.html",
            launch=done,
            context=context,
            earned=earned,
            in_course=in_course,
            to_earn=to_earn,
            urls=ctx.urls,
            share=_share_links,
            progress=learner_paths(session, sorted(emails)),
        )
    return _page(html)


def _share_links(public_url: str) -> dict[str, str]:
    return {
        "LinkedIn": "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": public_url}),
        "Facebook": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": public_url}),
        "X": "https://x.com/intent/post?" + urlencode({"url": public_url}),
    }


def _deep_link_page(done: Launch):
    if not done.is_instructor:
        raise NotAllowed(_l("Only teachers of this course can do this."))
    with _ctx().db.session_scope() as session:
        offered = tenancy.badge_classes(session, _launch_principal(session, done))
        html = render_template("lti/deep_link.html", launch=done, badges=offered, urls=_ctx().urls)
    return _page(html)


@bp.get("/course")
def course():
    done, _c, _p = _instructor()
    return _course_page(done)


@bp.get("/badges")
def my_badges():
    done, _c = _current()
    return _learner_page(done)


def _badge(session, p: Principal, public_id: str | None) -> BadgeClass:
    """The chosen badge class, if ``p`` (the launch's registration) may award it.

    Raises:
        ValidationError: none chosen; NotFound: no such badge class, or another issuer's.
    """
    if not public_id:
        raise ValidationError(_l("Choose a badge."))
    try:
        return tenancy.badge(session, p, public_id)
    except NotFound:
        log.warning("LTI %s: badge class %s is not of %s's issuer", request.path, public_id, p.email)
        raise


def _form_action(action, *, in_session: bool = True):
    """Run an instructor form's ``action``; the course page shows its message, or the error of a
    validation, not-found or platform problem. With ``in_session`` the action gets
    ``(session, ctx, done, context, p)`` inside one unit of work; otherwise ``(ctx, done, p)`` and opens
    its own (around platform calls). ``p`` is the launch's principal (:func:`_launch_principal`)."""
    done, ctx, p = _instructor()
    try:
        if in_session:
            with ctx.db.session_scope() as session:
                message = action(session, ctx, done, _context(session, done), p)
        else:
            message = action(ctx, done, p)
    except ValidationError as exc:
        return _course_page(done, error=exc.detail, status=422)
    except NotFound as exc:
        return _course_page(done, error=exc.detail, status=404)
    except PlatformServiceError as exc:
        log.warning("LTI %s: %s", request.path, exc.reason)
        return _course_page(done, error=exc.detail, status=502)
    return _course_page(done, message=message)


@bp.post("/course/link")
def link():
    def action(session, ctx, done, context, p):
        badge = _badge(session, p, request.form.get("badge"))
        svc.link_badge(session, ctx, context, badge)
        return _("Badge linked to the course.")

    return _form_action(action)


@bp.post("/course/unlink")
def unlink():
    def action(session, ctx, done, context, p):
        svc.unlink_badge(session, ctx, context, _badge(session, p, request.form.get("badge")))
        return _("Badge unlinked from the course.")

    return _form_action(action)


@bp.post("/course/rule")
def rule():
    def action(session, ctx, done, context, p):
        threshold = request.form.get("threshold", "").replace(",", ".").strip()
        try:
            value = float(threshold) / 100 if threshold else None
        except ValueError:
            raise ValidationError(_l("The grade threshold must be a number of percent.")) from None
        svc.set_award_rule(
            session,
            ctx,
            context,
            request.form.get("rule", ""),
            grade_threshold=value,
            grade_lineitem_url=request.form.get("lineitem") or None,
            post_scores=request.form.get("post_scores") == "1",
        )
        return _("Award rule saved.")

    return _form_action(action)


@bp.post("/course/award")
def award():
    """Award a linked badge to learners chosen from the NRPS roster; post scores if the course asks."""

    def action(ctx, done, p):
        chosen = set(request.form.getlist("member"))
        if not chosen:
            raise ValidationError(_l("Choose at least one learner."))
        course = _course_services(done)
        # Identities come from the platform's roster, never from the form.
        members = [m for m in svc.roster(ctx, _store(), course) if m.user_id in chosen]
        with ctx.db.session_scope() as session:
            context = _context(session, done)
            badge = _badge(session, p, request.form.get("badge"))
            created = [m for m in members if svc.award_in_context(session, ctx, p, context, badge, m).created]
            link = svc.find_link(context, badge)
            post, lineitem, link_id = context.post_scores, link.lineitem_url, link.id
        if post and created:  # after the commit: the awards stand even if the gradebook refuses
            try:
                for member in created:
                    lineitem = svc.post_badge_score(
                        ctx, _store(), course, lineitem_url=lineitem, badge=badge, user_id=member.user_id
                    )
            finally:
                with ctx.db.session_scope() as session:
                    session.get(LtiContextBadge, link_id).lineitem_url = lineitem
        return _("Badges awarded: %(n)s.") % {"n": len(created)}

    return _form_action(action, in_session=False)


@bp.post("/course/revoke")
def revoke_award():
    def action(session, ctx, done, context, p):
        reason = request.form.get("reason", "").strip() or _("Revoked by the course teacher.")
        svc.revoke_in_context(session, ctx, p, context, request.form.get("assertion", ""), reason)
        return _("Badge revoked.")

    return _form_action(action)


@bp.post("/course/sync")
def sync():
    """ "Check grades now": enqueue the course's grade sync job (:mod:`connectors.lti.jobs`); the course
    page shows its outcome once it has run."""

    def action(session, ctx, done, context, p):
        if context.award_rule != RULE_GRADE or not context.grade_lineitem_url:
            raise ValidationError(_l("This course does not award badges on grades."))
        _job, created = lti_jobs.enqueue_now(session, ctx, context)
        if not created:
            return _("A grade check of this course is already waiting; its outcome shows below once it has run.")
        return _("Grade check started; its outcome shows below once it has run.")

    return _form_action(action)


@bp.post("/deeplink")
def deep_link():
    """Answer a deep-linking request with the chosen badge class (auto-posted to the platform)."""
    done, ctx = _current()
    if not done.is_deep_link or not done.is_instructor:
        raise NotAllowed(_l("Only teachers of this course can do this."))
    with ctx.db.session_scope() as session:
        badge = _badge(session, _launch_principal(session, done), request.form.get("badge"))
        reg = get_registration(session, done.claims["badgehub_registration"])
        context = svc.upsert_context(session, reg, done)
        if context is not None:
            svc.link_badge(session, ctx, context, badge)
        token, return_url = svc.deep_link_response(ctx, reg, done, badge, tool_urls(ctx.settings.base_url)["launch"])
    return _page(render_template("lti/autopost.html", action=return_url, fields={"JWT": token}))
