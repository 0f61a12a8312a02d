"""What a RayCluster change means for the machines it runs on.

In place or a new cluster is KubeRay's rule, implemented once in ``cluster.changes.classify``;
this module only reads its answer. A new cluster runs beside the old one until the old one is
deleted, so the reviewer also needs what the new one asks the Kubernetes scheduler for (CPUs,
GPUs, memory of the head and of every worker it starts with) and for how long both run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..cluster.changes import Change, classify
from .values import is_unknown

__all__ = ["Capacity", "ClusterChange", "capacity_of", "classify_cluster", "parse_quantity"]

GPU_KEYS = ("nvidia.com/gpu", "amd.com/gpu", "gpu")
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
}  # fmt: skip


def parse_quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``"500m"``, ``"4Gi"``, ``2``) as a number; None if unreadable."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)
        else:
            match = _QUANTITY.match(str(value).strip())
            if not match or match.group(2) not in _SUFFIX:
                return None
            number = float(match.group(1)) * _SUFFIX[match.group(2)]
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None  # "1e999" or NaN is no size


@dataclass(frozen=True)
class Capacity:
    """What a cluster asks for at start: CPUs, GPUs, memory in bytes, pods.

    ``unknown`` when a part is not known until apply (then the numbers are a lower bound).
    """

    cpus: float = 0.0
    gpus: float = 0.0
    memory_bytes: float = 0.0
    pods: int = 0
    unknown: bool = False
    templated: tuple[tuple[str, int], ...] = ()
    """(compute template, pods) for groups sized by a KubeRay API server template: their
    resources live on the server, so they are not in the numbers."""

    def __add__(self, other: Capacity) -> Capacity:
        pods: dict[str, int] = dict(self.templated)
        for name, count in other.templated:
            pods[name] = pods.get(name, 0) + count
        return Capacity(
            self.cpus + other.cpus,
            self.gpus + other.gpus,
            self.memory_bytes + other.memory_bytes,
            self.pods + other.pods,
            self.unknown or other.unknown,
            tuple(sorted(pods.items())),
        )

    def describe(self) -> str:
        """``"6 CPUs, 0 GPUs, 12 GiB memory (3 pods)"``, and the pods sized by templates."""
        sized = sum(count for _, count in self.templated)
        parts = []
        if self.pods > sized or not self.templated:
            parts.append(
                f"{self.cpus:g} CPUs, {self.gpus:g} GPUs, {self.memory_bytes / 2**30:.4g} GiB "
                f"memory ({self.pods - sized} pods)"
            )
        parts.extend(
            f"{count} pods sized by compute template `{name}`" for name, count in self.templated
        )
        text = " and ".join(parts)
        return text + (" at least; some values known after apply" if self.unknown else "")


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is an object, else empty: a document may hold anything anywhere."""
    return value if isinstance(value, Mapping) else {}


def _pod_capacity(group: Any, count: int) -> Capacity:
    if not isinstance(group, Mapping):
        return Capacity(unknown=True)
    containers = _mapping(_mapping(group.get("template")).get("spec")).get("containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], Mapping):
        return Capacity(pods=count, unknown=True)
    template = group.get("computeTemplate")
    if isinstance(template, str) and template:
        return Capacity(pods=count, templated=((template, count),))
    resources = _mapping(containers[0].get("resources"))
    wanted = {**_mapping(resources.get("limits")), **_mapping(resources.get("requests"))}
    unknown = any(is_unknown(v) for v in wanted.values())
    cpu = parse_quantity(wanted.get("cpu", 0)) or 0.0
    memory = parse_quantity(wanted.get("memory", 0)) or 0.0
    gpu = sum(parse_quantity(wanted.get(k, 0)) or 0.0 for k in GPU_KEYS)
    return Capacity(cpu * count, gpu * count, memory * count, count, unknown)


def capacity_of(spec: Mapping[str, Any]) -> Capacity:
    """The head plus every worker group at its starting size.

    A group starts with ``replicas`` (else ``minReplicas``) pods, times ``numOfHosts``.
    """
    total = _pod_capacity(spec.get("headGroupSpec"), 1)
    groups = spec.get("workerGroupSpecs")
    if not isinstance(groups, list):
        return total + Capacity(unknown=groups is not None)
    for group in groups:
        if not isinstance(group, Mapping):
            total += Capacity(unknown=True)
            continue
        replicas = group.get("replicas", group.get("minReplicas", 0))
        hosts = group.get("numOfHosts", 1)
        if is_unknown(replicas) or is_unknown(hosts):
            total += Capacity(unknown=True)
            continue
        count = int(parse_quantity(replicas) or 0) * int(parse_quantity(hosts) or 1)
        total += _pod_capacity(group, count)
    return total


@dataclass(frozen=True)
class ClusterChange:
    """A RayCluster's change as KubeRay applies it, and the new cluster's size if there is one."""

    change: Change
    new_capacity: Capacity | None
    old_capacity: Capacity | None

    @property
    def new_cluster(self) -> bool:
        """Whether a second cluster runs beside the old one for a while."""
        return self.change is Change.NEW_CLUSTER


def classify_cluster(old_spec: Any, new_spec: Any, *, replaced: bool = False) -> ClusterChange:
    """Classify a spec change; an engine replace with an unreadable spec is a new cluster too."""
    old_ok, new_ok = isinstance(old_spec, Mapping), isinstance(new_spec, Mapping)
    if old_ok and new_ok:
        try:
            change = classify(old_spec, new_spec)
        except (KeyError, TypeError, ValueError, AttributeError):
            change = Change.NEW_CLUSTER if replaced else Change.IN_PLACE
        if replaced and change is not Change.RECREATE:
            change = Change.NEW_CLUSTER  # the engine replaces it: a new object either way
    else:
        change = Change.NEW_CLUSTER if replaced or not old_ok else Change.IN_PLACE
    return ClusterChange(
        change=change,
        new_capacity=capacity_of(new_spec) if new_ok else None,
        old_capacity=capacity_of(old_spec) if old_ok else None,
    )
