"""Health gates: what must hold on the new cluster before each step of an incremental upgrade.

KubeRay moves traffic while the pending cluster is "ready" (every app RUNNING) and never rolls
back by itself (kuberay#4786). Here every step is gated, and a failed gate rolls back: the gates
say what they saw so that ``pulumi up`` can fail with the evidence.

Three kinds, checked in this order (cheapest first):

- every app of the service RUNNING and every deployment HEALTHY on the new cluster (always on);
- ``HttpProbe``: requests the user defines, sent to the new cluster's serve Service, each
  succeeding when the status (and, if given, a text in the body) is as expected, the probe
  passing when the share of successes over its requests reaches ``success_share``;
- ``PrometheusGate``: a PromQL query whose value must stay within a bound.

The evaluators take the transport as a function (``Send``, ``Query``), so the rollout sends
probes through the Kubernetes API server's service proxy and tests can send them anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from .._util.text import clip
from ..serve.status import ApplicationStatus, AppState, DeploymentState, DeploymentStatus

MAX_PROBE_REQUESTS = 1000
MAX_EVIDENCE = 300


@dataclass(frozen=True)
class Answer:
    """What one probe request got: the HTTP status and the body (0 and the reason when none)."""

    status: int
    body: str


Send = Callable[[str, str, Mapping[str, str], bytes | None, float], Answer]
"""``send(method, path, headers, body, timeout_s)``: one request to the new cluster's serve
Service."""
Query = Callable[[str], float | None]
"""``query(promql)``: the query's value (one sample), or None when it returned no sample."""


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict and what it saw (short enough for an error message)."""

    gate: str
    passed: bool
    evidence: str

    def line(self) -> str:
        """``apps healthy: passed (2 apps RUNNING)`` for the step's log line."""
        return f"{self.gate}: {'passed' if self.passed else 'FAILED'} ({self.evidence})"


class HttpProbe(BaseModel):
    """Requests sent to the new cluster's serve Service before each step; all or a share must pass.

    Args:
        path: the request path, starting with ``/`` (an app's route prefix, a health route).
        method: ``GET``, ``HEAD`` or ``POST``.
        headers: extra request headers (no secrets: inputs are stored in the stack's state).
        body: a request body for ``POST``.
        expected_status: the status a success answers with.
        expected_body: a text a success's body must contain (None: any body).
        requests: how many requests one check sends (N), 1..1000.
        success_share: the share of the N that must succeed, 0 < share <= 1 (1: all).
        timeout_s: the most one request may take; a timeout is a failure.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default="/", description="request path, starting with /")
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expected_status: Annotated[int, Strict()] = Field(default=200, ge=100, le=599)
    expected_body: str | None = None
    requests: Annotated[int, Strict()] = Field(default=10, ge=1, le=MAX_PROBE_REQUESTS)
    success_share: Annotated[float, AllowInfNan(False)] = Field(default=1.0, gt=0, le=1)
    timeout_s: Annotated[float, AllowInfNan(False)] = Field(default=5.0, gt=0, le=300)

    @field_validator("path")
    @classmethod
    def _a_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError("must start with / and hold no whitespace or control characters")
        return value

    def describe(self) -> str:
        """``GET /fruit -> 200 containing '4', 10 requests, 100% must pass``."""
        expect = str(self.expected_status)
        if self.expected_body is not None:
            expect += f" containing {clip(repr(self.expected_body), 60)}"
        share = f"{self.success_share:.0%}"
        return f"{self.method} {self.path} -> {expect}, {self.requests} requests, {share} must pass"

    def check(self, send: Send) -> GateResult:
        """Send the N requests; pass when the share of expected answers reaches the bound."""
        successes = 0
        first_failure: str | None = None
        for _ in range(self.requests):
            body = self.body.encode() if self.body is not None else None
            answer = send(self.method, self.path, dict(self.headers), body, self.timeout_s)
            problem = self._problem(answer)
            if problem is None:
                successes += 1
            elif first_failure is None:
                first_failure = problem
        needed = math.ceil(self.success_share * self.requests - 1e-9)
        passed = successes >= needed
        evidence = f"{successes}/{self.requests} as expected, {needed} needed"
        if first_failure is not None:
            evidence += f"; first failure: {first_failure}"
        return GateResult(f"probe {self.method} {self.path}", passed, clip(evidence, MAX_EVIDENCE))

    def _problem(self, answer: Answer) -> str | None:
        if answer.status == 0:
            return f"no answer ({clip(answer.body, 120)})"
        if answer.status != self.expected_status:
            return f"HTTP {answer.status} {clip(answer.body, 120)}".rstrip()
        if self.expected_body is not None and self.expected_body not in answer.body:
            return f"HTTP {answer.status} without {clip(repr(self.expected_body), 60)}: " + clip(
                repr(answer.body), 120
            )
        return None


class PrometheusGate(BaseModel):
    """A PromQL query checked before each step; its value must stay within the bounds.

    Args:
        url: the Prometheus server's base URL (its ``/api/v1/query`` is asked).
        query: a PromQL expression with one sample as its value (an error rate, a p99 latency).
        max_value: the gate fails above it.
        min_value: the gate fails below it.
        no_data: what a query with no sample counts as: ``"fail"`` (default) or ``"pass"``.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    query: str = Field(min_length=1)
    max_value: Annotated[float, AllowInfNan(False)] | None = None
    min_value: Annotated[float, AllowInfNan(False)] | None = None
    no_data: Literal["fail", "pass"] = "fail"

    @field_validator("url")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError("must be an http:// or https:// URL of a Prometheus server")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _bounded(self) -> PrometheusGate:
        """A gate with no bound would always pass: refuse it."""
        if self.max_value is None and self.min_value is None:
            raise ValueError("give max_value=, min_value= or both")
        if (
            self.max_value is not None
            and self.min_value is not None
            and self.min_value > self.max_value
        ):
            raise ValueError("min_value is above max_value: no value could pass")
        return self

    def describe(self) -> str:
        """``prometheus 'rate(...)' <= 0.01``."""
        bounds = []
        if self.min_value is not None:
            bounds.append(f">= {self.min_value:g}")
        if self.max_value is not None:
            bounds.append(f"<= {self.max_value:g}")
        return f"prometheus {clip(repr(self.query), 80)} {' and '.join(bounds)}"

    def check(self, query: Query) -> GateResult:
        """Ask the query once; pass when its value is within the bounds."""
        name = f"prometheus {clip(repr(self.query), 80)}"
        try:
            value = query(self.query)
        except Exception as error:  # an unreachable Prometheus is a failed gate, said so
            return GateResult(name, False, f"query failed: {clip(error, 200)}")
        if value is None:
            return GateResult(name, self.no_data == "pass", "no sample")
        if math.isnan(value):
            return GateResult(name, False, "value NaN")
        too_high = self.max_value is not None and value > self.max_value
        too_low = self.min_value is not None and value < self.min_value
        evidence = f"value {value:g}"
        if too_high:
            evidence += f", past the max {self.max_value:g}"
        elif too_low:
            evidence += f", below the min {self.min_value:g}"
        return GateResult(name, not (too_high or too_low), evidence)


def apps_healthy(states: Mapping[str, AppState], expected: Sequence[str]) -> GateResult:
    """Every expected app RUNNING, each deployment HEALTHY with its target replicas running.

    KubeRay's ``getAndCheckServeStatus`` asks for RUNNING only. That is not enough here: at
    ``target_capacity`` 0 Serve reports an app RUNNING and its deployments HEALTHY with no
    replica (requests then wait forever), and after a capacity raise the app reads DEPLOYING
    until the new replicas run. A deployment UPSCALING under its autoscaler in a RUNNING app
    serves; one UNHEALTHY or UPDATING does not.
    """
    problems: list[str] = []
    for name in expected:
        state = states.get(name)
        if state is None:
            problems.append(f"{name}: not deployed")
            continue
        if state.status != ApplicationStatus.RUNNING:
            message = f" ({clip(state.message, 120)})" if state.message else ""
            problems.append(f"{name}: {state.status}{message}")
            continue
        for deployment, dep in sorted(state.deployments.items()):
            if dep.status not in (DeploymentStatus.HEALTHY, DeploymentStatus.UPSCALING):
                problems.append(f"{name}/{deployment}: {dep.status}")
            elif _short_of_replicas(dep):
                problems.append(
                    f"{name}/{deployment}: {dep.running_replicas} of "
                    f"{dep.target_replicas} replicas running"
                )
    if problems:
        return GateResult("apps healthy", False, clip("; ".join(problems), MAX_EVIDENCE))
    return GateResult("apps healthy", True, f"{len(expected)} app(s) RUNNING, deployments HEALTHY")


def _short_of_replicas(dep: DeploymentState) -> bool:
    """Fewer replicas running than Serve targets, or none targeted (``target_capacity`` 0)."""
    if dep.target_replicas is None or dep.running_replicas is None:
        return False  # an older Serve that does not list replicas: its status decides
    return dep.running_replicas < dep.target_replicas or dep.target_replicas == 0


def prometheus_value(answer: Mapping[str, Any]) -> float | None:
    """The single value of a Prometheus ``/api/v1/query`` answer (vector or scalar), or None.

    Raises:
        ValueError: the answer is an error, or holds more than one sample (the query must be
            aggregated to one number to be a gate).

    """
    if answer.get("status") != "success":
        raise ValueError(f"Prometheus answered {clip(answer.get('error') or answer, 200)}")
    data = answer.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return float(result[1])
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            raise ValueError(
                f"the query returned {len(result)} samples; aggregate it to one (sum, max, ...)"
            )
        return float(result[0]["value"][1])
    raise ValueError(f"the query returned a {kind}; a gate needs a scalar or a one-sample vector")
