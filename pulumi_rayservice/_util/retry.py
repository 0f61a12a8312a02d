"""The one retry policy of both transports (the Ray dashboard and the Kubernetes API server).

What is retried is decided where an answer is turned into an error (``serve.client``,
``kube.client``): a ``TemporaryError`` may be retried, anything else may not. The rules, the same
for both:

- retried: a dropped or refused connection of a request that is safe to send again, a 429 (after
  its ``Retry-After``), a 502/503/504 of a read (a proxy or a starting server), a 500 of the
  Kubernetes API (its requests are idempotent or end in a 409 that the caller settles);
- never retried: TLS and certificate failures, 401/403, every other 4xx, a PUT of Serve's config
  (its body was built from a read: a retry must read and merge again, which the deployer does);
- everything inside the operation's deadline: no attempt starts once the deadline has passed, no
  attempt may run past it (:mod:`.bounded_http` cuts it), and a wait before the next attempt that
  would end past it ends the retries instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import TemporaryError
from .polling import Deadline

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is tried again, and how long each try may take.

    Attributes:
        attempts: the most tries of one request.
        initial_s: the wait after the first failure; doubled (``factor``) after each, up to
            ``max_s``. The defaults ride out a Serve controller start (a few seconds of 503) and
            an API server's brief unavailability without hiding a server that is really down.
        max_s: the longest wait between tries of our own choosing.
        max_retry_after_s: the longest ``Retry-After`` honoured (a server asking for more is
            given this much; the deadline bounds it too).
        request_s: the most one try may take, answer body included (less when the deadline is
            nearer). A dashboard answers in well under a second; a minute of silence is a hang.
        connect_s: the most a TCP (and TLS) connect may take.

    """

    attempts: int = 6
    initial_s: float = 0.25
    max_s: float = 4.0
    factor: float = 2.0
    max_retry_after_s: float = 30.0
    request_s: float = 30.0
    connect_s: float = 5.0

    def limit(self, deadline: Deadline) -> float:
        """Seconds the next try may take: ``request_s``, or what is left of the deadline."""
        return min(self.request_s, deadline.remaining())


def with_retries(send: Callable[[float], T], *, policy: RetryPolicy, deadline: Deadline) -> T:
    """Call ``send(limit_s)`` until it answers, retrying a ``TemporaryError`` within the policy.

    ``send`` gets the seconds its try may take and raises ``TemporaryError`` for what may be
    tried again. The last failure is raised with ``attempts`` set to the number of tries made
    and ``earlier`` to what the tries before it met (a message saying only the last would hide
    a proxy's 502s behind the final timeout).
    """
    delay = policy.initial_s
    attempt = 0
    seen: list[str] = []
    while True:
        attempt += 1
        try:
            return send(policy.limit(deadline))
        except TemporaryError as failure:
            failure.attempts = attempt
            failure.earlier = list(seen)
            seen.append(str(failure))
            asked = failure.retry_after_s
            if asked is not None and math.isfinite(asked):
                wait = min(policy.max_retry_after_s, max(0.0, asked))
            else:
                wait = delay  # none, or a value no server means (NaN, inf)
            if attempt >= policy.attempts or wait >= deadline.remaining():
                raise
            time.sleep(wait)
            delay = min(policy.max_s, delay * policy.factor)
