"""The benchmarks' shared measuring pieces (``rayservice_testbed.measure``): no Ray, no server.

A wrong percentile or a watcher that keeps the wrong moment would put wrong numbers in
BENCHMARKS.md without any benchmark failing, so each piece is checked here against values worked
out by hand.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import NamedTuple

import pytest
from rayservice_testbed import measure
from rayservice_testbed.paths import REPO_ROOT

# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7.0], 7.0),
        ([1.0, 2.0], 1.95),
        ([float(v) for v in range(1, 102)], 96.0),
        ([float(v) for v in range(101, 0, -1)], 96.0),
        ([0.0, 10.0, 20.0, 30.0, 40.0], 38.0),
    ],
)
def test_p95_is_the_inclusive_95th_percentile(values: list[float], expected: float) -> None:
    assert measure.p95(values) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: measure.spread([3.0, 1.0, 2.0]), "2.000 (1.000..3.000)"),
        (lambda: measure.spread([0.25, 0.5], 1), "0.4 (0.2..0.5)"),
        (lambda: measure.median_p95([1.0, 2.0, 3.0]), "2.00 (p95 2.90)"),
        (lambda: measure.median_p95([1.0, 2.0, 3.0], " ms"), "2.00 ms (p95 2.90 ms)"),
        (lambda: measure.median_p95([4.0], " ms"), "4.00 ms (p95 4.00 ms)"),
        (lambda: measure.count_cell([3, 3, 3]), "3"),
        (lambda: measure.count_cell([1, 2, 4]), "2 (1..4)"),
        (lambda: measure.count_cell([1, 2]), "1.5 (1..2)"),
        (lambda: measure.row("a", "b c", ""), "| a | b c |  |"),
        (lambda: measure.verdict(True), "ok"),
        (lambda: measure.verdict(False), "MISSED"),
    ],
)
def test_cells(call: Callable[[], str], expected: str) -> None:
    assert call() == expected


# --- requests ---------------------------------------------------------------------------------


class Logged(NamedTuple):
    method: str
    path: str


LOG = [
    Logged("GET", "/a"),
    Logged("GET", "/a"),
    Logged("PUT", "/a"),
    Logged("GET", "/b"),
    Logged("DELETE", "/a"),
    Logged("PATCH", "/b"),
]


def test_requests_are_counted_by_method_and_by_a_condition() -> None:
    assert measure.count_requests(LOG) == 6
    assert measure.count_requests(LOG, "GET") == 3
    assert measure.count_requests(LOG, "POST") == 0
    assert measure.count_requests(LOG, where=lambda r: r.path == "/b") == 2
    assert measure.count_requests(LOG, "GET", where=lambda r: r.path == "/b") == 1
    assert measure.writes(LOG) == 3


def test_requests_per_call_are_averaged_over_the_calls() -> None:
    assert measure.per_call(LOG, 2) == {
        "GET /a": 1.0,
        "PUT /a": 0.5,
        "GET /b": 0.5,
        "DELETE /a": 0.5,
        "PATCH /b": 0.5,
    }
    assert measure.per_call(LOG, 3, key=lambda r: r.method) == pytest.approx(
        {"GET": 1.0, "PUT": 1 / 3, "DELETE": 1 / 3, "PATCH": 1 / 3}
    )


@pytest.mark.parametrize(
    ("adjacent", "expected"),
    [(True, "GET 200 x2, POST 201, GET 200"), (False, "GET 200 x3, POST 201")],
)
def test_repeats_in_order_or_in_total(adjacent: bool, expected: str) -> None:
    tokens = ["GET 200", "GET 200", "POST 201", "GET 200"]
    assert measure.repeats(tokens, adjacent=adjacent) == expected
    assert measure.repeats([], adjacent=adjacent) == "(none)"


# --- timing, expectations, waits ----------------------------------------------------------------


def test_stopwatch_laps_split_the_time_since_it_was_made() -> None:
    clock = iter([10.0, 10.5, 12.0, 12.25]).__next__
    watch = measure.Stopwatch(clock)
    assert watch.lap() == 0.5
    assert watch.lap() == 1.5
    assert watch.seconds() == 2.25


def test_timed_returns_the_seconds_and_the_result() -> None:
    seconds, result = measure.timed(lambda: "done")
    assert result == "done"
    assert 0 <= seconds < 1


def test_timed_calls_counts_only_after_the_warmup() -> None:
    calls = []
    samples = measure.timed_calls(lambda: calls.append(1), 5, warmup=3)
    assert len(calls) == 8
    assert len(samples) == 5
    assert all(ms >= 0 for ms in samples)


def test_expect_raises_the_message_only_when_the_condition_fails() -> None:
    measure.expect(True, "never raised")
    with pytest.raises(measure.Unexpected, match=r"^create: the engine did same$"):
        measure.expect(False, "create: the engine did same")


def test_wait_until_returns_the_first_truthy_value() -> None:
    answers = iter([None, 0, "", "ready"])
    assert measure.wait_until(lambda: next(answers), 5, "an answer", interval=0) == "ready"


def test_wait_until_names_what_it_waited_for_when_the_time_is_up() -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"^timed out after 0\.2 s waiting for the head$"):
        measure.wait_until(lambda: False, 0.2, "the head", interval=0.01)
    assert 0.2 <= time.monotonic() - start < 2


def test_wait_until_lets_the_predicates_error_through() -> None:
    def failed() -> bool:
        raise RuntimeError("DEPLOY_FAILED")

    with pytest.raises(RuntimeError, match="DEPLOY_FAILED"):
        measure.wait_until(failed, 5, "a deploy")


# --- FirstSeen and watched --------------------------------------------------------------------


def scripted(*polls: list[str]) -> Callable[[], list[str]]:
    """An ``observe`` answering ``polls`` one after another, then nothing."""
    answers = iter(polls)
    return lambda: next(answers, [])


def test_first_seen_keeps_the_clock_of_each_values_first_poll() -> None:
    observe = scripted(["a"], ["a", "b"], ["b"], ["c"])
    clock = itertools.count(1).__next__
    watcher = measure.FirstSeen(observe, interval=0, until="c", clock=clock)
    with watcher:
        assert watcher.wait("c", 5) == 4
    assert watcher.times() == {"a": 1, "b": 2, "c": 4}
    assert watcher.wait("never", 0) is None


def test_first_seen_stops_polling_once_the_awaited_value_was_seen() -> None:
    polls = []

    def observe() -> list[bool]:
        polls.append(1)
        return [len(polls) >= 3]

    watcher = measure.FirstSeen(observe, interval=0, until=True).start()
    assert watcher.wait(True, 5) is not None
    watcher.stop()
    assert len(polls) == 3


def test_first_seen_counts_tolerated_errors_and_goes_on() -> None:
    failures = [ConnectionError(), ConnectionError()]

    def observe() -> list[str]:
        if failures:
            raise failures.pop()
        return ["up"]

    with measure.FirstSeen(observe, interval=0, until="up", tolerate=(ConnectionError,)) as watcher:
        assert watcher.wait("up", 5) is not None
    assert watcher.errors == 2


def test_first_seen_reports_an_error_it_does_not_tolerate() -> None:
    def observe() -> list[str]:
        raise ValueError("the store is gone")

    watcher = measure.FirstSeen(observe, interval=0)
    with watcher, pytest.raises(RuntimeError, match="the store is gone") as raised:
        watcher.wait("anything", 5)
    assert isinstance(raised.value.__cause__, ValueError)
    with pytest.raises(RuntimeError, match="the store is gone"):
        watcher.times()


def test_first_seen_wait_gives_up_after_its_timeout() -> None:
    watcher: measure.FirstSeen[str] = measure.FirstSeen(lambda: [], interval=0.01)
    with watcher:
        start = time.monotonic()
        assert watcher.wait("never", 0.1) is None
        assert 0.1 <= time.monotonic() - start < 2


def test_watched_times_the_operation_and_when_its_state_was_reached() -> None:
    reached, noticed = threading.Event(), threading.Event()

    def state() -> bool:
        if reached.is_set():
            noticed.set()
            return True
        return False

    def operation() -> str:
        reached.set()
        assert noticed.wait(5)  # returns only after the watcher saw the state
        return "created"

    outcome = measure.watched(operation, state, interval=0.001, what="ready", settle_s=5)
    assert outcome.result == "created"
    assert 0 <= outcome.seen_s <= outcome.seconds
    assert outcome.lag == pytest.approx(outcome.seconds - outcome.seen_s)


def test_watched_fails_naming_what_was_never_seen() -> None:
    with pytest.raises(measure.Unexpected, match=r"never saw the old cluster gone \(0 failed"):
        measure.watched(
            lambda: None, lambda: False, interval=0.01, what="the old cluster gone", settle_s=0.05
        )


def test_watched_lets_the_operations_error_through_and_stops_its_watcher() -> None:
    def operation() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        measure.watched(operation, lambda: False, interval=0.01, what="x", settle_s=5)
    assert not any(t.name == "first-seen" and t.is_alive() for t in threading.enumerate())


# --- the heading and BENCHMARKS.md ------------------------------------------------------------


def test_the_command_is_named_from_the_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(REPO_ROOT / ".venv" / "bin" / "python"))
    monkeypatch.setattr(sys, "argv", ["ignored", "--runs", "2", "--note", "a b"])
    spec = ModuleSpec("bench.serve_bench", None)
    assert measure.command(spec) == ".venv/bin/python -m bench.serve_bench --runs 2 --note 'a b'"
    monkeypatch.setattr(sys, "argv", ["bench/serve_bench.py", "--no-append"])
    assert measure.command(None) == ".venv/bin/python bench/serve_bench.py --no-append"


def test_an_interpreter_outside_the_repo_is_named_by_its_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "executable", "/opt/python3.11/bin/python3")
    assert measure.interpreter() == "python3"


def test_the_heading_names_the_software_the_command_and_the_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "executable", str(REPO_ROOT / ".venv" / "bin" / "python"))
    monkeypatch.setattr(sys, "argv", ["ignored", "--no-append"])
    lines = measure.heading(
        "a bench",
        packages={"pytest": "pytest", "nothing": "no-such-distribution-here"},
        note="a note",
        script=ModuleSpec("bench.a_bench", None),
        load="0.50",
        load_note="; more",
    )
    assert lines[:2] == ["## a bench", ""]
    assert f"pytest {pytest.__version__}, nothing not installed (a note)" in lines[4]
    command = "`.venv/bin/python -m bench.a_bench --no-append`"
    assert lines[5] == f"- command (from the repo root): {command}"
    assert lines[6].startswith("- 1-min load average at start / end: 0.50 / ")
    assert lines[6].endswith("; more (a shared machine)")


def test_benchmarks_md_is_the_repo_roots() -> None:
    assert measure.BENCHMARKS == REPO_ROOT / "BENCHMARKS.md"
    assert (REPO_ROOT / "pyproject.toml").exists()


def test_publish_prints_and_appends_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(measure, "BENCHMARKS", target)

    measure.publish("## first\n", to_file=False)
    assert capsys.readouterr().out == "## first\n\n"
    assert not target.exists()

    measure.publish("## first\n", to_file=True)
    assert capsys.readouterr().out == f"## first\n\nappended to {target}\n"
    assert target.read_text() == measure.INTRO + "\n## first\n"

    measure.publish("## second\n", to_file=True)
    assert target.read_text() == measure.INTRO + "\n## first\n" + "\n## second\n"
