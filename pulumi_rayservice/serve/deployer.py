"""Deploy, replace and remove ONE Serve application on a cluster that others share.

Serve's PUT replaces the whole set of applications and has no ETag or lock, so every change is a
read-merge-write of the whole config, and the first rule is that what belongs to someone else is
never changed, whatever fails and whoever else writes at the same time:

- The write runs under the cluster's writer lock (:mod:`.writer_lock`): in-process, plus a Lease
  or a machine-wide file lock, so writers that take it never interleave.
- The read is proven before it is merged: the dashboard answers Serve's EMPTY schema both when
  Serve is stopped and when it cannot reach the controller (a restart, a slow GCS). Writing on the
  second would drop every app, so an empty answer is believed only when Ray's state API shows no
  live Serve controller; in doubt nothing is written.
- Other owners' apps are carried over exactly as Serve reports them (nulls, ``1.0``, every key);
  our own app is sent as the checked inputs give it, normalized once where it entered the
  provider (:mod:`.inputs`): nothing here normalizes again. Apps deployed from Python
  (``serve.run``) cannot be carried: on a Ray that would delete them the write is refused,
  naming them.
- The PUT is sent once. A lost answer is settled by reading, and a retry reads and merges again:
  a body built from an old read is never sent.
- Every write is verified by reading again: ours is as written and every other app that was there
  still is. An app dropped meanwhile by a writer that takes no lock (``serve deploy``, a raw PUT)
  is put back by merging again, a bounded number of times, with a warning naming it.

A 200 from PUT only means "accepted": the waits poll with backoff until the app is RUNNING with
every deployment HEALTHY, Serve says DEPLOY_FAILED, or the deadline passes; if our app vanishes or
changes while we wait, another writer replaced the config and the wait fails at once.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi

from .._util.polling import Backoff, Deadline
from ..errors import (
    AppOwnershipError,
    ConcurrentWriterError,
    DashboardAuthError,
    DashboardError,
    DashboardUnreachableError,
    ImperativeAppsError,
    ServeConfigRejectedError,
    ServeDeployError,
    ServeStateUnknownError,
)
from .ownership import Claim
from .ray_versions import KEEPS_IMPERATIVE_APPS_SINCE, RayRelease, show
from .status import CONTROLLER_DEAD, AppState, ServeSnapshot, same_config
from .writer_lock import HeldLock

MAX_MERGES = 3
"""How many times a write is merged again after another writer dropped an app meanwhile."""
STATE_PROOF_S = 30.0
"""How long an empty answer with a live controller is read again before the write is refused."""
BUILD_WAIT_S = 30.0
"""How long a write waits for other apps' first builds to end before it restarts them anyway."""
READ_BACK_GRACE_S = 5.0
"""Seconds the read after a PUT gets even when the PUT used up the deadline."""
POLL_FIRST_S = 0.05
POLL_STEADY_S = 1.0
"""Polls come every ``POLL_FIRST_S`` for the first ``POLL_STEADY_S``, then back off: an in-place
update (a new ``user_config``) is RUNNING again within about 0.3 s, and a coarser schedule adds
most of an interval to every such update (bench/serve_bench.py)."""
POLL_READ_FLOOR_S = 2.0
"""Seconds the last read of a wait gets when the wait slept up to its deadline."""


class ServeApi(Protocol):
    """The dashboard calls the deployer makes (:class:`.client.DashboardClient` has them)."""

    description: str
    """The dashboard, for messages."""

    def get_applications(self, *, deadline: Deadline | None = None) -> dict[str, Any]:
        """Serve's declarative GET answer: settings, every app's config and status."""
        ...

    def put_applications(
        self, config: Mapping[str, Any], *, deadline: Deadline | None = None
    ) -> None:
        """Serve's PUT: replace the whole set of declarative apps, sent once."""
        ...

    def serve_controller_states(self, *, deadline: Deadline | None = None) -> list[str]:
        """The states of Serve's controller actors, from Ray's state API."""
        ...

    def version(self, *, deadline: Deadline | None = None) -> dict[str, Any]:
        """The dashboard's API and Ray versions."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...


WriterLock = Callable[[Deadline], "contextlib.AbstractContextManager[HeldLock]"]
"""Takes the cluster's writer lock until the deadline (see :func:`.writer_lock.writer_lock`)."""
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Applied:
    """What an ``apply`` did: the app as it was before, and whether a PUT was sent."""

    before: AppState | None
    put: bool
    after: ServeSnapshot | None = None
    """The read that verified the PUT: the wait for the outcome starts from it."""


def _require_running_options(running: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Refuse cluster-level options that differ from what the running Serve uses.

    ``running`` and ``wanted`` are both normalized (:attr:`.ServeSnapshot.compared_settings`,
    :class:`.AppInputs`).
    """
    differences = []
    for key, value in wanted.items():
        current = running.get(key)
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


@dataclass
class ServeDeployer:
    """Read-merge-write and waits for one app name on one dashboard.

    ``wrote`` records whether a PUT may have changed the cluster (sent, and not refused by Serve's
    schema check): the provider cleans up or rolls back only then. ``replaced`` is the app as it
    ran before the first such PUT (what a failed adoption puts back).
    """

    client: ServeApi
    lock: WriterLock
    backoff: Backoff = field(
        default_factory=lambda: Backoff(initial_s=POLL_FIRST_S, steady_s=POLL_STEADY_S)
    )
    warn: Warn = pulumi.log.warn
    max_merges: int = MAX_MERGES
    state_proof_s: float = STATE_PROOF_S
    build_wait_s: float = BUILD_WAIT_S
    wrote: bool = False
    replaced: AppState | None = None
    _release: RayRelease | None = field(default=None, repr=False)

    def __enter__(self) -> ServeDeployer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()

    @property
    def where(self) -> str:
        """The dashboard, for messages."""
        return self.client.description

    # reading ------------------------------------------------------------------------------------

    def release(self, deadline: Deadline) -> RayRelease:
        """The cluster's Ray, asked once per operation (``GET /api/version``).

        Raises:
            DashboardError: the dashboard did not answer.

        """
        if self._release is None:
            reported = self.client.version(deadline=deadline.at_least(POLL_READ_FLOOR_S))
            self._release = RayRelease(str(reported.get("ray_version") or ""))
        return self._release

    def snapshot(self, deadline: Deadline | None = None) -> ServeSnapshot:
        """What Serve reports now (every app, whatever deployed it), read by ``deadline``."""
        return ServeSnapshot.from_details(self.client.get_applications(deadline=deadline))

    def proven_snapshot(self, deadline: Deadline) -> ServeSnapshot:
        """What runs now, proven: an empty answer is believed only when Serve is proven stopped.

        Raises:
            ServeStateUnknownError: Serve's controller lives but the dashboard cannot reach it,
                or whether it lives cannot be told; nothing is written on such a read.

        """
        delays = self.backoff.delays()
        proof_deadline = Deadline(min(deadline.remaining(), self.state_proof_s))
        while True:
            snapshot = self.snapshot(deadline.at_least(POLL_READ_FLOOR_S))
            if snapshot.running or snapshot.apps:
                return snapshot
            try:
                states = self.client.serve_controller_states(
                    deadline=deadline.at_least(POLL_READ_FLOOR_S)
                )
            except DashboardError as error:
                raise ServeStateUnknownError(
                    f"{self.where} reports no Serve apps and whether Serve runs cannot be "
                    f"told ({error}); nothing was written"
                ) from None
            alive = [state for state in states if state != CONTROLLER_DEAD]
            if not alive:
                return snapshot  # proven: no Serve controller lives on this cluster
            if not proof_deadline.sleep(next(delays)):
                raise ServeStateUnknownError(
                    f"{self.where} reports no Serve apps, but Serve's controller actor is "
                    f"{alive[0]}: the dashboard cannot reach it (a controller restart or a slow "
                    f"GCS) and answered so for {proof_deadline.timeout_s:g}s. Nothing was "
                    "written; run again once Serve answers"
                )

    def _without_builds(
        self, snapshot: ServeSnapshot, name: str, deadline: Deadline
    ) -> ServeSnapshot:
        """Let other apps' first builds end before writing (a PUT would restart them), bounded.

        Serve restarts the build of an app still deploying its first version on every PUT, even
        an unchanged one: writing now would set another owner's deploy (or our own app's sibling
        in the same ``up``) back to the start. Build waits are a few seconds; after
        ``BUILD_WAIT_S`` the write goes ahead.
        """
        wait = Deadline(min(self.build_wait_s, deadline.remaining()))
        delays = self.backoff.delays()
        while snapshot.building(except_name=name) and wait.sleep(next(delays)):
            snapshot = self.proven_snapshot(deadline)
        return snapshot

    # writing ------------------------------------------------------------------------------------

    def apply(
        self,
        name: str,
        desired: Mapping[str, Any] | None,
        *,
        deadline: Deadline,
        claim: Claim | None = None,
        serve_options: Mapping[str, Any] | None = None,
        initial_target_capacity: int | None = None,
    ) -> Applied:
        """Make the cluster's config hold ``desired`` for app ``name`` (None: remove it).

        ``desired`` and ``serve_options`` are our own, as :class:`.AppInputs` gives them
        (normalized): they are sent and compared as given. Sends no PUT when the cluster already
        runs exactly that (an identical PUT still bumps Serve's deploy time and makes the app
        report DEPLOYING for a moment). ``serve_options`` (http_options, grpc_options,
        proxy_location) go with the PUT that starts Serve; on a running Serve, which ignores
        them, a difference is an error instead of a silent no-op. ``claim`` (a create's) is
        checked under the lock against what runs, before anything is written
        (:mod:`.ownership`). ``initial_target_capacity`` goes with the PUT that starts Serve
        (an incremental upgrade's new cluster starts at 0); a running Serve keeps its own.

        Raises:
            ConcurrentWriterError: other writers kept changing the config under us.
            ServeStateUnknownError, ImperativeAppsError, AppOwnershipError (``claim``),
                LockTimeoutError: refused before anything was written.
            DashboardError: the dashboard failed; ``wrote`` says whether a PUT may have landed.

        """
        wanted = dict(desired) if desired is not None else None
        return self._apply(
            name,
            wanted,
            wanted,
            deadline=deadline,
            ours=True,
            claim=claim,
            serve_options=serve_options,
            initial_target_capacity=initial_target_capacity,
        )

    def put_back(self, name: str, state: AppState, *, deadline: Deadline) -> Applied:
        """Make the cluster run ``state``'s config for app ``name`` again (an adopted app).

        The config is someone else's: it is sent exactly as Serve reported it (nulls, ``1.0``,
        every key), and compared in its normalized form. ``apply``'s failures apply.
        """
        if state.config is None or state.deployed_app_config is None:
            raise ValueError(f"{name!r} has no declarative config to put back")
        return self._apply(
            name,
            state.deployed_app_config,
            copy.deepcopy(state.config),
            deadline=deadline,
            ours=False,
        )

    def set_target_capacity(
        self, percent: int, *, ours: Collection[str], deadline: Deadline
    ) -> bool:
        """Set Serve's ``target_capacity`` (percent of every deployment's replicas) to ``percent``.

        ``target_capacity`` is cluster-wide: it scales every app on the cluster. So it is set
        only where every app is one of ``ours`` (another owner's app would be scaled without its
        owner's say); every app is sent back exactly as read, and the write is verified by
        reading again. Returns whether a PUT was sent (not when it already holds).

        Raises:
            AppOwnershipError: the cluster also runs apps that are not ``ours``; nothing written.
            ConcurrentWriterError: another writer changed the config under us.
            ServeStateUnknownError, ImperativeAppsError, LockTimeoutError: nothing written.

        """
        release = self.release(deadline)
        release.require_supported(self.where)
        release.require_target_capacity(self.where)
        with self.lock(deadline) as held:
            snapshot = self.proven_snapshot(deadline)
            if snapshot.settings.get("target_capacity") == percent:
                return False  # nothing to write: nobody's apps are touched
            others = sorted(name for name in snapshot.apps if name not in ours)
            if others:
                raise AppOwnershipError(
                    f"{self.where} also runs {', '.join(map(repr, others))}, which this service "
                    "does not own: its target_capacity scales every app there, so it was not "
                    "changed (nothing was written)"
                )
            self._refuse_imperative(snapshot, "", deadline)
            carried = snapshot.carried_configs(except_name="")
            body = {
                **snapshot.settings,
                "target_capacity": percent,
                "applications": list(carried.values()),
            }
            held.check_held()
            unanswered = self._put("target_capacity", body, deadline)
            after = self.snapshot(deadline.at_least(READ_BACK_GRACE_S))
            missing = sorted(name for name in carried if name not in after.apps)
            if after.settings.get("target_capacity") != percent or missing:
                seen = after.settings.get("target_capacity")
                raise ConcurrentWriterError(
                    f"target_capacity {percent} was sent to {self.where}, but reading back shows "
                    f"{seen!r}"
                    + (f" and {', '.join(map(repr, missing))} missing" if missing else "")
                    + (f" ({unanswered})" if unanswered else "")
                    + ": another writer changed the config meanwhile. Run again"
                )
            return True

    def _apply(
        self,
        name: str,
        wanted: dict[str, Any] | None,
        to_send: dict[str, Any] | None,
        *,
        deadline: Deadline,
        ours: bool,
        claim: Claim | None = None,
        serve_options: Mapping[str, Any] | None = None,
        initial_target_capacity: int | None = None,
    ) -> Applied:
        """``apply`` of ``to_send``, compared with what runs in its normalized form ``wanted``.

        The cluster's Ray is checked before the lock is taken: on a Ray that cannot be driven, or
        that would ignore a field of ``ours`` (a config ``put_back`` sends is what this very Ray
        reported), nothing is written, not even a Lease.
        """
        release = self.release(deadline)
        release.require_supported(self.where)
        if ours:
            release.require_known(
                self.where,
                app=wanted,
                serve_options=serve_options,
                initial_target_capacity=initial_target_capacity,
            )
        with self.lock(deadline) as held:
            snapshot = self._without_builds(self.proven_snapshot(deadline), name, deadline)
            before = snapshot.apps.get(name)
            if claim is not None and wanted is not None:
                claim.check(snapshot, name, wanted, self.where)
            current = None if before is None or before.is_deleting else before.deployed_app_config
            # A failed app is PUT again even when unchanged: that is how Serve retries a deploy.
            if wanted == current and not (before is not None and before.is_failed):
                return Applied(before=before, put=False)
            if wanted is None and current is None:
                return Applied(before=before, put=False)  # not there, or on its way out
            self._refuse_imperative(snapshot, name, deadline)
            settings = dict(snapshot.settings)
            if serve_options and wanted is not None:
                if snapshot.running:
                    _require_running_options(snapshot.compared_settings, serve_options)
                else:
                    settings.update(serve_options)
            if initial_target_capacity is not None and not snapshot.running and wanted:
                settings["target_capacity"] = initial_target_capacity
            if not self.wrote:
                self.replaced = before
            after = self._write(name, wanted, to_send, snapshot, settings, held, deadline)
            return Applied(before=before, put=True, after=after)

    def _write(
        self,
        name: str,
        wanted: dict[str, Any] | None,
        to_send: dict[str, Any] | None,
        snapshot: ServeSnapshot,
        settings: dict[str, Any],
        held: HeldLock,
        deadline: Deadline,
    ) -> ServeSnapshot:
        """PUT ``to_send`` merged into ``snapshot``, verify; merge again while others drop apps.

        Verified means: Serve runs ``wanted`` (the normalized form of ``to_send``) for ``name``,
        and every app carried is still there. Returns the read that verified it.
        """
        carried = snapshot.carried_configs(except_name=name)
        for round_ in range(1, self.max_merges + 2):
            body = {
                **settings,
                "applications": [*carried.values(), *([to_send] if to_send is not None else [])],
            }
            held.check_held()
            unanswered = self._put(name, body, deadline)
            after = self._read_after_write(name, wanted, deadline)
            dropped = sorted(
                other
                for other in carried
                if other not in after.apps or after.apps[other].is_deleting
            )
            ours_written = _holds(after, name, wanted)
            if unanswered is not None and not ours_written and deadline.expired():
                # Not a writer race: our PUT got no answer, Serve does not show it and there is
                # no time for another. It may still arrive (a proxy holding it), so it counts as
                # written for the cleanup. With time left, it is merged and sent again below.
                raise DashboardUnreachableError(
                    f"{unanswered}; read back afterwards, Serve does not run {name!r} as sent",
                    maybe_applied=True,
                ) from None
            if ours_written and not dropped:
                return after
            if round_ > self.max_merges:
                break
            # Someone wrote between our read and our write without the lock (``serve deploy``,
            # a raw PUT, an older writer) and dropped apps: put back what they dropped.
            if dropped:
                self.warn(
                    f"another writer that takes no lock dropped {', '.join(map(repr, dropped))} "
                    f"from {self.where} while {name!r} was written; putting "
                    + ("it back as it was" if len(dropped) == 1 else "them back as they were")
                )
            fresh = after.carried_configs(except_name=name)
            carried = {**fresh, **{other: carried[other] for other in dropped}}
            settings = dict(after.settings) or settings
            if deadline.expired():
                break
        raise ConcurrentWriterError(
            f"other writers kept replacing the Serve config of {self.where} while {name!r} was "
            f"written ({self.max_merges + 1} writes, each undone); last seen: {name!r} "
            f"{'as written' if ours_written else 'not as written'}"
            + (f", {', '.join(map(repr, dropped))} missing" if dropped else "")
            + ". Stop the other writer (it takes no lock) and run again"
        )

    def _put(
        self, name: str, body: Mapping[str, Any], deadline: Deadline
    ) -> DashboardUnreachableError | None:
        """Send the PUT once; record whether it may have changed the cluster.

        Returns the failure when the PUT may have reached Serve but no answer came back (what
        happened is read next), else None.
        """
        try:
            self.client.put_applications(body, deadline=deadline)
        except (ServeConfigRejectedError, DashboardAuthError):
            raise  # refused (Serve's schema check, or an authorization): nothing changed
        except DashboardUnreachableError as error:
            if not error.maybe_applied:
                raise  # never reached Serve
            self.wrote = True  # the answer was lost: what happened is read below
            return error
        except DashboardError:
            self.wrote = True  # a server answered oddly: read what happened below
        else:
            self.wrote = True
        return None

    def _read_after_write(
        self, name: str, wanted: Mapping[str, Any] | None, deadline: Deadline
    ) -> ServeSnapshot:
        """Read again after a PUT; a read that fails leaves the outcome unknown, said so.

        The read gets at least ``READ_BACK_GRACE_S`` even when the PUT used up the deadline: what
        a write did must be known before anything else is decided.
        """
        try:
            return self.snapshot(deadline.at_least(READ_BACK_GRACE_S))
        except DashboardError as error:
            raise DashboardError(
                f"the Serve config was sent to {self.where} but reading it back failed ({error}):"
                f" {name!r} may now run there "
                + ("with the new config" if wanted is not None else "or be removed")
                + "; other apps were sent back as they were. Run `pulumi refresh`, then "
                "`pulumi up` again"
            ) from None

    def _refuse_imperative(self, snapshot: ServeSnapshot, name: str, deadline: Deadline) -> None:
        """Refuse to write where a PUT would delete apps deployed from Python code."""
        names = [other for other in snapshot.imperative_apps() if other != name]
        if not names:
            return
        release = self.release(deadline)
        if release.keeps_imperative_apps:
            return  # this Ray keeps them: they are not in the PUT, and need not be
        raise ImperativeAppsError(
            f"{self.where} runs apps deployed from Python code (serve.run): "
            f"{', '.join(map(repr, names))}. {release.describe()} deletes such apps on a "
            f"declarative PUT (Ray {show(KEEPS_IMPERATIVE_APPS_SINCE)} and later keep them); "
            "nothing was written. Deploy them declaratively (as ServeApplications) or upgrade Ray"
        )

    # waiting ------------------------------------------------------------------------------------

    def wait_applied(
        self, name: str, applied: Applied, deadline: Deadline, wanted: Mapping[str, Any] | None
    ) -> AppState:
        """Wait for the outcome of an ``apply``: a new deploy if it PUT, else the current one.

        ``wanted`` is the config applied, normalized (what ``apply`` took, or ``put_back``'s
        ``deployed_app_config``).
        """
        return self.wait_running(
            name,
            since=applied.before if applied.put else None,
            deadline=deadline,
            wanted=wanted,
            first=applied.after,
        )

    def wait_running(
        self,
        name: str,
        *,
        since: AppState | None,
        deadline: Deadline,
        wanted: Mapping[str, Any] | None = None,
        first: ServeSnapshot | None = None,
    ) -> AppState:
        """Poll until ``name`` is RUNNING with all deployments HEALTHY after our PUT.

        ``since`` is the app as it was before the PUT: a status older than that PUT (same
        ``last_deployed_time_s``) is not an answer yet. ``wanted`` is the config we wrote
        (normalized): if the app disappears or runs another config, another writer replaced the
        config. ``first`` is a read made a moment ago (the PUT's verification): it is the first
        look, not read again.

        Raises:
            ServeDeployError: DEPLOY_FAILED (Serve's message), or the deadline passed (the
                app's and the stuck deployments' messages).
            ConcurrentWriterError: our app was removed or changed by another writer.

        """
        stale_time = since.last_deployed_time_s if since is not None else None
        delays = self.backoff.delays()
        last: AppState | None = None
        deploy_times: set[float] = set()
        while True:
            snapshot = first or self.snapshot(deadline.at_least(POLL_READ_FLOOR_S))
            first = None
            state = snapshot.apps.get(name)
            if wanted is not None:
                _require_ours(self.where, name, state, wanted)
            if state is not None and (
                stale_time is None or state.last_deployed_time_s != stale_time
            ):
                last = state
                if state.last_deployed_time_s is not None:
                    deploy_times.add(state.last_deployed_time_s)
                if state.is_running:
                    return state
                if state.is_failed:
                    raise ServeDeployError(f"Serve could not deploy {name!r}: {state.explain()}")
            if not deadline.sleep(next(delays)):
                seen = last.explain() if last is not None else "not listed by Serve yet"
                if len(deploy_times) > 1:
                    # Every PUT of the config restarts the build of an app still deploying its
                    # first version, whoever sends it.
                    seen += (
                        f"; other writers sent the config {len(deploy_times) - 1} more times "
                        "meanwhile, and Serve restarts an app's first deploy on every PUT"
                    )
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
            state = self.snapshot(deadline.at_least(POLL_READ_FLOOR_S)).apps.get(name)
            if state is None:
                return
            if not deadline.sleep(next(delays)):
                raise ServeDeployError(
                    f"{name!r} was still {state.status} on the cluster after "
                    f"{deadline.timeout_s:g}s of removal"
                )


def _holds(snapshot: ServeSnapshot, name: str, wanted: Mapping[str, Any] | None) -> bool:
    """Whether the cluster holds our app as written (or no longer holds it, for a removal)."""
    state = snapshot.apps.get(name)
    if wanted is None:
        return state is None or state.is_deleting
    return (
        state is not None
        and not state.is_deleting
        and state.deployed_app_config is not None
        and same_config(state.deployed_app_config, wanted)
    )


def _require_ours(where: str, name: str, state: AppState | None, wanted: Mapping[str, Any]) -> None:
    """Fail at once when our app was removed or rewritten by someone else while we wait."""
    if state is None or state.is_deleting:
        raise ConcurrentWriterError(
            f"another writer replaced the Serve config of {where}: {name!r} was "
            + ("removed" if state is None else "set to be deleted")
            + " while it was deploying. Nothing else was changed by this operation; find the "
            "other writer (it takes no lock) and run again"
        )
    if state.deployed_app_config is not None and not same_config(state.deployed_app_config, wanted):
        raise ConcurrentWriterError(
            f"another writer replaced the Serve config of {where}: {name!r} now runs a config "
            "other than the one written. Find the other writer (it takes no lock) and run again"
        )
