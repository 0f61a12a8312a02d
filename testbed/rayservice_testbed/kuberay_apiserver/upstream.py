"""Connections from the stand-in to the fake Kubernetes API server, each with its deadline.

Every request the stand-in sends upstream (V1's and the middleware's Kubernetes calls, V2's
forwarded requests) opens one connection here. A deadline is a wall-clock instant: when it
passes, the connection's socket is shut down, whatever the request was doing (waiting for a
status line, reading a body that trickles in one byte at a time), which is how a Go context
deadline ends a request. ``stop()`` shuts down every connection still open, so no thread of the
stand-in stays blocked on a socket after it stopped.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from urllib.parse import urlsplit


class Connection(http.client.HTTPConnection):
    """An HTTP connection whose socket the owning :class:`Upstreams` can shut down.

    Attributes:
        expired: Its deadline passed and its socket was shut down because of it.

    """

    def __init__(self, owner: Upstreams, host: str, port: int, deadline: float | None) -> None:
        remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
        super().__init__(host, port, timeout=min(remaining or 30.0, 30.0))
        self.owner = owner
        self.deadline = deadline
        self.expired = False

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.settimeout(None)  # only the deadline (or stop) ends a request
        self.owner._track(self)

    def close(self) -> None:
        self.owner._untrack(self)
        super().close()


class Upstreams:
    """The open upstream connections of one stand-in and the thread enforcing their deadlines."""

    def __init__(self, base_url: str) -> None:
        split = urlsplit(base_url)
        self.host = split.hostname or "127.0.0.1"
        self.port = split.port or 80
        self._lock = threading.Condition()
        self._open: set[Connection] = set()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="kuberay-apiserver-deadlines")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Shut down every open connection and end the deadline thread."""
        with self._lock:
            self._stopped = True
            connections = list(self._open)
            self._lock.notify_all()
        for connection in connections:
            _shutdown(connection)
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def open(self, deadline: float | None = None) -> Connection:
        """A new connection to the fake Kubernetes API server, ended at ``deadline`` if given."""
        if self._stopped:
            raise ConnectionAbortedError("the KubeRay API server stand-in is stopping")
        return Connection(self, self.host, self.port, deadline)

    def _track(self, connection: Connection) -> None:
        with self._lock:
            self._open.add(connection)
            self._lock.notify_all()
            stopped = self._stopped
        if stopped:
            _shutdown(connection)

    def _untrack(self, connection: Connection) -> None:
        with self._lock:
            self._open.discard(connection)

    def _watch(self) -> None:
        with self._lock:
            while not self._stopped:
                now = time.monotonic()
                due = [c for c in self._open if c.deadline is not None and c.deadline <= now]
                for connection in due:
                    connection.expired = True
                    self._open.discard(connection)
                    _shutdown(connection)
                pending = [c.deadline for c in self._open if c.deadline is not None]
                wait = min(pending) - now if pending else None
                self._lock.wait(timeout=None if wait is None else max(wait, 0.001))


def _shutdown(connection: Connection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
