"""An HTTP proxy in front of a real Ray dashboard: faults between a request and its answer.

Tests point the code under test at ``proxy.url`` instead of the dashboard. Every request is
forwarded to the real dashboard unless a rule says otherwise; a rule can answer instead of the
dashboard (Serve's empty schema, a 503), drop the connection before forwarding, forward and then
lose the answer (a 502, a dropped connection: the write DID land), stall, or run a side effect
right after forwarding (another writer's PUT landing between ours and our read-back). Every request
is logged with what was done to it, so tests check what reached Serve.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

EMPTY_SERVE_SCHEMA = {
    "controller_info": {},
    "proxies": {},
    "applications": {},
    "target_capacity": None,
}
"""What the dashboard answers (200) when it cannot reach Serve's controller, or Serve is stopped."""


@dataclass(frozen=True)
class Seen:
    """One request as it reached the proxy, and what was done with it."""

    method: str
    path: str
    query: str
    body: bytes
    action: str


@dataclass
class Fault:
    """What to do with matching requests, ``count`` times (None: always).

    ``action``: ``reply`` (answer ``status``/``body`` without forwarding), ``drop`` (close the
    connection without forwarding), ``lose`` (forward, then answer ``status`` instead of the
    dashboard's answer, or drop the connection if ``status`` is 0), ``stall`` (wait ``seconds``,
    then forward), ``late`` (forward, then wait ``seconds`` before answering), ``after``
    (forward, run ``effect``, then answer as the dashboard did).
    """

    method: str
    path: str
    action: str
    status: int = 200
    body: Any = None
    seconds: float = 0.0
    effect: Callable[[], None] | None = None
    count: int | None = 1
    query_has: str | None = None

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.query_has is not None and self.query_has not in query:
            return False
        return method == self.method and path.startswith(self.path)


@dataclass
class FaultProxy:
    """A loopback proxy to ``upstream`` (a dashboard URL); use as a context manager."""

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.seen.clear()

    def count(self, method: str, path: str = "/api/serve/applications/") -> int:
        with self.lock:
            return sum(1 for s in self.seen if s.method == method and s.path == path)

    def puts(self) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == "PUT"]

    def _take(self, method: str, path: str, query: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path, query):
                    if fault.count is not None:
                        fault.count -= 1
                    return fault
        return None

    def __enter__(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                fault = proxy._take(self.command, parts.path, parts.query)
                action = fault.action if fault else "forward"
                with proxy.lock:
                    proxy.seen.append(Seen(self.command, parts.path, parts.query, body, action))
                if fault is not None and fault.action == "reply":
                    self._answer(fault.status, json.dumps(fault.body).encode())
                    return
                if fault is not None and fault.action == "drop":
                    self.close_connection = True
                    return
                if fault is not None and fault.action == "stall":
                    time.sleep(fault.seconds)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                upstream = requests.request(
                    self.command,
                    proxy.upstream + self.path,
                    data=body or None,
                    headers=headers,
                    timeout=60,
                    allow_redirects=False,
                )
                if fault is not None and fault.action == "after" and fault.effect is not None:
                    fault.effect()
                if fault is not None and fault.action == "late":
                    time.sleep(fault.seconds)
                if fault is not None and fault.action == "lose":
                    if fault.status == 0:
                        self.close_connection = True
                        return
                    self._answer(fault.status, b"upstream answer lost")
                    return
                self._answer(upstream.status_code, upstream.content)

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_DELETE = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def proxied(upstream: str, *faults: Fault) -> Iterator[FaultProxy]:
    """A running proxy with ``faults`` (for fixtures)."""
    with FaultProxy(upstream, list(faults)) as proxy:
        yield proxy
