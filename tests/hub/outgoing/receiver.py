"""A real HTTP webhook receiver for tests and the bench: verifies each delivery with the
``standardwebhooks`` library and records it; it can answer 500, time out, or be down."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class Receiver:
    """Listens on 127.0.0.1 (``url``); ``mode`` is ``ok``, ``500``, ``timeout`` (sleeps ``sleep`` s, then
    answers without recording) or, after :meth:`down`, nothing at all (connection refused) until :meth:`up`.
    ``received``: ``(webhook-id, body dict)`` of each verified delivery answered 2xx, in arrival order;
    ``bad``: deliveries whose signature did not verify; ``posts``: every POST that arrived, answered or not."""

    def __init__(self, secrets: dict[str, str] | None = None, *, sleep: float = 1.5):
        self.secrets = secrets or {}  # path -> whsec_ secret
        self.mode = "ok"
        self.sleep = sleep
        self.received: list[tuple[str, dict]] = []
        self.by_path: dict[str, list[tuple[str, dict]]] = {}
        self.bad: list[str] = []
        self.posts = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                with receiver.lock:
                    receiver.posts += 1
                if receiver.mode == "timeout":
                    time.sleep(receiver.sleep)
                    self._answer(200)
                    return
                if receiver.mode == "500":
                    self._answer(500)
                    return
                secret = receiver.secrets.get(self.path) or receiver.secrets.get("*")
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(secret).verify(body, headers)
                except Exception as exc:  # noqa: BLE001
                    with receiver.lock:
                        receiver.bad.append(f"{self.path}: {exc}")
                    self._answer(400)
                    return
                entry = (headers["webhook-id"], json.loads(body))
                with receiver.lock:
                    receiver.received.append(entry)
                    receiver.by_path.setdefault(self.path, []).append(entry)
                self._answer(204)

            def _answer(self, status):
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.down()
