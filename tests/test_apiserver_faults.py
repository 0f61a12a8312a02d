"""Serve apps through the KubeRay API server's V2 service proxy when things go wrong.

One RayCluster (a REAL Ray head behind the fake Kubernetes) made through the stand-in API server;
ServeApplications deployed onto it through V2's service proxy by the REAL provider host. Each
failure says its cause: a PUT that Serve applied but whose answer was a 503 (which V2 v1.5+
re-sends with the same body, and v1.4 passes on), a dashboard that stalls (cut by V2 at its
per-request deadline, and by us at ``timeout_s``), the security proxy's 401 without the token,
V2 passing the token on to Kubernetes, a Service V2 does not proxy, a server without V2.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from rayservice_testbed.fake_kube import FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.serve_apps import math_app, serve_details
from rayservice_testbed.kuberay_apiserver import ALL_PROXY_VERBS, FakeKubeRayApiServer

from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.provider import ServeApplicationProvider

pytestmark = pytest.mark.ray

NS = "default"
APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
TOKEN = "proxy-tok-5e1b9"
SERVE_PUT = ("PUT", r"/proxy/api/serve/applications/$")
GRANTED: dict[str, Any] = {"service_proxy_verbs": ALL_PROXY_VERBS}
"""A service account granted writes through the service proxy (Helm's grants only reads)."""


@pytest.fixture(scope="module")
def kube() -> Iterator[FakeKubeServer]:
    pytest.importorskip("ray.serve")
    with FakeKubeServer(operator=True, ray_heads=True) as fake:
        yield fake


@pytest.fixture(scope="module")
def apiservers(kube: FakeKubeServer) -> Iterator[dict[str, FakeKubeRayApiServer]]:
    """Servers of each kind in front of the same fake Kubernetes."""
    servers = {
        "v1.7": FakeKubeRayApiServer(kube, release="v1.7", v2_deadline_s=2.0, **GRANTED),
        "v1.4": FakeKubeRayApiServer(kube, release="v1.4", **GRANTED),
        "secured": FakeKubeRayApiServer(kube, release="v1.6", token=TOKEN),
        "no-v2": FakeKubeRayApiServer(kube, release="v1.7", enable_v2=False),
        "helm-rbac": FakeKubeRayApiServer(kube, release="v1.7"),
    }
    for server in servers.values():
        server.start()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def cluster(
    kube: FakeKubeServer, apiservers: dict[str, FakeKubeRayApiServer], provider_host: ProviderHost
) -> Iterator[str]:
    """A RayCluster made through the v1.7 server's V2, ready with its dashboard answering."""
    engine = Engine(provider_host)
    inputs = {
        "spec": sample_cluster_spec(),
        "namespace": NS,
        "resource_name": "faults",
        "api_server": {"url": apiservers["v1.7"].url},
        "annotations": {"ray.io/enable-serve-service": "true"},
        "timeout_s": 240,
        "owner": "tests/faults",
        PROVIDER_KEY: provider_input(RayClusterProvider()),
    }
    engine.up(urn_of(CLUSTER_TYPE, "faults"), inputs)
    try:
        yield str(engine.state[urn_of(CLUSTER_TYPE, "faults")].outputs["name"])
    finally:
        for _ in engine.destroy_all():
            pass


def app_inputs(
    server: FakeKubeRayApiServer, cluster: str, app: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    target: dict[str, Any] = {"url": server.url}
    target.update(extra.pop("target", {}))
    return {
        "app": app,
        "dashboard": {
            "service": extra.pop("service", f"{cluster}-head-svc"),
            "namespace": NS,
            "port": "dashboard",
            "api_server": target,
            "cluster": cluster,
        },
        "timeout_s": extra.pop("timeout_s", 120),
        "owner": "tests/faults",
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        **extra,
    }


def dashboard_url(kube: FakeKubeServer, cluster: str) -> str:
    head = kube.operator.head(NS, cluster) if kube.operator else None
    assert head is not None
    return str(head.dashboard_url)


@pytest.mark.parametrize(("release", "puts_reaching_serve"), [("v1.7", 2), ("v1.4", 1)])
def test_a_put_serve_applied_but_answered_503_ends_running_and_reported_right(
    kube: FakeKubeServer,
    apiservers: dict[str, FakeKubeRayApiServer],
    cluster: str,
    provider_host: ProviderHost,
    app_uris: dict[str, str],
    release: str,
    puts_reaching_serve: int,
) -> None:
    server = apiservers[release]
    engine = Engine(provider_host)
    name = f"calc_{release.replace('.', '')}"
    app = math_app(app_uris["math_app"], name=name, route_prefix=f"/{name}")
    urn = urn_of(APP_TYPE, name)
    kube.reset_requests()
    server.reset_requests()
    kube.inject(status=503, count=1, match=SERVE_PUT, after_handling=True)
    try:
        engine.up(urn, app_inputs(server, cluster, app))
        outputs = engine.state[urn].outputs
        assert outputs["status"] == "RUNNING"
        # v1.5+ re-sends the PUT itself (same body); v1.4 passes the 503 on and we settle it by
        # reading what Serve runs: either way one PUT left us, and what we report is true.
        assert len(server.matching("PUT", r"/api/serve/applications/$")) == 1
        assert len(kube.matching("PUT", r"/proxy/api/serve/applications/$")) == puts_reaching_serve
        deployed = serve_details(dashboard_url(kube, cluster))["applications"][name]
        assert deployed["status"] == "RUNNING"
        assert deployed["deployed_app_config"]["route_prefix"] == f"/{name}"
    finally:
        kube.clear_faults()
        for _ in engine.destroy_all():
            pass


def test_a_stalled_dashboard_is_cut_by_v2_then_by_our_deadline(
    kube: FakeKubeServer,
    apiservers: dict[str, FakeKubeRayApiServer],
    cluster: str,
    provider_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    server = apiservers["v1.7"]  # V2's deadline is 2 s here (30 s in every release)
    engine = Engine(provider_host)
    app = math_app(app_uris["math_app"], name="stalled", route_prefix="/stalled")
    kube.hang(60, count=1000, match=("GET", r"/proxy/api/"))
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as caught:
            engine.up(urn_of(APP_TYPE, "stalled"), app_inputs(server, cluster, app, timeout_s=6))
    finally:
        kube.clear_faults()
    took = time.monotonic() - started
    assert "HTTP 502 with no body from the KubeRay API server" in caught.value.message, (
        caught.value.message
    )
    assert took < 6 + 10, took  # V2 cut each stalled answer; we stopped trying at timeout_s
    assert server.matching("GET", r"/proxy/api/", status=502), "V2 never cut a stalled answer"


def test_the_security_proxys_401_and_v2_passing_the_token_on_are_told_apart(
    apiservers: dict[str, FakeKubeRayApiServer],
    cluster: str,
    provider_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    server = apiservers["secured"]
    engine = Engine(provider_host)
    app = math_app(app_uris["math_app"], name="secured", route_prefix="/secured")
    urn = urn_of(APP_TYPE, "secured")
    with pytest.raises(ProviderError) as no_token:
        engine.up(urn, app_inputs(server, cluster, app))
    assert "security proxy: no token was given" in no_token.value.message
    with pytest.raises(ProviderError) as passed_on:
        engine.up(urn, app_inputs(server, cluster, app, target={"token": TOKEN}))
    message = passed_on.value.details
    assert "V2 passed the security proxy's token on to Kubernetes" in message
    assert TOKEN not in message


def test_a_service_v2_does_not_proxy_and_a_server_without_v2_are_named(
    apiservers: dict[str, FakeKubeRayApiServer],
    cluster: str,
    provider_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    engine = Engine(provider_host)
    app = math_app(app_uris["math_app"], name="nowhere", route_prefix="/nowhere")
    urn = urn_of(APP_TYPE, "nowhere")
    serve_svc = app_inputs(
        apiservers["v1.7"], cluster, app, service=f"{cluster}-serve-svc", timeout_s=10
    )
    with pytest.raises(ProviderError) as unlabelled:
        engine.up(urn, serve_svc)
    assert "kuberay service not found" in unlabelled.value.message
    assert "app.kubernetes.io/name=kuberay" in unlabelled.value.message
    with pytest.raises(ProviderError) as no_v2:
        engine.up(urn, app_inputs(apiservers["no-v2"], cluster, app, timeout_s=10))
    assert "does not serve V2" in no_v2.value.message


def test_a_deploy_refused_by_the_api_servers_rbac_says_what_to_grant(
    apiservers: dict[str, FakeKubeRayApiServer],
    cluster: str,
    provider_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    """KubeRay's Helm chart lets the API server's account only read through the service proxy:
    Serve's PUT is refused by Kubernetes, and the error says which grant is missing."""
    engine = Engine(provider_host)
    app = math_app(app_uris["math_app"], name="unwritable", route_prefix="/unwritable")
    with pytest.raises(ProviderError) as caught:
        engine.up(urn_of(APP_TYPE, "unwritable"), app_inputs(apiservers["helm-rbac"], cluster, app))
    message = caught.value.message
    assert "403" in message and "Grant update on services/proxy (namespace default)" in message
