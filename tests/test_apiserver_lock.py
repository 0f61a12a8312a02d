"""The Serve writer lock where no Lease can be written: a record in the RayCluster's annotation.

The KubeRay API server's V2 proxy serves ray.io objects only, so the lock that serializes every
read-merge-write of a cluster's Serve config lives in an annotation of the RayCluster itself,
written by merge patches conditional on the ``resourceVersion`` read. Checked here through the
stand-in API server (v1.7, and v1.4 which retries nothing) in front of the fake Kubernetes:
processes that contend never overlap even while the operator's status writes keep changing the
object's version, a holder that stopped is taken over after the record's duration, a released
lock leaves no trace on the cluster, and no Lease is ever asked for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import raycluster, unique_name
from rayservice_testbed.fake_kube.operator import Scenario
from rayservice_testbed.kuberay_apiserver import FakeKubeRayApiServer

from pulumi_rayservice._util.polling import Deadline
from pulumi_rayservice.errors import ClusterGoneError, LockTimeoutError
from pulumi_rayservice.kube.annotation_lock import LOCK_ANNOTATION, ClusterAnnotationStore
from pulumi_rayservice.kube.apiserver import ApiServerTarget
from pulumi_rayservice.kube.client import RAY_CLUSTER, KubeClient
from pulumi_rayservice.kube.lease import LeasePolicy, RecordLock

REPO = Path(__file__).resolve().parents[1]
NS = "default"
FAST = LeasePolicy(duration_s=2, renew_every_s=0.5, skew_s=0.5)


@pytest.fixture(params=["v1.7", "v1.4"])
def apiserver(request: pytest.FixtureRequest) -> Iterator[FakeKubeRayApiServer]:
    with (
        FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()) as kube,
        FakeKubeRayApiServer(kube, release=request.param) as server,
    ):
        yield server


@pytest.fixture
def cluster(apiserver: FakeKubeRayApiServer) -> str:
    name = unique_name("rc")
    apiserver.kube.registry.create(RAYCLUSTERS, NS, raycluster(name))
    return name


def client(apiserver: FakeKubeRayApiServer) -> KubeClient:
    return KubeClient(None, api_server=ApiServerTarget.from_input({"url": apiserver.url}))


def annotations(apiserver: FakeKubeRayApiServer, name: str) -> dict[str, str]:
    obj = apiserver.kube.registry.find(RAYCLUSTERS, NS, name) or {}
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def test_a_held_lock_keeps_others_out_and_a_release_leaves_no_trace(
    apiserver: FakeKubeRayApiServer, cluster: str
) -> None:
    with client(apiserver) as kube:
        first = RecordLock(
            ClusterAnnotationStore(kube, NS, cluster), "first", purpose="t", policy=FAST
        )
        first.acquire(Deadline(5))
        record = json.loads(annotations(apiserver, cluster)[LOCK_ANNOTATION])
        assert record["holderIdentity"] == "first"
        second = RecordLock(
            ClusterAnnotationStore(kube, NS, cluster), "second", purpose="the lock", policy=FAST
        )
        with pytest.raises(LockTimeoutError, match="held by 'first'"):
            second.acquire(Deadline(1.5))  # first keeps renewing: never expires
        first.release()
        assert LOCK_ANNOTATION not in annotations(apiserver, cluster)
        second.acquire(Deadline(5))
        second.release()
    assert LOCK_ANNOTATION not in annotations(apiserver, cluster)
    assert apiserver.matching(path="leases") == []  # nothing asked V2 for what it does not serve


def test_a_holder_that_stopped_is_taken_over_after_its_duration(
    apiserver: FakeKubeRayApiServer, cluster: str
) -> None:
    with client(apiserver) as kube:
        stale = {
            "holderIdentity": "a killed pulumi",
            "leaseDurationSeconds": 2,
            "acquireTime": "2026-01-01T00:00:00.000000Z",
            "renewTime": "2026-01-01T00:00:00.000000Z",
            "leaseTransitions": 0,
        }
        patch = {"metadata": {"annotations": {LOCK_ANNOTATION: json.dumps(stale)}}}
        kube.merge_patch(RAY_CLUSTER, NS, cluster, patch)
        lock = RecordLock(
            ClusterAnnotationStore(kube, NS, cluster), "next", purpose="t", policy=FAST
        )
        lock.acquire(Deadline(10))
        record = json.loads(annotations(apiserver, cluster)[LOCK_ANNOTATION])
        assert (record["holderIdentity"], record["leaseTransitions"]) == ("next", 1)
        lock.release()


def test_a_missing_cluster_is_named(apiserver: FakeKubeRayApiServer) -> None:
    with client(apiserver) as kube:
        lock = RecordLock(
            ClusterAnnotationStore(kube, NS, "no-such-cluster"), "me", purpose="t", policy=FAST
        )
        with pytest.raises(
            ClusterGoneError, match="RayCluster default/no-such-cluster does not exist"
        ):
            lock.acquire(Deadline(5))


CONTENDER = """
import json, sys, time
from pulumi_rayservice._util.polling import Deadline
from pulumi_rayservice.kube.annotation_lock import ClusterAnnotationStore
from pulumi_rayservice.kube.apiserver import ApiServerTarget
from pulumi_rayservice.kube.client import KubeClient
from pulumi_rayservice.kube.lease import LeasePolicy, RecordLock

url, name, me, rounds, log = sys.argv[1:6]
policy = LeasePolicy(duration_s=5, renew_every_s=1.0)
with KubeClient(None, api_server=ApiServerTarget.from_input({"url": url})) as kube:
    for round_ in range(int(rounds)):
        store = ClusterAnnotationStore(kube, "default", name)
        lock = RecordLock(store, f"{me}#{round_}", purpose="t", policy=policy)
        lock.acquire(Deadline(60))
        with open(log, "a") as out:
            out.write(json.dumps(["in", me, time.time()]) + "\\n")
        time.sleep(0.05)
        with open(log, "a") as out:
            out.write(json.dumps(["out", me, time.time()]) + "\\n")
        lock.release()
"""


@pytest.mark.testbed_process
def test_processes_contending_for_one_cluster_never_overlap_while_its_status_changes(
    apiserver: FakeKubeRayApiServer, cluster: str, tmp_path: Path
) -> None:
    log = tmp_path / "critical.log"
    kube = apiserver.kube
    stop = threading.Event()
    status_writes = 0

    def operator_churn() -> None:
        # The operator's status writes change the object's resourceVersion under the lock's
        # conditional patches: each costs a re-read, never a second holder.
        nonlocal status_writes
        url = f"{kube.url}{RAYCLUSTERS.object_path(NS, cluster)}/status"
        headers = {
            "Authorization": f"Bearer {kube.token}",
            "Content-Type": "application/merge-patch+json",
        }
        while not stop.wait(0.02):
            body = {"status": {"reason": f"churn {status_writes}"}}
            if requests.patch(url, json=body, headers=headers, timeout=10).status_code == 200:
                status_writes += 1

    churn = threading.Thread(target=operator_churn, daemon=True)
    churn.start()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, apiserver.url, cluster, f"p{i}", "6", str(log)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(3)
    ]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err.decode()[-2000:]
    finally:
        stop.set()
        churn.join()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(events) == 3 * 6 * 2
    inside: str | None = None
    for kind, who, _ in events:  # appended in order: every "in" is followed by its own "out"
        if kind == "in":
            assert inside is None, f"{who} entered while {inside} was inside"
            inside = who
        else:
            assert inside == who
            inside = None
    assert status_writes > 20  # the object's version really moved under the lock
    assert LOCK_ANNOTATION not in annotations(apiserver, cluster)
    conflicts = apiserver.kube.matching("PATCH", path=f"rayclusters/{cluster}$", status=409)
    assert conflicts, "no conditional patch ever met a changed version: the test proved nothing"
