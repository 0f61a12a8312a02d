"""When is a RayCluster ready, and what to say when it is not.

``status.state`` becomes ``ready`` once in KubeRay and never goes back, so it is not trusted alone.
Ready here means: the operator has seen the current generation (``observedGeneration``), the head
Pod is ready (condition ``HeadPodReady``), and the dashboard answers through the chosen target
(checked by :mod:`.waiting`, not here). What is not ready is explained from the conditions and the
recent events of the cluster and its pods (image pull errors, unschedulable pods).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._util.text import clip
from ..kube.objects import RawCondition, RawEvent, RawObject, meta, status

HEAD_POD_READY = "HeadPodReady"
PROVISIONED = "RayClusterProvisioned"
REPLICA_FAILURE = "ReplicaFailure"


@dataclass(frozen=True)
class Readiness:
    """The operator's view of one RayCluster object."""

    ready: bool
    reason: str

    @classmethod
    def of(cls, obj: RawObject) -> Readiness:
        """Judge a RayCluster object read from the API server."""
        metadata = meta(obj)
        if metadata.get("deletionTimestamp"):
            return cls(False, "the RayCluster is being deleted")
        generation = int(metadata.get("generation") or 0)
        observed = int(status(obj).get("observedGeneration") or 0)
        if observed < generation:
            return cls(
                False,
                f"KubeRay has not reconciled generation {generation} yet "
                f"(observedGeneration {observed}; is the KubeRay operator running?)",
            )
        head = condition(obj, HEAD_POD_READY)
        if head is None:
            return cls(False, "head pod not reported yet (no HeadPodReady condition)")
        if head.get("status") != "True":
            return cls(False, f"head pod not ready: {describe_condition(head)}")
        return cls(True, "head pod ready")


def condition(obj: RawObject, kind: str) -> RawCondition | None:
    """The status condition of type ``kind``, or None."""
    for cond in status(obj).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def describe_condition(cond: RawCondition) -> str:
    """``Type=Status (Reason: message)`` as one short line."""
    text = f"{cond.get('type')}={cond.get('status')}"
    reason = str(cond.get("reason") or "")
    message = clip(cond.get("message") or "", 200)
    if reason or message:
        text += f" ({reason}{': ' if reason and message else ''}{message})"
    return text


def describe_conditions(obj: RawObject) -> str:
    """Every condition of the object, for a timeout message."""
    conds = [describe_condition(c) for c in status(obj).get("conditions") or []]
    return "; ".join(conds) if conds else "no conditions reported"


def describe_events(events: Sequence[RawEvent], limit: int = 5) -> str:
    """The most telling recent events (warnings first), one short line each."""
    warnings = [e for e in events if e.get("type") == "Warning"]
    picked = (warnings or list(events))[-limit:]
    lines = []
    for event in picked:
        target = (event.get("involvedObject") or {}).get("name", "")
        message = clip(event.get("message") or "", 200)
        lines.append(f"{event.get('reason', '')} on {target}: {message}")
    return " | ".join(lines)


def summary(obj: RawObject) -> dict[str, Any]:
    """The readiness summary exported as an output (what ``kubectl get raycluster`` shows)."""
    reported = status(obj)
    head = condition(obj, HEAD_POD_READY)
    return {
        "state": reported.get("state"),
        "head_pod_ready": bool(head and head.get("status") == "True"),
        "ready_worker_replicas": int(reported.get("readyWorkerReplicas") or 0),
        "desired_worker_replicas": int(reported.get("desiredWorkerReplicas") or 0),
        "observed_generation": int(reported.get("observedGeneration") or 0),
    }
