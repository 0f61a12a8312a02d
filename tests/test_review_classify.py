"""What the review says a change does: Serve's effect per deployment, KubeRay's cluster rule,
the capacity a new cluster asks for, and how values appear (tables of cases)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pulumi_rayservice.cluster.changes import Change
from pulumi_rayservice.review import summarize
from pulumi_rayservice.review.cluster_changes import capacity_of, classify_cluster, parse_quantity
from pulumi_rayservice.review.serve_changes import Effect, classify_app
from pulumi_rayservice.review.values import UNKNOWN, redact, shown

APP: dict[str, Any] = {
    "name": "fruit_app",
    "route_prefix": "/fruit",
    "import_path": "fruit:deployment_graph",
    "runtime_env": {"working_dir": "https://example.com/fruit.zip"},
    "deployments": [
        {"name": "MangoStand", "num_replicas": 1, "user_config": {"price": 3}},
        {"name": "FruitMarket", "num_replicas": 1},
    ],
}


def edited(app_change: dict[str, Any] | None = None, **deployment: Any) -> dict[str, Any]:
    app = copy.deepcopy(APP)
    app.update(app_change or {})
    for key, value in deployment.items():
        if value is None:
            app["deployments"][0].pop(key, None)
        else:
            app["deployments"][0][key] = value
    return app


@pytest.mark.parametrize(
    ("new", "mango", "market", "app_effect"),
    [
        (edited(user_config={"price": 4}), Effect.RECONFIGURE, Effect.NONE, Effect.RECONFIGURE),
        (edited(num_replicas=3), Effect.SCALE, Effect.NONE, Effect.SCALE),
        (edited(max_ongoing_requests=10), Effect.IN_PLACE, Effect.NONE, Effect.IN_PLACE),
        (edited(ray_actor_options={"num_cpus": 2}), Effect.RESTART, Effect.NONE, Effect.RESTART),
        (edited(max_replicas_per_node=1), Effect.RESTART, Effect.NONE, Effect.RESTART),
        (edited(num_replicas=None, autoscaling_config={"min_replicas": 1}), Effect.RESTART,
         Effect.NONE, Effect.RESTART),
        (edited({"import_path": "fruit:other"}), Effect.RESTART, Effect.RESTART, Effect.REBUILD),
        (edited({"runtime_env": {"working_dir": "https://example.com/v2.zip"}}),
         Effect.RESTART, Effect.RESTART, Effect.REBUILD),
        (edited({"route_prefix": "/shop"}), Effect.NONE, Effect.NONE, Effect.IN_PLACE),
        (edited(user_config=UNKNOWN), Effect.RECONFIGURE, Effect.NONE, Effect.RECONFIGURE),
        (APP, Effect.NONE, Effect.NONE, Effect.NONE),
    ],
)  # fmt: skip
def test_serve_effect_per_deployment(
    new: dict[str, Any], mango: Effect, market: Effect, app_effect: Effect
) -> None:
    change = classify_app(APP, new)
    effects = {d.name: d.effect for d in change.deployments}
    assert effects == {"MangoStand": mango, "FruitMarket": market}
    assert change.effect is app_effect


def test_added_and_removed_deployments() -> None:
    new = copy.deepcopy(APP)
    new["deployments"] = [APP["deployments"][0], {"name": "Cashier"}]
    effects = {d.name: d.effect for d in classify_app(APP, new).deployments}
    assert effects == {
        "MangoStand": Effect.NONE,
        "FruitMarket": Effect.REMOVED,
        "Cashier": Effect.ADDED,
    }


SPEC: dict[str, Any] = {
    "rayVersion": "2.52.0",
    "headGroupSpec": {
        "rayStartParams": {},
        "template": {"spec": {"containers": [{
            "name": "ray-head", "image": "rayproject/ray:2.52.0",
            "resources": {"requests": {"cpu": "2", "memory": "4Gi"}},
        }]}},
    },
    "workerGroupSpecs": [{
        "groupName": "gpu", "replicas": 2, "minReplicas": 0, "maxReplicas": 4, "numOfHosts": 1,
        "rayStartParams": {},
        "template": {"spec": {"containers": [{
            "name": "ray-worker", "image": "rayproject/ray:2.52.0",
            "resources": {"limits": {"cpu": "500m", "memory": "2Gi", "nvidia.com/gpu": 1}},
        }]}},
    }],
}  # fmt: skip


def spec_with(change: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    change(spec)
    return spec


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["workerGroupSpecs"][0].update(replicas=3), Change.IN_PLACE),
        (lambda s: s.update(rayVersion="2.53.0"), Change.NEW_CLUSTER),
        (lambda s: s["headGroupSpec"]["template"]["spec"]["containers"][0].update(image="x:1"),
         Change.NEW_CLUSTER),
        (lambda s: s.update(upgradeStrategy={"type": "Recreate"}, rayVersion="2.53.0"),
         Change.RECREATE),
        (lambda s: None, Change.NONE),
    ],
)  # fmt: skip
def test_cluster_change_is_kuberays_rule(change: Any, expected: Change) -> None:
    assert classify_cluster(SPEC, spec_with(change)).change is expected


def test_an_engine_replace_is_a_new_cluster_even_when_the_spec_is_unknown() -> None:
    assert classify_cluster(SPEC, UNKNOWN, replaced=True).change is Change.NEW_CLUSTER


def test_capacity_counts_head_and_workers_at_their_starting_size() -> None:
    capacity = capacity_of(SPEC)
    assert (capacity.cpus, capacity.gpus, capacity.pods) == (3.0, 2.0, 3)
    assert capacity.memory_bytes == 8 * 2**30 and not capacity.unknown
    assert capacity.describe() == "3 CPUs, 2 GPUs, 8 GiB memory (3 pods)"
    unknown = capacity_of(spec_with(lambda s: s["workerGroupSpecs"][0].update(replicas=UNKNOWN)))
    assert unknown.unknown and unknown.pods == 1
    assert "known after apply" in unknown.describe()


@pytest.mark.parametrize(
    ("value", "number"),
    [("500m", 0.5), ("2", 2.0), (4, 4.0), ("4Gi", 4 * 2**30), ("1e3", 1000.0), ("1k", 1000.0),
     ("lots", None), (True, None), ("2Qi", None)],
)  # fmt: skip
def test_quantities(value: Any, number: float | None) -> None:
    assert parse_quantity(value) == number


@pytest.mark.parametrize(
    ("value", "text"),
    [(UNKNOWN, "known after apply"), ("[secret]", "[secret]"), (3.0, "3"), (None, "(none)"),
     ({"a": UNKNOWN}, '{"a": "known after apply"}'), ("x" * 500, "x" * 119 + "…")],
)  # fmt: skip
def test_values_as_shown(value: Any, text: str) -> None:
    assert shown(value) == text


def test_secrets_are_blinded_wherever_they_come_from() -> None:
    signed = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s"}
    value = {
        "dashboard": {"token": "tok", "kube": {"content": "apiVersion: v1"}},
        "app": {"runtime_env": {"env_vars": {"KEY": "k"}}, "nested": signed},
        "__provider": "pickled",
    }
    assert redact(value, [["app", "runtime_env", "env_vars"]]) == {
        "dashboard": {"token": "[secret]", "kube": {"content": "[secret]"}},
        "app": {"runtime_env": {"env_vars": "[secret]"}, "nested": "[secret]"},
        "__provider": "[secret]",
    }


@pytest.mark.parametrize("op", ["discard", "discard-replaced"])
def test_a_discard_only_forgets_a_read_resource_and_passes_the_gate(op: str) -> None:
    urn = "urn:pulumi:dev::proj::kubernetes:core/v1:Namespace::ray"
    state = {"type": "kubernetes:core/v1:Namespace", "inputs": {}, "outputs": {}}
    text, status = summarize({"steps": [{"op": op, "urn": urn, "oldState": state}]})
    assert status == 0
    assert "the resource itself stays" in text
