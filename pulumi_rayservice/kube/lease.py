"""A mutual-exclusion lock held in a ``coordination.k8s.io/v1`` Lease, as Kubernetes controllers do.

Serve's REST API has no lock and no ETag: two writers that read, merge and PUT at the same time drop
each other's apps. Every process that writes a cluster's Serve config through the API server (other
stacks, CI and a laptop) meets at one Lease per Ray cluster. The rules are client-go's leader
election (``k8s.io/client-go/tools/leaderelection/resourcelock``), reduced to a lock:

- acquire: create the Lease holding it, or take it over with an update conditional on the
  ``resourceVersion`` read, when it is free (no holder) or expired. A 409 means someone else wrote
  first: read again and judge again. Two writers can never both win.
- expired: the record has not changed for ``leaseDurationSeconds`` of our own observation (as
  client-go judges, immune to clock skew), or its ``renewTime`` is that old plus a skew allowance
  by the wall clock (so a holder that crashed an hour ago does not cost a full wait).
- held: renewed in the background every third of the duration; a renewal that finds the Lease
  taken marks the lock lost, and the writer checks that before it writes.
- release: the holder is cleared (client-go's ``ReleaseOnCancel``), the object stays for the next.

The holder identity names the stack, the host and the process, so a writer that waits says for whom.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

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


class LeaseLock:
    """One Lease used as a lock by one holder (build one per acquisition)."""

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
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.purpose = purpose
        self.policy = policy or LeasePolicy()
        self._lease: RawObject | None = None
        self._seen_version: str | None = None
        self._seen_at = 0.0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._guard = threading.Lock()

    @property
    def where(self) -> str:
        """``Lease ns/name``, for messages."""
        return f"Lease {self.namespace}/{self.name}"

    # acquire ----------------------------------------------------------------------------------

    def acquire(self, deadline: Deadline) -> None:
        """Hold the Lease, waiting while someone else holds it, until ``deadline``.

        Raises:
            LockTimeoutError: still held by another holder at the deadline (holder named).
            KubeError: the API server refused (e.g. RBAC for leases), with what to grant.

        """
        started = time.monotonic()
        delays = self.policy.poll.delays()
        while True:
            lease = self._read()
            if lease is None:
                if self._try_create():
                    break
                continue
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") == self.holder:
                self._lease = lease  # an earlier write of ours whose answer was lost
                break
            if self._is_free(lease) and self._try_take(lease):
                break
            if not deadline.sleep(next(delays)):
                raise LockTimeoutError(
                    f"{self.purpose} is held by {spec.get('holderIdentity')!r} since "
                    f"{spec.get('acquireTime') or 'an unknown time'} (last renewed "
                    f"{spec.get('renewTime') or 'never'}; {self.where}); waited "
                    f"{time.monotonic() - started:.0f}s and wrote nothing. Run again once it "
                    "is released; a holder that stopped is taken over "
                    f"{self.policy.duration_s}s after its last renewal"
                )
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True)
        self._renewer.start()

    def _read(self) -> RawObject | None:
        lease: RawObject | None = self._with_rbac_hint(
            lambda: self.kube.get_lease(self.namespace, self.name)
        )
        if lease is not None:
            version = str(meta(lease).get("resourceVersion") or "")
            if version != self._seen_version:
                self._seen_version, self._seen_at = version, time.monotonic()
        return lease

    def _is_free(self, lease: Mapping[str, Any]) -> bool:
        spec = lease.get("spec") or {}
        if not spec.get("holderIdentity"):
            return True
        duration = float(spec.get("leaseDurationSeconds") or self.policy.duration_s)
        if time.monotonic() - self._seen_at >= duration:
            return True
        renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
        if renewed is None:
            return False
        age = (datetime.now(timezone.utc) - renewed).total_seconds()
        return age > duration + self.policy.skew_s

    def _spec(self, transitions: int) -> dict[str, Any]:
        now = micro_time()
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.policy.duration_s,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _try_create(self) -> bool:
        body = {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            },
            "spec": self._spec(0),
        }
        try:
            self._lease = self._with_rbac_hint(lambda: self.kube.create_lease(self.namespace, body))
        except KubeConflictError:
            return False  # created by someone else meanwhile (or by our own lost answer): look
        return True

    def _try_take(self, lease: Mapping[str, Any]) -> bool:
        spec = lease.get("spec") or {}
        body = _with_spec(lease, self._spec(int(spec.get("leaseTransitions") or 0) + 1))
        try:
            self._lease = self._with_rbac_hint(
                lambda: self.kube.replace_lease(self.namespace, body)
            )
        except KubeConflictError:
            return False
        return True

    # hold -------------------------------------------------------------------------------------

    def check_held(self) -> None:
        """Raise before a write if the Lease was lost (a renewal found another holder).

        Raises:
            LockTimeoutError: the Lease is no longer ours.

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
            lease = self._lease
        if lease is None or self._stop.is_set():
            return  # released meanwhile: a renewal now would take the Lease back
        # A renewal that takes longer than the renewal period is as good as lost: the next one
        # is due. Bounded so, a stalled API server cannot hold the renewer past the lease.
        bound = Deadline(self.policy.renew_every_s)
        spec = {**(lease.get("spec") or {}), "renewTime": micro_time()}
        try:
            renewed = self.kube.replace_lease(
                self.namespace, _with_spec(lease, spec), deadline=bound
            )
        except KubeConflictError:
            current = self.kube.get_lease(self.namespace, self.name, deadline=bound)
            current_spec = (current or {}).get("spec") or {}
            holder = current_spec.get("holderIdentity")
            if current is None or holder != self.holder:
                self._mark_lost(f"{self.where} is now held by {holder!r}")
                return
            if self._stop.is_set():
                return
            renewed = self.kube.replace_lease(
                self.namespace,
                _with_spec(current, {**current_spec, "renewTime": micro_time()}),
                deadline=bound,
            )
        with self._guard:
            self._lease = renewed

    def _mark_lost(self, why: str) -> None:
        with self._guard:
            self._lost = why

    # release ----------------------------------------------------------------------------------

    def release(self) -> None:
        """Stop renewing and clear the holder, if the Lease is still ours; never raises."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.policy.renew_every_s + 5)
        with self._guard:
            lease, lost = self._lease, self._lost
        if lease is None or lost is not None:
            return
        bound = Deadline(self.policy.renew_every_s)  # a release never holds up the operation long
        for _ in range(3):
            spec = {**(lease.get("spec") or {}), "holderIdentity": "", "leaseDurationSeconds": 1}
            try:
                self.kube.replace_lease(self.namespace, _with_spec(lease, spec), deadline=bound)
                return
            except KubeConflictError:
                current = self.kube.get_lease(self.namespace, self.name, deadline=bound)
                if current is None or (current.get("spec") or {}).get("holderIdentity") != (
                    self.holder
                ):
                    return
                lease = current
            except (KubeError, OSError):
                return  # it expires by itself after duration_s

    def _with_rbac_hint(self, call: Any) -> Any:
        try:
            return call()
        except KubeError as error:
            if error.status == 403:
                raise KubeError(
                    f"{self.purpose} is a {self.where}: the Kubernetes user needs get, create "
                    f"and update on coordination.k8s.io leases in namespace {self.namespace} "
                    f"({error})",
                    status=403,
                    reason=error.reason,
                ) from None
            raise


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
        "spec": {
            key: micro_time(parse_time(value)) if key in _TIME_FIELDS and value else value
            for key, value in spec.items()
        },
    }
