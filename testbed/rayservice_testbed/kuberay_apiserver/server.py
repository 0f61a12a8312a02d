"""``FakeKubeRayApiServer``: the KubeRay API server, V1 and V2 on one loopback port.

It sits in front of a :class:`~rayservice_testbed.fake_kube.FakeKubeServer` as the real one sits
in front of a cluster: it talks to Kubernetes with its own credentials (the fake's token, as the
service account), and V2 forwards the caller's requests there. The top-level routing is the real
server's ``http.ServeMux`` (``apiserver/cmd/main.go``): ``/healthz``; V2's patterns when V2 is on
(``--enable-api-server-v2``, default true); everything else to grpc-gateway (V1). Paths are
cleaned first, as ``ServeMux`` does: ``//`` or ``..`` in a path is a 301 to the clean one.

``token`` models the optional security proxy sidecar (Helm ``security:``): every request must
carry ``Authorization: <token>`` exactly, else ``401 Unauthorized\\n``.

Usage::

    with FakeKubeServer(operator=True, ray_heads=False) as kube:
        with FakeKubeRayApiServer(kube, release="v1.5") as apiserver:
            requests.post(f"{apiserver.url}/apis/v1/namespaces/default/compute_templates", ...)
            assert apiserver.count("POST", r"/compute_templates$", status=200) == 1
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from rayservice_testbed.fake_kube.http_handler import TrackedHandler
from rayservice_testbed.fake_kube.proxy import read_body
from rayservice_testbed.fake_kube.server import FakeKubeServer

from ..request_log import RequestLog
from .errors import GoPanic, Reply, go_http_error, unauthorized
from .kube import KubeClient
from .protojson import Flavor
from .releases import Release, parse_release
from .upstream import Upstreams
from .v1_gateway import Gateway
from .v2_proxy import HELM_PROXY_VERBS, V2, Incoming


class RequestRecord(NamedTuple):
    """One request as the stand-in saw it; ``status`` 0 means no answer (connection dropped)."""

    method: str
    path: str
    query: str
    status: int


@dataclass(frozen=True)
class RequestDetail:
    """A request with its headers and body, for checks on what a client sent."""

    record: RequestRecord
    headers: dict[str, str]
    body: bytes


def clean_path(path: str) -> str:
    """``ServeMux``'s ``cleanPath``: Go's ``path.Clean``, a trailing slash kept."""
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


class FakeKubeRayApiServer(RequestLog[RequestRecord]):
    """A stand-in KubeRay API server on ``127.0.0.1:<free port>``; use as a context manager.

    Attributes:
        kube: The fake Kubernetes API server behind it.
        release: The release family it plays (:mod:`.releases`).
        token: The security proxy's token, or None when there is no security proxy.
        enable_v2: ``--enable-api-server-v2``.
        v2_deadline_s: V2's per-request deadline (v1.5+; 30 s in every release).
        flavor: protobuf-go's per-binary output choice (:class:`~.protojson.Flavor`), drawn at
            random per instance, as it differs between builds.
        requests: Every request received, in order.
        request_details: The same, with headers and bodies.

    """

    def __init__(
        self,
        kube: FakeKubeServer,
        *,
        release: str = "v1.7",
        token: str | None = None,
        enable_v2: bool = True,
        v2_deadline_s: float = 30.0,
        service_proxy_verbs: frozenset[str] = HELM_PROXY_VERBS,
    ) -> None:
        """Create the stand-in (not started).

        Args:
            kube: A started fake Kubernetes API server.
            release: ``v1.4``, ``v1.5``, ``v1.6`` or ``v1.7`` (or a full tag such as ``v1.5.2``).
            token: Put the security proxy in front, with this token.
            enable_v2: Serve V2 (else only V1 and ``/healthz``).
            v2_deadline_s: V2's deadline per request, for tests that cannot wait 30 s.
            service_proxy_verbs: What its service account may do on ``services/proxy``, as
                Kubernetes authorizes V2's forwarded requests: KubeRay's Helm chart grants
                get, list and watch (so a Serve PUT is refused with 403);
                ``ALL_PROXY_VERBS`` for a platform team that granted the rest.

        """
        self.kube = kube
        self.release: Release = parse_release(release)
        self.token = token
        self.enable_v2 = enable_v2
        self.v2_deadline_s = v2_deadline_s
        self.flavor = Flavor(spaced=random.random() < 0.5)
        self._start_log()
        self._connections: set[socket.socket] = set()
        self._stop = threading.Event()
        self._upstreams = Upstreams(kube.url)
        self._client = KubeClient(self._upstreams, kube.url, kube.token, self._stop)
        self._gateway = Gateway(self._client, self.release, self.flavor, time.monotonic())
        self._v2 = V2(
            self.release,
            self._upstreams,
            self._client,
            deadline_s=v2_deadline_s,
            wait=self._stop.wait,
            proxy_verbs=service_proxy_verbs,
        )
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeKubeRayApiServer:
        """Listen on a free loopback port."""
        self._upstreams.start()
        handler = type("_BoundHandler", (_Handler,), {"stand_in": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="kuberay-apiserver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: end backoffs, upstream requests, open connections and the threads."""
        self._stop.set()
        self._upstreams.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._log_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeKubeRayApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the top mux ------------------------------------------------------------------------------

    def _route(self, request: Incoming) -> Reply:
        cleaned = clean_path(request.path)
        if cleaned != request.path:  # before any handler, the security proxy's included
            target = cleaned + (f"?{request.query}" if request.query else "")
            return Reply(301, [("Location", target)], b"")
        if self.token is not None and request.header("Authorization") != self.token:
            return unauthorized()
        if request.path == "/healthz":
            return Reply(200, [("Content-Length", "0")])
        if request.path == "/metrics" or request.path.startswith(("/swagger/", "/swagger-ui/")):
            return go_http_error(
                501, f"the KubeRay API server stand-in does not serve {request.path}"
            )
        if request.path in ("/swagger", "/swagger-ui"):
            return Reply(301, [("Location", request.path + "/")], b"")
        if self.enable_v2:
            reply = self._v2.route(request)
            if reply is not None:
                return reply
        return self._gateway.handle(request.method, request.path, request.query, request.body)


class _Handler(TrackedHandler):
    """One connection, HTTP/1.1 with keep-alive, as Go's server."""

    stand_in: FakeKubeRayApiServer  # set on the bound subclass
    server_version = "kuberay-apiserver"

    def _tracked(self) -> tuple[threading.Lock, set[socket.socket]]:
        return self.stand_in._log_lock, self.stand_in._connections

    def send_response(self, code: int, message: str | None = None) -> None:
        """A status line and ``Date``: Go's server sends no ``Server`` header."""
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def do_HEAD(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        stand_in = self.stand_in
        split = urlsplit(self.path)
        body = read_body(self)
        hops = 2 if stand_in.token is not None else 1
        request = Incoming(
            method=self.command,
            path=unquote(split.path),
            raw_path=split.path,
            query=split.query,
            headers=list(self.headers.items()),
            body=body,
            client=self.client_address[0],
            hops=hops,
        )
        headers = {k: v for k, v in self.headers.items()}

        def log(code: int) -> None:
            record = RequestRecord(request.method, request.path, request.query, code)
            stand_in._log(RequestDetail(record, headers, body))

        try:
            reply = stand_in._route(request)
        except GoPanic:
            log(0)
            self._drop()
            return
        except Exception as exc:  # a bug of the stand-in: say so, loudly
            traceback.print_exc()
            reply = go_http_error(500, f"kuberay-apiserver stand-in bug: {exc!r}")
        log(reply.status)
        self._send(reply)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        head_only = self.command == "HEAD"
        try:
            self.send_response(reply.status)
            names = {k.lower() for k, _ in reply.headers}
            for key, value in reply.headers:
                self.send_header(key, value)
            if reply.chunks is None:
                if "content-length" not in names:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if not head_only:
                    self.wfile.write(reply.body)
                self.wfile.flush()
            else:
                self._stream(reply, "content-length" in names, head_only)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _stream(self, reply: Reply, sized: bool, head_only: bool) -> None:
        if not sized:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        chunks: Iterable[bytes] = reply.chunks or ()
        try:
            for chunk in chunks:
                if head_only:
                    continue
                self.wfile.write(chunk if sized else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            if not sized and not head_only:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (OSError, ValueError) as exc:
            # The upstream broke off mid-answer: Go's ReverseProxy aborts the connection.
            if not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                self._drop()
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


__all__ = ["FakeKubeRayApiServer", "RequestDetail", "RequestRecord", "clean_path"]
