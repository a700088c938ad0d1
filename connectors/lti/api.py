"""The LTI part of the JSON API (``/api/v1/lti``), a flask-smorest blueprint the hub registers on its API
(:meth:`connectors.base.Connector.api_blueprint`): documented in ``/api/v1/openapi.json``, authenticated
like the rest of the API (per-user bearer tokens or ``HUB_ADMIN_TOKEN``), errors as RFC 9457 problem
JSON. Registrations and the tool key are site-level: site administrators only, scope ``manage`` for
writes; others get 403 (lists) or 404 (a named registration).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as SchemaError

from connectors.types import PlatformUser
from hub.accounts.access import current_principal
from hub.context import current_context, request_session
from hub.errors import NotFound
from hub.i18n import lazy as _l
from hub.schemas import UUID, ApiSchema, Pattern, http_url, one_given
from hub.timefmt import isoformat_z

from . import actions, framing
from . import registrations as regs
from . import services as svc
from .dynreg import tool_configuration
from .models import ACTIVE, INACTIVE, STATUSES, LtiToolKey

api_bp = Blueprint(
    "lti_api",
    __name__,
    url_prefix="/api/v1/lti",
    description="LTI 1.3 platform registrations, deployments, the tool key and completions (site administrators)",
)
PAGE_DOC = "Keyset pagination, newest first: pass the previous page's `next` as `cursor`."


# ---- schemas -------------------------------------------------------------------------------------------


class _NoNul:
    """Refuses NUL characters (PostgreSQL text cannot hold them) with a 422 instead of a database error."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise SchemaError("text must not contain NUL characters")
        return text


class Text(_NoNul, fields.String):
    pass


#: Platform URLs: the document says "an absolute http(s) URL"; which of them a registration may use
#: (``https://``, ``http://`` only on this computer unless ``HUB_LTI_ALLOW_PRIVATE_HOSTS``) is decided in one
#: place, :func:`connectors.lti.registrations.url_problem`, which answers 422 naming the field.
PLATFORM_URL_RULE = (
    "https://, or http:// for a platform on this computer (localhost, *.localhost, 127.0.0.1, [::1]); any "
    "http(s) URL with HUB_LTI_ALLOW_PRIVATE_HOSTS"
)


def Url(**kwargs):  # noqa: N802  (a field factory, named like the fields it makes)
    metadata = kwargs.pop("metadata", {})
    description = f"{metadata.get('description', 'a platform URL')}: {PLATFORM_URL_RULE}"
    return http_url(max_length=1024, metadata={**metadata, "description": description}, **kwargs)


#: What ``badge_issuer`` means in the registration documents.
BADGE_ISSUER_DOC = (
    "the Badge Hub issuer (its public id) this platform belongs to: its teachers see, link and award only that "
    "issuer's badge classes"
)


class _In(ApiSchema):
    """Input: unknown fields ignored, JSON types as the document says (:class:`hub.schemas.ApiSchema`)."""


OPTIONAL: dict[str, Any] = {"load_default": None, "allow_none": True}


class ListArgs(_In):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = Text(**OPTIONAL, validate=Pattern(UUID), metadata={"format": "uuid"})
    status = Text(**OPTIONAL, validate=validate.OneOf(STATUSES))


class DeploymentOut(Schema):
    deployment_id = fields.String()
    status = fields.String(metadata={"description": "active | pending (waiting for approval) | inactive"})
    last_seen_at = fields.String(allow_none=True, metadata={"description": "last launch (or refused launch)"})


class RegistrationOut(Schema):
    id = fields.String()
    issuer = fields.String()
    client_id = fields.String()
    name = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "active | pending (waiting for approval) | inactive"})
    badge_issuer = fields.String(
        allow_none=True,
        metadata={"description": BADGE_ISSUER_DOC + "; null until assigned (teacher actions are refused then)"},
    )
    badge_issuer_name = fields.String(allow_none=True)
    auth_login_url = fields.String()
    auth_token_url = fields.String()
    auth_audience = fields.String(allow_none=True)
    key_set_url = fields.String()
    product_family_code = fields.String(allow_none=True)
    scopes = fields.List(fields.String())
    tool_kid = fields.String()
    created_at = fields.String()
    last_launch_at = fields.String(allow_none=True)
    deployments = fields.List(fields.Nested(DeploymentOut))


class RegistrationPage(Schema):
    items = fields.List(fields.Nested(RegistrationOut))
    next = fields.String(allow_none=True)


class RegistrationIn(_In):
    # required, but checked by the service, whose refusal says what the issuer is for (422, field badge_issuer)
    object_rules: ClassVar[dict] = one_given(badge_issuer={"type": "string", "minLength": 1})

    issuer = Url(required=True, metadata={"description": "the platform's issuer (`iss` of its id_tokens)"})
    client_id = Text(required=True, validate=validate.Length(1, 255))
    auth_login_url = Url(required=True, metadata={"description": "the platform's OIDC authorization endpoint"})
    auth_token_url = Url(required=True, metadata={"description": "the platform's OAuth 2 token endpoint"})
    key_set_url = Url(required=True, metadata={"description": "the platform's JWKS URL"})
    auth_audience = Text(**OPTIONAL, validate=validate.Length(max=1024))
    deployment_ids = fields.List(
        Text(validate=validate.Length(1, 255)), load_default=list, validate=validate.Length(max=100)
    )
    name = Text(**OPTIONAL, validate=validate.Length(max=255))
    badge_issuer = Text(
        **OPTIONAL,
        validate=validate.Length(max=36),
        metadata={"description": BADGE_ISSUER_DOC + "; required (422 with field `badge_issuer` without it)"},
    )


class ApproveIn(_In):
    badge_issuer = Text(
        **OPTIONAL,
        validate=validate.Length(max=36),
        metadata={"description": BADGE_ISSUER_DOC + "; required unless the registration has one already"},
    )


class RegistrationPatch(_In):
    issuer = Url(metadata={"description": "fixed once a course has launched the tool (its awards refer to it)"})
    client_id = Text(validate=validate.Length(1, 255), metadata={"description": "fixed as `issuer` is"})
    auth_login_url = Url()
    auth_token_url = Url()
    key_set_url = Url()
    auth_audience = Text(allow_none=True, validate=validate.Length(max=1024))
    deployment_ids = fields.List(
        Text(validate=validate.Length(1, 255)),
        validate=validate.Length(max=100),
        metadata={
            "description": "the full list to keep: known ones keep their status, new ones are active, "
            "missing ones are deleted"
        },
    )
    name = Text(allow_none=True, validate=validate.Length(max=255))
    badge_issuer = Text(validate=validate.Length(max=36), metadata={"description": "move the platform to this issuer"})


class KeyOut(Schema):
    kid = fields.String()
    status = fields.String(metadata={"description": "current | retired (still published until `expires_at`)"})
    expires_at = fields.String(allow_none=True)


class ToolOut(Schema):
    login_url = fields.String(metadata={"description": "OIDC login initiation URL"})
    launch_url = fields.String(metadata={"description": "target link URI"})
    redirect_uris = fields.List(fields.String())
    deep_linking_url = fields.String()
    jwks_url = fields.String(metadata={"description": "the tool's public keys"})
    registration_url = fields.String(metadata={"description": "LTI Dynamic Registration initiation URL"})
    keys = fields.List(fields.Nested(KeyOut))


class RotateIn(_In):
    overlap_days = fields.Float(
        load_default=7.0,
        validate=validate.Range(0, 365),
        metadata={"description": "days the previous key stays published in the JWKS"},
    )


class RotateOut(Schema):
    kid = fields.String(metadata={"description": "the new current key"})
    previous_published_until = fields.String(
        allow_none=True,
        metadata={"description": "when the previous key leaves the JWKS; null: withdrawn at once (overlap 0)"},
    )


class CompletionIn(_In):
    registration = Text(required=True, validate=validate.Length(max=36))
    context_id = Text(required=True, validate=validate.Length(1, 255))
    sub = Text(required=True, validate=validate.Length(1, 255), metadata={"description": "the learner's LTI user id"})
    email = Text(**OPTIONAL, validate=validate.Length(max=320))
    name = Text(**OPTIONAL, validate=validate.Length(max=255))


class CompletionOut(Schema):
    event = fields.String(metadata={"description": "the inbox event's id"})
    duplicate = fields.Boolean(metadata={"description": "true when this completion was reported before"})


# ---- helpers -------------------------------------------------------------------------------------------


def _key_json(key: LtiToolKey) -> dict:
    return {
        "kid": key.kid,
        "status": "retired" if key.retired_at else "current",
        "expires_at": isoformat_z(key.expires_at) if key.expires_at else None,
    }


def tool_json(session, base_url: str) -> dict:
    """The tool's URLs to enter in a platform, and its published keys (current and in overlap)."""
    return {**tool_configuration(base_url), "keys": [_key_json(k) for k in regs.published_keys(session)]}


def _status_change(
    reg_id: str, status: str, deployment_id: str | None = None, *, badge_issuer: str | None = None
) -> dict:
    p, session = current_principal(), request_session()
    reg = actions.load_registration(session, p, reg_id, write=True)
    if deployment_id is None:
        actions.set_registration_status(session, p, reg, status, badge_issuer=badge_issuer)
    else:
        actions.set_deployment_status(session, p, actions.find_deployment(session, reg, deployment_id), status)
    return _committed(regs.registration_json(reg))


def _committed(body):
    """Answer ``body``; the kept framing origins are forgotten once the request boundary commits."""
    framing.forget_after_commit(request_session(), current_app._get_current_object())
    return body


# ---- routes --------------------------------------------------------------------------------------------


@api_bp.get("/registrations")
@api_bp.arguments(ListArgs, location="query")
@api_bp.response(200, RegistrationPage, description=PAGE_DOC)
def list_registrations(args):
    """Platform registrations with their deployments, newest first; `status=pending` lists those waiting."""
    current_principal().require_site_admin()
    rows, nxt = regs.list_registrations(
        request_session(), limit=args["limit"], cursor=args["cursor"], status=args["status"]
    )
    return {"items": [regs.registration_json(r) for r in rows], "next": nxt}


@api_bp.post("/registrations")
@api_bp.arguments(RegistrationIn)
@api_bp.response(201, RegistrationOut)
def add_registration(body):
    """Register a platform by hand (active at once, with its deployments), belonging to the issuer
    `badge_issuer`. The tool's URLs to enter in the platform are at `GET /api/v1/lti/tool`."""
    reg = actions.create_registration(request_session(), current_context(), current_principal(), **body)
    return _committed(regs.registration_json(reg))


@api_bp.get("/registrations/<reg_id>")
@api_bp.response(200, RegistrationOut)
def get_registration(reg_id):
    return regs.registration_json(actions.load_registration(request_session(), current_principal(), reg_id))


@api_bp.post("/registrations/<reg_id>/approve")
@api_bp.arguments(ApproveIn, required=False)
@api_bp.response(200, RegistrationOut)
def approve_registration(body, reg_id):
    """Let the platform launch (e.g. after a dynamic registration, which is stored pending), assigning it
    to the issuer `badge_issuer`. 422 (field `badge_issuer`) when neither the body nor the registration
    names an issuer."""
    return _status_change(reg_id, ACTIVE, badge_issuer=body.get("badge_issuer"))


@api_bp.post("/registrations/<reg_id>/deactivate")
@api_bp.response(200, RegistrationOut)
def deactivate_registration(reg_id):
    """Refuse the platform's launches from now on (its courses and awards stay)."""
    return _status_change(reg_id, INACTIVE)


@api_bp.patch("/registrations/<reg_id>")
@api_bp.arguments(RegistrationPatch)
@api_bp.response(200, RegistrationOut)
def change_registration(body, reg_id):
    """Change a registration's fields (those given; checked as when registering: platform URLs https,
    http only for localhost). Its status does not change (use approve / deactivate). The issuer and
    client id cannot change once a course has launched the tool (422). `badge_issuer` moves the
    platform to another Badge Hub issuer."""
    p, session = current_principal(), request_session()
    reg = actions.load_registration(session, p, reg_id, write=True)
    badge_issuer = body.pop("badge_issuer", None)
    if badge_issuer is not None:
        actions.assign_issuer(session, p, reg, badge_issuer)
    actions.update_registration(session, current_context(), p, reg, **body)
    return _committed(regs.registration_json(reg))


@api_bp.delete("/registrations/<reg_id>")
@api_bp.response(204)
def delete_registration(reg_id):
    """Delete a pending or inactive registration with its deployments, its courses and their badge links.
    422 for an active one (deactivate it first) and for one with awards or completion events in its
    courses (it stays, deactivated, for their history)."""
    p, session = current_principal(), request_session()
    actions.delete_registration(session, p, actions.load_registration(session, p, reg_id, write=True))
    return _committed("")


@api_bp.post("/registrations/<reg_id>/deployments/<path:deployment_id>/approve")
@api_bp.response(200, RegistrationOut)
def approve_deployment(reg_id, deployment_id):
    """Accept launches from a deployment (an unknown one is recorded pending at its first launch)."""
    return _status_change(reg_id, ACTIVE, deployment_id)


@api_bp.post("/registrations/<reg_id>/deployments/<path:deployment_id>/deactivate")
@api_bp.response(200, RegistrationOut)
def deactivate_deployment(reg_id, deployment_id):
    """Refuse launches from a deployment from now on."""
    return _status_change(reg_id, INACTIVE, deployment_id)


@api_bp.get("/tool")
@api_bp.response(200, ToolOut)
def tool():
    """The tool's URLs to enter in a platform (manual registration) and its published keys."""
    current_principal().require_site_admin()
    return tool_json(request_session(), current_context().settings.base_url)


@api_bp.post("/keys/rotate")
@api_bp.arguments(RotateIn, required=False)
@api_bp.response(200, RotateOut)
def rotate_key(body):
    """Make a new tool key for every registration; the old one stays in the JWKS for `overlap_days`
    (platforms cache key sets), so launches and service calls in flight keep verifying; with 0 it is
    withdrawn at once (`previous_published_until` is null)."""
    session, overlap = request_session(), timedelta(days=body["overlap_days"])
    previous = [k for k in regs.published_keys(session) if not k.retired_at]
    key = actions.rotate_tool_key(session, current_context(), current_principal(), overlap)
    until = max((k.expires_at for k in previous), default=None) if overlap else None
    return _committed({"kid": key.kid, "previous_published_until": isoformat_z(until) if until else None})


@api_bp.post("/completions")
@api_bp.arguments(CompletionIn)
@api_bp.response(202, CompletionOut)
@api_bp.alt_response(200, schema=CompletionOut, description="reported before: nothing new was stored")
def completion(body):
    """Report a course completion from the platform side: the course's completion rules decide the badges.
    202 with the inbox event; 200 when the same completion was reported before."""
    ctx, p, session = current_context(), current_principal(), request_session()
    p.require_site_admin(write=True)
    context = svc.find_context(session, body["registration"], body["context_id"])
    if context is None:
        raise NotFound(_l("unknown registration or context"), field="context_id")
    user = PlatformUser(email=body["email"], name=body["name"], platform_user_id=body["sub"])
    event, created = actions.report_completion(session, ctx, p, context, user)
    # Committed by the request boundary before the answer leaves; the runner wakes after that commit.
    return {"event": event.public_id, "duplicate": not created}, 202 if created else 200
