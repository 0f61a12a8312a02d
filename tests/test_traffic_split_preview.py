"""What ``pulumi preview`` sees of a TrafficSplit: Check and Diff through the real provider host.

No Kubernetes here: the kubeconfig does not exist, so any call to a cluster would fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    UNKNOWN,
    ProviderHost,
    provider_input,
    urn_of,
)

from pulumi_rayservice.rollout.gates import HttpProbe
from pulumi_rayservice.rollout.options import ClusterUpgradeOptions, HealthGates
from pulumi_rayservice.rollout.provider import TrafficSplitProvider

URN = urn_of("pulumi-python:dynamic/rayservice:TrafficSplit", "fruit-traffic")
OPTIONS = ClusterUpgradeOptions(
    gateway_class_name="istio",
    step_size_percent=10,
    interval_seconds=30,
    max_surge_percent=20,
    health_gates=HealthGates(probes=(HttpProbe(path="/fruit", expected_body="4"),)),
).model_dump(mode="json", exclude_none=True)


def inputs(**change: Any) -> dict[str, Any]:
    return {
        "name": "fruit",
        "namespace": "ray",
        "kube": {"path": "/nonexistent/kubeconfig"},
        "cluster": "fruit-aaaaa",
        "dashboard": {"service": "fruit-aaaaa-head-svc", "namespace": "ray", "port": "dashboard"},
        "serve_port": 8000,
        "apps": ["fruit_app"],
        "options": OPTIONS,
        "owner": "project/stack",
        "resource_name": "fruit-traffic",
        "timeout_s": 300,
        PROVIDER_KEY: provider_input(TrafficSplitProvider()),
        **change,
    }


def outputs(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**props, "weights": {f"{props['cluster']}-serve-svc": 100}, **extra}


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"step_size_percent": 50}, "options", "must not exceed max_surge_percent"),
        ({"interval_seconds": -1}, "options.interval_seconds", "greater than 0"),
        ({"gateway_class_name": None}, "options", "gateway_class_name= (a Gateway is created)"),
        ({"health_gates": {"probes": [{"path": "fruit"}]}}, "options.health_gates.probes.0.path",
         "must start with /"),
        ({"on_failure": "Ignore"}, "options.on_failure", "'Rollback' or 'Pause'"),
    ],
)  # fmt: skip
def test_bad_options_fail_at_check_naming_the_field(
    provider_host: ProviderHost, change: dict[str, Any], field: str, fragment: str
) -> None:
    options = {**OPTIONS, **change}
    outcome = provider_host.check(URN, {}, inputs(options=options))
    reasons = [reason for prop, reason in outcome.failures if prop == field]
    assert reasons, outcome.failures
    assert any(fragment in reason for reason in reasons), reasons


def test_options_as_the_engine_sends_them_pass(provider_host: ProviderHost) -> None:
    # The engine sends every number as a float: 10.0 is the percent 10.
    floats = {**OPTIONS, "step_size_percent": 10.0, "max_surge_percent": 20.0}
    assert provider_host.check(URN, {}, inputs(options=floats)).failures == []
    bad = provider_host.check(URN, {}, inputs(name="Fruit", serve_port=0, apps="fruit_app"))
    assert {prop for prop, _ in bad.failures} == {"name", "serve_port", "apps"}


def test_a_new_cluster_is_an_update_that_the_preview_describes(
    provider_host: ProviderHost,
) -> None:
    old = outputs(inputs())
    diff = provider_host.diff(URN, "ray/fruit-httproute", old, inputs(cluster=UNKNOWN))
    assert diff.has_changes and diff.replaces == []
    assert provider_host.wait_for_log("incremental upgrade from fruit-aaaaa to a new cluster")
    log = provider_host.log
    assert "10 step(s), one every 30s (at least 270s)" in log
    assert "at most 120% of one (max_surge_percent 20)" in log
    assert "GET /fruit -> 200 containing '4'" in log


def test_another_gateway_replaces_and_stray_weights_update(provider_host: ProviderHost) -> None:
    old = outputs(inputs())
    other_class = inputs(options={**OPTIONS, "gateway_class_name": "envoy"})
    assert provider_host.diff(URN, "id", old, other_class).replaces == ["options"]
    assert not provider_host.diff(URN, "id", old, inputs()).has_changes
    # A refresh read traffic still split (an interrupted upgrade): the update puts it right.
    stray = outputs(inputs(), weights={"fruit-aaaaa-serve-svc": 70, "fruit-bbbbb-serve-svc": 30})
    diff = provider_host.diff(URN, "id", stray, inputs())
    assert diff.has_changes and diff.replaces == []
