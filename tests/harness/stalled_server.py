"""A TCP server on 127.0.0.1 that accepts connections, then answers nothing or one byte a second.

What a hung dashboard, a wedged API server or a half-dead load balancer looks like from the client:
the connection is accepted (so a connect timeout never fires), and then either no byte ever comes
(``silent``) or a valid-looking HTTP answer comes one byte a second, with a body that never ends
(``trickle``: every read returns within a second, so a per-read timeout never fires either).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

TRICKLE_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    + b'{"applications": {' * 5000
)


@dataclass
class StalledServer:
    """``mode``: ``silent`` (accept, never answer) or ``trickle`` (one byte a second)."""

    mode: str = "silent"
    byte_every_s: float = 1.0
    port: int = 0
    accepted: int = 0
    _sock: socket.socket = field(init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _clients: list[socket.socket] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._clients.append(client)
            if self.mode == "trickle":
                threading.Thread(target=self._trickle, args=(client,), daemon=True).start()
            else:
                threading.Thread(target=self._drain, args=(client,), daemon=True).start()

    def _drain(self, client: socket.socket) -> None:
        """Read what the client sends (so it never blocks on a full buffer); answer nothing."""
        client.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if not client.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _trickle(self, client: socket.socket) -> None:
        client.settimeout(0.2)
        with contextlib.suppress(TimeoutError, OSError):
            client.recv(65536)  # the request (its headers at least)
        for byte in TRICKLE_ANSWER:
            if self._stop.wait(self.byte_every_s):
                return
            try:
                client.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for client in self._clients:
            with contextlib.suppress(OSError):
                client.close()


@contextlib.contextmanager
def stalled_server(mode: str = "silent", byte_every_s: float = 1.0) -> Iterator[StalledServer]:
    server = StalledServer(mode=mode, byte_every_s=byte_every_s)
    try:
        yield server
    finally:
        server.close()
