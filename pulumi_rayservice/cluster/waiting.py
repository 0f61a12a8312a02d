"""Waiting for a RayCluster to become ready or to be gone, and saying why it did not.

A RayCluster takes from seconds (a warm image) to many minutes (a multi-GB image pull, a node pool
scaling up) to come up, and its deletion waits for KubeRay's finalizers. So the waits here:

- watch first: a watch from the last seen ``resourceVersion`` returns on the operator's next write,
  so the end of a wait is seen as it happens at one request per change (at most a minute each),
  not a poll every fraction of a second. When the watch cannot be used (no RBAC ``watch`` verb,
  410 Gone, a dropped stream: ``WatchUnavailable``) the waiter polls with backoff for the rest of
  the call;
- check the dashboard: KubeRay's "head pod ready" is not yet usable; the dashboard must also answer
  through the API server proxy, the way ``ServeApplication`` reaches it next (unless
  ``wait_for_dashboard=False``). No object change announces that, so that part is polled;
- fail with a message a user can act on: on timeout, what was still missing, the cluster's
  conditions and recent events (image pull errors, unschedulable pods); after a failed create,
  whether the object was deleted again or kept for ``kubectl describe``.
"""

from __future__ import annotations

from .._util.polling import CLEANUP_TIMEOUT_S, Backoff, Deadline
from .._util.retry import RetryPolicy
from .._util.secrets import log_info
from ..errors import (
    ApiServerRefusedError,
    ClusterDeleteTimeoutError,
    ClusterNotReadyError,
    DashboardAuthError,
    RayServiceError,
)
from ..kube.client import GONE, RAY_CLUSTER, KubeClient, WatchUnavailable
from ..kube.objects import RawObject, meta
from ..serve.client import DashboardClient
from . import readiness
from .inputs import ClusterInputs

__all__ = [
    "CLEANUP_TIMEOUT_S",
    "after_failed_create",
    "await_dashboard",
    "wait_gone",
    "wait_ready",
]

#: How long the events that explain a timeout are read for, once the deadline has passed.
DIAGNOSIS_S = 5.0
#: The least time the read after a wait gets (the wait may have slept up to its deadline).
LAST_READ_S = 2.0
#: The most one readiness probe of the dashboard may take (it answers in milliseconds).
PROBE_S = 10.0


def wait_ready(
    kube: KubeClient, inputs: ClusterInputs, deadline: Deadline, obj: RawObject
) -> RawObject:
    """Wait until KubeRay reports the head ready AND the dashboard answers through the proxy.

    ``obj`` is the object as the last write returned it; changes are awaited with a watch from
    its resourceVersion (polling once the operator's part is done and only the dashboard is
    awaited, or when watching is not allowed).

    Returns:
        The ready object, as last read.

    Raises:
        ClusterNotReadyError: Not ready by ``deadline`` (with the reason, conditions and recent
            events), or the object disappeared meanwhile.

    """
    waiter = _ChangeWaiter(kube, inputs)
    with _DashboardProbe(inputs, deadline) as probe:
        return _wait_ready(kube, inputs, deadline, obj, waiter, probe)


def _wait_ready(
    kube: KubeClient,
    inputs: ClusterInputs,
    deadline: Deadline,
    obj: RawObject,
    waiter: _ChangeWaiter,
    probe: _DashboardProbe,
) -> RawObject:
    last_reason = ""
    while True:
        state = readiness.Readiness.of(obj)
        reason = state.reason
        if state.ready and not inputs.wait_for_dashboard:
            return obj
        if state.ready:
            problem = probe.problem()
            if problem is None:
                return obj
            reason = f"head pod ready, dashboard not answering through the proxy yet ({problem})"
        if reason != last_reason:
            log_info(f"RayCluster {inputs.resource_id}: {reason}")
            last_reason = reason
        if deadline.expired():
            with kube.within(Deadline(DIAGNOSIS_S)):
                events = readiness.describe_events(kube.events_for(inputs.namespace, inputs.name))
            raise ClusterNotReadyError(
                f"RayCluster {inputs.resource_id} was not ready within {deadline.timeout_s:g}s: "
                f"{reason}. Conditions: {readiness.describe_conditions(obj)}."
                + (f" Recent events: {events}." if events else "")
            )
        changed = waiter.next(obj, deadline, poll=state.ready)
        if changed is GONE:
            raise ClusterNotReadyError(
                f"RayCluster {inputs.resource_id} disappeared while waiting for it to be ready"
            )
        obj = changed


def wait_gone(kube: KubeClient, inputs: ClusterInputs, deadline: Deadline) -> None:
    """Wait until the object is gone (KubeRay's finalizers run first).

    Raises:
        ClusterDeleteTimeoutError: Still terminating at ``deadline`` (naming the finalizers
            left).

    """
    with kube.within(deadline):
        _wait_gone(kube, inputs, deadline)


def _wait_gone(kube: KubeClient, inputs: ClusterInputs, deadline: Deadline) -> None:
    obj = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
    waiter = _ChangeWaiter(kube, inputs)
    while obj is not None and obj is not GONE:
        if deadline.expired():
            finalizers = meta(obj).get("finalizers") or []
            raise ClusterDeleteTimeoutError(
                f"RayCluster {inputs.resource_id} was still terminating after "
                f"{deadline.timeout_s:g}s (finalizers: {', '.join(finalizers) or 'none'}); "
                "run `pulumi destroy` again to keep waiting"
            )
        obj = waiter.next(obj, deadline, poll=False)


def await_dashboard(inputs: ClusterInputs, deadline: Deadline, *, state: str) -> None:
    """Poll until the dashboard answers through the target's proxy (a cluster made through V1).

    Raises:
        ClusterNotReadyError: no answer by ``deadline``, with the last reason.

    """
    delays = Backoff(initial_s=0.2, max_s=3.0, fast_s=30.0, fast_max_s=0.5).delays()
    with _DashboardProbe(inputs, deadline) as probe:
        while (problem := probe.problem()) is not None:
            if deadline.expired():
                raise ClusterNotReadyError(
                    f"RayCluster {inputs.resource_id} was not ready within "
                    f"{deadline.timeout_s:g}s: {state}, dashboard not answering through the "
                    f"proxy ({problem})"
                )
            deadline.sleep(next(delays))


class _DashboardProbe:
    """Asks the dashboard for its version through the proxy, on one client for the whole wait.

    One client: the kubeconfig is loaded (an exec plugin run) once, not on every probe, and its
    token is refreshed only when it expires. Each probe is one try, bounded by the deadline.
    """

    def __init__(self, inputs: ClusterInputs, deadline: Deadline) -> None:
        self._inputs = inputs
        self._deadline = deadline
        self._client: DashboardClient | None = None

    def problem(self) -> str | None:
        """None when the dashboard answers, else why not."""
        try:
            if self._client is None:
                self._client = DashboardClient.for_target(
                    self._inputs.dashboard_target(),
                    retry=RetryPolicy(attempts=1, request_s=PROBE_S),
                    deadline=self._deadline,
                )
            self._client.version()
        except (ApiServerRefusedError, DashboardAuthError) as error:
            if self._inputs.api_server is None:
                return str(error)
            # The KubeRay API server refuses for good (no V2, its RBAC, its token): waiting
            # until the timeout would only hide it.
            raise ClusterNotReadyError(
                f"RayCluster {self._inputs.resource_id}: the dashboard cannot be reached through "
                f"the KubeRay API server ({error}); wait_for_dashboard=False waits for the "
                "cluster alone"
            ) from None
        except RayServiceError as error:
            return str(error)
        return None

    def __enter__(self) -> _DashboardProbe:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._client is not None:
            self._client.close()


class _ChangeWaiter:
    """The next state of one RayCluster: by watch while it works, else by polling with backoff."""

    def __init__(self, kube: KubeClient, inputs: ClusterInputs) -> None:
        self._kube = kube
        self._inputs = inputs
        self._watch = kube.can_watch  # through the KubeRay API server a watch arrives at its end
        self._delays = Backoff(initial_s=0.2, max_s=3.0, fast_s=30.0, fast_max_s=0.5).delays()

    def next(self, obj: RawObject, deadline: Deadline, *, poll: bool) -> RawObject:
        """The object after its next change (or a fresh read), or ``GONE``."""
        version = meta(obj).get("resourceVersion")
        if self._watch and not poll and version:
            try:
                changed = self._kube.next_change(
                    RAY_CLUSTER, self._inputs.namespace, self._inputs.name, str(version),
                    timeout_s=min(deadline.remaining(), 60.0),
                )  # fmt: skip
                if changed is not None:
                    return changed
            except WatchUnavailable as error:
                self._watch = False
                log_info(f"RayCluster {self._inputs.resource_id}: {error}; polling")
        else:
            deadline.sleep(next(self._delays))
        with self._kube.within(deadline.at_least(LAST_READ_S)):
            fresh = self._kube.get(RAY_CLUSTER, self._inputs.namespace, self._inputs.name)
        return GONE if fresh is None else fresh


def after_failed_create(kube: KubeClient, inputs: ClusterInputs) -> str:
    """Delete the failed cluster again (unless kept); say what was left."""
    if inputs.keep_on_failure:
        return (
            f"The RayCluster was kept for inspection (keep_on_failure=True): "
            f"kubectl -n {inputs.namespace} describe raycluster {inputs.name}"
        )
    cleanup = Deadline(min(inputs.timeout_s, CLEANUP_TIMEOUT_S))
    try:
        with kube.within(cleanup):
            if kube.delete(RAY_CLUSTER, inputs.namespace, inputs.name):
                wait_gone(kube, inputs, cleanup)
    except RayServiceError as error:
        return f"Deleting it again failed ({error}); it may still exist"
    return "It was deleted again; nothing was left in the cluster"
