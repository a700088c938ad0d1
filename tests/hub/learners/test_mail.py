"""The SMTP backend against a real SMTP server (``bench.smtpsink``): one session for many messages,
a dropped session replaced, international addresses (RFC 6531 SMTPUTF8)."""

from __future__ import annotations

import socket

import pytest

from bench.smtpsink import SmtpSink
from hub.learners.mail import MailError, Message, SmtpMailer


def _message(to: str, n: int = 0) -> Message:
    return Message(to=to, subject=f"Odznaka {n}", text="Gratulacje!", locale="pl")


def test_messages_of_a_thread_share_one_session():
    with SmtpSink() as sink:
        mailer = SmtpMailer(sink.url, "odznaki@hub.example")
        for n in range(5):
            mailer.ready()
            mailer.send(_message(f"learner{n}@example.org", n))
        assert sink.messages == 5 and sink.sessions == 1
        assert sink.counts()["learner4@example.org"] == 1


def test_a_session_the_server_dropped_is_replaced_before_the_next_message():
    with SmtpSink() as sink:
        mailer = SmtpMailer(sink.url, "odznaki@hub.example")
        mailer.IDLE_CHECK_SECONDS = 0.0  # check the kept session before every use
        mailer.send(_message("a@example.org"))
        mailer._local.conn.sock.shutdown(socket.SHUT_RDWR)  # the session ends, as a server's idle timeout ends it
        mailer.send(_message("b@example.org"))
        assert sink.messages == 2 and sink.sessions == 2


def test_international_address_is_sent_with_smtputf8():
    with SmtpSink() as sink:
        SmtpMailer(sink.url, "odznaki@hub.example").send(_message("zoë@bücher.de"))
        assert sink.counts()["zoë@bücher.de"] == 1


def test_unreachable_server_is_a_mail_error():
    with SmtpSink() as sink:
        url = sink.url
    with pytest.raises(MailError, match="SMTP delivery"):
        SmtpMailer(url, "odznaki@hub.example", timeout=2).ready()
