"""A mutual-exclusion lock held in a record that only a conditional write can change.

Serve's REST API has no lock and no ETag: two writers that read, merge and PUT at the same time drop
each other's apps. Every process that writes a cluster's Serve config (other stacks, CI and a
laptop) meets at one lock record per Ray cluster. The rules are client-go's leader election
(``k8s.io/client-go/tools/leaderelection/resourcelock``), reduced to a lock:

- acquire: write a record holding it, conditional on the ``resourceVersion`` read, when it is free
  (no holder) or expired. A 409 means someone else wrote first: read again and judge again. Two
  writers can never both win.
- expired: the record has not changed for ``leaseDurationSeconds`` of our own observation (as
  client-go judges, immune to clock skew), or its ``renewTime`` is that old plus a skew allowance
  by the wall clock (so a holder that crashed an hour ago does not cost a full wait).
- held: renewed in the background every third of the duration; a renewal that finds the record
  taken marks the lock lost, and the writer checks that before it writes.
- release: the holder is cleared (client-go's ``ReleaseOnCancel``).

Where the record is kept is a :class:`LockStore`: a ``coordination.k8s.io/v1`` Lease
(:class:`LeaseStore`, what controllers use), or, where no Lease can be written (the KubeRay API
server serves only ray.io objects), an annotation of the RayCluster itself
(:mod:`.annotation_lock`, as client-go's older ``ConfigMapLock``/``EndpointsLock`` kept the
record in an annotation). The holder identity names the stack, the host and the process, so a
writer that waits says for whom.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from .._util.polling import Backoff, Deadline
from ..errors import KubeConflictError, KubeError, LockTimeoutError
from .client import LEASE_API_VERSION, KubeClient
from .objects import RawObject, meta

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "pulumi-rayservice"
_TIME_FIELDS = ("acquireTime", "renewTime")
"""MicroTime fields: sent with exactly six fractional digits, as the API server decodes them (the
client reads them back as datetimes, whose ISO form drops a zero fraction)."""


@dataclass(frozen=True)
class LeasePolicy:
    """How long a Lease is held without renewal, and how often it is renewed and polled.

    Attributes:
        duration_s: ``leaseDurationSeconds``: a holder that stops renewing (a killed ``pulumi``)
            blocks others this long at most. client-go's default for leader election is 15 s.
        renew_every_s: renewal period while held (a third of the duration: two renewals may fail
            before the Lease can expire).
        skew_s: how far the holder's clock may run behind ours before its ``renewTime`` alone
            makes the Lease look expired.
        poll: delays between looks at a Lease held by someone else.

    """

    duration_s: int = 15
    renew_every_s: float = 5.0
    skew_s: float = 5.0
    poll: Backoff = field(
        default_factory=lambda: Backoff(initial_s=0.05, max_s=1.0, factor=1.5, fast_s=0.0)
    )


def micro_time(moment: datetime | None = None) -> str:
    """A Kubernetes ``MicroTime``: RFC 3339 with microseconds, in UTC."""
    return (moment or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> datetime | None:
    """A ``MicroTime``/``Time`` as written by any client (``Z`` or an offset), or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class StoredRecord:
    """A lock record as read from where it is kept, with what a conditional write of it needs.

    Attributes:
        record: the record (a Lease ``spec``'s fields), or None when nothing is recorded.
        observed: a text that changes exactly when the record is written: expiry by our own
            observation counts from its last change (client-go's rule, immune to clock skew).
        handle: the object read, whose ``resourceVersion`` makes the next write conditional.

    """

    record: dict[str, Any] | None
    observed: str
    handle: RawObject | None


class LockStore(Protocol):
    """Where one lock record is kept: read it, and write it only if unchanged since the read."""

    where: str
    """``Lease ns/name`` or ``RayCluster ns/name``, for messages."""

    def read(self, deadline: Deadline | None = None) -> StoredRecord:
        """The record as it is now."""
        ...

    def write(
        self, stored: StoredRecord, record: dict[str, Any], deadline: Deadline | None = None
    ) -> StoredRecord:
        """Write ``record`` if nothing changed since ``stored`` was read.

        A record with no holder releases the lock (a store may remove it).

        Raises:
            KubeConflictError: it changed meanwhile (another writer was first).

        """
        ...

    def permission_hint(self) -> str:
        """What the user needs to be allowed, said when the API refuses with 403."""
        ...


class LeaseStore:
    """A lock record kept as a ``coordination.k8s.io/v1`` Lease, as client-go's leader election."""

    def __init__(self, kube: KubeClient, namespace: str, name: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.where = f"Lease {namespace}/{name}"

    def read(self, deadline: Deadline | None = None) -> StoredRecord:
        """The Lease's spec, or no record when the Lease does not exist."""
        lease = self.kube.get_lease(self.namespace, self.name, deadline=deadline)
        if lease is None:
            return StoredRecord(None, "", None)
        observed = str(meta(lease).get("resourceVersion") or "")
        return StoredRecord(dict(lease.get("spec") or {}), observed, lease)

    def write(
        self, stored: StoredRecord, record: dict[str, Any], deadline: Deadline | None = None
    ) -> StoredRecord:
        """Create the Lease, or update it conditional on the ``resourceVersion`` read."""
        if stored.handle is None:
            body = {
                "apiVersion": LEASE_API_VERSION,
                "kind": "Lease",
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "labels": {MANAGED_BY_LABEL: MANAGED_BY},
                },
                "spec": _times_written(record),
            }
            lease = self.kube.create_lease(self.namespace, body, deadline=deadline)
        else:
            lease = self.kube.replace_lease(
                self.namespace, _with_spec(stored.handle, record), deadline=deadline
            )
        observed = str(meta(lease).get("resourceVersion") or "")
        return StoredRecord(dict(lease.get("spec") or {}), observed, lease)

    def permission_hint(self) -> str:
        """RBAC for Leases."""
        return (
            f"the Kubernetes user needs get, create and update on coordination.k8s.io leases "
            f"in namespace {self.namespace}"
        )


class RecordLock:
    """One lock record used as a mutual-exclusion lock by one holder (one per acquisition)."""

    def __init__(
        self,
        store: LockStore,
        holder: str,
        *,
        purpose: str,
        policy: LeasePolicy | None = None,
    ) -> None:
        self.store = store
        self.holder = holder
        self.purpose = purpose
        self.policy = policy or LeasePolicy()
        self._stored: StoredRecord | None = None
        self._seen: str | None = None
        self._seen_at = 0.0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._guard = threading.Lock()

    @property
    def where(self) -> str:
        """Where the record is kept, for messages."""
        return self.store.where

    # acquire ----------------------------------------------------------------------------------

    def acquire(self, deadline: Deadline) -> None:
        """Hold the lock, waiting while someone else holds it, until ``deadline``.

        Raises:
            LockTimeoutError: still held by another holder at the deadline (holder named).
            KubeError: the API refused (e.g. RBAC), with what to grant.

        """
        started = time.monotonic()
        delays = self.policy.poll.delays()
        while True:
            stored = self._read()
            record = stored.record or {}
            if record.get("holderIdentity") == self.holder:
                self._stored = stored  # an earlier write of ours whose answer was lost
                break
            if self._is_free(record) and self._try_take(stored):
                break
            if not deadline.sleep(next(delays)):
                raise LockTimeoutError(
                    f"{self.purpose} is held by {record.get('holderIdentity')!r} since "
                    f"{record.get('acquireTime') or 'an unknown time'} (last renewed "
                    f"{record.get('renewTime') or 'never'}; {self.where}); waited "
                    f"{time.monotonic() - started:.0f}s and wrote nothing. Run again once it "
                    "is released; a holder that stopped is taken over "
                    f"{self.policy.duration_s}s after its last renewal"
                )
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True)
        self._renewer.start()

    def _read(self) -> StoredRecord:
        stored: StoredRecord = self._with_permission_hint(lambda: self.store.read())
        if stored.observed != self._seen:
            self._seen, self._seen_at = stored.observed, time.monotonic()
        return stored

    def _is_free(self, record: Mapping[str, Any]) -> bool:
        if not record.get("holderIdentity"):
            return True
        duration = float(record.get("leaseDurationSeconds") or self.policy.duration_s)
        if time.monotonic() - self._seen_at >= duration:
            return True
        renewed = parse_time(record.get("renewTime")) or parse_time(record.get("acquireTime"))
        if renewed is None:
            return False
        age = (datetime.now(timezone.utc) - renewed).total_seconds()
        return age > duration + self.policy.skew_s

    def _record(self, transitions: int) -> dict[str, Any]:
        now = micro_time()
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.policy.duration_s,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _try_take(self, stored: StoredRecord) -> bool:
        """Write our record over a free one (or where there is none); False if someone was first."""
        record = stored.record
        transitions = 0 if record is None else int(record.get("leaseTransitions") or 0) + 1
        try:
            self._stored = self._with_permission_hint(
                lambda: self.store.write(stored, self._record(transitions))
            )
        except KubeConflictError:
            return False  # written by someone else meanwhile (or by our own lost answer): look
        return True

    # hold -------------------------------------------------------------------------------------

    def check_held(self) -> None:
        """Raise before a write if the lock was lost (a renewal found another holder).

        Raises:
            LockTimeoutError: the lock is no longer ours.

        """
        with self._guard:
            lost = self._lost
        if lost is not None:
            raise LockTimeoutError(f"{self.purpose} was lost before writing: {lost}")

    def _renew_loop(self) -> None:
        last_renewal = time.monotonic()
        while not self._stop.wait(self.policy.renew_every_s):
            try:
                self._renew()
                last_renewal = time.monotonic()
            except (KubeError, OSError) as error:
                if time.monotonic() - last_renewal >= self.policy.duration_s:
                    self._mark_lost(f"not renewed for {self.policy.duration_s}s ({error})")
                    return
            if self._lost is not None:
                return

    def _renew(self) -> None:
        with self._guard:
            stored = self._stored
        if stored is None or stored.record is None or self._stop.is_set():
            return  # released meanwhile: a renewal now would take the lock back
        # A renewal that takes longer than the renewal period is as good as lost: the next one
        # is due. Bounded so, a stalled API server cannot hold the renewer past the lease.
        bound = Deadline(self.policy.renew_every_s)
        try:
            renewed = self.store.write(
                stored, {**stored.record, "renewTime": micro_time()}, deadline=bound
            )
        except KubeConflictError:
            current = self.store.read(deadline=bound)
            holder = (current.record or {}).get("holderIdentity")
            if current.record is None or holder != self.holder:
                self._mark_lost(f"{self.where} is now held by {holder!r}")
                return
            if self._stop.is_set():
                return
            renewed = self.store.write(
                current, {**current.record, "renewTime": micro_time()}, deadline=bound
            )
        with self._guard:
            self._stored = renewed

    def _mark_lost(self, why: str) -> None:
        with self._guard:
            self._lost = why

    # release ----------------------------------------------------------------------------------

    def release(self) -> None:
        """Stop renewing and clear the holder, if the lock is still ours; never raises."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.policy.renew_every_s + 5)
        with self._guard:
            stored, lost = self._stored, self._lost
        if stored is None or lost is not None:
            return
        bound = Deadline(self.policy.renew_every_s)  # a release never holds up the operation long
        for _ in range(3):
            record = {**(stored.record or {}), "holderIdentity": "", "leaseDurationSeconds": 1}
            try:
                self.store.write(stored, record, deadline=bound)
                return
            except KubeConflictError:
                current = self.store.read(deadline=bound)
                if (current.record or {}).get("holderIdentity") != self.holder:
                    return
                stored = current
            except (KubeError, OSError):
                return  # it expires by itself after duration_s

    def _with_permission_hint(self, call: Any) -> Any:
        try:
            return call()
        except KubeError as error:
            if error.status == 403:
                raise KubeError(
                    f"{self.purpose} is a {self.where}: {self.store.permission_hint()} ({error})",
                    status=403,
                    reason=error.reason,
                ) from None
            raise


class LeaseLock(RecordLock):
    """A lock held in one ``coordination.k8s.io/v1`` Lease (build one per acquisition)."""

    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        name: str,
        holder: str,
        *,
        purpose: str,
        policy: LeasePolicy | None = None,
    ) -> None:
        super().__init__(LeaseStore(kube, namespace, name), holder, purpose=purpose, policy=policy)
        self.kube = kube
        self.namespace = namespace
        self.name = name


def _times_written(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The record with its MicroTime fields written as the API server decodes them."""
    return {
        key: micro_time(parse_time(value)) if key in _TIME_FIELDS and value else value
        for key, value in spec.items()
    }


def _with_spec(lease: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """The update body: the Lease as read (its resourceVersion makes the PUT conditional)."""
    metadata = meta(lease)
    return {
        "apiVersion": LEASE_API_VERSION,
        "kind": "Lease",
        "metadata": {
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "resourceVersion": metadata.get("resourceVersion"),
            "labels": dict(metadata.get("labels") or {}),
        },
        "spec": _times_written(spec),
    }
