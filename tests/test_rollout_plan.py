"""KubeRay's incremental-upgrade rules as the rollout applies them (pure; no cluster)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_rayservice.rollout.plan import Split, finish, rollback, settle_capacity, steps

percent = st.integers(min_value=1, max_value=100)


def test_kuberays_worked_example_surge_20_step_5() -> None:
    # KubeRay's guide: pending capacity 0 -> 20 (total 120%), traffic 5% per interval up to 20%,
    # then the active capacity 100 -> 80 and the pending one 20 -> 40, and so on.
    plan = list(steps(5, 20, 30.0))
    assert [s.target.pending_traffic for s in plan] == list(range(5, 105, 5))
    assert (plan[0].capacity.active_capacity, plan[0].capacity.pending_capacity) == (100, 20)
    assert (plan[4].capacity.active_capacity, plan[4].capacity.pending_capacity) == (80, 40)
    assert [s.wait_s for s in plan[:3]] == [0.0, 30.0, 30.0]
    assert finish(plan[-1].target, 20) == Split(0, 100, 100)


def test_full_surge_moves_traffic_by_the_step_alone() -> None:
    plan = list(steps(25, 100, 10.0))
    assert [s.target.pending_traffic for s in plan] == [25, 50, 75, 100]
    assert all(s.capacity.pending_capacity == 100 for s in plan)
    assert all(s.capacity.active_capacity == 100 for s in plan)


@given(step=percent, surge=percent, interval=st.floats(min_value=0, max_value=600))
def test_every_plan_ends_complete_and_never_outruns_capacity(
    step: int, surge: int, interval: float
) -> None:
    plan = list(steps(step, surge, interval))
    assert plan, "at least one move"
    previous = Split()
    for number, move in enumerate(plan, start=1):
        assert move.number == number
        assert move.wait_s == (0.0 if number == 1 else interval)
        # Traffic only rises, by at most the step, never past the replicas serving it.
        assert previous.pending_traffic < move.target.pending_traffic
        assert move.target.pending_traffic - previous.pending_traffic <= step
        assert move.target.pending_traffic <= move.capacity.pending_capacity
        # The active cluster keeps enough capacity for the traffic it still has.
        assert move.capacity.active_capacity >= move.target.active_traffic
        # The two clusters never hold more than 100% plus the surge.
        assert move.capacity.active_capacity + move.capacity.pending_capacity <= 100 + surge
        previous = move.target
    assert plan[-1].target.pending_traffic == 100
    assert finish(plan[-1].target, surge).complete


@given(step=percent, surge=percent, data=st.data())
def test_a_rollout_resumed_midway_follows_the_same_moves(
    step: int, surge: int, data: st.DataObject
) -> None:
    plan = list(steps(step, surge, 1.0))
    cut = data.draw(st.integers(min_value=0, max_value=len(plan) - 1))
    resumed = list(steps(step, surge, 1.0, start=plan[cut].capacity))
    assert [m.target for m in resumed] == [m.target for m in plan[cut:]]


def test_capacity_waits_for_traffic_to_catch_up() -> None:
    # reconcileServeTargetCapacity defers while traffic is below the pending capacity.
    split = Split(active_capacity=100, pending_capacity=20, pending_traffic=10)
    assert settle_capacity(split, 20) == split


def test_rollback_returns_all_traffic_and_capacity_to_the_old_cluster() -> None:
    assert rollback(Split(60, 60, 45)) == Split(100, 60, 0)


@pytest.mark.parametrize("bad", [0, 101, -5, True, 2.5])
def test_step_and_surge_are_whole_percents(bad: object) -> None:
    with pytest.raises(ValueError, match=r"step_size_percent must be an integer 1\.\.100"):
        list(steps(bad, 20, 1.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"max_surge_percent must be an integer 1\.\.100"):
        list(steps(5, bad, 1.0))  # type: ignore[arg-type]


def test_a_split_outside_0_100_is_refused() -> None:
    with pytest.raises(ValueError, match=r"pending_traffic must be 0\.\.100"):
        Split(pending_traffic=120)


@given(step=percent, surge=percent, data=st.data())
def test_from_any_resumed_state_no_cluster_is_left_short_of_its_traffic(
    step: int, surge: int, data: st.DataObject
) -> None:
    # A resumed rollout starts where the live route and capacities stand: anything in which
    # each cluster has at least the capacity for its traffic.
    traffic = data.draw(st.integers(min_value=0, max_value=99))
    active = data.draw(st.integers(min_value=100 - traffic, max_value=100))
    pending = data.draw(st.integers(min_value=traffic, max_value=100))
    for move in steps(step, surge, 1.0, start=Split(active, pending, traffic)):
        before, after = move.capacity, move.target
        assert before.active_capacity >= before.active_traffic, move
        assert before.pending_capacity >= before.pending_traffic, move
        assert before.active_capacity >= after.active_traffic, move
        assert before.pending_capacity >= after.pending_traffic, move
