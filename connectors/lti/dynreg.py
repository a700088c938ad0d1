"""LTI Dynamic Registration 1.0, tool side (https://www.imsglobal.org/spec/lti-dr/v1p0).

The platform opens ``/lti/register?openid_configuration=<url>&registration_token=<token>``; we read the
platform's OpenID configuration (section 3.4), check that its ``issuer`` has the same origin as the URL
it came from (section 3.5.1), post our client registration with the registration token as a bearer
token (section 3.5.2), store the answer's ``client_id`` and ``deployment_id`` (section 3.6) and the page
closes with the ``org.imsglobal.lti.close`` postMessage (section 3.7). The registration is stored
``pending``: an administrator approves it (as Moodle, too, leaves the new tool pending).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.i18n import lazy as _l

from .errors import RegistrationError
from .models import PENDING, LtiRegistration
from .registrations import create_registration

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


def registration_request(base_url: str, client_name: str = "Badge Hub") -> dict:
    """Our client registration (LTI-DR section 3.5.2, OpenID Connect Dynamic Client Registration 1.0)."""
    urls = tool_urls(base_url)
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls["login"],
        "redirect_uris": [urls["launch"]],
        "client_name": client_name,
        "jwks_uri": urls["jwks"],
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIG: {
            "domain": urlsplit(urls["launch"]).netloc,
            "target_link_uri": urls["launch"],
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls["launch"], "label": client_name},
                {"type": "LtiDeepLinkingRequest", "target_link_uri": urls["launch"], "label": "Add a badge"},
            ],
        },
    }


def register(
    session: Session, ctx: HubContext, openid_configuration: str, registration_token: str | None
) -> LtiRegistration:
    """Run the registration exchange and store the result as a pending registration.

    Raises:
        RegistrationError: unreadable configuration, issuer/URL origin mismatch, missing endpoints, or
            the platform refused the registration (the precise cause is in ``reason``).
    """
    sorry = _l("Badge Hub could not register with this platform. The administrator can find the cause in the log.")
    if _origin(openid_configuration)[0] not in ("http", "https"):
        raise RegistrationError(sorry, reason=f"openid_configuration is not an http(s) URL: {openid_configuration!r}")
    try:
        r = requests.get(openid_configuration, timeout=TIMEOUT, headers={"Accept": "application/json"})
        r.raise_for_status()
        config = r.json()
    except (requests.RequestException, ValueError) as exc:
        raise RegistrationError(sorry, reason=f"cannot read {openid_configuration}: {exc}") from None
    issuer = config.get("issuer") if isinstance(config, dict) else None
    if not issuer or _origin(issuer) != _origin(openid_configuration):
        raise RegistrationError(
            sorry, reason=f"issuer {issuer!r} does not match the configuration URL {openid_configuration}"
        )
    missing = [
        k
        for k in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
        if not config.get(k)
    ]
    if missing:
        raise RegistrationError(sorry, reason=f"openid configuration of {issuer} lacks {', '.join(missing)}")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    body = registration_request(ctx.settings.base_url)
    try:
        r = requests.post(config["registration_endpoint"], json=body, headers=headers, timeout=TIMEOUT)
        r.raise_for_status()
        answer = r.json()
        client_id = str(answer["client_id"])
    except requests.HTTPError as exc:
        raise RegistrationError(
            sorry, reason=f"{config['registration_endpoint']} refused the registration: {exc} {r.text[:200]}"
        ) from None
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise RegistrationError(sorry, reason=f"bad registration answer from {issuer}: {exc}") from None
    tool_conf = answer.get(TOOL_CONFIG) or {}
    deployment = tool_conf.get("deployment_id")
    platform = config.get(PLATFORM_CONFIG) or {}
    reg = create_registration(
        session,
        ctx,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"],
        auth_audience=config.get("authorization_server"),
        key_set_url=config["jwks_uri"],
        deployment_ids=[str(deployment)] if deployment else [],
        name=platform.get("product_family_code") and f"{platform.get('product_family_code')} {issuer}",
        product_family_code=platform.get("product_family_code"),
        scopes=(answer.get("scope") or "").split(),
        status=PENDING,
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
