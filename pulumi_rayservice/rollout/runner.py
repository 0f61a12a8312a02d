"""One incremental upgrade, run to the end or rolled back: the loop ``pulumi up`` waits on.

The loop follows :mod:`.plan` (KubeRay's ``reconcileServeTargetCapacity`` and
``calculateTrafficRoutedPercent``) and adds what KubeRay lacks (kuberay#4786, #5088): before
every traffic move the health gates run, and a failed gate rolls back at once (traffic 100% to
the old cluster, its capacity restored) or pauses, and the error says which step, which gate and
what it saw. Every step is logged: the weights, the capacities, the gate results.

It talks to the world through three small protocols, so the same loop runs against the API
server and Serve in the provider and in memory in the unit tests:

- ``RouteControl``: the HTTPRoute's weights (read live, so an interrupted rollout resumes from
  where it stopped);
- ``CapacityControl``: each cluster's Serve ``target_capacity``;
- ``HealthCheck``: the gates on the new cluster (waiting first, up to the gates' ready timeout,
  for its apps to be RUNNING with their replicas at the capacity just set).

A route that already splits traffic with a third cluster (a spec changed again mid-upgrade) is
first rolled back to the old cluster, then upgraded, as KubeRay does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import RolloutPausedError, RolloutRolledBackError
from .gates import GateResult
from .options import ClusterUpgradeOptions
from .plan import FULL, Split, Step, finish, steps


@dataclass(frozen=True)
class ClusterBackend:
    """A cluster as the route sees it: its name, its serve Service and the Service's port."""

    cluster: str
    service: str
    port: int


class RouteControl(Protocol):
    """The HTTPRoute: live weights by Service name, and setting them (done when in force)."""

    def weights(self) -> dict[str, int]:
        """The live weights, Service name -> weight."""
        ...

    def set_weights(self, weights: Sequence[tuple[ClusterBackend, int]]) -> None:
        """Make the route send each backend its weight; return once the route is in force."""
        ...


class CapacityControl(Protocol):
    """Serve's ``target_capacity`` on each cluster (None: never set, which Serve reads as 100)."""

    def capacity(self, cluster: str) -> int | None:
        """The cluster's current ``target_capacity``."""
        ...

    def set_capacity(self, cluster: str, percent: int) -> None:
        """Set it (other apps and settings untouched)."""
        ...


class HealthCheck(Protocol):
    """The gates on the new cluster, run before a traffic move."""

    def check(self, cluster: str, step: int) -> list[GateResult]:
        """Every gate's verdict (waiting first for the apps to be ready at their capacity)."""
        ...


@dataclass
class RolloutReport:
    """What a finished rollout did: each step's line, for the log and the benchmarks."""

    lines: list[str] = field(default_factory=list)
    moves: list[Split] = field(default_factory=list)


@dataclass
class Rollout:
    """Move traffic from ``old`` to ``new`` as ``options`` say.

    ``clock`` and ``sleep`` are ``time.monotonic`` and ``time.sleep`` unless a test gives its own;
    ``log`` receives every step's line (the provider sends them to the engine).
    """

    old: ClusterBackend
    new: ClusterBackend
    options: ClusterUpgradeOptions
    route: RouteControl
    capacity: CapacityControl
    health: HealthCheck
    log: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    report: RolloutReport = field(default_factory=RolloutReport)

    def run(self) -> RolloutReport:
        """Run every step; return when all traffic is on ``new`` and ``old`` has capacity 0.

        Raises:
            RolloutRolledBackError: a gate failed; traffic and capacity are back on ``old``.
            RolloutPausedError: a gate failed with ``on_failure="Pause"``; traffic left split.

        """
        start = self._resume_point()
        last_move = self.clock()
        plan = list(
            steps(
                self.options.step_size_percent,
                self.options.max_surge_percent,
                self.options.interval_seconds,
                start=start,
            )
        )
        self._say(
            f"incremental upgrade {self.old.cluster} -> {self.new.cluster}: {len(plan)} step(s) "
            f"from {start.describe()}"
        )
        for index, step in enumerate(plan):
            self._apply_capacity(step.capacity)
            if index > 0:
                self._wait_until(last_move + step.wait_s)
            results = self.health.check(self.new.cluster, step.number)
            failed = [r for r in results if not r.passed]
            if failed:
                self._fail(step, failed, results)
            self.route.set_weights(self._weights(step.target))
            last_move = self.clock()
            self.report.moves.append(step.target)
            self._say(
                f"step {step.number}/{plan[-1].number}: {step.target.describe()}; gates: "
                + "; ".join(r.line() for r in results)
            )
        done = finish(plan[-1].target if plan else start, self.options.max_surge_percent)
        self._apply_capacity(done)
        self.route.set_weights([(self.new, FULL)])
        self._say(f"incremental upgrade done: all traffic on {self.new.cluster}")
        return self.report

    def _resume_point(self) -> Split:
        """Where the live route and capacities stand (a fresh start, or an interrupted rollout)."""
        live = self.route.weights()
        strangers = {s: w for s, w in live.items() if s not in (self.old.service, self.new.service)}
        if any(w > 0 for w in strangers.values()):
            # A spec changed again mid-upgrade: first all traffic back to the old cluster.
            self._say(
                "the route also sends traffic to "
                + ", ".join(sorted(strangers))
                + f"; moving it back to {self.old.cluster} first"
            )
            self.capacity.set_capacity(self.old.cluster, FULL)
            self.route.set_weights([(self.old, FULL)])
            live = {self.old.service: FULL}
        total = sum(live.get(s, 0) for s in (self.old.service, self.new.service))
        pending = round(FULL * live.get(self.new.service, 0) / total) if total else 0
        if pending == 0:
            # A new cluster whose apps came up whole (never given a target_capacity) already has
            # all its capacity: traffic alone moves. One started at 0 follows the surge.
            whole = self.capacity.capacity(self.new.cluster) is None
            return Split(pending_capacity=FULL) if whole else Split()
        # Resumed: the old cluster keeps capacity for its share, the new one for its own; a
        # capacity lost or a route edited by hand is put right by the next capacity step.
        old_capacity = self.capacity.capacity(self.old.cluster)
        new_capacity = self.capacity.capacity(self.new.cluster)
        active = FULL if old_capacity is None else max(old_capacity, FULL - pending)
        # Never set: the apps came up whole, which Serve counts as 100.
        pending_capacity = FULL if new_capacity is None else max(new_capacity, pending)
        return Split(active, pending_capacity, pending)

    def _apply_capacity(self, split: Split) -> None:
        """Set each cluster's capacity where it differs; lowering first, so room is freed first."""
        changes = []
        for cluster, wanted in (
            (self.old.cluster, split.active_capacity),
            (self.new.cluster, split.pending_capacity),
        ):
            current = self.capacity.capacity(cluster)
            current = FULL if current is None else current  # unset is 100 to Serve
            if current != wanted:
                changes.append((wanted - current, cluster, wanted))
        for _, cluster, wanted in sorted(changes):
            self.capacity.set_capacity(cluster, wanted)

    def _weights(self, split: Split) -> list[tuple[ClusterBackend, int]]:
        return [(self.old, split.active_traffic), (self.new, split.pending_traffic)]

    def _wait_until(self, moment: float) -> None:
        remaining = moment - self.clock()
        if remaining > 0:
            self.sleep(remaining)

    def _fail(self, step: Step, failed: list[GateResult], results: list[GateResult]) -> None:
        evidence = "; ".join(r.line() for r in failed)
        where = f"step {step.number} ({step.capacity.describe()})"
        if self.options.on_failure == "Pause":
            self._say(f"{where}: gate failed, paused: {evidence}")
            raise RolloutPausedError(
                f"incremental upgrade {self.old.cluster} -> {self.new.cluster} paused before "
                f"{where}: {evidence}. Traffic stays at {step.capacity.active_traffic}% old / "
                f"{step.capacity.pending_traffic}% new; the next `pulumi up` resumes from there"
            )
        self._say(f"{where}: gate failed, rolling back: {evidence}")
        # Capacity first (one quick write; Serve starts the replicas), then all traffic at once;
        # the traffic goes back even when restoring the capacity failed.
        try:
            self.capacity.set_capacity(self.old.cluster, FULL)
        finally:
            self.route.set_weights([(self.old, FULL), (self.new, 0)])
        self._say(f"{where}: rolled back: all traffic on {self.old.cluster}")
        raise RolloutRolledBackError(
            f"incremental upgrade {self.old.cluster} -> {self.new.cluster} rolled back at "
            f"{where}: {evidence}. All traffic is on {self.old.cluster} again, its "
            "target_capacity 100"
        )

    def _say(self, line: str) -> None:
        self.report.lines.append(line)
        self.log(line)
