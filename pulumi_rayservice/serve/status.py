"""What Serve says about its applications, parsed once into small values.

The dashboard's ``GET /api/serve/applications/`` answers with the cluster's Serve settings, every
application's deployed config and its status. The deployer reads it before every PUT (to merge),
after it (to verify) and while waiting (to judge), so the parsing and the judging live here.

Two views of an app's config are kept apart on purpose: ``config`` is exactly what Serve reports
(nulls, ``1.0`` and every key kept), the only form in which another owner's app may be sent back;
``deployed_app_config`` is its normalized form, used to compare with the config of our own app.

Statuses are compared with the members of :class:`ApplicationStatus` and
:class:`DeploymentStatus` (``str`` Enums, as in Ray's ``serve/_private/common.py``), but kept as
the plain strings Serve sent: a newer Ray may report a status this package does not know, and
what reaches the engine as an output must be a plain ``str``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .._util.normalize import canonical
from .._util.text import clip


class ApplicationStatus(str, Enum):
    """The status of a Serve application (Ray's ``ApplicationStatus``)."""

    NOT_STARTED = "NOT_STARTED"
    DEPLOYING = "DEPLOYING"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    """Serve gave up on this version of the app (its message says why)."""
    RUNNING = "RUNNING"
    UNHEALTHY = "UNHEALTHY"
    DELETING = "DELETING"


class DeploymentStatus(str, Enum):
    """The status of one deployment of a Serve application (Ray's ``DeploymentStatus``)."""

    UPDATING = "UPDATING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    UPSCALING = "UPSCALING"
    DOWNSCALING = "DOWNSCALING"


AUTOSCALING = "AUTOSCALING"
"""The ``status_trigger`` (Ray 2.9 and later) of a deployment its autoscaler is resizing."""
CONTROLLER_DEAD = "DEAD"
"""Ray's state of an actor that is gone for good: a shut-down Serve controller stays listed so."""
IMPERATIVE = "imperative"
MAX_MESSAGE = 400

# Top-level keys of the GET answer that belong in the PUT body. They are cluster-level: a running
# Serve ignores changes to them, so they are sent back exactly as read, never edited.
CLUSTER_SETTINGS = ("proxy_location", "http_options", "grpc_options", "target_capacity")


@dataclass(frozen=True)
class DeploymentState:
    """One deployment's status and message, and its replicas where Serve reports them."""

    status: str
    """As Serve reported it; compare with :class:`DeploymentStatus`."""
    message: str
    target_replicas: int | None = None
    """Serve's ``target_num_replicas`` (after ``target_capacity``); None when not reported."""
    running_replicas: int | None = None
    """Replicas in state RUNNING; None when Serve did not list them."""
    trigger: str = ""
    """Serve's ``status_trigger``: why the deployment is in its status (Ray 2.9 and later)."""

    @property
    def is_serving(self) -> bool:
        """HEALTHY, or resized by its autoscaler: the config is in place and replicas serve.

        An autoscaling deployment under load is UPSCALING or DOWNSCALING while its app stays
        RUNNING (Ray 2.9 and later): waiting for HEALTHY there could last as long as the load.
        A resize a config change started (num_replicas 1 -> 2) is not done yet.
        """
        if self.status == DeploymentStatus.HEALTHY:
            return True
        return (
            self.status in (DeploymentStatus.UPSCALING, DeploymentStatus.DOWNSCALING)
            and self.trigger == AUTOSCALING
        )

    @classmethod
    def from_details(cls, data: Mapping[str, Any]) -> DeploymentState:
        """Parse one entry of an app's ``deployments`` in the GET answer.

        At ``target_capacity`` 0 Serve reports a deployment HEALTHY with 0 replicas: readiness
        to take traffic needs the replica counts too.
        """
        target = data.get("target_num_replicas")
        replicas = data.get("replicas")
        running = None
        if isinstance(replicas, list):
            running = sum(
                1 for r in replicas if isinstance(r, Mapping) and r.get("state") == "RUNNING"
            )
        return cls(
            status=str(data.get("status") or ""),
            message=str(data.get("message") or ""),
            target_replicas=target
            if isinstance(target, int) and not isinstance(target, bool)
            else None,
            running_replicas=running,
            trigger=str(data.get("status_trigger") or ""),
        )


@dataclass(frozen=True)
class AppState:
    """One application as Serve reports it."""

    name: str
    status: str
    """As Serve reported it; compare with :class:`ApplicationStatus`."""
    message: str
    last_deployed_time_s: float | None
    route_prefix: str | None
    source: str | None
    """``declarative`` (a PUT) or ``imperative`` (``serve.run``); older Rays do not report it."""
    deployed_app_config: dict[str, Any] | None
    """The deployed config, normalized (to compare with ours); None for ``serve.run`` apps."""
    config: dict[str, Any] | None = None
    """The deployed config exactly as Serve reported it: what a PUT must carry for other owners."""
    deployments: dict[str, DeploymentState] = field(default_factory=dict)

    @classmethod
    def from_details(cls, name: str, data: Mapping[str, Any]) -> AppState:
        """Parse one entry of ``applications`` in the GET answer."""
        deployments = {
            str(dep_name): DeploymentState.from_details(dep)
            for dep_name, dep in (data.get("deployments") or {}).items()
            if isinstance(dep, Mapping)
        }
        config = data.get("deployed_app_config")
        return cls(
            name=name,
            status=str(data.get("status") or ""),
            message=str(data.get("message") or ""),
            last_deployed_time_s=data.get("last_deployed_time_s"),
            route_prefix=data.get("route_prefix"),
            source=data.get("source"),
            deployed_app_config=canonical(config) if isinstance(config, Mapping) else None,
            config=copy.deepcopy(dict(config)) if isinstance(config, Mapping) else None,
            deployments=deployments,
        )

    @property
    def is_running(self) -> bool:
        """RUNNING with every deployment serving: what "deployed" means for a ServeApplication.

        Serving is HEALTHY, or resized by the autoscaler (:attr:`DeploymentState.is_serving`).
        """
        return self.status == ApplicationStatus.RUNNING and all(
            d.is_serving for d in self.deployments.values()
        )

    @property
    def is_building(self) -> bool:
        """Serve is building the app's first version (importing its code; no deployment yet).

        Any PUT of the config, whoever sends it and even unchanged, cancels that build and starts
        it again (Serve's ``apply_app_config`` while no code version is set).
        """
        return self.status == ApplicationStatus.DEPLOYING and not self.deployments

    @property
    def is_deleting(self) -> bool:
        """Serve is removing the app: it is on its way out and must never be sent back."""
        return self.status == ApplicationStatus.DELETING

    @property
    def is_imperative(self) -> bool:
        """Deployed from Python (``serve.run``): it has no config a PUT could carry.

        Ray tells by ``source``; versions that do not report it leave ``deployed_app_config``
        empty for such apps (and for apps being deleted, which are told apart by status).
        """
        if self.source is not None:
            return self.source == IMPERATIVE
        return self.config is None and not self.is_deleting

    @property
    def is_failed(self) -> bool:
        """Serve gave up on this version of the app (a retry of the same config will not help)."""
        return self.status == ApplicationStatus.DEPLOY_FAILED

    def deployment_statuses(self) -> dict[str, str]:
        """Deployment name -> status, for outputs."""
        return {name: dep.status for name, dep in sorted(self.deployments.items())}

    def explain(self) -> str:
        """Serve's own words on what is wrong: the app message and each unhealthy deployment's."""
        parts = [f"status {self.status}"]
        if self.message:
            parts.append(shorten(self.message))
        for name, dep in sorted(self.deployments.items()):
            if not dep.is_serving:
                detail = f"{name} {dep.status}"
                if dep.message:
                    detail += f": {shorten(dep.message)}"
                parts.append(detail)
        return "; ".join(parts)


@dataclass(frozen=True)
class ServeSnapshot:
    """The whole Serve state of one cluster at one moment."""

    apps: dict[str, AppState]
    settings: dict[str, Any]
    running: bool = False
    """Whether Serve is started on the cluster (cluster-level settings are fixed from then on)."""

    @classmethod
    def from_details(cls, data: Mapping[str, Any]) -> ServeSnapshot:
        """Parse the declarative GET answer."""
        apps = {
            str(name): AppState.from_details(str(name), app)
            for name, app in (data.get("applications") or {}).items()
            if isinstance(app, Mapping)
        }
        settings = {k: copy.deepcopy(data[k]) for k in CLUSTER_SETTINGS if data.get(k) is not None}
        # The dashboard answers Serve's EMPTY schema both when Serve is not started and when it
        # cannot reach the controller: ``running`` False is not proof of anything on its own.
        running = bool(data.get("controller_info"))
        return cls(apps=apps, settings=settings, running=running)

    @property
    def compared_settings(self) -> dict[str, Any]:
        """``settings`` normalized, to compare with ours (``settings`` is sent back as read)."""
        result: dict[str, Any] = canonical(self.settings)
        return result

    def carried_configs(self, *, except_name: str) -> dict[str, dict[str, Any]]:
        """Name -> config, exactly as reported, of every other app a PUT must carry.

        Apps being deleted are left out (sending them back would resurrect them); apps deployed
        from Python code (``serve.run``) have no config to send.
        """
        return {
            name: app.config
            for name, app in self.apps.items()
            if name != except_name and app.config is not None and not app.is_deleting
        }

    def building(self, *, except_name: str) -> list[str]:
        """Names of the other apps whose first build a PUT now would restart, sorted."""
        return sorted(n for n, app in self.apps.items() if n != except_name and app.is_building)

    def imperative_apps(self) -> list[str]:
        """Names of the apps deployed from Python code (``serve.run``), sorted."""
        return sorted(name for name, app in self.apps.items() if app.is_imperative)


def same_config(a: Any, b: Any) -> bool:
    """Whether two configs are the same to the byte: ``1.0`` is not ``1``, null is not absent."""
    return _exact(a) == _exact(b)


def _exact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """Serve messages can hold whole tracebacks: keep the first lines and the last line."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if (len(lines) > 3 and lines[0].startswith("Traceback")) or len(lines) > 6:
        # A traceback's last line names the error; the first line says what Serve was doing.
        picked = [lines[0], "…", lines[-1]] if not lines[0].startswith("Traceback") else [lines[-1]]
        lines = picked
    return clip(" ".join(lines), limit)
