"""What Serve does with a change of one application, deployment by deployment.

A reviewer wants to know whether a merge restarts replicas. Serve decides that from what changed
(measured on Ray 2.x, see the README's ServeApplication section):

- ``user_config``: each replica's ``reconfigure`` is called; nothing restarts.
- ``num_replicas`` and ``autoscaling_config`` values: replicas are added or removed (scale).
- ``route_prefix``, ``max_ongoing_requests``, graceful-shutdown and health-check settings: applied
  in place, nothing restarts.
- ``ray_actor_options``, placement-group options, ``max_replicas_per_node`` and any option not
  named here: that deployment's replicas are restarted.
- ``import_path``, the app's ``runtime_env`` or ``args``, switching between ``num_replicas`` and
  ``autoscaling_config``: the whole app is rebuilt, every deployment's replicas restarted.

Unknown values (known after apply) are read as "may change", and classified like a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .values import changed_paths

__all__ = ["AppChange", "DeploymentChange", "Effect", "classify_app"]

REBUILD_APP_KEYS = ("import_path", "runtime_env", "args")
IN_PLACE_APP_KEYS = ("route_prefix", "name")
SCALE_KEYS = frozenset({"num_replicas", "autoscaling_config"})
NO_RESTART_KEYS = frozenset(
    {
        "max_ongoing_requests",
        "max_queued_requests",
        "graceful_shutdown_wait_loop_s",
        "graceful_shutdown_timeout_s",
        "health_check_period_s",
        "health_check_timeout_s",
        "request_router_config",
        "logging_config",
    }
)


class Effect(str, Enum):
    """What Serve does to a deployment's replicas; ordered from least to most disruptive."""

    NONE = "unchanged"
    RECONFIGURE = "reconfigure only (user_config, no restart)"
    IN_PLACE = "updated in place (no restart)"
    SCALE = "scale"
    RESTART = "replicas restarted"
    ADDED = "new deployment"
    REMOVED = "deployment removed"
    REBUILD = "whole app rebuilt (every replica restarted)"

    @property
    def rank(self) -> int:
        """Disruption order, for choosing what a change amounts to."""
        return list(Effect).index(self)


@dataclass(frozen=True)
class DeploymentChange:
    """One deployment's change: its effect and the option paths that changed."""

    name: str
    effect: Effect
    paths: tuple[str, ...]


@dataclass(frozen=True)
class AppChange:
    """An application's change: app-level paths and the deployments' changes."""

    app: str
    app_paths: tuple[str, ...]
    rebuild: bool
    deployments: tuple[DeploymentChange, ...]

    @property
    def effect(self) -> Effect:
        """The most disruptive effect on any deployment."""
        effects = [d.effect for d in self.deployments] or [Effect.NONE]
        if self.rebuild:
            effects.append(Effect.REBUILD)
        elif self.app_paths:
            effects.append(Effect.IN_PLACE)
        return max(effects, key=lambda e: e.rank)


def _deployments(app: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found = app.get("deployments")
    if not isinstance(found, list):
        return {}
    return {str(d.get("name")): d for d in found if isinstance(d, Mapping)}


def _effect_of(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Effect, tuple[str, ...]]:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not keys:
        return Effect.NONE, ()
    switched = ("num_replicas" in old) != ("num_replicas" in new) and (
        "autoscaling_config" in old or "autoscaling_config" in new
    )
    paths = tuple(p for k in keys for p in changed_paths(old.get(k), new.get(k), prefix=k))
    if switched:
        return Effect.RESTART, paths
    effects = [Effect.NONE]
    for key in keys:
        if key == "user_config":
            effects.append(Effect.RECONFIGURE)
        elif key in SCALE_KEYS:
            effects.append(Effect.SCALE)
        elif key in NO_RESTART_KEYS:
            effects.append(Effect.IN_PLACE)
        else:
            effects.append(Effect.RESTART)
    return max(effects, key=lambda e: e.rank), paths


def classify_app(old_app: Mapping[str, Any], new_app: Mapping[str, Any]) -> AppChange:
    """Compare an app's old and new Serve config (one entry of ``applications:``)."""
    old_app = old_app if isinstance(old_app, Mapping) else {}
    new_app = new_app if isinstance(new_app, Mapping) else {}
    app_keys = sorted(
        k
        for k in set(old_app) | set(new_app)
        if k != "deployments" and old_app.get(k) != new_app.get(k)
    )
    app_paths = tuple(
        p for k in app_keys for p in changed_paths(old_app.get(k), new_app.get(k), prefix=k)
    )
    rebuild = any(k not in IN_PLACE_APP_KEYS for k in app_keys)
    old_d, new_d = _deployments(old_app), _deployments(new_app)
    changes = []
    for name in sorted(set(old_d) | set(new_d)):
        if name not in old_d:
            changes.append(DeploymentChange(name, Effect.ADDED, ()))
        elif name not in new_d:
            changes.append(DeploymentChange(name, Effect.REMOVED, ()))
        else:
            effect, paths = _effect_of(old_d[name], new_d[name])
            if rebuild:  # a rebuilt app restarts every replica, changed or not
                effect = max(effect, Effect.RESTART, key=lambda e: e.rank)
            changes.append(DeploymentChange(name, effect, paths))
    if not isinstance(new_app.get("deployments"), list) and new_app.get("deployments"):
        rebuild = True  # deployments not known until apply: assume the worst
    return AppChange(
        app=str(new_app.get("name") or old_app.get("name") or "?"),
        app_paths=app_paths,
        rebuild=rebuild,
        deployments=tuple(changes),
    )
