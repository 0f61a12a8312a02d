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
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import requests
from pulumi.runtime import config as runtime_config
from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.fake_kube.resources import find_type
from rayservice_testbed.harness.program_engine import ProgramEngine
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.serve_apps import math_app
from rayservice_testbed.kuberay_apiserver import ALL_PROXY_VERBS, FakeKubeRayApiServer

import pulumi_rayservice as rs
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.kube.annotation_lock import LOCK_ANNOTATION
from pulumi_rayservice.serve.provider import ServeApplicationProvider

pytestmark = pytest.mark.ray

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kuberay_apiserver" / "__main__.py"
NS = "default"
CONFIGMAPS = find_type("", "v1", "configmaps")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"


@pytest.fixture(scope="module")
def kube() -> Iterator[FakeKubeServer]:
    pytest.importorskip("ray.serve")
    with FakeKubeServer(operator=True, ray_heads=True) as fake:
        yield fake


@pytest.fixture(scope="module")
def apiserver(kube: FakeKubeServer) -> Iterator[FakeKubeRayApiServer]:
    with FakeKubeRayApiServer(kube, release="v1.7", service_proxy_verbs=ALL_PROXY_VERBS) as server:
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


def test_two_stacks_deploying_to_one_cluster_at_once_lose_nothing(
    kube: FakeKubeServer,
    apiserver: FakeKubeRayApiServer,
    no_kubeconfig_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    """Two `pulumi up`s (two provider host processes) write one cluster's Serve config at once
    through V2: the lock in the RayCluster's annotation serializes them, none is lost."""
    cluster_urn = urn_of(CLUSTER_TYPE, "shared")
    owner = Engine(no_kubeconfig_host)
    owner.up(
        cluster_urn,
        {
            "spec": sample_cluster_spec(),
            "namespace": NS,
            "resource_name": "shared",
            "api_server": {"url": apiserver.url},
            "annotations": {"ray.io/enable-serve-service": "true"},
            "timeout_s": 240,
            "owner": "tests/shared",
            PROVIDER_KEY: provider_input(RayClusterProvider()),
        },
    )
    name = str(owner.state[cluster_urn].outputs["name"])
    target = owner.state[cluster_urn].outputs["dashboard"]
    hosts = [ProviderHost(), ProviderHost()]
    engines = [Engine(host) for host in hosts]
    wanted: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    apiserver.reset_requests()
    kube.reset_requests()

    def stack(index: int) -> None:
        try:
            for round_ in range(2):
                for letter in "ab":
                    app_name = f"s{index}_{letter}"
                    app = math_app(app_uris["math_app"], name=app_name, route_prefix=f"/{app_name}")
                    app["deployments"][0]["user_config"] = {"increment": 10 * index + round_}
                    engines[index].up(
                        urn_of(APP_TYPE, app_name),
                        {
                            "app": app,
                            "dashboard": target,
                            "timeout_s": 120,
                            "owner": f"tests/stack{index}",
                            PROVIDER_KEY: provider_input(ServeApplicationProvider()),
                        },
                    )
                    wanted[app_name] = app
        except BaseException as error:  # surfaced below
            problems.append(f"stack {index}: {error!r}")

    threads = [threading.Thread(target=stack, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert problems == []
        url = f"{kube.url}/api/v1/namespaces/{NS}/services/{name}-head-svc:dashboard/proxy"
        details = requests.get(
            f"{url}/api/serve/applications/",
            headers={"Authorization": f"Bearer {kube.token}"},
            timeout=30,
        ).json()["applications"]
        assert sorted(details) == sorted(wanted)
        for app_name, app in wanted.items():
            deployed = details[app_name]["deployed_app_config"]
            assert deployed["deployments"][0]["user_config"] == app["deployments"][0]["user_config"]
        # The lock was taken and released in the cluster's annotation, never in a Lease.
        assert apiserver.matching(path="leases") == []
        assert len(kube.matching("PATCH", rf"/rayclusters/{name}$", status=200)) >= 2 * 8
        annotations = clusters(kube)[name]["metadata"].get("annotations") or {}
        assert LOCK_ANNOTATION not in annotations
    finally:
        for engine in engines:
            for _ in engine.destroy_all():
                pass
        for host in hosts:
            host.close()
        for _ in owner.destroy_all():
            pass


def test_a_rayservice_through_the_api_server_moves_its_serve_service_with_a_new_cluster(
    kube: FakeKubeServer,
    apiserver: FakeKubeRayApiServer,
    no_kubeconfig_host: ProviderHost,
    app_uris: dict[str, str],
) -> None:
    """No Service can be made through V2: serve_service is the active cluster's own, and a
    cluster-level change moves it (new cluster and apps first, the old ones deleted after)."""
    image = {"value": "rayproject/ray:2.52.0"}
    outputs: dict[str, str] = {}

    def program() -> None:
        spec = sample_cluster_spec()
        spec["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = image["value"]
        app = math_app(app_uris["math_app"])
        service = rs.RayService(
            "calc",
            spec,
            [app],
            namespace=NS,
            api_server=rs.KubeRayApiServer(url=apiserver.url),
            upgrade=rs.Upgrade(strategy="NewCluster", drain_s=0),
        )
        pulumi.Output.all(service.cluster_name, service.serve_service).apply(
            lambda v: outputs.update(cluster=v[0], serve_service=v[1])
        )

    engine = ProgramEngine(no_kubeconfig_host)
    try:
        run = engine.up(program)
        assert run.failure is None, run.failure
        first = outputs["cluster"]
        assert outputs["serve_service"] == f"{first}-serve-svc"
        assert ask(kube, first, "/calc", ["ADD", 1]) == "200 4"
        image["value"] = "rayproject/ray:2.53.0"
        run = engine.up(program)
        assert run.failure is None, run.failure
        second = outputs["cluster"]
        assert second != first and outputs["serve_service"] == f"{second}-serve-svc"
        assert list(clusters(kube)) == [second]
        assert ask(kube, second, "/calc", ["ADD", 1]) == "200 4"
    finally:
        engine.destroy()
    assert clusters(kube) == {}
