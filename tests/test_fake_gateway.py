"""The fake API server's Gateway API: Gateways and HTTPRoutes admitted against the v1.4.1 CRDs,
and the stand-in Gateway controller routing real HTTP requests by an HTTPRoute's weights.

Objects go through a kubeconfig and the official client, as the code under test sends them.
Two small local HTTP servers stand in as the endpoints of two Services (``set_endpoints``), so
all but the last test are fast and need no Ray; the last one (marked ``ray``) routes through two
real RayClusters' serve services to real Serve (two Ray heads: a few minutes).
"""

from __future__ import annotations

import builtins
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from rayservice_testbed.fake_kube import (
    GATEWAYS,
    HTTPROUTES,
    RAYCLUSTERS,
    SERVICES,
    FakeKubeServer,
    GatewayRequest,
)
from rayservice_testbed.fake_kube.admission import CRDS, crd_schema
from rayservice_testbed.fake_kube.fixtures import (
    fake_kube,
    fake_kube_gateway,
    fake_kube_ray_gateway,
    kube_client,
    kubeconfig,
    raycluster,
    unique_name,
)
from rayservice_testbed.fake_kube.gateway_routing import (
    Backend,
    Request,
    WeightedPicker,
    choose_rule,
)
from rayservice_testbed.fake_kube.gateway_status import CONTROLLER_NAME
from rayservice_testbed.harness.serve_apps import answer, fruit_app, put_raw, wait_for

__all__ = ["fake_kube", "fake_kube_gateway", "fake_kube_ray_gateway", "kube_client", "kubeconfig"]

GROUP, VERSION, NS, CLASS = "gateway.networking.k8s.io", "v1", "default", "fake-gateway"
FAKE_KUBE = Path(__file__).parents[1] / "testbed" / "rayservice_testbed" / "fake_kube"
Obj = dict[str, Any]


class GatewayApi:
    """``CustomObjectsApi`` for one Gateway API plural in one namespace, answering dicts."""

    def __init__(self, api: client.ApiClient, plural: str, namespace: str = NS) -> None:
        self.api = client.CustomObjectsApi(api)
        self.plural = plural
        self.namespace = namespace

    def _args(self) -> tuple[str, str, str, str]:
        return GROUP, VERSION, self.namespace, self.plural

    def create(self, body: Obj, **kwargs: Any) -> Obj:
        return cast(Obj, self.api.create_namespaced_custom_object(*self._args(), body, **kwargs))

    def read(self, name: str) -> Obj:
        return cast(Obj, self.api.get_namespaced_custom_object(*self._args(), name))

    def list(self, **kwargs: Any) -> Obj:
        return cast(Obj, self.api.list_namespaced_custom_object(*self._args(), **kwargs))

    def patch(self, name: str, body: Any, **kwargs: Any) -> Obj:
        return cast(
            Obj, self.api.patch_namespaced_custom_object(*self._args(), name, body, **kwargs)
        )

    def json_patch(self, name: str, operations: builtins.list[Obj]) -> Obj:
        return self.patch(name, operations, _content_type="application/json-patch+json")

    def patch_status(self, name: str, body: Any) -> Obj:
        return cast(Obj, self.api.patch_namespaced_custom_object_status(*self._args(), name, body))

    def delete(self, name: str) -> Obj:
        return cast(Obj, self.api.delete_namespaced_custom_object(*self._args(), name))


@pytest.fixture
def gateways(kube_client: client.ApiClient) -> GatewayApi:
    return GatewayApi(kube_client, "gateways")


@pytest.fixture
def routes(kube_client: client.ApiClient) -> GatewayApi:
    return GatewayApi(kube_client, "httproutes")


@pytest.fixture
def gw(fake_kube_gateway: FakeKubeServer) -> Iterator[FakeKubeServer]:
    """The fake with the Gateway controller; the test fails if the controller recorded errors."""
    yield fake_kube_gateway
    assert fake_kube_gateway.gateways is not None
    assert fake_kube_gateway.gateways.errors == []


def failure(exc: ApiException) -> Obj:
    return cast(Obj, json.loads(exc.body or "{}"))


def refused(call: Any, *args: Any, **kwargs: Any) -> ApiException:
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value


def gateway_manifest(
    name: str, *, class_name: str = CLASS, listeners: list[Obj] | None = None
) -> Obj:
    """A Gateway as KubeRay's incremental upgrade makes it: one HTTP listener ``http``, port 80."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gateway",
        "metadata": {"name": name},
        "spec": {
            "gatewayClassName": class_name,
            "listeners": listeners or [{"name": "http", "protocol": "HTTP", "port": 80}],
        },
    }


def route_manifest(
    name: str,
    gateway: str,
    backends: list[tuple[str, int | None]],
    *,
    matches: list[Obj] | None = None,
    parent: Obj | None = None,
) -> Obj:
    """An HTTPRoute as KubeRay's: ``PathPrefix /`` to weighted ``serve`` ports (8000)."""
    refs = []
    for service, weight in backends:
        ref: Obj = {"name": service, "namespace": NS, "port": 8000}
        if weight is not None:
            ref["weight"] = weight
        refs.append(ref)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [parent or {"name": gateway, "namespace": NS}],
            "rules": [
                {
                    "matches": matches or [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": refs,
                }
            ],
        },
    }


def conditions(entry: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in entry.get("conditions") or []}


def our_parents(route: Obj) -> list[Obj]:
    return [
        p
        for p in (route.get("status") or {}).get("parents") or []
        if p["controllerName"] == CONTROLLER_NAME
    ]


def parent_condition(server: FakeKubeServer, route: str, kind: str) -> Obj | None:
    """Our controller's condition ``kind`` on the route's first parent entry, if written yet."""
    found = server.get(HTTPROUTES, NS, route)
    parents = our_parents(found or {})
    return conditions(parents[0]).get(kind) if parents else None


def programmed_url(server: FakeKubeServer, name: str, listener: str = "http") -> str:
    def url() -> str | None:
        try:
            return server.gateway_url(NS, name, listener)
        except LookupError:
            return None

    assert server.wait_for(lambda: url() is not None, timeout=10), server.gateways
    found = url()
    assert found is not None
    return found


def wait_condition(
    server: FakeKubeServer, route: str, kind: str, status: str, reason: str | None = None
) -> Obj:
    def matches() -> bool:
        found = parent_condition(server, route, kind)
        return (
            found is not None
            and found["status"] == status
            and (reason is None or found["reason"] == reason)
        )

    assert server.wait_for(matches, timeout=10), server.get(HTTPROUTES, NS, route)
    found = parent_condition(server, route, kind)
    assert found is not None
    return found


# ---------------------------------------------------------------------------------------------
# Stand-in endpoints


class _Upstream(BaseHTTPRequestHandler):
    """Answers who it is, and what it received."""

    protocol_version = "HTTP/1.1"
    who = "?"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        data = json.dumps(
            {
                "who": self.who,
                "method": self.command,
                "path": self.path,
                "body": body.decode(),
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def upstreams() -> Iterator[Callable[[str], int]]:
    """Start a named stand-in endpoint: ``start("a")`` -> its port; all stopped afterwards."""
    started: list[ThreadingHTTPServer] = []

    def start(who: str) -> int:
        handler = type(f"_Upstream_{who}", (_Upstream,), {"who": who})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        started.append(httpd)
        return int(httpd.server_address[1])

    try:
        yield start
    finally:
        for httpd in started:
            httpd.shutdown()
            httpd.server_close()


def serve_service(server: FakeKubeServer, name: str, upstream_port: int | None = None) -> None:
    """A Service like ``<cluster>-serve-svc`` (port ``serve`` 8000), backed by the upstream."""
    body = {"metadata": {"name": name}, "spec": {"ports": [{"name": "serve", "port": 8000}]}}
    server.registry.create(SERVICES, NS, body)
    if upstream_port is not None:
        server.set_endpoints(NS, name, {"serve": f"http://127.0.0.1:{upstream_port}"})


def whos(url: str, count: int, path: str = "/") -> list[str]:
    with requests.Session() as session:
        return [session.get(f"{url}{path}", timeout=10).json()["who"] for _ in range(count)]


# ---------------------------------------------------------------------------------------------
# Admission against the Gateway API CRDs


def test_kuberay_shaped_gateway_and_route_are_admitted_with_schema_defaults(
    fake_kube: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi
) -> None:
    created = gateways.create(gateway_manifest("svc-gateway", class_name="istio"))
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    listener = created["spec"]["listeners"][0]
    assert listener["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    # No controller for the class: the CRD's own status default, as a real cluster shows it.
    assert {c["type"]: (c["status"], c["reason"]) for c in created["status"]["conditions"]} == {
        "Accepted": ("Unknown", "Pending"),
        "Programmed": ("Unknown", "Pending"),
    }
    body = route_manifest(
        "svc-httproute", "svc-gateway", [("a-serve-svc", 80), ("b-serve-svc", None)]
    )
    body["spec"]["rules"].append({"backendRefs": [{"name": "c-serve-svc", "port": 8000}]})
    route = routes.create(body)
    assert route["spec"]["parentRefs"] == [
        {"name": "svc-gateway", "namespace": NS, "group": GROUP, "kind": "Gateway"}
    ]
    first, second = route["spec"]["rules"]
    assert [(r["group"], r["kind"], r["weight"]) for r in first["backendRefs"]] == [
        ("", "Service", 80),
        ("", "Service", 1),
    ]
    assert second["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert "status" not in route


_DELETE = object()


def _set(path: str, value: Any) -> Callable[[Obj], None]:
    """A mutation of a manifest at a dotted path (``spec.rules.0.backendRefs.0.weight``)."""

    def mutate(body: Obj) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


WEIGHT = "spec.rules.0.backendRefs.0.weight"


@pytest.mark.parametrize(
    ("kind", "mutate", "field", "fragment"),
    [
        (
            "HTTPRoute",
            _set(WEIGHT, "50"),
            "spec.rules[0].backendRefs[0].weight",
            'must be of type integer: "string"',
        ),
        (
            "HTTPRoute",
            _set(WEIGHT, 1000001),
            "spec.rules[0].backendRefs[0].weight",
            "should be less than or equal to 1000000",
        ),
        (
            "HTTPRoute",
            _set(WEIGHT, -1),
            "spec.rules[0].backendRefs[0].weight",
            "should be greater than or equal to 0",
        ),
        (
            "HTTPRoute",
            _set("spec.parentRefs.0.name", _DELETE),
            "spec.parentRefs[0].name",
            "Required value",
        ),
        (
            "HTTPRoute",
            _set("spec.rules.0.backendRefs.0.port", 70000),
            "spec.rules[0].backendRefs[0].port",
            "should be less than or equal to 65535",
        ),
        (
            "HTTPRoute",
            _set("spec.rules.0.matches.0.path.type", "Prefix"),
            "spec.rules[0].matches[0].path.type",
            'Unsupported value: "Prefix": supported values: "Exact", "PathPrefix"',
        ),
        (
            "HTTPRoute",
            _set("spec.rules.0.matches.0.method", "FETCH"),
            "spec.rules[0].matches[0].method",
            "Unsupported value",
        ),
        (
            "HTTPRoute",
            _set("spec.rules", [{"backendRefs": []}] * 17),
            "spec.rules",
            "must have at most 16 items",
        ),
        ("HTTPRoute", _set("spec.hostnames", ["Bad_Host"]), "spec.hostnames[0]", "should match"),
        ("Gateway", _set("spec.gatewayClassName", _DELETE), "spec.gatewayClassName", "Required"),
        (
            "Gateway",
            _set("spec.listeners.0.port", 0),
            "spec.listeners[0].port",
            "should be greater than or equal to 1",
        ),
        (
            "Gateway",
            _set(
                "spec.listeners",
                [{"name": "http", "protocol": "HTTP", "port": p} for p in (80, 81)],
            ),
            "spec.listeners[1]",
            "Duplicate value",
        ),
        ("Gateway", _set("spec.listeners", []), "spec.listeners", "at least 1 items"),
    ],
)
def test_invalid_gateways_and_routes_are_422_with_field_paths(
    fake_kube: FakeKubeServer,
    gateways: GatewayApi,
    routes: GatewayApi,
    kind: str,
    mutate: Callable[[Obj], None],
    field: str,
    fragment: str,
) -> None:
    if kind == "Gateway":
        body, api = gateway_manifest("bad"), gateways
    else:
        body, api = route_manifest("bad", "g", [("a-serve-svc", 50)]), routes
    mutate(body)
    error = refused(api.create, body)
    status = failure(error)
    assert error.status == 422 and status["reason"] == "Invalid"
    assert status["message"].startswith(f'{kind}.{GROUP} "bad" is invalid: ')
    assert field in status["message"] and fragment in status["message"]
    assert status["details"]["group"] == GROUP and status["details"]["kind"] == kind
    assert field in [cause["field"] for cause in status["details"]["causes"]]


def test_routes_are_served_like_rayclusters(fake_kube: FakeKubeServer, routes: GatewayApi) -> None:
    since = routes.list()["metadata"]["resourceVersion"]
    seen: list[tuple[str, int]] = []
    watcher = watch.Watch()  # type: ignore[no-untyped-call]

    def consume() -> None:
        for event in watcher.stream(  # type: ignore[no-untyped-call]
            routes.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            "httproutes",
            resource_version=since,
            timeout_seconds=5,
        ):
            seen.append((event["type"], event["object"]["metadata"]["generation"]))
            if event["type"] == "DELETED":
                watcher.stop()  # type: ignore[no-untyped-call]

    thread = threading.Thread(target=consume)
    thread.start()
    routes.create(route_manifest("r", "g", [("a-serve-svc", 100), ("b-serve-svc", 0)]))
    assert refused(routes.create, route_manifest("r", "g", [])).status == 409
    shifted = routes.json_patch(
        "r",
        [
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 90},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 10},
        ],
    )
    assert shifted["metadata"]["generation"] == 2
    ignored = routes.patch("r", {"status": {"parents": []}})
    assert "status" not in ignored and ignored["metadata"]["generation"] == 2
    accepted = {
        "type": "Accepted",
        "status": "True",
        "reason": "Accepted",
        "message": "",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    parent = {
        "parentRef": {"name": "g"},
        "controllerName": "example.com/other",
        "conditions": [accepted],
    }
    written = routes.patch_status("r", {"status": {"parents": [parent]}})
    assert written["status"]["parents"][0]["parentRef"]["kind"] == "Gateway"  # defaulted
    assert written["metadata"]["generation"] == 2
    error = refused(routes.patch, "r", {"spec": {}}, _content_type="application/apply-patch+yaml")
    assert error.status == 415
    error = refused(
        routes.patch, "r", {"spec": {}}, _content_type="application/strategic-merge-patch+json"
    )
    assert error.status == 415
    routes.delete("r")
    thread.join(timeout=10)
    assert seen == [("ADDED", 1), ("MODIFIED", 2), ("MODIFIED", 2), ("DELETED", 2)]


def test_every_unenforced_cel_rule_is_documented() -> None:
    """The README names each ``x-kubernetes-validations`` rule of the served CRD versions."""
    readme = (FAKE_KUBE / "README.md").read_text()

    def messages(schema: Any) -> Iterator[str]:
        if isinstance(schema, dict):
            for rule in schema.get("x-kubernetes-validations") or []:
                yield str(rule["message"])
            for value in schema.values():
                yield from messages(value)
        elif isinstance(schema, list):
            for value in schema:
                yield from messages(value)

    missing = set()
    for rt in (GATEWAYS, HTTPROUTES, RAYCLUSTERS):
        assert rt.crd is not None
        schema = crd_schema(CRDS / rt.crd, rt.version)
        missing |= {m for m in messages(schema) if f"`{m}`" not in readme}
    assert not missing


# ---------------------------------------------------------------------------------------------
# Matching and weights, as pure functions


def _route(
    name: str, rules: list[Obj], *, created: str = "2025-01-01T00:00:00Z", **spec: Any
) -> Obj:
    meta = {"name": name, "namespace": NS, "creationTimestamp": created, "uid": name}
    return {"metadata": meta, "spec": {"rules": rules, **spec}}


def _rule(*matches: Obj) -> Obj:
    return {"matches": list(matches)}


def _path(kind: str, value: str, **extra: Any) -> Obj:
    return {"path": {"type": kind, "value": value}, **extra}


def _request(
    path: str, method: str = "GET", host: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> Request:
    bare, _, query = path.partition("?")
    params: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        params.setdefault(key, []).append(value)
    return Request(method, bare, params, {k.lower(): v for k, v in (headers or {}).items()}, host)


PRECEDENCE = [
    # (routes, request, expected (route, rule) or None)
    ([_route("a", [_rule(_path("PathPrefix", "/abc"))])], _request("/abc/d"), ("a", 0)),
    ([_route("a", [_rule(_path("PathPrefix", "/abc/"))])], _request("/abc"), ("a", 0)),
    ([_route("a", [_rule(_path("PathPrefix", "/abc"))])], _request("/abcd"), None),
    ([_route("a", [_rule(_path("Exact", "/abc"))])], _request("/abc/"), None),
    (
        [_route("a", [_rule(_path("PathPrefix", "/a")), _rule(_path("Exact", "/a/b"))])],
        _request("/a/b"),
        ("a", 1),
    ),
    (
        [
            _route("a", [_rule(_path("PathPrefix", "/a"))]),
            _route("b", [_rule(_path("PathPrefix", "/a/b"))]),
        ],
        _request("/a/b/c"),
        ("b", 0),
    ),
    (
        [
            _route(
                "a",
                [_rule(_path("PathPrefix", "/")), _rule(_path("RegularExpression", "/v[0-9]+/.*"))],
            )
        ],
        _request("/v2/x"),
        ("a", 1),
    ),
    (
        [
            _route(
                "a",
                [_rule(_path("PathPrefix", "/")), _rule(_path("PathPrefix", "/", method="POST"))],
            )
        ],
        _request("/x", "POST"),
        ("a", 1),
    ),
    (
        [
            _route(
                "a",
                [
                    _rule(_path("PathPrefix", "/")),
                    _rule(_path("PathPrefix", "/", headers=[{"name": "X-Canary", "value": "1"}])),
                ],
            )
        ],
        _request("/x", headers={"x-canary": "1"}),
        ("a", 1),
    ),
    (
        [
            _route(
                "a",
                [
                    _rule(_path("PathPrefix", "/")),
                    _rule(
                        _path(
                            "PathPrefix",
                            "/",
                            queryParams=[
                                {"name": "v", "type": "RegularExpression", "value": "2.*"}
                            ],
                        )
                    ),
                ],
            )
        ],
        _request("/x?v=2a"),
        ("a", 1),
    ),
    (
        [
            _route("young", [_rule(_path("PathPrefix", "/"))], created="2025-01-02T00:00:00Z"),
            _route("old", [_rule(_path("PathPrefix", "/"))]),
        ],
        _request("/"),
        ("old", 0),
    ),
    (
        [
            _route("b", [_rule(_path("PathPrefix", "/"))]),
            _route("a", [_rule(_path("PathPrefix", "/"))]),
        ],
        _request("/"),
        ("a", 0),
    ),
    (
        [_route("a", [_rule(_path("PathPrefix", "/"))], hostnames=["*.example.com"])],
        _request("/", host="ray.example.com"),
        ("a", 0),
    ),
    (
        [_route("a", [_rule(_path("PathPrefix", "/"))], hostnames=["*.example.com"])],
        _request("/", host="example.com"),
        None,
    ),
]


@pytest.mark.parametrize(("routes", "request_", "expected"), PRECEDENCE)
def test_rules_match_in_gateway_api_precedence_order(
    routes: list[Obj], request_: Request, expected: tuple[str, int] | None
) -> None:
    choice = choose_rule(routes, request_)
    got = None if choice is None else (choice.route["metadata"]["name"], choice.rule_index)
    assert got == expected


@pytest.mark.parametrize("weights", [(80, 20), (1, 1), (3, 1, 1), (0, 5), (1, 0, 0), (999999, 1)])
def test_smooth_weighted_round_robin_gives_each_backend_its_exact_share(
    weights: tuple[int, ...],
) -> None:
    backends = [Backend(NS, f"s{i}", 8000, "", "Service", w) for i, w in enumerate(weights)]
    picker = WeightedPicker()
    total = sum(weights)
    cycle = [picker.pick("rule", backends) for _ in range(min(total, 1000))]
    counts = Counter(b.name for b in cycle if b is not None)
    if total <= 1000:
        assert counts == Counter({f"s{i}": w for i, w in enumerate(weights) if w})
    else:
        assert counts == Counter({"s0": 1000})  # the light one is due mid-cycle, not before
    if weights == (80, 20):  # interleaved, not 80 of one then 20 of the other
        assert {b.name for b in cycle[:5] if b is not None} == {"s0", "s1"}


def test_a_change_of_weights_starts_a_new_cycle_and_zero_weights_pick_nothing() -> None:
    picker = WeightedPicker()
    a, b = (Backend(NS, n, 8000, "", "Service", 1) for n in ("a", "b"))
    assert [picker.pick("k", [a, b]).name for _ in range(3)] == ["a", "b", "a"]  # type: ignore[union-attr]
    heavy_b = Backend(NS, "b", 8000, "", "Service", 3)
    assert [picker.pick("k", [a, heavy_b]).name for _ in range(4)] == ["b", "a", "b", "b"]  # type: ignore[union-attr]
    zero = [Backend(NS, n, 8000, "", "Service", 0) for n in ("a", "b")]
    assert picker.pick("k", zero) is None and picker.pick("k", []) is None


# ---------------------------------------------------------------------------------------------
# The controller: status


def test_a_gateway_of_its_class_is_accepted_programmed_and_listens(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    with pytest.raises(LookupError):
        gw.gateway_url(NS, "g")
    gateways.create(gateway_manifest("g"))
    url = programmed_url(gw, "g")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    status = gateways.read("g")["status"]
    accepted, ready = conditions(status)["Accepted"], conditions(status)["Programmed"]
    assert (accepted["status"], accepted["reason"], accepted["observedGeneration"]) == (
        "True",
        "Accepted",
        1,
    )
    assert (ready["status"], ready["reason"]) == ("True", "Programmed")
    assert accepted["lastTransitionTime"] != "1970-01-01T00:00:00Z"
    assert status["addresses"] == [{"type": "IPAddress", "value": "127.0.0.1"}]
    [listener] = status["listeners"]
    assert listener["name"] == "http" and listener["attachedRoutes"] == 0
    assert listener["supportedKinds"] == [{"group": GROUP, "kind": "HTTPRoute"}]
    assert {t: c["status"] for t, c in conditions(listener).items()} == {
        "Accepted": "True",
        "Programmed": "True",
        "ResolvedRefs": "True",
        "Conflicted": "False",
    }

    serve_service(gw, "a-serve-svc", upstreams("a"))
    routes.create(route_manifest("r", "g", [("a-serve-svc", 1)]))
    assert gw.wait_for(
        lambda: gateways.read("g")["status"]["listeners"][0]["attachedRoutes"] == 1, timeout=10
    )
    accepted_route = wait_condition(gw, "r", "Accepted", "True", "Accepted")
    assert accepted_route["observedGeneration"] == 1
    assert wait_condition(gw, "r", "ResolvedRefs", "True")["reason"] == "ResolvedRefs"
    assert our_parents(routes.read("r"))[0]["parentRef"]["name"] == "g"

    # A second listener is opened; the first keeps its port, the new generation is observed.
    listeners = [
        {"name": "http", "protocol": "HTTP", "port": 80},
        {"name": "admin", "protocol": "HTTP", "port": 8080},
    ]
    gateways.patch("g", {"spec": {"listeners": listeners}})
    admin = programmed_url(gw, "g", "admin")
    assert admin != url and gw.gateway_url(NS, "g") == url
    assert gw.wait_for(
        lambda: conditions(gateways.read("g")["status"])["Accepted"]["observedGeneration"] == 2,
        timeout=10,
    )
    # Both listeners take the route (no sectionName): it answers on either.
    assert whos(admin, 1) == ["a"] and whos(url, 1) == ["a"]
    gateways.patch("g", {"spec": {"listeners": listeners[:1]}})
    assert gw.wait_for(lambda: _refused(admin), timeout=10)
    with pytest.raises(LookupError):
        gw.gateway_url(NS, "g", "admin")


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except OSError:  # queued while the listener was closing, then reset: not closed yet
        return False
    return False


def test_a_gateway_of_another_class_is_left_alone(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi
) -> None:
    gateways.create(gateway_manifest("theirs", class_name="istio"))
    routes.create(route_manifest("to-theirs", "theirs", [("a-serve-svc", 1)]))
    # The controller reconciles everything on each pass: once a later Gateway is programmed,
    # the earlier objects have been looked at too.
    gateways.create(gateway_manifest("ours"))
    programmed_url(gw, "ours")
    status = gateways.read("theirs")["status"]
    assert [(c["type"], c["status"], c["message"]) for c in status["conditions"]] == [
        ("Accepted", "Unknown", "Waiting for controller"),
        ("Programmed", "Unknown", "Waiting for controller"),
    ]
    assert "listeners" not in status
    assert "status" not in routes.read("to-theirs")
    with pytest.raises(LookupError):
        gw.gateway_url(NS, "theirs")


def test_routes_that_cannot_attach_are_not_accepted(
    gw: FakeKubeServer, gateways: GatewayApi, kube_client: client.ApiClient
) -> None:
    gateways.create(gateway_manifest("g"))
    url = programmed_url(gw, "g")
    gw.create_namespace("elsewhere")
    here = GatewayApi(kube_client, "httproutes")
    there = GatewayApi(kube_client, "httproutes", namespace="elsewhere")
    here.create(
        route_manifest("wrong-section", "g", [], parent={"name": "g", "sectionName": "https"})
    )
    here.create(route_manifest("wrong-port", "g", [], parent={"name": "g", "port": 443}))
    filtered = route_manifest("filtered", "g", [])
    filtered["spec"]["rules"][0]["filters"] = [
        {
            "type": "RequestHeaderModifier",
            "requestHeaderModifier": {"set": [{"name": "x", "value": "y"}]},
        }
    ]
    here.create(filtered)
    there.create(route_manifest("foreign", "g", [], parent={"name": "g", "namespace": NS}))
    assert wait_condition(gw, "wrong-section", "Accepted", "False")["reason"] == "NoMatchingParent"
    assert wait_condition(gw, "wrong-port", "Accepted", "False")["reason"] == "NoMatchingParent"
    assert wait_condition(gw, "filtered", "Accepted", "False")["reason"] == "UnsupportedValue"

    def foreign(status: str) -> Obj | None:
        parents = our_parents(there.read("foreign"))
        found = conditions(parents[0])["Accepted"] if parents else None
        return found if found is not None and found["status"] == status else None

    assert gw.wait_for(lambda: foreign("False") is not None, timeout=10)
    assert cast(Obj, foreign("False"))["reason"] == "NotAllowedByListeners"
    listener: Obj = {"name": "http", "protocol": "HTTP", "port": 80}
    listener["allowedRoutes"] = {"namespaces": {"from": "All"}}
    gateways.patch("g", {"spec": {"listeners": [listener]}})
    assert gw.wait_for(lambda: foreign("True") is not None, timeout=10)
    assert gw.wait_for(
        lambda: gateways.read("g")["status"]["listeners"][0]["attachedRoutes"] == 1, timeout=10
    )
    # Only the foreign route is attached now, and its rule has no backends: 500.
    assert requests.get(url, timeout=10).status_code == 500
    assert gw.gateway_requests()[-1].route == "elsewhere/foreign"


# ---------------------------------------------------------------------------------------------
# The controller: routing


def test_weights_80_20_split_100_requests_80_20(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    serve_service(gw, "a-serve-svc", upstreams("a"))
    serve_service(gw, "b-serve-svc", upstreams("b"))
    gateways.create(gateway_manifest("g"))
    routes.create(route_manifest("r", "g", [("a-serve-svc", 80), ("b-serve-svc", 20)]))
    url = programmed_url(gw, "g")
    wait_condition(gw, "r", "Accepted", "True")
    seen = whos(url, 100, "/fruit?x=1")
    assert Counter(seen) == Counter({"a": 80, "b": 20})
    assert set(seen[:5]) == {"a", "b"}  # interleaved
    recorded = gw.gateway_requests(NS, "g", "http")
    assert len(recorded) == 100 and recorded[0] == GatewayRequest(
        NS, "g", "http", "GET", "/fruit", "default/r", 0, "default/a-serve-svc:8000", 200
    )
    assert Counter(r.backend for r in recorded) == Counter(
        {"default/a-serve-svc:8000": 80, "default/b-serve-svc:8000": 20}
    )
    gw.reset_gateway_requests()
    assert gw.gateway_requests() == []


def test_a_weight_change_applies_to_the_next_request(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    serve_service(gw, "a-serve-svc", upstreams("a"))
    serve_service(gw, "b-serve-svc", upstreams("b"))
    gateways.create(gateway_manifest("g"))
    routes.create(route_manifest("r", "g", [("a-serve-svc", 100), ("b-serve-svc", 0)]))
    url = programmed_url(gw, "g")
    wait_condition(gw, "r", "Accepted", "True")

    def shift(a: int, b: int) -> None:
        routes.json_patch(
            "r",
            [
                {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": a},
                {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": b},
            ],
        )

    assert whos(url, 10) == ["a"] * 10
    shift(0, 100)
    assert whos(url, 10) == ["b"] * 10
    shift(50, 50)
    assert whos(url, 4) == ["a", "b", "a", "b"]
    assert gw.wait_for(
        lambda: (parent_condition(gw, "r", "Accepted") or {}).get("observedGeneration") == 3,
        timeout=10,
    )


def test_the_request_reaches_the_backend_as_sent(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    serve_service(gw, "a-serve-svc", upstreams("a"))
    gateways.create(gateway_manifest("g"))
    routes.create(route_manifest("r", "g", [("a-serve-svc", 1)]))
    url = programmed_url(gw, "g")
    wait_condition(gw, "r", "Accepted", "True")
    answer = requests.post(
        f"{url}/fruit/?q=1",
        json=["MANGO", 2],
        headers={"Authorization": "Bearer app", "x-ray-authorization": "Bearer ray"},
        timeout=10,
    ).json()
    assert answer["method"] == "POST" and answer["path"] == "/fruit/?q=1"
    assert json.loads(answer["body"]) == ["MANGO", 2]
    headers = answer["headers"]
    assert headers["authorization"] == "Bearer app"  # a gateway does not consume it
    assert headers["x-ray-authorization"] == "Bearer ray"
    assert headers["host"] == url.removeprefix("http://")
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_no_matching_rule_is_404(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    serve_service(gw, "a-serve-svc", upstreams("a"))
    gateways.create(gateway_manifest("g"))
    matches = [
        {"path": {"type": "PathPrefix", "value": "/api"}},
        {"path": {"type": "Exact", "value": "/healthz"}},
    ]
    routes.create(route_manifest("r", "g", [("a-serve-svc", 1)], matches=matches))
    url = programmed_url(gw, "g")
    wait_condition(gw, "r", "Accepted", "True")
    codes = {
        p: requests.get(f"{url}{p}", timeout=10).status_code
        for p in ("/api/x", "/api", "/healthz", "/apix", "/healthz/x", "/")
    }
    assert codes == {
        "/api/x": 200,
        "/api": 200,
        "/healthz": 200,
        "/apix": 404,
        "/healthz/x": 404,
        "/": 404,
    }
    missed = [r for r in gw.gateway_requests() if r.status == 404]
    assert {r.path for r in missed} == {"/apix", "/healthz/x", "/"}
    assert all(r.route is None and r.backend is None for r in missed)


def test_all_weights_zero_is_500(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    serve_service(gw, "a-serve-svc", upstreams("a"))
    gateways.create(gateway_manifest("g"))
    routes.create(route_manifest("r", "g", [("a-serve-svc", 0)]))
    url = programmed_url(gw, "g")
    wait_condition(gw, "r", "Accepted", "True")
    assert requests.get(url, timeout=10).status_code == 500
    last = gw.gateway_requests()[-1]
    assert (last.route, last.rule, last.backend, last.status) == ("default/r", 0, None, 500)


def test_a_missing_backend_service_is_500_and_not_resolved(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    serve_service(gw, "a-serve-svc", upstreams("a"))
    gateways.create(gateway_manifest("g"))
    routes.create(route_manifest("r", "g", [("a-serve-svc", 1), ("missing-serve-svc", 1)]))
    url = programmed_url(gw, "g")
    unresolved = wait_condition(gw, "r", "ResolvedRefs", "False", "BackendNotFound")
    assert "missing-serve-svc" in unresolved["message"]
    assert wait_condition(gw, "r", "Accepted", "True")  # still attached: its valid half routes
    # Half the weight goes to the invalid backend, and that half gets 500, as the spec asks.
    codes = [requests.get(url, timeout=10).status_code for _ in range(10)]
    assert Counter(codes) == Counter({200: 5, 500: 5})
    assert {r.backend for r in gw.gateway_requests() if r.status == 500} == {
        "default/missing-serve-svc:8000"
    }
    serve_service(gw, "missing-serve-svc")  # the Service appears, without endpoints yet
    assert wait_condition(gw, "r", "ResolvedRefs", "True")["reason"] == "ResolvedRefs"
    codes = [requests.get(url, timeout=10).status_code for _ in range(10)]
    assert Counter(codes) == Counter({200: 5, 503: 5})


def test_a_service_without_ready_endpoints_is_503(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, upstreams: Callable[[str], int]
) -> None:
    serve_service(gw, "a-serve-svc")
    gateways.create(gateway_manifest("g"))
    routes.create(route_manifest("r", "g", [("a-serve-svc", 1)]))
    url = programmed_url(gw, "g")
    wait_condition(gw, "r", "ResolvedRefs", "True")
    assert requests.get(url, timeout=10).status_code == 503  # no endpoints at all
    gw.set_endpoints(NS, "a-serve-svc", {"serve": None})  # an address nothing listens on
    assert requests.get(url, timeout=10).status_code == 503
    port = upstreams("a")
    gw.set_endpoints(NS, "a-serve-svc", {"other": f"http://127.0.0.1:{port}"})  # wrong port name
    assert requests.get(url, timeout=10).status_code == 503
    gw.set_endpoints(NS, "a-serve-svc", {"serve": f"http://127.0.0.1:{_free_port()}"})
    dead = requests.get(url, timeout=10)
    assert dead.status_code == 503 and "connection failure" in dead.text
    gw.set_endpoints(NS, "a-serve-svc", {"serve": f"http://127.0.0.1:{port}"})
    assert requests.get(url, timeout=10).status_code == 200
    assert [r.status for r in gw.gateway_requests()] == [503, 503, 503, 503, 200]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_rayclusters_serve_service_is_a_backend(
    gw: FakeKubeServer, gateways: GatewayApi, routes: GatewayApi, kube_client: client.ApiClient
) -> None:
    """Without Ray: the operator's ``<cluster>-serve-svc`` resolves, its endpoint leads nowhere."""
    name = unique_name()
    client.CustomObjectsApi(kube_client).create_namespaced_custom_object(
        "ray.io",
        "v1",
        NS,
        "rayclusters",
        raycluster(name, annotations={"ray.io/enable-serve-service": "true"}),
    )
    service = f"{name}-serve-svc"
    assert gw.wait_for(lambda: gw.endpoints(NS, service) == {"serve": None}, timeout=10)
    gateways.create(gateway_manifest("g"))
    routes.create(route_manifest("r", "g", [(service, 1)]))
    url = programmed_url(gw, "g")
    wait_condition(gw, "r", "ResolvedRefs", "True")
    assert requests.get(url, timeout=10).status_code == 503
    assert gw.gateway_requests()[-1].backend == f"default/{service}:8000"


def test_stop_closes_every_listener() -> None:
    server = FakeKubeServer(operator=False, gateway_controller=True).start()
    stopped = False
    try:
        server.registry.create(GATEWAYS, NS, gateway_manifest("g"))
        url = programmed_url(server, "g")
        with requests.Session() as session:  # a kept-alive connection does not hold the port
            assert session.get(url, timeout=10).status_code == 404
            assert server.gateways is not None
            controller = server.gateways
            server.stop()
            stopped = True
        assert _refused(url)
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))
            again.listen()
        with pytest.raises(LookupError):
            server.gateway_url(NS, "g")
        assert controller.errors == []
    finally:
        if not stopped:
            server.stop()


def test_without_the_controller_nothing_is_served(fake_kube: FakeKubeServer) -> None:
    fake_kube.registry.create(GATEWAYS, NS, gateway_manifest("g"))
    assert fake_kube.gateways is None and fake_kube.gateway_requests() == []
    with pytest.raises(LookupError, match="gateway_controller=True"):
        fake_kube.gateway_url(NS, "g")


@pytest.mark.testbed_process
def test_the_command_line_server_runs_the_controller(tmp_path: Path) -> None:
    """``python -m rayservice_testbed.fake_kube --gateway-controller`` prints listener URLs."""
    kubeconfig = tmp_path / "kubeconfig"
    command = [
        sys.executable,
        "-m",
        "rayservice_testbed.fake_kube",
        "--kubeconfig",
        str(kubeconfig),
    ]
    command += ["--no-operator", "--gateway-controller", "--gateway-class", "cli-class"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
    )
    try:
        assert proc.stdout is not None
        assert "fake API server at" in proc.stdout.readline()
        api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        try:
            GatewayApi(api, "gateways").create(gateway_manifest("g", class_name="cli-class"))
        finally:
            api.close()
        line = proc.stdout.readline()
        found = re.search(
            r"Gateway default/g listener http serves at (http://127\.0\.0\.1:\d+)", line
        )
        assert found, line
        assert requests.get(found.group(1), timeout=10).status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---------------------------------------------------------------------------------------------
# Through two real RayClusters


@pytest.mark.ray
def test_weights_move_real_requests_between_two_rayclusters_serve(
    fake_kube_ray_gateway: FakeKubeServer,
    gateways: GatewayApi,
    routes: GatewayApi,
    kube_client: client.ApiClient,
    app_uris: dict[str, str],
) -> None:
    """Two RayClusters' ``<name>-serve-svc`` behind one HTTPRoute, as in KubeRay's upgrade."""
    fake = fake_kube_ray_gateway
    operator = fake.operator
    assert operator is not None
    prices = {unique_name("old"): 3, unique_name("new"): 5}
    clusters = client.CustomObjectsApi(kube_client)
    for name in prices:
        body = raycluster(name, annotations={"ray.io/enable-serve-service": "true"})
        clusters.create_namespaced_custom_object("ray.io", "v1", NS, "rayclusters", body)
    heads = {
        name: wait_for(partial(operator.head, NS, name), 240, f"the Ray head of {name}")
        for name in prices
    }
    for name, price in prices.items():
        put_raw(heads[name].dashboard_url, [fruit_app(app_uris["fruit_stand"], mango=price)])
    for name, price in prices.items():
        service = f"{name}-serve-svc"
        # The serve service's endpoint is that cluster's own Serve, once its head pod is ready.
        serve_url = wait_for(partial(_serve_endpoint, fake, service), 60, f"{service} endpoint")
        assert serve_url == heads[name].serve_url
        wait_for(partial(_answers, serve_url, str(price)), 180, f"fruit_app of {name}")
    old, new = (f"{name}-serve-svc" for name in prices)
    assert fake.get(SERVICES, NS, old)["spec"]["ports"][0]["port"] == 8000  # type: ignore[index]
    gateways.create(gateway_manifest("svc-gateway"))
    routes.create(route_manifest("svc-httproute", "svc-gateway", [(old, 80), (new, 20)]))
    url = programmed_url(fake, "svc-gateway")
    wait_condition(fake, "svc-httproute", "ResolvedRefs", "True")

    def mango_prices(count: int) -> Counter[str]:
        with requests.Session() as session:
            return Counter(
                session.post(f"{url}/fruit", json=["MANGO", 1], timeout=30).text
                for _ in range(count)
            )

    assert mango_prices(100) == Counter({"3": 80, "5": 20})
    routes.json_patch(
        "svc-httproute",
        [
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 0},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 100},
        ],
    )
    assert mango_prices(10) == Counter({"5": 10})
    assert {r.status for r in fake.gateway_requests()} == {200}
    assert operator.errors == [] and fake.gateways is not None and fake.gateways.errors == []


def _serve_endpoint(fake: FakeKubeServer, service: str) -> str | None:
    return fake.endpoints(NS, service).get("serve")


def _answers(serve_url: str, expected: str) -> bool:
    try:
        return answer(serve_url, "/fruit", ["MANGO", 1]) == expected
    except requests.RequestException:
        return False
