"""``/api/v1/moodle``: Moodle sites over the hub's JSON API (flask-smorest; the hub registers the
blueprint, so the routes are in ``/api/v1/openapi.json``, need ``Authorization: Bearer <token>`` and
answer errors as RFC 9457 problem JSON).

Issuer administrators see and change their issuers' sites, site administrators all; writes need a
token of scope ``manage``. A connection check or sync against a site that does not answer is a
problem (502 Moodle refused or answered oddly, 504 no answer), never a 500.
"""

from __future__ import annotations

from typing import ClassVar

from flask_smorest import Blueprint
from marshmallow import fields, validate

from hub.accounts.access import current_principal, not_found
from hub.context import current_context
from hub.schemas import NOT_BLANK, Pattern, http_url, one_given
from hub.schemas import ApiSchema as _Base
from moodle_bridge import sites
from moodle_bridge.web import db_session

blp = Blueprint(
    "moodle_api",
    __name__,
    url_prefix="/api/v1/moodle",
    description="Moodle sites: settings, connection checks and completion syncs",
)


_URL = http_url(max_length=500, base=True)
_IDS = fields.List(
    fields.Integer(validate=validate.Range(1, 2**31 - 1)),
    validate=validate.Length(max=500),
    metadata={"description": "Moodle course ids"},
)
_IDNUMBERS = fields.List(
    fields.String(validate=validate.Length(1, 100)),
    validate=validate.Length(max=500),
    metadata={"description": "Moodle course ID numbers"},
)
_TOKEN_DOC = "the Moodle web-service token; stored encrypted, never returned"


def _token(description: str, **kwargs) -> fields.String:
    """The ``token`` field: :data:`moodle_bridge.sites.TOKEN`, in the document as the code checks it."""
    return fields.String(
        validate=Pattern(sites.TOKEN), metadata={"pattern": sites.TOKEN, "description": description}, **kwargs
    )


class SiteOut(_Base):
    id = fields.String()
    slug = fields.String(metadata={"description": "the name `badgehub moodle sync` takes"})
    name = fields.String()
    issuer = fields.String(allow_none=True)
    enabled = fields.Boolean()
    site_url = fields.String()
    course_ids = fields.List(fields.Integer())
    course_idnumbers = fields.List(fields.String())
    competencies = fields.Boolean()
    page_size = fields.Integer()
    token_set = fields.Boolean(metadata={"description": "a token is stored (it is never returned)"})
    push_connector = fields.String(allow_none=True, metadata={"description": "slug of the plugin's webhook connector"})
    push_url = fields.String(allow_none=True, metadata={"description": "the plugin's webhook URL setting"})


class SiteIn(_Base):
    # the connector's check (MoodleConnector.validate_config: 422, field course_ids), in the document
    object_rules: ClassVar[dict] = one_given(
        course_ids={"type": "array", "minItems": 1}, course_idnumbers={"type": "array", "contains": NOT_BLANK}
    )

    issuer = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "issuer id; omit for a site-level site (site admins)"},
    )
    name = fields.String(required=True, validate=validate.Length(1, 255))
    slug = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$"),
        metadata={"description": "default: made from the name"},
    )
    site_url = http_url(max_length=500, base=True, required=True)
    token = _token(_TOKEN_DOC, required=True)
    course_ids = _IDS
    course_idnumbers = _IDNUMBERS
    competencies = fields.Boolean(load_default=True)
    page_size = fields.Integer(load_default=200, validate=validate.Range(1, 5000))


class SitePatch(_Base):
    name = fields.String(validate=validate.Length(1, 255))
    site_url = _URL
    token = _token("replaces the stored token")
    course_ids = _IDS
    course_idnumbers = _IDNUMBERS
    competencies = fields.Boolean()
    page_size = fields.Integer(validate=validate.Range(1, 5000))
    enabled = fields.Boolean()


class ListArgs(_Base):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=36))


class SitePage(_Base):
    items = fields.List(fields.Nested(SiteOut))
    next = fields.String(allow_none=True)


class CheckOut(_Base):
    ok = fields.Boolean(metadata={"description": "the token works and its service offers every function needed"})
    sitename = fields.String()
    siteurl = fields.String(metadata={"description": "the address Moodle gives for itself"})
    release = fields.String()
    username = fields.String(metadata={"description": "the Moodle user the token belongs to"})
    missing_functions = fields.List(fields.String())
    site_url_matches = fields.Boolean(
        metadata={"description": "false: Moodle's address differs from `site_url`; push and pull would not dedupe"}
    )


class CourseStateOut(_Base):
    course_id = fields.Integer()
    status = fields.String(metadata={"description": "`running` while a pass is unfinished, then `done`"})
    next_offset = fields.Integer()
    last_user_id = fields.Integer()
    run_started_at = fields.String(allow_none=True)
    last_finished_at = fields.String(allow_none=True)


class RunOut(_Base):
    id = fields.String()
    status = fields.String(metadata={"description": "queued, running, done, stopped or failed"})
    abandoned = fields.Boolean(metadata={"description": "queued/running without progress for 15 minutes"})
    started_by = fields.String()
    stop_requested = fields.Boolean()
    queued_at = fields.String()
    heartbeat_at = fields.String()
    finished_at = fields.String(allow_none=True)
    done = fields.Integer(metadata={"description": "courses finished"})
    total = fields.Integer(metadata={"description": "courses mapped (known once the run has resolved them)"})
    users_seen = fields.Integer()
    submitted = fields.Integer(metadata={"description": "new completions handed to the hub's inbox"})
    error = fields.String(allow_none=True)
    error_slug = fields.String(allow_none=True, metadata={"description": "the problem type, e.g. moodle-invalid-token"})
    report = fields.List(fields.Dict())


class SyncOut(_Base):
    run = fields.Nested(RunOut, allow_none=True, metadata={"description": "the latest run; null: never synced"})
    courses = fields.List(fields.Nested(CourseStateOut))


def _json(row) -> dict:
    return sites.site_json(current_context(), row)


def _config(body: dict) -> dict:
    return {k: body[k] for k in sites.EDITABLE if k in body}


@blp.get("/sites")
@blp.arguments(ListArgs, location="query")
@blp.response(200, SitePage, description="Keyset pagination: pass the previous page's `next` as `cursor`.")
def list_sites(args):
    """Moodle sites you configure, newest first."""
    rows = sites.list_sites(db_session(), current_principal(), limit=args["limit"] + 1, after=args.get("cursor"))
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    return {"items": [_json(r) for r in rows], "next": rows[-1].public_id if more else None}


@blp.post("/sites")
@blp.arguments(SiteIn)
@blp.response(201, SiteOut)
def create_site(body):
    """Add a Moodle site (the token is stored encrypted and never returned)."""
    s, p = db_session(), current_principal()
    issuer = None
    if body.get("issuer"):
        issuer = next((i for i in sites.issuers_to_configure(s, p) if i.public_id == body["issuer"]), None)
        if issuer is None:
            raise not_found("Issuer")
    row = sites.create_site(
        s,
        current_context(),
        p,
        issuer=issuer,
        name=body["name"],
        token=body["token"],
        config=_config(body),
        slug=body.get("slug"),
    )
    s.flush()
    return _json(row), 201


@blp.get("/sites/<connector_id>")
@blp.response(200, SiteOut)
def get_site(connector_id):
    return _json(sites.load_site(db_session(), current_principal(), connector_id))


@blp.patch("/sites/<connector_id>")
@blp.arguments(SitePatch)
@blp.response(200, SiteOut)
def update_site(body, connector_id):
    """Change a site's settings; `token` replaces the stored token."""
    s, p = db_session(), current_principal()
    row = sites.load_site(s, p, connector_id, write=True)
    sites.update_site(
        s,
        current_context(),
        p,
        row,
        name=body.get("name"),
        config=_config(body),
        enabled=body.get("enabled"),
        token=body.get("token"),
    )
    s.flush()
    return _json(row)


@blp.post("/sites/<connector_id>/check")
@blp.response(200, CheckOut)
@blp.alt_response(502, description="Moodle refused the token or the call, or did not answer as Moodle (problem JSON)")
@blp.alt_response(504, description="the site did not answer, or answered HTTP 5xx (problem JSON)")
def check_site(connector_id):
    """Check the token and the web-service functions, as `badgehub moodle check` does."""
    s = db_session()
    row = sites.load_site(s, current_principal(), connector_id, write=True)
    target = sites.check_target(current_context(), row)
    s.rollback()  # no transaction is held while Moodle answers
    result = sites.check_site(target)
    return {
        "ok": result.ok,
        "sitename": result.sitename,
        "siteurl": result.siteurl,
        "release": result.release,
        "username": result.username,
        "missing_functions": list(result.missing),
        "site_url_matches": result.site_url_matches,
    }


def _sync_json(row) -> dict:
    s = db_session()
    return {
        "run": sites.run_json(sites.latest_run(s, row)),
        "courses": [sites.state_json(st) for st in sites.course_states(s, row)],
    }


@blp.post("/sites/<connector_id>/sync")
@blp.response(202, SyncOut)
@blp.alt_response(409, description="a sync is already running, or the site is off or has no token (problem JSON)")
def start_sync(connector_id):
    """Start a sync in the background; poll `GET .../sync`. A failure (e.g. the site does not answer)
    ends the run `failed` with `error` and `error_slug`."""
    s, p = db_session(), current_principal()
    row = sites.load_site(s, p, connector_id, write=True)
    sites.start_sync(s, current_context(), p, row)
    s.flush()
    s.expire_all()
    return _sync_json(row), 202


@blp.get("/sites/<connector_id>/sync")
@blp.response(200, SyncOut)
def sync_status(connector_id):
    """The latest sync run and each course's checkpoint."""
    return _sync_json(sites.load_site(db_session(), current_principal(), connector_id))


@blp.post("/sites/<connector_id>/sync/stop")
@blp.response(200, SyncOut)
def stop_sync(connector_id):
    """Ask the running sync to stop after its current page (the next sync resumes there)."""
    s, p = db_session(), current_principal()
    row = sites.load_site(s, p, connector_id, write=True)
    sites.request_stop(s, p, row)
    s.flush()
    return _sync_json(row)


__all__ = ["blp"]
