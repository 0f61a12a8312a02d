"""When a RayCluster counts as ready (``cluster.readiness``), judged from the object alone.

A table of RayCluster objects as the API server returns them (conditions, generations, state,
missing or null status, suspension, worker replicas) with the verdict and the reason a user reads.
No network: the dashboard half of readiness is checked in ``test_cluster_on_ray.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_rayservice.cluster.readiness import (
    Readiness,
    describe_condition,
    describe_conditions,
    describe_events,
    summary,
)

HEAD_READY = {"type": "HeadPodReady", "status": "True", "reason": "HeadPodRunningAndReady"}
HEAD_NOT_READY = {
    "type": "HeadPodReady",
    "status": "False",
    "reason": "HeadPodNotReady",
    "message": "containers with unready status: [ray-head]",
}
PROVISIONED = {"type": "RayClusterProvisioned", "status": "True", "reason": "AllPodRunningAndReady"}


def cluster(
    *,
    generation: Any = 1,
    status: Any = "default",
    deleting: bool = False,
    suspend: bool = False,
) -> dict[str, Any]:
    """A RayCluster object; ``status="default"``: reconciled, head ready."""
    metadata: dict[str, Any] = {"name": "fruit", "namespace": "default", "uid": "u-1"}
    if generation is not None:
        metadata["generation"] = generation
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        metadata["finalizers"] = ["ray.io/gcs-ft-redis-cleanup-finalizer"]
    obj: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": metadata,
        "spec": {"rayVersion": "2.52.0", "suspend": suspend},
    }
    if status == "default":
        status = {"observedGeneration": 1, "state": "ready", "conditions": [HEAD_READY]}
    if status != "absent":
        obj["status"] = status
    return obj


CASES = [
    # (object, ready, what the reason says)
    pytest.param(cluster(), True, "head pod ready", id="reconciled-head-ready"),
    pytest.param(
        cluster(status={"observedGeneration": 1, "conditions": [PROVISIONED, HEAD_READY]}),
        True,
        "head pod ready",
        id="provisioned-and-head-ready",
    ),
    pytest.param(
        cluster(generation=3, status={"observedGeneration": 4, "conditions": [HEAD_READY]}),
        True,
        "head pod ready",
        id="observed-ahead-of-generation",
    ),
    pytest.param(
        cluster(generation=None, status={"conditions": [HEAD_READY]}),
        True,
        "head pod ready",
        id="no-generation-at-all",
    ),
    pytest.param(
        cluster(
            status={
                "observedGeneration": 1,
                "conditions": [HEAD_READY],
                "readyWorkerReplicas": 0,
                "desiredWorkerReplicas": 4,
            }
        ),
        True,
        "head pod ready",
        id="workers-not-awaited",
    ),
    pytest.param(
        cluster(status={"observedGeneration": 1.0, "conditions": ["junk", None, HEAD_READY]}),
        True,
        "head pod ready",
        id="malformed-conditions-skipped",
    ),
    pytest.param(
        cluster(status="absent"),
        False,
        "KubeRay has not reconciled generation 1 yet (observedGeneration 0; is the KubeRay "
        "operator running?)",
        id="missing-status",
    ),
    pytest.param(
        cluster(status=None),
        False,
        "has not reconciled generation 1 yet",
        id="null-status",
    ),
    pytest.param(
        cluster(generation=2, status={"observedGeneration": 1, "conditions": [HEAD_READY]}),
        False,
        "has not reconciled generation 2 yet (observedGeneration 1;",
        id="stale-head-ready-of-an-older-generation",
    ),
    pytest.param(
        cluster(status={"observedGeneration": 1, "state": "ready"}),
        False,
        "head pod not reported yet (no HeadPodReady condition)",
        id="sticky-state-ready-alone-is-not-trusted",
    ),
    pytest.param(
        cluster(status={"observedGeneration": 1, "conditions": [PROVISIONED]}),
        False,
        "no HeadPodReady condition",
        id="provisioned-without-head-condition",
    ),
    pytest.param(
        cluster(status={"observedGeneration": 1, "state": "ready", "conditions": [HEAD_NOT_READY]}),
        False,
        "head pod not ready: HeadPodReady=False (HeadPodNotReady: containers with unready "
        "status: [ray-head])",
        id="head-not-ready-despite-state-ready",
    ),
    pytest.param(
        cluster(
            status={
                "observedGeneration": 1,
                "conditions": [{"type": "HeadPodReady", "status": "Unknown"}],
            }
        ),
        False,
        "head pod not ready: HeadPodReady=Unknown",
        id="head-unknown",
    ),
    pytest.param(
        cluster(
            suspend=True,
            status={
                "observedGeneration": 1,
                "state": "suspended",
                "conditions": [
                    {"type": "RayClusterSuspended", "status": "True"},
                    {"type": "HeadPodReady", "status": "False", "reason": "HeadPodNotFound"},
                ],
            },
        ),
        False,
        "head pod not ready: HeadPodReady=False (HeadPodNotFound)",
        id="suspended",
    ),
    pytest.param(
        cluster(deleting=True),
        False,
        "the RayCluster is being deleted",
        id="being-deleted-although-head-ready",
    ),
    pytest.param({}, False, "no HeadPodReady condition", id="empty-object"),
]


@pytest.mark.parametrize(("obj", "ready", "reason"), CASES)
def test_readiness_of(obj: dict[str, Any], ready: bool, reason: str) -> None:
    state = Readiness.of(obj)
    assert state.ready is ready
    assert reason in state.reason


def test_a_condition_message_is_one_short_line() -> None:
    cond = {"type": "HeadPodReady", "status": "False", "message": "line one\n\n  " + "x" * 500}
    text = describe_condition(cond)
    assert "\n" not in text
    assert text.startswith("HeadPodReady=False (line one xxx")
    assert len(text) < 250


def test_conditions_are_listed_for_a_timeout_message() -> None:
    both = cluster(status={"conditions": [PROVISIONED, HEAD_NOT_READY]})
    assert describe_conditions(both) == (
        "RayClusterProvisioned=True (AllPodRunningAndReady); HeadPodReady=False "
        "(HeadPodNotReady: containers with unready status: [ray-head])"
    )
    assert describe_conditions(cluster(status="absent")) == "no conditions reported"


def test_events_warnings_first_and_at_most_the_limit() -> None:
    events = [
        {"type": "Normal", "reason": "Created", "involvedObject": {"name": "fruit-head-x"}},
        *(
            {
                "type": "Warning",
                "reason": "Failed",
                "message": f"ErrImagePull {n}",
                "involvedObject": {"name": "fruit-head-x"},
            }
            for n in range(7)
        ),
    ]
    text = describe_events(events)
    assert "Created" not in text
    assert text.split(" | ") == [f"Failed on fruit-head-x: ErrImagePull {n}" for n in range(2, 7)]
    assert describe_events(events[:1]) == "Created on fruit-head-x: "


def test_summary_reports_what_kuberay_reported() -> None:
    obj = cluster(
        status={
            "observedGeneration": 3,
            "state": "ready",
            "conditions": [HEAD_READY],
            "readyWorkerReplicas": 2,
            "desiredWorkerReplicas": 3,
        }
    )
    assert summary(obj) == {
        "state": "ready",
        "head_pod_ready": True,
        "ready_worker_replicas": 2,
        "desired_worker_replicas": 3,
        "observed_generation": 3,
    }
    assert summary(cluster(status="absent")) == {
        "state": None,
        "head_pod_ready": False,
        "ready_worker_replicas": 0,
        "desired_worker_replicas": 0,
        "observed_generation": 0,
    }
