"""Polling with backoff against a deadline: the one way this package waits for anything.

Waiting is always "ask, then sleep a little longer each time, never past the deadline", so that a
fast change is seen within ~0.1 s and a slow one costs few requests. No fixed sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays for polling: start at ``initial_s``, multiply by ``factor``, cap at ``max_s``."""

    initial_s: float = 0.1
    max_s: float = 2.0
    factor: float = 1.5

    def delays(self) -> Iterator[float]:
        """Yield the successive delays forever."""
        delay = self.initial_s
        while True:
            yield delay
            delay = min(self.max_s, delay * self.factor)


class Deadline:
    """A point in monotonic time that operations must finish by."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._end = time.monotonic() + timeout_s

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self._end

    def sleep(self, delay_s: float) -> bool:
        """Sleep ``delay_s`` or until the deadline; return False when the deadline has passed."""
        if self.expired():
            return False
        time.sleep(min(delay_s, self.remaining()))
        return True
