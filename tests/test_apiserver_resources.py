"""Compute templates and RayClusters through the KubeRay API server, release by release.

The REAL provider host against the stand-in API server of each release (v1.4, v1.5 to v1.6,
v1.7), over a fake Kubernetes whose operator writes status without Ray processes: what a
template becomes on each server, what is refused and left as it was, what a cluster naming a
template is written as (also on v1.4, which has no compute-template middleware, and on a PATCH,
which the middleware skips), and what a cluster that never gets ready says through V2 (which
serves the ray.io objects' events only).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import raycluster, unique_name
from rayservice_testbed.fake_kube.operator import Scenario
from rayservice_testbed.fake_kube.resources import find_type
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.kuberay_apiserver import FakeKubeRayApiServer

from pulumi_rayservice import ClusterSpec, HeadGroup, WorkerGroup
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.cluster.template_provider import KubeRayComputeTemplateProvider

NS = "default"
CONFIGMAPS = find_type("", "v1", "configmaps")
TEMPLATE_TYPE = "pulumi-python:dynamic/rayservice:KubeRayComputeTemplate"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
RELEASES = ["v1.4", "v1.5", "v1.7"]


@pytest.fixture(scope="module")
def kube() -> Iterator[FakeKubeServer]:
    with FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()) as fake:
        yield fake


@pytest.fixture(scope="module", params=RELEASES)
def apiserver(
    request: pytest.FixtureRequest, kube: FakeKubeServer
) -> Iterator[FakeKubeRayApiServer]:
    with FakeKubeRayApiServer(kube, release=request.param) as server:
        yield server


def template_inputs(server: FakeKubeRayApiServer, name: str, **template: Any) -> dict[str, Any]:
    return {
        "template": {"cpu": 2, "memory": 4, **template},
        "name": name,
        "namespace": NS,
        "resource_name": name,
        "api_server": {"url": server.url},
        PROVIDER_KEY: provider_input(KubeRayComputeTemplateProvider()),
    }


def cluster_inputs(server: FakeKubeRayApiServer, template: str, **extra: Any) -> dict[str, Any]:
    spec = ClusterSpec(
        ray_version="2.52.0",
        enable_serve_service=True,
        head=HeadGroup(compute_template=template),
        workers=[WorkerGroup(name="wg", compute_template=template, replicas=1, max_replicas=3)],
    )
    return {
        "spec": spec.to_spec(),
        "namespace": NS,
        "resource_name": "tpl",
        "api_server": {"url": server.url},
        "annotations": spec.annotations(),
        "timeout_s": 60,
        "wait_for_dashboard": False,  # no Ray process behind this operator
        "owner": "tests/apiserver",
        PROVIDER_KEY: provider_input(RayClusterProvider()),
        **extra,
    }


def v1_cluster_inputs(server: FakeKubeRayApiServer, template: str, **extra: Any) -> dict[str, Any]:
    """``cluster_inputs`` as V1 can carry them (head start params, minimum = replicas)."""
    inputs = cluster_inputs(server, template, **extra)
    spec = inputs["spec"]
    spec["headGroupSpec"]["rayStartParams"] = {"dashboard-host": "0.0.0.0"}
    spec["workerGroupSpecs"][0]["minReplicas"] = 1
    inputs["api_server"] = {"url": server.url, "api": "v1"}
    return inputs


def configmap(kube: FakeKubeServer, name: str) -> dict[str, Any] | None:
    return kube.registry.find(CONFIGMAPS, NS, name)


def test_a_template_is_created_read_and_deleted_and_its_unit_kept_or_refused(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    engine = Engine(provider_host)
    name, mebi = unique_name("tpl"), unique_name("mebi")
    try:
        engine.up(urn_of(TEMPLATE_TYPE, name), template_inputs(apiserver, name))
        stored = configmap(kube, name)
        assert stored is not None and stored["data"]["cpu"] == "2"
        assert engine.refresh(urn_of(TEMPLATE_TYPE, name)) is not None
        assert engine.state[urn_of(TEMPLATE_TYPE, name)].outputs["template"] == {
            "cpu": 2,
            "memory": 4,
        }  # as written: a refresh shows no drift
        urn = urn_of(TEMPLATE_TYPE, mebi)
        if apiserver.release.name == "v1.4":
            # v1.4 knows no memory_unit: 512Mi would be held as 512Gi. Refused, left nothing.
            with pytest.raises(ProviderError, match="knows no memory_unit") as caught:
                engine.up(urn, template_inputs(apiserver, mebi, memory="512Mi"))
            assert "it was deleted again" in caught.value.message
            assert configmap(kube, mebi) is None
        else:
            engine.up(urn, template_inputs(apiserver, mebi, memory="512Mi"))
            stored = configmap(kube, mebi)
            assert stored is not None
            assert (stored["data"]["memory"], stored["data"]["memory_unit"]) == ("512", "Mi")
    finally:
        for _ in engine.destroy_all():
            pass
    assert configmap(kube, name) is None and configmap(kube, mebi) is None


def test_a_template_of_that_name_that_exists_is_refused_and_left_as_it_was(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    name = unique_name("theirs")
    theirs = Engine(provider_host)
    theirs.up(urn_of(TEMPLATE_TYPE, name), template_inputs(apiserver, name, cpu=8))
    try:
        with pytest.raises(ProviderError, match="already exists") as caught:
            Engine(provider_host).up(urn_of(TEMPLATE_TYPE, name), template_inputs(apiserver, name))
        assert "choose another name, or delete it first" in caught.value.message
        stored = configmap(kube, name)
        assert stored is not None and stored["data"]["cpu"] == "8"
    finally:
        for _ in theirs.destroy_all():
            pass


def test_a_cluster_gets_its_templates_resources_on_create_and_on_an_in_place_patch(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    engine = Engine(provider_host)
    template = unique_name("tpl")
    cluster_urn = urn_of(CLUSTER_TYPE, "tpl")
    try:
        engine.up(urn_of(TEMPLATE_TYPE, template), template_inputs(apiserver, template, gpu=1))
        inputs = cluster_inputs(apiserver, template)
        engine.up(cluster_urn, inputs)
        name = engine.state[cluster_urn].outputs["name"]
        obj = kube.registry.find(RAYCLUSTERS, NS, name)
        assert obj is not None
        [worker] = obj["spec"]["workerGroupSpecs"]
        limits = worker["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
        assert "computeTemplate" not in worker  # never stored, never pruned with a warning

        # A worker group appended in place: a PATCH, which V2's middleware never sees.
        spec = inputs["spec"]
        extra = {**spec["workerGroupSpecs"][0], "groupName": "more"}
        spec = {**spec, "workerGroupSpecs": [*spec["workerGroupSpecs"], extra]}
        assert engine.up(cluster_urn, {**inputs, "spec": spec}).op == "update"
        obj = kube.registry.find(RAYCLUSTERS, NS, name)
        assert obj is not None
        appended = obj["spec"]["workerGroupSpecs"][1]
        assert appended["template"]["spec"]["containers"][0]["resources"]["requests"] == limits
        assert apiserver.matching("PATCH", rf"/rayclusters/{name}$")

        # The template cannot go while this cluster names it; it can once the cluster is gone.
        with pytest.raises(ProviderError, match="still named by RayCluster"):
            engine.destroy(urn_of(TEMPLATE_TYPE, template))
        assert configmap(kube, template) is not None
    finally:
        engine.destroy(cluster_urn)
        engine.state.pop(urn_of(TEMPLATE_TYPE, template), None)
        Engine(provider_host).host.delete(
            urn_of(TEMPLATE_TYPE, template),
            f"{NS}/{template}",
            template_inputs(apiserver, template),
        )
    assert configmap(kube, template) is None


def test_a_cluster_naming_a_missing_template_writes_nothing(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    before = {o["metadata"]["name"] for o in kube.registry.list(RAYCLUSTERS, NS)["items"]}
    with pytest.raises(ProviderError, match="compute template 'no-such-template' does not exist"):
        Engine(provider_host).up(
            urn_of(CLUSTER_TYPE, "tpl"), cluster_inputs(apiserver, "no-such-template")
        )
    after = {o["metadata"]["name"] for o in kube.registry.list(RAYCLUSTERS, NS)["items"]}
    assert after == before


def test_a_cluster_that_never_gets_ready_says_why_with_its_events_through_v2(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    template = unique_name("tpl")
    engine = Engine(provider_host)
    try:
        engine.up(urn_of(TEMPLATE_TYPE, template), template_inputs(apiserver, template))
        inputs = cluster_inputs(
            apiserver,
            template,
            timeout_s=4,
            annotations={"fake-kube.test/scenario": "image_pull_error"},
        )
        with pytest.raises(ProviderError) as caught:
            engine.up(urn_of(CLUSTER_TYPE, "never"), {**inputs, "resource_name": "never"})
        message = caught.value.message
        assert "was not ready within 4s" in message
        assert "Recent events: " in message and "CreatedHeadPod" in message, message
        assert "It was deleted again" in message
        events_route = (
            r"/apis/events.k8s.io/v1/" if apiserver.release.name == "v1.7" else r"/api/v1/.*events"
        )
        assert apiserver.matching("GET", events_route, status=200)
    finally:
        for _ in engine.destroy_all():
            pass


def test_v1_never_sees_a_cluster_it_did_not_make(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    """A V2 (or kubectl) cluster of the name a V1 cluster wants: V1 answers 500, not ours."""
    name = unique_name("v1")
    kube.registry.create(RAYCLUSTERS, NS, raycluster(name))
    template = unique_name("tpl")
    engine = Engine(provider_host)
    try:
        engine.up(urn_of(TEMPLATE_TYPE, template), template_inputs(apiserver, template))
        inputs = v1_cluster_inputs(apiserver, template, name=name)
        with pytest.raises(ProviderError) as caught:
            engine.up(urn_of(CLUSTER_TYPE, "v1"), inputs)
        assert "500" in caught.value.message, caught.value.message
        obj = kube.registry.find(RAYCLUSTERS, NS, name)
        assert obj is not None and "managed-by" not in str(obj["metadata"].get("labels"))
    finally:
        for _ in engine.destroy_all():
            pass
        kube.registry.delete(RAYCLUSTERS, NS, name)


def test_a_v1_cluster_on_a_server_without_v2_fails_at_once_unless_told_not_to_wait(
    kube: FakeKubeServer, provider_host: ProviderHost
) -> None:
    """Clusters are what V1 is for on a server without V2; its dashboard has no way in there."""
    with FakeKubeRayApiServer(kube, release="v1.7", enable_v2=False) as v1_only:
        template = unique_name("tpl")
        engine = Engine(provider_host)
        try:
            engine.up(urn_of(TEMPLATE_TYPE, template), template_inputs(v1_only, template))
            inputs = v1_cluster_inputs(v1_only, template, timeout_s=120)
            started = time.monotonic()
            with pytest.raises(ProviderError, match="does not serve V2") as caught:
                engine.up(urn_of(CLUSTER_TYPE, "v1only"), {**inputs, "wait_for_dashboard": True})
            assert time.monotonic() - started < 30  # not the 120 s timeout
            assert "wait_for_dashboard=False" in caught.value.message
            engine.up(urn_of(CLUSTER_TYPE, "v1only"), inputs)  # the cluster alone: ready
        finally:
            for _ in engine.destroy_all():
                pass


def test_a_new_way_to_a_template_is_an_update_that_keeps_every_output(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    name = unique_name("tpl")
    urn = urn_of(TEMPLATE_TYPE, name)
    engine = Engine(provider_host)
    try:
        engine.up(urn, template_inputs(apiserver, name))
        assert engine.up(urn, {**template_inputs(apiserver, name), "timeout_s": 300}).op == "update"
        assert engine.state[urn].outputs["name"] == name
        assert engine.state[urn].outputs["stored"]["cpu"] == 2
        with FakeKubeRayApiServer(kube, release="v1.7") as other_door:  # same cluster, new URL
            step = engine.up(urn, template_inputs(other_door, name))
            assert step.op == "update" and engine.state[urn].outputs["name"] == name
            assert configmap(kube, name) is not None
            engine.up(urn, template_inputs(apiserver, name))
    finally:
        for _ in engine.destroy_all():
            pass
    assert configmap(kube, name) is None


def test_a_template_is_kept_while_a_v1_cluster_of_ours_names_it(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    """A V1 cluster carries the API server's labels, not ours: it is ours by the annotation."""
    template = unique_name("tpl")
    engine = Engine(provider_host)
    cluster_urn = urn_of(CLUSTER_TYPE, "v1named")
    try:
        engine.up(urn_of(TEMPLATE_TYPE, template), template_inputs(apiserver, template))
        engine.up(cluster_urn, v1_cluster_inputs(apiserver, template, resource_name="v1named"))
        with pytest.raises(ProviderError, match="still named by RayCluster"):
            engine.destroy(urn_of(TEMPLATE_TYPE, template))
    finally:
        engine.destroy(cluster_urn)
        Engine(provider_host).host.delete(
            urn_of(TEMPLATE_TYPE, template),
            f"{NS}/{template}",
            template_inputs(apiserver, template),
        )
    assert configmap(kube, template) is None


def test_a_patch_is_refused_when_the_template_was_replaced_under_its_name(
    kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, provider_host: ProviderHost
) -> None:
    template = unique_name("tpl")
    engine = Engine(provider_host)
    cluster_urn = urn_of(CLUSTER_TYPE, "resized")
    try:
        engine.up(urn_of(TEMPLATE_TYPE, template), template_inputs(apiserver, template))
        inputs = {**cluster_inputs(apiserver, template), "resource_name": "resized"}
        engine.up(cluster_urn, inputs)
        name = engine.state[cluster_urn].outputs["name"]
        before = kube.registry.find(RAYCLUSTERS, NS, name)
        # Someone replaces the template on the server under the same name, bigger.
        base = f"{apiserver.url}/apis/v1/namespaces/{NS}/compute_templates"
        assert requests.delete(f"{base}/{template}", timeout=10).status_code == 200
        bigger = {"name": template, "namespace": NS, "cpu": 4, "memory": 8}
        assert requests.post(base, json=bigger, timeout=10).status_code == 200
        spec = inputs["spec"]
        spec["workerGroupSpecs"][0]["replicas"] = 2
        with pytest.raises(ProviderError, match="now hold other resources"):
            engine.up(cluster_urn, {**inputs, "spec": spec})
        after = kube.registry.find(RAYCLUSTERS, NS, name)
        assert before is not None and after is not None
        assert after["spec"] == before["spec"]  # nothing was changed
    finally:
        engine.destroy(cluster_urn)
        for _ in engine.destroy_all():
            pass
