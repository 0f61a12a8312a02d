"""Object storage with one global resourceVersion counter and an event history for watches.

Like etcd behind the real server: every committed write gets the next resourceVersion (a global
counter, so versions of different objects interleave), and is appended to a history that watches
replay from any resourceVersion still retained (``compact()`` drops history, so that a watch from
an old version gets ``410 Expired`` as on a real cluster).
"""

from __future__ import annotations

import bisect
import builtins
import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


@dataclass(frozen=True)
class StoredEvent:
    """One committed change: ADDED, MODIFIED or DELETED, with the object before and after."""

    rv: int
    type: str
    rt: ResourceType
    obj: dict[str, Any]
    prev: dict[str, Any] | None


Listener = Callable[[StoredEvent], None]


class Store:
    """Thread-safe objects by type and key, a resourceVersion counter, history and listeners."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {}
        self._rv = 0
        self._history: builtins.list[StoredEvent] = []
        self._compacted_rv = 0
        self._listeners: builtins.list[Listener] = []

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store lock for a read-modify-write sequence (re-entrant)."""
        with self._lock:
            yield

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def get(self, rt: ResourceType, key: Key) -> dict[str, Any] | None:
        """A deep copy of the stored object, or None."""
        with self._lock:
            obj = self._objects.get(rt.plural, {}).get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self, rt: ResourceType, namespace: str | None
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """Deep copies of the objects (one namespace, or all when None), sorted, and the rv."""
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for key, obj in sorted(self._objects.get(rt.plural, {}).items())
                if namespace is None or key[0] == namespace
            ]
            return items, self._rv

    def commit(
        self, rt: ResourceType, key: Key, obj: dict[str, Any] | None, *, event: str
    ) -> dict[str, Any] | None:
        """Store ``obj`` (or remove the key when None) with the next resourceVersion.

        For a removal the last stored state is returned, with the new resourceVersion, as the
        real server does in the DELETED watch event.
        """
        with self._lock:
            bucket = self._objects.setdefault(rt.plural, {})
            prev = bucket.get(key)
            self._rv += 1
            if obj is None:
                if prev is None:
                    return None
                gone = copy.deepcopy(prev)
                gone["metadata"]["resourceVersion"] = str(self._rv)
                del bucket[key]
                stored = gone
            else:
                stored = copy.deepcopy(obj)
                stored["metadata"]["resourceVersion"] = str(self._rv)
                bucket[key] = stored
            record = StoredEvent(self._rv, event, rt, copy.deepcopy(stored), copy.deepcopy(prev))
            self._history.append(record)
            self._changed.notify_all()
            listeners = list(self._listeners)
            for listener in listeners:
                listener(record)
            return copy.deepcopy(stored)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` (under the store lock: it must only enqueue) on every commit."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def compact(self) -> int:
        """Forget the history up to now (as etcd compaction); return the compacted revision."""
        with self._lock:
            self._history.clear()
            self._compacted_rv = self._rv
            return self._rv

    @property
    def compacted_rv(self) -> int:
        with self._lock:
            return self._compacted_rv

    def events_after(
        self, rv: int, *, timeout: float, stop: threading.Event
    ) -> builtins.list[StoredEvent] | None:
        """Events newer than ``rv``, waiting up to ``timeout`` for one; None if ``rv`` expired."""
        with self._lock:
            if rv < self._compacted_rv:
                return None
            if self._rv <= rv and timeout > 0 and not stop.is_set():
                self._changed.wait(timeout)
            if rv < self._compacted_rv:
                return None
            start = bisect.bisect_right(self._history, rv, key=lambda e: e.rv)
            return self._history[start:]

    def wake_all(self) -> None:
        """Wake waiting watches (used at shutdown)."""
        with self._lock:
            self._changed.notify_all()
