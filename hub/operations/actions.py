"""Every change the console and the API make, in one place: check the principal's ability, call the
domain service, write the audit entry. The caller (a request) commits, then runs after-commit work
(processing a test event or a replay). See :mod:`hub.accounts.access` for the abilities.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session

from connectors.types import PlatformUser
from hub import jobs
from hub.accounts import audit
from hub.accounts import services as accounts
from hub.accounts.access import AWARD, CONFIGURE, Principal
from hub.accounts.models import ApiToken, User
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.certificates import jobs as certificate_jobs
from hub.certificates import keys as certificate_keys
from hub.certificates import services as certificates
from hub.certificates.models import CertificateLayout, IssuerCertificate
from hub.connections import services as connections
from hub.connections.models import ConnectorConfig
from hub.context import HubContext
from hub.credentials import ob3, ob3keys
from hub.credentials.models import IssuerCredentialSettings
from hub.errors import ConfigurationError, Conflict, Forbidden, ValidationError
from hub.frameworks import microcredentials
from hub.frameworks import services as frameworks
from hub.i18n import lazy as _l
from hub.inbox import services as inbox
from hub.inbox.models import InboundEvent
from hub.jobs.models import Job
from hub.learners import notifications
from hub.learners.models import Notification
from hub.operations import awards
from hub.rules import services as rules
from hub.rules.models import AwardRule

CONNECTOR_FIELDS = ("slug", "kind", "name", "enabled", "config", "issuer_id")
RULE_FIELDS = ("event_type", "key", "condition", "enabled", "connector_id", "badge_class_id")


def _write(p: Principal, issuer_id: int | None, ability: str, what: str) -> None:
    if issuer_id is None and not p.site_admin:
        raise Forbidden(_l("only site administrators manage site-level objects"))
    p.require(issuer_id, ability, write=True, what=what)


# ---- issuers ----------------------------------------------------------------------------------------


def create_issuer(session: Session, ctx: HubContext, p: Principal, **fields) -> Issuer:
    """Site administrators only. ``fields`` as :func:`hub.badges.services.create_issuer`."""
    p.require_site_admin(write=True)
    issuer = badges.create_issuer(session, ctx, **fields)
    audit.record(
        session,
        p,
        "issuer.create",
        "issuer",
        issuer.public_id,
        issuer_id=issuer.id,
        after=audit.snapshot(issuer, badges.ISSUER_FIELDS),
    )
    return issuer


def update_issuer(session: Session, ctx: HubContext, p: Principal, issuer: Issuer, *, image=None, **fields) -> Issuer:
    """Change the issuer's profile (:func:`hub.badges.services.update_issuer`), audited; a change
    re-renders its awards' certificates in a job after the commit."""
    _write(p, issuer.id, CONFIGURE, "Issuer")
    before = audit.snapshot(issuer, badges.ISSUER_FIELDS)
    badges.update_issuer(session, ctx, issuer, image=image, **fields)
    after = audit.snapshot(issuer, badges.ISSUER_FIELDS)
    if image:
        after["image"] = "replaced"
    audit.record(
        session, p, "issuer.update", "issuer", issuer.public_id, issuer_id=issuer.id, before=before, after=after
    )
    if after != before:  # its certificates print its name and address, its credentials embed its profile
        certificate_jobs.enqueue_issuer_render(session, ctx, issuer.id)
        ob3.forget_stored(session, issuer.id)
    return issuer


def rotate_issuer_key(session: Session, ctx: HubContext, p: Principal, issuer: Issuer):
    _write(p, issuer.id, CONFIGURE, "Issuer")
    key = badges.rotate_key(session, ctx, issuer)
    audit.record(
        session, p, "issuer.rotate_key", "issuer", issuer.public_id, issuer_id=issuer.id, after={"key": key.public_id}
    )
    return key


def set_credential_settings(
    session: Session,
    ctx: HubContext,
    p: Principal,
    issuer: Issuer,
    *,
    did_method: str | None = None,
    proof_format: str | None = None,
    jwt_algorithm: str | None = None,
) -> IssuerCredentialSettings:
    """Choose how the issuer's OB 3.0 credentials are made: DID method (``web``/``key``), default proof
    format (``data-integrity``/``vc-jwt``), default VC-JWT algorithm (``RS256``/``ES256``/``EdDSA``);
    None keeps a value (:func:`hub.credentials.ob3keys.update_settings`, which raises
    ``ValidationError`` for a bad value or combination). Issuer administrators; audited
    (``issuer.credential_settings``, before and after); a change re-renders the issuer's certificates,
    whose embedded credentials name the issuer, in a job after the commit."""
    _write(p, issuer.id, CONFIGURE, "Issuer")
    old = ob3keys.settings_for(session, issuer)
    before = {f: getattr(old, f) for f in ob3keys.SETTINGS_FIELDS}
    row = ob3keys.update_settings(
        session, ctx, issuer, did_method=did_method, proof_format=proof_format, jwt_algorithm=jwt_algorithm
    )
    after = {f: getattr(row, f) for f in ob3keys.SETTINGS_FIELDS}
    audit.record(
        session,
        p,
        "issuer.credential_settings",
        "issuer",
        issuer.public_id,
        issuer_id=issuer.id,
        before=before,
        after=after,
    )
    if after != before:
        certificate_jobs.enqueue_issuer_render(session, ctx, issuer.id)
        ob3.forget_stored(session, issuer.id)  # every credential served from now on follows the settings
    return row


LAYOUT_FIELDS = ("template_html", "template_css", "bilingual")


def set_certificate_layout(
    session: Session,
    p: Principal,
    issuer: Issuer,
    *,
    html: str | None,
    css: str | None,
    bilingual: bool,
    ctx: HubContext | None = None,
) -> CertificateLayout:
    """The issuer's PDF certificate layout (:func:`hub.certificates.services.set_layout`), audited; with
    ``ctx``, its awards' certificates are re-rendered by a job after the commit.

    Raises:
        ValidationError: a template syntax error, or CSS that loads resources.
    """
    _write(p, issuer.id, CONFIGURE, "Issuer")
    old = certificates.layout_for(session, issuer)
    before = audit.snapshot(old, LAYOUT_FIELDS) if old is not None else None
    layout = certificates.set_layout(session, issuer, html=html, css=css, bilingual=bilingual)
    audit.record(
        session,
        p,
        "issuer.certificate_layout",
        "issuer",
        issuer.public_id,
        issuer_id=issuer.id,
        before=before,
        after=audit.snapshot(layout, LAYOUT_FIELDS),
    )
    if ctx is not None:
        certificate_jobs.enqueue_issuer_render(session, ctx, issuer.id)
    return layout


def set_signing_certificate(
    session: Session, ctx: HubContext, p: Principal, issuer: Issuer, *, pkcs12: bytes | None, passphrase: str | None
) -> IssuerCertificate:
    """Replace the certificate that signs the issuer's PDFs: an uploaded PKCS#12 archive, or (``pkcs12``
    None) a new self-issued one (:mod:`hub.certificates.keys`). The old one is retired, so PDFs it signed
    still verify. Audited with both fingerprints, never the key or the passphrase. The issuer's
    certificates are re-signed by a job after the commit.

    Raises:
        ValidationError: the archive is unreadable, lacks a key or certificate, or is not valid now.
    """
    _write(p, issuer.id, CONFIGURE, "Issuer")
    old = certificate_keys.active_rows(session, issuer)
    if pkcs12 is not None:
        row = certificate_keys.upload_pkcs12(session, ctx, issuer, pkcs12, passphrase)
    else:
        row = certificate_keys.self_issue(session, ctx, issuer)
    audit.record(
        session,
        p,
        "issuer.signing_certificate",
        "issuer",
        issuer.public_id,
        issuer_id=issuer.id,
        before={"fingerprint": old[-1].fingerprint} if old else None,
        after={"fingerprint": row.fingerprint, "source": row.source},
    )
    certificate_jobs.enqueue_issuer_render(session, ctx, issuer.id)
    return row


# ---- badge classes ----------------------------------------------------------------------------------


def create_badge_class(session: Session, ctx: HubContext, p: Principal, issuer: Issuer, **fields) -> BadgeClass:
    _write(p, issuer.id, CONFIGURE, "Issuer")
    badge = badges.create_badge_class(session, ctx, issuer, **fields)
    audit.record(
        session,
        p,
        "badge_class.create",
        "badge_class",
        badge.public_id,
        issuer_id=issuer.id,
        after=audit.snapshot(badge, badges.BADGE_CLASS_FIELDS),
    )
    return badge


def update_badge_class(session: Session, ctx: HubContext, p: Principal, badge: BadgeClass, *, image=None, **fields):
    _write(p, badge.issuer_id, CONFIGURE, "BadgeClass")
    before = audit.snapshot(badge, badges.BADGE_CLASS_FIELDS)
    badges.update_badge_class(session, ctx, badge, image=image, **fields)
    after = audit.snapshot(badge, badges.BADGE_CLASS_FIELDS)
    if image:
        after["image"] = "replaced"
    audit.record(
        session,
        p,
        "badge_class.update",
        "badge_class",
        badge.public_id,
        issuer_id=badge.issuer_id,
        before=before,
        after=after,
    )
    if after != before:  # the certificates print its name, image and texts
        certificate_jobs.enqueue_badge_render(session, ctx, badge)
    return badge


# ---- learning outcomes, micro-credentials, frameworks and certificates ----------------------------------


def _badge_change(session: Session, p: Principal, badge: BadgeClass, action: str, before, after) -> None:
    """Audit one change of a badge class's frameworks data, unless nothing changed (the console form
    sends every field on every save)."""
    if before != after:
        audit.record(
            session, p, action, "badge_class", badge.public_id, issuer_id=badge.issuer_id, before=before, after=after
        )


def set_learning_outcomes(
    session: Session, p: Principal, badge: BadgeClass, outcomes: list, ctx: HubContext | None = None
) -> None:
    """Replace the badge class's learning outcomes (:func:`hub.frameworks.services.set_learning_outcomes`:
    ``[{"text": {"en", "pl"}, "descriptors": ["eqf:4", ...]}]``). Issuer administrators. With ``ctx``, a
    change re-renders the badge's certificates (they print the outcomes) after the commit.

    Raises:
        ValidationError: an outcome without text; NotFound: an unknown descriptor.
    """
    _write(p, badge.issuer_id, CONFIGURE, "BadgeClass")
    before = {"outcomes": [frameworks.outcome_json(o) for o in frameworks.outcomes_of(session, badge)]}
    frameworks.set_learning_outcomes(session, badge, outcomes)
    after = {"outcomes": [frameworks.outcome_json(o) for o in frameworks.outcomes_of(session, badge)]}
    _badge_change(session, p, badge, "badge_class.outcomes", before, after)
    if ctx is not None and before != after:
        certificate_jobs.enqueue_badge_render(session, ctx, badge)


def _micro_snapshot(session: Session, badge: BadgeClass) -> dict:
    doc = microcredentials.description_json(session, badge)
    doc.pop("missing")
    doc.pop("learning_outcomes")  # audited by set_learning_outcomes
    return doc


def describe_micro_credential(
    session: Session, p: Principal, badge: BadgeClass, data: dict | None, ctx: HubContext | None = None
) -> None:
    """Make the badge class an EU micro-credential described by ``data``
    (:func:`hub.frameworks.microcredentials.describe`; keys left out keep their value), or with
    ``data=None`` an ordinary badge again (its description is kept). Issuer administrators. With
    ``ctx``, a change re-renders the badge's certificates (they print the elements) after the commit.

    Raises:
        ValidationError: a malformed element (``field`` names it).
    """
    _write(p, badge.issuer_id, CONFIGURE, "BadgeClass")
    before = _micro_snapshot(session, badge)
    if data is None:
        microcredentials.unmark(session, badge)
    else:
        microcredentials.describe(session, badge, data)
    after = _micro_snapshot(session, badge)
    _badge_change(session, p, badge, "badge_class.micro_credential", before, after)
    if ctx is not None and before != after:
        certificate_jobs.enqueue_badge_render(session, ctx, badge)


def import_framework(session: Session, p: Principal, source: str, run):
    """Site administrators only: run an import (``run()`` returns an
    :class:`hub.frameworks.importers.ImportResult`, or a ``{identifier: count}`` dict for the bundled
    frameworks) and audit it; ``source`` names what was imported (``esco``, ``csv``, ``json``, ``bundled``)."""
    p.require_site_admin(write=True)
    result = run()
    if isinstance(result, dict):
        after, object_id = {"source": source, "loaded": result}, ",".join(sorted(result))
    else:
        after, object_id = {"source": source, "rows": result.rows, "language": result.language}, result.framework
    audit.record(session, p, "framework.import", "framework", object_id, after=after)
    return result


def _mapping_write(p: Principal, connector: ConnectorConfig | None) -> None:
    if connector is None or connector.issuer_id is None:
        p.require_site_admin(write=True)  # mappings for every connector, or for a site-level one
    else:
        p.require(connector.issuer_id, CONFIGURE, write=True, what="ConnectorConfig")


def map_outcome(session: Session, p: Principal, connector: ConnectorConfig | None, outcome_key: str, descriptor):
    """Map a platform outcome key of ``connector`` (None: every connector, site administrators) to a
    descriptor (:func:`hub.frameworks.services.map_outcome`)."""
    _mapping_write(p, connector)
    row = frameworks.map_outcome(session, connector.id if connector else None, outcome_key, descriptor)
    audit.record(
        session,
        p,
        "outcome_mapping.create",
        "connector",
        connector.public_id if connector else None,
        issuer_id=connector.issuer_id if connector else None,
        after={"outcome_key": row.outcome_key, "descriptor": f"{descriptor.framework.identifier}:{descriptor.code}"},
    )
    return row


def unmap_outcome(session: Session, p: Principal, connector: ConnectorConfig | None, outcome_key: str) -> int:
    """Remove every mapping of ``outcome_key`` for ``connector``; returns how many went."""
    _mapping_write(p, connector)
    removed = frameworks.unmap_outcome(session, connector.id if connector else None, outcome_key)
    if removed:
        audit.record(
            session,
            p,
            "outcome_mapping.delete",
            "connector",
            connector.public_id if connector else None,
            issuer_id=connector.issuer_id if connector else None,
            before={"outcome_key": outcome_key, "mappings": removed},
        )
    return removed


@contextmanager
def _config_is_input():
    # A configuration sent by a person is their input: a client error (422), not a server fault.
    try:
        yield
    except ConfigurationError as exc:
        raise ValidationError(exc.detail, field="config") from None


# ---- connectors -------------------------------------------------------------------------------------


def create_connector(
    session: Session,
    ctx: HubContext,
    p: Principal,
    *,
    issuer: Issuer | None,
    slug: str,
    kind: str,
    name: str,
    config: dict,
) -> tuple[ConnectorConfig, str | None]:
    """Create a connector for ``issuer`` (None: site-level). A webhook connector gets a fresh secret,
    returned once and never stored in clear."""
    _write(p, issuer.id if issuer else None, CONFIGURE, "Issuer")
    secret = connections.new_webhook_secret() if kind == "webhooks" else None
    with _config_is_input():
        row = connections.create_connector(
            session,
            ctx,
            slug=slug,
            kind=kind,
            name=name,
            config=config,
            secret=secret,
            issuer_id=issuer.id if issuer else None,
        )
    audit.record(
        session,
        p,
        "connector.create",
        "connector",
        row.public_id,
        issuer_id=row.issuer_id,
        after=audit.snapshot(row, CONNECTOR_FIELDS),
    )
    return row, secret


def update_connector(session: Session, p: Principal, row: ConnectorConfig, **changes) -> ConnectorConfig:
    _write(p, row.issuer_id, CONFIGURE, "ConnectorConfig")
    before = audit.snapshot(row, CONNECTOR_FIELDS)
    with _config_is_input():
        connections.update_connector(session, row, **changes)
    audit.record(
        session,
        p,
        "connector.update",
        "connector",
        row.public_id,
        issuer_id=row.issuer_id,
        before=before,
        after=audit.snapshot(row, CONNECTOR_FIELDS),
    )
    return row


def rotate_connector_secret(session: Session, ctx: HubContext, p: Principal, row: ConnectorConfig) -> str:
    """A new secret in front; the old ones keep verifying until :func:`end_rotation`. Returned once."""
    _write(p, row.issuer_id, CONFIGURE, "ConnectorConfig")
    secret = connections.rotate_secret(session, ctx, row)
    audit.record(
        session,
        p,
        "connector.rotate_secret",
        "connector",
        row.public_id,
        issuer_id=row.issuer_id,
        after={"secrets": len(connections.connector_secrets(ctx, row))},
    )
    return secret


def end_rotation(session: Session, ctx: HubContext, p: Principal, row: ConnectorConfig) -> None:
    _write(p, row.issuer_id, CONFIGURE, "ConnectorConfig")
    connections.drop_old_secrets(session, ctx, row)
    audit.record(
        session,
        p,
        "connector.drop_old_secrets",
        "connector",
        row.public_id,
        issuer_id=row.issuer_id,
        after={"secrets": len(connections.connector_secrets(ctx, row))},
    )


def send_test_event(
    session: Session, ctx: HubContext, p: Principal, row: ConnectorConfig, body: str | None = None
) -> InboundEvent:
    """Store ``body`` (default: the connector's ``config["example"]``) as an event of ``row``, as if the
    sender had delivered it; the job runner processes it once the caller's transaction commits."""
    _write(p, row.issuer_id, CONFIGURE, "ConnectorConfig")
    if body is None:
        example = row.config.get("example")
        if example is None:
            raise Conflict(_l("the connector has no example payload to send"), field="example")
        body = json.dumps(example, ensure_ascii=False)
    try:
        json.loads(body)
    except ValueError as exc:
        raise ValidationError(_l("the test payload is not JSON: %(error)s", error=str(exc)), field="body") from None
    recorded, _ = inbox.record_event(session, row, f"test_{uuid.uuid4().hex}", body)
    event = session.get_one(InboundEvent, recorded.id)  # the row (record_event answers its ids only)
    audit.record(
        session,
        p,
        "connector.test_event",
        "connector",
        row.public_id,
        issuer_id=row.issuer_id,
        after={"event": event.public_id},
    )
    jobs.wake_after_commit(session, ctx)
    return event


# ---- rules and events -------------------------------------------------------------------------------


def create_rule(
    session: Session,
    p: Principal,
    connector: ConnectorConfig,
    badge: BadgeClass,
    *,
    event_type: str,
    key: str | None = None,
    condition: str | None = None,
) -> AwardRule:
    _write(p, connector.issuer_id, CONFIGURE, "ConnectorConfig")
    p.require(badge.issuer_id, CONFIGURE, write=True, what="BadgeClass")
    rule = rules.create_rule(session, connector, badge, event_type=event_type, key=key, condition=condition)
    audit.record(
        session,
        p,
        "rule.create",
        "rule",
        rule.public_id,
        issuer_id=connector.issuer_id,
        after=audit.snapshot(rule, RULE_FIELDS),
    )
    return rule


def set_rule_enabled(session: Session, p: Principal, rule: AwardRule, enabled: bool) -> AwardRule:
    _write(p, rule.connector.issuer_id, CONFIGURE, "AwardRule")
    before = audit.snapshot(rule, RULE_FIELDS)
    rules.set_rule_enabled(session, rule, enabled)
    audit.record(
        session,
        p,
        "rule.update",
        "rule",
        rule.public_id,
        issuer_id=rule.connector.issuer_id,
        before=before,
        after=audit.snapshot(rule, RULE_FIELDS),
    )
    return rule


def delete_rule(session: Session, p: Principal, rule: AwardRule) -> None:
    issuer_id = rule.connector.issuer_id
    _write(p, issuer_id, CONFIGURE, "AwardRule")
    audit.record(
        session, p, "rule.delete", "rule", rule.public_id, issuer_id=issuer_id, before=audit.snapshot(rule, RULE_FIELDS)
    )
    rules.delete_rule(session, rule)


def replay_event(session: Session, ctx: HubContext, p: Principal, event: InboundEvent) -> InboundEvent:
    """Put the event back to pending (CONFIGURE at its connector's issuer), audited; the job runner
    processes it again once the caller's transaction commits."""
    _write(p, event.connector.issuer_id, CONFIGURE, "InboundEvent")
    before = {"status": event.status, "reason": event.reason}
    inbox.replay(session, event)
    audit.record(
        session,
        p,
        "event.replay",
        "event",
        event.public_id,
        issuer_id=event.connector.issuer_id,
        before=before,
        after={"status": event.status},
    )
    jobs.wake_after_commit(session, ctx)
    return event


# ---- awards -----------------------------------------------------------------------------------------


def award(
    session: Session,
    ctx: HubContext,
    p: Principal,
    badge: BadgeClass,
    *,
    email: str,
    name: str | None = None,
    evidence_url: str | None = None,
    issued_on: datetime | None = None,
    narrative: str | None = None,
    source_key: str | None = None,
    notify: bool = True,
) -> awards.AwardOutcome:
    """Award by hand (console, API, bulk CSV): :func:`hub.operations.awards.award` with the form's
    fields. Raises as that function."""
    return awards.award(
        session,
        ctx,
        p,
        badge,
        PlatformUser(email=email, name=name),
        evidence=[{"id": evidence_url}] if evidence_url else [],
        issued_on=issued_on,
        narrative=narrative,
        source_key=source_key,
        notify=notify,
    )


revoke = awards.revoke
HandAward = awards.AwardOutcome
ASSERTION_FIELDS = awards.ASSERTION_FIELDS


def resend_notification(session: Session, p: Principal, assertion: Assertion) -> Notification:
    """Queue the award e-mail again (AWARD ability); the caller commits, then delivers it with
    :func:`hub.learners.notifications.deliver`. Raises as :func:`hub.learners.notifications.resend_award`."""
    issuer_id = assertion.badge_class.issuer_id
    p.require(issuer_id, AWARD, write=True, what="Assertion")
    row = notifications.resend_award(session, assertion)
    audit.record(
        session,
        p,
        "assertion.resend_notification",
        "assertion",
        assertion.public_id,
        issuer_id=issuer_id,
        after={"notification": row.kind},
    )
    return row


# ---- jobs -------------------------------------------------------------------------------------------


def retry_job(session: Session, ctx: HubContext, p: Principal, job: Job) -> Job:
    """Run a failed job again with a fresh attempt budget (CONFIGURE at its issuer; site administrators
    for jobs of no issuer), audited; the runner is woken after the commit.

    Raises:
        Conflict: the job has not failed (it is waiting, running or done).
    """
    _write(p, job.issuer_id, CONFIGURE, "Job")
    if job.status != jobs.FAILED:
        raise Conflict(_l("only a failed job can be retried"), field="status")
    before = {"status": job.status, "attempts": job.attempts, "last_error": job.last_error}
    jobs.retry(session, job)
    audit.record(session, p, "job.retry", "job", job.public_id, issuer_id=job.issuer_id, before=before)
    jobs.wake_after_commit(session, ctx)
    return job


# ---- people -----------------------------------------------------------------------------------------

USER_FIELDS = ("email", "name", "is_site_admin", "active", "locale", "totp_enabled")


def create_user(session: Session, p: Principal, **fields) -> User:
    p.require_site_admin(write=True)
    user = accounts.create_user(session, **fields)
    audit.record(session, p, "user.create", "user", user.public_id, after=audit.snapshot(user, USER_FIELDS))
    return user


def set_role(session: Session, p: Principal, user: User, issuer: Issuer, role: str | None) -> None:
    """Site administrators, or administrators of ``issuer`` (who may not touch site administrators)."""
    _write(p, issuer.id, CONFIGURE, "Issuer")
    if user.is_site_admin and not p.site_admin:
        raise Forbidden(_l("only site administrators change site administrators"))
    before = {
        "issuer": issuer.public_id,
        "role": next((m.role for m in user.memberships if m.issuer_id == issuer.id), None),
    }
    accounts.set_role(session, user, issuer.id, role)
    audit.record(
        session,
        p,
        "user.set_role",
        "user",
        user.public_id,
        issuer_id=issuer.id,
        before=before,
        after={"issuer": issuer.public_id, "role": role},
    )


def set_user_active(session: Session, p: Principal, user: User, active: bool) -> None:
    p.require_site_admin(write=True)
    if user.id == p.user_id and not active:
        raise ValidationError(_l("you cannot deactivate yourself"), field="active")
    before = audit.snapshot(user, USER_FIELDS)
    user.active = active
    session.flush()
    audit.record(
        session, p, "user.update", "user", user.public_id, before=before, after=audit.snapshot(user, USER_FIELDS)
    )


def set_user_locale(session: Session, p: Principal, user: User, locale: str | None) -> None:
    """A user's language (``pl``, ``en``; None: the browser's), set by the user or a site administrator.

    Raises:
        Forbidden: another user's, and not a site administrator; ValidationError: an unknown language.
    """
    if user.id != p.user_id:
        p.require_site_admin(write=True)
    before = audit.snapshot(user, USER_FIELDS)
    accounts.set_locale(session, user, locale)
    audit.record(
        session, p, "user.update", "user", user.public_id, before=before, after=audit.snapshot(user, USER_FIELDS)
    )


def create_api_token(session: Session, p: Principal, user: User, *, name: str, scope: str) -> tuple[ApiToken, str]:
    row, token = accounts.create_api_token(session, user, name=name, scope=scope)
    audit.record(session, p, "api_token.create", "api_token", row.public_id, after={"name": row.name, "scope": scope})
    return row, token


def revoke_api_token(session: Session, p: Principal, row: ApiToken) -> None:
    if row.user_id != p.user_id and not p.site_admin:
        raise Forbidden(_l("not your token"))
    accounts.revoke_api_token(session, row)
    audit.record(session, p, "api_token.revoke", "api_token", row.public_id, after={"revoked": True})
