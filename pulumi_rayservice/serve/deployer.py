"""Deploy, replace and remove ONE Serve application on a cluster that others may share.

Serve's PUT replaces the whole set of applications, and has no ETag or lock. So every change is a
read-merge-write of the whole config, serialized per dashboard by a process-wide lock (the Pulumi
provider host serves calls on four threads, and a stack may hold several apps on one cluster):
read what runs, put our app into (or out of) that list, PUT it back. Apps that belong to others are
carried over exactly as Serve reports them. Removal is a PUT without our app, never ``DELETE``
(which shuts Serve down for everyone).

A 200 from PUT only means "accepted": the waits below poll with backoff until the app is RUNNING
with every deployment HEALTHY, Serve says DEPLOY_FAILED, or the deadline passes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._util.normalize import canonical
from .._util.polling import Backoff, Deadline
from ..errors import ServeDeployError
from .client import DashboardClient
from .status import AppState, ServeSnapshot

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def dashboard_lock(key: str) -> threading.Lock:
    """The process-wide lock that serializes read-merge-write on one dashboard."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


Guard = Callable[[ServeSnapshot, "AppState | None"], None]
"""Called under the lock with what runs now, before anything is written; raises to refuse."""


@dataclass(frozen=True)
class Applied:
    """What an ``apply`` did: the app as it was before, and whether a PUT was sent."""

    before: AppState | None
    put: bool


def _require_running_options(running: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Refuse cluster-level options that differ from what the running Serve uses."""
    differences = []
    for key, value in canonical(dict(wanted)).items():
        current = canonical(running.get(key))
        if isinstance(value, Mapping):
            current_map = current if isinstance(current, Mapping) else {}
            differences += [
                f"{key}.{sub}={current_map.get(sub)!r} (wanted {sub_value!r})"
                for sub, sub_value in value.items()
                if current_map.get(sub) != sub_value
            ]
        elif current != value:
            differences.append(f"{key}={current!r} (wanted {value!r})")
    if differences:
        raise ServeDeployError(
            "Serve already runs on this cluster with " + ", ".join(differences) + "; Serve "
            "applies these settings only when it starts: they need a new cluster"
        )


class ServeDeployer:
    """Read-merge-write and waits for one app name on one dashboard."""

    def __init__(self, client: DashboardClient, lock_key: str, *, backoff: Backoff | None = None):
        self.client = client
        self.lock_key = lock_key
        self.backoff = backoff or Backoff()

    def __enter__(self) -> ServeDeployer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()

    def snapshot(self) -> ServeSnapshot:
        """What runs on the cluster now."""
        return ServeSnapshot.from_details(self.client.get_applications())

    def apply(
        self,
        name: str,
        desired: Mapping[str, Any] | None,
        *,
        guard: Guard | None = None,
        serve_options: Mapping[str, Any] | None = None,
    ) -> Applied:
        """Make the cluster's config hold ``desired`` for app ``name`` (None: remove it).

        Sends no PUT when the cluster already runs exactly that (an identical PUT still bumps
        Serve's deploy time and makes the app report DEPLOYING for a moment). ``serve_options``
        (http_options, grpc_options, proxy_location) go with the PUT that starts Serve; on a
        running Serve, which ignores them, a difference is an error instead of a silent no-op.
        """
        with dashboard_lock(self.lock_key):
            snapshot = self.snapshot()
            before = snapshot.apps.get(name)
            if guard is not None:
                guard(snapshot, before)
            settings = dict(snapshot.settings)
            if serve_options and desired is not None:
                if snapshot.running:
                    _require_running_options(snapshot.settings, serve_options)
                else:
                    settings.update(serve_options)
            wanted = canonical(dict(desired)) if desired is not None else None
            current = before.deployed_app_config if before is not None else None
            if before is not None and before.status == "DELETING":
                current = None
            # A failed app is PUT again even when unchanged: that is how Serve retries a deploy.
            if wanted == current and not (before is not None and before.is_failed):
                return Applied(before=before, put=False)
            others = [c for c in snapshot.declarative_configs() if c.get("name") != name]
            applications = [*others, wanted] if wanted is not None else others
            self.client.put_applications({**settings, "applications": applications})
            return Applied(before=before, put=True)

    def wait_applied(self, name: str, applied: Applied, deadline: Deadline) -> AppState:
        """Wait for the outcome of an ``apply``: a new deploy if it PUT, else the current one."""
        return self.wait_running(
            name, since=applied.before if applied.put else None, deadline=deadline
        )

    def wait_running(self, name: str, *, since: AppState | None, deadline: Deadline) -> AppState:
        """Poll until ``name`` is RUNNING with all deployments HEALTHY after our PUT.

        ``since`` is the app as it was before the PUT: a status older than that PUT (same
        ``last_deployed_time_s``) is not an answer yet.

        Raises:
            ServeDeployError: DEPLOY_FAILED (Serve's message), or the deadline passed (the
                app's and the stuck deployments' messages).

        """
        stale_time = since.last_deployed_time_s if since is not None else None
        delays = self.backoff.delays()
        last: AppState | None = None
        while True:
            state = self.snapshot().apps.get(name)
            if state is not None and (
                stale_time is None or state.last_deployed_time_s != stale_time
            ):
                last = state
                if state.is_running:
                    return state
                if state.is_failed:
                    raise ServeDeployError(f"Serve could not deploy {name!r}: {state.explain()}")
            if not deadline.sleep(next(delays)):
                seen = last.explain() if last is not None else "not listed by Serve yet"
                raise ServeDeployError(
                    f"{name!r} was not RUNNING within {deadline.timeout_s:g}s: {seen}"
                )

    def wait_gone(self, name: str, *, deadline: Deadline) -> None:
        """Poll until Serve no longer lists ``name`` (it passes through DELETING).

        Raises:
            ServeDeployError: still listed when the deadline passed.

        """
        delays = self.backoff.delays()
        while True:
            state = self.snapshot().apps.get(name)
            if state is None:
                return
            if not deadline.sleep(next(delays)):
                raise ServeDeployError(
                    f"{name!r} was still {state.status} on the cluster after "
                    f"{deadline.timeout_s:g}s of removal"
                )
