"""A TCP proxy that can cut a connection the two ways a network fails: refused, or black-holed.

``TcpProxy(("127.0.0.1", 5432))`` listens on ``127.0.0.1:<free port>`` and forwards every connection to
the target. Point a client at :attr:`TcpProxy.port` instead of the real port, then switch modes:

- :meth:`forward`: bytes flow both ways (the default). Connections held by a black-hole resume, as TCP
  does when a dropped route comes back.
- :meth:`blackhole`: nothing is forwarded either way and nothing is closed; new connections are
  accepted and held. A client sees a server that never answers, as when packets are dropped (libpq's
  ``connect_timeout`` and the hub's wait bounds are what end the wait, not an error from the network).
- :meth:`refuse`: the listener closes (a new connection gets ``ECONNREFUSED``) and open connections are
  reset, as when the server is down.

Used by the tests (``tests/hub/test_db_timeouts.py``) and by the fault benchmarks in ``bench/``; ``bench``
is a package at the repository root, so both import it as ``bench.tcpproxy`` (pytest puts the root on
``sys.path`` because ``tests`` is a package; a script in ``bench/`` inserts it itself). Not part of the
shipped ``hub`` package. One thread runs a non-blocking ``selectors`` loop; nothing here needs root.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

MODES = ("forward", "blackhole", "refuse")
CHUNK = 65536


@dataclass(eq=False)
class _Pair:
    client: socket.socket
    upstream: socket.socket | None = None
    to_client: bytearray = field(default_factory=bytearray)
    to_upstream: bytearray = field(default_factory=bytearray)


def _reset(sock: socket.socket | None) -> None:
    """Close ``sock`` with a TCP RST (linger 0), as a crashed peer would."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class TcpProxy:
    """Forwards ``listen`` (default ``127.0.0.1:0``, a free port) to ``target`` (``(host, port)``).

    Use as a context manager or call :meth:`start` and :meth:`stop`. Mode changes take effect within
    about 50 ms. Attributes: ``port`` (the listening port, fixed for the proxy's life, also across
    :meth:`refuse`), ``mode``, ``accepted`` (connections accepted so far).

    Raises:
        OSError: the listening address cannot be bound (at start, or when :meth:`forward` re-opens it
            after :meth:`refuse` and another process took the port meanwhile).
    """

    def __init__(self, target: tuple[str, int], listen: tuple[str, int] = ("127.0.0.1", 0)):
        self.target = target
        self.host = listen[0]
        self.port = listen[1]
        self.mode = "forward"
        self.accepted = 0
        self._wanted = "forward"
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- control ---------------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        """Bind the listener and start forwarding in a daemon thread; returns ``self``."""
        self._open_listener()
        self._thread = threading.Thread(target=self._run, name=f"tcpproxy:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, close the listener and every connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_all(reset=False)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def set_mode(self, mode: str, wait: float = 5.0) -> None:
        """Switch to ``mode`` (one of :data:`MODES`) and wait until the loop applied it.

        Raises:
            ValueError: an unknown mode.
            TimeoutError: the loop did not apply it within ``wait`` seconds.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        with self._lock:
            self._wanted = mode
        deadline = time.monotonic() + wait
        while self.mode != mode:
            if time.monotonic() > deadline:
                raise TimeoutError(f"proxy did not switch to {mode} within {wait} s")
            time.sleep(0.01)

    def forward(self) -> None:
        """Forward bytes again (see the module docstring)."""
        self.set_mode("forward")

    def blackhole(self) -> None:
        """Stop forwarding, keep every connection open, accept and hold new ones."""
        self.set_mode("blackhole")

    def refuse(self) -> None:
        """Refuse new connections and reset the open ones."""
        self.set_mode("refuse")

    # ---- the loop --------------------------------------------------------------------------------

    def _open_listener(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _close_all(self, reset: bool) -> None:
        for pair in self._pairs:
            for sock in (pair.client, pair.upstream):
                if sock is None:
                    continue
                if reset:
                    _reset(sock)
                else:
                    sock.close()
        self._pairs.clear()

    def _apply_mode(self) -> None:
        with self._lock:
            wanted = self._wanted
        if wanted == self.mode:
            return
        if wanted == "refuse":
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._close_all(reset=True)
        elif self._listener is None:
            self._open_listener()
        self.mode = wanted

    def _connect_upstream(self, pair: _Pair) -> bool:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(pair.client)
            return False
        upstream.setblocking(False)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair.upstream = upstream
        return True

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.accepted += 1
            pair = _Pair(client)
            if self.mode == "forward" and not self._connect_upstream(pair):
                continue
            self._pairs.append(pair)

    def _pump(self, pair: _Pair, readable: set, writable: set) -> bool:
        """Move bytes for one pair; False when it is finished (either side closed)."""
        assert pair.upstream is not None
        for src, buf in ((pair.client, pair.to_upstream), (pair.upstream, pair.to_client)):
            if src in readable:
                try:
                    data = src.recv(CHUNK)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return False
                if not data:
                    return False
                buf += data
        for dst, buf in ((pair.client, pair.to_client), (pair.upstream, pair.to_upstream)):
            if buf and dst in writable:
                try:
                    sent = dst.send(buf)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return False
                del buf[:sent]
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._apply_mode()
            if self.mode == "forward":
                # Connections accepted during a black-hole get their upstream now (or are reset).
                self._pairs = [p for p in self._pairs if p.upstream is not None or self._connect_upstream(p)]
            wanted: dict[socket.socket, int] = {}
            if self._listener is not None:
                wanted[self._listener] = selectors.EVENT_READ
            if self.mode == "forward":
                for pair in self._pairs:
                    assert pair.upstream is not None
                    for sock, out in ((pair.client, pair.to_client), (pair.upstream, pair.to_upstream)):
                        wanted[sock] = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
            sel = selectors.DefaultSelector()
            for sock, events in wanted.items():
                sel.register(sock, events)
            try:
                ready = sel.select(timeout=0.05)
            finally:
                sel.close()
            readable = {key.fileobj for key, ev in ready if ev & selectors.EVENT_READ}
            writable = {key.fileobj for key, ev in ready if ev & selectors.EVENT_WRITE}
            if self._listener is not None and self._listener in readable:
                self._accept()
            if self.mode != "forward":
                continue
            alive = []
            for pair in self._pairs:
                if pair.upstream is not None and self._pump(pair, readable, writable):
                    alive.append(pair)
                else:
                    pair.client.close()
                    if pair.upstream is not None:
                        pair.upstream.close()
            self._pairs = alive
