"""Pull-side reconciliation: read completions through Moodle Web Services and submit new ones.

For each mapped course of a Moodle site connector, the sync pages through the users Moodle tracks for
completion (``core_enrol_get_enrolled_users``, ``limitfrom``/``limitnumber``), asks each one's
``core_completion_get_course_completion_status``, and hands every completion it has not handed over
before to ``hub.inbox.services.submit_learning_event`` as the same :class:`LearningEvent` (same
idempotency key) the plugin's webhook produces, so a completion seen on both paths awards once.

Each page is one transaction: the submitted events, the remembered completions and the checkpoint
(:class:`~moodle_bridge.models.MoodleSyncState`) commit together. A crash loses at most the page in
flight, which the next run redoes; ``should_stop`` is honoured between pages, so SIGTERM stops cleanly.
Web-service calls happen outside the write transaction, so SQLite writers are not held up by Moodle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import LearningEvent
from hub.connections.models import ConnectorConfig
from hub.db import utcnow
from hub.errors import ConfigurationError, NotFound
from hub.i18n import lazy as _l
from moodle_bridge.client import Competency, Course, MoodleClient
from moodle_bridge.errors import MoodleCompetenciesDisabled, MoodleNoCompletionCriteria, MoodleNotEnrolled
from moodle_bridge.events import completion_event, completion_key, completion_payload
from moodle_bridge.models import DONE, RUNNING, MoodleCompletion, MoodleSyncState

log = logging.getLogger(__name__)

#: Users Moodle lists in completion reports: exactly those ``get_course_completion_status`` accepts.
TRACKED_CAPABILITY = "moodle/course:isincompletionreports"
DEFAULT_PAGE_SIZE = 200

SubmitFn = Callable[[Session, Any, ConnectorConfig, LearningEvent], tuple[Any, bool]]


def _default_submit(session, ctx, connector, event):
    # Imported late: the inbox service is the hub's, and tests inject their own submit.
    from hub.inbox.services import submit_learning_event

    return submit_learning_event(session, ctx, connector, event)


@dataclass
class CourseReport:
    """Figures for one course in one run (counts of users, calls and submissions)."""

    course_id: int
    users_seen: int = 0
    status_calls: int = 0
    completed: int = 0
    submitted: int = 0
    resumed_from: int = 0
    finished: bool = False
    skipped_reason: str | None = None


@dataclass
class SyncReport:
    """What a run did; ``stopped`` is True when ``should_stop`` ended it before all courses finished."""

    connector: str
    courses: list[CourseReport] = field(default_factory=list)
    stopped: bool = False
    courses_total: int = 0  # courses mapped, known once they are resolved

    @property
    def submitted(self) -> int:
        return sum(c.submitted for c in self.courses)


def load_token(ctx, connector: ConnectorConfig) -> str:
    """Decrypt the connector's web-service token (newest of the stored secrets list).

    Raises:
        ConfigurationError: no token stored, or it cannot be decrypted.
    """
    if not connector.secrets_encrypted:
        raise ConfigurationError(_l('Moodle connector "%(slug)s" has no web service token', slug=connector.slug))
    secrets = json.loads(ctx.box.decrypt(connector.secrets_encrypted))
    if not secrets:
        raise ConfigurationError(_l('Moodle connector "%(slug)s" has no web service token', slug=connector.slug))
    return secrets[0]


def client_for(ctx, connector: ConnectorConfig) -> MoodleClient:
    """A :class:`MoodleClient` for the connector's ``config["site_url"]`` and stored token."""
    return MoodleClient(connector.config["site_url"], load_token(ctx, connector))


def find_connector(session: Session, site: str) -> ConnectorConfig:
    """The ``kind="moodle"`` connector whose slug, or ``config["site_url"]``, is ``site``.

    Raises:
        NotFound: no such Moodle connector.
    """
    rows = session.scalars(select(ConnectorConfig).where(ConnectorConfig.kind == "moodle")).all()
    for row in rows:
        if site in (row.slug, (row.config or {}).get("site_url", "").rstrip("/"), row.public_id):
            return row
    raise NotFound(_l('no Moodle connector named "%(site)s"', site=site))


def resolve_courses(client: MoodleClient, config: dict[str, Any]) -> list[Course]:
    """The courses a connector maps: ``course_ids`` (one call) and/or ``course_idnumbers`` (one each).

    Raises:
        ConfigurationError: a mapped idnumber matches no course.
    """
    courses: dict[int, Course] = {}
    ids = config.get("course_ids") or []
    if ids:
        courses.update((c.id, c) for c in client.get_courses(ids))
        missing = set(map(int, ids)) - set(courses)
        if missing:
            log.warning("moodle courses not found", extra={"course_ids": sorted(missing)})
    for idnumber in config.get("course_idnumbers") or []:
        found = client.get_courses_by_field("idnumber", idnumber)
        if not found:
            raise ConfigurationError(_l('no Moodle course has the ID number "%(idnumber)s"', idnumber=idnumber))
        courses.update((c.id, c) for c in found)
    return [courses[k] for k in sorted(courses)]


class _CourseSync:
    """Runs (or resumes) the sync of one course; holds the per-course caches."""

    def __init__(
        self, ctx, connector: ConnectorConfig, client: MoodleClient, course: Course, *, submit, opts, on_page=None
    ):
        self.ctx, self.connector, self.client, self.course = ctx, connector, client, course
        self.submit = submit
        self.on_page = on_page or (lambda: None)
        self.page_size = int(opts.get("page_size") or DEFAULT_PAGE_SIZE)
        self.read_competencies = bool(opts.get("competencies", True))
        self.withcapability = opts.get("withcapability", TRACKED_CAPABILITY)
        self._competencies: list[Competency] | None = None
        self.report = CourseReport(course.id)

    def _state(self, session: Session) -> MoodleSyncState:
        state = session.scalar(
            select(MoodleSyncState).where(
                MoodleSyncState.connector_id == self.connector.id, MoodleSyncState.course_id == self.course.id
            )
        )
        if state is None:
            state = MoodleSyncState(connector_id=self.connector.id, course_id=self.course.id)
            session.add(state)
        if state.status != RUNNING:  # last run finished: start a new pass from the first user
            state.status, state.next_offset, state.last_user_id = RUNNING, 0, 0
            state.run_started_at = utcnow()
        session.flush()
        return state

    def course_competencies(self) -> list[Competency]:
        if self._competencies is None:
            try:
                self._competencies = self.client.list_course_competencies(self.course.id)
            except MoodleCompetenciesDisabled:
                self._competencies = []
        return self._competencies

    def achieved(self, user_id: int) -> list[Competency]:
        """The course competencies the learner is rated proficient in (one call per competency)."""
        if not self.read_competencies:
            return []
        out = []
        for comp in self.course_competencies():
            rating = self.client.get_user_competency_in_course(self.course.id, user_id, comp.id)
            if rating.proficiency:
                out.append(rating.competency)
        return out

    def run(self, should_stop: Callable[[], bool]) -> bool:
        """Process pages until the course is done (True) or ``should_stop`` says stop (False)."""
        db = self.ctx.db
        with db.session_scope() as session:
            state = self._state(session)
            offset, last_user_id = state.next_offset, state.last_user_id
        self.report.resumed_from = offset
        while True:
            if should_stop():
                return False
            page = self.client.get_enrolled_users(
                self.course.id,
                limitfrom=offset,
                limitnumber=self.page_size,
                withcapability=self.withcapability,
            )
            fresh = [u for u in page if u.id > last_user_id]
            with db.session_scope() as session:
                known = set(
                    session.scalars(
                        select(MoodleCompletion.user_id).where(
                            MoodleCompletion.connector_id == self.connector.id,
                            MoodleCompletion.course_id == self.course.id,
                            MoodleCompletion.user_id.in_([u.id for u in fresh]),
                        )
                    )
                )
            events = []
            for user in fresh:
                self.report.users_seen += 1
                if user.id in known:
                    continue
                self.report.status_calls += 1
                try:
                    status = self.client.get_course_completion_status(self.course.id, user.id)
                except MoodleNotEnrolled:  # unenrolled since the page was read, or not tracked
                    continue
                except MoodleNoCompletionCriteria:
                    self.report.skipped_reason = "no completion criteria"
                    log.warning("moodle course has no completion criteria", extra={"course_id": self.course.id})
                    return True
                if not status.completed:
                    continue
                self.report.completed += 1
                payload = completion_payload(
                    site_url=self.client.site_url,
                    course=self.course,
                    user=user,
                    timecompleted=status.timecompleted,
                    competencies=self.achieved(user.id),
                )
                events.append((user.id, completion_event(self.connector.slug, payload)))
            offset += len(page)
            if page:
                last_user_id = max(last_user_id, max(u.id for u in page))
            done = len(page) < self.page_size
            with db.session_scope() as session:
                connector = session.merge(self.connector, load=False)
                for user_id, event in events:
                    _, created = self.submit(session, self.ctx, connector, event)
                    self.report.submitted += int(created)
                    session.add(
                        MoodleCompletion(
                            connector_id=connector.id,
                            course_id=self.course.id,
                            user_id=user_id,
                            idempotency_key=completion_key(self.client.site_url, self.course.id, user_id),
                        )
                    )
                state = self._state(session)
                state.next_offset, state.last_user_id = offset, last_user_id
                if done:
                    state.status, state.last_finished_at = DONE, utcnow()
            if done:
                self.report.finished = True
            self.on_page()  # after the page's commit
            if done:
                return True


def sync_connector(
    ctx,
    site: str,
    *,
    client: MoodleClient | None = None,
    submit: SubmitFn | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_page: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Sync every mapped course of the Moodle connector ``site`` (slug or site URL); resume if interrupted.

    Args:
        ctx: the :class:`hub.context.HubContext` (its ``db`` provides the per-page transactions).
        client: a ready client (tests); default built from the connector's config and stored token.
        submit: ``(session, ctx, connector, event) -> (InboundEvent, created)``; None means
            ``hub.inbox.services.submit_learning_event``.
        should_stop: polled between pages; when it returns True the run ends after the last commit.
        on_page: called with the report so far once the courses are resolved and after every committed
            page (progress, heartbeats, processing the submitted events).

    Returns:
        A :class:`SyncReport`.

    Raises:
        NotFound / ConfigurationError: unknown connector, bad config or token.
        moodle_bridge.errors.MoodleError: site-wide failures (bad token, site down); per-user
            "not enrolled" answers are skipped instead.
    """
    with ctx.db.session_scope() as session:
        connector = find_connector(session, site)
        session.expunge(connector)
    if not connector.enabled:
        raise ConfigurationError(_l('Moodle connector "%(slug)s" is switched off', slug=connector.slug))
    submit = submit or _default_submit
    own_client = client is None
    client = client or client_for(ctx, connector)
    report = SyncReport(connector.slug)
    progress = (lambda: on_page(report)) if on_page else None
    try:
        courses = resolve_courses(client, connector.config)
        report.courses_total = len(courses)
        if progress:
            progress()
        for course in courses:
            course_sync = _CourseSync(
                ctx, connector, client, course, submit=submit, opts=connector.config, on_page=progress
            )
            report.courses.append(course_sync.report)
            if not course_sync.run(should_stop):
                report.stopped = True
                break
    finally:
        if own_client:
            client.close()
    log.info(
        "moodle sync finished",
        extra={"connector": connector.slug, "submitted": report.submitted, "stopped": report.stopped},
    )
    return report


def sync_all(ctx, **kwargs) -> list[SyncReport]:
    """Run :func:`sync_connector` for every enabled Moodle connector (for a scheduler or cron)."""
    with ctx.db.session_scope() as session:
        slugs = session.scalars(
            select(ConnectorConfig.slug).where(ConnectorConfig.kind == "moodle", ConnectorConfig.enabled)
        ).all()
    return [sync_connector(ctx, slug, **kwargs) for slug in slugs]
