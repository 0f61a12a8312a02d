"""The rollout loop against an HTTPRoute, Serve capacities and gates held in memory.

What is checked: the moves follow KubeRay's rules, every move waits for its interval and its
gates, a failed gate rolls back (or pauses) at once with the evidence, an interrupted rollout
resumes from the live weights, a third cluster's traffic goes back to the old one first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_rayservice.errors import RolloutPausedError, RolloutRolledBackError
from pulumi_rayservice.rollout.gates import GateResult
from pulumi_rayservice.rollout.options import ClusterUpgradeOptions
from pulumi_rayservice.rollout.runner import ClusterBackend, Rollout

OLD = ClusterBackend("fruit-aaaaa", "fruit-aaaaa-serve-svc", 8000)
NEW = ClusterBackend("fruit-bbbbb", "fruit-bbbbb-serve-svc", 8000)


@dataclass
class World:
    """The route, the capacities and the time, as the rollout sees and changes them."""

    weights: dict[str, int] = field(default_factory=lambda: {OLD.service: 100})
    capacities: dict[str, int | None] = field(
        default_factory=lambda: {OLD.cluster: None, NEW.cluster: 0}
    )
    now: float = 0.0
    events: list[str] = field(default_factory=list)
    failing_from_step: int | None = None
    gate_checks: list[int] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    # RouteControl
    def set_weights(self, weights: Sequence[tuple[ClusterBackend, int]]) -> None:
        self.weights = {backend.service: weight for backend, weight in weights}
        self.events.append(f"t={self.now:g} route {self.share()}")
        # Zero downtime: each cluster has the capacity for the traffic it is sent.
        for cluster, share in ((NEW.cluster, self.share()), (OLD.cluster, 100 - self.share())):
            capacity = self.capacities.get(cluster)
            if share > (100 if capacity is None else capacity):
                self.violations.append(f"t={self.now:g} {cluster} {share}% > {capacity}")

    def share(self) -> int:
        total = sum(self.weights.values())
        return round(100 * self.weights.get(NEW.service, 0) / total) if total else 0

    # CapacityControl
    def capacity(self, cluster: str) -> int | None:
        return self.capacities.get(cluster)

    def set_capacity(self, cluster: str, percent: int) -> None:
        self.capacities[cluster] = percent
        self.events.append(f"t={self.now:g} capacity {cluster[-5:]}={percent}")

    # HealthCheck
    def check(self, cluster: str, step: int) -> list[GateResult]:
        assert cluster == NEW.cluster
        self.gate_checks.append(step)
        bad = self.failing_from_step is not None and step >= self.failing_from_step
        return [
            GateResult("apps healthy", True, "1 app(s) RUNNING"),
            GateResult("probe GET /fruit", not bad, "0/10 as expected" if bad else "10/10"),
        ]

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def rollout(world: World, **options: object) -> Rollout:
    settings: dict[str, object] = {
        "gateway_class_name": "fake-gateway",
        "step_size_percent": 25,
        "interval_seconds": 10,
        **options,
    }
    route = _Route(world)
    return Rollout(
        OLD,
        NEW,
        ClusterUpgradeOptions(**settings),  # type: ignore[arg-type]
        route=route,
        capacity=world,
        health=world,
        log=lambda line: None,
        clock=lambda: world.now,
        sleep=world.sleep,
    )


@dataclass
class _Route:
    world: World

    def weights(self) -> dict[str, int]:
        return dict(self.world.weights)

    def set_weights(self, weights: Sequence[tuple[ClusterBackend, int]]) -> None:
        self.world.set_weights(weights)


def test_a_healthy_rollout_moves_traffic_by_steps_each_gated_and_spaced() -> None:
    world = World()
    report = rollout(world).run()
    assert [m.pending_traffic for m in report.moves] == [25, 50, 75, 100]
    assert world.gate_checks == [1, 2, 3, 4]
    assert world.now == 30  # three intervals between four moves
    assert world.weights == {NEW.service: 100}
    assert world.capacities == {OLD.cluster: 0, NEW.cluster: 100}
    assert report.lines[0].startswith("incremental upgrade fruit-aaaaa -> fruit-bbbbb: 4 step(s)")
    assert "step 2/4: traffic 50/50 (old/new)" in report.lines[2]
    assert "probe GET /fruit: passed (10/10)" in report.lines[2]


def test_a_small_surge_raises_capacity_before_traffic_and_lowers_the_old_after() -> None:
    world = World()
    rollout(world, step_size_percent=10, max_surge_percent=20).run()
    capacity_events = [e for e in world.events if "capacity" in e]
    assert capacity_events[:2] == ["t=0 capacity bbbbb=20", "t=10 capacity aaaaa=80"]
    # The new cluster never took more traffic than its capacity; the old kept enough for its own.
    assert world.capacities == {OLD.cluster: 0, NEW.cluster: 100}


def test_a_failed_gate_rolls_back_at_once_and_says_what_it_saw() -> None:
    world = World(failing_from_step=3)
    with pytest.raises(RolloutRolledBackError) as caught:
        rollout(world).run()
    message = str(caught.value)
    assert "rolled back at step 3" in message
    assert "probe GET /fruit: FAILED (0/10 as expected)" in message
    assert "All traffic is on fruit-aaaaa again" in message
    assert world.share() == 0
    assert world.capacities[OLD.cluster] == 100
    assert world.gate_checks == [1, 2, 3]
    assert world.now == 20  # no wait after the failure


def test_a_failed_gate_with_pause_leaves_traffic_where_it_was() -> None:
    world = World(failing_from_step=2)
    with pytest.raises(RolloutPausedError, match="Traffic stays at 75% old / 25% new"):
        rollout(world, on_failure="Pause").run()
    assert world.share() == 25


def test_a_paused_or_interrupted_rollout_resumes_from_the_live_weights() -> None:
    world = World(failing_from_step=3)
    with pytest.raises(RolloutPausedError):
        rollout(world, on_failure="Pause").run()
    assert world.share() == 50
    world.failing_from_step, world.gate_checks = None, []
    report = rollout(world).run()
    assert [m.pending_traffic for m in report.moves] == [75, 100]
    assert world.gate_checks == [1, 2]


def test_traffic_on_a_third_cluster_goes_back_to_the_old_one_first() -> None:
    world = World(weights={OLD.service: 60, "fruit-zzzzz-serve-svc": 40})
    report = rollout(world).run()
    assert "moving it back to fruit-aaaaa first" in report.lines[0]
    assert world.events[0] == "t=0 capacity aaaaa=100"
    assert world.events[1] == "t=0 route 0"
    assert [m.pending_traffic for m in report.moves] == [25, 50, 75, 100]


def test_a_rollout_interrupted_after_its_last_move_only_finishes() -> None:
    world = World(weights={NEW.service: 100}, capacities={OLD.cluster: 100, NEW.cluster: 100})
    report = rollout(world).run()
    assert report.moves == []
    assert world.gate_checks == []
    assert world.capacities == {OLD.cluster: 0, NEW.cluster: 100}


@given(
    step=st.integers(1, 100),
    extra_surge=st.integers(0, 100),
    failing=st.one_of(st.none(), st.integers(1, 30)),
    pause=st.booleans(),
)
def test_no_cluster_is_ever_sent_more_traffic_than_its_capacity(
    step: int, extra_surge: int, failing: int | None, pause: bool
) -> None:
    world = World(failing_from_step=failing)
    options = {
        "step_size_percent": step,
        "max_surge_percent": min(100, step + extra_surge),
        "on_failure": "Pause" if pause else "Rollback",
    }
    try:
        rollout(world, **options).run()
    except RolloutRolledBackError:
        assert world.share() == 0
        assert world.capacities[OLD.cluster] == 100
    except RolloutPausedError:
        assert world.share() < 100
    else:
        assert world.weights == {NEW.service: 100}
        assert world.capacities == {OLD.cluster: 0, NEW.cluster: 100}
    assert world.violations == []


def test_a_new_cluster_that_came_up_whole_only_moves_traffic() -> None:
    world = World(capacities={OLD.cluster: None, NEW.cluster: None})
    report = rollout(world, step_size_percent=25, max_surge_percent=25).run()
    assert [m.pending_traffic for m in report.moves] == [25, 50, 75, 100]
    assert [e for e in world.events if "capacity" in e] == ["t=30 capacity aaaaa=0"]


def test_a_resumed_rollout_on_a_whole_new_cluster_keeps_the_old_one_serving_its_share() -> None:
    # Interrupted at 25% with neither capacity ever set (the apps came up whole): the old
    # cluster keeps capacity for its 75% until traffic has moved.
    world = World(
        weights={OLD.service: 75, NEW.service: 25},
        capacities={OLD.cluster: None, NEW.cluster: None},
    )
    report = rollout(world, step_size_percent=25, max_surge_percent=100).run()
    assert [m.pending_traffic for m in report.moves] == [50, 75, 100]
    assert world.violations == []
    assert [e for e in world.events if "capacity" in e] == ["t=20 capacity aaaaa=0"]


def test_traffic_goes_back_even_when_restoring_the_old_capacity_fails() -> None:
    world = World(failing_from_step=2)
    split_rollout = rollout(world)

    class Refusing:
        def capacity(self, cluster: str) -> int | None:
            return world.capacity(cluster)

        def set_capacity(self, cluster: str, percent: int) -> None:
            if cluster == OLD.cluster and percent == 100:
                raise ConnectionError("Serve did not answer")
            world.set_capacity(cluster, percent)

    split_rollout.capacity = Refusing()
    with pytest.raises(ConnectionError):
        split_rollout.run()
    assert world.share() == 0  # the route was rolled back all the same
