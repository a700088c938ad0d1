"""What the tool does for courses: contexts and their endpoints, linked badge classes, award rules,
awarding and revoking, the learner's badges, NRPS rosters, AGS scores and results, deep linking.

Service calls made long after a launch use the endpoint claims stored on :class:`LtiContext` and the
registration, never a cached launch. OAuth 2 access tokens (client credentials with a signed JWT
assertion, https://www.imsglobal.org/spec/security/v1p0/#using-json-web-tokens-with-oauth-2-0-client-credentials-grant)
are cached in the shared store per (registration, scopes), encrypted, until shortly before they expire.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from cachetools import TTLCache
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connectors.types import LearningEvent, PlatformUser
from hub.accounts.access import Principal, not_found
from hub.badges.models import Assertion, BadgeClass
from hub.badges.recipient import normalise_email
from hub.connections.models import ConnectorConfig
from hub.connections.services import connector_has_events, create_connector, delete_connector
from hub.context import HubContext
from hub.credentials.ob3 import record_lms_identity
from hub.errors import NotFound, ValidationError
from hub.i18n import joined, number
from hub.i18n import lazy as _l
from hub.inbox.services import submit_learning_event
from hub.operations import awards
from hub.rules.models import AwardRule
from hub.rules.services import create_rule, set_rule_enabled

from .errors import PlatformServiceError
from .launch import AGS_CLAIM, NRPS_CLAIM, Launch
from .models import (
    ACTIVE,
    AWARD_RULES,
    INACTIVE,
    PENDING,
    RULE_COMPLETION,
    RULE_GRADE,
    LtiContext,
    LtiContextBadge,
    LtiRegistration,
)
from .registrations import pylti_registration
from .store import Store
from .tenancy import owns
from .tenancy import principal as registration_principal

log = logging.getLogger(__name__)
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
COMPLETION_EVENT = "course_completed"
TOKEN_MARGIN = 30  # seconds before expiry at which a cached access token is renewed
HTTP_TIMEOUT = 15  # seconds per platform call


# ---- platform service calls --------------------------------------------------------------------


def token_refusal(response: requests.Response) -> str:
    """The platform's own words for a refused token request: RFC 6749 section 5.2 ``error`` and
    ``error_description`` (Moodle: e.g. ``invalid_client`` "The client is not authorised", or
    ``invalid_scope``), else the start of the body as text (Moodle's cURL security page, a proxy's
    error page), quoted."""
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("error"):
        described = f" ({doc['error_description']!r})" if doc.get("error_description") else ""
        return f"{doc['error']!r}{described}"
    text = " ".join((response.text or "").split())[:300]
    return repr(text) if text else "nothing (empty body)"


class CachedServiceConnector(ServiceConnector):
    """pylti1p3's service connector with access tokens cached in the shared store (encrypted, per
    registration and scope set, renewed :data:`TOKEN_MARGIN` s before ``expires_in``), HTTP timeouts,
    one retry with a fresh token on 401, and ``Link: <...>; rel="next"`` parsed by ``requests``
    (quoted or not, RFC 8288)."""

    def __init__(self, ctx: HubContext, store: Store, reg_id: str, registration):
        super().__init__(registration)
        self._ctx, self._store, self._reg_id = ctx, store, reg_id

    def _token_key(self, scopes) -> str:
        digest = hashlib.sha256("|".join(sorted(scopes)).encode()).hexdigest()[:32]
        return f"token:{self._reg_id}:{digest}"

    def get_access_token(self, scopes) -> str:
        key = self._token_key(scopes)
        cached = self._store.get(key)
        if cached:
            return self._ctx.box.decrypt(cached["token"]).decode()
        reg = self._registration
        now = int(time.time())
        assertion = self.encode_jwt(
            {
                "iss": reg.get_client_id(),
                "sub": reg.get_client_id(),
                "aud": reg.get_auth_audience() or reg.get_auth_token_url(),
                "iat": now - 5,
                "exp": now + 60,
                "jti": "badgehub-" + uuid.uuid4().hex,
            },
            reg.get_tool_private_key(),
            {"kid": reg.get_kid()},
        )
        try:
            r = self._requests_session.post(
                reg.get_auth_token_url(),
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": assertion,
                    "scope": " ".join(scopes),
                },
                timeout=HTTP_TIMEOUT,
            )
            if not r.ok:
                raise PlatformServiceError(
                    _l("The learning platform refused the tool's access request."),
                    reason=f"token request to {reg.get_auth_token_url()} refused: HTTP {r.status_code}, "
                    f"the platform says: {token_refusal(r)}",
                )
            doc = r.json()
            token, expires_in = doc["access_token"], int(doc.get("expires_in") or 3600)
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise PlatformServiceError(
                _l("The learning platform refused the tool's access request."),
                reason=f"token request to {reg.get_auth_token_url()} failed: {exc}",
            ) from None
        ttl = expires_in - TOKEN_MARGIN
        if ttl > 0:
            self._store.put(key, {"token": self._ctx.box.encrypt(token.encode())}, ttl)
        return token

    def make_service_request(
        self,
        scopes,
        url,
        is_post=False,
        data=None,
        content_type="application/json",
        accept="application/json",
        case_insensitive_headers=False,
    ):
        for attempt in (1, 2):
            headers = {"Authorization": "Bearer " + self.get_access_token(scopes), "Accept": accept}
            try:
                if is_post:
                    headers["Content-Type"] = content_type
                    r = self._requests_session.post(url, data=data or None, headers=headers, timeout=HTTP_TIMEOUT)
                else:
                    r = self._requests_session.get(url, headers=headers, timeout=HTTP_TIMEOUT)
            except requests.RequestException as exc:
                raise PlatformServiceError(
                    _l("The learning platform did not answer."), reason=f"{url}: {exc}"
                ) from None
            if r.status_code == 401 and attempt == 1:
                self._store.take(self._token_key(scopes))  # revoked or expired early: get a new one
                continue
            if not r.ok:
                raise PlatformServiceError(
                    _l("The learning platform did not answer as expected."),
                    reason=f"{'POST' if is_post else 'GET'} {url} -> HTTP {r.status_code}: {r.text[:200]}",
                )
            try:
                body = r.json() if r.content else None
            except ValueError:  # e.g. a score POST answered with a plain-text "success"
                body = r.text
            return {
                "headers": r.headers if case_insensitive_headers else dict(r.headers),
                "body": body,
                "next_page_url": (r.links.get("next") or {}).get("url"),
            }
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class CourseServices:
    """What platform calls for a course need, read in a unit of work and used after it closed: no
    database transaction stays open during an HTTP call (SQLite has one writer; locks stay short)."""

    reg_id: str
    registration: Any  # pylti1p3 Registration, tool private key in memory
    context_id: str
    nrps_url: str | None
    ags_endpoint: dict

    def connector(self, ctx: HubContext, store: Store) -> CachedServiceConnector:
        return CachedServiceConnector(ctx, store, self.reg_id, self.registration)


def course_services(ctx: HubContext, context: LtiContext) -> CourseServices:
    """Snapshot the course's stored endpoint claims and its registration for later platform calls."""
    return CourseServices(
        reg_id=context.registration.public_id,
        registration=pylti_registration(ctx, context.registration),
        context_id=context.context_id,
        nrps_url=context.nrps_url,
        ags_endpoint=dict(context.ags_endpoint or {}),
    )


@dataclass
class Member:
    """A course member from NRPS (https://www.imsglobal.org/spec/lti-nrps/v2p0#membership-container-media-type)."""

    user_id: str
    name: str | None
    email: str | None
    roles: list[str]
    status: str = "Active"

    @property
    def is_learner(self) -> bool:
        return any(r.endswith("#Learner") or r == "Learner" for r in self.roles)


#: How long a course's roster (NRPS) is kept, seconds: a launch, a saved rule and an award a moment
#: later read it once. Per process (cachetools TTLCache); a member added in the LMS shows up after this.
ROSTER_TTL = 180
_rosters: TTLCache = TTLCache(maxsize=1024, ttl=ROSTER_TTL)
_rosters_lock = threading.Lock()


def roster(ctx: HubContext, store: Store, course: CourseServices, *, fresh: bool = False) -> list[Member]:
    """Every member of the course, following ``Link: rel="next"`` pages; kept per (registration,
    context, membership URL) for :data:`ROSTER_TTL` seconds unless ``fresh`` (the grade sync reads it
    afresh). NRPS 2.0, https://www.imsglobal.org/spec/lti-nrps/v2p0.

    Raises:
        PlatformServiceError: the course has no NRPS endpoint, or the platform refused (not cached).
    """
    key = (course.reg_id, course.context_id, course.nrps_url)
    if not fresh:
        with _rosters_lock:
            cached = _rosters.get(key)
        if cached is not None:
            return list(cached)
    members = _read_roster(ctx, store, course)
    with _rosters_lock:
        _rosters[key] = tuple(members)
    return members


def forget_rosters() -> None:
    """Drop every cached roster of this process (the next page reads NRPS again)."""
    with _rosters_lock:
        _rosters.clear()


def _read_roster(ctx: HubContext, store: Store, course: CourseServices) -> list[Member]:
    if not course.nrps_url:
        raise PlatformServiceError(
            _l("The learning platform does not share the course roster with this tool."),
            reason=f"context {course.context_id} has no NRPS endpoint",
        )
    nrps = NamesRolesProvisioningService(course.connector(ctx, store), {"context_memberships_url": course.nrps_url})
    return [
        Member(
            user_id=str(m["user_id"]),
            name=m.get("name") or " ".join(p for p in (m.get("given_name"), m.get("family_name")) if p) or None,
            email=m.get("email") or None,
            roles=list(m.get("roles") or []),
            status=m.get("status", "Active"),
        )
        for m in nrps.get_members()
    ]


def _ags(ctx: HubContext, store: Store, course: CourseServices) -> AssignmentsGradesService:
    if not course.ags_endpoint:
        raise PlatformServiceError(
            _l("The learning platform does not share grades with this tool."),
            reason=f"context {course.context_id} has no AGS endpoint",
        )
    return AssignmentsGradesService(course.connector(ctx, store), course.ags_endpoint)


def badge_tag(badge: BadgeClass) -> str:
    """The AGS line item ``tag`` of a badge class: ``badgehub:<badge class public id>``."""
    return f"badgehub:{badge.public_id}"


def post_badge_score(
    ctx: HubContext, store: Store, course: CourseServices, *, lineitem_url: str | None, badge: BadgeClass, user_id: str
) -> str:
    """Post a completed, fully graded score 1/1 for ``user_id`` to the badge's line item (found by, or
    created with, the badge's tag when ``lineitem_url`` is None). AGS 2.0 sections 3.2 and 3.4,
    https://www.imsglobal.org/spec/lti-ags/v2p0/.

    Returns the line item URL (to keep on the link). Raises PlatformServiceError.
    """
    ags = _ags(ctx, store, course)
    try:
        if lineitem_url:
            item = LineItem({"id": lineitem_url})
        else:
            item = ags.find_or_create_lineitem(
                LineItem().set_tag(badge_tag(badge)).set_label(badge.name).set_score_maximum(1)
            )
        grade = (
            Grade()
            .set_score_given(1)
            .set_score_maximum(1)
            .set_activity_progress("Completed")
            .set_grading_progress("FullyGraded")
            .set_user_id(user_id)
            .set_timestamp(datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        )
        ags.put_grade(grade, item)
    except LtiException as exc:
        raise PlatformServiceError(_l("The learning platform did not accept the score."), reason=str(exc)) from None
    return item.get_id()


def results(ctx: HubContext, store: Store, course: CourseServices, lineitem_url: str) -> list[dict]:
    """All AGS results of a line item (``.../results``), following ``Link: rel="next"`` pages."""
    ags = _ags(ctx, store, course)
    if not ags.can_read_grades():
        raise PlatformServiceError(
            _l("The learning platform does not let this tool read grades."), reason="no result.readonly scope"
        )
    url = AssignmentsGradesService._add_url_path_ending(lineitem_url, "results")
    found: list[dict] = []
    while url:
        page = ags._service_connector.make_service_request(
            course.ags_endpoint.get("scope", []), url, accept="application/vnd.ims.lis.v2.resultcontainer+json"
        )
        if not isinstance(page["body"], list):
            raise PlatformServiceError(
                _l("The learning platform did not answer as expected."), reason="results not a list"
            )
        found.extend(page["body"])
        url = page["next_page_url"]
    return found


# ---- contexts and badges -----------------------------------------------------------------------


def upsert_context(session: Session, reg: LtiRegistration, launch: Launch) -> LtiContext | None:
    """Create or refresh the course of ``launch`` with the endpoints its claims carry (None when the
    launch has no context)."""
    if not launch.context_id:
        return None
    row = session.scalar(
        select(LtiContext).where(LtiContext.registration_id == reg.id, LtiContext.context_id == launch.context_id)
    )
    if row is None:
        row = LtiContext(registration=reg, context_id=launch.context_id)
        session.add(row)
    row.deployment_id = launch.deployment_id
    row.title = launch.context.get("title") or row.title
    row.label = launch.context.get("label") or row.label
    if launch.claims.get(AGS_CLAIM):
        row.ags_endpoint = dict(launch.claims[AGS_CLAIM])
    nrps = (launch.claims.get(NRPS_CLAIM) or {}).get("context_memberships_url")
    row.nrps_url = nrps or row.nrps_url
    session.flush()
    return row


def find_context(session: Session, reg_public_id: str, context_id: str) -> LtiContext | None:
    return session.scalar(
        select(LtiContext)
        .join(LtiRegistration)
        .where(LtiRegistration.public_id == reg_public_id, LtiContext.context_id == context_id)
    )


def linked_badges(context: LtiContext) -> list[BadgeClass]:
    """The badge classes linked to the course that belong to its registration's issuer (none while the
    registration has no issuer). Links to other issuers' badge classes, made before platforms belonged
    to issuers, stay stored but are never shown, awarded or turned into rules."""
    return [link.badge_class for link in context.badges if owns(context.registration, link.badge_class)]


def find_link(context: LtiContext, badge: BadgeClass) -> LtiContextBadge | None:
    """The course's link to ``badge``, if ``badge`` is linked and belongs to the registration's issuer."""
    if not owns(context.registration, badge):
        return None
    return next((link for link in context.badges if link.badge_class_id == badge.id), None)


def link_badge(session: Session, ctx: HubContext, context: LtiContext, badge: BadgeClass) -> LtiContextBadge:
    """Link ``badge`` to the course (idempotent); under the completion rule it joins the award rules.

    Raises:
        NotFound: ``badge`` is not of the registration's issuer (as if it did not exist).
    """
    if not owns(context.registration, badge):
        raise not_found("BadgeClass")
    link = find_link(context, badge)
    if link is None:
        link = LtiContextBadge(context=context, badge_class=badge)
        session.add(link)
        session.flush()
    _sync_completion_rules(session, ctx, context)
    return link


def unlink_badge(session: Session, ctx: HubContext, context: LtiContext, badge: BadgeClass) -> None:
    """Unlink ``badge`` from the course. Badges already issued stay valid."""
    link = find_link(context, badge)
    if link is not None:
        context.badges.remove(link)
        session.flush()
    _sync_completion_rules(session, ctx, context)


def set_award_rule(
    session: Session,
    ctx: HubContext,
    context: LtiContext,
    rule: str,
    *,
    grade_threshold: float | None = None,
    grade_lineitem_url: str | None = None,
    post_scores: bool = False,
) -> LtiContext:
    """Set the course's award rule: ``manual``, ``completion`` or ``grade``.

    Args:
        grade_threshold: for ``grade``, the fraction of ``resultMaximum`` (0 < t <= 1) at or above which
            the linked badges are awarded.
        grade_lineitem_url: for ``grade``, the AGS line item whose results are read (default: the
            launch's ``lineitem``).

    Raises:
        ValidationError: unknown rule, threshold out of range, or no line item for ``grade``.
    """
    if rule not in AWARD_RULES:
        raise ValidationError(
            _l("%(field)s must be one of %(choices)s", field=_l("award rule"), choices=joined(AWARD_RULES)),
            field="rule",
        )
    if rule == RULE_GRADE:
        if grade_threshold is None or not 0 < grade_threshold <= 1:
            raise ValidationError(
                _l("the grade threshold must be more than 0 and at most 100 percent"), field="threshold"
            )
        grade_lineitem_url = grade_lineitem_url or (context.ags_endpoint or {}).get("lineitem")
        if not grade_lineitem_url:
            raise ValidationError(_l("choose the grade item whose results decide the award"), field="lineitem")
    context.award_rule = rule
    context.grade_threshold = grade_threshold if rule == RULE_GRADE else None
    context.grade_lineitem_url = grade_lineitem_url if rule == RULE_GRADE else None
    context.post_scores = bool(post_scores)
    _sync_completion_rules(session, ctx, context)
    session.flush()
    return context


def _connector_slug(reg: LtiRegistration) -> str:
    return "lti-" + hashlib.sha256(f"{reg.issuer}\x00{reg.client_id}".encode()).hexdigest()[:12]


def registration_connector(session: Session, ctx: HubContext, reg: LtiRegistration) -> ConnectorConfig:
    """The ``lti`` connector row of a registration (made on first use; slug ``lti-<12 hex>``), which
    owns the completion award rules and receives completion events. It belongs to the registration's
    issuer (kept in step here and by :func:`sync_connector_issuer`), so the inbox awards its rules'
    badges as that issuer's connector."""
    row = session.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == _connector_slug(reg)))
    if row is not None:
        row.issuer_id = reg.issuer_id
        return row
    return create_connector(
        session,
        ctx,
        slug=_connector_slug(reg),
        kind="lti",
        name=f"LTI {reg.name or reg.issuer}"[:255],
        config={"registration": reg.public_id},
        issuer_id=reg.issuer_id,
    )


def sync_connector_issuer(session: Session, reg: LtiRegistration) -> None:
    """Give the registration's ``lti`` connector row (if made yet) the registration's issuer, and turn off
    its completion rules for other issuers' badge classes (made before platforms belonged to issuers, or
    before a move to another issuer), which the inbox would refuse to award anyway."""
    row = session.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == _connector_slug(reg)))
    if row is None:
        return
    row.issuer_id = reg.issuer_id
    for rule in session.scalars(select(AwardRule).where(AwardRule.connector_id == row.id, AwardRule.enabled.is_(True))):
        if rule.badge_class.issuer_id != reg.issuer_id:
            set_rule_enabled(session, rule, False)
    session.flush()


@dataclass(frozen=True)
class Footprint:
    """What refers to a registration: its ``deployments``, the ``courses`` that launched the tool, their
    ``linked_badges``, the ``awards`` issued in those courses and the completion ``events`` reported for
    them (counts)."""

    deployments: int
    courses: int
    linked_badges: int
    awards: int
    events: int

    @property
    def deletable(self) -> bool:
        """Awards and events are history: a registration with any is deactivated, not deleted."""
        return not self.awards and not self.events


def footprint(session: Session, reg: LtiRegistration) -> Footprint:
    """Count what refers to ``reg`` (:class:`Footprint`)."""
    contexts = session.scalars(select(LtiContext).where(LtiContext.registration_id == reg.id)).all()
    awards = 0
    if contexts:
        prefixes = [f"lti:{reg.issuer}:{c.context_id}:" for c in contexts]
        awards = session.scalar(
            select(func.count(Assertion.id)).where(
                or_(*(Assertion.source_key.startswith(p, autoescape=True) for p in prefixes))
            )
        )
    row = session.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == _connector_slug(reg)))
    return Footprint(
        deployments=len(reg.deployments),
        courses=len(contexts),
        linked_badges=sum(len(c.badges) for c in contexts),
        awards=awards,
        events=int(row is not None and connector_has_events(session, row)),
    )


def delete_registration(session: Session, reg: LtiRegistration, *, statuses=(PENDING, INACTIVE)) -> Footprint:
    """Delete a registration whose status is one of ``statuses``, with its deployments, its courses and
    their badge links, and its ``lti`` connector with the completion rules. Returns what was deleted.

    Raises:
        ValidationError: an active registration (deactivate it first: its platform may be launching),
            or one with awards or completion events in its courses (history: deactivate it instead).
    """
    if reg.status not in statuses:
        if statuses == (PENDING,):  # rejecting what waits for approval
            raise ValidationError(
                _l("only a pending registration can be rejected; deactivate it instead"), field="status"
            )
        raise ValidationError(_l("Deactivate the registration before deleting it."), field="status")
    found = footprint(session, reg)
    if not found.deletable:
        raise ValidationError(
            _l(
                "This registration cannot be deleted: badges were awarded or completions reported in its "
                "courses (awards: %(awards)s, completion events: %(events)s), and they refer to it. Keep it "
                "deactivated instead: its platform cannot launch the tool then.",
                awards=number(found.awards),
                events=number(found.events),
            ),
            field="status",
        )
    row = session.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == _connector_slug(reg)))
    if row is not None:
        delete_connector(session, row)
    session.delete(reg)
    session.flush()
    log.info("LTI registration %s (%s / %s) deleted: %s", reg.public_id, reg.issuer, reg.client_id, found)
    return found


def _sync_completion_rules(session: Session, ctx: HubContext, context: LtiContext) -> None:
    """Keep one enabled ``course_completed`` rule (key = context id) per linked badge while the course's
    rule is ``completion``; disable the others."""
    connector = registration_connector(session, ctx, context.registration)
    rules = session.scalars(
        select(AwardRule).where(
            AwardRule.connector_id == connector.id,
            AwardRule.event_type == COMPLETION_EVENT,
            AwardRule.key == context.context_id,
        )
    ).all()
    wanted = {b.id for b in linked_badges(context)} if context.award_rule == RULE_COMPLETION else set()
    by_badge = {r.badge_class_id: r for r in rules}
    for badge in linked_badges(context):
        if badge.id in wanted and badge.id not in by_badge:
            by_badge[badge.id] = create_rule(
                session, connector, badge, event_type=COMPLETION_EVENT, key=context.context_id
            )
    for badge_id, rule in by_badge.items():
        set_rule_enabled(session, rule, badge_id in wanted)


def completion_event(
    session: Session, ctx: HubContext, context: LtiContext, user: PlatformUser, *, occurred_at=None, reported_by=None
) -> tuple[ConnectorConfig, LearningEvent]:
    """The "``user`` completed this course" event of ``context``, for its registration's ``lti``
    connector: ``course_completed``, key = context id, idempotency key
    ``lti:<iss>:<context id>:<sub>:completed`` (the same from every source, so the inbox stores it once).
    ``occurred_at``: when (default now); ``reported_by``: the slug of the connector it came through,
    if not the LTI API. Returns ``(connector row, LearningEvent)``.

    Raises:
        ValidationError: no LTI user id (``sub``).
    """
    if not user.platform_user_id:
        raise ValidationError(_l("the learner's LTI user id (sub) is required"), field="sub")
    reg = context.registration
    connector = registration_connector(session, ctx, reg)
    data = {"context_id": context.context_id, "sub": user.platform_user_id}
    if reported_by:
        data["reported_by"] = reported_by
    return connector, LearningEvent(
        connector=connector.slug,
        event_type=COMPLETION_EVENT,
        key=context.context_id,
        recipient=PlatformUser(
            email=user.email,
            name=user.name,
            platform_user_id=user.platform_user_id,
            platform=reg.issuer,
            sourced_id=user.sourced_id,
        ),
        occurred_at=occurred_at or datetime.now(UTC),
        idempotency_key=f"lti:{reg.issuer}:{context.context_id}:{user.platform_user_id}:completed",
        data=data,
        course_id=context.context_id,
    )


def report_completion(session: Session, ctx: HubContext, context: LtiContext, user: PlatformUser) -> tuple[Any, bool]:
    """Record "``user`` completed this course" as reported by the platform, for the inbox pipeline
    (:func:`completion_event`); the caller enqueues ``process_event`` after committing. Returns
    ``(InboundEvent, created)``; ``created`` is False when the same completion came before, from this
    API or from the Moodle plugin or sync (:func:`related_completions`)."""
    connector, event = completion_event(session, ctx, context, user)
    return submit_learning_event(session, ctx, connector, event)


def site_key(address: str) -> tuple[str, int | None, str]:
    """What makes two platform addresses one site: ``(host in lower case, port, path without a trailing
    ``/`` or ``/index.php``)``; the scheme is left out (a Moodle site configured as ``http://`` in one
    place and ``https://`` in another is still one site). Moodle's LTI ``iss`` is its ``wwwroot``."""
    from urllib.parse import urlsplit

    parts = urlsplit(address.strip() if "//" in address else "//" + address.strip())
    path = parts.path.rstrip("/")
    path = path.removesuffix("/index.php").rstrip("/")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port in (80, 443):
        port = None
    return (parts.hostname or "", port, path)


def contexts_of_course(session: Session, site: str, course_id: str) -> list[LtiContext]:
    """The LTI courses launched from course ``course_id`` of the platform at ``site`` (an active
    registration whose issuer is that site, and a context of that id: Moodle's LTI ``context.id`` is
    the course id, https://docs.moodle.org/dev/LTI_1.3_support), whose award rule is ``completion``."""
    wanted = site_key(site)
    regs = [
        r.id
        for r in session.scalars(select(LtiRegistration).where(LtiRegistration.status == ACTIVE))
        if site_key(r.issuer) == wanted
    ]
    if not regs:
        return []
    return list(
        session.scalars(
            select(LtiContext).where(
                LtiContext.registration_id.in_(regs),
                LtiContext.context_id == str(course_id),
                LtiContext.award_rule == RULE_COMPLETION,
            )
        )
    )


def related_completions(
    session: Session, ctx: HubContext, source: ConnectorConfig, learning: LearningEvent
) -> list[tuple[ConnectorConfig, LearningEvent]]:
    """A course completion another connector received (the Moodle plugin's webhook, the Moodle sync) is
    the completion of each LTI course launched from that course (:func:`contexts_of_course`, by the
    event's ``recipient.platform`` and ``course_id``); the learner's Moodle user id is their LTI ``sub``.
    Returns the :func:`completion_event` of each, for the inbox to store once
    (:meth:`connectors.base.Connector.related_events`). Only for a registration of the source
    connector's issuer (or a site-level source connector): a connector of one issuer cannot award
    another issuer's badge classes by naming their platform."""
    user = learning.recipient
    if learning.event_type != COMPLETION_EVENT or source.kind == "lti":
        return []
    if not (user.platform and user.platform_user_id and learning.course_id):
        return []
    found = []
    for context in contexts_of_course(session, user.platform, learning.course_id):
        reg = context.registration
        if reg.issuer_id is None:
            continue  # awards nothing until it belongs to an issuer
        if source.issuer_id is not None and source.issuer_id != reg.issuer_id:
            log.warning(
                "completion from connector %s (issuer %s) not handed to LTI course %s of registration %s "
                "(another issuer)",
                source.slug,
                source.issuer_id,
                context.context_id,
                reg.public_id,
            )
            continue
        found.append(
            completion_event(session, ctx, context, user, occurred_at=learning.occurred_at, reported_by=source.slug)
        )
    return found


# ---- awarding ----------------------------------------------------------------------------------


def source_key(iss: str, context_id: str, sub: str, badge: BadgeClass) -> str:
    """``lti:<iss>:<context id>:<sub>:<badge class public id>``: one award per learner, course and badge."""
    return f"lti:{iss}:{context_id}:{sub}:{badge.public_id}"


def award_in_context(
    session: Session,
    ctx: HubContext,
    p: Principal,
    context: LtiContext,
    badge: BadgeClass,
    member: Member,
    narrative: str | None = None,
) -> awards.AwardOutcome:
    """Award ``badge`` to a course member on behalf of ``p`` (the registration's principal,
    :func:`connectors.lti.tenancy.principal`) through the one award operation
    (:func:`hub.operations.awards.award`: issuer check, audit entry, the learner's e-mail), idempotent
    per learner, course and badge (source key :func:`source_key`), and record their LTI user id on the
    credential.

    Raises:
        NotFound: the badge is not of ``p``'s issuer.
        ValidationError: the platform shares no e-mail address for the learner, or the badge is not
            linked to this course.
    """
    if find_link(context, badge) is None:
        if not owns(context.registration, badge):
            raise not_found("BadgeClass")
        raise ValidationError(_l("this badge is not linked to the course"), field="badge")
    if not member.email:
        raise ValidationError(
            _l("the platform shares no e-mail address for %(person)s", person=member.name or member.user_id),
            field="email",
        )
    iss = context.registration.issuer
    result = awards.award(
        session,
        ctx,
        p,
        badge,
        PlatformUser(email=member.email, name=member.name, platform_user_id=member.user_id, platform=iss),
        source_key=source_key(iss, context.context_id, member.user_id, badge),
        narrative=narrative,
        notify=True,
    )
    if result.created:
        record_lms_identity(session, ctx, result.assertion, "ltiUserId", member.user_id)
    return result


def revoke_in_context(
    session: Session, ctx: HubContext, p: Principal, context: LtiContext, public_id: str, reason: str
) -> Assertion:
    """Revoke an award made in this course (:func:`assertion_in_context`) on behalf of ``p`` through
    :func:`hub.operations.awards.revoke` (issuer check, audit entry).

    Raises:
        ValidationError: no such award in this course (or one of another issuer's badge class).
        NotFound / Forbidden: ``p`` may not award at the badge's issuer.
    """
    return awards.revoke(session, ctx, p, assertion_in_context(session, context, public_id), reason)


def issued_in_context(session: Session, context: LtiContext) -> list[Assertion]:
    """Assertions of the registration's issuer's badge classes issued through this course (source key
    ``lti:<iss>:<context id>:``), newest first; none while the registration has no issuer."""
    if context.registration.issuer_id is None:
        return []
    prefix = f"lti:{context.registration.issuer}:{context.context_id}:"
    return list(
        session.scalars(
            select(Assertion)
            .join(BadgeClass, Assertion.badge_class_id == BadgeClass.id)
            .where(
                Assertion.source_key.startswith(prefix, autoescape=True),
                BadgeClass.issuer_id == context.registration.issuer_id,
            )
            .order_by(Assertion.id.desc())
        )
    )


def assertion_in_context(session: Session, context: LtiContext, public_id: str) -> Assertion:
    """An assertion of the registration's issuer issued through this course (:func:`issued_in_context`).

    Raises:
        NotFound: no such award in this course (existence elsewhere is not revealed).
    """
    found = next((a for a in issued_in_context(session, context) if a.public_id == public_id), None)
    if found is None:
        raise NotFound(_l("no such award in this course"))
    return found


def learner_assertions(session: Session, launch: Launch) -> list[Assertion]:
    """The learner's valid badges, in this course and elsewhere: assertions to their (normalised)
    e-mail, or issued through LTI on this platform to their ``sub``. Revoked ones are left out."""
    found: dict[int, Assertion] = {}
    try:
        email = normalise_email(launch.email) if launch.email else None
    except ValidationError:
        email = None
    if email:
        for a in session.scalars(select(Assertion).where(Assertion.recipient_plain == email)):
            found[a.id] = a
    prefix = f"lti:{launch.iss}:"
    for a in session.scalars(
        select(Assertion).where(
            Assertion.source_key.startswith(prefix, autoescape=True),
            Assertion.source_key.contains(f":{launch.sub}:", autoescape=True),
        )
    ):
        # The sub is the segment before the badge id (a UUID, no colons); context ids may hold colons.
        if a.source_key[: a.source_key.rfind(":")].endswith(f":{launch.sub}"):
            found[a.id] = a
    return sorted((a for a in found.values() if not a.revoked), key=lambda a: a.issued_on, reverse=True)


@dataclass
class GradeSync:
    """What :func:`sync_grades` did."""

    awarded: int = 0
    already: int = 0
    below: int = 0
    no_email: list[str] = field(default_factory=list)


def sync_grades(ctx: HubContext, store: Store, context_pk: int) -> GradeSync:
    """Under the ``grade`` rule, award the linked badges to every learner whose AGS result on the chosen
    line item reaches the threshold (``resultScore / resultMaximum >= grade_threshold``). Platform
    calls first, then one unit of work for the awards.

    The awards go through :func:`award_in_context` as the registration's principal (only its issuer's
    linked badge classes; audit entries with ``via`` ``lti``; the learners' e-mails).

    Raises:
        ValidationError: the course's rule is not ``grade``; NotAssigned: the registration has no issuer;
        PlatformServiceError: AGS/NRPS failed.
    """
    with ctx.db.session_scope() as session:
        context = session.get(LtiContext, context_pk)
        if context is None or context.award_rule != RULE_GRADE or not context.grade_lineitem_url:
            raise ValidationError(_l("This course does not award badges on grades."), field="rule")
        registration_principal(context.registration)  # refuse early: no platform calls for nothing
        course, lineitem, threshold = course_services(ctx, context), context.grade_lineitem_url, context.grade_threshold
    members = {m.user_id: m for m in roster(ctx, store, course, fresh=True)}
    passed, outcome = [], GradeSync()
    for result in results(ctx, store, course, lineitem):
        score, maximum = result.get("resultScore"), result.get("resultMaximum") or 1
        if score is None or float(score) / float(maximum) < threshold:
            outcome.below += 1
            continue
        member = members.get(str(result.get("userId")))
        if member is None or not member.email:
            outcome.no_email.append(str(result.get("userId")))
        else:
            passed.append(member)
    with ctx.db.session_scope() as session:
        context = session.get(LtiContext, context_pk)
        p = registration_principal(context.registration)
        for member in passed:
            for badge in linked_badges(context):
                done = award_in_context(session, ctx, p, context, badge, member)
                outcome.awarded += done.created
                outcome.already += not done.created
    log.info("LTI grade sync of context %s: %s", course.context_id, outcome)
    return outcome


# ---- deep linking ------------------------------------------------------------------------------


class _ShortDeepLink(DeepLink):
    """Deep-linking response valid for 5 minutes, ``iat`` back-dated 30 s for platform clocks behind."""

    def get_message_jwt(self, resources):
        message = super().get_message_jwt(resources)
        now = int(time.time())
        message["iat"], message["exp"] = now - 30, now + 270
        if message.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") is None:
            message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data")
        return message


def deep_link_response(ctx: HubContext, reg: LtiRegistration, launch: Launch, badge: BadgeClass, launch_url: str):
    """The signed ``LtiDeepLinkingResponse`` JWT choosing ``badge`` and the return URL to post it to.

    The content item is an ``LtiResourceLink`` to the tool's launch URL (no query string) whose custom
    parameter ``badge_class`` names the badge class. LTI Deep Linking 2.0 section 4.4,
    https://www.imsglobal.org/spec/lti-dl/v2p0#deep-linking-response-message.

    Returns ``(jwt, deep_link_return_url)``.
    """
    settings = launch.claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]
    resource = (
        DeepLinkResource()
        .set_url(launch_url)
        .set_title(badge.name)
        .set_custom_params({"badge_class": badge.public_id})
        .set_icon_url(ctx.urls.badge_image(badge.public_id))
    )
    link = _ShortDeepLink(pylti_registration(ctx, reg), launch.deployment_id, settings)
    return link.get_response_jwt([resource]), settings["deep_link_return_url"]
