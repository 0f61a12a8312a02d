"""A lock record kept in an annotation of the RayCluster whose Serve config it guards.

The KubeRay API server's V2 proxy serves ray.io objects and nothing else: no Lease can be written
through it. The one object every writer of a cluster's Serve config can reach there is the
RayCluster itself, so the record lives in its annotation ``rayservice.pulumi.com/serve-config-lock``
(client-go's leader election kept its record in an annotation the same way, before Leases). Every
write of it is a merge patch conditional on the ``resourceVersion`` read, so two writers can never
both win; the operator's status updates also change that version, which only costs a re-read.

An annotation is metadata: it does not change the cluster's ``generation`` and makes KubeRay
create or restart nothing. A released lock removes the annotation, so a cluster that is someone
else's is left with no trace of ours once the write is done.
"""

from __future__ import annotations

import json
from typing import Any

from .._util.polling import Deadline
from ..errors import ClusterGoneError
from .client import RAY_CLUSTER, KubeClient
from .lease import StoredRecord
from .objects import meta

LOCK_ANNOTATION = "rayservice.pulumi.com/serve-config-lock"
"""The annotation that holds the Serve config lock's record (JSON, a Lease spec's fields)."""


class ClusterAnnotationStore:
    """The lock record in one RayCluster's annotation, read and written through ``kube``."""

    def __init__(self, kube: KubeClient, namespace: str, cluster: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.cluster = cluster
        self.where = f"annotation {LOCK_ANNOTATION} of RayCluster {namespace}/{cluster}"

    def read(self, deadline: Deadline | None = None) -> StoredRecord:
        """The record, or none when the annotation is absent or unreadable (counts as free).

        Raises:
            ClusterGoneError: the RayCluster does not exist (so neither does its Serve).

        """
        with self.kube.within(deadline or self.kube.deadline or Deadline(30.0)):
            obj = self.kube.get(RAY_CLUSTER, self.namespace, self.cluster)
        if obj is None:
            raise ClusterGoneError(
                f"RayCluster {self.namespace}/{self.cluster} does not exist on "
                f"{self.kube.describe()}: its Serve config cannot be locked or written"
            )
        text = (meta(obj).get("annotations") or {}).get(LOCK_ANNOTATION)
        return StoredRecord(_parse(text), str(text or ""), obj)

    def write(
        self, stored: StoredRecord, record: dict[str, Any], deadline: Deadline | None = None
    ) -> StoredRecord:
        """Patch the annotation if the object is unchanged since the read; a free record removes it.

        Raises:
            KubeConflictError: the object changed since ``stored`` was read.

        """
        held = bool(record.get("holderIdentity"))
        text = json.dumps(record, sort_keys=True, separators=(",", ":")) if held else None
        version = meta(stored.handle or {}).get("resourceVersion")
        patch = {"metadata": {"resourceVersion": version, "annotations": {LOCK_ANNOTATION: text}}}
        with self.kube.within(deadline or self.kube.deadline or Deadline(30.0)):
            obj = self.kube.merge_patch(RAY_CLUSTER, self.namespace, self.cluster, patch)
        written = (meta(obj).get("annotations") or {}).get(LOCK_ANNOTATION)
        return StoredRecord(_parse(written), str(written or ""), obj)

    def permission_hint(self) -> str:
        """What the API server's account needs."""
        return (
            f"the KubeRay API server's service account needs get and patch on ray.io "
            f"rayclusters in namespace {self.namespace}"
        )


def _parse(text: Any) -> dict[str, Any] | None:
    """The record in the annotation's text; None when absent or not a record."""
    if not isinstance(text, str) or not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
