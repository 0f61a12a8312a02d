"""A RayCluster made through the Kubernetes API, with a REAL Ray head behind it, serving FruitStand.

The fake API server's stand-in operator starts a real local Ray head for the cluster and routes
the API server's service proxy to it, so this is the path a user takes with only a kubeconfig:
RayCluster ready (head pod ready AND the dashboard answering through the proxy), then a
ServeApplication whose dashboard is the cluster's output, deploying through the proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from rayservice_testbed.fake_kube import LEASES, FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.processes import session_pids
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.serve_apps import fruit_app, wait_for

from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.provider import ServeApplicationProvider

pytestmark = pytest.mark.ray
CLUSTER = "pulumi-python:dynamic/rayservice:RayCluster"
APP = "pulumi-python:dynamic/rayservice:ServeApplication"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKubeServer]:
    pytest.importorskip("ray.serve")
    with FakeKubeServer(operator=True, ray_heads=True) as fake:
        yield fake


def through_proxy(server: FakeKubeServer, service: str, port: str, path: str, body: Any) -> str:
    url = f"{server.url}/api/v1/namespaces/default/services/{service}:{port}/proxy{path}"
    reply = requests.post(
        url, json=body, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    )
    reply.raise_for_status()
    return reply.text


def test_fruit_stand_on_a_kuberay_cluster_through_the_api_server_proxy(
    server: FakeKubeServer, provider_host: ProviderHost, app_uris: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    engine = Engine(provider_host)
    cluster_urn, app_urn = urn_of(CLUSTER, "fruit"), urn_of(APP, "fruit-app")
    try:
        engine.up(
            cluster_urn,
            {
                "spec": sample_cluster_spec(),
                "namespace": "default",
                "resource_name": "fruit",
                "kube": {"path": str(kubeconfig)},
                "timeout_s": 240,
                PROVIDER_KEY: provider_input(RayClusterProvider()),
            },
        )
        cluster = engine.state[cluster_urn].outputs
        head = server.operator.head("default", cluster["name"])
        assert head is not None and head.proc is not None
        head_session = head.proc.pid

        engine.up(
            app_urn,
            {
                "app": fruit_app(app_uris["fruit_stand"]),
                "dashboard": cluster["dashboard"],
                "timeout_s": 180,
                PROVIDER_KEY: provider_input(ServeApplicationProvider()),
            },
        )
        assert engine.state[app_urn].outputs["status"] == "RUNNING"
        # The identity: the API server the kubeconfig resolves to, the port as a number.
        assert engine.state[app_urn].outputs["target"] == (
            f"{server.url}/api/v1/namespaces/default/services/{cluster['head_service']}:8265"
        )
        # Every write ran under the cluster's Lease, released afterwards.
        lease = server.get(LEASES, "default", f"{cluster['head_service']}-serve-config")
        assert lease is not None and lease["spec"]["holderIdentity"] == ""
        assert lease["spec"]["leaseTransitions"] >= 0
        lease_writes = [r for r in server.requests if "/leases" in r.path and r.method != "GET"]
        assert lease_writes and all(r.status in (200, 201) for r in lease_writes)
        assert (
            through_proxy(server, cluster["head_service"], "serve", "/fruit", ["MANGO", 2]) == "6"
        )
        dashboard_calls = [r for r in server.requests if "head-svc:dashboard/proxy" in r.path]
        assert any(r.method == "PUT" for r in dashboard_calls)
    finally:
        for _ in engine.destroy_all():
            pass
    # The operator stops the cluster's Ray head once the RayCluster is gone: every process ends.
    wait_for(lambda: server.operator.head("default", cluster["name"]) is None, 30, "head stop")
    wait_for(lambda: session_pids(head_session) == [], 30, "head processes to exit")
