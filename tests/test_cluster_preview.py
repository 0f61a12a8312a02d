"""What ``pulumi preview`` sees of a RayCluster: Check and Diff through the real provider host.

No Kubernetes here at all: the kubeconfig points at a file that does not exist, so any attempt to
talk to a cluster during Check or Diff would fail these tests.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    UNKNOWN,
    ProviderHost,
    provider_input,
    secret_paths,
    urn_of,
)
from rayservice_testbed.paths import KUBERAY_SAMPLES

from pulumi_rayservice.cluster.provider import RayClusterProvider

TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
URN = urn_of(TYPE, "fruit")
SAMPLES = KUBERAY_SAMPLES
SPEC: dict[str, Any] = yaml.safe_load((SAMPLES / "ray-service.sample.yaml").read_text())["spec"][
    "rayClusterConfig"
]
KUBE = {"path": "/nonexistent/kubeconfig"}


def inputs(spec: Any = SPEC, **extra: Any) -> dict[str, Any]:
    return {
        "spec": spec,
        "namespace": "ray",
        "resource_name": "fruit",
        "kube": KUBE,
        "timeout_s": 900,
        PROVIDER_KEY: provider_input(RayClusterProvider()),
        **extra,
    }


def edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    change(spec)
    return spec


def checked(
    host: ProviderHost, props: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    outcome = host.check(URN, olds or {}, props)
    assert outcome.failures == []
    return outcome.inputs


def test_name_is_drawn_once_kept_and_drawn_anew_for_a_replacement(
    provider_host: ProviderHost,
) -> None:
    first = checked(provider_host, inputs())
    assert re.fullmatch(r"fruit-[a-z0-9]{5}", first["name"]) and first["auto_named"] is True
    again = checked(provider_host, inputs(), olds=first)
    assert again["name"] == first["name"]
    # The engine re-runs Check without olds when it replaces a resource: a new name.
    replacement = checked(provider_host, inputs())
    assert replacement["name"] != first["name"]


def test_fixed_name_is_used_and_validated(provider_host: ProviderHost) -> None:
    fixed = checked(provider_host, inputs(name="fruit-cluster"))
    assert fixed["name"] == "fruit-cluster" and fixed["auto_named"] is False
    outcome = provider_host.check(URN, {}, inputs(name="a" * 60))
    assert [p for p, _ in outcome.failures] == ["name"]
    assert "53" in outcome.failures[0][1]


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        (
            lambda s: s["workerGroupSpecs"][0].update(replicas="three"),
            "spec.workerGroupSpecs[0].replicas",
            "three",
        ),
        (
            lambda s: s["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"][
                "limits"
            ].update(cpu=1.5),
            "spec.headGroupSpec.template.spec.containers[0].resources.limits.cpu",
            "1.5",
        ),
        (lambda s: s.update(workerGroupSpec=[]), "spec.workerGroupSpec", "unknown field"),
        (
            lambda s: s["headGroupSpec"]["template"]["spec"].update(containers=[]),
            "spec.headGroupSpec.template.spec.containers",
            "",
        ),
        (lambda s: s["workerGroupSpecs"][0].update(minReplicas=6), "spec.workerGroupSpecs[0]", ""),
    ],
    ids=["replicas-text", "cpu-float", "typo", "no-head-container", "min-over-max"],
)
def test_bad_specs_fail_at_check_naming_the_field(
    provider_host: ProviderHost, change: Callable[[dict[str, Any]], None], field: str, fragment: str
) -> None:
    outcome = provider_host.check(URN, {}, inputs(edited(change)))
    matching = [reason for prop, reason in outcome.failures if prop.startswith(field)]
    assert matching, outcome.failures
    assert any(fragment in reason for reason in matching)


def test_kubeconfig_content_is_secret_after_check(provider_host: ProviderHost) -> None:
    outcome = provider_host.check(
        URN, {}, inputs(kube={"content": "apiVersion: v1\nkind: Config\n"})
    )
    assert "kube.content" in secret_paths(outcome.inputs)


def state_of(host: ProviderHost, props: dict[str, Any]) -> dict[str, Any]:
    """Outputs as a create would leave them (inputs plus what create adds)."""
    return {**checked(host, props), "uid": "u-1", "head_service": "x-head-svc"}


@pytest.mark.parametrize(
    ("new", "op", "replaces"),
    [
        (inputs(), "same", []),
        (inputs(edited(lambda s: s["workerGroupSpecs"][0].update(replicas=2))), "update", []),
        (inputs(edited(lambda s: s["workerGroupSpecs"][0].update(replicas=UNKNOWN))), "update", []),
        (
            inputs(
                edited(
                    lambda s: s["headGroupSpec"]["template"]["spec"]["containers"][0].update(
                        image="rayproject/ray:2.53.0"
                    )
                )
            ),
            "replace",
            ["spec"],
        ),
        (
            inputs(
                edited(
                    lambda s: s["headGroupSpec"]["template"]["spec"]["containers"][0].update(
                        image=UNKNOWN
                    )
                )
            ),
            "replace",
            ["spec"],
        ),
        (inputs(namespace="ray2"), "replace", ["namespace"]),
        (inputs(kube={"path": "/other/kubeconfig"}), "update", []),
        (inputs(labels={"team": "fruit"}), "update", []),
    ],
    ids=[
        "identical",
        "scale",
        "unknown-replicas",
        "image",
        "unknown-image",
        "namespace",
        "kube",
        "labels",
    ],
)
def test_diff_follows_kuberays_rule(
    provider_host: ProviderHost, new: dict[str, Any], op: str, replaces: list[str]
) -> None:
    old = state_of(provider_host, inputs())
    news = provider_host.check(URN, old, new).inputs
    diff = provider_host.diff(URN, "ray/" + old["name"], old, news)
    actual = "same" if not diff.has_changes else ("replace" if diff.replaces else "update")
    assert (actual, sorted(diff.replaces)) == (op, replaces)
    if op == "replace":
        assert diff.delete_before_replace is False  # a generated name: the new one runs beside


def test_fixed_name_replacement_deletes_first(provider_host: ProviderHost) -> None:
    old = state_of(provider_host, inputs(name="fruit-cluster"))
    new = inputs(edited(lambda s: s.update(rayVersion="2.53.0")), name="fruit-cluster")
    diff = provider_host.diff(
        URN, "ray/fruit-cluster", old, provider_host.check(URN, old, new).inputs
    )
    assert diff.replaces == ["spec"] and diff.delete_before_replace is True


def test_in_place_upgrade_strategy_turns_a_replacement_into_an_update_and_warns(
    provider_host: ProviderHost,
) -> None:
    recreate = edited(lambda s: s.update(upgradeStrategy={"type": "Recreate"}))
    old = state_of(provider_host, inputs(recreate))
    new_image = copy.deepcopy(recreate)
    new_image["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = (
        "rayproject/ray:2.53.0"
    )
    news = provider_host.check(URN, old, inputs(new_image)).inputs
    diff = provider_host.diff(URN, "ray/" + old["name"], old, news)
    assert diff.has_changes and diff.replaces == []
    assert provider_host.wait_for_log("recreate every Ray pod in place")
