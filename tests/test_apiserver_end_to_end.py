"""The KubeRay API server as the only way in: the example program end to end, no kubeconfig.

``examples/kuberay_apiserver`` (the seed's walkthrough: a compute template, a Serve-enabled
cluster naming it, the fruit and math apps) runs through the REAL provider host, started with
``KUBECONFIG`` pointing nowhere and ``HOME`` empty, against the stand-in KubeRay API server in
front of the fake Kubernetes API server, whose stand-in operator runs a REAL Ray head per
RayCluster. The test itself looks at what reached the fake Kubernetes (the API server's writes)
and sends the apps' requests through the fake Kubernetes' proxy to the serve Service, as a client
inside the cluster would.
"""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pulumi.runtime import config as runtime_config
from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer
from rayservice_testbed.fake_kube.resources import find_type
from rayservice_testbed.harness.program_engine import ProgramEngine
from rayservice_testbed.harness.provider_host import ProviderHost
from rayservice_testbed.kuberay_apiserver import FakeKubeRayApiServer

pytestmark = pytest.mark.ray

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kuberay_apiserver" / "__main__.py"
NS = "default"
CONFIGMAPS = find_type("", "v1", "configmaps")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def kube() -> Iterator[FakeKubeServer]:
    pytest.importorskip("ray.serve")
    with FakeKubeServer(operator=True, ray_heads=True) as fake:
        yield fake


@pytest.fixture(scope="module")
def apiserver(kube: FakeKubeServer) -> Iterator[FakeKubeRayApiServer]:
    with FakeKubeRayApiServer(kube, release="v1.7") as server:
        yield server


@pytest.fixture(scope="module")
def no_kubeconfig_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderHost]:
    """The provider host with no kubeconfig to find: ``KUBECONFIG`` nowhere, ``HOME`` empty."""
    home = tmp_path_factory.mktemp("home")
    host = ProviderHost(env={"KUBECONFIG": str(home / "no-such-kubeconfig"), "HOME": str(home)})
    try:
        yield host
    finally:
        host.close()


class Example:
    """The example program with a stack configuration a test changes between runs."""

    def __init__(self, apiserver: FakeKubeRayApiServer, app_uris: dict[str, str], **config: str):
        self.config = {
            "apiServerUrl": apiserver.url,
            "fruitWorkingDir": app_uris["fruit_stand"],
            "mathWorkingDir": app_uris["math_app"],
            **config,
        }

    def program(self) -> None:
        saved = runtime_config.CONFIG.get()
        runtime_config.CONFIG.set({f"project:{k}": v for k, v in self.config.items()})
        try:
            runpy.run_path(str(EXAMPLE), run_name="__main__")
        finally:
            runtime_config.CONFIG.set(saved)


def clusters(kube: FakeKubeServer) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in kube.registry.list(RAYCLUSTERS, NS)["items"]}


def ask(kube: FakeKubeServer, cluster: str, path: str, body: Any) -> str:
    """A request to the cluster's serve Service, from inside the cluster (the fake's proxy)."""
    url = f"{kube.url}/api/v1/namespaces/{NS}/services/{cluster}-serve-svc:serve/proxy{path}"
    reply = requests.post(
        url, json=body, headers={"Authorization": f"Bearer {kube.token}"}, timeout=30
    )
    return f"{reply.status_code} {reply.text}"


def kinds(steps: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for urn, op in steps.items():
        found.setdefault(urn.rsplit("::", 1)[0].rsplit(":", 1)[-1], []).append(op)
    return {k: sorted(v) for k, v in found.items()}


def test_the_example_through_v2_up_scale_in_place_identical_up_refresh_and_destroy(
    kube: FakeKubeServer,
    apiserver: FakeKubeRayApiServer,
    no_kubeconfig_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    example = Example(apiserver, app_uris)
    engine = ProgramEngine(no_kubeconfig_host)
    try:
        # up: the template, the cluster naming it, both apps RUNNING and answering.
        run = engine.up(example.program)
        assert run.failure is None, run.failure
        template = kube.registry.find(CONFIGMAPS, NS, "default-template")
        assert template is not None and template["data"]["cpu"] == "2"
        [(name, cluster)] = clusters(kube).items()
        head = cluster["spec"]["headGroupSpec"]
        assert "computeTemplate" not in head  # written into the pod, never stored
        [ray_head] = head["template"]["spec"]["containers"]
        assert ray_head["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
        assert head["template"]["metadata"]["annotations"]["ray.io/compute-template"] == (
            "default-template"
        )
        assert ask(kube, name, "/fruit", ["MANGO", 2]) == "200 6"
        assert ask(kube, name, "/calc", ["ADD", 1]) == "200 4"
        uid = cluster["metadata"]["uid"]

        # a worker scale: an in-place patch through V2, the new replicas with the template's
        # resources (the PATCH carries them: V2's middleware does not run on PATCH).
        example.config["workers"] = "2"
        preview = engine.preview(example.program)
        assert kinds(preview.steps)["RayCluster"] == ["update"], preview.steps
        run = engine.up(example.program)
        assert run.failure is None, run.failure
        [(same_name, scaled)] = clusters(kube).items()
        assert (same_name, scaled["metadata"]["uid"]) == (name, uid)
        [worker] = scaled["spec"]["workerGroupSpecs"]
        assert worker["replicas"] == 2
        assert worker["template"]["spec"]["containers"][0]["resources"]["requests"] == {
            "cpu": "2",
            "memory": "4Gi",
        }
        assert ask(kube, name, "/fruit", ["MANGO", 2]) == "200 6"

        # an identical up writes nothing anywhere; a refresh finds no drift.
        apiserver.reset_requests()
        run = engine.up(example.program)
        assert run.failure is None and set(run.steps.values()) == {"same"}, run.steps
        assert [r for r in apiserver.requests if r.method in WRITES] == []
        engine.refresh()
        preview = engine.preview(example.program)
        assert set(preview.steps.values()) == {"same"}, preview.steps
    finally:
        engine.destroy()
    # destroy: no template, no cluster, no app left.
    assert kube.registry.find(CONFIGMAPS, NS, "default-template") is None
    assert clusters(kube) == {}


def test_the_example_through_v1_replaces_the_cluster_for_a_scale(
    kube: FakeKubeServer,
    apiserver: FakeKubeRayApiServer,
    no_kubeconfig_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    example = Example(apiserver, app_uris, api="v1")
    engine = ProgramEngine(no_kubeconfig_host)
    try:
        run = engine.up(example.program)
        assert run.failure is None, run.failure
        [(first, cluster)] = clusters(kube).items()
        labels = cluster["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "kuberay-apiserver"  # made by V1
        assert ask(kube, first, "/calc", ["MUL", 2]) == "200 10"

        # V1 has no update: a scale is a new cluster, created before the old one is deleted.
        example.config["workers"] = "2"
        preview = engine.preview(example.program)
        assert kinds(preview.steps)["RayCluster"] == ["replace"], preview.steps
        mark = len(engine.events)
        run = engine.up(example.program)
        assert run.failure is None, run.failure
        [(second, _)] = clusters(kube).items()
        assert second != first
        ops = [(e.op, e.type.rsplit(":", 1)[-1]) for e in engine.events[mark:]]
        assert ops.index(("replace-create", "RayCluster")) < ops.index(("delete", "RayCluster"))
        assert ask(kube, second, "/fruit", ["MANGO", 2]) == "200 6"
    finally:
        engine.destroy()
    assert clusters(kube) == {}
    assert kube.registry.find(CONFIGMAPS, NS, "default-template") is None
