"""Moodle sites managed by people (console and JSON API): create and change them, check the
connection, run "Sync now" as a background job, and link the webhook connector the Moodle plugin
pushes to.

A site is a :class:`~hub.connections.models.ConnectorConfig` row of kind ``moodle`` (config as in
:mod:`moodle_bridge.connector`; the web-service token encrypted in ``secrets_encrypted``, never
returned). Every function takes the acting :class:`~hub.accounts.access.Principal`: sites belong to
their issuer's administrators (CONFIGURE) and to site administrators; anyone else gets
:class:`~hub.errors.NotFound`, so a site's existence does not leak. Every change writes an audit entry
in the caller's unit of work (the token only as ``"token": "set"|"replaced"``). Services flush; the
caller commits.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import jobs
from hub.accounts import audit
from hub.accounts.access import CONFIGURE, Principal
from hub.badges.models import Issuer
from hub.connections import services as connections
from hub.connections.models import ConnectorConfig
from hub.db import utcnow
from hub.errors import ConfigurationError, Forbidden, HubError, NotFound, ValidationError
from hub.i18n import N_
from hub.i18n import lazy as _l
from hub.inbox.models import InboundEvent
from hub.rules import services as rules
from hub.schemas import SPACE
from hub.timefmt import isoformat_z
from moodle_bridge.client import COMPETENCY_FUNCTIONS, REQUIRED_FUNCTIONS, Course, EnrolledUser, MoodleClient
from moodle_bridge.events import WEBHOOK_MAPPING, completion_payload
from moodle_bridge.models import DONE, FAILED, QUEUED, RUNNING, STOPPED, MoodleSyncRun, MoodleSyncState
from moodle_bridge.sync import SyncReport, load_token, sites_at, sync_connector

log = logging.getLogger(__name__)

KIND = "moodle"
SITE_FIELDS = ("slug", "kind", "name", "enabled", "config", "issuer_id")
#: Keys of ``config`` people edit; others (``withcapability``, ``push_connector``) are kept as they are.
EDITABLE = ("site_url", "course_ids", "course_idnumbers", "competencies", "page_size")
#: A queued or running sync without a heartbeat for this long was abandoned (its process stopped).
ABANDONED_AFTER = timedelta(minutes=15)
#: The connection check answers within about this many seconds (one retry) even for a dead site.
CHECK_TIMEOUT = (5.0, 15.0)
#: A Moodle web-service token: 1-255 characters, no white space or NUL (the ``pattern`` of ``token`` in
#: the API's document: :mod:`moodle_bridge.api`).
TOKEN = rf"^[^{SPACE}\u0000]{{1,255}}$"
_TOKEN = re.compile(TOKEN)
NO_TOKEN = _l("the site has no web service token; set one first")
JOB_KIND = "moodle.sync"


class SiteNotReady(HubError):
    """The site cannot be checked or synced as configured (no token, switched off, unknown course)."""

    status = 409
    slug = "moodle-site-not-ready"
    title = N_("The Moodle site cannot be used yet")


class SiteAddressTaken(ValidationError):
    """Another Moodle site of the hub already has this address (``field="site_url"``): a valid request that
    the hub's state refuses, so 409 (RFC 9110 §15.5.10); a :class:`ValidationError` still, so the console's
    form shows it at the field."""

    status = 409
    slug = "moodle-site-address-taken"
    title = N_("This Moodle site is already connected")


class SyncAlreadyRunning(HubError):
    """A sync of this site is queued or running (``run`` names it)."""

    status = 409
    slug = "moodle-sync-running"
    title = N_("A sync of this Moodle site is already running")


# ---- access --------------------------------------------------------------------------------------------


def site_scope(p: Principal):
    """WHERE clause: Moodle sites ``p`` configures (all of them for site administrators)."""
    return (ConnectorConfig.kind == KIND) & p.scope_filter(ConnectorConfig.issuer_id, CONFIGURE)


def list_sites(session: Session, p: Principal, *, limit: int | None = None, after: str | None = None):
    """Sites ``p`` configures, newest first; ``after`` (a site's public id) continues a listing."""
    query = select(ConnectorConfig).where(site_scope(p)).order_by(ConnectorConfig.id.desc())
    if after:
        last = session.scalar(select(ConnectorConfig.id).where(ConnectorConfig.public_id == after))
        query = query.where(ConnectorConfig.id < (last if last is not None else 0))
    if limit:
        query = query.limit(limit)
    return session.scalars(query).all()


def _require(p: Principal, issuer_id: int | None, *, write: bool) -> None:
    if not p.may(issuer_id, CONFIGURE):
        raise NotFound(_l("no such Moodle site"))
    if write and not p.may(issuer_id, CONFIGURE, write=True):
        raise Forbidden(_l("your API token's scope does not allow changes (manage)"))


def load_site(session: Session, p: Principal, public_id: str, *, write: bool = False) -> ConnectorConfig:
    """The Moodle site with ``public_id`` if ``p`` configures it.

    Raises:
        NotFound: no such site, or not ``p``'s (staff and other issuers' people included).
        Forbidden: ``write`` with an API token whose scope is not ``manage``.
    """
    row = None
    if isinstance(public_id, str) and len(public_id) == 36 and "\x00" not in public_id:
        row = session.scalar(
            select(ConnectorConfig).where(ConnectorConfig.public_id == public_id, ConnectorConfig.kind == KIND)
        )
    if row is None:
        raise NotFound(_l("no such Moodle site"))
    _require(p, row.issuer_id, write=write)
    return row


def issuers_to_configure(session: Session, p: Principal) -> list[Issuer]:
    """Issuers ``p`` may add a site for, by name."""
    return list(session.scalars(select(Issuer).where(p.scope_filter(Issuer.id, CONFIGURE)).order_by(Issuer.name)))


# ---- create and change ---------------------------------------------------------------------------------


def _clean_token(token: str | None) -> str:
    token = (token or "").strip()
    if not _TOKEN.match(token):
        raise ValidationError(_l("the web service token must be 1-255 characters without spaces"), field="token")
    return token


def _slug_from(session: Session, name: str, fallback: str = "moodle") -> str:
    name = name.replace("ł", "l").replace("Ł", "L")  # the one Polish letter NFKD does not decompose
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:56] or fallback
    slug, n = base, 1
    while session.scalar(select(ConnectorConfig.id).where(ConnectorConfig.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _checked_config(config: dict) -> dict:
    from hub.connections import registry

    try:
        return registry.get(KIND).validate_config(config)
    except ConfigurationError as exc:  # a person's input: a client error, shown with the form (at its field)
        raise ValidationError(exc.detail, field=exc.extra.get("field") or "config") from None


def _refuse_second_site(session: Session, p: Principal, site_url: str, row: ConnectorConfig | None = None) -> None:
    """One Moodle site is one connector in the hub (its completions are named by its address): refuse
    ``site_url`` when another Moodle site (``row``: the one being changed) already has that address
    (:func:`moodle_bridge.sync.site_key`), naming it when ``p`` may see it.

    Raises:
        SiteAddressTaken: a :class:`ValidationError` with ``field="site_url"``.
    """
    others = [r for r in sites_at(session, site_url) if row is None or r.id != row.id]
    if not others:
        return
    mine = next((r for r in others if p.may(r.issuer_id, CONFIGURE)), None)
    if mine is not None:
        message = _l(
            "This Moodle site is already connected as %(name)s (%(slug)s); change that one instead.",
            name=mine.name,
            slug=mine.slug,
        )
    else:
        message = _l("This Moodle site is already connected to Badge Hub by another issuer; ask a site administrator.")
    raise SiteAddressTaken(message, field="site_url")


def _record(session: Session, p: Principal, action: str, row: ConnectorConfig, *, before=None, after=None) -> None:
    audit.record(session, p, action, "connector", row.public_id, issuer_id=row.issuer_id, before=before, after=after)


def create_site(
    session: Session,
    ctx,
    p: Principal,
    *,
    issuer: Issuer | None,
    name: str,
    token: str,
    config: dict,
    slug: str | None = None,
) -> ConnectorConfig:
    """Add a Moodle site for ``issuer`` (None: site-level, site administrators only).

    ``config`` holds the :data:`EDITABLE` keys; ``slug`` (the name ``badgehub moodle sync`` takes) is
    made from ``name`` when empty. The token is stored encrypted.

    Raises:
        NotFound / Forbidden: ``p`` does not configure ``issuer``.
        ValidationError: ``field`` names the bad input (``name``, ``token``, ``slug``, ``config``;
            ``site_url``: another Moodle site of the hub has this address).
    """
    if issuer is None and not p.site_admin:
        raise Forbidden(_l("only site administrators add site-level Moodle sites; name an issuer"))
    _require(p, issuer.id if issuer else None, write=True)
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ValidationError(_l("the name must be 1-255 characters"), field="name")
    token = _clean_token(token)
    checked = _checked_config({k: config.get(k) for k in EDITABLE if config.get(k) is not None})
    _refuse_second_site(session, p, checked["site_url"])
    row = connections.create_connector(
        session,
        ctx,
        slug=(slug or "").strip() or _slug_from(session, name),
        kind=KIND,
        name=name,
        config=checked,
        secret=token,
        issuer_id=issuer.id if issuer else None,
    )
    _record(session, p, "moodle.create", row, after={**audit.snapshot(row, SITE_FIELDS), "token": "set"})
    return row


def update_site(
    session: Session,
    ctx,
    p: Principal,
    row: ConnectorConfig,
    *,
    name: str | None = None,
    config: dict | None = None,
    enabled: bool | None = None,
    token: str | None = None,
) -> ConnectorConfig:
    """Change a site: ``config`` keys of :data:`EDITABLE` given replace the stored ones; a non-empty
    ``token`` replaces the stored token (the old one stops being used at once).

    Raises:
        NotFound / Forbidden: as :func:`load_site`; ValidationError: as :func:`create_site`.
    """
    _require(p, row.issuer_id, write=True)
    before = audit.snapshot(row, SITE_FIELDS)
    if name is not None and not (name.strip() and len(name.strip()) <= 255):
        raise ValidationError(_l("the name must be 1-255 characters"), field="name")
    merged = None
    if config:
        merged = _checked_config({**row.config, **{k: v for k, v in config.items() if k in EDITABLE}})
        _refuse_second_site(session, p, merged["site_url"], row)
    connections.update_connector(session, row, name=name, config=merged, enabled=enabled)
    after = audit.snapshot(row, SITE_FIELDS)
    if token:
        row.secrets_encrypted = ctx.box.encrypt(json.dumps([_clean_token(token)]).encode())
        session.flush()
        after["token"] = "replaced"
    _record(session, p, "moodle.update", row, before=before, after=after)
    return row


def site_json(ctx, row: ConnectorConfig) -> dict:
    """The site as the API shows it (no token; ``token_set`` tells whether one is stored)."""
    config = row.config or {}
    push = config.get("push_connector")
    return {
        "id": row.public_id,
        "slug": row.slug,
        "name": row.name,
        "issuer": row.issuer.public_id if row.issuer else None,
        "enabled": row.enabled,
        "site_url": config.get("site_url"),
        "course_ids": config.get("course_ids") or [],
        "course_idnumbers": config.get("course_idnumbers") or [],
        "competencies": bool(config.get("competencies", True)),
        "page_size": config.get("page_size", 200),
        "token_set": bool(row.secrets_encrypted),
        "push_connector": push,
        "push_url": f"{ctx.urls.base}/hooks/{push}" if push else None,
    }


# ---- connection check ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """What the site's web service says about itself. ``missing``: functions the sync needs that the
    token's service lacks; ``site_url_matches``: Moodle's own address equals the configured one (the
    plugin's events name the site by Moodle's address, the sync's by the configured one; they must agree
    for a completion arriving both ways to award once)."""

    sitename: str
    siteurl: str
    release: str
    username: str
    missing: tuple[str, ...]
    site_url_matches: bool

    @property
    def ok(self) -> bool:
        return not self.missing


def _token(ctx, row: ConnectorConfig) -> str:
    try:
        return load_token(ctx, row)
    except ConfigurationError:
        raise SiteNotReady(NO_TOKEN) from None


@dataclass(frozen=True)
class CheckTarget:
    """What a connection check needs, read from the row before any network call (so no transaction is
    held while Moodle answers). The token is left out of the repr."""

    site_url: str
    token: str = field(repr=False)
    competencies: bool = True


def check_target(ctx, row: ConnectorConfig) -> CheckTarget:
    """Read the site's address, token and competencies flag.

    Raises:
        SiteNotReady: no token stored.
    """
    config = row.config or {}
    return CheckTarget(config["site_url"], _token(ctx, row), bool(config.get("competencies", True)))


def check_site(target: CheckTarget) -> CheckResult:
    """Call ``core_webservice_get_site_info`` as ``badgehub moodle check`` does (one retry, short
    timeouts) and compare its functions with those the sync needs. Network only; no database.

    Raises:
        moodle_bridge.errors.MoodleError: the site's answer (invalid or expired token, access denied:
            502; no answer or HTTP 5xx: :class:`~moodle_bridge.errors.MoodleUnavailable`, 504; not
            Moodle's REST protocol: 502).
    """
    client = MoodleClient(target.site_url, target.token, timeout=CHECK_TIMEOUT, attempts=2, backoff=0.25)
    try:
        info = client.get_site_info()
    finally:
        client.close()
    needed = REQUIRED_FUNCTIONS + (COMPETENCY_FUNCTIONS if target.competencies else ())
    return CheckResult(
        sitename=info.sitename,
        siteurl=info.siteurl,
        release=info.release,
        username=info.username,
        missing=tuple(f for f in needed if f not in info.functions),
        site_url_matches=info.siteurl.rstrip("/").lower() == target.site_url.rstrip("/").lower(),
    )


# ---- sync runs -----------------------------------------------------------------------------------------


def latest_run(session: Session, row: ConnectorConfig) -> MoodleSyncRun | None:
    return session.scalar(
        select(MoodleSyncRun).where(MoodleSyncRun.connector_id == row.id).order_by(MoodleSyncRun.id.desc()).limit(1)
    )


def is_abandoned(run: MoodleSyncRun) -> bool:
    """A queued/running run without a heartbeat for :data:`ABANDONED_AFTER` (its process stopped)."""
    return run.status in (QUEUED, RUNNING) and utcnow() - run.heartbeat_at > ABANDONED_AFTER


def course_states(session: Session, row: ConnectorConfig) -> list[MoodleSyncState]:
    """The sync checkpoints of the site's courses, by course id."""
    return list(
        session.scalars(
            select(MoodleSyncState).where(MoodleSyncState.connector_id == row.id).order_by(MoodleSyncState.course_id)
        )
    )


def start_sync(session: Session, ctx, p: Principal, row: ConnectorConfig) -> MoodleSyncRun:
    """Queue a sync run of the site: the run row and a ``moodle.sync`` job of the hub's job system, in
    the caller's transaction, so the sync starts once the caller commits (and survives a restart).

    Raises:
        SiteNotReady: the site is switched off or has no token.
        SyncAlreadyRunning: a run is queued or running (an abandoned one is marked failed instead).
    """
    _require(p, row.issuer_id, write=True)
    run = _new_run(session, p, row)
    jobs.enqueue(
        session, JOB_KIND, {"run": run.id}, dedup_key=f"{JOB_KIND}:{run.public_id}", issuer_id=row.issuer_id, ctx=ctx
    )
    return run


def _new_run(session: Session, p: Principal, row: ConnectorConfig) -> MoodleSyncRun:
    """A queued sync run of the site, audited (the caller holds the right to start it).

    Raises:
        SiteNotReady / SyncAlreadyRunning: as :func:`start_sync`.
    """
    session.execute(select(ConnectorConfig.id).where(ConnectorConfig.id == row.id).with_for_update())
    if not row.enabled:
        raise SiteNotReady(_l("the site is switched off; switch it on to sync"))
    if not row.secrets_encrypted:
        raise SiteNotReady(NO_TOKEN)
    current = latest_run(session, row)
    if current is not None and current.status in (QUEUED, RUNNING):
        if not is_abandoned(current):
            raise SyncAlreadyRunning(_l("wait for it to finish, or stop it"), run=current.public_id)
        current.status, current.finished_at = FAILED, utcnow()
        current.error, current.error_slug = "abandoned: its process stopped", "abandoned"
    now = utcnow()
    run = MoodleSyncRun(connector_id=row.id, status=QUEUED, started_by=p.email, queued_at=now, heartbeat_at=now)
    session.add(run)
    session.flush()
    _record(session, p, "moodle.sync", row, after={"run": run.public_id})
    return run


def request_stop(session: Session, p: Principal, row: ConnectorConfig) -> MoodleSyncRun | None:
    """Ask the site's queued or running sync to stop after its current page (the next run resumes).
    Returns the run, or None when none is running."""
    _require(p, row.issuer_id, write=True)
    run = latest_run(session, row)
    if run is None or run.status not in (QUEUED, RUNNING):
        return None
    run.stop_requested = True
    session.flush()
    _record(session, p, "moodle.sync_stop", row, after={"run": run.public_id})
    return run


def _courses_done(report: SyncReport) -> int:
    return sum(1 for c in report.courses if c.finished or c.skipped_reason)


def run_sync(ctx, run_id: int, job: jobs.JobRun | None = None) -> None:
    """Sync the run's site and record progress on the run (and on its ``job``, renewing the job's
    lease) after every committed page; the job runner is woken for the page's new inbox events, so
    completions become awards while the sync goes on. A run left ``running`` by a process that died
    is resumed where its last page ended (the sync's own checkpoints). Never raises: a hub error ends
    the run ``failed`` with its detail (in English, as stored records are) and problem slug, which the
    console explains in the reader's language; a stop request ends it ``stopped``.
    """
    from hub.inbox.services import submit_learning_event

    with ctx.db.session_scope() as s:
        run = s.get(MoodleSyncRun, run_id)
        if run is None or run.status not in (QUEUED, RUNNING):
            return
        site = s.get(ConnectorConfig, run.connector_id).public_id
        # A resumed run (its process died) goes on from the sync's checkpoints: this attempt's report
        # counts only what it submits, so add it to what the earlier attempts submitted.
        earlier = run.submitted or 0
        run.status, run.heartbeat_at = (STOPPED if run.stop_requested else RUNNING), utcnow()
        if run.stop_requested:
            run.finished_at = utcnow()
            return
    new_events: list[int] = []
    stop = {"requested": False}

    def submit(session, ctx_, connector, event):
        inbound, created = submit_learning_event(session, ctx_, connector, event)
        if created:
            new_events.append(inbound.id)
        return inbound, created

    def on_page(report: SyncReport) -> None:
        committed = list(new_events)
        new_events.clear()
        with ctx.db.session_scope() as s:
            run = s.get(MoodleSyncRun, run_id)
            run.heartbeat_at = utcnow()
            run.courses_total, run.courses_done = report.courses_total, _courses_done(report)
            run.users_seen = sum(c.users_seen for c in report.courses)
            run.submitted = earlier + report.submitted
            stop["requested"] = run.stop_requested
        if job is not None:
            job.progress(_courses_done(report), report.courses_total)
        if committed:
            jobs.wake(ctx)

    status, error, slug, report = DONE, None, None, None
    try:
        report = sync_connector(ctx, site, submit=submit, should_stop=lambda: stop["requested"], on_page=on_page)
        status = STOPPED if report.stopped else DONE
    except HubError as exc:
        status, error, slug = FAILED, str(exc), exc.slug  # stored in English; the console explains the slug
        log.warning("moodle sync failed", extra={"run": run_id, "problem": exc.slug})
    except Exception as exc:  # noqa: BLE001 - the run must end with a state a person can read
        status, error, slug = FAILED, f"internal error: {type(exc).__name__}", "internal-error"
        log.exception("moodle sync %s crashed", run_id)
    with ctx.db.session_scope() as s:
        run = s.get(MoodleSyncRun, run_id)
        run.status, run.finished_at, run.heartbeat_at = status, utcnow(), utcnow()
        run.error, run.error_slug = error, slug
        if report is not None:
            run.report = [asdict(c) for c in report.courses]
            run.courses_total, run.courses_done = report.courses_total, _courses_done(report)
            run.users_seen = sum(c.users_seen for c in report.courses)
            run.submitted = earlier + report.submitted


def _sync_job(ctx, job: jobs.JobRun) -> None:
    """The ``moodle.sync`` job: a run someone started (``{"run": id}``), or a scheduled sync of a site
    (``{"site": connector id}``), which starts a run as the system unless one is running."""
    run_id = job.payload.get("run")
    if run_id is None:
        with ctx.db.session_scope() as session:
            row = session.get(ConnectorConfig, job.payload["site"])
            if row is None or row.kind != KIND:
                return
            p = Principal.system(f"schedule:{row.slug}", issuer_id=row.issuer_id, via="job")
            try:
                run = _new_run(session, p, row)
            except (SiteNotReady, SyncAlreadyRunning) as exc:
                log.info("scheduled moodle sync of %s skipped: %s", row.slug, exc)
                return
            run_id = run.id
    run_sync(ctx, run_id, job)


def _scheduled_sites(session: Session, ctx):
    """Schedule targets: every enabled Moodle site with a token, every ``sync_every_minutes`` of its
    config (default ``HUB_MOODLE_SYNC_MINUTES``; 0 switches the schedule off)."""
    default = ctx.settings.moodle_sync_minutes
    for row in session.scalars(select(ConnectorConfig).where(ConnectorConfig.kind == KIND, ConnectorConfig.enabled)):
        minutes = (row.config or {}).get("sync_every_minutes", default)
        if row.secrets_encrypted and isinstance(minutes, int | float) and minutes > 0:
            yield row.public_id, {"site": row.id}, row.issuer_id, float(minutes) * 60


def register_jobs() -> None:
    """Register the ``moodle.sync`` job kind and its schedule with the hub's job system."""
    jobs.register(JOB_KIND, _sync_job, max_attempts=3, schedule=jobs.Schedule(_scheduled_sites))


def run_json(run: MoodleSyncRun | None) -> dict | None:
    """A sync run as the API and the progress poller show it (``done``/``total`` count courses)."""
    if run is None:
        return None
    return {
        "id": run.public_id,
        "status": run.status,
        "abandoned": is_abandoned(run),
        "started_by": run.started_by,
        "stop_requested": run.stop_requested,
        "queued_at": _iso(run.queued_at),
        "heartbeat_at": _iso(run.heartbeat_at),
        "finished_at": _iso(run.finished_at),
        "done": run.courses_done,
        "total": run.courses_total,
        "users_seen": run.users_seen,
        "submitted": run.submitted,
        "error": run.error,
        "error_slug": run.error_slug,
        "report": run.report or [],
    }


def state_json(state: MoodleSyncState) -> dict:
    """A course's sync checkpoint (``running`` while a pass is unfinished; ``next_offset`` resumes it)."""
    return {
        "course_id": state.course_id,
        "status": state.status,
        "next_offset": state.next_offset,
        "last_user_id": state.last_user_id,
        "run_started_at": _iso(state.run_started_at),
        "last_finished_at": _iso(state.last_finished_at),
    }


def _iso(value) -> str | None:
    return isoformat_z(value) if value else None


# ---- push: the webhook connector the plugin sends to ---------------------------------------------------


def push_connector(session: Session, row: ConnectorConfig) -> ConnectorConfig | None:
    """The webhook connector linked as this site's push target (``config["push_connector"]``), if any."""
    slug = (row.config or {}).get("push_connector")
    if not slug:
        return None
    return session.scalar(
        select(ConnectorConfig).where(ConnectorConfig.slug == slug, ConnectorConfig.kind == "webhooks")
    )


def push_candidates(session: Session, row: ConnectorConfig) -> list[ConnectorConfig]:
    """Webhook connectors of the site's issuer that read the plugin's payload (its mapping)."""
    query = select(ConnectorConfig).where(ConnectorConfig.kind == "webhooks").order_by(ConnectorConfig.slug)
    query = query.where(
        ConnectorConfig.issuer_id.is_(None) if row.issuer_id is None else ConnectorConfig.issuer_id == row.issuer_id
    )
    return [c for c in session.scalars(query) if (c.config or {}).get("mapping") == WEBHOOK_MAPPING]


def _example_payload(row: ConnectorConfig) -> dict:
    config = row.config or {}
    idnumber = next(iter(config.get("course_idnumbers") or []), "")
    course_id = next(iter(config.get("course_ids") or []), 2)
    return completion_payload(
        site_url=config["site_url"],
        course=Course(
            id=int(course_id), shortname="COURSE", fullname="Course", idnumber=idnumber, enablecompletion=True
        ),
        user=EnrolledUser(
            id=4, fullname="Test Learner", firstname="Test", lastname="Learner", email="learner@example.org"
        ),
        timecompleted=None,
    )


def _link(session: Session, p: Principal, row: ConnectorConfig, slug: str | None) -> None:
    before = audit.snapshot(row, SITE_FIELDS)
    config = {k: v for k, v in row.config.items() if k != "push_connector"}
    if slug:
        config["push_connector"] = slug
    connections.update_connector(session, row, config=_checked_config(config))
    _record(session, p, "moodle.update", row, before=before, after=audit.snapshot(row, SITE_FIELDS))


def create_push_connector(
    session: Session, ctx, p: Principal, row: ConnectorConfig, *, name: str
) -> tuple[ConnectorConfig, str]:
    """Create the webhook connector for the site's plugin (the plugin's mapping, an example payload for
    its test button, the site's issuer), link it, and copy the site's rules to it (a completion must
    earn the badge on either path). Returns ``(connector, secret)``; the secret is shown once."""
    _require(p, row.issuer_id, write=True)
    secret = connections.new_webhook_secret()
    push = connections.create_connector(
        session,
        ctx,
        slug=_slug_from(session, f"{row.slug}-push"),
        kind="webhooks",
        name=name,
        config={"mapping": WEBHOOK_MAPPING, "example": _example_payload(row)},
        secret=secret,
        issuer_id=row.issuer_id,
    )
    audit.record(
        session,
        p,
        "connector.create",
        "connector",
        push.public_id,
        issuer_id=push.issuer_id,
        after=audit.snapshot(push, SITE_FIELDS),
    )
    _link(session, p, row, push.slug)
    copy_rules(session, p, row, push)
    return push, secret


def link_push_connector(session: Session, p: Principal, row: ConnectorConfig, connector_id: str | None) -> None:
    """Link one of :func:`push_candidates` (by public id) as the site's push target; None unlinks.

    Raises:
        NotFound: not a candidate of this site.
    """
    _require(p, row.issuer_id, write=True)
    slug = None
    if connector_id:
        found = next((c for c in push_candidates(session, row) if c.public_id == connector_id), None)
        if found is None:
            raise NotFound(_l("no such webhook connector for this site"))
        slug = found.slug
    _link(session, p, row, slug)


def copy_rules(session: Session, p: Principal, source: ConnectorConfig, target: ConnectorConfig) -> int:
    """Add to ``target`` each rule of ``source`` it lacks (same badge, event type, key, condition).
    Returns how many were added."""
    _require(p, source.issuer_id, write=True)
    _require(p, target.issuer_id, write=True)
    have = {
        (r.badge_class_id, r.event_type, r.key, r.condition)
        for r in session.scalars(rules.list_rules(connector_id=target.id))
    }
    added = 0
    for rule in session.scalars(rules.list_rules(connector_id=source.id)).all():
        if (rule.badge_class_id, rule.event_type, rule.key, rule.condition) in have:
            continue
        new = rules.create_rule(
            session, target, rule.badge_class, event_type=rule.event_type, key=rule.key, condition=rule.condition
        )
        audit.record(
            session,
            p,
            "rule.create",
            "rule",
            new.public_id,
            issuer_id=target.issuer_id,
            after={
                "connector": target.public_id,
                "badge_class": rule.badge_class.public_id,
                "copied_from": rule.public_id,
            },
        )
        added += 1
    return added


def recent_events(session: Session, connectors: list[ConnectorConfig], limit: int = 20) -> list[InboundEvent]:
    """The newest inbox events of ``connectors`` (the site and its push connector)."""
    ids = [c.id for c in connectors]
    return list(
        session.scalars(
            select(InboundEvent).where(InboundEvent.connector_id.in_(ids)).order_by(InboundEvent.id.desc()).limit(limit)
        )
    )
