"""LTI Dynamic Registration 1.0, tool side (https://www.imsglobal.org/spec/lti-dr/v1p0).

The platform opens ``/lti/register?openid_configuration=<url>&registration_token=<token>``; we read the
platform's OpenID configuration (section 3.4), check that its ``issuer`` has the same origin as the URL
it came from (section 3.5.1), post our client registration with the registration token as a bearer
token (section 3.5.2), store the answer's ``client_id`` and ``deployment_id`` (section 3.6) and the page
closes with the ``org.imsglobal.lti.close`` postMessage (section 3.7). The registration is stored
``pending``: an administrator approves it (as Moodle, too, leaves the new tool pending).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.db import new_public_id
from hub.i18n import lazy as _l
from hub.i18n import number
from hub.netguard import BlockedAddress, check_url, guarded_session

from .errors import RegistrationError, RegistrationQueueFull
from .models import PENDING, LtiRegistration
from .registrations import create_registration, url_problem

log = logging.getLogger(__name__)
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
TIMEOUT = 15
#: At most this many registrations wait for approval (the console's "waiting" box shows as many); dynamic
#: registrations beyond are refused until an administrator approves or rejects some.
MAX_PENDING = 50
#: Largest answer read from a platform (OpenID configuration, registration answer), bytes.
MAX_ANSWER_BYTES = 1024 * 1024


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def tool_urls(base_url: str) -> dict[str, str]:
    """The tool's LTI endpoints under ``base_url``: login, launch, jwks, register."""
    return {name: f"{base_url}/lti/{name}" for name in ("login", "launch", "jwks", "register")}


def tool_configuration(base_url: str) -> dict:
    """What an administrator enters in a platform that registers tools by hand (LTI 1.3 Core section 4,
    https://www.imsglobal.org/spec/lti/v1p3/#tool-configuration): ``login_url`` (OIDC login initiation),
    ``launch_url`` (target link URI), ``redirect_uris``, ``deep_linking_url``, ``jwks_url`` (public keys),
    and ``registration_url`` (for platforms with Dynamic Registration instead)."""
    urls = tool_urls(base_url)
    return {
        "login_url": urls["login"],
        "launch_url": urls["launch"],
        "redirect_uris": [urls["launch"]],
        "deep_linking_url": urls["launch"],
        "jwks_url": urls["jwks"],
        "registration_url": urls["register"],
    }


#: The tool's description in the platform's tool list (LTI-DR section 3.5.2, ``description``).
DESCRIPTION = (
    "Badge Hub awards Open Badges (2.0 and 3.0) for this course: link badges, award them by hand, on course "
    "completion or on a grade, and let learners download and share them."
)


def client_name(institution: str | None) -> str:
    """``Badge Hub (<institution>)``, or ``Badge Hub``: the name the platform lists the tool under, so
    two hubs registered in one platform are told apart."""
    return f"Badge Hub ({institution})" if institution else "Badge Hub"


#: Canvas's extension of the tool configuration (Canvas "Registration" guide,
#: https://developerdocs.instructure.com/services/canvas/external-tools/lti/file.registration): share the
#: learner's name and e-mail (the default is anonymous, and a badge needs the e-mail).
CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"


def registration_request(
    base_url: str,
    *,
    institution: str | None = None,
    registration_id: str | None = None,
    product_family: str | None = None,
) -> dict:
    """Our client registration (LTI-DR section 3.5.2, https://www.imsglobal.org/spec/lti-dr/v1p0#tool-configuration;
    OpenID Connect Dynamic Client Registration 1.0): ``client_name`` with the ``institution``, a
    ``logo_uri`` and a ``description``. With ``registration_id``, ``initiate_login_uri`` is the
    registration's own ``/lti/login/<registration id>``, so a platform that omits ``client_id`` from its
    login requests (Moodle, MDL-74221) still names the registration when two share one issuer."""
    urls = tool_urls(base_url)
    name = client_name(institution)
    login = f"{urls['login']}/{registration_id}" if registration_id else urls["login"]
    request = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": login,
        "redirect_uris": [urls["launch"]],
        "client_name": name,
        "logo_uri": f"{base_url}/lti/logo.png",
        "jwks_uri": urls["jwks"],
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIG: {
            "domain": urlsplit(urls["launch"]).netloc,
            "description": DESCRIPTION,
            "target_link_uri": urls["launch"],
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls["launch"], "label": name},
                {"type": "LtiDeepLinkingRequest", "target_link_uri": urls["launch"], "label": "Add a badge"},
            ],
        },
    }
    if product_family == "canvas":  # Canvas: the privacy level and where the tool appears
        tool = request[TOOL_CONFIG]
        tool[CANVAS_PRIVACY_LEVEL] = "public"
        tool["messages"][0]["placements"] = ["course_navigation"]
        tool["messages"][1]["placements"] = ["link_selection", "assignment_selection"]
    return request


def _read_json(response: requests.Response) -> object:
    """The answer's JSON, read up to :data:`MAX_ANSWER_BYTES`. Raises ValueError beyond that or for
    anything but JSON."""
    body = b""
    for chunk in response.iter_content(65536):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise ValueError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
    return json.loads(body)


def _call(http: requests.Session, method: str, url: str, *, allow_private: bool, **kwargs) -> object:
    """``method`` ``url`` through the guarded session, its JSON answer. Redirects are not followed.

    Raises:
        BlockedAddress: a non-public address (unless ``allow_private``), or not http(s).
        OSError: the host name does not resolve.
        requests.RequestException, ValueError: no answer, an error status, a redirect, not JSON.
    """
    check_url(url, allow_private=allow_private)
    with http.request(method, url, timeout=TIMEOUT, allow_redirects=False, stream=True, **kwargs) as r:
        if r.is_redirect:
            raise requests.HTTPError(f"{url} redirects to {r.headers.get('Location')!r}; redirects are not followed")
        if not r.ok:
            raise requests.HTTPError(f"{url} answered {r.status_code}: {r.raw.read(200, decode_content=True)!r}")
        return _read_json(r)


def _family(config: dict) -> str | None:
    """The platform's ``product_family_code`` from its OpenID configuration (LTI-DR section 3.4.1)."""
    platform = config.get(PLATFORM_CONFIG) or {}
    family = platform.get("product_family_code") if isinstance(platform, dict) else None
    return family if isinstance(family, str) else None


def pending_count(session: Session) -> int:
    """How many registrations wait for approval."""
    return session.scalar(select(func.count(LtiRegistration.id)).where(LtiRegistration.status == PENDING))


def register(
    session: Session, ctx: HubContext, openid_configuration: str, registration_token: str | None
) -> LtiRegistration:
    """Run the registration exchange and store the result as a pending registration.

    Every call goes through :func:`hub.netguard.guarded_session`: only public addresses
    unless ``HUB_LTI_ALLOW_PRIVATE_HOSTS``, no redirects, answers up to 1 MiB. The platform's URLs must be
    https (:func:`connectors.lti.registrations.url_problem`).

    Raises:
        RegistrationQueueFull: :data:`MAX_PENDING` registrations already wait for approval.
        RegistrationError: a URL that is not https or not public, unreadable configuration, issuer/URL
            origin mismatch, missing endpoints, or the platform refused the registration (the precise
            cause is in ``reason``).
    """
    sorry = _l("Badge Hub could not register with this platform. The administrator can find the cause in the log.")
    allow_private = ctx.settings.lti_allow_private_hosts
    waiting = pending_count(session)
    if waiting >= MAX_PENDING:
        raise RegistrationQueueFull(
            _l(
                "Too many platforms are waiting for approval in Badge Hub (%(n)s). Ask the Badge Hub "
                "administrator to approve or reject them, then register again.",
                n=number(waiting),
            ),
            reason=f"{waiting} registrations are pending (at most {MAX_PENDING})",
        )
    if url_problem(openid_configuration, allow_http=allow_private) is not None:
        raise RegistrationError(sorry, reason=f"openid_configuration is not an https URL: {openid_configuration!r}")
    with guarded_session(allow_private=allow_private) as http:
        try:
            config = _call(
                http, "GET", openid_configuration, allow_private=allow_private, headers={"Accept": "application/json"}
            )
        except BlockedAddress as exc:
            raise _blocked(exc) from None
        except (OSError, ValueError) as exc:  # requests.RequestException is an OSError
            raise RegistrationError(sorry, reason=f"cannot read {openid_configuration}: {exc}") from None
        issuer = config.get("issuer") if isinstance(config, dict) else None
        if not isinstance(issuer, str) or _origin(issuer) != _origin(openid_configuration):
            raise RegistrationError(
                sorry, reason=f"issuer {issuer!r} does not match the configuration URL {openid_configuration}"
            )
        missing = [
            k
            for k in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
            if not isinstance(config.get(k), str) or not config.get(k)
        ]
        if missing:
            raise RegistrationError(sorry, reason=f"openid configuration of {issuer} lacks {', '.join(missing)}")
        try:  # the hub calls these later (service tokens, key sets): they must be public too
            for key in ("token_endpoint", "jwks_uri"):
                check_url(config[key], allow_private=allow_private)
        except BlockedAddress as exc:
            raise _blocked(exc) from None
        except OSError as exc:
            raise RegistrationError(sorry, reason=f"{issuer}: cannot resolve {key} {config[key]}: {exc}") from None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if registration_token:
            headers["Authorization"] = f"Bearer {registration_token}"
        reg_id = new_public_id()
        body = registration_request(
            ctx.settings.base_url,
            institution=ctx.settings.institution or urlsplit(ctx.settings.base_url).hostname,
            registration_id=reg_id,
            product_family=_family(config),
        )
        endpoint = config["registration_endpoint"]
        try:
            answer = _call(http, "POST", endpoint, allow_private=allow_private, json=body, headers=headers)
            client_id = str(answer["client_id"])
        except BlockedAddress as exc:
            raise _blocked(exc) from None
        except requests.HTTPError as exc:
            raise RegistrationError(sorry, reason=f"{endpoint} refused the registration: {exc}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RegistrationError(sorry, reason=f"bad registration answer from {issuer}: {exc}") from None
    tool_conf = answer.get(TOOL_CONFIG) or {}
    deployment = tool_conf.get("deployment_id") if isinstance(tool_conf, dict) else None
    family = _family(config)
    scope, audience = answer.get("scope"), config.get("authorization_server")
    reg = create_registration(
        session,
        ctx,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"],
        auth_audience=audience if isinstance(audience, str) else None,
        key_set_url=config["jwks_uri"],
        deployment_ids=[str(deployment)] if deployment else [],
        name=family and f"{family} {issuer}",
        product_family_code=family,
        scopes=scope.split() if isinstance(scope, str) else [],
        status=PENDING,
        public_id=reg_id,
    )
    log.warning(
        "LTI dynamic registration from %s: client_id %s, deployment %s stored as pending registration %s; "
        "approve it in the console (/admin/lti) or with: badgehub lti approve %s",
        issuer,
        client_id,
        deployment,
        reg.public_id,
        reg.public_id,
    )
    return reg


def _blocked(exc: BlockedAddress) -> RegistrationError:
    """The person-facing refusal of a non-public address (which address it was goes to the log only)."""
    return RegistrationError(
        _l(
            "Badge Hub registers only platforms at public internet addresses; %(host)s is a local or private "
            "network address. The Badge Hub administrator can allow such addresses for development.",
            host=exc.host,
        ),
        reason=f"refused a non-public address: {exc}",
    )
