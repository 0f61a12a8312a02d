"""KubeRay's rule of what is a new cluster, and read normalization, as tables of cases."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from rayservice_testbed.paths import KUBERAY_SAMPLES

from pulumi_rayservice.cluster.changes import (
    Change,
    as_written,
    classify,
    patch_spec,
    revision,
)
from pulumi_rayservice.cluster.crd_schema import apply_defaults

SAMPLES = KUBERAY_SAMPLES
BASE: dict[str, Any] = yaml.safe_load((SAMPLES / "ray-service.sample.yaml").read_text())["spec"][
    "rayClusterConfig"
]


def edited(change: Callable[[dict[str, Any]], None], base: dict[str, Any] = BASE) -> dict[str, Any]:
    spec = copy.deepcopy(base)
    change(spec)
    return spec


def head_pod(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["headGroupSpec"]["template"]["spec"]


def worker(spec: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return spec["workerGroupSpecs"][index]


def appended_group(spec: dict[str, Any]) -> None:
    group = copy.deepcopy(worker(spec))
    group["groupName"] = "large-group"
    spec["workerGroupSpecs"].append(group)


def prepended_group(spec: dict[str, Any]) -> None:
    group = copy.deepcopy(worker(spec))
    group["groupName"] = "large-group"
    spec["workerGroupSpecs"].insert(0, group)


CASES: list[tuple[str, Callable[[dict[str, Any]], None], Change]] = [
    ("identical", lambda s: None, Change.NONE),
    ("engine floats", lambda s: worker(s).update(replicas=1.0, maxReplicas=5.0), Change.NONE),
    ("server defaults written out", lambda s: worker(s).update(numOfHosts=1), Change.NONE),
    ("replicas", lambda s: worker(s).update(replicas=2), Change.IN_PLACE),
    ("minReplicas", lambda s: worker(s).update(minReplicas=0), Change.IN_PLACE),
    ("maxReplicas", lambda s: worker(s).update(maxReplicas=10), Change.IN_PLACE),
    ("suspend", lambda s: s.update(suspend=True), Change.IN_PLACE),
    ("worker suspend", lambda s: worker(s).update(suspend=True), Change.IN_PLACE),
    (
        "workersToDelete",
        lambda s: worker(s).update(scaleStrategy={"workersToDelete": ["w-1"]}),
        Change.IN_PLACE,
    ),
    (
        "tolerations",
        lambda s: head_pod(s).update(tolerations=[{"key": "gpu", "operator": "Exists"}]),
        Change.IN_PLACE,
    ),
    ("appended worker group", appended_group, Change.IN_PLACE),
    ("prepended worker group", prepended_group, Change.NEW_CLUSTER),
    (
        "image",
        lambda s: head_pod(s)["containers"][0].update(image="rayproject/ray:2.53.0"),
        Change.NEW_CLUSTER,
    ),
    ("rayVersion", lambda s: s.update(rayVersion="2.53.0"), Change.NEW_CLUSTER),
    (
        "rayStartParams",
        lambda s: s["headGroupSpec"].update(rayStartParams={"num-cpus": "0"}),
        Change.NEW_CLUSTER,
    ),
    (
        "worker template",
        lambda s: worker(s)["template"]["spec"]["containers"][0]["resources"]["limits"].update(
            cpu="2"
        ),
        Change.NEW_CLUSTER,
    ),
    ("worker group removed", lambda s: s["workerGroupSpecs"].clear(), Change.NEW_CLUSTER),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in CASES], ids=[i for i, _, _ in CASES]
)
def test_classify_follows_kuberays_rule(
    change: Callable[[dict[str, Any]], None], expected: Change
) -> None:
    assert classify(BASE, edited(change)) is expected


AUTOSCALED = edited(lambda s: s.update(enableInTreeAutoscaling=True))


def test_autoscaler_written_replicas_are_no_change() -> None:
    live = edited(lambda s: worker(s).update(replicas=4), AUTOSCALED)
    assert classify(AUTOSCALED, live) is Change.NONE
    assert as_written(apply_defaults(live), AUTOSCALED) == AUTOSCALED


def test_in_place_patch_keeps_the_autoscalers_replicas() -> None:
    live = edited(lambda s: worker(s).update(replicas=4), AUTOSCALED)
    desired = edited(lambda s: worker(s).update(maxReplicas=8), AUTOSCALED)
    patched = patch_spec(desired, live)
    assert worker(patched)["replicas"] == 4 and worker(patched)["maxReplicas"] == 8


def test_without_autoscaling_replicas_are_patched() -> None:
    desired = edited(lambda s: worker(s).update(replicas=2))
    assert (
        worker(patch_spec(desired, edited(lambda s: worker(s).update(replicas=1))))["replicas"] == 2
    )


def test_read_drops_server_defaults_but_keeps_real_drift() -> None:
    live = apply_defaults(BASE)
    assert live != BASE  # the API server really fills something in
    assert as_written(live, BASE) == BASE
    drifted = edited(lambda s: worker(s).update(replicas=3), live)
    assert worker(as_written(drifted, BASE))["replicas"] == 3


RECREATING = edited(lambda s: s.update(upgradeStrategy={"type": "Recreate"}))


def test_with_upgrade_strategy_recreate_a_new_cluster_change_recreates_pods_in_place() -> None:
    new_image = edited(
        lambda s: head_pod(s)["containers"][0].update(image="rayproject/ray:2.53.0"), RECREATING
    )
    assert classify(RECREATING, new_image) is Change.RECREATE
    assert classify(RECREATING, edited(lambda s: worker(s).update(replicas=2), RECREATING)) is (
        Change.IN_PLACE
    )
    # Turning the policy on is not itself a change of the cluster's shape.
    assert classify(BASE, RECREATING) is Change.IN_PLACE


def test_revision_changes_exactly_when_kuberay_makes_new_pods() -> None:
    assert revision(BASE) == revision(edited(lambda s: worker(s).update(replicas=3)))
    assert revision(BASE) == revision(RECREATING)
    assert revision(BASE) != revision(edited(lambda s: s.update(rayVersion="2.53.0")))
