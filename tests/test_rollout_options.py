"""The incremental upgrade's options follow KubeRay's rules and refuse what could never end."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pulumi_rayservice.rollout.gates import HttpProbe
from pulumi_rayservice.rollout.options import ClusterUpgradeOptions, ExistingGateway, HealthGates

BASE: dict[str, Any] = {
    "gateway_class_name": "istio",
    "step_size_percent": 10,
    "interval_seconds": 30,
}


def test_kuberays_sample_options_plan_ten_steps() -> None:
    options = ClusterUpgradeOptions(**BASE, max_surge_percent=10)
    plan = options.plan()
    assert [s.target.pending_traffic for s in plan] == list(range(10, 110, 10))
    assert options.on_failure == "Rollback"
    assert not options.keep_pending_cluster


def test_an_existing_gateway_instead_of_a_class() -> None:
    options = ClusterUpgradeOptions(
        gateway=ExistingGateway(name="shared", namespace="infra", listener="http"),
        step_size_percent=50,
        interval_seconds=1,
    )
    assert options.gateway is not None
    assert options.gateway.listener == "http"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gateway_class_name": None}, "give gateway_class_name= .* or gateway="),
        ({"gateway": {"name": "g"}}, "give gateway_class_name= .* or gateway="),
        ({"step_size_percent": 0}, "greater than or equal to 1"),
        ({"step_size_percent": 101}, "less than or equal to 100"),
        ({"step_size_percent": 10.0}, "valid integer"),
        ({"step_size_percent": 50, "max_surge_percent": 20}, "must not exceed max_surge_percent"),
        ({"interval_seconds": 0}, "greater than 0"),
        ({"interval_seconds": float("nan")}, "finite number"),
        ({"gateway_class_name": "Not A Name"}, "gateway_class_name: "),
        ({"on_failure": "Ignore"}, "'Rollback' or 'Pause'"),
        ({"surge": 5}, "Extra inputs are not permitted"),
    ],
)
def test_bad_options_are_refused_by_name(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ClusterUpgradeOptions(**{**BASE, **change})


def test_gates_hold_probes_and_a_bounded_ready_timeout() -> None:
    gates = HealthGates(probes=(HttpProbe(path="/fruit", expected_body="4"),))
    assert gates.ready_timeout_s == 600
    with pytest.raises(ValidationError, match="greater than 0"):
        HealthGates(ready_timeout_s=0)
    with pytest.raises(ValidationError, match="name: "):
        ExistingGateway(name="bad_name")
