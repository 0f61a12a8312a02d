"""The lock every read-merge-write of a cluster's Serve config runs under.

Serve's PUT replaces the whole set of apps and has no ETag: two writers that read, merge and PUT at
the same time drop each other's apps. So each write takes, in this order:

1. a lock per cluster inside this process (the provider host serves four calls at once, and a
   stack may hold several apps on one cluster);
2. a lock shared with every other writer that can be reached:
   - through the API server's proxy: a ``coordination.k8s.io/v1`` Lease per Ray cluster
     (``<head service>-serve-config`` in the Service's namespace), which every process on every
     machine meets (:mod:`..kube.lease`);
   - through the KubeRay API server (which serves no Leases): the same record in an annotation
     of the RayCluster itself (:mod:`..kube.annotation_lock`), removed when released;
   - at a direct URL: a file lock that every process on this machine meets. Writers on other
     machines, and writers that take no lock at all (``serve deploy``, a raw PUT), are not kept out:
     the write is verified afterwards instead (:mod:`.deployer`).

The holder identity names the stack, the host and the process, so a writer that waits says for
whom, and since when.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from .._util.polling import Deadline
from ..errors import LockTimeoutError
from ..kube.annotation_lock import ClusterAnnotationStore
from ..kube.client import KubeClient
from ..kube.lease import LeaseLock, LeasePolicy, RecordLock
from .dashboard import DashboardTarget

LOCK_DIR_ENV = "PULUMI_RAYSERVICE_LOCK_DIR"
"""Where the machine-wide file locks live (default: ``<tempdir>/pulumi-rayservice-locks``)."""
LEASE_SUFFIX = "-serve-config"

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class HeldLock(Protocol):
    """A lock being held: the writer asks it, just before writing, whether it still holds it."""

    def check_held(self) -> None:
        """Raise ``LockTimeoutError`` if the lock was lost."""


def holder_identity(owner: str | None) -> str:
    """``<project>/<stack> on <host> pid <pid> [<random>]``: who holds a lock, for messages.

    The random part makes each acquisition distinct, so an answer lost on the way back is
    recognized as our own write when it is read again.
    """
    who = owner or f"{os.environ.get('PULUMI_PROJECT') or 'a Pulumi program'} (stack unknown)"
    return f"{who} on {socket.gethostname()} pid {os.getpid()} [{secrets.token_hex(3)}]"


def lease_name(service: str) -> str:
    """The Lease that guards the Serve config of the Ray cluster behind head Service ``service``."""
    return f"{service}{LEASE_SUFFIX}"


def lock_dir() -> Path:
    """The directory of the machine-wide file locks (created on first use, open to all users)."""
    configured = os.environ.get(LOCK_DIR_ENV)
    path = (
        Path(configured) if configured else Path(tempfile.gettempdir()) / "pulumi-rayservice-locks"
    )
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            path.chmod(0o1777)  # like /tmp: every user may lock, nobody may remove others' files
    return path


@contextlib.contextmanager
def writer_lock(
    target: DashboardTarget,
    owner: str | None,
    deadline: Deadline,
    *,
    lease_policy: LeasePolicy | None = None,
) -> Iterator[HeldLock]:
    """Hold the cluster's writer lock (process, then machine or Lease) until the block ends.

    Raises:
        LockTimeoutError: another holder kept it until ``deadline``; the holder is named and
            nothing was written.

    """
    key = target.key
    purpose = f"the Serve config lock of {target.describe()}"
    with _process_lock(key, deadline, purpose):
        holder = holder_identity(owner)
        if target.url is None:
            api_server = target.api_server_target
            with KubeClient(target.kube, deadline=deadline, api_server=api_server) as kube:
                lease: RecordLock
                if api_server is None:
                    lease = LeaseLock(
                        kube,
                        target.namespace,
                        lease_name(str(target.service)),
                        holder,
                        purpose=purpose,
                        policy=lease_policy,
                    )
                else:
                    store = ClusterAnnotationStore(kube, target.namespace, target.cluster_name)
                    lease = RecordLock(store, holder, purpose=purpose, policy=lease_policy)
                lease.acquire(deadline)
                try:
                    yield lease
                finally:
                    lease.release()
        else:
            with _machine_lock(key, holder, deadline, purpose) as held:
                yield held


@contextlib.contextmanager
def _process_lock(key: str, deadline: Deadline, purpose: str) -> Iterator[None]:
    with _PROCESS_LOCKS_GUARD:
        lock = _PROCESS_LOCKS.setdefault(key, threading.Lock())
    if not lock.acquire(timeout=max(deadline.remaining(), 0.001)):
        raise LockTimeoutError(
            f"{purpose} stayed held by another operation of this `pulumi up` for "
            f"{deadline.timeout_s:g}s; nothing was written"
        )
    try:
        yield
    finally:
        lock.release()


class _MachineLockHeld:
    """A file lock cannot be taken away from its holder: always held until released."""

    def check_held(self) -> None:
        return None


@contextlib.contextmanager
def _machine_lock(key: str, holder: str, deadline: Deadline, purpose: str) -> Iterator[HeldLock]:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    directory = lock_dir()
    lock = FileLock(str(directory / f"{digest}.lock"), mode=0o666)
    about = directory / f"{digest}.holder"
    asked = time.monotonic()
    try:
        lock.acquire(timeout=max(deadline.remaining(), 0.001), poll_interval=0.02)
    except Timeout:
        raise LockTimeoutError(
            f"{purpose} is held by {_read_holder(about)} (a file lock on this machine, "
            f"{directory}); waited {time.monotonic() - asked:.0f}s and wrote nothing"
        ) from None
    try:
        with contextlib.suppress(OSError):
            about.write_text(
                json.dumps({"holder": holder, "since": datetime.now(timezone.utc).isoformat()}),
                encoding="utf-8",
            )
        yield _MachineLockHeld()
    finally:
        with contextlib.suppress(OSError):
            about.unlink()
        lock.release()


def _read_holder(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return f"{data['holder']!r} since {data['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


__all__ = [
    "LOCK_DIR_ENV",
    "HeldLock",
    "holder_identity",
    "lease_name",
    "writer_lock",
]
