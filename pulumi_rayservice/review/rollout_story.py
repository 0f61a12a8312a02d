"""A RayService's change told in the order ``pulumi up`` will run it, with what each failure leaves.

The RayService component's children carry the story: a replaced RayCluster means a new cluster
beside the old one (``NewCluster``), a TrafficSplit child means the traffic moves step by step
(``NewClusterWithIncrementalUpgrade``, its plan from ``ClusterUpgradeOptions.describe_plan``),
and the apps' ``drain_s`` is how long the old apps keep serving after the switch. A reviewer
reads what happens and, at each point, what is still serving if it fails there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .._util.normalize import canonical
from ..cluster.changes import Change
from ..rollout.options import ClusterUpgradeOptions
from .digest import Step
from .resources import (
    CLUSTER_TYPE,
    RAYSERVICE_TYPE,
    SERVE_APP_TYPE,
    TRAFFIC_SPLIT_TYPE,
    AppReview,
    ClusterReview,
    review_app,
    review_cluster,
)
from .values import SECRET, is_unknown

__all__ = ["Phase", "ServiceStory", "service_stories"]

DELETE_OPS = frozenset({"delete", "delete-replaced"})


@dataclass(frozen=True)
class Phase:
    """One point of the rollout and what serves if it fails there."""

    what: str
    if_it_fails: str


@dataclass(frozen=True)
class ServiceStory:
    """A RayService's rollout: its kind (new cluster, incremental, in place, ...) and phases."""

    name: str
    kind: str
    phases: tuple[Phase, ...]
    plan: tuple[str, ...] = ()
    children: tuple[Step, ...] = field(default=(), repr=False)


def _components(steps: Sequence[Step]) -> list[str]:
    names = {s.name for s in steps if s.type == RAYSERVICE_TYPE}
    names |= {s.name for s in steps if s.type == CLUSTER_TYPE and s.parent_type == RAYSERVICE_TYPE}
    return sorted(names, key=len, reverse=True)  # longest first: "fruit-2" before "fruit"


def service_stories(steps: Sequence[Step]) -> list[ServiceStory]:
    """One story per RayService in the preview whose children change."""
    names = _components(steps)
    children: dict[str, list[Step]] = {name: [] for name in names}
    for step in steps:
        if step.parent_type != RAYSERVICE_TYPE:
            continue
        owner = next((n for n in names if step.name == n or step.name.startswith(n + "-")), None)
        if owner is not None:
            children[owner].append(step)
    stories = []
    for name in sorted(children):
        # Only what changes tells the story: an unchanged cluster (listed with --show-sames)
        # beside a removed app is no deleted service.
        kids = [s for s in children[name] if s.op not in ("same", "read", "refresh")]
        if kids:
            stories.append(_story(name, kids))
    return stories


def _story(name: str, kids: list[Step]) -> ServiceStory:
    cluster = next((review_cluster(s) for s in kids if s.type == CLUSTER_TYPE), None)
    apps = [review_app(s) for s in kids if s.type == SERVE_APP_TYPE]
    split = next((s for s in kids if s.type == TRAFFIC_SPLIT_TYPE), None)
    if cluster is not None and all(s.op in DELETE_OPS for s in kids):
        return ServiceStory(name, "deleted", _deleted(cluster, apps), children=tuple(kids))
    if cluster is not None and cluster.step.op == "create":
        return ServiceStory(name, "created", _created(cluster, apps, split), children=tuple(kids))
    if cluster is not None and cluster.change.change is Change.NEW_CLUSTER:
        plan = _plan(split)
        kind = "new cluster, traffic moved step by step" if split else "new cluster"
        phases = _new_cluster(cluster, apps, split, plan)
        return ServiceStory(name, kind, phases, tuple(plan), tuple(kids))
    if cluster is not None and cluster.change.change is Change.RECREATE:
        phases = (
            Phase(
                "KubeRay recreates every pod of the cluster in place (upgradeStrategy Recreate)",
                "nothing serves until the new pods are ready and the apps deployed again",
            ),
            Phase("the apps are deployed again", "nothing serves until they are RUNNING"),
        )
        return ServiceStory(name, "recreated in place (downtime)", phases, children=tuple(kids))
    return ServiceStory(name, "in place", _in_place(cluster, apps), children=tuple(kids))


def _plan(split: Step | None) -> list[str]:
    if split is None:
        return []
    options = split.new_inputs.get("options")
    if not isinstance(options, Mapping) or _hidden(options):
        return [
            "the rollout's plan depends on secret values or values known after apply; "
            "Check validates the options when they are known"
        ]
    try:
        return ClusterUpgradeOptions.model_validate(canonical(dict(options))).describe_plan()
    except ValidationError as error:
        return [
            f"the rollout's options are not valid ({error.error_count()} error(s)); Check "
            "will refuse them"
        ]


def _hidden(value: Any) -> bool:
    """Whether ``value`` holds a secret or an unknown anywhere (the plan cannot be told)."""
    if value == SECRET or is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_hidden(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_hidden(v) for v in value)
    return False


def _app_names(apps: list[AppReview]) -> str:
    return ", ".join(f"`{a.change.app}`" for a in apps) or "the apps"


def _drain(apps: list[AppReview]) -> float:
    return max((a.drain_s for a in apps), default=0.0)


def _new_cluster(
    cluster: ClusterReview, apps: list[AppReview], split: Step | None, plan: list[str]
) -> tuple[Phase, ...]:
    old_serves = "the old cluster keeps serving all traffic"
    capacity = cluster.change.new_capacity
    size = f" ({capacity.describe()})" if capacity else ""
    phases = [
        Phase(
            f"a new RayCluster is created beside `{cluster.step.name}`'s current one{size}",
            f"{old_serves}; `pulumi up` fails with the cluster's conditions and events, and the "
            "new cluster is deleted again",
        ),
        Phase(
            f"{_app_names(apps)} deployed on the new cluster and RUNNING",
            f"{old_serves}; traffic never moved; the failed app's message is in the error",
        ),
    ]
    if split is None:
        phases.append(
            Phase(
                "the serve Service's selector moves to the new cluster (all traffic at once)",
                f"{old_serves} (the selector did not move)",
            )
        )
    else:
        options = split.new_inputs.get("options")
        on_failure = options.get("on_failure", "Rollback") if isinstance(options, Mapping) else ""
        left = (
            "traffic and capacity stay split as they were at the failed step; the next up resumes"
            if on_failure == "Pause"
            else "all traffic and capacity go back to the old cluster at once, and the new "
            "cluster is deleted (kept with keep_pending_cluster)"
        )
        phases.append(
            Phase(
                "traffic moves to the new cluster through the HTTPRoute's weights, step by step, "
                "every step gated (the plan below)",
                f"a failed gate fails `pulumi up`: {left}",
            )
        )
    drain = _drain(apps)
    phases += [
        Phase(
            f"after {drain:g} s (drain_s) the old cluster's apps are deleted",
            "the new cluster serves all traffic; the old apps stay until the next up",
        ),
        Phase(
            "the old RayCluster is deleted",
            "the new cluster serves all traffic; the old cluster keeps its machines until the "
            "next up deletes it",
        ),
    ]
    return tuple(phases)


def _created(
    cluster: ClusterReview, apps: list[AppReview], split: Step | None
) -> tuple[Phase, ...]:
    front = "a Gateway and HTTPRoute" if split else "the serve Service"
    return (
        Phase(
            "the RayCluster is created and its head ready", "nothing served before; nothing does"
        ),
        Phase(f"{_app_names(apps)} deployed and RUNNING", "the failed app is removed again"),
        Phase(f"{front} sends traffic to the cluster", "the apps run but are not reachable there"),
    )


def _deleted(cluster: ClusterReview | None, apps: list[AppReview]) -> tuple[Phase, ...]:
    phases = [
        Phase(
            f"{_app_names(apps)} removed from the cluster",
            "the apps not yet removed keep serving",
        )
    ]
    if cluster is not None:
        phases.append(
            Phase(
                "the RayCluster is deleted: the service stops serving",
                "the cluster stays; run destroy again",
            )
        )
    return tuple(phases)


def _in_place(cluster: ClusterReview | None, apps: list[AppReview]) -> tuple[Phase, ...]:
    phases = []
    if cluster is not None and cluster.change.change is Change.IN_PLACE:
        phases.append(
            Phase(
                "the RayCluster is patched in place (worker counts, tolerations, appended groups)",
                "the cluster keeps running as it was; apps keep serving",
            )
        )
    for app in apps:
        if app.step.op == "same":
            continue
        if app.step.op in DELETE_OPS:
            phases.append(
                Phase(
                    f"`{app.change.app}` removed from the cluster; the cluster and the other "
                    "apps stay",
                    "the app keeps serving until it is removed; the next up removes it",
                )
            )
            continue
        phases.append(
            Phase(
                f"`{app.change.app}` updated in place: {app.change.effect.value}",
                "Serve keeps the old replicas serving a failed update, and the previous config "
                "is put back (rollback_on_failure)",
            )
        )
    return tuple(phases)
