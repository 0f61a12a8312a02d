"""What a test-bed server was asked: the log every stand-in keeps, and how tests query it.

The fake Kubernetes API server and the stand-in KubeRay API server log each request they answer
(method, path, status, and the details), so a test checks what reached which server. One mixin
keeps both logs and their queries alike.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Generic, Protocol, TypeVar


class Logged(Protocol):
    """What a logged request's record holds (each server adds its own fields)."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def status(self) -> int: ...


R = TypeVar("R", bound=Logged)


class RequestLog(Generic[R]):
    """``requests`` (records, in order) and ``request_details`` (with headers and bodies)."""

    def _start_log(self) -> None:
        self.requests: list[R] = []
        self.request_details: list[Any] = []
        self._log_lock = threading.Lock()

    def _log(self, detail: Any) -> None:
        """Log one request: ``detail.record`` is its record."""
        with self._log_lock:
            self.requests.append(detail.record)
            self.request_details.append(detail)

    def reset_requests(self) -> None:
        """Forget the requests logged so far."""
        with self._log_lock:
            self.requests.clear()
            self.request_details.clear()

    def matching(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        status: int | None = None,
        proxy: bool = True,
    ) -> list[R]:
        """Logged requests by method, path regex (searched) and status.

        ``proxy=False`` leaves out requests through a service proxy.
        """
        pattern = re.compile(path) if path else None
        with self._log_lock:
            records = list(self.requests)
        return [
            r
            for r in records
            if (method is None or r.method == method)
            and (pattern is None or pattern.search(r.path))
            and (status is None or r.status == status)
            and (proxy or "/proxy" not in r.path)
        ]

    def count(
        self, method: str | None = None, path: str | None = None, *, status: int | None = None
    ) -> int:
        """How many logged requests match."""
        return len(self.matching(method, path, status=status))
