"""Typed, frozen settings read once from ``HUB_*`` environment variables.

Every setting, its default and its meaning is listed in README.md ("Settings"). Values are parsed and
validated at start-up (:func:`load_settings`); a bad value raises :class:`hub.errors.ConfigurationError`
so the service fails fast instead of at the first request.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.crypto import SecretBox
from hub.errors import ConfigurationError

log = logging.getLogger(__name__)

JOB_MODES = ("thread", "sync", "worker")


@dataclass(frozen=True)
class Settings:
    """The hub's configuration. Build it with :func:`load_settings` (or ``Settings(...)`` in tests).

    Attributes:
        instance_path: folder for the SQLite file and generated secrets (``HUB_INSTANCE_PATH``).
        database_url: SQLAlchemy URL (``HUB_DATABASE_URL``); default ``sqlite:///<instance>/badgehub.db``.
        db_connect_timeout_seconds: PostgreSQL: the longest wait for a new or pooled connection, seconds
            (``HUB_DB_CONNECT_TIMEOUT_SECONDS``, at least 2); see :func:`hub.db.make_engine`.
        db_statement_timeout_ms: PostgreSQL: the server cancels a statement running longer, and the hub
            stops waiting for an answer that long plus the connect timeout, milliseconds; 0 for no limit
            (``HUB_DB_STATEMENT_TIMEOUT_MS``).
        base_url: public origin + optional path prefix used in every badge URL, no trailing slash.
        secret_key: Flask session/signing secret.
        key_encryption_key: Fernet key (urlsafe base64, 32 bytes) encrypting private keys and secrets.
        job_mode: ``thread`` (process events in-process after commit), ``sync`` (inside the request,
            after commit; for tests and the demo) or ``worker`` (leave them for ``badgehub worker``).
        max_body_bytes: largest accepted request body (webhooks, uploads), bytes.
        max_image_bytes / max_image_pixels: limits for uploaded badge images.
        worker_poll_seconds: how often an idle job runner (:mod:`hub.jobs.runner`) looks for work, seconds.
        stale_processing_seconds: an event or e-mail claimed longer ago than this is taken as abandoned
            by a crashed process and picked up again, seconds (processing is idempotent, so a slow
            process whose claim is taken over issues nothing twice).
        job_lease_seconds: a running job whose last heartbeat is older than this was abandoned by a
            crashed process and is started again, seconds.
        moodle_sync_minutes: how often the job runner syncs each enabled Moodle site with a token,
            minutes (a site's ``sync_every_minutes`` overrides it; 0 switches the schedule off).
        worker_threads: loop threads of each job runner (web process in ``thread`` mode, each
            ``badgehub worker``).
        log_level: root log level name.
        default_locale: language when neither the user nor ``Accept-Language`` decides (``pl``/``en``).
        admin_token: bearer token for ``/api/v1`` until per-user API tokens exist; None disables the API.
        mail_backend: ``console`` (log each message; default) or ``smtp`` (send through ``smtp_url``).
        smtp_url: ``smtp://user:password@host:port`` (``smtps://`` for implicit TLS; ``?starttls=1``).
        mail_from: the ``From`` header of the hub's e-mails.
        claim_link_days: how long a claim link in an award e-mail stays usable, days.
        login_link_minutes: how long a magic login link stays usable, minutes.
        redis_url: ``HUB_REDIS_URL`` (``redis://host:6379/0``), unset by default. When set, short-lived
            shared state (LTI login state, nonces, launch data, service access tokens) lives in Redis;
            when unset, in the database. Either way it is shared by every worker process.
        prerender_certificates: ``HUB_PRERENDER_CERTIFICATES`` (default off): on, the
            ``certificate.render`` job makes each award's PDF certificate and sharing preview after the
            award (and again when what they show changes), so downloads serve stored bytes. Off: each
            download renders in memory (public GETs never store anything), which costs CPU per download
            rather than per award.
        lti_allow_private_hosts: ``HUB_LTI_ALLOW_PRIVATE_HOSTS`` (default off). Off: LTI Dynamic
            Registration calls only hosts whose every address is public (no loopback, private,
            link-local, multicast or reserved address: SSRF protection), and platform URLs must be
            ``https://`` (``http://`` only for localhost). On (development, a platform on the local
            network): both are allowed.
        lti_grade_sync_minutes: ``HUB_LTI_GRADE_SYNC_MINUTES`` (default 15; 0 turns it off). How often the
            job runner reads the grades of every LTI course whose award rule is a grade threshold and
            awards the badges earned (job kind ``lti.grade_sync``, one job per course and interval).
        session_hours: ``HUB_SESSION_HOURS`` (default 12, at least 1): how long a console or learner
            sign-in lasts, hours (Flask's ``PERMANENT_SESSION_LIFETIME``; the cookie's ``Expires``).
        session_cookie_name: ``HUB_SESSION_COOKIE_NAME`` (default ``badgehub_session``): the session
            cookie's name, an RFC 6265 token (section 4.1.1) other than the cookies the hub sets itself.
        institution: ``HUB_INSTITUTION`` (default: the host of ``base_url``): the school or organisation
            running this hub, shown to platforms in LTI Dynamic Registration (``client_name`` "Badge Hub
            (<institution>)"), so two hubs in one LMS are told apart.
        trusted_proxies: ``HUB_TRUSTED_PROXIES`` (default: none). Which peers' ``X-Forwarded-For``,
            ``-Proto`` and ``-Host`` are believed (:mod:`hub.web.proxies`): an int ``n`` (that many
            proxies in front of every request, werkzeug ``ProxyFix``), or a tuple of addresses/CIDR
            networks (``10.0.0.0/8``, ``::1``) of the proxies. ``0`` / empty: none; the headers are
            ignored and the client is the socket's peer.
        verify_max_bytes: ``HUB_VERIFY_MAX_BYTES`` (default 4 MiB): the largest badge, PDF or pasted text
            the verifier (:mod:`hub.verification`) accepts, and the largest document it downloads.
        verify_fetch_timeout_seconds: ``HUB_VERIFY_FETCH_TIMEOUT_SECONDS`` (default 10): the longest one
            download of the verifier may take, connect to last byte (a slow server is cut off then).
        verify_allow_private_hosts: ``HUB_VERIFY_ALLOW_PRIVATE_HOSTS`` (default off): the verifier may
            fetch loopback and private addresses (development; off: public addresses only).
        verify_rate_limit: ``HUB_VERIFY_RATE_LIMIT`` (default ``20 per minute``): Flask-Limiter limit per
            client address for ``/verify`` and ``POST /api/v1/verify``.
        backpack_recheck_hours: ``HUB_BACKPACK_RECHECK_HOURS`` (default 24; 0 turns it off): how often the
            job runner re-verifies learners' imported badges (job kind ``backpack.reverify``).
        wallet_offer_minutes: ``HUB_WALLET_OFFER_MINUTES`` (default 10, at least 1): how long an OpenID4VCI
            credential offer (its pre-authorized code) and the access token it gives stay usable, minutes.
        wallet_rate_limit: ``HUB_WALLET_RATE_LIMIT`` (default ``30 per minute``): Flask-Limiter limit per
            client address for the OpenID4VCI offer, nonce and credential endpoints.
        obapi_access_token_minutes: ``HUB_OBAPI_ACCESS_TOKEN_MINUTES`` (default 60): lifetime of an Open
            Badges API access token (:mod:`hub.obapi`).
        obapi_refresh_token_days: ``HUB_OBAPI_REFRESH_TOKEN_DAYS`` (default 90): lifetime of its refresh
            token (each refresh replaces both).
        obapi_rate_limit: ``HUB_OBAPI_RATE_LIMIT`` (default ``60 per minute``): Flask-Limiter limit per
            client address for the Open Badges API, registration and token endpoints.
        webhook_allow_private_hosts: ``HUB_WEBHOOK_ALLOW_PRIVATE_HOSTS`` (default off). Off: outgoing
            webhook subscriptions must be ``https://`` URLs whose every address is public
            (:mod:`hub.netguard`). On (development, a receiver on the local network): both allowed.
        webhook_timeout_seconds: ``HUB_WEBHOOK_TIMEOUT_MS`` (default 10000) as seconds: connect and read
            timeout of one outgoing webhook delivery.
        webhook_retry_hours: ``HUB_WEBHOOK_RETRY_HOURS`` (default 72): how long a failing delivery is
            retried (exponential backoff) before it fails for good and its subscription is switched off.
    """

    instance_path: Path
    database_url: str
    base_url: str
    secret_key: str
    key_encryption_key: str
    job_mode: str = "thread"
    db_connect_timeout_seconds: int = 3
    db_statement_timeout_ms: int = 30_000
    max_body_bytes: int = 1024 * 1024
    max_image_bytes: int = 2 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096
    worker_poll_seconds: float = 1.0
    stale_processing_seconds: int = 60
    job_lease_seconds: int = 60
    moodle_sync_minutes: int = 60
    worker_threads: int = 2
    log_level: str = "INFO"
    default_locale: str = "pl"
    admin_token: str | None = None
    mail_backend: str = "console"
    smtp_url: str | None = None
    mail_from: str = "Badge Hub <badges@localhost>"
    claim_link_days: int = 30
    login_link_minutes: int = 30
    redis_url: str | None = None
    lti_allow_private_hosts: bool = False
    prerender_certificates: bool = False
    lti_grade_sync_minutes: int = 15
    session_hours: int = 12
    session_cookie_name: str = "badgehub_session"
    trusted_proxies: int | tuple[str, ...] = 0
    institution: str | None = None
    verify_max_bytes: int = 4 * 1024 * 1024
    verify_fetch_timeout_seconds: int = 10
    verify_allow_private_hosts: bool = False
    verify_rate_limit: str = "20 per minute"
    backpack_recheck_hours: int = 24
    wallet_offer_minutes: int = 10
    wallet_rate_limit: str = "30 per minute"
    obapi_access_token_minutes: int = 60
    obapi_refresh_token_days: int = 90
    obapi_rate_limit: str = "60 per minute"
    webhook_allow_private_hosts: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_retry_hours: int = 72
    extra: dict = field(default_factory=dict)

    @property
    def max_upload_bytes(self) -> int:
        """Largest console or API request body, bytes: :attr:`max_body_bytes` plus room for one image of
        :attr:`max_image_bytes` sent base64-encoded in JSON (4/3 of its size). Webhooks keep
        :attr:`max_body_bytes`."""
        return self.max_body_bytes + self.max_image_bytes * 4 // 3

    def with_(self, **changes) -> Settings:
        """Return a copy with ``changes`` applied (settings are frozen)."""
        return replace(self, **changes)


#: RFC 6265 section 4.1.1: a cookie name is an RFC 2616 token (visible ASCII but separators).
_TOKEN_SEPARATORS = frozenset('()<>@,;:\\"/[]?={} \t')
#: Cookies the hub or its libraries set under their own names (Flask-Login's remember-me cookie).
RESERVED_COOKIES = frozenset({"remember_token"})


def check_session_cookie_name(name: str) -> str:
    """``name`` when it can be the session cookie's name, else a ConfigurationError: an RFC 6265 token
    (1-64 visible ASCII characters, no separators), not a ``__Host-``/``__Secure-`` prefixed name (they
    need attributes the hub does not set on every origin), not a cookie the hub sets itself
    (:data:`RESERVED_COOKIES`) nor the LTI tool's ``lti1p3-state-*`` cookies."""
    if (
        not 1 <= len(name) <= 64
        or not all(33 <= ord(c) <= 126 and c not in _TOKEN_SEPARATORS for c in name)
        or name.lower().startswith(("__host-", "__secure-", "lti1p3-"))
        or name in RESERVED_COOKIES
    ):
        raise ConfigurationError(
            f"HUB_SESSION_COOKIE_NAME must be a cookie name (1-64 letters, digits or !#$%&'*+-.^_`|~, not "
            f"__Host-/__Secure-/lti1p3- prefixed, not {', '.join(sorted(RESERVED_COOKIES))}), got {name!r}"
        )
    return name


def _int(env: dict, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be 1/true/yes/on or 0/false/no/off, got {raw!r}")


def _choice(env: dict, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _redis_url(raw: str | None) -> str | None:
    """``HUB_REDIS_URL``: None when unset; else a ``redis://``, ``rediss://`` or ``unix://`` URL."""
    if not raw:
        return None
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationError(f"HUB_REDIS_URL must be a redis://, rediss:// or unix:// URL, got {raw!r}")
    return raw


def _warn_if_short(env: dict, name: str, minimum: int = 32) -> str | None:
    """The value of a secret setting; a short one works but is logged as weak (never the value itself)."""
    value = env.get(name) or None
    if value is not None and len(value) < minimum:
        log.warning("%s is only %d characters; use at least %d random characters", name, len(value), minimum)
    return value


def _secret_from_file(path: Path, make, what: str) -> str:
    """Read a generated secret from the instance folder, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    log.warning("%s was not set; generated one into %s. Set it explicitly in production.", what, path)
    return value


def load_settings(env: dict | None = None) -> Settings:
    """Parse settings from ``env`` (default ``os.environ``).

    Raises:
        ConfigurationError: a value is malformed (bad URL, bad Fernet key, unknown job mode, ...).
    """
    env = dict(os.environ if env is None else env)
    instance = Path(env.get("HUB_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    instance.mkdir(parents=True, exist_ok=True)

    database_url = env.get("HUB_DATABASE_URL") or f"sqlite:///{instance / 'badgehub.db'}"
    try:
        driver = make_url(database_url).get_backend_name()
    except ArgumentError:
        raise ConfigurationError(f"HUB_DATABASE_URL is not a database URL: {database_url!r}") from None
    if driver not in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(f"HUB_DATABASE_URL must be sqlite:// or postgresql://, got {driver}://")

    base_url = (env.get("HUB_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"HUB_BASE_URL must be an http(s) origin with optional path, got {base_url!r}")

    secret_key = _warn_if_short(env, "HUB_SECRET_KEY") or _secret_from_file(
        instance / "secret_key", lambda: secrets.token_urlsafe(48), "HUB_SECRET_KEY"
    )
    kek = env.get("HUB_KEY_ENCRYPTION_KEY") or _secret_from_file(
        instance / "key_encryption_key", lambda: Fernet.generate_key().decode(), "HUB_KEY_ENCRYPTION_KEY"
    )
    try:
        SecretBox(kek)
    except (ValueError, TypeError):
        raise ConfigurationError(
            "HUB_KEY_ENCRYPTION_KEY must be a Fernet key (32 bytes, url-safe base64); "
            "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None

    job_mode = _choice(env, "HUB_JOB_MODE", "thread", JOB_MODES)

    log_level = (env.get("HUB_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigurationError(f"HUB_LOG_LEVEL is not a log level: {log_level!r}")

    return Settings(
        instance_path=instance,
        database_url=database_url,
        base_url=base_url,
        secret_key=secret_key,
        key_encryption_key=kek,
        job_mode=job_mode,
        db_connect_timeout_seconds=_int(env, "HUB_DB_CONNECT_TIMEOUT_SECONDS", 3, 2),
        db_statement_timeout_ms=_int(env, "HUB_DB_STATEMENT_TIMEOUT_MS", 30_000, 0),
        max_body_bytes=_int(env, "HUB_MAX_BODY_BYTES", 1024 * 1024, 1024),
        max_image_bytes=_int(env, "HUB_MAX_IMAGE_BYTES", 2 * 1024 * 1024, 1024),
        max_image_pixels=_int(env, "HUB_MAX_IMAGE_PIXELS", 4096 * 4096, 1),
        worker_poll_seconds=float(_int(env, "HUB_WORKER_POLL_MS", 1000, 10)) / 1000,
        stale_processing_seconds=_int(env, "HUB_STALE_PROCESSING_SECONDS", 60, 1),
        job_lease_seconds=_int(env, "HUB_JOB_LEASE_SECONDS", 60, 1),
        moodle_sync_minutes=_int(env, "HUB_MOODLE_SYNC_MINUTES", 60, 0),
        worker_threads=_int(env, "HUB_WORKER_THREADS", 2, 1),
        log_level=log_level,
        admin_token=_warn_if_short(env, "HUB_ADMIN_TOKEN"),
        redis_url=_redis_url(env.get("HUB_REDIS_URL")),
        default_locale=_choice(env, "HUB_DEFAULT_LOCALE", "pl", ("pl", "en")),
        mail_backend=_mail_backend(env),
        smtp_url=env.get("HUB_SMTP_URL") or None,
        mail_from=env.get("HUB_MAIL_FROM") or "Badge Hub <badges@localhost>",
        claim_link_days=_int(env, "HUB_CLAIM_LINK_DAYS", 30, 1),
        login_link_minutes=_int(env, "HUB_LOGIN_LINK_MINUTES", 30, 1),
        lti_allow_private_hosts=_bool(env, "HUB_LTI_ALLOW_PRIVATE_HOSTS", False),
        prerender_certificates=_bool(env, "HUB_PRERENDER_CERTIFICATES", False),
        lti_grade_sync_minutes=_int(env, "HUB_LTI_GRADE_SYNC_MINUTES", 15, 0),
        session_hours=_int(env, "HUB_SESSION_HOURS", 12, 1),
        session_cookie_name=check_session_cookie_name(env.get("HUB_SESSION_COOKIE_NAME") or "badgehub_session"),
        trusted_proxies=_trusted_proxies(env.get("HUB_TRUSTED_PROXIES")),
        institution=(env.get("HUB_INSTITUTION") or "").strip()[:100] or None,
        verify_max_bytes=_int(env, "HUB_VERIFY_MAX_BYTES", 4 * 1024 * 1024, 1024),
        verify_fetch_timeout_seconds=_int(env, "HUB_VERIFY_FETCH_TIMEOUT_SECONDS", 10, 1),
        verify_allow_private_hosts=_bool(env, "HUB_VERIFY_ALLOW_PRIVATE_HOSTS", False),
        verify_rate_limit=env.get("HUB_VERIFY_RATE_LIMIT") or "20 per minute",
        backpack_recheck_hours=_int(env, "HUB_BACKPACK_RECHECK_HOURS", 24, 0),
        wallet_offer_minutes=_int(env, "HUB_WALLET_OFFER_MINUTES", 10, 1),
        wallet_rate_limit=env.get("HUB_WALLET_RATE_LIMIT") or "30 per minute",
        obapi_access_token_minutes=_int(env, "HUB_OBAPI_ACCESS_TOKEN_MINUTES", 60, 1),
        obapi_refresh_token_days=_int(env, "HUB_OBAPI_REFRESH_TOKEN_DAYS", 90, 1),
        obapi_rate_limit=env.get("HUB_OBAPI_RATE_LIMIT") or "60 per minute",
        webhook_allow_private_hosts=_bool(env, "HUB_WEBHOOK_ALLOW_PRIVATE_HOSTS", False),
        webhook_timeout_seconds=_int(env, "HUB_WEBHOOK_TIMEOUT_MS", 10_000, 100) / 1000,
        webhook_retry_hours=_int(env, "HUB_WEBHOOK_RETRY_HOURS", 72, 1),
    )


def _trusted_proxies(raw: str | None) -> int | tuple[str, ...]:
    """``HUB_TRUSTED_PROXIES``: empty -> 0 (none); a whole number -> that many proxy hops; else a
    comma-separated list of IPv4/IPv6 addresses or CIDR networks, returned normalised.

    Raises:
        ConfigurationError: a negative count or an entry that is not an address or network.
    """
    import ipaddress

    raw = (raw or "").strip()
    if not raw:
        return 0
    if raw.isdigit():
        return int(raw)
    found = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigurationError(
                f"HUB_TRUSTED_PROXIES must be a number of proxies or a comma-separated list of addresses or "
                f"networks (e.g. 10.0.0.0/8,::1), got {part!r}"
            ) from None
    return tuple(found)


def _mail_backend(env: dict) -> str:
    backend = _choice(env, "HUB_MAIL_BACKEND", "console", ("console", "smtp"))
    if backend == "smtp" and urlsplit(env.get("HUB_SMTP_URL") or "").scheme not in ("smtp", "smtps"):
        raise ConfigurationError("HUB_MAIL_BACKEND=smtp needs HUB_SMTP_URL=smtp[s]://[user:password@]host[:port]")
    return backend
