"""How a RayService's rollout is told when parts of it are hidden or unchanged.

A TrafficSplit's options holding a secret or a value known only after apply give no plan, and
are not invalid either; an unchanged cluster beside a removed app (a ``--show-sames`` document)
is a service that keeps running, not one being deleted.
"""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_rayservice.review import parse
from pulumi_rayservice.review.rollout_story import service_stories
from pulumi_rayservice.review.values import UNKNOWN

SERVICE = "rayservice:index:RayService"
PREFIX = f"urn:pulumi:dev::proj::{SERVICE}$pulumi-python:dynamic/rayservice:"
SPEC = {"headGroupSpec": {"rayStartParams": {}}, "workerGroupSpecs": []}


def step(op: str, kind: str, name: str, old: Any = None, new: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"op": op, "urn": f"{PREFIX}{kind}::{name}"}
    for key, inputs in (("oldState", old), ("newState", new)):
        if inputs is not None:
            found[key] = {"type": f"pulumi-python:dynamic/rayservice:{kind}", "inputs": inputs}
    return found


def cluster_replaced_with_split(options: Any) -> dict[str, Any]:
    new_spec = {**SPEC, "rayVersion": "2.50.0"}
    return {"steps": [
        {"op": "same", "urn": f"urn:pulumi:dev::proj::{SERVICE}::fruit"},
        step("replace", "RayCluster", "fruit", {"spec": SPEC}, {"spec": new_spec}),
        step("create", "TrafficSplit", "fruit-split", None, {"options": options}),
    ]}  # fmt: skip


@pytest.mark.parametrize(
    "options",
    [
        {"step_size_percent": "[secret]", "interval_s": 60},
        {"step_size_percent": 20, "gate": {"metrics": UNKNOWN}},
        {"step_size_percent": 20, "gate": ["[secret]"]},
    ],
)
def test_hidden_options_are_a_plan_known_later_not_invalid(options: Any) -> None:
    [story] = service_stories(parse(cluster_replaced_with_split(options)).steps)
    [line] = story.plan
    assert "not valid" not in line
    assert "secret values or values known after apply" in line


def test_a_removed_app_beside_an_unchanged_cluster_is_no_deleted_service() -> None:
    document = {"steps": [
        {"op": "same", "urn": f"urn:pulumi:dev::proj::{SERVICE}::fruit"},
        step("same", "RayCluster", "fruit", {"spec": SPEC}, {"spec": SPEC}),
        step("delete", "ServeApplication", "fruit-mango", {"app": {"name": "mango"}}),
    ]}  # fmt: skip
    [story] = service_stories(parse(document).steps)
    assert story.kind == "in place"
    assert "deleted" not in " ".join(p.what for p in story.phases)
    assert "`mango` removed from the cluster" in story.phases[0].what


def test_a_deleted_cluster_with_its_apps_is_a_deleted_service() -> None:
    document = {"steps": [
        step("delete", "RayCluster", "fruit", {"spec": SPEC}),
        step("delete", "ServeApplication", "fruit-mango", {"app": {"name": "mango"}}),
    ]}  # fmt: skip
    [story] = service_stories(parse(document).steps)
    assert story.kind == "deleted"
