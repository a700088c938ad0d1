"""Tool keys, platform registrations and deployments, and pylti1p3's tool configuration over them.

Services flush, the caller commits. LTI 1.3 Core section 3 (https://www.imsglobal.org/spec/lti/v1p3/#tool-deployment)
and the 1EdTech Security Framework (https://www.imsglobal.org/spec/security/v1p0/) define the terms.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from jwcrypto.jwk import JWK
from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session, selectinload

from hub.badges.models import Issuer
from hub.context import HubContext
from hub.credentials.signing import generate_rsa_key
from hub.db import utcnow
from hub.errors import NotFound, ValidationError
from hub.i18n import LazyText, joined
from hub.i18n import lazy as _l
from hub.netguard import is_local_host
from hub.timefmt import isoformat_z

from .models import ACTIVE, PENDING, STATUSES, LtiContext, LtiDeployment, LtiRegistration, LtiToolKey

log = logging.getLogger(__name__)
#: How long a retired tool key stays in the JWKS after a rotation (platforms cache JWKS for hours).
DEFAULT_KEY_OVERLAP = timedelta(days=7)


# ---- tool keys ---------------------------------------------------------------------------------


def _new_key(session: Session, ctx: HubContext) -> LtiToolKey:
    public_pem, private_enc = generate_rsa_key(ctx.box)
    key = LtiToolKey(
        kid=JWK.from_pem(public_pem.encode()).thumbprint(), public_pem=public_pem, private_key_encrypted=private_enc
    )
    session.add(key)
    session.flush()
    return key


def current_tool_key(session: Session, ctx: HubContext) -> LtiToolKey:
    """The tool's current RS256 key, made on first use (RSA-2048, private part encrypted with ``ctx.box``)."""
    key = session.scalar(select(LtiToolKey).where(LtiToolKey.retired_at.is_(None)).order_by(LtiToolKey.id.desc()))
    return key or _new_key(session, ctx)


def rotate_tool_key(session: Session, ctx: HubContext, overlap: timedelta = DEFAULT_KEY_OVERLAP) -> LtiToolKey:
    """Make a new current key and move every registration to it. The previous key is retired but stays
    published in the JWKS for ``overlap``, so tokens it signed and platforms' cached JWKS keep working."""
    now = utcnow()
    old = session.scalars(select(LtiToolKey).where(LtiToolKey.retired_at.is_(None))).all()
    new = _new_key(session, ctx)
    for key in old:
        key.retired_at, key.expires_at = now, now + overlap
    for reg in session.scalars(select(LtiRegistration)):
        reg.tool_key = new
    session.flush()
    log.info("LTI tool key rotated: new kid %s, %d old key(s) published until %s", new.kid, len(old), now + overlap)
    return new


def published_keys(session: Session) -> list[LtiToolKey]:
    """The current key and the retired keys still in their overlap, newest first."""
    return list(
        session.scalars(
            select(LtiToolKey)
            .where(or_(LtiToolKey.retired_at.is_(None), LtiToolKey.expires_at > utcnow()))
            .order_by(LtiToolKey.id.desc())
        )
    )


def tool_jwks(session: Session) -> dict:
    """The tool's public JWK Set (RFC 7517): the current key and retired keys still in their overlap."""
    return {"keys": [{**Registration.get_jwk(k.public_pem), "kid": k.kid} for k in published_keys(session)]}


# ---- registrations and deployments -------------------------------------------------------------

#: Why a registration cannot be approved (or registered active) as it is.
CHOOSE_ISSUER = _l(
    "Choose the issuer this platform belongs to: its teachers will see, link and award only that issuer's badges."
)


def find_issuer(session: Session, public_id: str | None) -> Issuer | None:
    """The Badge Hub issuer with ``public_id`` (None for an empty value), for assigning a registration.

    Raises:
        ValidationError: (field ``badge_issuer``) no issuer has that id.
    """
    if not public_id:
        return None
    found = session.scalar(select(Issuer).where(Issuer.public_id == public_id)) if is_public_id(public_id) else None
    if found is None:
        raise ValidationError(_l("no issuer %(id)s", id=public_id), field="badge_issuer")
    return found


def assign_issuer(session: Session, reg: LtiRegistration, issuer: Issuer) -> LtiRegistration:
    """Make ``reg`` belong to ``issuer``: from now on its teachers see, link, award and revoke only that
    issuer's badge classes. Badges already awarded stay; links to other issuers' badge classes stay
    stored but are no longer shown or used."""
    reg.badge_issuer = issuer
    session.flush()
    log.info("LTI registration %s (%s) assigned to issuer %s", reg.public_id, reg.issuer, issuer.public_id)
    return reg


#: Why a value cannot be a platform URL (:func:`url_problem`).
NOT_A_URL = _l("Enter a full address starting with https://.")
HTTPS_ONLY = _l("Use an https:// address; http:// is accepted only for a platform on this computer (localhost).")


def url_problem(value: str, *, allow_http: bool = False) -> LazyText | None:
    """Why ``value`` cannot be one of a platform's URLs (issuer, login, token, key set), or None.

    It must be a full ``https://`` URL; ``http://`` only for a host on this computer (``localhost``,
    ``127.0.0.1``, ``[::1]``: a platform in development), or for any host when ``allow_http``
    (``HUB_LTI_ALLOW_PRIVATE_HOSTS``). Manual and dynamic registration use the same rule.
    """
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return NOT_A_URL
    if parts.scheme not in ("https", "http") or not host or any(c.isspace() for c in value):
        return NOT_A_URL
    if parts.scheme == "http" and not (allow_http or is_local_host(host)):
        return HTTPS_ONLY
    return None


def _url(value: str | None, field: str, *, allow_http: bool, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError(_l("%(field)s is required", field=field), field=field)
        return None
    problem = url_problem(value, allow_http=allow_http)
    if problem is not None:
        raise ValidationError(_l("%(field)s: %(problem)s", field=field, problem=problem), field=field)
    return value


def create_registration(
    session: Session,
    ctx: HubContext,
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    auth_audience: str | None = None,
    deployment_ids: tuple[str, ...] | list[str] = (),
    name: str | None = None,
    product_family_code: str | None = None,
    scopes: list[str] | None = None,
    status: str = ACTIVE,
    badge_issuer: Issuer | None = None,
    public_id: str | None = None,
) -> LtiRegistration:
    """Register a platform (manually, or from dynamic registration) with its deployments (active).
    ``public_id``: the registration's public id when it must be known beforehand (dynamic registration
    sends the platform its own login URL ``/lti/login/<public id>``); default a new one.

    ``badge_issuer`` is the Badge Hub issuer the platform belongs to (its teachers see only that
    issuer's badge classes); required for an ``active`` registration, left empty for a ``pending`` one
    (the administrator chooses it when approving, :func:`set_registration_status`).

    Raises:
        ValidationError: missing URLs, URLs that are not https (:func:`url_problem`), empty client id,
            (issuer, client_id) taken, or no ``badge_issuer`` for an active registration.
    """
    if _status(status) == ACTIVE and badge_issuer is None:
        raise ValidationError(CHOOSE_ISSUER, field="badge_issuer")
    reg = LtiRegistration(
        product_family_code=product_family_code,
        scopes=list(scopes or []),
        status=status,
        tool_key=current_tool_key(session, ctx),
        badge_issuer=badge_issuer,
    )
    if public_id:
        reg.public_id = public_id
    _apply(
        session,
        ctx,
        reg,
        issuer=issuer,
        client_id=client_id,
        name=name,
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        key_set_url=key_set_url,
        auth_audience=auth_audience,
    )
    session.add(reg)
    _set_deployments(reg, deployment_ids)
    session.flush()
    log.info("LTI registration %s: issuer %s client_id %s", reg.public_id, reg.issuer, reg.client_id)
    return reg


#: The fields :func:`update_registration` changes (as in :func:`create_registration`).
EDITABLE = ("issuer", "client_id", "name", "auth_login_url", "auth_token_url", "key_set_url", "auth_audience")


def _apply(session: Session, ctx: HubContext, reg: LtiRegistration, **values) -> None:
    """Check ``values`` (keys of :data:`EDITABLE`) and set them on ``reg``."""
    allow_http = ctx.settings.lti_allow_private_hosts
    if "issuer" in values:
        reg.issuer = _url(values["issuer"], "issuer", allow_http=allow_http)
    if "client_id" in values:
        client_id = (values["client_id"] or "").strip()
        if not client_id:
            raise ValidationError(_l("%(field)s is required", field="client_id"), field="client_id")
        reg.client_id = client_id
    for field in ("auth_login_url", "auth_token_url", "key_set_url"):
        if field in values:
            setattr(reg, field, _url(values[field], field, allow_http=allow_http))
    if "name" in values:
        reg.name = (values["name"] or "").strip() or None
    if "auth_audience" in values:
        reg.auth_audience = (values["auth_audience"] or "").strip() or None
    with session.no_autoflush:  # the changed row must not reach the database before this check
        taken = session.scalar(
            select(LtiRegistration.id).where(
                LtiRegistration.issuer == reg.issuer,
                LtiRegistration.client_id == reg.client_id,
                LtiRegistration.id != reg.id if reg.id is not None else true(),
            )
        )
    if taken:
        raise ValidationError(
            _l("a registration for %(issuer)s / %(client_id)s exists", issuer=reg.issuer, client_id=reg.client_id),
            field="client_id",
        )


def _set_deployments(reg: LtiRegistration, deployment_ids) -> None:
    """Keep the deployments named in ``deployment_ids`` (with their status), add the new ones as active,
    remove the others."""
    wanted = [d for d in dict.fromkeys(str(d).strip() for d in deployment_ids) if d]
    for dep in [d for d in reg.deployments if d.deployment_id not in wanted]:
        reg.deployments.remove(dep)
    have = {d.deployment_id for d in reg.deployments}
    for dep in wanted:
        if dep not in have:
            reg.deployments.append(LtiDeployment(deployment_id=dep, status=ACTIVE))


def has_courses(session: Session, reg: LtiRegistration) -> bool:
    """Whether a course of ``reg`` has launched the tool (its issuer and client id are then in use)."""
    return session.scalar(select(LtiContext.id).where(LtiContext.registration_id == reg.id).limit(1)) is not None


def update_registration(
    session: Session, ctx: HubContext, reg: LtiRegistration, *, deployment_ids=None, **values
) -> LtiRegistration:
    """Change a registration: ``values`` (keys of :data:`EDITABLE`) are checked as in
    :func:`create_registration`; ``deployment_ids`` (when given) is the full list of deployments to keep
    (the ones already known keep their status, new ones are active, missing ones are removed). Its status
    does not change (:func:`set_registration_status`).

    The issuer and client id name the awards and completion rules of the registration's courses, so they
    cannot change once a course has launched the tool (register the platform anew instead).

    Raises:
        ValidationError: as :func:`create_registration`; an unknown field; the issuer or client id of a
            registration with courses.
    """
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]}", field=sorted(unknown)[0])
    for field in ("issuer", "client_id"):
        new = (values.get(field) or "").strip() if field in values else getattr(reg, field)
        if new != getattr(reg, field) and has_courses(session, reg):
            raise ValidationError(
                _l(
                    "The issuer and client id cannot change once courses have used this registration: their "
                    "awards refer to them. Register the platform anew instead."
                ),
                field=field,
            )
    _apply(session, ctx, reg, **values)
    if deployment_ids is not None:
        _set_deployments(reg, deployment_ids)
    session.flush()
    log.info("LTI registration %s (%s / %s) changed", reg.public_id, reg.issuer, reg.client_id)
    return reg


def is_public_id(value) -> bool:
    """Whether ``value`` has the shape of a public id (a lower-case UUID string)."""
    try:
        return isinstance(value, str) and len(value) == 36 and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def keyset_page(session: Session, query, model, *, limit: int, cursor: str | None) -> tuple[list, str | None]:
    """One page of ``query`` (rows of ``model``, ordered by ``model.id`` descending): ``(rows, next)``,
    where ``next`` is the public id of the page's last row when more follow (pass it as ``cursor``).

    Raises:
        NotFound: ``cursor`` names no row of ``model``.
    """
    if cursor:
        anchor = is_public_id(cursor) and session.scalar(select(model.id).where(model.public_id == cursor))
        if not anchor:
            raise NotFound(_l("cursor does not name a row of this list"), field="cursor")
        query = query.where(model.id < anchor)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].public_id if len(rows) > limit else None)


def list_registrations(
    session: Session, *, limit: int = 50, cursor: str | None = None, status: str | None = None
) -> tuple[list[LtiRegistration], str | None]:
    """One keyset page of registrations (:func:`keyset_page`), newest first, optionally of one ``status``."""
    query = (
        select(LtiRegistration)
        .options(selectinload(LtiRegistration.deployments), selectinload(LtiRegistration.tool_key))
        .order_by(LtiRegistration.id.desc())
    )
    if status:
        query = query.where(LtiRegistration.status == status)
    return keyset_page(session, query, LtiRegistration, limit=limit, cursor=cursor)


def find_registration(session: Session, issuer: str, client_id: str | None) -> LtiRegistration | None:
    """The registration of (``issuer``, ``client_id``); with no client id, the issuer's only registration
    (LTI 1.3 login requests may omit ``client_id``; then it must be unambiguous)."""
    stmt = select(LtiRegistration).where(LtiRegistration.issuer == issuer)
    if client_id:
        return session.scalar(stmt.where(LtiRegistration.client_id == client_id))
    found = session.scalars(stmt.limit(2)).all()
    return found[0] if len(found) == 1 else None


def get_registration(session: Session, public_id: str) -> LtiRegistration:
    """A registration by its public id. Raises NotFound."""
    reg = session.scalar(select(LtiRegistration).where(LtiRegistration.public_id == public_id))
    if reg is None:
        raise NotFound(_l("no LTI registration %(id)s", id=public_id))
    return reg


def find_deployment(session: Session, reg: LtiRegistration, deployment_id: str) -> LtiDeployment | None:
    return session.scalar(
        select(LtiDeployment).where(
            LtiDeployment.registration_id == reg.id, LtiDeployment.deployment_id == deployment_id
        )
    )


def record_unknown_deployment(session: Session, reg: LtiRegistration, deployment_id: str) -> LtiDeployment:
    """Keep an unknown ``deployment_id`` of a known registration as ``pending`` (idempotent), for an
    administrator to approve (:func:`set_deployment_status`)."""
    dep = find_deployment(session, reg, deployment_id)
    if dep is None:
        dep = LtiDeployment(registration=reg, deployment_id=deployment_id, status=PENDING)
        session.add(dep)
    dep.last_seen_at = utcnow()
    session.flush()
    return dep


def _status(status: str) -> str:
    if status not in STATUSES:
        raise ValidationError(
            _l("%(field)s must be one of %(choices)s", field="status", choices=joined(STATUSES)), field="status"
        )
    return status


def set_deployment_status(session: Session, dep: LtiDeployment, status: str) -> LtiDeployment:
    """Set a deployment ``active`` (launches accepted), ``pending`` or ``inactive`` (refused).

    Raises:
        ValidationError: an unknown status.
    """
    dep.status = _status(status)
    session.flush()
    log.info("LTI deployment %s of registration %s: %s", dep.deployment_id, dep.registration.public_id, status)
    return dep


def set_registration_status(
    session: Session, reg: LtiRegistration, status: str, *, badge_issuer: Issuer | None = None
) -> LtiRegistration:
    """Set a registration ``active`` (its platform may launch), ``pending`` or ``inactive`` (refused).
    Approving (``active``) assigns ``badge_issuer`` when given; a registration approved without one, or
    with none assigned before, is refused.

    Raises:
        ValidationError: an unknown status; approval without an issuer (field ``badge_issuer``,
            :data:`CHOOSE_ISSUER`).
    """
    _status(status)
    if badge_issuer is not None:
        assign_issuer(session, reg, badge_issuer)
    if status == ACTIVE and reg.issuer_id is None and reg.badge_issuer is None:
        raise ValidationError(CHOOSE_ISSUER, field="badge_issuer")
    reg.status = status
    session.flush()
    log.info("LTI registration %s (%s): %s", reg.public_id, reg.issuer, status)
    return reg


def last_launch(reg: LtiRegistration):
    """When an active deployment of ``reg`` last launched (aware UTC datetime), or None."""
    seen = [d.last_seen_at for d in reg.deployments if d.status == ACTIVE and d.last_seen_at]
    return max(seen, default=None)


def registration_json(reg: LtiRegistration) -> dict:
    """A registration as the admin API and ``badgehub lti list`` show it (no secrets; times ISO 8601)."""
    return {
        "id": reg.public_id,
        "issuer": reg.issuer,
        "client_id": reg.client_id,
        "name": reg.name,
        "status": reg.status,
        "badge_issuer": reg.badge_issuer.public_id if reg.badge_issuer else None,
        "badge_issuer_name": reg.badge_issuer.name if reg.badge_issuer else None,
        "auth_login_url": reg.auth_login_url,
        "auth_token_url": reg.auth_token_url,
        "auth_audience": reg.auth_audience,
        "key_set_url": reg.key_set_url,
        "product_family_code": reg.product_family_code,
        "scopes": reg.scopes,
        "tool_kid": reg.tool_key.kid,
        "created_at": isoformat_z(reg.created_at),
        "last_launch_at": _iso(last_launch(reg)),
        "deployments": [
            {"deployment_id": d.deployment_id, "status": d.status, "last_seen_at": _iso(d.last_seen_at)}
            for d in reg.deployments
        ],
    }


def _iso(value) -> str | None:
    return isoformat_z(value) if value else None


# ---- pylti1p3 tool configuration ---------------------------------------------------------------


def pylti_registration(ctx: HubContext, reg: LtiRegistration) -> Registration:
    """A pylti1p3 :class:`Registration` for ``reg``, with the tool's private key decrypted in memory."""
    return (
        Registration()
        .set_issuer(reg.issuer)
        .set_client_id(reg.client_id)
        .set_auth_login_url(reg.auth_login_url)
        .set_auth_token_url(reg.auth_token_url)
        .set_auth_audience(reg.auth_audience)
        .set_key_set_url(reg.key_set_url)
        .set_tool_private_key(ctx.box.decrypt(reg.tool_key.private_key_encrypted).decode("ascii"))
        .set_tool_public_key(reg.tool_key.public_pem)
    )


class DatabaseToolConf(ToolConfAbstract):
    """pylti1p3's ``ToolConfAbstract`` over the registration tables.

    Every issuer is treated as "many client ids" (the instance methods below; pylti1p3's class-level
    ``issuers_relation_types`` dict is shared by all instances and never consulted). Only ``active``
    registrations and deployments are found.
    """

    def __init__(self, ctx: HubContext, session: Session):
        self._ctx, self._session = ctx, session

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def set_iss_has_one_client(self, iss: str):
        raise NotImplementedError("registrations are keyed by (issuer, client_id)")

    set_iss_has_many_clients = set_iss_has_one_client

    def row(self, iss: str, client_id: str | None) -> LtiRegistration | None:
        reg = find_registration(self._session, iss, client_id)
        return reg if reg is not None and reg.status == ACTIVE else None

    def find_registration_by_issuer(self, iss: str, *args, **kwargs) -> Registration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss: str, client_id: str | None, *args, **kwargs) -> Registration | None:
        reg = self.row(iss, client_id)
        return pylti_registration(self._ctx, reg) if reg else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args, **kwargs
    ) -> Deployment | None:
        reg = self.row(iss, client_id)
        dep = find_deployment(self._session, reg, deployment_id) if reg and deployment_id else None
        if dep is None or dep.status != ACTIVE:
            return None
        dep.last_seen_at = utcnow()
        return Deployment().set_deployment_id(dep.deployment_id)
