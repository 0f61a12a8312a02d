"""What a user writes for an incremental upgrade: KubeRay's ``clusterUpgradeOptions``, and gates.

The fields read like KubeRay's (``gatewayClassName``, ``stepSizePercent``, ``intervalSeconds``,
``maxSurgePercent``), in Python's spelling, with KubeRay's rules (``utils/validation.go``): whole
percents 0..100 (here 1..100: a step or surge of 0 never ends), ``stepSizePercent <=
maxSurgePercent``, an interval above 0. What KubeRay lacks is added: an existing Gateway instead
of a class (kuberay#5018), health gates, what a failed gate does, and keeping the new cluster for
inspection.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict, model_validator

from .._util.inputs import HOUR_S
from .._util.k8s_names import dns1123_label_problem, dns1123_subdomain_problem
from .gates import HttpProbe, PrometheusGate
from .plan import Step, steps

DEFAULT_READY_TIMEOUT_S = 600.0
Percent = Annotated[int, Strict(), Field(ge=1, le=100)]


class ExistingGateway(BaseModel):
    """A Gateway someone else manages, for the route to attach to (nothing else is written to it).

    Args:
        name: the Gateway's name.
        namespace: its namespace; default: the RayService's. A Gateway in another namespace must
            allow routes from the RayService's (its listeners' ``allowedRoutes``).
        listener: the listener (``sectionName``) to attach to; default: all of them.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    namespace: str | None = None
    listener: str | None = None

    @model_validator(mode="after")
    def _kubernetes_names(self) -> ExistingGateway:
        for field, value, rule in (
            ("name", self.name, dns1123_subdomain_problem),
            ("namespace", self.namespace, dns1123_label_problem),
            ("listener", self.listener, dns1123_subdomain_problem),
        ):
            problem = None if value is None else rule(value)
            if problem:
                raise ValueError(f"{field}: {problem}")
        return self


class HealthGates(BaseModel):
    """What must hold on the new cluster before every step (every app RUNNING is always checked).

    Args:
        probes: HTTP requests sent to the new cluster's serve Service (``HttpProbe``).
        prometheus: a PromQL query and its bounds (``PrometheusGate``).
        ready_timeout_s: how long the new cluster's apps may take to be RUNNING, with their
            replicas up, at each capacity before the gate fails.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    probes: tuple[HttpProbe, ...] = ()
    prometheus: PrometheusGate | None = None
    ready_timeout_s: Annotated[float, AllowInfNan(False)] = Field(
        default=DEFAULT_READY_TIMEOUT_S, gt=0, le=24 * HOUR_S
    )


class ClusterUpgradeOptions(BaseModel):
    """KubeRay's ``clusterUpgradeOptions`` for ``NewClusterWithIncrementalUpgrade``, gated.

    Args:
        gateway_class_name: create Gateway ``<name>-gateway`` of this class (KubeRay's
            ``gatewayClassName``); give this or ``gateway``.
        gateway: attach to an existing Gateway instead (``ExistingGateway``).
        step_size_percent: traffic moved to the new cluster per step (``stepSizePercent``).
        interval_seconds: seconds between steps (``intervalSeconds``).
        max_surge_percent: how far the new cluster's Serve ``target_capacity`` runs ahead, and
            the old one's is lowered, per change (``maxSurgePercent``, default 100: the new
            cluster comes up whole, and traffic alone moves in steps).
        health_gates: what is checked before every step (``HealthGates``).
        on_failure: ``"Rollback"`` (default): all traffic and capacity back on the old cluster at
            once, and ``pulumi up`` fails with the gate's evidence; ``"Pause"``: traffic stays
            where it is and ``pulumi up`` fails; the next ``up`` resumes from there.
        keep_pending_cluster: after a rollback, keep the new cluster for inspection instead of
            deleting it.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway_class_name: str | None = None
    gateway: ExistingGateway | None = None
    step_size_percent: Percent
    interval_seconds: Annotated[float, AllowInfNan(False)] = Field(gt=0, le=HOUR_S)
    max_surge_percent: Percent = 100
    health_gates: HealthGates = HealthGates()
    on_failure: Literal["Rollback", "Pause"] = "Rollback"
    keep_pending_cluster: bool = False

    @model_validator(mode="after")
    def _kuberays_rules(self) -> ClusterUpgradeOptions:
        if (self.gateway_class_name is None) == (self.gateway is None):
            raise ValueError(
                "give gateway_class_name= (a Gateway is created) or gateway= (an existing one)"
            )
        if self.gateway_class_name is not None:
            problem = dns1123_subdomain_problem(self.gateway_class_name)
            if problem:
                raise ValueError(f"gateway_class_name: {problem}")
        if self.step_size_percent > self.max_surge_percent:
            raise ValueError(
                f"step_size_percent ({self.step_size_percent}) must not exceed max_surge_percent "
                f"({self.max_surge_percent}): traffic would outrun the new cluster's capacity"
            )
        return self

    def plan(self) -> list[Step]:
        """Every traffic move of a fresh upgrade, in order (for the preview and the rollout)."""
        return list(steps(self.step_size_percent, self.max_surge_percent, self.interval_seconds))

    def describe_plan(self) -> list[str]:
        """The plan in words, for the preview: steps and weights, capacity at the surge, gates."""
        plan = self.plan()
        shares = " -> ".join(str(step.target.pending_traffic) for step in plan)
        peak = max(s.capacity.active_capacity + s.capacity.pending_capacity for s in plan)
        wall = self.interval_seconds * (len(plan) - 1)
        gates = ["every app RUNNING with its replicas up on the new cluster"]
        gates += [probe.describe() for probe in self.health_gates.probes]
        if self.health_gates.prometheus is not None:
            gates.append(self.health_gates.prometheus.describe())
        failure = (
            "roll back at once (all traffic and capacity to the old cluster)"
            if self.on_failure == "Rollback"
            else "pause (traffic stays split; the next up resumes)"
        )
        return [
            f"{len(plan)} step(s), one every {self.interval_seconds:g}s (at least {wall:g}s): "
            f"new cluster's traffic % {shares}",
            f"Serve capacity of both clusters together at most {peak}% of one "
            f"(max_surge_percent {self.max_surge_percent})",
            "gates before every step: " + "; ".join(gates),
            f"on a failed gate: {failure}",
        ]
