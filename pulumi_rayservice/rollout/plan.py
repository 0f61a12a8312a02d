"""How traffic and capacity move from the active cluster to the pending one, as KubeRay moves them.

KubeRay's ``NewClusterWithIncrementalUpgrade`` (``ray-operator/controllers/ray/``
``rayservice_controller.go``) keeps three numbers per upgrade: each cluster's Serve
``target_capacity`` (percent of every deployment's target replicas) and the pending cluster's
share of the HTTPRoute's traffic. Two rules move them, and this module is those rules as pure
functions, so the rollout loop, the preview's plan and the tests all read the same sequence:

- ``reconcileServeTargetCapacity``: capacity changes only while traffic has caught up with the
  pending cluster's capacity (``pendingTargetCapacity == pendingTrafficRoutedPercent``). Then, if
  the two capacities sum to more than 100, the active cluster's is lowered by ``maxSurgePercent``;
  if they sum to 100 or less, the pending cluster's is raised by ``maxSurgePercent`` (capped at
  100). The pending cluster starts at 0, the active one at 100.
- ``calculateTrafficRoutedPercent``: every ``intervalSeconds`` (the first move at once), while
  the pending cluster is ready, its traffic share rises by ``stepSizePercent``, capped at its
  capacity and at 100; the active cluster gets the rest.

The upgrade is complete (``IsIncrementalUpgradeComplete``) when the active capacity is 0 and the
pending cluster has 100% of the traffic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

FULL = 100


@dataclass(frozen=True)
class Split:
    """Where an incremental upgrade stands.

    Attributes:
        active_capacity: the active (old) cluster's Serve ``target_capacity``, 0..100.
        pending_capacity: the pending (new) cluster's Serve ``target_capacity``, 0..100.
        pending_traffic: the pending cluster's HTTPRoute weight, percent; the active cluster
            has the rest.

    """

    active_capacity: int = FULL
    pending_capacity: int = 0
    pending_traffic: int = 0

    def __post_init__(self) -> None:
        for name in ("active_capacity", "pending_capacity", "pending_traffic"):
            value = getattr(self, name)
            if not 0 <= value <= FULL:
                raise ValueError(f"{name} must be 0..100, got {value}")

    @property
    def active_traffic(self) -> int:
        """The active cluster's HTTPRoute weight, percent."""
        return FULL - self.pending_traffic

    @property
    def complete(self) -> bool:
        """KubeRay's ``IsIncrementalUpgradeComplete``: nothing left on the active cluster."""
        return self.active_capacity == 0 and self.pending_traffic == FULL

    def describe(self) -> str:
        """``traffic 80/20 (old/new), capacity 100/20`` for logs and messages."""
        return (
            f"traffic {self.active_traffic}/{self.pending_traffic} (old/new), "
            f"target_capacity {self.active_capacity}/{self.pending_capacity}"
        )


def settle_capacity(split: Split, max_surge_percent: int) -> Split:
    """Apply ``reconcileServeTargetCapacity`` until it changes nothing more (floored, see below).

    KubeRay applies the rule once per reconcile of each cluster (every few seconds); applied until
    stable, it gives the capacities in force when the next traffic step is due.
    """
    _require_percent("max_surge_percent", max_surge_percent, minimum=1)
    while split.pending_capacity == split.pending_traffic:
        total = split.active_capacity + split.pending_capacity
        if total > FULL:
            # KubeRay lowers to max(0, active - surge). From a fresh start that never falls below
            # the active cluster's traffic; from a resumed one (a route edited, capacities lost)
            # it could, so the floor is its traffic: no cluster is sent more than it can serve.
            lowered = max(split.active_traffic, split.active_capacity - max_surge_percent, 0)
            if lowered == split.active_capacity:
                break
            split = replace(split, active_capacity=lowered)
        elif split.pending_capacity < FULL:
            split = replace(
                split, pending_capacity=min(FULL, split.pending_capacity + max_surge_percent)
            )
        else:
            break
    return split


def shift_traffic(split: Split, step_size_percent: int) -> Split:
    """Apply one move of ``calculateTrafficRoutedPercent``: ``step_size_percent`` more to pending.

    Capped at the pending cluster's capacity: traffic never outruns the replicas serving it.
    """
    _require_percent("step_size_percent", step_size_percent, minimum=1)
    moved = min(FULL, split.pending_traffic + step_size_percent, split.pending_capacity)
    return replace(split, pending_traffic=max(moved, split.pending_traffic))


@dataclass(frozen=True)
class Step:
    """One traffic move of a rollout and the capacities set before it.

    Attributes:
        number: 1 for the first move.
        capacity: the split after the capacity rule, before traffic moves (what Serve is told).
        target: the split after the move (what the HTTPRoute is told).
        wait_s: seconds to wait before the move (0 for the first: KubeRay moves at once).

    """

    number: int
    capacity: Split
    target: Split
    wait_s: float


def steps(
    step_size_percent: int,
    max_surge_percent: int,
    interval_s: float,
    start: Split | None = None,
) -> Iterator[Step]:
    """Every traffic move from ``start`` (a fresh upgrade by default) to completion, in order.

    A rollout resumed from an HTTPRoute's current weights passes them as ``start``. The last
    step's target has all traffic on the pending cluster; the active capacity then goes to 0
    (:func:`finish`).
    """
    _require_percent("step_size_percent", step_size_percent, minimum=1)
    _require_percent("max_surge_percent", max_surge_percent, minimum=1)
    split = start or Split()
    number = 0
    while split.pending_traffic < FULL:
        capacity = settle_capacity(split, max_surge_percent)
        target = shift_traffic(capacity, step_size_percent)
        if target == capacity:  # nothing can move: capacity never rose (cannot happen by the rules)
            raise AssertionError(f"an incremental upgrade stalled at {capacity.describe()}")
        number += 1
        yield Step(number, capacity, target, 0.0 if number == 1 else interval_s)
        split = target


def finish(split: Split, max_surge_percent: int) -> Split:
    """The split once all traffic is on the pending cluster: the active capacity lowered to 0."""
    if split.pending_traffic != FULL:
        raise ValueError(f"traffic is not all on the new cluster yet: {split.describe()}")
    return settle_capacity(split, max_surge_percent)


def rollback(split: Split) -> Split:
    """Where a rolled-back upgrade stands: all traffic and full capacity on the active cluster.

    The pending cluster's capacity is kept: it is deleted (or kept for inspection) as a whole.
    """
    return replace(split, active_capacity=FULL, pending_traffic=0)


def _require_percent(name: str, value: int, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= FULL:
        raise ValueError(f"{name} must be an integer {minimum}..100, got {value!r}")
