"""What the benchmarks in ``bench/`` share: timers, waits, watchers, request counts, the report.

Each script measures something else (Serve against its raw REST API, a RayCluster's requests, a
whole RayService lifecycle, shared clusters, stalled servers), but they time, wait, watch, count
and report the same way. Written once here, a median or a lag means the same thing in every
section of BENCHMARKS.md:

- the section's heading (title, date, machine, software versions, the command that ran, the load
  average), its table rows and cells, and the appending to BENCHMARKS.md;
- timing: a ``Stopwatch``, ``timed`` for one call, ``timed_calls`` for many;
- ``expect`` (what a run must show for its numbers to mean anything) and ``wait_until`` (a poll
  with a deadline);
- ``FirstSeen``, a thread that polls beside an operation and keeps when each value was first
  seen, and ``watched``, an operation timed with one beside it: how long after the awaited state
  was reached the operation noticed;
- counts of the requests a server or proxy logged.

Standard library only: a script can import it before anything it measures.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from rayservice_testbed.paths import REPO_ROOT

__all__ = [
    "BENCHMARKS",
    "POLL_S",
    "WARMUP_CALLS",
    "WRITE_METHODS",
    "FirstSeen",
    "Request",
    "Stopwatch",
    "Unexpected",
    "Watched",
    "append",
    "command",
    "count_cell",
    "count_requests",
    "expect",
    "heading",
    "interpreter",
    "load_average",
    "median_p95",
    "p95",
    "per_call",
    "publish",
    "repeats",
    "row",
    "spread",
    "timed",
    "timed_calls",
    "verdict",
    "version",
    "wait_until",
    "watched",
    "writes",
]

T = TypeVar("T")
V = TypeVar("V", bound=Hashable)
R = TypeVar("R", bound="Request")

BENCHMARKS = REPO_ROOT / "BENCHMARKS.md"
INTRO = (
    "# Benchmarks\n\nBenchmarks of pulumi-rayservice; each section is one run of a script in "
    "bench/, appended by the script.\n"
)
POLL_S = 0.05
"""Seconds between two polls of ``wait_until``: short, so a wait ends soon after its condition."""
WARMUP_CALLS = 10
"""Calls made and not counted before ``timed_calls`` times any (imports, caches, connections)."""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# --- the section's heading --------------------------------------------------------------------


def load_average() -> str:
    """The 1-minute load average, as /proc/loadavg gives it."""
    return Path("/proc/loadavg").read_text().split()[0]


def version(package: str) -> str:
    """The installed version of the distribution ``package``, or ``not installed``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def command(script: ModuleSpec | None) -> str:
    """The command line that ran the script whose ``__spec__`` is ``script``, from the repo root.

    ``.venv/bin/python -m bench.<name> ...`` when it was run as a module, else ``... <argv[0]>``;
    the interpreter is named relative to the repo when it lives there (anyone can run that), else
    by its file name.
    """
    program = f"-m {script.name}" if script is not None else shlex.quote(sys.argv[0])
    return " ".join([interpreter(), program, *map(shlex.quote, sys.argv[1:])])


def interpreter() -> str:
    """``sys.executable`` relative to the repo root, or its bare name when outside the repo."""
    executable = Path(sys.executable)
    try:
        return str(executable.absolute().relative_to(REPO_ROOT))
    except ValueError:
        return executable.name


def heading(
    title: str,
    *,
    packages: Mapping[str, str],
    note: str,
    script: ModuleSpec | None,
    load: str,
    load_note: str = "",
) -> list[str]:
    """The section's title and its first lines: date, machine, software, command, load.

    ``packages`` maps the label a version is shown under to its distribution name (``{"Ray":
    "ray"}``), in the order shown after Python's; ``note`` follows them in parentheses. ``load``
    is the load average at the start; ``load_note`` is added after the one at the end.
    """

    def out(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    software = ", ".join(f"{label} {version(name)}" for label, name in packages.items())
    return [
        f"## {title}",
        "",
        f"- date: {out('date', '-u')}",
        f"- machine: {out('uname', '-m')}, {out('nproc')} CPUs, {mem_kb / 1024 / 1024:.1f} GiB RAM",
        f"- Python {platform.python_version()}, {software} ({note})",
        f"- command (from the repo root): `{command(script)}`",
        f"- 1-min load average at start / end: {load} / {load_average()}{load_note} "
        "(a shared machine)",
    ]


# --- timing -----------------------------------------------------------------------------------


class Stopwatch:
    """Seconds since it was made, and laps: one operation timed in parts (Check, then Diff).

    ``clock`` is ``time.perf_counter`` unless the times must be compared with other
    ``time.monotonic`` stamps (the engine stand-in's events).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.started = clock()
        self._lap = self.started

    def seconds(self) -> float:
        """Seconds since the stopwatch was made."""
        return self.clock() - self.started

    def lap(self) -> float:
        """Seconds since the previous lap (or since the stopwatch was made)."""
        now = self.clock()
        lap, self._lap = now - self._lap, now
        return lap


def timed(operation: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``operation()`` took, and what it returned."""
    watch = Stopwatch()
    result = operation()
    return watch.seconds(), result


def timed_calls(
    call: Callable[[], object], rounds: int, *, warmup: int = WARMUP_CALLS
) -> list[float]:
    """Milliseconds of each of ``rounds`` calls, made after ``warmup`` uncounted ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(rounds):
        watch = Stopwatch()
        call()
        samples.append(watch.seconds() * 1000)
    return samples


# --- what a run must show, and waiting for it ---------------------------------------------------


class Unexpected(RuntimeError):
    """A run did not do what the benchmark set out to measure, so its numbers would mean nothing."""


def expect(condition: bool, message: str) -> None:
    """Raise ``Unexpected(message)`` unless ``condition`` holds."""
    if not condition:
        raise Unexpected(message)


def wait_until(
    predicate: Callable[[], T | None], timeout: float, what: str, *, interval: float = POLL_S
) -> T:
    """Poll ``predicate`` every ``interval`` s until it returns something truthy, and return that.

    Raises ``TimeoutError`` naming ``what`` when ``timeout`` s pass first; whatever
    ``predicate`` raises goes through (a deploy that failed need not be waited out).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, left))


# --- watching beside an operation -------------------------------------------------------------


class FirstSeen(Generic[V]):
    """A thread that polls ``observe()`` and keeps when each value it returned was first seen.

    Beside an operation it tells when the state the operation waits for was reached, so the
    operation's own lag in noticing it can be measured. ``observe`` returns the values that hold
    at that moment (``[ready()]``, or ``("name", "ready")`` pairs); the time kept is ``clock()``
    as the answer came back. Polls every ``interval`` s until ``stop()`` or, given ``until``,
    until that value was seen (no more load on the server than needed). Exceptions of the
    ``tolerate`` types count in ``errors`` and the polling goes on; any other ends the thread,
    and ``wait``/``times`` raise it.
    """

    def __init__(
        self,
        observe: Callable[[], Iterable[V]],
        *,
        interval: float,
        until: V | None = None,
        tolerate: tuple[type[Exception], ...] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.observe = observe
        self.interval = interval
        self.until = until
        self.tolerate = tolerate
        self.clock = clock
        self.errors = 0
        self.failure: Exception | None = None
        self._first: dict[V, float] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="first-seen")

    def start(self) -> FirstSeen[V]:
        """Start polling; returns the watcher."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and wait until the thread has ended (it is never left running)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> FirstSeen[V]:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def wait(self, value: V, timeout: float) -> float | None:
        """When ``value`` was first seen, waiting up to ``timeout`` s; None if not (yet) seen.

        Returns at once when the thread has ended (stopped, or done with ``until``).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while value not in self._first and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            self._raise_failure()
            return self._first.get(value)

    def times(self) -> dict[V, float]:
        """Every value seen so far, with when it was first seen."""
        with self._changed:
            self._raise_failure()
            return dict(self._first)

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise RuntimeError(f"the watcher failed: {self.failure!r}") from self.failure

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    values = list(self.observe())
                except self.tolerate:
                    values = []
                    self.errors += 1
                now = self.clock()
                with self._changed:
                    for value in values:
                        self._first.setdefault(value, now)
                    self._changed.notify_all()
                    if self.until is not None and self.until in self._first:
                        return
                self._stop.wait(self.interval)
        except Exception as error:  # kept for the waiter, which raises it
            self.failure = error
        finally:
            with self._changed:
                self._changed.notify_all()


@dataclass(frozen=True)
class Watched(Generic[T]):
    """An operation timed with a ``FirstSeen`` beside it (clock: ``time.perf_counter``)."""

    seconds: float
    """The operation's wall time."""
    seen_s: float
    """From the operation's start until the watcher first saw the awaited state."""
    result: T

    @property
    def lag(self) -> float:
        """The operation returned this long after the awaited state was reached."""
        return self.seconds - self.seen_s


def watched(
    operation: Callable[[], T],
    reached: Callable[[], bool],
    *,
    interval: float,
    what: str,
    settle_s: float,
    tolerate: tuple[type[Exception], ...] = (),
) -> Watched[T]:
    """Run ``operation`` while a watcher polls ``reached()`` every ``interval`` s.

    The watcher may trail the operation by one poll, so it is given ``settle_s`` after the
    operation returned to see the state; raises ``Unexpected`` naming ``what`` if it never did.
    An operation that raises stops the watcher and its error goes through.
    """
    watcher = FirstSeen(lambda: [reached()], interval=interval, until=True, tolerate=tolerate)
    with watcher:
        watch = Stopwatch()
        result = operation()
        seconds = watch.seconds()
        seen = watcher.wait(True, settle_s)
    expect(seen is not None, f"the watcher never saw {what} ({watcher.errors} failed polls)")
    assert seen is not None
    return Watched(seconds, seen - watch.started, result)


# --- requests ---------------------------------------------------------------------------------


class Request(Protocol):
    """A request as a server or proxy of the test bed logged it."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


def count_requests(
    requests: Iterable[R], method: str | None = None, where: Callable[[R], bool] | None = None
) -> int:
    """How many of ``requests`` have ``method`` (any when None) and satisfy ``where``."""
    return sum(
        1
        for r in requests
        if (method is None or r.method == method) and (where is None or where(r))
    )


def writes(requests: Iterable[Request]) -> int:
    """How many of ``requests`` are writes (POST, PUT, PATCH, DELETE)."""
    return sum(1 for r in requests if r.method in WRITE_METHODS)


def per_call(
    requests: Iterable[R], calls: int, key: Callable[[R], str] | None = None
) -> dict[str, float]:
    """Requests per call: how many of each ``key`` (``"GET /path"`` by default), / ``calls``."""
    counted = Counter(key(r) if key is not None else f"{r.method} {r.path}" for r in requests)
    return {name: n / calls for name, n in counted.items()}


def repeats(tokens: Iterable[str], *, adjacent: bool) -> str:
    """``GET 200 x2, POST 201``: each token with how often it came, ``(none)`` when none did.

    ``adjacent``: a run of equal tokens in a row is one entry (requests in the order sent);
    otherwise each token is one entry, in the order first seen, with its total.
    """
    counts: list[tuple[str, int]] = []
    if adjacent:
        for token in tokens:
            if counts and counts[-1][0] == token:
                counts[-1] = (token, counts[-1][1] + 1)
            else:
                counts.append((token, 1))
    else:
        counts = list(Counter(tokens).items())
    return ", ".join(t if n == 1 else f"{t} x{n}" for t, n in counts) or "(none)"


# --- tables and cells -------------------------------------------------------------------------


def row(*cells: str) -> str:
    """One markdown table row."""
    return "| " + " | ".join(cells) + " |"


def verdict(ok: bool) -> str:
    """The ``ok?`` cell of a target."""
    return "ok" if ok else "MISSED"


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive method); a single value is its own."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def spread(values: list[float], digits: int = 3) -> str:
    """Median (min..max)."""
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}..{max(values):.{digits}f})"


def median_p95(values: list[float], unit: str = "") -> str:
    """Median (p95 ...), two decimals, each followed by ``unit`` (e.g. ``" ms"``)."""
    return f"{statistics.median(values):.2f}{unit} (p95 {p95(values):.2f}{unit})"


def count_cell(values: list[int]) -> str:
    """The count when every run agrees, else median (min..max)."""
    if min(values) == max(values):
        return str(values[0])
    return f"{statistics.median(values):g} ({min(values)}..{max(values)})"


# --- BENCHMARKS.md ----------------------------------------------------------------------------


def append(text: str) -> None:
    """Append ``text`` as a new section of BENCHMARKS.md, made with its intro when missing."""
    if not BENCHMARKS.exists():
        BENCHMARKS.write_text(INTRO)
    with BENCHMARKS.open("a") as out:
        out.write("\n" + text)


def publish(text: str, *, to_file: bool) -> None:
    """Print the section and, when ``to_file``, append it to BENCHMARKS.md (and say so)."""
    print(text)
    if to_file:
        append(text)
        print(f"appended to {BENCHMARKS}")
