"""``FakeKubeServer``: a Kubernetes API server over plain HTTP, reached through a kubeconfig.

Tests talk to it exactly as to a cluster: the official ``kubernetes`` client (or any HTTP client)
with a bearer token from a kubeconfig file, from the test process or from a subprocess such as the
Pulumi provider host. Routing, authentication, discovery, request logging and fault injection live
here; the API rules live in ``registry.py``, the stand-in operator in ``operator.py``.

Usage::

    with FakeKubeServer() as server:
        server.write_kubeconfig(tmp_path / "kubeconfig")
        server.inject(status=429, count=2, retry_after=1, match=("POST", r"/rayclusters$"))
        ...
        assert server.write_count() == 1
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from ..request_log import RequestLog
from . import proxy, status
from .events_v1 import core_field_selector, from_events_v1, to_events_v1
from .faults import FaultRule, Faults, Match, RequestInfo, make_rule
from .gateway import DEFAULT_GATEWAY_CLASSES, FakeGatewayController, GatewayRequest
from .http_handler import TrackedHandler
from .operator import FakeKubeRay, Scenario
from .registry import DEFAULT_NAMESPACES, Registry, WriteOptions, parse_json
from .resources import (
    ALL_TYPES,
    EVENTS,
    EVENTS_V1,
    NAMESPACES,
    SERVICES,
    ResourceType,
    custom_groups,
    find_type,
)
from .status import ApiError

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ANONYMOUS_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})

VERSION_INFO = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0+fake-kube",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class RequestRecord(NamedTuple):
    """One request as the server saw it; ``status`` 0 means the connection was dropped."""

    method: str
    path: str
    query: str
    content_type: str
    status: int


@dataclass(frozen=True)
class RequestDetail:
    """A request with its body and headers (Authorization removed), for checks on what was sent."""

    record: RequestRecord
    headers: dict[str, str]
    body: bytes


@dataclass
class _Response:
    code: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


def _json_response(code: int, obj: Any, warnings: list[str] | None = None) -> _Response:
    headers = [("Warning", f'299 - "{_escape(w)}"') for w in warnings or []]
    return _Response(code, json.dumps(obj).encode(), headers)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _decode_body(body: bytes, content_type: str) -> Any:
    """A POST/PUT body by its Content-Type (none means JSON, as the real server assumes)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("", "application/json", "*/*"):
        return parse_json(body)
    if kind == "application/yaml":
        try:
            loaded = yaml.safe_load(body.decode() or "null")
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise status.bad_request(f"error decoding YAML body: {exc}") from exc
        return parse_json(json.dumps(loaded).encode())
    raise status.unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )


def _error_response(error: ApiError) -> _Response:
    return _Response(error.code, error.encode(), list(error.headers.items()))


def _group_document(group: str, version: str) -> dict[str, Any]:
    entry = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [entry], "preferredVersion": entry}


def _discovery_resource(rt: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    entries = [entry]
    if rt.status_subresource:
        entries.append(
            {
                "name": f"{rt.plural}/status",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    for sub in rt.extra_subresources:
        entries.append(
            {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": "ServiceProxyOptions",
                "verbs": ["create", "delete", "get", "patch", "update"],
            }
        )
    return entries


class FakeKubeServer(RequestLog[RequestRecord]):
    """A fake Kubernetes API server on ``127.0.0.1:<free port>``; use as a context manager.

    Attributes:
        token: The bearer token every request must carry (401 otherwise).
        registry: The API state and rules (usable directly for test setup).
        operator: The stand-in KubeRay operator, or None when disabled.
        gateways: The stand-in Gateway API controller, or None when disabled.
        requests: Every request received, in order (:class:`RequestRecord`).
        request_details: The same requests with headers (minus Authorization) and bodies.

    """

    def __init__(
        self,
        *,
        token: str | None = None,
        operator: bool = True,
        ray_heads: bool = True,
        namespaces: tuple[str, ...] = DEFAULT_NAMESPACES,
        scenario: Scenario | None = None,
        max_parallel_starts: int = 2,
        gateway_controller: bool = False,
        gateway_classes: tuple[str, ...] = DEFAULT_GATEWAY_CLASSES,
    ) -> None:
        """Create the server (not started).

        Args:
            token: Bearer token to require; random by default.
            operator: Run the stand-in KubeRay operator.
            ray_heads: Let the operator start a real Ray head per RayCluster.
            namespaces: Namespaces that exist from the start.
            scenario: The operator's default scenario.
            max_parallel_starts: How many Ray heads may start at once.
            gateway_controller: Run the stand-in Gateway controller, which serves the Gateways
                of ``gateway_classes`` on loopback ports and routes by their HTTPRoutes.
            gateway_classes: The ``gatewayClassName`` values that controller implements.

        """
        self.token = token or secrets.token_urlsafe(24)
        self.registry = Registry(namespaces=namespaces)
        self.operator: FakeKubeRay | None = None
        if operator:
            self.operator = FakeKubeRay(
                self.registry, ray_heads=ray_heads, max_parallel_starts=max_parallel_starts
            )
            if scenario is not None:
                self.operator.scenario = scenario
        self.gateways: FakeGatewayController | None = None
        if gateway_controller:
            self.gateways = FakeGatewayController(
                self.registry, self.endpoints, classes=gateway_classes
            )
        self.faults = Faults()
        self._start_log()
        self._connections: set[socket.socket] = set()
        self._static_endpoints: dict[tuple[str, str], dict[str, str | None]] = {}
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------
    # Lifecycle

    def start(self) -> FakeKubeServer:
        """Listen on a free loopback port and start the operator."""
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-kube",
            daemon=True,
        )
        self._thread.start()
        if self.operator is not None:
            self.operator.start()
        if self.gateways is not None:
            self.gateways.start()
        return self

    def stop(self) -> None:
        """Stop serving, end watches, close the Gateway listeners, stop the operator and every
        Ray head it started.
        """
        self._stop.set()
        if self.gateways is not None:
            self.gateways.stop()
        self.registry.store.wake_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._log_lock:  # keep-alive connections would outlive the server otherwise
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self.operator is not None:
            self.operator.stop()
        self.registry.close()

    def __enter__(self) -> FakeKubeServer:
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

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        token: str | None = None,
        namespace: str = "default",
        context: str = "fake-kube",
    ) -> Path:
        """Write a kubeconfig for this server (bearer ``token``, the server's by default)."""
        path = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake-kube", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-kube-user", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {
                        "cluster": "fake-kube",
                        "user": "fake-kube-user",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    def set_endpoints(self, namespace: str, service: str, backends: dict[str, str | None]) -> None:
        """Back a service with fixed endpoints (port name -> base URL) for the service proxy.

        For services the operator does not manage, e.g. a test's own stand-in dashboard.
        """
        self._static_endpoints[(namespace, service)] = dict(backends)

    def endpoints(self, namespace: str, service: str) -> dict[str, str | None]:
        """The proxy's view of a service's endpoints (fixed ones first, then the operator's)."""
        fixed = self._static_endpoints.get((namespace, service))
        if fixed is not None:
            return dict(fixed)
        return self.operator.endpoints(namespace, service) if self.operator is not None else {}

    def gateway_url(self, namespace: str, name: str, listener: str = "http") -> str:
        """Base URL (``http://127.0.0.1:<port>``) of a programmed Gateway listener.

        Raises:
            LookupError: Not programmed (yet), or no Gateway controller runs.

        """
        if self.gateways is None:
            raise LookupError("no Gateway controller runs: FakeKubeServer(gateway_controller=True)")
        return self.gateways.url(namespace, name, listener)

    def gateway_requests(
        self, namespace: str | None = None, name: str | None = None, listener: str | None = None
    ) -> list[GatewayRequest]:
        """Requests the Gateway listeners received (of one namespace, Gateway, listener)."""
        if self.gateways is None:
            return []
        return self.gateways.requests(namespace, name, listener)

    def reset_gateway_requests(self) -> None:
        """Forget the Gateway requests recorded so far."""
        if self.gateways is not None:
            self.gateways.reset_requests()

    def create_namespace(self, name: str) -> dict[str, Any]:
        """Make sure a namespace exists."""
        return self.registry.ensure_namespace(name)

    # ---------------------------------------------------------------------------------------
    # Faults

    def inject(
        self,
        status: int = 500,
        count: int = 1,
        *,
        retry_after: int = 1,
        match: Match = None,
        after_handling: bool = False,
    ) -> FaultRule:
        """Answer the next ``count`` matching requests with ``status`` (500, 429, 409, 503...).

        429 and 503 carry ``Retry-After: retry_after``. With ``after_handling`` the request is
        carried out and only its answer replaced.
        """
        return self.faults.add(
            make_rule(
                "status",
                count=count,
                match=match,
                status_code=status,
                retry_after=retry_after,
                after_handling=after_handling,
            )
        )

    def drop_connections(
        self, count: int = 1, *, match: Match = None, after_handling: bool = False
    ) -> FaultRule:
        """Close the socket of the next ``count`` matching requests without any answer."""
        return self.faults.add(
            make_rule("drop", count=count, match=match, after_handling=after_handling)
        )

    def hang(self, seconds: float, count: int = 1, *, match: Match = None) -> FaultRule:
        """Delay the next ``count`` matching requests by ``seconds`` before handling them."""
        return self.faults.add(make_rule("hang", count=count, match=match, seconds=seconds))

    def trickle(self, every_s: float = 1.0, count: int = 1, *, match: Match = None) -> FaultRule:
        """Answer the next ``count`` matching requests one byte every ``every_s``, never ending.

        The request is not carried out: a status line, headers announcing a large body, then
        one byte of it at a time until the client gives up or the server stops. Every read of
        the client returns within ``every_s``, so only a deadline on the whole request ends it.
        """
        return self.faults.add(make_rule("trickle", count=count, match=match, seconds=every_s))

    def clear_faults(self) -> None:
        self.faults.clear()

    # ---------------------------------------------------------------------------------------
    # Request log (``requests``, ``matching``, ``count``, ``reset_requests``: RequestLog)

    def writes(self, path: str | None = None, *, proxy: bool = True) -> list[RequestRecord]:
        """Logged POST/PUT/PATCH/DELETE requests."""
        return [r for r in self.matching(None, path, proxy=proxy) if r.method in WRITE_METHODS]

    def write_count(self, path: str | None = None, *, proxy: bool = True) -> int:
        """How many POST/PUT/PATCH/DELETE requests were logged (path regex optional)."""
        return len(self.writes(path, proxy=proxy))

    # ---------------------------------------------------------------------------------------
    # Conveniences for tests

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object or None (no request logged)."""
        return self.registry.find(rt, namespace, name)

    def wait_for(
        self, predicate: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.05
    ) -> bool:
        """Poll ``predicate`` until true or ``timeout``; return the last result."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)


class _Handler(TrackedHandler):
    """HTTP/1.1 with keep-alive, as the real server; one instance per connection."""

    fake: FakeKubeServer  # set on the bound subclass
    _log_status: Callable[[int], None]
    _path: str
    _answer_lost = False
    server_version = "fake-kube"

    def _tracked(self) -> tuple[threading.Lock, set[socket.socket]]:
        return self.fake._log_lock, self.fake._connections

    # ---------------------------------------------------------------------------------------

    def _handle(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = split.query
        method = self.command
        content_type = self.headers.get("Content-Type", "")
        body = proxy.read_body(self)
        info = RequestInfo(method, path, query, content_type)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        logged = False

        def log(code: int) -> None:
            # Logged before the answer goes out, so a client never sees an answer its request
            # is not yet logged for.
            nonlocal logged
            if not logged:
                logged = True
                record = RequestRecord(method, path, query, content_type, code)
                fake._log(RequestDetail(record, headers, body))

        self._log_status = log
        self._path = path
        auth = self.headers.get("Authorization")
        anonymous = auth is None and path.rstrip("/") in _ANONYMOUS_PATHS
        if auth != f"Bearer {fake.token}" and not anonymous:
            self._send(_error_response(status.unauthorized()))
            return
        rule = fake.faults.take(info)
        if rule is not None and rule.kind == "hang":
            fake._stop.wait(rule.seconds)
            rule = None
        if rule is not None and rule.kind == "trickle":
            self._trickle(rule.seconds)
            return
        if rule is not None and not rule.after_handling:
            self._fail(rule, info)
            return
        # A proxied request whose answer is to be lost is still carried out upstream (a PUT
        # that Serve applied), its answer read and dropped, and the fault answered instead.
        self._answer_lost = rule is not None
        try:
            response = self._dispatch(method, path, query, body, content_type)
        except ApiError as error:
            response = _error_response(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            log(0)
            return
        except Exception as exc:
            import traceback

            traceback.print_exc()
            response = _error_response(status.internal_error(f"fake-kube bug: {exc!r}"))
        if isinstance(response, int):  # streamed already
            log(response)
        elif rule is not None:  # after_handling: the work is done, the answer is lost
            self._fail(rule, info)
        else:
            self._send(response)

    def _fail(self, rule: FaultRule, info: RequestInfo) -> None:
        if rule.kind == "drop":
            self._log_status(0)
            self._drop()
        else:
            self._send(_error_response(rule.error(info)))

    def _trickle(self, every_s: float) -> None:
        self._log_status(200)
        self.close_connection = True
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"
        )
        for byte in head + b"{" + b" " * 1048575:
            if self.fake._stop.wait(every_s):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: _Response) -> None:
        self._log_status(response.code)
        try:
            self.send_response(response.code)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("Audit-Id", secrets.token_hex(16))
            for key, value in response.headers:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---------------------------------------------------------------------------------------
    # Routing

    def _dispatch(
        self, method: str, path: str, query: str, body: bytes, content_type: str
    ) -> _Response | int:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        parts = [p for p in path.split("/") if p]
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return _Response(200, b"ok", content_type="text/plain; charset=utf-8")
        if parts == ["version"]:
            return _json_response(200, VERSION_INFO)
        if parts == ["api"]:
            return _json_response(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.fake.port}"}
                    ],
                },
            )
        served = custom_groups()
        if parts == ["apis"]:
            documents = [_group_document(group, version) for group, version in served]
            return _json_response(
                200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": documents}
            )
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in dict(served):
            document = _group_document(parts[1], dict(served)[parts[1]])
            return _json_response(200, {"kind": "APIGroup", "apiVersion": "v1", **document})
        if parts == ["api", "v1"] or (
            len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in served
        ):
            group = "" if parts[0] == "api" else parts[1]
            version = parts[-1]
            resources = [
                e
                for rt in ALL_TYPES
                if (rt.group, rt.version) == (group, version)
                for e in _discovery_resource(rt)
            ]
            group_version = version if not group else f"{group}/{version}"
            return _json_response(
                200,
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": group_version,
                    "resources": resources,
                },
            )
        if parts[:3] == ["apis", EVENTS_V1.group, EVENTS_V1.version]:
            return self._events_v1_route(parts[3:], method, params, body, content_type)
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
            return self._resource_route(
                "", "v1", parts[2:], method, params, query, body, content_type
            )
        if len(parts) >= 4 and parts[0] == "apis":
            return self._resource_route(
                parts[1], parts[2], parts[3:], method, params, query, body, content_type
            )
        raise ApiError(
            404,
            "NotFound",
            "the server could not find the requested resource",
            {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]},
        )

    def _resource_route(
        self,
        group: str,
        version: str,
        rest: list[str],
        method: str,
        params: dict[str, str],
        query: str,
        body: bytes,
        content_type: str,
    ) -> _Response | int:
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and find_type(group, version, rest[2]) is not None
        ):
            namespace, rest = rest[1], rest[2:]
        rt = find_type(group, version, rest[0])
        if rt is None or (namespace is not None and not rt.namespaced):
            raise _not_served()
        if len(rest) == 1:
            return self._collection(rt, namespace, method, params, body, content_type)
        name = rest[1]
        if len(rest) >= 3 and rest[2] == "proxy" and rt is SERVICES and namespace is not None:
            # Keep the rest of the path as sent (trailing slash included): backends care.
            marker = f"/services/{name}/proxy"
            tail = self._path[self._path.index(marker) + len(marker) :]
            return self._proxy(namespace, name, tail, method, query, body)
        if len(rest) == 3 and rest[2] == "status" and rt.status_subresource:
            return self._object(rt, namespace, name, method, params, body, content_type, "status")
        if len(rest) == 2:
            if rt.namespaced and namespace is None:
                raise _not_served()
            return self._object(rt, namespace, name, method, params, body, content_type, None)
        raise _not_served()

    def _events_v1_route(
        self, rest: list[str], method: str, params: dict[str, str], body: bytes, content_type: str
    ) -> _Response | int:
        """events.k8s.io/v1: the core Event store, converted on every read (see events_v1.py).

        Served: discovery, get, list and watch (namespaced or across namespaces), create and
        delete. Updates and patches in this shape are not emulated (405).
        """
        if not rest:
            return _json_response(
                200,
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": EVENTS_V1.api_version,
                    "resources": _discovery_resource(EVENTS_V1),
                },
            )
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if rest[0] != EVENTS_V1.plural or len(rest) > 2:
            raise _not_served()
        registry = self.fake.registry
        if len(rest) == 2:
            if namespace is None:
                raise _not_served()
            if method == "GET":
                return _json_response(200, to_events_v1(registry.get(EVENTS, namespace, rest[1])))
            if method == "DELETE":
                code, answer = registry.delete(
                    EVENTS, namespace, rest[1], self._delete_options(params, body)
                )
                return _json_response(code, answer)
            if method in ("PUT", "PATCH"):
                raise status.method_not_allowed(
                    "fake-kube does not emulate updates of events.k8s.io/v1 Events"
                )
            raise method_not_allowed_error(method)
        if method == "GET":
            selector = core_field_selector(params.get("fieldSelector"))
            if params.get("watch") in ("true", "1"):
                return self._watch(
                    EVENTS, namespace, {**params, "fieldSelector": selector or ""}, to_events_v1
                )
            limit = params.get("limit")
            listed = registry.list(
                EVENTS,
                namespace,
                label_selector=params.get("labelSelector"),
                field_selector=selector,
                limit=int(limit) if limit and limit.isdigit() else None,
                continue_token=params.get("continue"),
            )
            listed["kind"] = EVENTS_V1.list_kind
            listed["apiVersion"] = EVENTS_V1.api_version
            listed["items"] = [to_events_v1(item) for item in listed["items"]]
            return _json_response(200, listed)
        if method == "POST" and namespace is not None:
            written = registry.create(
                EVENTS,
                namespace,
                from_events_v1(_decode_body(body, content_type)),
                self._write_options(params),
            )
            return _json_response(201, to_events_v1(written.obj), written.warnings)
        raise method_not_allowed_error(method)

    def _write_options(self, params: dict[str, str]) -> WriteOptions:
        agent = self.headers.get("User-Agent", "")
        manager = params.get("fieldManager") or agent.split("/")[0] or "unknown"
        dry_run = params.get("dryRun")
        if dry_run not in (None, "", "All"):
            raise status.bad_request(f"unsupported dryRun value: {dry_run!r}")
        return WriteOptions(
            manager=manager,
            dry_run=dry_run == "All",
            field_validation=params.get("fieldValidation") or "Warn",
        )

    def _collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        method: str,
        params: dict[str, str],
        body: bytes,
        content_type: str,
    ) -> _Response | int:
        registry = self.fake.registry
        if method == "GET":
            if params.get("watch") in ("true", "1"):
                return self._watch(rt, namespace, params)
            limit = params.get("limit")
            listed = registry.list(
                rt,
                namespace,
                label_selector=params.get("labelSelector"),
                field_selector=params.get("fieldSelector"),
                limit=int(limit) if limit and limit.isdigit() else None,
                continue_token=params.get("continue"),
            )
            return _json_response(200, listed)
        if method == "POST":
            if rt.namespaced and namespace is None:
                raise method_not_allowed_error(method)
            written = registry.create(
                rt, namespace, _decode_body(body, content_type), self._write_options(params)
            )
            return _json_response(201, written.obj, written.warnings)
        if method == "DELETE" and "deletecollection" in rt.verbs:
            listed = registry.delete_collection(
                rt,
                namespace,
                label_selector=params.get("labelSelector"),
                field_selector=params.get("fieldSelector"),
                options=self._delete_options(params, body),
            )
            return _json_response(200, listed)
        raise method_not_allowed_error(method)

    @staticmethod
    def _delete_options(params: dict[str, str], body: bytes) -> dict[str, Any]:
        options = parse_json(body) if body.strip() else {}
        if not isinstance(options, dict):
            raise status.bad_request("DeleteOptions must be a JSON object")
        if "propagationPolicy" in params:
            options["propagationPolicy"] = params["propagationPolicy"]
        if "orphanDependents" in params:
            options["orphanDependents"] = params["orphanDependents"] == "true"
        return options

    def _object(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        method: str,
        params: dict[str, str],
        body: bytes,
        content_type: str,
        subresource: str | None,
    ) -> _Response:
        registry = self.fake.registry
        if method == "GET":
            return _json_response(200, registry.get(rt, namespace, name))
        if method == "PUT":
            written = registry.update(
                rt,
                namespace,
                name,
                _decode_body(body, content_type),
                self._write_options(params),
                subresource=subresource,
            )
            return _json_response(200, written.obj, written.warnings)
        if method == "PATCH":
            written = registry.patch(
                rt,
                namespace,
                name,
                body,
                content_type,
                self._write_options(params),
                subresource=subresource,
            )
            return _json_response(200, written.obj, written.warnings)
        if method == "DELETE" and subresource is None:
            if rt is NAMESPACES:
                raise status.method_not_allowed("fake-kube does not emulate namespace deletion")
            code, answer = registry.delete(
                rt, namespace, name, self._delete_options(params, body), self._write_options(params)
            )
            return _json_response(code, answer)
        raise method_not_allowed_error(method)

    def _watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        params: dict[str, str],
        shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> int:
        """Stream watch events; ``shape`` converts each object (the events.k8s.io/v1 view)."""
        timeout = params.get("timeoutSeconds")
        events: Iterator[dict[str, Any]] = self.fake.registry.watch(
            rt,
            namespace,
            label_selector=params.get("labelSelector"),
            field_selector=params.get("fieldSelector"),
            resource_version=params.get("resourceVersion"),
            timeout_s=float(timeout) if timeout else 1800.0,
            stop=self.fake._stop,
        )
        self._log_status(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.close_connection = True
        try:
            for event in events:
                if shape is not None and event.get("type") != "ERROR":
                    event = {**event, "object": shape(event["object"])}
                self._chunk(json.dumps(event).encode() + b"\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        return 200

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _proxy(
        self, namespace: str, target: str, rest: str, method: str, query: str, body: bytes
    ) -> _Response | int:
        base = proxy.resolve(self.fake.registry, self.fake.endpoints, namespace, target)
        try:
            if self._answer_lost:
                proxy.forward(
                    proxy.Sink(self), base, method=method, path=rest, query=query, body=body
                )
                return _Response(0, b"")  # replaced by the fault's answer
            return proxy.forward(
                self,
                base,
                method=method,
                path=rest,
                query=query,
                body=body,
                on_status=self._log_status,
            )
        except proxy.UpstreamError as exc:
            raise status.service_unavailable(f"error trying to reach service: {exc}") from exc


def _not_served() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed_error(method: str) -> ApiError:
    return status.method_not_allowed(
        f"the server does not allow this method on the requested resource ({method})"
    )
