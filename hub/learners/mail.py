"""Outgoing e-mail: a console backend (default; each message is logged, and kept in memory for the
demo and tests) and an SMTP backend (``HUB_MAIL_BACKEND=smtp``, ``HUB_SMTP_URL``), both behind
:class:`Mailer`. Messages are built with the stdlib :mod:`email` package (RFC 5322, UTF-8)."""

from __future__ import annotations

import logging
import smtplib
import ssl
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
    """Sends through ``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://`` (implicit TLS)."""

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

    def send(self, message: Message) -> None:
        context = ssl.create_default_context()
        try:
            if self.implicit_tls:
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with conn:
                if self.starttls:
                    conn.starttls(context=context)
                if self.user:
                    conn.login(self.user, self.password or "")
                conn.send_message(_build(message, self.sender))
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP delivery to {self.host}:{self.port} failed: {type(exc).__name__}") from None
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
