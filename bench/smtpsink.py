"""A minimal SMTP server that accepts every message and counts what it received, per recipient.

``SmtpSink()`` listens on ``127.0.0.1:<free port>`` (:attr:`SmtpSink.port`); point the hub at it with
``HUB_MAIL_BACKEND=smtp`` and ``HUB_SMTP_URL=smtp://127.0.0.1:<port>``. A message counts once the
sender has finished its ``DATA`` (the final ``.``) and before the server's ``250`` reply, which is the
moment a real server takes responsibility for it: a hub that dies after that point and sends the
e-mail again has sent it twice. Only what ``smtplib`` speaks is implemented (``EHLO``/``HELO``,
``MAIL``, ``RCPT``, ``DATA``, ``RSET``, ``NOOP``, ``QUIT``); no TLS, no authentication, no relaying.

Used by the fault benchmark (``bench/faults.py``) and the job system's fault tests (which import it
as ``bench.smtpsink``). The standard library no longer ships an SMTP server (``smtpd`` went in 3.12),
and a counting sink is a few dozen lines, so no dependency is added for it.
"""

from __future__ import annotations

import socketserver
import threading
from collections import Counter


class _Handler(socketserver.StreamRequestHandler):
    timeout = 60

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        sink: SmtpSink = self.server.sink  # type: ignore[attr-defined]
        with sink._lock:
            sink.sessions += 1
        self._reply("220 sink ESMTP")
        recipients: list[str] = []
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            verb = raw.decode("utf-8", "replace").strip()
            upper = verb.upper()
            if upper.startswith("EHLO"):
                self.wfile.write(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n")
                self.wfile.flush()
            elif upper.startswith("HELO"):
                self._reply("250 sink")
            elif upper.startswith("MAIL FROM:"):
                recipients = []
                self._reply("250 OK")
            elif upper.startswith("RCPT TO:"):
                address = verb[8:].split()[0].strip().strip("<>") if verb[8:].strip() else ""
                recipients.append(address.lower())
                self._reply("250 OK")
            elif upper == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                size = 0
                while True:
                    line = self.rfile.readline(1 << 20)
                    if not line:
                        return  # the client went away mid-message: not received
                    if line in (b".\r\n", b".\n"):
                        break
                    size += len(line)
                sink._received(recipients, size)
                recipients = []
                self._reply("250 OK queued")
            elif upper == "RSET":
                recipients = []
                self._reply("250 OK")
            elif upper == "NOOP":
                self._reply("250 OK")
            elif upper == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        """A client that went away mid-session (a killed hub process) is expected here: no traceback."""


class SmtpSink:
    """A counting SMTP server in a daemon thread (use as a context manager, or :meth:`start`/:meth:`stop`).

    Attributes: ``port``; ``per_recipient`` (:class:`collections.Counter` of lower-cased recipient
    addresses, one per message received); ``messages`` (messages received in all); ``sessions``
    (connections the sink greeted).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._server = _Server((host, port), _Handler)
        self._server.sink = self  # type: ignore[attr-defined]
        self.host = host
        self.port = self._server.server_address[1]
        self.per_recipient: Counter[str] = Counter()
        self.messages = 0
        self.sessions = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The ``HUB_SMTP_URL`` that reaches this sink."""
        return f"smtp://{self.host}:{self.port}"

    def _received(self, recipients: list[str], size: int) -> None:
        with self._lock:
            self.messages += 1
            for address in recipients:
                self.per_recipient[address] += 1

    def counts(self) -> Counter[str]:
        """A snapshot of :attr:`per_recipient`."""
        with self._lock:
            return Counter(self.per_recipient)

    def start(self) -> SmtpSink:
        """Serve in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"smtpsink:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
