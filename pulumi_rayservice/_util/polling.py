"""Polling with backoff against a deadline: the one way this package waits for anything.

Waiting is always "ask, then sleep a little longer each time, never past the deadline", so that a
fast change is seen within ~0.1 s and a slow one costs few requests. No fixed sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

CLEANUP_TIMEOUT_S = 120.0
"""Longest a failed create or update spends putting things back (at most its own ``timeout_s``).

Removing what a failed create made, or rolling a failed update back, must not take as long as
the operation that failed: the user learns what was left within two minutes, and the error says
what state the cleanup left behind if it ran out of time.
"""


@dataclass(frozen=True)
class Backoff:
    """Delays for polling: start at ``initial_s``, multiply by ``factor``, cap at ``max_s``.

    For the first ``fast_s`` seconds the delay is capped at ``fast_max_s`` instead: most waits
    end within a minute (a Serve deploy takes 5-10 s) and the user should learn of the end
    within a fraction of a second (bench/serve_bench.py measured a 0.7 s median lag with a plain
    backoff to 2 s). Long waits (an unschedulable app running into its timeout) still back off
    to ``max_s`` and cost few requests. For the first ``steady_s`` seconds the delay stays at
    ``initial_s``: a change that takes a few tenths of a second (a Serve ``user_config``
    update) is seen within one short interval.
    """

    initial_s: float = 0.1
    max_s: float = 2.0
    factor: float = 1.5
    fast_s: float = 60.0
    fast_max_s: float = 0.2
    steady_s: float = 0.0

    def delays(self, elapsed: Callable[[], float] | None = None) -> Iterator[float]:
        """Yield the successive delays forever.

        Args:
            elapsed: seconds since the wait began; default: measured with a monotonic clock
                (a benchmark passes its own to replay the schedule).

        """
        start = time.monotonic()
        since_start = elapsed or (lambda: time.monotonic() - start)
        delay = self.initial_s
        while True:
            elapsed_s = since_start()
            if elapsed_s < self.steady_s:
                yield self.initial_s
                continue
            cap = self.fast_max_s if elapsed_s < self.fast_s else self.max_s
            yield min(delay, cap)
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

    def at_least(self, seconds: float) -> Deadline:
        """The same deadline, or one ``seconds`` from now if that is later.

        The floor of a read that must still happen once a wait has slept up to its deadline (the
        read that reports the state the wait ended in), so it is not refused for lack of time.
        """
        return self if self.remaining() >= seconds else Deadline(seconds)

    def sleep(self, delay_s: float) -> bool:
        """Sleep ``delay_s`` or until the deadline; return False when the deadline has passed."""
        if self.expired():
            return False
        time.sleep(min(delay_s, self.remaining()))
        return True
