"""What Serve says about its applications, parsed once into small values.

The dashboard's ``GET /api/serve/applications/?api_type=declarative`` answers with the cluster's
Serve settings, every application's deployed config and its status. The deployer reads it before
every PUT (to merge) and while waiting (to judge), so the parsing and the judging live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._util.normalize import canonical

RUNNING = "RUNNING"
DEPLOY_FAILED = "DEPLOY_FAILED"
DELETING = "DELETING"
HEALTHY = "HEALTHY"
MAX_MESSAGE = 400

# Top-level keys of the GET answer that belong in the PUT body. They are cluster-level: a running
# Serve ignores changes to them, so they are sent back exactly as read, never edited.
CLUSTER_SETTINGS = ("proxy_location", "http_options", "grpc_options", "target_capacity")


@dataclass(frozen=True)
class DeploymentState:
    """One deployment's status and message."""

    status: str
    message: str


@dataclass(frozen=True)
class AppState:
    """One application as Serve reports it."""

    name: str
    status: str
    message: str
    last_deployed_time_s: float | None
    route_prefix: str | None
    source: str | None
    deployed_app_config: dict[str, Any] | None
    deployments: dict[str, DeploymentState] = field(default_factory=dict)

    @classmethod
    def from_details(cls, name: str, data: Mapping[str, Any]) -> AppState:
        """Parse one entry of ``applications`` in the GET answer."""
        deployments = {
            str(dep_name): DeploymentState(
                status=str(dep.get("status") or ""), message=str(dep.get("message") or "")
            )
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
            deployments=deployments,
        )

    @property
    def is_running(self) -> bool:
        """RUNNING with every deployment HEALTHY: what "deployed" means for a ServeApplication."""
        return self.status == RUNNING and all(
            d.status == HEALTHY for d in self.deployments.values()
        )

    @property
    def is_failed(self) -> bool:
        """Serve gave up on this version of the app (a retry of the same config will not help)."""
        return self.status == DEPLOY_FAILED

    def deployment_statuses(self) -> dict[str, str]:
        """Deployment name -> status, for outputs."""
        return {name: dep.status for name, dep in sorted(self.deployments.items())}

    def explain(self) -> str:
        """Serve's own words on what is wrong: the app message and each unhealthy deployment's."""
        parts = [f"status {self.status}"]
        if self.message:
            parts.append(shorten(self.message))
        for name, dep in sorted(self.deployments.items()):
            if dep.status != HEALTHY:
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
        settings = {k: data[k] for k in CLUSTER_SETTINGS if data.get(k) is not None}
        running = bool(data.get("controller_info")) or bool(data.get("http_options"))
        return cls(apps=apps, settings=settings, running=running)

    def declarative_configs(self) -> list[dict[str, Any]]:
        """The configs a PUT must carry to keep every other declarative app as it is.

        Apps being deleted are left out (sending them back would resurrect them); apps deployed
        from Python code (``serve.run``) have no declarative config and cannot be carried.
        """
        return [
            app.deployed_app_config
            for app in self.apps.values()
            if app.deployed_app_config is not None and app.status != DELETING
        ]


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """Serve messages can hold whole tracebacks: keep the first lines and the last line."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if (len(lines) > 3 and lines[0].startswith("Traceback")) or len(lines) > 6:
        # A traceback's last line names the error; the first line says what Serve was doing.
        picked = [lines[0], "…", lines[-1]] if not lines[0].startswith("Traceback") else [lines[-1]]
        lines = picked
    flat = " ".join(" ".join(lines).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
