"""The polling schedule every wait in the package uses."""

from __future__ import annotations

import itertools

from pulumi_rayservice._util.polling import Backoff, Deadline


def schedule(backoff: Backoff, count: int) -> list[tuple[float, float]]:
    """(elapsed before the sleep, sleep) for the first ``count`` polls, on a simulated clock."""
    clock = [0.0]
    out = []
    for delay in itertools.islice(backoff.delays(elapsed=lambda: clock[0]), count):
        out.append((clock[0], delay))
        clock[0] += delay
    return out


def test_polls_fast_during_the_first_minute_then_backs_off_to_the_max() -> None:
    steps = schedule(Backoff(), 400)
    early = [d for t, d in steps if t < 60]
    late = [d for t, d in steps if t >= 60]
    assert early[0] == 0.1 and max(early) == 0.2
    assert late and set(late) == {2.0}


def test_a_plain_backoff_grows_by_its_factor() -> None:
    delays = [d for _, d in schedule(Backoff(initial_s=0.1, factor=2, max_s=1, fast_s=0), 6)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1, 1]


def test_deadline_never_sleeps_past_its_end() -> None:
    deadline = Deadline(0.05)
    assert deadline.sleep(10) is True
    assert deadline.expired() and deadline.sleep(0.01) is False and deadline.remaining() == 0


def test_the_delay_stays_at_its_first_value_for_the_steady_seconds() -> None:
    clock = [0.0]
    backoff = Backoff(initial_s=0.05, factor=2.0, fast_max_s=0.4, steady_s=1.0)
    delays = []
    for delay in backoff.delays(elapsed=lambda: clock[0]):
        delays.append(delay)
        clock[0] += delay
        if clock[0] > 2.0:
            break
    steady = [d for d, at in zip(delays, _starts(delays), strict=True) if at < 1.0]
    assert set(steady) == {0.05} and len(steady) == 20
    assert delays[20:24] == [0.05, 0.1, 0.2, 0.4]  # then it backs off from the first value


def _starts(delays: list[float]) -> list[float]:
    out, at = [], 0.0
    for delay in delays:
        out.append(at)
        at += delay
    return out
