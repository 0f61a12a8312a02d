"""What a RayCluster spec change means: nothing, an in-place patch, or a new cluster.

This mirrors KubeRay's own rule (the RayService controller's cluster hash): the spec WITHOUT worker
``replicas``/``minReplicas``/``maxReplicas``, ``scaleStrategy.workersToDelete``, ``suspend``,
tolerations and scheduling gates decides whether a cluster is "the same". Equal: what differs can
be patched in place. Only new worker groups appended at the end: in place too. Anything else (image,
rayVersion, the head template, rayStartParams, a worker template) needs a new cluster.

With autoscaling on, worker ``replicas`` and ``workersToDelete`` belong to the autoscaler: they are
never patched and never reported as drift.

Also here: turning a live object's spec back into the form the program wrote, so that an
unchanged cluster shows no drift (the API server fills in schema defaults such as
``maxReplicas: 2147483647``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from .._util.normalize import canonical
from .crd_schema import apply_defaults

WORKER_IN_PLACE_FIELDS = ("replicas", "minReplicas", "maxReplicas", "suspend")
POD_IN_PLACE_FIELDS = ("tolerations", "schedulingGates")


class Change(Enum):
    """How a spec change reaches the cluster."""

    NONE = "none"
    IN_PLACE = "in-place"
    RECREATE = "recreate"
    """A new-cluster change on a cluster with ``upgradeStrategy: Recreate``: KubeRay recreates
    every pod in place (downtime) instead of a new cluster running beside the old one."""
    NEW_CLUSTER = "new-cluster"


def autoscaling_enabled(spec: Mapping[str, Any]) -> bool:
    """Whether KubeRay's autoscaler owns the worker replica counts."""
    return bool(spec.get("enableInTreeAutoscaling"))


def fingerprint(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec without what KubeRay changes in place: equal fingerprints are the same cluster."""
    print_: dict[str, Any] = copy.deepcopy(canonical(apply_defaults(canonical(dict(spec)))))
    print_.pop("suspend", None)
    print_.pop("upgradeStrategy", None)  # a policy for changes, not part of the cluster's shape
    _drop_pod_fields(print_.get("headGroupSpec"))
    groups = print_.get("workerGroupSpecs")
    for group in groups if isinstance(groups, list) else []:  # (or a value not yet known)
        if not isinstance(group, dict):
            continue
        for key in WORKER_IN_PLACE_FIELDS:
            group.pop(key, None)
        strategy = group.get("scaleStrategy")
        if isinstance(strategy, dict):
            strategy.pop("workersToDelete", None)
            if not strategy:
                group.pop("scaleStrategy")
        _drop_pod_fields(group)
    return print_


def _drop_pod_fields(group: Any) -> None:
    if not isinstance(group, dict):
        return
    pod_spec = (group.get("template") or {}).get("spec")
    if isinstance(pod_spec, dict):
        for key in POD_IN_PLACE_FIELDS:
            pod_spec.pop(key, None)


def classify(old: Mapping[str, Any], new: Mapping[str, Any]) -> Change:
    """Decide what going from spec ``old`` to spec ``new`` takes."""
    old_c, new_c = _effective(old), _effective(new)
    if old_c == new_c:
        return Change.NONE
    old_print, new_print = fingerprint(old), fingerprint(new)
    if old_print == new_print:
        return Change.IN_PLACE
    old_groups = _listed(old_print.pop("workerGroupSpecs", None))
    new_groups = _listed(new_print.pop("workerGroupSpecs", None))
    if old_print == new_print and new_groups[: len(old_groups)] == old_groups:
        return Change.IN_PLACE  # only worker groups appended at the end
    if recreates_in_place(new):
        return Change.RECREATE
    return Change.NEW_CLUSTER


def _listed(value: Any) -> list[Any]:
    """Worker groups as a list; anything else (a value not yet known) as one opaque entry."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def recreates_in_place(spec: Mapping[str, Any]) -> bool:
    """Whether KubeRay upgrades this cluster by recreating its pods (upgradeStrategy Recreate)."""
    strategy = spec.get("upgradeStrategy")
    return isinstance(strategy, Mapping) and strategy.get("type") == "Recreate"


def revision(spec: Mapping[str, Any]) -> str:
    """A short digest of the cluster's shape: it changes exactly when KubeRay makes new pods.

    Serve applications take it as an input, so that after an in-place recreate (all Ray state
    gone) they are deployed again.
    """
    text = json.dumps(fingerprint(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _effective(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec as the cluster sees it: defaults filled, autoscaler-owned fields left out."""
    effective: dict[str, Any] = canonical(apply_defaults(canonical(dict(spec))))
    if autoscaling_enabled(effective):
        for group in effective.get("workerGroupSpecs") or []:
            if isinstance(group, dict):
                group.pop("replicas", None)
                strategy = group.get("scaleStrategy")
                if isinstance(strategy, dict):
                    strategy.pop("workersToDelete", None)
                    if not strategy:
                        group.pop("scaleStrategy")
    return effective


def patch_spec(desired: Mapping[str, Any], live: Mapping[str, Any]) -> dict[str, Any]:
    """The spec to write for an in-place change.

    That is ``desired``, except that with autoscaling on, the autoscaler's current ``replicas`` and
    ``workersToDelete`` of the existing groups are kept.
    """
    spec: dict[str, Any] = copy.deepcopy(canonical(dict(desired)))
    if not autoscaling_enabled(spec):
        return spec
    live_groups = {
        g.get("groupName"): g for g in live.get("workerGroupSpecs") or [] if isinstance(g, Mapping)
    }
    for group in spec.get("workerGroupSpecs") or []:
        current = live_groups.get(group.get("groupName"))
        if current is None:
            continue
        if "replicas" in current:
            group["replicas"] = current["replicas"]
        live_delete = (current.get("scaleStrategy") or {}).get("workersToDelete")
        if live_delete is not None:
            group.setdefault("scaleStrategy", {})["workersToDelete"] = live_delete
    return spec


def as_written(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """A live spec in the shape the program wrote it, so an unchanged cluster shows no drift.

    Schema defaults that the program did not write are dropped when the live value still equals
    the default; with autoscaling on, the autoscaler's replica counts are replaced by the
    program's. Anything else that differs stays, and is drift.
    """
    desired_c = canonical(dict(desired))
    result = _strip_defaults(canonical(dict(live)), desired_c, apply_defaults(desired_c))
    if autoscaling_enabled(desired_c) and isinstance(result, dict):
        wanted = {g.get("groupName"): g for g in desired_c.get("workerGroupSpecs") or []}
        for group in result.get("workerGroupSpecs") or []:
            mine = wanted.get(group.get("groupName"))
            if mine is None:
                continue
            if "replicas" in mine:
                group["replicas"] = mine["replicas"]
            else:
                group.pop("replicas", None)
            mine_delete = (mine.get("scaleStrategy") or {}).get("workersToDelete")
            strategy = group.get("scaleStrategy")
            if isinstance(strategy, dict):
                if mine_delete is None:
                    strategy.pop("workersToDelete", None)
                    if not strategy and "scaleStrategy" not in mine:
                        group.pop("scaleStrategy")
                else:
                    strategy["workersToDelete"] = mine_delete
    return result if isinstance(result, dict) else {}


def _strip_defaults(live: Any, desired: Any, defaulted: Any) -> Any:
    """Drop values the API server filled in (absent in ``desired``, equal to the default)."""
    if isinstance(live, dict):
        desired_map = desired if isinstance(desired, dict) else {}
        defaulted_map = defaulted if isinstance(defaulted, dict) else {}
        out = {}
        for key, value in live.items():
            if key not in desired_map and key in defaulted_map and defaulted_map[key] == value:
                continue
            out[key] = _strip_defaults(value, desired_map.get(key), defaulted_map.get(key))
        return out
    if isinstance(live, list):
        desired_list = desired if isinstance(desired, list) else []
        defaulted_list = defaulted if isinstance(defaulted, list) else []
        return [
            _strip_defaults(
                item,
                desired_list[i] if i < len(desired_list) else None,
                defaulted_list[i] if i < len(defaulted_list) else None,
            )
            for i, item in enumerate(live)
        ]
    return live
