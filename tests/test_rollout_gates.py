"""Health gates judge what they see and say it (no cluster: the transport is a function)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import cycle

import pytest
from pydantic import ValidationError

from pulumi_rayservice.rollout.gates import (
    Answer,
    HttpProbe,
    PrometheusGate,
    apps_healthy,
    prometheus_value,
)
from pulumi_rayservice.serve.status import AppState


def sender(answers: list[Answer]) -> tuple[list[tuple[str, str, float]], object]:
    sent: list[tuple[str, str, float]] = []
    replies: Iterator[Answer] = cycle(answers)

    def send(
        method: str, path: str, headers: Mapping[str, str], body: bytes | None, timeout_s: float
    ) -> Answer:
        sent.append((method, path, timeout_s))
        return next(replies)

    return sent, send


def test_a_probe_passes_when_every_answer_is_as_expected() -> None:
    sent, send = sender([Answer(200, "4")])
    probe = HttpProbe(path="/fruit", expected_body="4", requests=5)
    result = probe.check(send)  # type: ignore[arg-type]
    assert result.passed
    assert result.evidence == "5/5 as expected, 5 needed"
    assert sent == [("GET", "/fruit", 5.0)] * 5


def test_a_probe_names_its_first_failure() -> None:
    _, send = sender([Answer(200, "4"), Answer(500, "Internal Server Error"), Answer(200, "x")])
    result = HttpProbe(path="/fruit", expected_body="4", requests=6).check(send)  # type: ignore[arg-type]
    assert not result.passed
    assert result.evidence.startswith("2/6 as expected, 6 needed; first failure: HTTP 500")
    assert result.gate == "probe GET /fruit"


def test_a_probe_with_a_success_share_tolerates_a_few_failures() -> None:
    _, send = sender([Answer(200, "ok")] * 9 + [Answer(0, "connection refused")])
    result = HttpProbe(requests=10, success_share=0.9).check(send)  # type: ignore[arg-type]
    assert result.passed, result.evidence
    assert "first failure: no answer (connection refused)" in result.evidence
    result = HttpProbe(requests=10, success_share=0.95).check(send)  # type: ignore[arg-type]
    assert not result.passed


def test_a_wrong_body_fails_and_is_quoted_short() -> None:
    _, send = sender([Answer(200, "5" * 1000)])
    result = HttpProbe(expected_body="4", requests=1).check(send)  # type: ignore[arg-type]
    assert not result.passed
    assert "without '4'" in result.evidence
    assert len(result.evidence) <= 300


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("path", "fruit"),
        ("path", "/a b"),
        ("requests", 0),
        ("requests", 1001),
        ("success_share", 0),
        ("success_share", 1.5),
        ("expected_status", 99),
        ("expected_status", True),
        ("timeout_s", float("inf")),
        ("method", "DELETE"),
    ],
)
def test_a_probe_refuses_bad_settings_by_name(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        HttpProbe(**{field: value})  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"] == (field,)


def test_a_prometheus_gate_checks_its_bounds() -> None:
    gate = PrometheusGate(
        url="http://127.0.0.1:9090/", query="sum(rate(errors[1m]))", max_value=0.01
    )
    assert gate.url == "http://127.0.0.1:9090"
    assert gate.check(lambda q: 0.0).passed
    high = gate.check(lambda q: 0.5)
    assert not high.passed
    assert high.evidence == "value 0.5, past the max 0.01"
    assert not gate.check(lambda q: None).passed
    assert not gate.check(lambda q: float("nan")).passed

    def unreachable(_query: str) -> float | None:
        raise ConnectionError("connection refused")

    failed = gate.check(unreachable)
    assert not failed.passed
    assert failed.evidence == "query failed: connection refused"
    lenient = PrometheusGate(url="http://127.0.0.1:9090", query="x", min_value=1, no_data="pass")
    assert lenient.check(lambda q: None).passed
    assert lenient.check(lambda q: 0.5).evidence == "value 0.5, below the min 1"


def test_a_prometheus_gate_needs_a_bound_that_can_pass() -> None:
    with pytest.raises(ValidationError, match="give max_value=, min_value= or both"):
        PrometheusGate(url="http://127.0.0.1:9090", query="x")
    with pytest.raises(ValidationError, match="no value could pass"):
        PrometheusGate(url="http://127.0.0.1:9090", query="x", min_value=2, max_value=1)


def test_prometheus_answers_are_read_as_one_number() -> None:
    vector = {"status": "success", "data": {"resultType": "vector", "result": []}}
    assert prometheus_value(vector) is None
    vector["data"]["result"] = [{"metric": {}, "value": [1.7e9, "0.25"]}]  # type: ignore[index]
    assert prometheus_value(vector) == 0.25
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1.7e9, "3"]}}
    assert prometheus_value(scalar) == 3.0
    vector["data"]["result"] = [{"value": [0, "1"]}, {"value": [0, "2"]}]  # type: ignore[index]
    with pytest.raises(ValueError, match="returned 2 samples; aggregate it"):
        prometheus_value(vector)
    with pytest.raises(ValueError, match="Prometheus answered bad_data"):
        prometheus_value({"status": "error", "error": "bad_data"})


def _app(name: str, status: str, deployments: Mapping[str, str], message: str = "") -> AppState:
    return AppState.from_details(
        name,
        {
            "status": status,
            "message": message,
            "deployments": {d: {"status": s} for d, s in deployments.items()},
        },
    )


def test_apps_must_be_running_and_healthy_on_the_new_cluster() -> None:
    states = {
        "fruit": _app("fruit", "RUNNING", {"Mango": "HEALTHY", "Market": "UPSCALING"}),
        "math": _app("math", "DEPLOYING", {"Adder": "UPDATING"}, message="waiting for replicas"),
    }
    ok = apps_healthy(states, ["fruit"])
    assert ok.passed
    bad = apps_healthy(states, ["fruit", "math", "missing"])
    assert not bad.passed
    assert bad.evidence == "math: DEPLOYING (waiting for replicas); missing: not deployed"
    states["fruit"] = _app("fruit", "RUNNING", {"Mango": "UNHEALTHY"})
    assert apps_healthy(states, ["fruit"]).evidence == "fruit/Mango: UNHEALTHY"


def test_an_app_with_no_replica_is_not_ready_though_serve_calls_it_healthy() -> None:
    # At target_capacity 0 Serve reports RUNNING and HEALTHY with no replica: requests then hang.
    details = {
        "status": "RUNNING",
        "deployments": {
            "Mango": {"status": "HEALTHY", "target_num_replicas": 0, "replicas": []},
            "Market": {
                "status": "HEALTHY",
                "target_num_replicas": 2,
                "replicas": [{"state": "RUNNING"}, {"state": "STARTING"}],
            },
        },
    }
    result = apps_healthy({"fruit": AppState.from_details("fruit", details)}, ["fruit"])
    assert not result.passed
    assert result.evidence == (
        "fruit/Mango: 0 of 0 replicas running; fruit/Market: 1 of 2 replicas running"
    )
    details["deployments"]["Mango"] = {
        "status": "HEALTHY",
        "target_num_replicas": 1,
        "replicas": [{"state": "RUNNING"}],
    }
    details["deployments"]["Market"]["replicas"][1]["state"] = "RUNNING"  # type: ignore[index]
    assert apps_healthy({"fruit": AppState.from_details("fruit", details)}, ["fruit"]).passed
