"""A RayCluster made, awaited and deleted through the KubeRay API server's V1 cluster API.

``KubeRayApiServer(api="v1")`` is the seed's way (``POST /apis/v1/namespaces/{ns}/clusters``), and
the only cluster API of a server before v1.4 or run without V2. V1 has no update: every change is a
replacement, which the provider's diff already says (the name is generated per cluster, so the new
one is created before the old one goes). What V1 shows of a cluster is its own view
(``apiserver/pkg/model/converter.go``): ``clusterState`` (KubeRay's ``status.state``), events, and
the annotations, but no conditions and no uid. So here:

- ownership: the cluster carries this stack's and this resource's annotations (V1 clusters take
  no labels of ours); a cluster of that name without them is someone else's and is not touched;
- a taken name is a 500 from V1 (it wraps Kubernetes' AlreadyExists), an answer lost on the way a
  transport error: either way the cluster is read, and adopted only if it is ours and is the
  cluster asked for (V1 cannot change it);
- ready: ``clusterState`` ``ready`` (a V1 cluster is never updated, so KubeRay's sticky state is
  this cluster's), then the dashboard answering through V2's service proxy, as for V2;
- delete: only a cluster that is ours, then polled until V1 no longer finds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._util.polling import CLEANUP_TIMEOUT_S, Backoff, Deadline
from .._util.secrets import log_info, log_warn
from .._util.text import clip
from ..errors import (
    ClusterDeleteTimeoutError,
    ClusterNotReadyError,
    ClusterOwnershipError,
    InvalidInputError,
    KubeError,
    KubeTemporaryError,
    RayServiceError,
)
from ..kube.apiserver_v1 import ApiServerV1Client
from .inputs import RESOURCE_LABEL, STACK_ANNOTATION, ClusterInputs, label_value
from .v1_message import v1_cluster_message
from .waiting import await_dashboard

__all__ = ["RESOURCE_ANNOTATION", "create", "delete", "message", "read", "summary"]

RESOURCE_ANNOTATION = RESOURCE_LABEL
"""The resource a V1 cluster was made for, as an annotation (V1 takes no labels of ours)."""
READY = "ready"
_POLL = Backoff(initial_s=0.2, max_s=3.0, fast_s=30.0, fast_max_s=0.5)


def cluster_annotations(inputs: ClusterInputs) -> dict[str, str]:
    """The cluster's annotations: the program's, the stack's and the resource's."""
    return {**inputs.all_annotations(), RESOURCE_ANNOTATION: label_value(inputs.resource_name)}


def message(inputs: ClusterInputs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The V1 ``Cluster`` for these inputs, and what V1 cannot carry of them."""
    built, failures = v1_cluster_message(
        inputs.spec,
        name=inputs.name,
        namespace=inputs.namespace,
        user=label_value(inputs.stack),
        annotations=cluster_annotations(inputs),
    )
    if inputs.labels:
        failures.append(("labels", "V1's cluster API takes no labels; use annotations= or v2"))
    return built, failures


def create(inputs: ClusterInputs, deadline: Deadline) -> dict[str, Any]:
    """POST the cluster (or adopt ours), wait until ready; delete again on failure.

    Returns:
        V1's view of the ready cluster.

    """
    built, failures = message(inputs)
    if failures:  # Check refused these already; a hand-built state may not have been checked
        raise InvalidInputError("; ".join(f"{field}: {reason}" for field, reason in failures))
    target = inputs.api_server_target
    assert target is not None
    with ApiServerV1Client(target, deadline=deadline) as v1:
        try:
            v1.create_cluster(inputs.namespace, built)
        except KubeTemporaryError as error:
            existing = _read_quietly(v1, inputs)
            if existing is None:
                raise error.told(
                    "The cluster may have been created; the next `pulumi up` adopts it if so"
                ) from None
            _adopt(inputs, existing, built)
        except KubeError as error:
            existing = _read_quietly(v1, inputs)
            if existing is None:
                raise
            log_info(
                f"RayCluster {inputs.resource_id}: the name is taken ({clip(str(error), 120)})"
            )
            _adopt(inputs, existing, built)
        try:
            return _wait_ready(v1, inputs, deadline)
        except ClusterNotReadyError as error:
            raise ClusterNotReadyError(f"{error} {_after_failed_create(v1, inputs)}") from None


def read(inputs: ClusterInputs, deadline: Deadline) -> dict[str, Any] | None:
    """V1's view of the cluster, or None when it is gone or is no longer ours."""
    target = inputs.api_server_target
    assert target is not None
    with ApiServerV1Client(target, deadline=deadline) as v1:
        answer = v1.get_cluster(inputs.namespace, inputs.name)
    if answer is None or not _ours(answer, inputs):
        return None
    return answer


def delete(inputs: ClusterInputs, deadline: Deadline) -> None:
    """DELETE the cluster if it is ours, and wait until V1 no longer finds it."""
    target = inputs.api_server_target
    assert target is not None
    with ApiServerV1Client(target, deadline=deadline) as v1:
        answer = v1.get_cluster(inputs.namespace, inputs.name)
        if answer is None:
            return
        if not _ours(answer, inputs):
            log_warn(
                f"RayCluster {inputs.resource_id} is no longer the one this stack created "
                "(its annotations name another stack or resource): it was left untouched"
            )
            return
        if v1.delete_cluster(inputs.namespace, inputs.name):
            _wait_gone(v1, inputs, deadline)


def summary(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The ``readiness`` output from V1's view (it shows the state, not the conditions)."""
    state = answer.get("clusterState")
    return {
        "state": state,
        "head_pod_ready": state == READY,
        "ready_worker_replicas": 0,
        "desired_worker_replicas": 0,
        "observed_generation": 0,
    }


def _ours(answer: Mapping[str, Any], inputs: ClusterInputs) -> bool:
    found = answer.get("annotations") or {}
    return found.get(STACK_ANNOTATION) == inputs.stack and found.get(
        RESOURCE_ANNOTATION
    ) == label_value(inputs.resource_name)


def _adopt(inputs: ClusterInputs, existing: Mapping[str, Any], built: Mapping[str, Any]) -> None:
    """Accept an existing cluster of our name only if it is ours and the cluster asked for."""
    if not _ours(existing, inputs):
        raise ClusterOwnershipError(
            f"a RayCluster named {inputs.resource_id} already exists and was not made by "
            f"pulumi-rayservice for resource {inputs.resource_name!r} of stack {inputs.stack!r} "
            "(its annotations say otherwise); nothing was changed. Choose another name, or "
            "delete that cluster first"
        )
    if _shape(existing.get("clusterSpec")) != _shape(built.get("clusterSpec")):
        raise ClusterOwnershipError(
            f"RayCluster {inputs.resource_id} of this stack exists with another spec, and V1 "
            "cannot change a cluster; nothing was changed. Delete it (`pulumi destroy` of the "
            "resource, or DELETE through the API server) and run `pulumi up` again"
        )


def _shape(cluster_spec: Any) -> Any:
    """What decides that two V1 cluster specs are the same cluster (V1 answers drop zeros)."""
    if not isinstance(cluster_spec, Mapping):
        return None
    head = cluster_spec.get("headGroupSpec") or {}
    workers = cluster_spec.get("workerGroupSpec") or []
    return (
        head.get("computeTemplate"),
        head.get("image") or None,
        dict(head.get("rayStartParams") or {}),
        [
            (
                w.get("groupName"),
                w.get("computeTemplate"),
                w.get("image") or None,
                int(w.get("replicas") or 0),
                int(w.get("maxReplicas") or 0),
            )
            for w in workers
            if isinstance(w, Mapping)
        ],
    )


def _read_quietly(v1: ApiServerV1Client, inputs: ClusterInputs) -> dict[str, Any] | None:
    try:
        return v1.get_cluster(inputs.namespace, inputs.name)
    except RayServiceError:
        return None


def _wait_ready(v1: ApiServerV1Client, inputs: ClusterInputs, deadline: Deadline) -> dict[str, Any]:
    delays = _POLL.delays()
    last = ""
    while True:
        answer = v1.get_cluster(inputs.namespace, inputs.name)
        if answer is None:
            raise ClusterNotReadyError(
                f"RayCluster {inputs.resource_id} disappeared while waiting for it to be ready"
            )
        state = str(answer.get("clusterState") or "")
        if state == READY:
            break
        shown = f"clusterState {state!r}" if state else "no clusterState reported yet"
        if shown != last:
            log_info(f"RayCluster {inputs.resource_id}: {shown}")
            last = shown
        if deadline.expired():
            raise ClusterNotReadyError(
                f"RayCluster {inputs.resource_id} was not ready within {deadline.timeout_s:g}s: "
                f"{shown}." + _events(answer)
            )
        deadline.sleep(next(delays))
    if inputs.wait_for_dashboard:
        await_dashboard(inputs, deadline, state="clusterState ready")
    return answer


def _events(answer: Mapping[str, Any], limit: int = 5) -> str:
    events = [e for e in answer.get("events") or [] if isinstance(e, Mapping)]
    warnings = [e for e in events if e.get("type") == "Warning"]
    picked = (warnings or events)[-limit:]
    lines = [f"{e.get('reason', '')}: {clip(e.get('message') or '', 200)}" for e in picked]
    return f" Recent events: {' | '.join(lines)}." if lines else ""


def _wait_gone(v1: ApiServerV1Client, inputs: ClusterInputs, deadline: Deadline) -> None:
    delays = _POLL.delays()
    while v1.get_cluster(inputs.namespace, inputs.name) is not None:
        if deadline.expired():
            raise ClusterDeleteTimeoutError(
                f"RayCluster {inputs.resource_id} was still there after {deadline.timeout_s:g}s "
                "(KubeRay's finalizers?); run `pulumi destroy` again to keep waiting"
            )
        deadline.sleep(next(delays))


def _after_failed_create(v1: ApiServerV1Client, inputs: ClusterInputs) -> str:
    if inputs.keep_on_failure:
        return (
            "The RayCluster was kept for inspection (keep_on_failure=True): GET "
            f"/apis/v1/namespaces/{inputs.namespace}/clusters/{inputs.name} shows its events"
        )
    cleanup = Deadline(min(inputs.timeout_s, CLEANUP_TIMEOUT_S))
    v1.deadline = cleanup
    try:
        if v1.delete_cluster(inputs.namespace, inputs.name):
            _wait_gone(v1, inputs, cleanup)
    except RayServiceError as error:
        return f"Deleting it again failed ({error}); it may still exist"
    return "It was deleted again; nothing was left in the cluster"
