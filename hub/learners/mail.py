"""Outgoing e-mail: a console backend (default; each message is logged, and kept in memory for the
demo and tests) and an SMTP backend (``HUB_MAIL_BACKEND=smtp``, ``HUB_SMTP_URL``), both behind
:class:`Mailer`. Messages are built with the stdlib :mod:`email` package (RFC 5322, UTF-8)."""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from hub.errors import HubError
from hub.i18n import N_
from hub.settings import Settings

log = logging.getLogger(__name__)


class MailError(HubError):
    """The mail server refused or could not be reached; the caller keeps the message for a retry."""

    status = 503
    slug = "mail-unavailable"
    title = N_("E-mail could not be sent")


@dataclass(frozen=True)
class Message:
    """One plain-text e-mail: ``to`` address, ``subject``, ``text`` body, ``locale`` (``Content-Language``),
    ``message_id`` (RFC 5322 ``Message-ID``, the same on every attempt at one e-mail; None: made by
    the mail server)."""

    to: str
    subject: str
    text: str
    locale: str = "en"
    message_id: str | None = None


def fold_header(value: str) -> str:
    """A header value on one line: line breaks and other control characters (from a badge or a
    person's name) become spaces, so they can neither inject headers nor make the message unbuildable
    (RFC 5322 §2.2)."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in value).split())


class Mailer(Protocol):
    def ready(self) -> None:
        """Make sure the calling thread can hand a message over at once (for SMTP: a connection open,
        greeted, TLS and login done), so that a following :meth:`send` is only the message's own
        exchange. Raises MailError when the server cannot be reached."""

    def send(self, message: Message) -> None:
        """Send ``message``. Raises MailError when it cannot be delivered to the server."""


def _build(message: Message, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = fold_header(message.to)
    msg["Subject"] = fold_header(message.subject)
    msg["Content-Language"] = message.locale
    if message.message_id:
        msg["Message-ID"] = message.message_id
    msg.set_content(message.text)
    return msg


class ConsoleMailer:
    """Logs every message (INFO, logger ``hub.learners.mail``) and keeps the last 1,000 in ``sent``."""

    def __init__(self, sender: str):
        self.sender = sender
        self.sent: deque[Message] = deque(maxlen=1000)

    def ready(self) -> None:
        """Nothing to prepare: messages are logged."""

    def send(self, message: Message) -> None:
        self.sent.append(message)
        log.info(
            "e-mail (console backend)\nFrom: %s\nTo: %s\nSubject: %s\n\n%s",
            self.sender,
            message.to,
            message.subject,
            message.text,
        )


class SmtpMailer:
    """Sends through ``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://`` (implicit TLS).

    Each thread keeps its connection open between messages (RFC 5321 allows several mail transactions
    per session, section 3.3) and checks it with ``NOOP`` after :data:`IDLE_CHECK_SECONDS` idle, so a
    batch of award e-mails costs one connection, greeting and login, not one per message; the TLS
    context (the system's CA bundle) is loaded once per mailer."""

    #: A kept connection idle longer than this is checked with NOOP before use (servers drop idle
    #: sessions: Postfix after 300 s).
    IDLE_CHECK_SECONDS = 10.0

    def __init__(self, url: str, sender: str, timeout: float = 15.0):
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout
        self._tls: ssl.SSLContext | None = None
        self._local = threading.local()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _failed(self, exc: Exception) -> MailError:
        self._drop()
        return MailError(f"SMTP delivery to {self.host}:{self.port} failed: {type(exc).__name__}")

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def ready(self) -> None:
        conn = getattr(self._local, "conn", None)
        try:
            if conn is not None and time.monotonic() - self._local.used > self.IDLE_CHECK_SECONDS:
                try:
                    if conn.noop()[0] != 250:
                        raise smtplib.SMTPServerDisconnected("NOOP refused")
                except (OSError, smtplib.SMTPException):
                    self._drop()
                    conn = None
            if conn is None:
                if self.implicit_tls:
                    conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
                else:
                    conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                self._local.conn = conn
                conn.ehlo()
                if self.starttls:
                    conn.starttls(context=self._context())
                    conn.ehlo()
                if self.user:
                    conn.login(self.user, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise self._failed(exc) from None
        self._local.used = time.monotonic()

    def send(self, message: Message) -> None:
        self.ready()
        try:
            self._local.conn.send_message(_build(message, self.sender))
        except (OSError, smtplib.SMTPException) as exc:
            raise self._failed(exc) from None
        self._local.used = time.monotonic()
        log.info("e-mail sent", extra={"to_domain": message.to.rpartition("@")[2]})


_mailers: dict[tuple, Mailer] = {}


def mailer_for(settings: Settings) -> Mailer:
    """The process's mailer for these settings (one instance per configuration)."""
    key = (settings.mail_backend, settings.smtp_url, settings.mail_from)
    if key not in _mailers:
        if settings.mail_backend == "smtp":
            _mailers[key] = SmtpMailer(settings.smtp_url or "", settings.mail_from)
        else:
            _mailers[key] = ConsoleMailer(settings.mail_from)
    return _mailers[key]
