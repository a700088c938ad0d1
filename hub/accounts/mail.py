"""Outgoing e-mail: ``console`` backend (the message on stdout, for development) or SMTP.

Select with ``HUB_MAIL_BACKEND``; SMTP goes to ``HUB_SMTP_URL`` (``smtp://user:pass@host:587?starttls=1``
or ``smtps://...:465``). Messages are built with the standard library's :mod:`email.message`.
"""

from __future__ import annotations

import logging
import smtplib
import sys
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from hub.errors import ConfigurationError
from hub.settings import Settings

log = logging.getLogger(__name__)

# Messages sent by the console backend in this process, newest last (tests read them).
outbox: list[EmailMessage] = []


def build_message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    """Send a plain-text e-mail.

    Raises:
        ConfigurationError: SMTP selected without ``HUB_SMTP_URL``.
        OSError / smtplib.SMTPException: the SMTP server refused or is unreachable.
    """
    msg = build_message(settings, to, subject, body)
    if settings.mail_backend == "console":
        outbox.append(msg)
        del outbox[:-100]
        sys.stdout.write(f"----- e-mail (console backend) -----\n{msg}\n-----\n")
        return
    if not settings.smtp_url:
        raise ConfigurationError("HUB_MAIL_BACKEND=smtp needs HUB_SMTP_URL")
    url = urlsplit(settings.smtp_url)
    implicit_tls = url.scheme == "smtps"
    cls = smtplib.SMTP_SSL if implicit_tls else smtplib.SMTP
    with cls(url.hostname or "localhost", url.port or (465 if implicit_tls else 25), timeout=20) as smtp:
        if not implicit_tls and parse_qs(url.query).get("starttls", ["0"])[0] in ("1", "true"):
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(msg)
    log.info("e-mail sent", extra={"subject": subject})
