"""The package's own resource types in a preview, and what each of their steps amounts to.

Type tokens are the ones the engine records (a dynamic provider's resources are all
``pulumi-python:dynamic/<module>:<Class>``); anything else is another provider's resource and is
listed plainly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .cluster_changes import ClusterChange, classify_cluster
from .digest import CLUSTER_TYPE, SERVE_APP_TYPE, TRAFFIC_SPLIT_TYPE, Step
from .serve_changes import AppChange, classify_app

__all__ = [
    "CLUSTER_TYPE",
    "RAYSERVICE_TYPE",
    "SERVE_APP_TYPE",
    "TRAFFIC_SPLIT_TYPE",
    "AppReview",
    "ClusterReview",
    "review_app",
    "review_cluster",
]

RAYSERVICE_TYPE = "rayservice:index:RayService"


@dataclass(frozen=True)
class AppReview:
    """A ServeApplication step: the app's change as Serve applies it, and where it runs."""

    step: Step
    change: AppChange
    moved: bool
    """Its target (dashboard) changes: it is deployed on another cluster and removed from the
    old one."""
    drain_s: float


@dataclass(frozen=True)
class ClusterReview:
    """A RayCluster step and KubeRay's answer to it."""

    step: Step
    change: ClusterChange


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def review_app(step: Step) -> AppReview:
    """Classify a ServeApplication step from its old and new ``app`` inputs."""
    old, new = step.old_inputs, step.new_inputs
    if not new:  # deleted: every deployment goes
        change = classify_app(
            _mapping(old.get("app")), {"name": _mapping(old.get("app")).get("name")}
        )
    else:
        change = classify_app(_mapping(old.get("app")), _mapping(new.get("app")))
    moved = bool(old) and bool(new) and old.get("dashboard") != new.get("dashboard")
    drain = new.get("drain_s", old.get("drain_s", 0))
    return AppReview(step, change, moved, float(drain) if isinstance(drain, int | float) else 0.0)


def review_cluster(step: Step) -> ClusterReview:
    """Classify a RayCluster step with KubeRay's rule."""
    replaced = step.op in ("replace", "create-replacement")
    return ClusterReview(
        step,
        classify_cluster(
            step.old_inputs.get("spec"), step.new_inputs.get("spec"), replaced=replaced
        ),
    )
