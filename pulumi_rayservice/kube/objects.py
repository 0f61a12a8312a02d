"""The shapes of the raw Kubernetes objects that cross this package's modules, as TypedDicts.

The API server answers JSON; :class:`~.client.KubeClient` hands it on as plain dicts, and the
provider, the waits and the readiness rules read them. These types name the fields read here (all
optional: ``total=False``, since a server may leave any of them out and nothing is validated on
the way in), so a reader sees which object a function takes and mypy sees a misspelt key.
:func:`meta` and :func:`status` read the two parts nearly every caller needs, absent or null
counted as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

__all__ = [
    "RawCondition",
    "RawEvent",
    "RawMeta",
    "RawObject",
    "RawObjectReference",
    "RawStatus",
    "meta",
    "status",
]


class RawMeta(TypedDict, total=False):
    """``metadata`` of any object (``ObjectMeta``): the fields read or written here."""

    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    deletionTimestamp: str
    finalizers: list[str]
    labels: dict[str, str]
    annotations: dict[str, str]


class RawCondition(TypedDict, total=False):
    """One entry of ``status.conditions`` (``metav1.Condition``)."""

    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str


class RawStatus(TypedDict, total=False):
    """``status`` of a RayCluster: what KubeRay reports (``RayClusterStatus``), the parts read."""

    state: str
    observedGeneration: int
    conditions: list[RawCondition]
    readyWorkerReplicas: int
    desiredWorkerReplicas: int


class RawObject(TypedDict, total=False):
    """A whole object as the API server returns it (a RayCluster, a Lease)."""

    apiVersion: str
    kind: str
    metadata: RawMeta
    spec: dict[str, Any]
    status: RawStatus


class RawObjectReference(TypedDict, total=False):
    """``involvedObject`` of an Event: what the event is about."""

    kind: str
    name: str
    namespace: str


class RawEvent(TypedDict, total=False):
    """A ``core/v1`` Event: why a cluster or one of its pods is not coming up."""

    type: str
    reason: str
    message: str
    involvedObject: RawObjectReference
    lastTimestamp: str
    eventTime: str
    firstTimestamp: str


def meta(obj: Mapping[str, Any] | None) -> RawMeta:
    """``obj.metadata``; ``{}`` when the object, or its metadata, is missing or null."""
    return cast(RawMeta, (obj or {}).get("metadata") or {})


def status(obj: Mapping[str, Any] | None) -> RawStatus:
    """``obj.status``; ``{}`` when the object, or its status, is missing or null."""
    return cast(RawStatus, (obj or {}).get("status") or {})
