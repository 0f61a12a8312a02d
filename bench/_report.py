"""The report pieces the ``bench/`` scripts share, so their BENCHMARKS.md sections stay alike.

``serve_bench``, ``cluster_bench`` and ``lifecycle_bench`` each print a markdown section and
append it to BENCHMARKS.md. Every section opens with the same block (title, date, machine,
software versions, the command that ran, the load average) and its tables are built with the same
row and cell helpers; these were copies in each script and are written once here. Standard
library only, so a script can import it as soon as it has put the repo root on ``sys.path``.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Mapping
from importlib.machinery import ModuleSpec
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "BENCHMARKS.md"
INTRO = (
    "# Benchmarks\n\nBenchmarks of pulumi-rayservice; each section is one run of a script in "
    "bench/, appended by the script.\n"
)


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
        return str(executable.absolute().relative_to(REPO))
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


# --- tables and cells -------------------------------------------------------------------------


def row(*cells: str) -> str:
    """One markdown table row."""
    return "| " + " | ".join(cells) + " |"


def verdict(ok: bool) -> str:
    """The ``ok?`` cell of a target."""
    return "ok" if ok else "MISSED"


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def spread(values: list[float], digits: int = 3) -> str:
    """Median (min..max)."""
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}..{max(values):.{digits}f})"


def median_p95(values: list[float], unit: str = "") -> str:
    """Median (p95 ...), two decimals, each followed by ``unit`` (e.g. ``" ms"``)."""
    return f"{statistics.median(values):.2f}{unit} (p95 {p95(values):.2f}{unit})"


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
