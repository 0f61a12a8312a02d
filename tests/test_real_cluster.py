"""Opt-in: the RayService lifecycle against a REAL Kubernetes cluster running the KubeRay operator.

Never runs by default (no cluster exists on CI machines). To run it, point it at a cluster (kind
plus the KubeRay Helm chart will do) and at the FruitStand app code zipped where the pods can
fetch it:

    RAYSERVICE_E2E_KUBECONFIG=~/.kube/config \\
    RAYSERVICE_E2E_WORKING_DIR=https://example.com/fruit_stand.zip \\
    RAYSERVICE_E2E_NAMESPACE=default ./scripts/test -m real_cluster

It plays the same engine steps as the fake-cluster lifecycle: up, an in-place price change, destroy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.program_engine import ProgramEngine, ServiceApplier
from rayservice_testbed.harness.provider_host import ProviderHost
from rayservice_testbed.harness.serve_apps import fruit_app

import pulumi_rayservice as rs
from pulumi_rayservice.kube.config import api_client
from pulumi_rayservice.kube.transport import HttpRequest, KubeProxyTransport

KUBECONFIG = os.environ.get("RAYSERVICE_E2E_KUBECONFIG")
WORKING_DIR = os.environ.get("RAYSERVICE_E2E_WORKING_DIR")
NAMESPACE = os.environ.get("RAYSERVICE_E2E_NAMESPACE", "default")

pytestmark = [
    pytest.mark.real_cluster,
    pytest.mark.skipif(
        not (KUBECONFIG and WORKING_DIR),
        reason="needs RAYSERVICE_E2E_KUBECONFIG and RAYSERVICE_E2E_WORKING_DIR (a real cluster)",
    ),
]


def ask(kubeconfig: str) -> str:
    """POST to the serve Service through the API server's proxy, as the kubeconfig's user."""
    transport = KubeProxyTransport(api_client({"path": kubeconfig}))
    try:
        service = f"/api/v1/namespaces/{NAMESPACE}/services/e2e-serve-svc:serve"
        url = f"{transport.host}{service}/proxy/fruit"
        reply = transport.send(
            HttpRequest(
                "POST", url, {"Content-Type": "application/json"}, json.dumps(["MANGO", 2]).encode()
            )
        )
    finally:
        transport.close()
    assert reply.status == 200, reply.text
    return reply.text


def test_rayservice_lifecycle_on_a_real_cluster(provider_host: ProviderHost) -> None:
    assert KUBECONFIG and WORKING_DIR
    kubeconfig = str(Path(KUBECONFIG).expanduser())
    price = {"mango": 3}

    def program() -> rs.RayService:
        return rs.RayService(
            "e2e",
            namespace=NAMESPACE,
            cluster=sample_cluster_spec(),
            applications=[fruit_app(WORKING_DIR, mango=price["mango"])],
            kube=rs.Kube(kubeconfig=kubeconfig),
            upgrade=rs.Upgrade(drain_s=5),
        )

    engine = ProgramEngine(provider_host, ServiceApplier(kubeconfig))
    try:
        run = engine.up(program)
        assert run.failure is None, run.failure
        assert ask(kubeconfig) == "6"
        price["mango"] = 4
        run = engine.up(program)
        assert run.failure is None, run.failure
        assert ask(kubeconfig) == "8"
    finally:
        engine.destroy()
