"""A test-only LTI 1.3 platform on ``lti1p3platform`` 0.1.8, served by Flask over real HTTP.

lti1p3platform ships Django and FastAPI adapters only; this is the small Flask adapter plus a Moodle-
shaped platform: claims like Moodle 5.1's (roles, ``CourseSection`` context with id and label, ``lis``,
custom parameters, ``tool_platform.product_family_code: "moodle"``, locale), NRPS with paged members
(``Link: <...>; rel=next``, lti1p3platform's own format), AGS line items / scores / results, deep-linking
return, and an LTI Dynamic Registration endpoint. Hooks let tests tamper with launches (claims, clock,
signing key).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, redirect, request
from lti1p3platform.jwt_helper import jwt_encode
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService
from werkzeug.serving import make_server

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
C = "https://purl.imsglobal.org/spec/lti/claim/"


def new_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private: str) -> str:
    key = serialization.load_pem_private_key(private.encode(), None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class TamperingRegistration(Registration):
    """Signs launches like Moodle (exp = iat + 60 s), with test hooks: ``clock_offset`` (seconds added
    to iat/exp), ``tamper(payload) -> payload``, ``signing_key`` (sign with another key, same kid)."""

    clock_offset = 0
    tamper = None
    signing_key = None

    def platform_encode_and_sign(self, payload, expiration=None):
        payload = dict(payload)
        now = int(time.time()) + self.clock_offset
        if expiration:
            payload["iat"], payload["exp"] = now, now + expiration
        if self.tamper:
            payload = self.tamper(payload)
        key = self.signing_key or self.get_platform_private_key()
        return jwt_encode(payload, key, algorithm="RS256", headers={"kid": self.get_kid()})


class Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs):
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs):
        return self._registration


class FlaskPlatformRequest(Request):
    """lti1p3platform's request metadata from Flask's request (ints for page/limit query parameters)."""

    def build_metadata(self, req):
        args = req.args.to_dict()
        for k in ("page", "limit"):
            if k in args:
                args[k] = int(args[k])
        return {
            "method": req.method,
            "form_data": req.form.to_dict(),
            "get_data": args,
            "headers": req.headers,
            "content_type": req.content_type,
            "path": req.path,
            "json": req.get_json(silent=True),
        }


@dataclass
class Member:
    user_id: str
    name: str
    email: str | None
    roles: list[str]
    given_name: str = ""
    family_name: str = ""

    def as_json(self) -> dict:
        doc = {"user_id": self.user_id, "name": self.name, "roles": self.roles, "status": "Active"}
        if self.email:
            doc["email"] = self.email
        if self.given_name:
            doc.update(given_name=self.given_name, family_name=self.family_name)
        return doc


@dataclass
class Platform:
    """The platform's state; ``base`` is set when served."""

    base: str = ""
    client_id: str = "hub-client-1"
    deployment_id: str = "1"
    context_id: str = "2"
    tool_base: str = ""
    private_key: str = field(default_factory=new_private_pem)
    members: dict[str, Member] = field(default_factory=dict)
    locale: str = "en"
    page_size: int = 2
    lineitems: dict[str, dict] = field(default_factory=dict)
    scores: list[dict] = field(default_factory=list)
    results: dict[str, dict[str, float]] = field(default_factory=dict)  # lineitem id -> {user: score}
    deep_link_items: list = field(default_factory=list)
    registrations: list[dict] = field(default_factory=list)
    registration_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    token_requests: int = 0
    token_refusal: tuple[int, dict] | None = None  # (status, body) the token endpoint answers instead
    roster_reads: int = 0
    hints: dict[str, dict] = field(default_factory=dict)
    issuer_override: str | None = None
    registration: TamperingRegistration | None = None
    #: Where the tool calls the platform's services (JWKS, token, NRPS, AGS); default ``base``. The
    #: cross-site browser test serves the pages on https://platform.test and the services on 127.0.0.1.
    service_base: str = ""
    #: Moodle-shaped launches (``/mod/lti/launch.php``): course module id, sessions, one-time hints
    #: (hint -> used?), the hints ``/auth`` was asked for, and those it refused (used or unknown).
    cmid: str = "7"
    sessions: dict[str, dict] = field(default_factory=dict)
    once_hints: dict[str, bool] = field(default_factory=dict)
    auth_hints: list[str] = field(default_factory=list)
    refused_hints: list[str] = field(default_factory=list)
    #: Another platform's shapes: a fixed issuer for many clients (Canvas, Blackboard), the
    #: ``product_family_code`` of its OpenID configuration, extra configuration keys (Canvas's extension),
    #: extra login initiation parameters (Canvas's ``lti_storage_target``).
    fixed_iss: str | None = None
    product_family: str = "moodle"
    platform_config_extra: dict = field(default_factory=dict)
    login_extra: dict = field(default_factory=dict)

    @property
    def iss(self) -> str:
        return self.fixed_iss or self.base

    @property
    def services(self) -> str:
        return self.service_base or self.base

    def lineitems_url(self) -> str:
        return f"{self.services}/ags/{self.context_id}/lineitems"

    def memberships_url(self) -> str:
        return f"{self.services}/nrps/CourseSection/{self.context_id}/memberships"

    def make_registration(self) -> TamperingRegistration:
        reg = (
            TamperingRegistration()
            .set_iss(self.iss)
            .set_client_id(self.client_id)
            .set_deployment_id(self.deployment_id)
            .set_oidc_login_url(f"{self.tool_base}/lti/login")
            .set_launch_url(f"{self.tool_base}/lti/launch")
            .set_deeplink_launch_url(f"{self.tool_base}/lti/launch")
            .set_tool_key_set_url(f"{self.tool_base}/lti/jwks")
            .set_platform_private_key(self.private_key)
            .set_platform_public_key(public_pem(self.private_key))
        )
        self.registration = reg
        return reg

    def hub_registration(self, badge_issuer: str | None = None) -> dict:
        """What an administrator enters in the hub (admin API) for this platform; ``badge_issuer``: the
        public id of the hub issuer it belongs to (required by the hub for an active registration)."""
        doc = {
            "issuer": self.iss,
            "client_id": self.client_id,
            "auth_login_url": f"{self.base}/auth",
            "auth_token_url": f"{self.services}/token",
            "key_set_url": f"{self.services}/jwks",
            "deployment_ids": [self.deployment_id],
            "name": "Test Moodle",
        }
        if badge_issuer:
            doc["badge_issuer"] = badge_issuer
        return doc


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs):
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url):
        return redirect(url)


class _Launch(LTIAdvantageMessageLaunchAbstract):
    platform: Platform

    def get_preflight_response(self):
        return request.args.to_dict()

    def prepare_launch(self, preflight_response):
        p = self.platform
        hint = p.hints[preflight_response["lti_message_hint"]]
        self.storage_target = hint.get("storage_target")
        member = p.members[preflight_response["login_hint"]]
        self.set_user_data(member.user_id, member.roles, member.name, member.email)
        self.set_resource_link_claim("1", description="Test lti 1", title="Odznaki kursu")
        self.set_launch_context_claim(p.context_id, ["CourseSection"], "Bezpieczeństwo w sieci", "SEC101")
        self.set_custom_parameters_claim({"context_memberships_url": p.memberships_url(), **hint.get("custom", {})})
        self.set_ags(p.lineitems_url(), f"{p.lineitems_url()}/1/lineitem")
        self.set_nrps(p.memberships_url())
        extra = {
            "given_name": member.given_name,
            "family_name": member.family_name,
            C + "lis": {"person_sourcedid": f"S-{member.user_id}", "course_section_sourcedid": "SEC-101"},
            C + "launch_presentation": {
                "locale": p.locale,
                "document_target": "iframe",
                "return_url": f"{p.base}/return",
            },
            C + "tool_platform": {"product_family_code": "moodle", "version": "2025100600.02", "guid": "test-guid"},
            C + "ext": {"user_username": f"user{member.user_id}", "lms": "moodle-2"},
        }
        self.set_extra_claims(extra)
        if hint.get("kind") == "deeplink":
            self.set_dl(f"{p.base}/deep_link_return", title="Add a badge", accept_types={"ltiResourceLink"})
        self.set_id_token_expiration(60)

    def render_launch_form(self, launch_data, **kwargs):
        data = {k: v for k, v in launch_data.items() if k != "launch_url"}
        if getattr(self, "storage_target", None):  # the auth response names the storage frame too
            data["lti_storage_target"] = self.storage_target
        return _autopost(launch_data["launch_url"], data)


def _autopost(action: str, fields: dict) -> str:
    """A form posting ``fields`` to ``action``, submitted by the page's script (as Moodle's pages do);
    :class:`Browser` posts it itself."""
    from html import escape

    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(str(v))}">' for k, v in fields.items())
    return (
        f'<!doctype html><title>Launching</title><form method="post" action="{escape(action)}">{inputs}</form>'
        "<script>document.forms[0].submit()</script>"
    )


#: The platform side of LTI platform storage (1EdTech LTI Client Side postMessages): answers
#: ``lti.capabilities``, ``lti.put_data`` and ``lti.get_data`` in the course page (target ``_parent``),
#: keeping values per tool origin, and records every message in ``window.ltiMessages``.
STORAGE_SCRIPT = """
window.ltiMessages = [];
(function () {
  var data = {};
  window.addEventListener("message", function (event) {
    var d = event.data;
    if (!d || typeof d !== "object" || typeof d.subject !== "string") { return; }
    window.ltiMessages.push({origin: event.origin, subject: d.subject, key: d.key || null});
    var answer = {subject: d.subject + ".response", message_id: d.message_id};
    if (d.subject === "lti.capabilities") {
      answer.supported_messages = [{subject: "lti.put_data"}, {subject: "lti.get_data"}];
    } else if (d.subject === "lti.put_data") {
      data[event.origin + " " + d.key] = d.value;
      answer.key = d.key; answer.value = d.value;
    } else if (d.subject === "lti.get_data") {
      var k = event.origin + " " + d.key;
      answer.key = d.key; answer.value = k in data ? data[k] : null;
    } else { return; }
    event.source.postMessage(answer, event.origin);
  });
}());
"""


class _Nrps(NamesRoleProvisioningService):
    platform: Platform

    def get_context_by_id(self):
        from lti1p3platform.membership import Context

        return Context(id=self.platform.context_id, label="SEC101", title="Bezpieczeństwo w sieci")

    def get_member_data_page(self, page=1, limit=None, **kwargs):
        members = [m.as_json() for m in self.platform.members.values()]
        limit = limit or len(members)
        chunk = members[(page - 1) * limit : page * limit]
        return {"content": chunk, "has_next": page * limit < len(members), "next": None}


class _Ags(AssignmentsGradesService):
    platform: Platform

    def find_lineitems(self, page=1, limit=None, **kwargs):
        items = list(self.platform.lineitems.values())
        if kwargs.get("tag"):
            items = [i for i in items if i.get("tag") == kwargs["tag"]]
        return {"content": items, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id):
        return self.platform.lineitems[line_item_id]

    def create_lineitem(self, creation_data):
        n = str(len(self.platform.lineitems) + 10)
        item = {**creation_data, "id": f"{self.platform.lineitems_url()}/{n}/lineitem"}
        self.platform.lineitems[n] = item
        return item

    def update_lineitem(self, update_data):
        raise NotImplementedError

    def delete_lineitem(self, line_item_id):
        raise NotImplementedError

    def update_score(self, line_item_id, score):
        from lti1p3platform.score import UpdateScoreStatus

        self.platform.scores.append({"lineitem": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id, page=1, limit=None, user_id=None, **kwargs):
        scores = self.platform.results.get(line_item_id, {})
        items = [
            {
                "userId": u,
                "resultScore": s,
                "resultMaximum": 100,
                "scoreOf": f"{self.platform.lineitems_url()}/{line_item_id}/lineitem",
            }
            for u, s in scores.items()
        ]
        limit = limit or self.platform.page_size
        chunk = items[(page - 1) * limit : page * limit]
        return {"content": chunk, "has_next": page * limit < len(items), "next": None}


def _service_response(resp, page_url: str | None = None) -> Response:
    """lti1p3platform's Response -> HTTP. Paged containers become the list plus a ``Link: rel=next``
    header in lti1p3platform's own (unquoted) format, as the tool must follow."""
    if resp.code >= 400 or resp.result is None:
        return Response(resp.message or "", status=resp.code)
    body, headers = resp.result, {}
    if isinstance(body, dict) and "content" in body and "has_next" in body:
        if body["has_next"] and page_url:
            headers["Link"] = f"<{page_url}>; rel=next"
        body = body["content"]
    elif isinstance(body, dict) and body.get("next"):
        headers["Link"] = f"<{body.pop('next')}>; rel=next"
    return Response(json.dumps(body), status=resp.code, mimetype=resp.media_type, headers=headers)


def create_platform_app(p: Platform) -> Flask:
    app = Flask("test_platform")

    def conf() -> Conf:
        return Conf(registration=p.registration)

    @app.get("/launch")
    def start():
        """The user clicks the activity: third-party-initiated login at the tool."""
        hint_id = secrets.token_hex(8)
        p.hints[hint_id] = {
            "kind": request.args.get("kind", "resource"),
            "custom": json.loads(request.args.get("custom", "{}")),
        }
        login = _Login(None, conf())
        login.set_lti_message_hint(hint=hint_id)
        response = login.initiate_login(request.args["user"])
        if p.login_extra:
            response.headers["Location"] += "&" + urlencode(p.login_extra)
        return response

    @app.get("/course/view.php")
    def course_view():
        """A Moodle course page (first party on the platform's site): signs ``user`` in (a session
        cookie) and shows the activity in an iframe of ``/mod/lti/launch.php``; ``storage=1`` offers
        platform storage (:data:`STORAGE_SCRIPT`, target ``_parent``)."""
        sid = secrets.token_hex(8)
        storage = request.args.get("storage") == "1"
        p.sessions[sid] = {"user": request.args["user"], "storage": storage}
        script = f"<script>{STORAGE_SCRIPT}</script>" if storage else ""
        html = (
            f"<!doctype html><title>Moodle course</title>{script}<h1>Course</h1>"
            f'<iframe id="contentframe" title="Badge Hub" width="900" height="600" '
            f'src="/mod/lti/launch.php?id={p.cmid}"></iframe>'
        )
        response = Response(html, mimetype="text/html")
        response.set_cookie("MoodleSession", sid, httponly=True, secure=request.is_secure, samesite="Lax")
        return response

    @app.get("/mod/lti/launch.php")
    def moodle_launch():
        """Moodle's launch page of course module ``id``: a fresh one-time hint
        (``{"cmid", "launchid"}``, as ``lti_build_login_request``) and the login form to the tool."""
        session = p.sessions.get(request.cookies.get("MoodleSession", ""))
        if session is None or request.args.get("id") != p.cmid:
            return Response("not signed in or no such activity", status=403)
        hint = json.dumps({"cmid": int(p.cmid), "launchid": f"ltilaunch1_{secrets.randbelow(10**9)}"})
        p.once_hints[hint] = False
        p.hints[hint] = {"kind": "resource", "custom": {}}
        fields = {
            "iss": p.iss,
            "target_link_uri": f"{p.tool_base}/lti/launch",
            "login_hint": session["user"],
            "lti_message_hint": hint,
            "client_id": p.client_id,
            "lti_deployment_id": p.deployment_id,
        }
        if session["storage"]:
            fields["lti_storage_target"] = "_parent"
            p.hints[hint]["storage_target"] = "_parent"
        return Response(_autopost(f"{p.tool_base}/lti/login", fields), mimetype="text/html")

    @app.get("/auth")
    def auth():
        hint = request.args.get("lti_message_hint", "")
        p.auth_hints.append(hint)
        if hint in p.once_hints:  # Moodle keeps the launch in the session once: a used hint is gone
            if p.once_hints[hint]:
                p.refused_hints.append(hint)
                return Response("<!doctype html><h1>Invalid request: this launch was already used</h1>", status=404)
            p.once_hints[hint] = True
        launch = _Launch(FlaskPlatformRequest(request), conf())
        launch.platform = p
        return launch.lti_launch()

    @app.get("/jwks")
    def jwks():
        return jsonify(conf().get_jwks())

    @app.post("/token")
    def token():
        p.token_requests += 1
        if p.token_refusal:
            return jsonify(p.token_refusal[1]), p.token_refusal[0]
        return jsonify(conf().get_access_token(request.form.to_dict()))

    @app.get("/nrps/CourseSection/<context_id>/memberships")
    def memberships(context_id):
        p.roster_reads += 1
        svc = _Nrps(FlaskPlatformRequest(request), conf(), p.memberships_url())
        svc.platform = p
        args = request.args.to_dict()
        if "limit" not in args:  # page through like a big Moodle course
            return redirect(f"{p.memberships_url()}?{urlencode({'limit': p.page_size, 'page': 1})}")
        return _service_response(svc.handle_get_members())

    def ags() -> _Ags:
        svc = _Ags(FlaskPlatformRequest(request), conf(), p.lineitems_url())
        svc.platform = p
        return svc

    @app.route("/ags/<context_id>/lineitems", methods=["GET", "POST"])
    def lineitems(context_id):
        svc = ags()
        return _service_response(
            svc.handle_get_lineitems() if request.method == "GET" else svc.handle_create_lineitem()
        )

    @app.get("/ags/<context_id>/lineitems/<item>/lineitem")
    def lineitem(context_id, item):
        return _service_response(ags().handle_get_lineitem(item))

    @app.post("/ags/<context_id>/lineitems/<item>/lineitem/scores")
    def scores(context_id, item):
        return _service_response(ags().handle_update_score(item))

    @app.get("/ags/<context_id>/lineitems/<item>/lineitem/results")
    def results(context_id, item):
        page = int(request.args.get("page", 1))
        nxt = f"{p.lineitems_url()}/{item}/lineitem/results?{urlencode({'page': page + 1})}"
        return _service_response(ags().handle_get_results(item), nxt)

    @app.post("/deep_link_return")
    def deep_link_return():
        items = conf().validate_deeplinking_resp(request.form.to_dict())
        p.deep_link_items.extend(items)
        return "saved"

    @app.get("/.well-known/openid-configuration")
    def openid_configuration():
        return jsonify(
            {
                "issuer": p.issuer_override or p.iss,
                "token_endpoint": f"{p.base}/token",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "jwks_uri": f"{p.base}/jwks",
                "authorization_endpoint": f"{p.base}/auth",
                "registration_endpoint": f"{p.base}/register",
                "scopes_supported": ["openid"],
                "response_types_supported": ["id_token"],
                "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    **p.platform_config_extra,
                    "product_family_code": p.product_family,
                    "version": "5.1+ (Build: 20251017)",
                    "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
                },
            }
        )

    @app.post("/register")
    def register():
        if request.headers.get("Authorization") != f"Bearer {p.registration_token}":
            return jsonify(error="invalid_token"), 401
        body = request.get_json()
        p.registrations.append(body)
        tool = body["https://purl.imsglobal.org/spec/lti-tool-configuration"]
        return jsonify(
            {
                "client_id": p.client_id,
                "jwks_uri": body["jwks_uri"],
                "initiate_login_uri": body["initiate_login_uri"],
                "redirect_uris": body["redirect_uris"],
                "token_endpoint_auth_method": "private_key_jwt",
                "scope": body["scope"],
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                    "version": "1.3.0",
                    "deployment_id": p.deployment_id,
                    "target_link_uri": tool["target_link_uri"],
                    "domain": tool["domain"],
                    "claims": tool["claims"],
                },
            }
        )

    return app


class Served:
    """A WSGI app on 127.0.0.1:<free port> in a thread; with ``ssl_context`` over TLS, its URL on
    ``host`` (a name the browser maps to 127.0.0.1)."""

    def __init__(self, app, port: int = 0, *, ssl_context=None, host: str = "127.0.0.1"):
        self.server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=ssl_context)
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


# ---- a minimal browser ---------------------------------------------------------------------------


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": (a.get("method") or "get").lower(), "fields": {}})
        elif tag == "input" and self.forms and a.get("name") and a.get("type") in ("hidden", None, "text"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def forms(page) -> list[dict[str, Any]]:
    """The forms of a page (a ``requests`` response, or HTML): ``[{"action", "method", "fields"}]``,
    actions made absolute against the page's URL."""
    from urllib.parse import urljoin

    html, base = (page, "") if isinstance(page, str) else (page.text, page.url)
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        form["action"] = urljoin(base, form["action"] or "")
    return parser.forms


class Browser:
    """A person's browser: a cookie jar, redirects, and auto-submitted forms (as the JS would)."""

    def __init__(self):
        self.http = requests.Session()
        self.http.headers.update({"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "en"})

    def open_from_platform(self, platform: Platform, user: str, **params) -> requests.Response:
        """Click the activity in the course: login at the tool, auth at the platform, return the
        platform's auto-post form response (not yet posted to the tool)."""
        if "custom" in params:
            params["custom"] = json.dumps(params["custom"])
        r = self.http.get(f"{platform.base}/launch", params={"user": user, **params}, timeout=10)
        return self.past_storage_put(r)

    def past_storage_put(self, r: requests.Response) -> requests.Response:
        """A login with ``lti_storage_target`` answers the tool's storage page (``lti/storage.html``,
        action ``put``); with no platform window to post to, its script goes straight on to the platform's
        auth URL (``next``), as this does."""
        found = re.search(r'<script type="application/json" id="lti-storage-data">(.*?)</script>', r.text, re.S)
        if r.status_code == 200 and found:
            data = json.loads(found.group(1))
            if data.get("action") == "put":
                return self.http.get(data["next"], timeout=10)
        return r

    def post_form(self, page, index: int = 0, **overrides) -> requests.Response:
        form = forms(page)[index]
        return self.http.post(form["action"], data={**form["fields"], **overrides}, timeout=20)

    def launch(self, platform: Platform, user: str, **params) -> requests.Response:
        r = self.open_from_platform(platform, user, **params)
        assert r.status_code == 200, r.text
        return self.post_form(r)
