"""A stand-in Gateway API controller that serves the fake's Gateways and HTTPRoutes for real.

Traffic shifting between two RayClusters (KubeRay's incremental upgrade) is a change of an
HTTPRoute's weights; a test of it needs real requests that follow those weights to real Serve
ports. So for each Gateway whose ``gatewayClassName`` is one of its classes this controller:

- listens on one loopback port per HTTP listener (chosen by the OS: a test cannot bind the
  spec's port 80), found with :meth:`FakeGatewayController.url`;
- writes the Gateway's status (``Accepted``, ``Programmed``, ``listeners[]``, ``addresses``) and
  the status of every HTTPRoute naming it (``parents[]``: ``Accepted``, ``ResolvedRefs``), through
  the same API rules as any client (so the status is admitted against the CRD too);
- routes each request: the first matching rule in Gateway API precedence order, a backend by
  weight (deterministic smooth weighted round-robin), forwarded to the backend Service's endpoint
  for its port as the API server's service proxy does (``proxy.forward``). Routes are read at
  every request, so a change of weights applies to the next request;
- answers as a gateway: 404 when no rule matches, 500 for an invalid backend (missing Service,
  other kind or namespace) or when every weight is 0, 503 when the Service has no ready endpoint
  or nothing listens there; and records every request (:class:`GatewayRequest`).

A Gateway of another class is left alone, as a cluster without a controller for that class
would (its status stays the CRD's default, ``Pending``/"Waiting for controller"). Failures of the
controller itself are collected in ``errors`` and never stop it or the API server. The decisions
are pure functions in ``gateway_routing.py``, the status bodies in ``gateway_status.py``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import proxy
from .gateway_routing import (
    Attachment,
    Backend,
    Choice,
    Request,
    WeightedPicker,
    attachments,
    backend_problem,
    choose_rule,
    hostname_matches,
    listener_problem,
    resolved_refs,
    route_kinds,
    rule_backends,
)
from .gateway_status import LISTEN_ADDRESS, ListenerState, gateway_status, route_status
from .http_handler import TrackedHandler
from .proxy import EndpointsFn
from .registry import Registry, WriteOptions
from .resources import GATEWAYS, HTTPROUTES, NAMESPACES, SERVICES, ResourceType
from .status import ApiError
from .store import StoredEvent

log = logging.getLogger("fake_kube.gateway")

DEFAULT_GATEWAY_CLASSES = ("fake-gateway",)
_CONTROLLER = WriteOptions(manager="fake-gateway-controller")
_RETRY_S = 1.0

Obj = dict[str, Any]
ListenerKey = tuple[str, str, str]  # (namespace, gateway, listener)


@dataclass(frozen=True)
class GatewayRequest:
    """One request a Gateway listener received, and what became of it.

    Attributes:
        namespace: The Gateway's namespace.
        gateway: The Gateway's name.
        listener: The listener's name.
        method: The HTTP method.
        path: The path as sent (without the query).
        route: ``namespace/name`` of the HTTPRoute whose rule matched, or None (a 404).
        rule: Index of the matched rule in the route's ``spec.rules``, or None.
        backend: The backend chosen, ``namespace/service:port``, or None.
        status: The status answered (the backend's, or the gateway's own 404/500/503).

    """

    namespace: str
    gateway: str
    listener: str
    method: str
    path: str
    route: str | None
    rule: int | None
    backend: str | None
    status: int


@dataclass(frozen=True)
class _Forward:
    """A request to pass on to ``target``."""

    target: str
    choice: Choice
    backend: Backend


@dataclass(frozen=True)
class _Answer:
    """A request the gateway answers itself."""

    status: int
    message: str
    choice: Choice | None = None
    backend: Backend | None = None


class _Listener:
    """One listening socket and its serving thread; ``close()`` also ends open connections."""

    def __init__(self, controller: FakeGatewayController, key: ListenerKey) -> None:
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        handler = type(
            "_BoundGatewayHandler",
            (_Handler,),
            {"controller": controller, "key": key, "listener": self},
        )
        self.httpd = ThreadingHTTPServer((LISTEN_ADDRESS, 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-gateway-{'/'.join(key)}",
            daemon=True,
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{LISTEN_ADDRESS}:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)


class FakeGatewayController:
    """The stand-in controller; ``start()`` subscribes it to the fake's store.

    Attributes:
        classes: The ``gatewayClassName`` values it implements.
        errors: Failures of the controller (reconcile or request handling), as text.

    """

    def __init__(
        self,
        registry: Registry,
        endpoints: EndpointsFn,
        *,
        classes: tuple[str, ...] = DEFAULT_GATEWAY_CLASSES,
    ) -> None:
        """Create the controller (not started).

        Args:
            registry: The fake's API rules and store.
            endpoints: A service's endpoints, port name -> base URL (the API server's view).
            classes: The ``gatewayClassName`` values to implement.

        """
        self.registry = registry
        self.endpoints = endpoints
        self.classes = frozenset(classes)
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._dirty = False
        self._stopped = threading.Event()
        self._listeners: dict[ListenerKey, _Listener] = {}
        self._urls: dict[ListenerKey, str] = {}
        self._requests: list[GatewayRequest] = []
        self._picker = WeightedPicker()
        self._worker: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------
    # Lifecycle and the public surface

    def start(self) -> None:
        """Subscribe to changes and reconcile (existing Gateways included)."""
        self._stopped.clear()
        self.registry.store.subscribe(self._on_event)
        self._worker = threading.Thread(target=self._loop, name="fake-gateway", daemon=True)
        self._worker.start()
        self._kick()

    def stop(self) -> None:
        """Stop reconciling and close every listener (their ports are free afterwards)."""
        self.registry.store.unsubscribe(self._on_event)
        self._stopped.set()
        with self._wake:
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)
        with self._lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
            self._urls.clear()
        for listener in listeners:
            listener.close()

    def url(self, namespace: str, name: str, listener: str = "http") -> str:
        """Base URL of a Gateway listener (``http://127.0.0.1:<port>``).

        Raises:
            LookupError: The listener is not programmed (yet): unknown Gateway or listener,
                a class this controller does not implement, or status not written yet.

        """
        with self._lock:
            url = self._urls.get((namespace, name, listener))
        if url is None:
            raise LookupError(
                f"listener {listener!r} of Gateway {namespace}/{name} is not programmed"
            )
        return url

    def requests(
        self, namespace: str | None = None, name: str | None = None, listener: str | None = None
    ) -> list[GatewayRequest]:
        """The requests received so far, optionally of one namespace, Gateway or listener."""
        with self._lock:
            recorded = list(self._requests)
        return [
            r
            for r in recorded
            if (namespace is None or r.namespace == namespace)
            and (name is None or r.gateway == name)
            and (listener is None or r.listener == listener)
        ]

    def reset_requests(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    # ---------------------------------------------------------------------------------------
    # Reconcile loop

    def _on_event(self, event: StoredEvent) -> None:
        # Called under the store lock: only flag the work.
        if event.rt in (GATEWAYS, HTTPROUTES, SERVICES, NAMESPACES):
            self._kick()

    def _kick(self) -> None:
        with self._wake:
            self._dirty = True
            self._wake.notify_all()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._dirty and not self._stopped.is_set():
                    self._wake.wait(0.5)
                self._dirty = False
            if self._stopped.is_set():
                return
            try:
                self._reconcile()
            except ApiError as exc:
                if exc.code not in (404, 409):  # a write raced another: the next pass redoes it
                    self._record_error(f"reconcile: {exc}")
                    self._stopped.wait(_RETRY_S)
                self._kick()
            except Exception:
                self._record_error(f"reconcile:\n{traceback.format_exc()}")
                self._stopped.wait(_RETRY_S)
                self._kick()

    def _record_error(self, message: str) -> None:
        log.error("%s", message)
        with self._lock:
            self.errors.append(message)

    def _ours(self, gateway: Obj) -> bool:
        """Of one of our classes, and not being deleted."""
        class_name = (gateway.get("spec") or {}).get("gatewayClassName")
        return class_name in self.classes and not gateway["metadata"].get("deletionTimestamp")

    def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        found = self.registry.find(NAMESPACES, None, namespace)
        return None if found is None else dict(found["metadata"].get("labels") or {})

    def _service_exists(self, namespace: str, name: str) -> bool:
        return self.registry.find(SERVICES, namespace, name) is not None

    def _reconcile(self) -> None:
        gateways = [g for g in self.registry.list(GATEWAYS, None)["items"] if self._ours(g)]
        routes = self.registry.list(HTTPROUTES, None)["items"]
        attached: Counter[ListenerKey] = Counter()
        for route in routes:
            found: list[Attachment] = []
            for gateway in gateways:
                for attachment in attachments(route, gateway, self._namespace_labels):
                    found.append(attachment)
                    for listener in attachment.listeners:
                        gateway_meta = gateway["metadata"]
                        attached[(gateway_meta["namespace"], gateway_meta["name"], listener)] += 1
            unresolved = resolved_refs(route, self._service_exists)
            self._write_status(HTTPROUTES, route, route_status(route, found, unresolved))
        wanted: set[ListenerKey] = set()
        for gateway in gateways:
            wanted |= self._reconcile_gateway(gateway, attached)
        self._close_listeners(wanted)

    def _reconcile_gateway(self, gateway: Obj, attached: Counter[ListenerKey]) -> set[ListenerKey]:
        namespace, name = gateway["metadata"]["namespace"], gateway["metadata"]["name"]
        states = []
        keys: set[ListenerKey] = set()
        for listener in gateway["spec"].get("listeners") or []:
            key = (namespace, name, str(listener["name"]))
            problem = listener_problem(listener)
            if problem is None:
                self._open_listener(key)
                keys.add(key)
            supported, unsupported = route_kinds(listener)
            states.append(
                ListenerState(
                    name=key[2],
                    problem=problem,
                    supported_kinds=supported,
                    unsupported_kinds=unsupported,
                    attached_routes=attached[key],
                    programmed=problem is None,
                )
            )
        self._write_status(GATEWAYS, gateway, gateway_status(gateway, states))
        with self._lock:
            for key in keys:
                if key in self._listeners:
                    self._urls[key] = self._listeners[key].url
        return keys

    def _write_status(self, rt: ResourceType, obj: Obj, status: Obj | None) -> None:
        if status is None or obj.get("status") == status:
            return
        self.registry.update(
            rt,
            obj["metadata"]["namespace"],
            obj["metadata"]["name"],
            {**obj, "status": status},
            _CONTROLLER,
            subresource="status",
        )

    def _open_listener(self, key: ListenerKey) -> None:
        with self._lock:
            if key in self._listeners or self._stopped.is_set():
                return
        opened = _Listener(self, key)
        with self._lock:
            self._listeners[key] = opened
        log.info("Gateway %s/%s listener %s serves at %s", *key, opened.url)

    def _close_listeners(self, wanted: set[ListenerKey]) -> None:
        with self._lock:
            gone = [key for key in self._listeners if key not in wanted]
            closing = [self._listeners.pop(key) for key in gone]
            for key in gone:
                self._urls.pop(key, None)
        for listener in closing:
            listener.close()

    # ---------------------------------------------------------------------------------------
    # Routing a request

    def _decide(self, key: ListenerKey, request: Request) -> _Forward | _Answer:
        namespace, name, listener_name = key
        gateway = self.registry.find(GATEWAYS, namespace, name)
        listener = next(
            (
                entry
                for entry in ((gateway or {}).get("spec") or {}).get("listeners") or []
                if entry.get("name") == listener_name
            ),
            None,
        )
        if gateway is None or listener is None or not self._ours(gateway):
            return _Answer(404, f"listener {listener_name} of Gateway {namespace}/{name} is gone")
        hostname = listener.get("hostname")
        if hostname and not hostname_matches(hostname, request.host):
            return _Answer(404, f"host {request.host} is not served by this listener")
        routes = [
            route
            for route in self.registry.list(HTTPROUTES, None)["items"]
            if any(
                listener_name in a.listeners
                for a in attachments(route, gateway, self._namespace_labels)
            )
        ]
        choice = choose_rule(routes, request)
        if choice is None:
            return _Answer(404, f"no route matches {request.method} {request.path}")
        backends = rule_backends(choice.route, choice.rule)
        backend = self._picker.pick((choice.route["metadata"]["uid"], choice.rule_index), backends)
        if backend is None:
            return _Answer(500, "no backend of positive weight", choice)
        route_namespace = choice.route["metadata"]["namespace"]
        problem = backend_problem(backend, route_namespace, self._service_exists)
        if problem is not None:
            return _Answer(500, f"invalid backend: {problem[1]}", choice, backend)
        service = self.registry.find(SERVICES, backend.namespace, backend.name)
        port = proxy.port_name(service or {}, backend.port or 0)
        endpoints = self.endpoints(backend.namespace, backend.name)
        target = endpoints.get(port) if port is not None else None
        if target is None:
            return _Answer(503, "no healthy upstream", choice, backend)
        return _Forward(target, choice, backend)

    def _record(self, request: GatewayRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _Handler(TrackedHandler):
    """One connection to a Gateway listener (HTTP/1.1, keep-alive)."""

    controller: FakeGatewayController  # the three are set on the bound subclass
    key: ListenerKey
    listener: _Listener
    server_version = "fake-gateway"

    def _tracked(self) -> tuple[threading.Lock, set[socket.socket]]:
        return self.listener.lock, self.listener.connections

    def do_HEAD(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        controller = self.controller
        split = urlsplit(self.path)
        path = split.path or "/"
        body = proxy.read_body(self)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        request = Request(
            method=self.command,
            path=path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in reversed(list(self.headers.items()))},
            host=host,
        )
        namespace, gateway, listener = self.key
        recorded = False

        def record(code: int, choice: Choice | None, backend: Backend | None) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            controller._record(
                GatewayRequest(
                    namespace=namespace,
                    gateway=gateway,
                    listener=listener,
                    method=self.command,
                    path=path,
                    route=choice.route_key if choice is not None else None,
                    rule=choice.rule_index if choice is not None else None,
                    backend=str(backend) if backend is not None else None,
                    status=code,
                )
            )

        try:
            decision = controller._decide(self.key, request)
            if isinstance(decision, _Forward):
                self._forward(decision, split.query, body, record)
            else:
                record(decision.status, decision.choice, decision.backend)
                self._answer(decision.status, decision.message)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            controller._record_error(
                f"request {self.command} {self.path} on {'/'.join(self.key)}:\n"
                f"{traceback.format_exc()}"
            )
            if not recorded:
                record(500, None, None)
                with contextlib.suppress(OSError):
                    self._answer(500, "gateway controller error")

    def _forward(
        self,
        decision: _Forward,
        query: str,
        body: bytes,
        record: Callable[[int, Choice | None, Backend | None], None],
    ) -> None:
        try:
            proxy.forward(
                self,
                decision.target,
                method=self.command,
                path=urlsplit(self.path).path or "/",
                query=query,
                body=body,
                on_status=lambda code: record(code, decision.choice, decision.backend),
                drop=proxy.GATEWAY_DROPS,
            )
        except proxy.UpstreamError as exc:
            record(503, decision.choice, decision.backend)
            self._answer(
                503,
                "upstream connect error or disconnect/reset before headers. reset reason: "
                f"connection failure ({exc})",
            )

    def _answer(self, code: int, message: str) -> None:
        data = (message + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()
