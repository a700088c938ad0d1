"""OIDC login initiation and launch validation (LTI 1.3 Core section 5, 1EdTech Security Framework 5.1).

Login stores ``state -> {nonce, iss, client_id, login params}`` in the shared store and sets a
per-state cookie (``Partitioned``, so that it survives third-party cookie blocking inside the LMS
iframe; with ``lti_storage_target`` also a proof kept in the platform's storage, 1EdTech LTI Client
Side postMessages); launch *takes* the state (single use, atomic across workers), requires the cookie
(or the platform-storage proof),
checks issuer, audience (``aud``/``azp``), signature against the platform's JWKS, ``exp`` and
``iat``/``nbf`` with up to :data:`FUTURE_LEEWAY` seconds of platform clock running ahead, that the
``nonce`` is the one issued for this state and never used before, the deployment, and the message
claims (pylti1p3's validators: ``sub``, version, roles, resource link / deep-linking settings).
A validated launch is kept in the store under a random launch id for :data:`LAUNCH_TTL` seconds.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from pylti1p3.exception import LtiException
from pylti1p3.message_launch import MessageLaunch
from sqlalchemy import select

from hub.context import HubContext
from hub.db import utcnow
from hub.i18n import lazy as _l

from .errors import LaunchRefused, SessionExpired
from .models import ACTIVE, LtiRegistration
from .registrations import DatabaseToolConf, find_deployment, find_registration
from .store import Store

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
STATE_TTL = 600  # seconds between login and launch
LAUNCH_TTL = 4 * 3600  # seconds a launch stays usable for the tool's pages
JWKS_TTL = 600  # seconds a platform's JWKS is cached (refetched at once on an unknown kid)
FUTURE_LEEWAY = 60  # seconds a platform clock may run ahead (iat/nbf in the future)
STATE_COOKIE = "lti1p3-{state}"
#: The platform-storage key holding a login's proof (LTI OIDC Login with Client Side postMessages).
STORAGE_KEY = "state_{state}"
#: Form field of the second launch post carrying the value read back from platform storage.
STORAGE_FIELD = "lti_storage_value"
#: A frame name a platform may give as ``lti_storage_target`` (anything else is ignored).
_FRAME_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "lti_deployment_id", "client_id")
#: What a person reads when a launch fails a check (the log says which).
SORRY = _l("The course tool could not verify this launch. Open it again from your course.")
_INSTRUCTOR = re.compile(r"(?:^|[#/])(Instructor|Administrator|SysAdmin)(?:$|#)")


class CookiesBlocked(LaunchRefused):
    """The launch arrived without the state cookie set at login (and platform storage, if offered, did
    not vouch for it): the browser blocks the tool's cookies in the LMS iframe.

    ``login_params``: the login's parameters (``iss``, ``client_id`` tell who may frame the page; the
    one-time ``lti_message_hint`` is never sent again). ``relaunch_url``: where a fresh launch of the
    same resource link starts at the platform (:func:`relaunch_url`), or None when it cannot be told.
    """

    def __init__(self, login_params: dict[str, str], relaunch_url: str | None = None):
        super().__init__("cookies blocked", reason="state cookie missing (third-party cookies blocked?)")
        self.login_params = login_params
        self.relaunch_url = relaunch_url


class StorageCheck(Exception):
    """The launch arrived without the state cookie, but its login stored a proof in the platform's
    storage (1EdTech LTI Client Side postMessages, https://www.imsglobal.org/spec/lti-cs-oidc/v0p1):
    the browser must read it back (``lti.get_data``) and post the launch again with the value.

    Attributes: ``target`` (the storage frame's name, ``_parent`` for the parent window), ``origin``
    (the platform origin that must answer: its OIDC auth URL's), ``key`` (the storage key), ``fields``
    (``id_token`` and ``state`` to post again), ``iss`` and ``client_id`` (the platform, which may
    frame the page). The state is not used up yet."""

    def __init__(self, target: str, origin: str, key: str, fields: dict[str, str], *, iss: str, client_id: str):
        super().__init__("platform storage check")
        self.target, self.origin, self.key, self.fields = target, origin, key, fields
        self.iss, self.client_id = iss, client_id


# ---- login ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """A started OIDC login: ``redirect_url`` (the platform's authorization URL with the auth request),
    ``state`` (its cookie goes on the response) and, when the platform offered its storage
    (``lti_storage_target``), ``storage``: ``{"target", "origin", "key", "value"}`` for ``lti.put_data``
    before the redirect (https://www.imsglobal.org/spec/lti-cs-oidc/v0p1)."""

    redirect_url: str
    state: str
    storage: dict[str, str] | None = None


def storage_target(value: str | None) -> str | None:
    """The ``lti_storage_target`` a platform sent (a frame name, ``_parent`` for the parent window), or
    None when absent or not a plain frame name (https://www.imsglobal.org/spec/lti-cs-oidc/v0p1)."""
    return value if value and _FRAME_NAME.match(value) else None


def start_login(
    ctx: HubContext,
    store: Store,
    params: dict[str, str],
    *,
    launch_url: str,
    tool_host: str,
    registration: str | None = None,
) -> Login:
    """Handle an OIDC third-party-initiated login (GET or POST parameters ``params``); ``registration``:
    the public id in the registration's own login URL (``/lti/login/<id>``), if it came that way.

    With ``lti_storage_target`` the login also keeps a random proof to put in the platform's storage
    (``storage`` of the result); the launch accepts it instead of the state cookie.

    Returns:
        :class:`Login`.

    Raises:
        LaunchRefused: missing ``iss``/``login_hint``, a ``target_link_uri`` on another host, or no
            active registration for (``iss``, ``client_id``).
    """
    iss, hint, client_id = params.get("iss"), params.get("login_hint"), params.get("client_id") or None
    if not iss or not hint:
        raise LaunchRefused(
            _l("The course tool was opened without the data it needs."), reason="login without iss or login_hint"
        )
    target = params.get("target_link_uri") or ""
    if target and _host(target) != tool_host:
        raise LaunchRefused(
            _l("The course tool was opened without the data it needs."),
            reason=f"login target_link_uri {target!r} is not on this tool's host {tool_host}",
        )
    with ctx.db.session_scope() as session:  # closed before the store is used (SQLite has one writer)
        if registration:
            reg = session.scalar(select(LtiRegistration).where(LtiRegistration.public_id == registration))
            if reg is not None and (reg.issuer != iss or client_id not in (None, reg.client_id)):
                reg = None  # another platform's login URL: refused below as unknown
        else:
            reg = find_registration(session, iss, client_id)
            if reg is None and client_id is None:
                _refuse_without_client_id(session, iss)
    if reg is None or reg.status != ACTIVE:
        raise LaunchRefused(
            _l(
                "This learning platform is not registered with Badge Hub (or not yet approved). Ask your administrator."
            ),
            reason=f"login from unknown or inactive registration iss={iss} client_id={client_id} "
            f"({'pending' if reg else 'unknown'})",
        )
    state, nonce = "state-" + secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    login = {k: params[k] for k in LOGIN_PARAMS if params.get(k)}
    pending: dict[str, Any] = {"nonce": nonce, "iss": iss, "client_id": reg.client_id, "login": login}
    storage = None
    target = storage_target(params.get("lti_storage_target"))
    platform_origin = _origin(reg.auth_login_url)
    if target and platform_origin:
        storage = {
            "target": target,
            "origin": platform_origin,
            "key": STORAGE_KEY.format(state=state),
            "value": secrets.token_urlsafe(24),
        }
        pending["storage"] = storage
    store.put(f"state:{state}", pending, STATE_TTL)
    auth = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": reg.client_id,
        "redirect_uri": launch_url,
        "state": state,
        "nonce": nonce,
        "login_hint": hint,
    }
    if params.get("lti_message_hint"):
        auth["lti_message_hint"] = params["lti_message_hint"]
    sep = "&" if "?" in reg.auth_login_url else "?"
    return Login(reg.auth_login_url + sep + urlencode(auth), state, storage)


def _refuse_without_client_id(session, iss: str) -> None:
    """A login without ``client_id`` to the shared login URL, from an issuer with several registrations
    (two schools on one hosted LMS): say exactly that, and how to fix it. Returns when the issuer has
    fewer than two registrations (then it is simply unknown).

    Raises:
        LaunchRefused: the issuer has several registrations.
    """
    regs = session.scalars(select(LtiRegistration).where(LtiRegistration.issuer == iss)).all()
    if len(regs) < 2:
        return
    listed = ", ".join(f"{r.public_id} (client_id {r.client_id})" for r in regs)
    raise LaunchRefused(
        _l(
            "Badge Hub has several registrations for this learning platform, and the platform did not say "
            "which one this activity uses. Ask the administrator to set the tool's login URL to the one "
            "Badge Hub shows for its registration."
        ),
        reason=f"login from iss={iss} without client_id to the shared login URL, and {len(regs)} registrations "
        f"share this issuer: {listed}. Fix: in the platform's tool settings set 'Initiate login URL' to the "
        f"registration's own /lti/login/<registration id> (shown on its console page), or make the platform "
        f"send client_id",
    )


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme in ("http", "https") and parts.netloc else None


def relaunch_url(login: dict[str, str]) -> str | None:
    """Where a fresh launch of the login's resource link starts at the platform, for a new window.

    The platform's one-time ``lti_message_hint`` is never sent again (Moodle answers a used one with an
    error): the new window opens the platform's own launch page, which signs the person in there (a
    first-party window) and starts a new OIDC login. Moodle's hint is JSON naming the course module
    (``{"cmid": 7, "launchid": "ltilaunch3_..."}``, ``lti_build_login_request`` in mod/lti/locallib.php),
    whose launch page is ``<issuer>/mod/lti/launch.php?id=<cmid>`` (Moodle's issuer is its wwwroot).

    Returns:
        The absolute URL, or None when the platform's launch page cannot be told from the login.
    """
    iss = login.get("iss") or ""
    try:
        hint = json.loads(login.get("lti_message_hint") or "")
    except ValueError:
        return None
    cmid = hint.get("cmid") if isinstance(hint, dict) else None
    if isinstance(cmid, bool) or not re.fullmatch(r"[0-9]{1,18}", str(cmid)) or _origin(iss) is None:
        return None
    return iss.rstrip("/") + "/mod/lti/launch.php?" + urlencode({"id": str(cmid)})


# ---- launch ------------------------------------------------------------------------------------


class _NoSession:
    """pylti1p3 insists on session and cookie services; this tool keeps state in its own store."""


class _Validator(MessageLaunch):
    """pylti1p3's message launch, used for its JWT parsing, registration lookup, JWKS key selection and
    message validators; the validation order and the state, nonce, time and audience checks are ours."""

    def __init__(self, request_data: dict[str, str], tool_conf: DatabaseToolConf, store: Store):
        super().__init__(None, tool_conf, session_service=_NoSession(), cookie_service=_NoSession())
        self._data, self._store = request_data, store
        self.set_auto_validation(False)  # validate_launch runs the checks, in its own order

    def _get_request_param(self, key: str) -> str:
        return self._data.get(key)

    def fetch_public_key(self, key_set_url: str):
        cached = self._store.get(f"jwks:{key_set_url}")
        if cached and not getattr(self, "_refetch", False):
            return cached
        try:
            resp = self._requests_session.get(key_set_url, timeout=10)
            keys = resp.json()
        except Exception as exc:  # requests or JSON errors: the platform's JWKS is unusable
            raise LtiException(f"cannot read the platform JWKS {key_set_url}: {exc}") from exc
        self._store.put(f"jwks:{key_set_url}", keys, JWKS_TTL)
        return keys

    def public_key(self):
        try:
            return self.get_public_key()
        except LtiException as exc:
            if "Unable to find public key" not in str(exc):
                raise
            # The platform may have rotated its key since we cached its JWKS: refetch once.
            self._refetch = True
            self._registration.set_key_set(None)
            return self.get_public_key()


@dataclass(frozen=True)
class Launch:
    """A validated launch: the id_token claims and the launch id that names it in the store."""

    launch_id: str
    claims: dict[str, Any]

    @property
    def iss(self) -> str:
        return self.claims["iss"]

    @property
    def client_id(self) -> str:
        return self.claims["badgehub_client_id"]

    @property
    def sub(self) -> str:
        return self.claims["sub"]

    @property
    def deployment_id(self) -> str:
        return self.claims[CLAIM + "deployment_id"]

    @property
    def roles(self) -> list[str]:
        return list(self.claims.get(CLAIM + "roles") or [])

    @property
    def is_instructor(self) -> bool:
        """Any LTI instructor or administrator role (context, institution or system; sub-roles too),
        https://www.imsglobal.org/spec/lti/v1p3/#role-vocabularies."""
        return any(_INSTRUCTOR.search(r) for r in self.roles)

    @property
    def context(self) -> dict[str, Any]:
        return self.claims.get(CLAIM + "context") or {}

    @property
    def context_id(self) -> str | None:
        return self.context.get("id")

    @property
    def message_type(self) -> str:
        return self.claims.get(CLAIM + "message_type", "")

    @property
    def is_deep_link(self) -> bool:
        return self.message_type == "LtiDeepLinkingRequest"

    @property
    def custom(self) -> dict[str, str]:
        return self.claims.get(CLAIM + "custom") or {}

    @property
    def locale(self) -> str | None:
        """The ``launch_presentation.locale`` claim (e.g. ``pl-PL``), or None."""
        presentation = self.claims.get(CLAIM + "launch_presentation")
        locale = presentation.get("locale") if isinstance(presentation, dict) else None
        return locale if isinstance(locale, str) else None

    @property
    def email(self) -> str | None:
        return self.claims.get("email") or None

    @property
    def name(self) -> str | None:
        given = " ".join(p for p in (self.claims.get("given_name"), self.claims.get("family_name")) if p)
        return self.claims.get("name") or given or None


def validate_launch(
    ctx: HubContext, store: Store, form: dict[str, str], cookies: dict[str, str], *, same_origin: bool = False
) -> Launch:
    """Validate an LTI 1.3 launch (form fields ``id_token`` and ``state``) and keep it in the store.

    The browser that started the login must be the one launching: its state cookie came back, or (when
    the platform offered its storage at login) the tool's own check page read the login's proof back
    from the platform's storage and posted it in :data:`STORAGE_FIELD` (``same_origin``: the request
    came from a page of the tool itself, ``Sec-Fetch-Site: same-origin``; a proof posted from anywhere
    else is refused).

    Raises:
        StorageCheck: no cookie, but platform storage may hold the proof (the state is not used up).
        CookiesBlocked: the state is valid but neither its cookie nor platform storage vouched for it.
        LaunchRefused: any failed check; ``reason`` names it precisely for the log.
    """
    id_token, state = form.get("id_token") or "", form.get("state") or ""
    sorry = SORRY
    if not id_token or not state:
        raise LaunchRefused(sorry, reason="launch without id_token or state")
    expired = LaunchRefused(
        _l("This launch has expired or was already used. Open the tool again from your course."),
        reason="unknown, expired or already used state (replayed launch?)",
    )
    cookie_ok = cookies.get(STATE_COOKIE.format(state=state)) == state
    proof = form.get(STORAGE_FIELD)
    if not cookie_ok and proof is None:
        peek = store.get(f"state:{state}")
        storage = (peek or {}).get("storage")
        if storage:
            fields = {"id_token": id_token, "state": state}
            raise StorageCheck(
                storage["target"],
                storage["origin"],
                storage["key"],
                fields,
                iss=peek["iss"],
                client_id=peek["client_id"],
            )
    pending = store.take(f"state:{state}")
    if pending is None:
        raise expired
    if not cookie_ok:
        storage = pending.get("storage") or {}
        if proof and not same_origin:
            raise LaunchRefused(sorry, reason="platform storage proof posted from outside the tool's check page")
        expected = str(storage.get("value") or "").encode()
        if not (proof and expected and hmac.compare_digest(proof.encode(), expected)):
            login = pending.get("login") or {}
            raise CookiesBlocked(login, relaunch_url(login))
        log.info("LTI launch state confirmed by platform storage (no cookie) iss=%s", pending["iss"])

    # Database reads happen in short units of work, never around the store or platform calls.
    v = _Validator({"id_token": id_token, "state": state}, None, store)
    where = f"iss={pending['iss']} client_id={pending['client_id']}"
    try:
        v.validate_jwt_format()
    except LtiException as exc:
        raise LaunchRefused(sorry, reason=f"malformed id_token: {exc} ({where})") from None
    body = v._jwt["body"]
    if body.get("iss") != pending["iss"]:
        raise LaunchRefused(sorry, reason=f"id_token iss {body.get('iss')!r} differs from the login's ({where})")
    aud = body.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    client_id = pending["client_id"]
    # A wrong audience is refused once the signature is checked: a platform-signed token naming another
    # audience is Moodle's leftover LTI 1.1 consumer key (consumer_key_audience), not an attack.
    wrong_audience = client_id not in auds or (len(auds) > 1 and body.get("azp") != client_id)
    with ctx.db.session_scope() as session:
        tool_conf = DatabaseToolConf(ctx, session)
        reg_row = tool_conf.row(pending["iss"], client_id)
        if reg_row is None:
            raise LaunchRefused(sorry, reason=f"registration disappeared or was deactivated ({where})")
        v._registration = tool_conf.find_registration_by_params(pending["iss"], client_id)
        reg_public_id = reg_row.public_id
    try:
        key, alg = v.public_key()
    except LtiException as exc:
        raise LaunchRefused(sorry, reason=f"no platform key for the id_token: {exc} ({where})") from None
    try:
        # Audience checked above; iat/nbf checked below with our own leeway for platform clocks ahead.
        jwt.decode(
            id_token,
            key,
            algorithms=[alg],
            options={"verify_aud": False, "verify_iat": False, "verify_nbf": False, "require": ["exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise LaunchRefused(
            _l("This launch has expired. Open the tool again from your course."),
            reason=f"expired id_token (exp={body.get('exp')}, now={int(time.time())}) ({where})",
        ) from None
    except jwt.InvalidTokenError as exc:
        raise LaunchRefused(sorry, reason=f"bad id_token signature or claims: {exc} ({where})") from None
    if wrong_audience:
        moodle = (body.get(CLAIM + "tool_platform") or {}).get("product_family_code") == "moodle"
        if moodle and len(auds) == 1 and isinstance(auds[0], str):
            consumer_key_audience(store, reg_public_id, body, client_id, where)
        raise LaunchRefused(
            sorry, reason=f"wrong audience: aud={aud!r} azp={body.get('azp')!r}, expected {client_id!r} ({where})"
        )
    try:
        deployment_id = _check_signed_launch(ctx, store, v, body, pending, where)
    except LaunchRefused as exc:
        # The platform signed these claims: refuse in the language the person uses there.
        exc.locale = Launch("", body).locale
        raise

    launch_id = secrets.token_urlsafe(32)
    claims = {**body, "badgehub_client_id": client_id, "badgehub_registration": reg_public_id}
    store.put(f"launch:{launch_id}", claims, LAUNCH_TTL)
    log.info(
        "LTI launch %s: %s sub=%s deployment=%s context=%s (%s)",
        launch_id[:8],
        claims.get(CLAIM + "message_type"),
        body.get("sub"),
        deployment_id,
        (body.get(CLAIM + "context") or {}).get("id"),
        where,
    )
    return Launch(launch_id, claims)


#: How long the console shows a registration's last misconfigured activity (seconds).
PROBLEM_TTL = 30 * 24 * 3600


def problem_key(reg_public_id: str) -> str:
    """The store key of a registration's last launch problem the administrator should fix."""
    return f"problem:{reg_public_id}"


def consumer_key_audience(store: Store, reg_public_id: str, body: dict, client_id: str, where: str) -> None:
    """Refuse a platform-signed id_token whose ``aud`` is one value other than the registration's
    ``client_id``: Moodle sends an External tool activity's LTI 1.1 *Consumer key* (``resourcekey``,
    left over from an LTI 1.1 set-up) as ``aud`` instead of the LTI 1.3 client id (Moodle
    ``mod/lti/locallib.php``, ``lti_sign_jwt``). The person is told the activity is misconfigured; the
    log line and the registration's console page (:func:`problem_key`, kept :data:`PROBLEM_TTL`) give
    the administrator the exact fix.

    Raises:
        LaunchRefused: always.
    """
    aud = body.get("aud")
    key = aud[0] if isinstance(aud, list) else aud
    context = body.get(CLAIM + "context") or {}
    link = body.get(CLAIM + "resource_link") or {}
    activity = f"activity {link.get('title') or '?'!r} (resource link {link.get('id') or '?'})"
    course = f"course {context.get('title') or context.get('label') or '?'!r} (id {context.get('id') or '?'})"
    fix = (
        f"In the platform, edit the {activity} in {course}: under 'Show more...', clear 'Consumer key' "
        f"(now {key!r}) and 'Shared secret', and save; the launch then carries the client id {client_id!r}."
    )
    log.warning(
        "LTI launch refused: the id_token's aud is %r, not the client id %r: an LTI 1.1 consumer key is set on "
        "the activity. Fix: %s (%s)",
        key,
        client_id,
        fix,
        where,
    )
    store.put(
        problem_key(reg_public_id),
        {"kind": "consumer_key_audience", "at": int(time.time()), "consumer_key": key, "fix": fix,
         "activity": activity, "course": course},
        PROBLEM_TTL,
    )  # fmt: skip
    refused = LaunchRefused(
        _l(
            "This activity is set up wrongly in your course: it still carries an old LTI 1.1 consumer key, so "
            "the learning platform does not name Badge Hub correctly. Ask your teacher or the site administrator "
            "to edit the activity and clear its Consumer key (under Show more...)."
        ),
        reason=f"id_token aud {key!r} is an LTI 1.1 consumer key, not the client id {client_id!r} ({where})",
    )
    refused.locale = Launch("", body).locale
    raise refused


def _check_signed_launch(ctx: HubContext, store: Store, v: _Validator, body: dict, pending: dict, where: str) -> str:
    """The checks after the id_token's signature: times, nonce, deployment, message claims. Returns the
    deployment id.

    Raises:
        LaunchRefused: a check failed (``pending_deployment`` set for an unknown or pending deployment).
    """
    sorry = SORRY
    client_id = pending["client_id"]
    now = time.time()
    for claim in ("iat", "nbf"):
        value = body.get(claim)
        if value is not None and (not isinstance(value, int | float) or value > now + FUTURE_LEEWAY):
            raise LaunchRefused(
                sorry, reason=f"id_token {claim}={value} is more than {FUTURE_LEEWAY}s in the future ({where})"
            )
    nonce = body.get("nonce")
    if not nonce or nonce != pending["nonce"]:
        raise LaunchRefused(sorry, reason=f"nonce does not match the one issued at login ({where})")
    if not store.add(f"nonce:{pending['iss']}:{nonce}", {}, STATE_TTL + FUTURE_LEEWAY):
        raise LaunchRefused(sorry, reason=f"nonce replay ({where})")

    deployment_id = body.get(CLAIM + "deployment_id")
    if not isinstance(deployment_id, str) or not deployment_id.strip():
        raise LaunchRefused(sorry, reason=f"empty or missing deployment_id ({where})")
    with ctx.db.session_scope() as session:
        reg_row = find_registration(session, pending["iss"], client_id)
        dep = find_deployment(session, reg_row, deployment_id)
        dep_ok = dep is not None and dep.status == ACTIVE
        if dep_ok:
            dep.last_seen_at = utcnow()
    if not dep_ok:
        refused = LaunchRefused(
            _l("This course tool placement is not yet approved by the Badge Hub administrator."),
            reason=f"unknown or pending deployment_id {deployment_id!r} ({where}); recorded for approval",
        )
        # The caller's unit of work rolls back with the refusal; it records this in a new one.
        refused.pending_deployment = (pending["iss"], client_id, deployment_id)
        raise refused
    try:
        v.validate_message()
    except LtiException as exc:
        raise LaunchRefused(sorry, reason=f"invalid launch message: {exc} ({where})") from None
    return deployment_id


def load_launch(store: Store, launch_id: str | None) -> Launch:
    """The stored launch named ``launch_id``.

    Raises:
        SessionExpired: unknown or expired launch id.
    """
    claims = store.get(f"launch:{launch_id}") if launch_id else None
    if claims is None:
        raise SessionExpired(
            _l("This page has expired. Open the tool again from your course."), reason="unknown or expired launch id"
        )
    return Launch(launch_id, claims)
