"""Fault injection: answer the next N matching requests with an error, a hang, a trickle or a drop.

Real clusters throttle (429 with Retry-After), fail over (500/503), race (409) and drop
connections; retry code is only tested if the fake does all of these on demand. Rules are
consumed in the order they were added, each by at most ``count`` matching requests, thread-safe.
With ``after_handling=True`` the request is carried out first and only its answer is lost, the
case that tests idempotency (a create that succeeded although the client saw an error).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from . import status
from .status import ApiError


class RequestInfo(NamedTuple):
    """What a fault rule can match on."""

    method: str
    path: str
    query: str
    content_type: str


Match = Callable[[RequestInfo], bool] | tuple[str, str] | None
"""``None`` (every request), ``(method, path_regex)`` (method ``"*"`` for any; the regex is
searched in the path), or a predicate on :class:`RequestInfo`."""

FaultKind = Literal["status", "drop", "hang", "trickle"]


def _matcher(match: Match) -> Callable[[RequestInfo], bool]:
    if match is None:
        return lambda info: True
    if callable(match):
        return match
    method, path_regex = match
    pattern = re.compile(path_regex)

    def matches(info: RequestInfo) -> bool:
        return method in ("*", info.method) and pattern.search(info.path) is not None

    return matches


@dataclass
class FaultRule:
    """One armed fault; ``remaining`` counts down as requests hit it."""

    kind: FaultKind
    remaining: int
    matches: Callable[[RequestInfo], bool]
    status: int = 500
    retry_after: int = 1
    seconds: float = 0.0
    after_handling: bool = False

    def error(self, info: RequestInfo) -> ApiError:
        """The Status answer for a ``status`` fault, worded as the real server's."""
        if self.status == 429:
            return status.too_many_requests(self.retry_after)
        if self.status == 409:
            name = info.path.rstrip("/").rsplit("/", 1)[-1]
            return ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
            )
        if self.status == 503:
            error = status.service_unavailable(
                "the server is currently unable to handle the request"
            )
            error.headers["Retry-After"] = str(self.retry_after)
            return error
        if self.status == 504:
            return ApiError(504, "Timeout", "the server was unable to return a response in time")
        if self.status == 500:
            return status.internal_error("injected fault")
        return ApiError(self.status, "", f"injected fault ({self.status})")


class Faults:
    """The armed rules of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, info: RequestInfo) -> FaultRule | None:
        """The first armed rule matching ``info`` (consuming one of its count), or None."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(info):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    @property
    def pending(self) -> int:
        """How many injected faults are still to be served."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)


def make_rule(
    kind: FaultKind,
    *,
    count: int,
    match: Match = None,
    status_code: int = 500,
    retry_after: int = 1,
    seconds: float = 0.0,
    after_handling: bool = False,
) -> FaultRule:
    """Build a rule; ``count`` must be positive."""
    if count < 1:
        raise ValueError("count must be at least 1")
    return FaultRule(
        kind=kind,
        remaining=count,
        matches=_matcher(match),
        status=status_code,
        retry_after=retry_after,
        seconds=seconds,
        after_handling=after_handling,
    )
