"""RayClusterProvider through the REAL provider host, against the fake Kubernetes API server.

The fake admits RayClusters against KubeRay's real CRD schema and runs a stand-in operator. Here
it runs WITHOUT Ray processes (status and events only), and the clusters are created with
``wait_for_dashboard=False``; the dashboard-through-the-proxy path is proven with real Ray heads in
``test_cluster_on_ray.py``. Every test checks what reached the API server (the fake's request
log), not only what the provider says.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer, Scenario
from rayservice_testbed.fake_kube.fixtures import raycluster, sample_cluster_spec
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    secret_paths,
    urn_of,
)

from pulumi_rayservice.cluster.provider import RayClusterProvider

TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
NS = "default"
CLUSTERS = r"/apis/ray\.io/v1/namespaces/default/rayclusters"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKubeServer]:
    with FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()) as fake:
        yield fake


@pytest.fixture
def api(server: FakeKubeServer) -> Iterator[FakeKubeServer]:
    server.reset_requests()
    server.clear_faults()
    yield server
    server.clear_faults()


@pytest.fixture(scope="module")
def kubeconfig(server: FakeKubeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")


def inputs(kubeconfig: Path, spec: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "spec": spec if spec is not None else sample_cluster_spec(),
        "namespace": NS,
        "resource_name": extra.pop("resource_name", "fruit"),
        "kube": {"path": str(kubeconfig)},
        "timeout_s": 60,
        "wait_for_dashboard": False,
        PROVIDER_KEY: provider_input(RayClusterProvider()),
        **extra,
    }


def live(server: FakeKubeServer, name: str) -> dict[str, Any] | None:
    return server.registry.find(RAYCLUSTERS, NS, name)


def autoscale(server: FakeKubeServer, name: str, groups: list[dict[str, Any]]) -> None:
    """A write to the live object by someone else (the autoscaler, a kubectl user)."""
    body = json.dumps({"spec": {"workerGroupSpecs": groups}}).encode()
    server.registry.patch(RAYCLUSTERS, NS, name, body, "application/merge-patch+json")


def scaled(replicas: int, base: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(base or sample_cluster_spec())
    spec["workerGroupSpecs"][0]["replicas"] = replicas
    return spec


def test_create_waits_until_ready_and_reports_outputs(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "fruit")
    assert engine.up(urn, inputs(kubeconfig)).op == "create"
    outputs = engine.state[urn].outputs
    name = outputs["name"]
    assert re.fullmatch(r"fruit-[a-z0-9]{5}", name)
    obj = live(api, name)
    assert obj is not None and outputs["uid"] == obj["metadata"]["uid"]
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pulumi-rayservice"
    assert outputs["head_service"] == f"{name}-head-svc"
    assert outputs["dashboard"] == {
        "service": f"{name}-head-svc",
        "namespace": NS,
        "port": "dashboard",
        "kube": {"path": str(kubeconfig)},
    }
    assert outputs["ray_version"] == "2.52.0" and outputs["image"] == "rayproject/ray:2.52.0"
    assert outputs["readiness"]["head_pod_ready"] is True
    assert api.count("POST", CLUSTERS) == 1


def test_identical_up_sends_no_writes(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "same")
    engine.up(urn, inputs(kubeconfig, resource_name="same"))
    api.reset_requests()
    assert engine.up(urn, inputs(kubeconfig, resource_name="same")).op == "same"
    assert api.write_count() == 0 and api.requests == []  # Check and Diff never call the API


def test_scaling_workers_is_an_in_place_patch(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "scale")
    engine.up(urn, inputs(kubeconfig, resource_name="scale"))
    before = engine.state[urn].outputs
    api.reset_requests()
    step = engine.up(urn, inputs(kubeconfig, scaled(2), resource_name="scale"))
    assert step.op == "update"
    after = engine.state[urn].outputs
    assert (after["name"], after["uid"]) == (before["name"], before["uid"])
    obj = live(api, after["name"])
    assert obj is not None and obj["spec"]["workerGroupSpecs"][0]["replicas"] == 2
    assert [r.method for r in api.writes(CLUSTERS)] == ["PATCH"]
    assert api.writes(CLUSTERS)[0].content_type == "application/merge-patch+json"


def test_an_image_change_is_a_new_cluster_created_before_the_old_is_deleted(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "image")
    engine.up(urn, inputs(kubeconfig, resource_name="image"))
    old = engine.state[urn].outputs
    spec = sample_cluster_spec()
    for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
        group["template"]["spec"]["containers"][0]["image"] = "rayproject/ray:2.53.0"
    api.reset_requests()
    step = engine.up(urn, inputs(kubeconfig, spec, resource_name="image"))
    assert step.op == "replace" and step.diff is not None and not step.diff.delete_before_replace
    new = engine.state[urn].outputs
    assert new["name"] != old["name"] and new["uid"] != old["uid"]
    assert new["image"] == "rayproject/ray:2.53.0"
    writes = [(r.method, r.path.rsplit("/", 1)[-1]) for r in api.writes(CLUSTERS)]
    assert writes == [("POST", "rayclusters"), ("DELETE", old["name"])]
    assert live(api, old["name"]) is None and live(api, new["name"]) is not None


def test_autoscaler_owned_replicas_are_no_drift_and_never_patched(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    spec = sample_cluster_spec()
    spec["enableInTreeAutoscaling"] = True
    urn = urn_of(TYPE, "auto")
    engine.up(urn, inputs(kubeconfig, spec, resource_name="auto"))
    name = engine.state[urn].outputs["name"]
    obj = live(api, name)
    assert obj is not None
    # The autoscaler scales the group to 4 behind Pulumi's back.
    groups = copy.deepcopy(obj["spec"]["workerGroupSpecs"])
    groups[0]["replicas"] = 4
    autoscale(api, name, groups)

    refreshed = engine.refresh(urn)
    assert refreshed is not None
    api.reset_requests()
    assert engine.up(urn, inputs(kubeconfig, spec, resource_name="auto")).op == "same"
    assert api.write_count() == 0

    bigger = copy.deepcopy(spec)
    bigger["workerGroupSpecs"][0]["maxReplicas"] = 8
    assert engine.up(urn, inputs(kubeconfig, bigger, resource_name="auto")).op == "update"
    obj = live(api, name)
    assert obj is not None
    assert obj["spec"]["workerGroupSpecs"][0]["replicas"] == 4  # still the autoscaler's
    assert obj["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 8


def test_refresh_shows_real_drift_but_not_server_defaults(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "drift")
    engine.up(urn, inputs(kubeconfig, resource_name="drift"))
    name = engine.state[urn].outputs["name"]
    obj = live(api, name)
    assert obj is not None and obj["spec"]["workerGroupSpecs"][0].get("numOfHosts") == 1
    refreshed = engine.refresh(urn)
    assert refreshed is not None and refreshed.outputs["spec"] == sample_cluster_spec()

    groups = copy.deepcopy(obj["spec"]["workerGroupSpecs"])
    groups[0]["replicas"] = 3
    autoscale(api, name, groups)
    refreshed = engine.refresh(urn)
    assert refreshed is not None
    assert refreshed.outputs["spec"]["workerGroupSpecs"][0]["replicas"] == 3
    assert engine.up(urn, inputs(kubeconfig, resource_name="drift")).op == "update"
    obj = live(api, name)
    assert obj is not None and obj["spec"]["workerGroupSpecs"][0]["replicas"] == 1


@pytest.mark.parametrize(
    ("scenario", "fragments"),
    [
        ("never_ready", ["HeadPodReady=False"]),
        ("image_pull_error", ["HeadPodReady=False", "ImagePullBackOff"]),
    ],
)
def test_a_cluster_that_never_gets_ready_times_out_with_the_reason_and_is_removed(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path, scenario: str, fragments: list[str]
) -> None:
    props = inputs(
        kubeconfig,
        resource_name=f"stuck-{scenario.replace('_', '-')}",
        timeout_s=4,
        annotations={"fake-kube.test/scenario": scenario},
    )
    with pytest.raises(ProviderError) as failure:
        engine.up(urn_of(TYPE, scenario), props)
    message = failure.value.message
    assert "was not ready within 4s" in message
    for fragment in fragments:
        assert fragment in message
    assert "deleted again; nothing was left" in message
    names = [o["metadata"]["name"] for o in api.registry.list(RAYCLUSTERS, NS)["items"]]
    assert not [n for n in names if n.startswith("stuck-")]


def test_keep_on_failure_keeps_the_cluster_for_inspection(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    props = inputs(
        kubeconfig,
        resource_name="kept",
        name="kept-cluster",
        timeout_s=2,
        keep_on_failure=True,
        annotations={"fake-kube.test/scenario": "never_ready"},
    )
    with pytest.raises(ProviderError) as failure:
        engine.up(urn_of(TYPE, "kept"), props)
    assert "kept for inspection" in failure.value.message
    assert live(api, "kept-cluster") is not None
    api.registry.delete(RAYCLUSTERS, NS, "kept-cluster")


def test_transient_api_errors_are_retried(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    api.inject(status=429, count=2, retry_after=1, match=("POST", CLUSTERS + "$"))
    # The watch on the new object fails: the provider falls back to polling it, whose GETs then
    # meet two 500s and a dropped connection.
    api.inject(status=500, count=1, match=("GET", CLUSTERS + "$"))
    api.inject(status=500, count=2, match=("GET", CLUSTERS + "/burst-"))
    api.drop_connections(count=1, match=("GET", CLUSTERS + "/burst-"))
    urn = urn_of(TYPE, "burst")
    assert engine.up(urn, inputs(kubeconfig, resource_name="burst")).op == "create"
    assert api.count("POST", CLUSTERS + "$", status=429) == 2
    assert api.count("POST", CLUSTERS + "$", status=201) == 1
    assert api.faults.pending == 0


def test_a_forbidden_request_is_not_retried_and_says_what_was_refused(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    api.inject(status=403, count=5, match=("POST", CLUSTERS + "$"))
    with pytest.raises(ProviderError) as failure:
        engine.up(urn_of(TYPE, "denied"), inputs(kubeconfig, resource_name="denied"))
    assert "403" in failure.value.message and "RBAC" in failure.value.message
    assert api.count("POST", CLUSTERS + "$") == 1


def test_delete_waits_for_the_finalizer_and_a_gone_cluster_is_success(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path, provider_host: ProviderHost
) -> None:
    urn = urn_of(TYPE, "final")
    spec = sample_cluster_spec()
    props = inputs(
        kubeconfig,
        spec,
        resource_name="final",
        annotations={"fake-kube.test/finalizer-delay-s": "2"},
    )
    api.operator.set_scenario(r"final-.*", Scenario(gcs_ft_finalizer=True, finalizer_delay_s=2))
    engine.up(urn, props)
    state = engine.state.pop(urn)
    name = state.outputs["name"]
    obj = live(api, name)
    assert obj is not None and obj["metadata"].get("finalizers")
    provider_host.delete(urn, state.id, state.outputs)
    assert live(api, name) is None  # delete returned only once the finalizer was released
    provider_host.delete(urn, state.id, state.outputs)  # already gone: success


def test_an_existing_cluster_of_someone_else_is_refused_untouched(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    manifest = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "theirs", "namespace": NS},
        "spec": sample_cluster_spec(),
    }
    api.registry.create(RAYCLUSTERS, NS, manifest)
    api.reset_requests()
    with pytest.raises(ProviderError) as failure:
        engine.up(urn_of(TYPE, "theirs"), inputs(kubeconfig, resource_name="theirs", name="theirs"))
    assert "not managed by pulumi-rayservice" in failure.value.message
    # The POST was refused with 409 AlreadyExists; nothing else was written.
    assert [(r.method, r.status) for r in api.writes()] == [("POST", 409)]
    assert live(api, "theirs")["metadata"].get("labels") is None
    api.registry.delete(RAYCLUSTERS, NS, "theirs")


def test_a_cluster_we_made_is_adopted_by_a_rerun(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "again")
    engine.up(urn, inputs(kubeconfig, resource_name="again", name="again-cluster"))
    uid = engine.state[urn].outputs["uid"]
    engine.state.pop(urn)  # as if the state of an interrupted `pulumi up` was lost
    assert (
        engine.up(urn, inputs(kubeconfig, resource_name="again", name="again-cluster")).op
        == "create"
    )
    assert engine.state[urn].outputs["uid"] == uid


def test_bad_specs_fail_at_check_and_nothing_is_sent(
    provider_host: ProviderHost, api: FakeKubeServer, kubeconfig: Path
) -> None:
    spec = scaled(1)
    spec["workerGroupSpecs"][0]["replicas"] = "three"
    outcome = provider_host.check(urn_of(TYPE, "bad"), {}, inputs(kubeconfig, spec))
    assert "spec.workerGroupSpecs[0].replicas" in dict(outcome.failures)
    assert api.requests == []


def test_kubeconfig_content_stays_secret_in_outputs_errors_and_logs(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    content = kubeconfig.read_text()
    token = api.token
    urn = urn_of(TYPE, "inline")
    engine.up(urn, {**inputs(kubeconfig, resource_name="inline"), "kube": {"content": content}})
    outputs = engine.state[urn].outputs
    assert set(secret_paths(outputs)) == {"kube.content", "dashboard.kube.content"}

    api.inject(status=403, count=5, match=("POST", CLUSTERS + "$"))
    with pytest.raises(ProviderError) as failure:
        engine.up(
            urn_of(TYPE, "inline-denied"),
            {**inputs(kubeconfig, resource_name="denied2"), "kube": {"content": content}},
        )
    assert token not in failure.value.details and content not in failure.value.details
    assert token not in engine.host.log


def test_a_conflicting_update_is_read_again_and_retried(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "conflict")
    engine.up(urn, inputs(kubeconfig, resource_name="conflict"))
    name = engine.state[urn].outputs["name"]
    api.reset_requests()
    api.inject(status=409, count=1, match=("PATCH", CLUSTERS + "/" + name))
    assert engine.up(urn, inputs(kubeconfig, scaled(2), resource_name="conflict")).op == "update"
    patches = [r.status for r in api.writes(CLUSTERS) if r.method == "PATCH"]
    assert patches == [409, 200]
    obj = live(api, name)
    assert obj is not None and obj["spec"]["workerGroupSpecs"][0]["replicas"] == 2


# ownership: another stack's cluster of the same name is never patched or deleted ----------------


def test_another_stack_with_the_same_resource_and_fixed_name_is_refused_untouched(
    provider_host: ProviderHost, api: FakeKubeServer, kubeconfig: Path
) -> None:
    stack_a, stack_b = Engine(provider_host), Engine(provider_host)
    urn = urn_of(TYPE, "shared")
    stack_a.up(urn, inputs(kubeconfig, resource_name="shared", name="shared-rc", owner="shop/a"))
    before = live(api, "shared-rc")
    assert before is not None
    assert before["metadata"]["annotations"]["rayservice.pulumi.com/stack"] == "shop/a"
    api.reset_requests()

    with pytest.raises(ProviderError) as failure:
        stack_b.up(
            urn,
            inputs(kubeconfig, scaled(3), resource_name="shared", name="shared-rc", owner="shop/b"),
        )
    message = failure.value.message
    assert "for stack 'shop/a', not for this stack ('shop/b')" in message
    assert "nothing was changed" in message
    assert [(r.method, r.status) for r in api.writes()] == [("POST", 409)]
    after = live(api, "shared-rc")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    stack_a.destroy(urn)
    assert live(api, "shared-rc") is None


def test_a_cluster_made_before_stacks_were_recorded_is_refused_with_how_to_take_it_over(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    labels = {
        "app.kubernetes.io/managed-by": "pulumi-rayservice",
        "rayservice.pulumi.com/resource": "older",
    }
    api.registry.create(RAYCLUSTERS, NS, raycluster("older", labels=labels))
    with pytest.raises(ProviderError) as failure:
        engine.up(
            urn_of(TYPE, "older"),
            inputs(kubeconfig, resource_name="older", name="older", owner="shop/a"),
        )
    assert (
        "kubectl -n default annotate raycluster older rayservice.pulumi.com/stack=shop/a"
        in failure.value.message
    )
    api.registry.delete(RAYCLUSTERS, NS, "older")


def test_an_object_that_took_our_name_is_neither_patched_nor_deleted(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path
) -> None:
    urn = urn_of(TYPE, "taken")
    engine.up(urn, inputs(kubeconfig, resource_name="taken", name="taken-rc", owner="shop/a"))
    ours = engine.state[urn].outputs["uid"]
    # Ours is deleted out of band and someone else creates a cluster of the same name.
    api.registry.delete(RAYCLUSTERS, NS, "taken-rc")
    api.wait_for(lambda: live(api, "taken-rc") is None)
    theirs = api.registry.create(RAYCLUSTERS, NS, raycluster("taken-rc"))
    their_uid = theirs.obj["metadata"]["uid"]
    assert their_uid != ours
    api.reset_requests()

    with pytest.raises(ProviderError) as failure:
        engine.up(
            urn,
            inputs(kubeconfig, scaled(2), resource_name="taken", name="taken-rc", owner="shop/a"),
        )
    assert f"uid {ours}, now {their_uid}" in failure.value.message
    assert not [r for r in api.writes() if r.method == "PATCH"]

    engine.destroy(urn)  # ours is gone: success, theirs untouched
    assert engine.host.wait_for_log("someone else's object took the name and was left untouched")
    still = live(api, "taken-rc")
    assert still is not None and still["metadata"]["uid"] == their_uid
    assert [r.status for r in api.writes() if r.method == "DELETE"] == [409]
    api.registry.delete(RAYCLUSTERS, NS, "taken-rc")
