"""HTTP requests that end by a deadline whatever the server does, on sockets that see a dead peer.

A socket timeout bounds one read, not a request: a server that accepts and then sends one byte a
second keeps every read short and the request going for ever, and a watch whose connection a load
balancer dropped without a FIN waits for ever on a socket that no packet will reach. Both transports
of this package (``requests`` for a dashboard URL, the official ``kubernetes`` client's urllib3 pool
for the API server and its service proxy) therefore use the connection classes defined here:

- TCP keepalive on every socket (probes after 30 s of silence, 3 unanswered probes 10 s apart end
  the connection), so a peer that vanished is noticed within about a minute even when idle;
- every connection that sends a request inside :func:`request_deadline` is registered with it, and
  when the deadline passes its socket is shut down (``shutdown``, not ``close``: a thread blocked
  in a read on it wakes up with an end of stream). The request then fails as a dropped connection
  would, and the caller asks :attr:`RequestScope.cut` whether it was the deadline.

Scopes are per thread: the Lease renewer and the provider's main thread never cut each other's
requests. A SOCKS proxy keeps its own connection classes (keepalive and the cut do not apply there;
the per-read timeout still does).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "KEEPALIVE_IDLE_S",
    "BoundedAdapter",
    "RequestScope",
    "bound_pool_manager",
    "bounded_session",
    "current_remaining",
    "request_deadline",
]

KEEPALIVE_IDLE_S = 30
"""Seconds of silence before the first keepalive probe (Linux's default is two hours)."""
KEEPALIVE_INTERVAL_S = 10
KEEPALIVE_PROBES = 3


def _keepalive_options() -> list[tuple[int, int, int]]:
    """Socket options that turn TCP keepalive on, with the platform's knobs where it has them."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    for option, value in (
        (idle, KEEPALIVE_IDLE_S),
        (getattr(socket, "TCP_KEEPINTVL", None), KEEPALIVE_INTERVAL_S),
        (getattr(socket, "TCP_KEEPCNT", None), KEEPALIVE_PROBES),
    ):
        if option is not None:
            options.append((socket.IPPROTO_TCP, option, value))
    return options


SOCKET_OPTIONS = [*HTTPConnection.default_socket_options, *_keepalive_options()]


class RequestScope:
    """The connections used by one thread's requests until a deadline, and whether it cut them."""

    def __init__(self, seconds: float) -> None:
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._end = time.monotonic() + seconds
        self.cut = False

    def remaining(self) -> float:
        """Seconds left until the cut, never negative."""
        return max(0.0, self._end - time.monotonic())

    def add(self, connection: HTTPConnection) -> None:
        """Register a connection about to send a request (cut at once if the deadline passed)."""
        with self._lock:
            self._connections.append(connection)
            if self.cut:
                _shut_down(connection)

    def connected(self, connection: HTTPConnection) -> None:
        """A registered connection got its socket: cut it if the deadline passed meanwhile.

        A slow name lookup or a credential refresh can outlast the deadline before the socket
        exists, when there is nothing yet for :meth:`fire` to shut down.
        """
        with self._lock:
            if self.cut:
                _shut_down(connection)

    def fire(self) -> None:
        """The deadline passed: end every registered connection's stream."""
        with self._lock:
            self.cut = True
            for connection in self._connections:
                _shut_down(connection)


_local = threading.local()


@contextmanager
def request_deadline(seconds: float) -> Iterator[RequestScope]:
    """Cut every request this thread sends inside the block once ``seconds`` have passed.

    Read the whole answer inside the block: a body still being read is cut too.
    """
    scope = RequestScope(seconds)
    previous = getattr(_local, "scope", None)
    _local.scope = scope
    timer = threading.Timer(max(0.0, seconds), scope.fire)
    timer.daemon = True
    timer.start()
    try:
        yield scope
    finally:
        timer.cancel()
        _local.scope = previous


def current_remaining() -> float | None:
    """Seconds left to the current thread's request deadline, or None outside one."""
    scope: RequestScope | None = getattr(_local, "scope", None)
    return None if scope is None else scope.remaining()


def _register(connection: HTTPConnection) -> None:
    scope: RequestScope | None = getattr(_local, "scope", None)
    if scope is not None:
        scope.add(connection)


def _connected(connection: HTTPConnection) -> None:
    scope: RequestScope | None = getattr(_local, "scope", None)
    if scope is not None:
        scope.connected(connection)


def _shut_down(connection: HTTPConnection) -> None:
    sock: Any = getattr(connection, "sock", None)
    sock = getattr(sock, "socket", sock)  # TLS inside a TLS proxy tunnel wraps the socket
    if not isinstance(sock, socket.socket):
        return
    # The plain socket's shutdown, also for a TLS socket: its own would drop the TLS state under
    # the thread that is reading it. An already closed socket needs nothing.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _BoundedHTTPConnection(HTTPConnection):
    default_socket_options = SOCKET_OPTIONS

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)

    def connect(self) -> None:
        super().connect()
        _connected(self)


class _BoundedHTTPSConnection(_BoundedHTTPConnection, HTTPSConnection):
    """The same hooks over TLS (``connect`` and ``request`` resolve to the TLS connection's)."""


class _BoundedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _BoundedHTTPConnection


class _BoundedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _BoundedHTTPSConnection


def bound_pool_manager(manager: PoolManager) -> PoolManager:
    """Make ``manager`` open keepalive connections that :func:`request_deadline` can cut.

    A SOCKS proxy manager is left as it is (it brings its own connection classes).
    """
    if type(manager) in (PoolManager, ProxyManager):
        manager.pool_classes_by_scheme = {"http": _BoundedHTTPPool, "https": _BoundedHTTPSPool}
    return manager


class BoundedAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections (direct or through a proxy) are bounded."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        bound_pool_manager(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> PoolManager:
        return bound_pool_manager(super().proxy_manager_for(proxy, **kwargs))


def bounded_session() -> requests.Session:
    """A ``requests`` session that never retries by itself and whose requests can be cut."""
    session = requests.Session()
    adapter = BoundedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
