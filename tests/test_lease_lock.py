"""Leases on the fake API server, and ``LeaseLock`` on top of them.

The fake first: Leases are stored with real optimistic concurrency (a stale ``resourceVersion`` is a
409, an AlreadyExists create is a 409), and bodies the real server cannot decode (a ``renewTime``
without six fractional digits) are a 400, as ``metav1.MicroTime`` decoding refuses them. Then the
lock: the holder named on timeout, expiry by observation and by ``renewTime``, takeover, renewal,
loss, release, and mutual exclusion between separate processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from rayservice_testbed.fake_kube import FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import fake_kube, kubeconfig, unique_name

from pulumi_rayservice._util.polling import Deadline
from pulumi_rayservice.errors import KubeConflictError, KubeError, LockTimeoutError
from pulumi_rayservice.kube.client import KubeClient
from pulumi_rayservice.kube.lease import LeaseLock, LeasePolicy, micro_time

__all__ = ["fake_kube", "kubeconfig"]

REPO = Path(__file__).resolve().parents[1]
FAST = LeasePolicy(duration_s=2, renew_every_s=0.5, skew_s=0.5)


def lease_body(name: str, holder: str = "someone", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "acquireTime": micro_time(),
            "renewTime": micro_time(),
            **spec,
        },
    }


def api(server: FakeKubeServer, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method,
        f"{server.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )


LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


# the fake API server's Leases -----------------------------------------------------------------


def test_the_fake_serves_leases_with_optimistic_concurrency(fake_kube: FakeKubeServer) -> None:
    name = unique_name("lease")
    created = api(fake_kube, "POST", LEASES, lease_body(name))
    assert created.status_code == 201
    first = created.json()
    assert api(fake_kube, "POST", LEASES, lease_body(name)).status_code == 409

    update = {**first, "spec": {**first["spec"], "holderIdentity": "b"}}
    taken = api(fake_kube, "PUT", f"{LEASES}/{name}", update)
    assert taken.status_code == 200
    assert taken.json()["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]

    stale = api(fake_kube, "PUT", f"{LEASES}/{name}", {**update, "spec": {"holderIdentity": "c"}})
    assert stale.status_code == 409
    assert stale.json()["reason"] == "Conflict"
    assert api(fake_kube, "GET", f"{LEASES}/{name}").json()["spec"]["holderIdentity"] == "b"


@pytest.mark.parametrize(
    ("spec", "code", "fragment"),
    [
        ({"renewTime": "2026-12-02T14:00:00Z"}, 400, "RFC3339Micro"),
        ({"acquireTime": "2026-12-02T14:00:00.123+00:00"}, 400, "RFC3339Micro"),
        ({"leaseDurationSeconds": "15"}, 400, "int32"),
        ({"leaseDurationSeconds": 0}, 422, "must be greater than 0"),
        ({"leaseTransitions": -1}, 422, "greater than or equal to 0"),
    ],
    ids=["no-fraction", "three-digits", "duration-text", "duration-zero", "transitions"],
)
def test_the_fake_refuses_leases_the_real_server_refuses(
    fake_kube: FakeKubeServer, spec: dict[str, Any], code: int, fragment: str
) -> None:
    answer = api(fake_kube, "POST", LEASES, lease_body(unique_name("lease"), **spec))
    assert answer.status_code == code
    assert fragment in answer.json()["message"]


# LeaseLock --------------------------------------------------------------------------------------


@pytest.fixture
def kube(fake_kube: FakeKubeServer, kubeconfig: Path) -> Any:
    with KubeClient({"path": str(kubeconfig)}) as client:
        yield client


def lock(kube: KubeClient, name: str, holder: str, policy: LeasePolicy = FAST) -> LeaseLock:
    return LeaseLock(kube, "default", name, holder, purpose="the test lock", policy=policy)


def test_a_free_lease_is_created_held_and_released(kube: KubeClient) -> None:
    name = unique_name("lease")
    first = lock(kube, name, "stack-a on host pid 1")
    first.acquire(Deadline(5))
    held = kube.get_lease("default", name)
    assert held is not None and held["spec"]["holderIdentity"] == "stack-a on host pid 1"
    assert held["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "pulumi-rayservice"}
    first.release()
    released = kube.get_lease("default", name)
    assert released is not None and released["spec"]["holderIdentity"] == ""

    second = lock(kube, name, "stack-b on host pid 2")
    started = time.monotonic()
    second.acquire(Deadline(5))
    assert time.monotonic() - started < 1.0  # released: taken at once, no expiry wait
    taken = kube.get_lease("default", name)
    assert taken is not None and taken["spec"]["leaseTransitions"] == 1
    second.release()


def test_a_held_lease_makes_the_other_wait_and_fail_naming_the_holder(kube: KubeClient) -> None:
    name = unique_name("lease")
    holder = lock(kube, name, "shop/prod on ci-7 pid 4242", LeasePolicy(duration_s=30))
    holder.acquire(Deadline(5))
    try:
        waiter = lock(kube, name, "shop/dev on laptop pid 1")
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as caught:
            waiter.acquire(Deadline(1.5))
        waited = time.monotonic() - started
        assert 1.4 <= waited < 4.0
        message = str(caught.value)
        assert "'shop/prod on ci-7 pid 4242'" in message
        assert "since 20" in message  # the acquireTime
        assert f"Lease default/{name}" in message and "wrote nothing" in message
    finally:
        holder.release()


def test_an_expired_lease_is_taken_over(kube: KubeClient) -> None:
    # A holder that crashed an hour ago: its renewTime alone shows it expired.
    name = unique_name("lease")
    old = micro_time(datetime.now(timezone.utc) - timedelta(hours=1))
    kube.create_lease(
        "default",
        lease_body(name, "crashed", acquireTime=old, renewTime=old, leaseDurationSeconds=15),
    )
    taker = lock(kube, name, "me")
    started = time.monotonic()
    taker.acquire(Deadline(5))
    assert time.monotonic() - started < 1.0
    taken = kube.get_lease("default", name)
    assert taken is not None and taken["spec"]["holderIdentity"] == "me"
    assert taken["spec"]["leaseTransitions"] == 1
    taker.release()


def test_a_lease_that_stops_changing_expires_by_observation_despite_a_future_renew_time(
    kube: KubeClient,
) -> None:
    # The holder's clock runs ahead: renewTime is in the future. client-go's rule still frees it
    # once the record has not changed for the lease duration of our own observation.
    name = unique_name("lease")
    future = micro_time(datetime.now(timezone.utc) + timedelta(hours=1))
    kube.create_lease(
        "default", lease_body(name, "skewed", renewTime=future, leaseDurationSeconds=2)
    )
    taker = lock(kube, name, "me")
    started = time.monotonic()
    taker.acquire(Deadline(10))
    assert 2.0 <= time.monotonic() - started < 5.0
    taker.release()


def test_a_renewed_lease_is_never_taken_over(kube: KubeClient) -> None:
    name = unique_name("lease")
    holder = lock(kube, name, "holder", FAST)  # duration 2 s, renewed every 0.5 s
    holder.acquire(Deadline(5))
    try:
        with pytest.raises(LockTimeoutError):
            lock(kube, name, "waiter").acquire(Deadline(4))  # twice the duration
        holder.check_held()
    finally:
        holder.release()


def test_a_lease_taken_by_someone_else_is_lost_and_checked_before_writing(
    kube: KubeClient,
) -> None:
    name = unique_name("lease")
    holder = lock(kube, name, "holder", FAST)
    holder.acquire(Deadline(5))
    lease = kube.get_lease("default", name)
    assert lease is not None
    lease["spec"]["holderIdentity"] = "usurper"
    lease["spec"]["renewTime"] = micro_time()
    lease["spec"]["acquireTime"] = micro_time()
    kube.replace_lease("default", lease)
    deadline = Deadline(5)
    while deadline.sleep(0.1):
        try:
            holder.check_held()
        except LockTimeoutError as lost:
            assert "'usurper'" in str(lost)
            break
    else:
        pytest.fail("the renewal never noticed that the lease was taken")
    holder.release()  # must not clear the usurper's hold
    after = kube.get_lease("default", name)
    assert after is not None and after["spec"]["holderIdentity"] == "usurper"


def test_a_stale_update_is_a_conflict(kube: KubeClient) -> None:
    name = unique_name("lease")
    created = kube.create_lease("default", lease_body(name))
    kube.replace_lease("default", {**created, "spec": {**created["spec"], "holderIdentity": "x"}})
    with pytest.raises(KubeConflictError):
        kube.replace_lease("default", created)


def test_forbidden_leases_say_which_permission_is_missing(
    fake_kube: FakeKubeServer, kube: KubeClient
) -> None:
    fake_kube.inject(status=403, count=1, match=("GET", r"/leases/"))
    with pytest.raises(KubeError) as caught:
        lock(kube, unique_name("lease"), "me").acquire(Deadline(5))
    assert "get, create and update on coordination.k8s.io leases in namespace default" in str(
        caught.value
    )


CONTENDER = """
import json, sys, time
from pulumi_rayservice._util.polling import Deadline
from pulumi_rayservice.kube.client import KubeClient
from pulumi_rayservice.kube.lease import LeaseLock, LeasePolicy

kubeconfig, name, me, rounds, log = sys.argv[1:6]
policy = LeasePolicy(duration_s=5, renew_every_s=1.0)
with KubeClient({"path": kubeconfig}) as kube:
    for round_ in range(int(rounds)):
        lock = LeaseLock(kube, "default", name, f"{me}#{round_}", purpose="t", policy=policy)
        lock.acquire(Deadline(60))
        with open(log, "a") as out:
            out.write(json.dumps(["in", me, time.time()]) + "\\n")
        time.sleep(0.05)
        with open(log, "a") as out:
            out.write(json.dumps(["out", me, time.time()]) + "\\n")
        lock.release()
"""


@pytest.mark.testbed_process
def test_processes_contending_for_one_lease_never_overlap(
    fake_kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    name = unique_name("lease")
    log = tmp_path / "critical.log"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(kubeconfig), name, f"p{i}", "8", str(log)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(events) == 3 * 8 * 2
    inside: str | None = None
    for kind, who, _ in events:  # appended in order: every "in" is followed by its own "out"
        if kind == "in":
            assert inside is None, f"{who} entered while {inside} was inside"
            inside = who
        else:
            assert inside == who
            inside = None
