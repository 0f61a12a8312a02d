"""Raw Serve REST API vs ``ServeApplicationProvider`` through the real Pulumi provider host.

One run, one local Ray head (started and stopped by the test harness), Serve already running:

1. Fresh FruitStand deploy. raw: PUT ``{"applications": [app]}``, poll the declarative GET every
   0.05 s until the app is RUNNING with every deployment HEALTHY. provider: Check (timed apart),
   then Create through the real host, timed until it returns.
2. Price update (MangoStand ``user_config.price`` 3 -> 4, then 4 -> 3): raw PUT + poll vs Check and
   Diff (timed apart) then Update.
3. Removal: raw PUT without the app until Serve no longer lists it vs Delete.

Each cycle (deploy, two price updates, removal) uses its own app name and route; cycles alternate
raw, provider, raw, provider, ... so both share the machine's noise. One untimed cycle of each
comes first (runtime_env unpacked, provider host warm). During every deploy and update a watcher
thread polls Serve every 0.02 s and notes when Serve first reports RUNNING + all HEALTHY for THIS
deploy (``last_deployed_time_s`` not older than the operation's start); the detection lag is "the
operation returned" minus that moment. The watcher runs for raw and provider alike.

4. Check+Diff cost per resource in the host (after the Ray head is stopped; Check and Diff never
   contact Ray): N round trips with the outputs of a real Create as ``olds`` and the same inputs.

Prints a markdown table and appends it to BENCHMARKS.md. Exits non-zero only on errors; a missed
target is marked MISSED. Run from the repo root: ``.venv/bin/python -m bench.serve_bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pulumi.runtime.proto import provider_pb2

if __package__ in (None, ""):  # run as `python bench/serve_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    ProviderHost,
    _serialize,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.ray_head import RayHead
from rayservice_testbed.harness.serve_apps import answer, deployment, fruit_app, zip_app
from rayservice_testbed.measure import (
    WARMUP_CALLS,
    Stopwatch,
    expect,
    heading,
    load_average,
    median_p95,
    p95,
    publish,
    row,
    spread,
    timed,
    verdict,
    wait_until,
    watched,
)
from rayservice_testbed.paths import EXAMPLES

from pulumi_rayservice._util.polling import Backoff
from pulumi_rayservice.serve.deployer import POLL_FIRST_S, POLL_STEADY_S
from pulumi_rayservice.serve.provider import ServeApplicationProvider

TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
RAW_POLL_S = 0.05
WATCH_POLL_S = 0.02
OP_TIMEOUT_S = 300.0
CREATE_RATIO_TARGET = 1.10
UPDATE_RATIO_TARGET = 1.10
"""Deploy and in-place update, provider/raw, on every Ray of the matrix (``--ray-venv``)."""
LAG_TARGET_S = 0.25
CHECK_DIFF_TARGET_MS = 5.0
SETTLE_S = 15.0  # the watcher may trail the operation by one GET


# --- raw REST API -----------------------------------------------------------------------------


def is_running(app: dict[str, Any] | None) -> bool:
    """RUNNING with at least one deployment and every deployment HEALTHY."""
    if not app or app.get("status") != "RUNNING":
        return False
    deployments = app.get("deployments") or {}
    return bool(deployments) and all(d.get("status") == "HEALTHY" for d in deployments.values())


class RawServe:
    """What a user without this package does: PUT the config, poll the declarative GET."""

    def __init__(self, dashboard_url: str) -> None:
        self.url = f"{dashboard_url}/api/serve/applications/"
        self.session = requests.Session()

    def apps(self) -> dict[str, Any]:
        reply = self.session.get(self.url, params={"api_type": "declarative"}, timeout=30)
        reply.raise_for_status()
        return dict(reply.json().get("applications") or {})

    def put(self, applications: list[dict[str, Any]]) -> None:
        reply = self.session.put(self.url, json={"applications": applications}, timeout=30)
        reply.raise_for_status()

    def wait_running(self, name: str, newer_than: float | None) -> dict[str, Any]:
        """Poll until ``name`` is running from a deploy after ``newer_than`` (its deploy time)."""

        def running() -> dict[str, Any] | None:
            app = self.apps().get(name)
            if app is None:
                return None
            if newer_than is not None and app["last_deployed_time_s"] <= newer_than:
                return None  # still the previous deploy
            if app.get("status") == "DEPLOY_FAILED":
                raise RuntimeError(f"raw deploy of {name} failed: {app.get('message')}")
            return dict(app) if is_running(app) else None

        return wait_until(running, OP_TIMEOUT_S, f"raw deploy of {name}", interval=RAW_POLL_S)

    def deploy(
        self, applications: list[dict[str, Any]], name: str, newer_than: float | None
    ) -> dict[str, Any]:
        """PUT ``applications`` and wait until ``name`` runs from this deploy."""
        self.put(applications)
        return self.wait_running(name, newer_than)

    def remove(self, name: str) -> None:
        """PUT the config without any app (the bench's apps are alone) and wait until gone."""
        self.put([])
        self.wait_gone(name)

    def wait_gone(self, name: str) -> None:
        wait_until(
            lambda: name not in self.apps(),
            OP_TIMEOUT_S,
            f"{name} to be no longer listed after its removal",
            interval=RAW_POLL_S,
        )


# --- samples ----------------------------------------------------------------------------------

OPS = ("create", "price 3->4", "price 4->3", "remove")
DEPLOYS = OPS[:3]


@dataclass
class Timed:
    """One timed operation.

    For deploys, ``serve_running_s`` is when the watcher first saw RUNNING (from the operation's
    start) and ``lag`` = operation returned - that moment.
    """

    seconds: float
    serve_running_s: float | None = None

    @property
    def lag(self) -> float | None:
        return None if self.serve_running_s is None else self.seconds - self.serve_running_s


@dataclass
class Cycle:
    """Deploy, two price updates and removal of one app by one path ("raw" or "provider")."""

    path: str
    name: str
    ops: dict[str, Timed] = field(default_factory=dict)
    pre_ms: dict[str, float] = field(default_factory=dict)  # provider: Check(+Diff) before an op


@dataclass
class Created:
    """A resource as the engine holds it after Create: id, inputs, outputs."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


def timed_deploy(dashboard_url: str, name: str, operation: Callable[[], Any]) -> tuple[Timed, Any]:
    """Run ``operation`` (a deploy of ``name``) with a RUNNING watcher beside it.

    The watcher polls Serve every 0.02 s (plus the GET's own ~40 ms) until it says ``name`` is
    RUNNING + all HEALTHY from a deploy made from now: Serve's state is seen within about one GET
    of changing.
    """
    raw = RawServe(dashboard_url)
    since_wall = time.time()  # last_deployed_time_s is the controller's time.time()

    def running_from_now() -> bool:
        app = raw.apps().get(name)
        return is_running(app) and app is not None and app["last_deployed_time_s"] >= since_wall

    outcome = watched(
        operation,
        running_from_now,
        interval=WATCH_POLL_S,
        what=f"{name} RUNNING",
        settle_s=SETTLE_S,
        tolerate=(requests.RequestException,),
    )
    return Timed(outcome.seconds, outcome.seen_s), outcome.result


def timed_removal(operation: Callable[[], Any]) -> Timed:
    seconds, _ = timed(operation)
    return Timed(seconds)


def with_price(app: dict[str, Any], price: float) -> dict[str, Any]:
    changed = copy.deepcopy(app)
    deployment(changed, "MangoStand")["user_config"] = {"price": price}
    return changed


def app_for(uri: str, name: str) -> dict[str, Any]:
    return fruit_app(uri, name=name, route_prefix="/" + name.replace("_", "-"), mango=3)


def expect_answer(serve_url: str, app: dict[str, Any], expected: str) -> None:
    """Untimed sanity check: the app really serves the price just deployed."""

    def ok() -> bool:
        try:
            return answer(serve_url, app["route_prefix"], ["MANGO", 2]) == expected
        except requests.RequestException:
            return False

    wait_until(ok, 30, f"{app['name']} to answer {expected}")


PRICE_STEPS = (("price 3->4", 4, "8"), ("price 4->3", 3, "6"))


# --- the two paths ----------------------------------------------------------------------------


def raw_cycle(head: RayHead, uri: str, name: str) -> Cycle:
    """PUT + poll for each step, as a user of the bare REST API would."""
    raw, cycle = RawServe(head.dashboard_url), Cycle("raw", name)
    app = app_for(uri, name)
    cycle.ops["create"], state = timed_deploy(
        head.dashboard_url, name, lambda: raw.deploy([app], name, None)
    )
    expect_answer(head.serve_url, app, "6")
    for op, price, expected in PRICE_STEPS:
        new, newer_than = with_price(app, price), state["last_deployed_time_s"]
        cycle.ops[op], state = timed_deploy(
            head.dashboard_url,
            name,
            lambda new=new, newer_than=newer_than: raw.deploy([new], name, newer_than),
        )
        expect_answer(head.serve_url, app, expected)
    cycle.ops["remove"] = timed_removal(lambda: raw.remove(name))
    return cycle


def provider_inputs(app: dict[str, Any], dashboard: dict[str, Any]) -> dict[str, Any]:
    return {
        "app": app,
        "dashboard": dashboard,
        "timeout_s": OP_TIMEOUT_S,
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
    }


def provider_cycle(host: ProviderHost, head: RayHead, uri: str, name: str) -> tuple[Cycle, Created]:
    """What `pulumi up` (Check, Create; Check, Diff, Update) and `destroy` (Delete) send."""
    cycle, urn = Cycle("provider", name), urn_of(TYPE, name)
    app = app_for(uri, name)
    dashboard = {"url": head.dashboard_url}
    inputs = provider_inputs(app, dashboard)

    watch = Stopwatch()
    checked = host.check(urn, {}, inputs)
    cycle.pre_ms["create"] = watch.seconds() * 1000
    expect(not checked.failures, f"Check failed: {checked.failures}")
    cycle.ops["create"], (id_, outputs) = timed_deploy(
        head.dashboard_url, name, lambda: host.create(urn, checked.inputs, timeout=OP_TIMEOUT_S)
    )
    created = Created(id_, inputs, outputs)
    expect_answer(head.serve_url, app, "6")

    old_inputs = inputs
    for op, price, expected in PRICE_STEPS:
        new_inputs = provider_inputs(with_price(app, price), dashboard)
        watch = Stopwatch()
        checked = host.check(urn, old_inputs, new_inputs)
        diff = host.diff(urn, id_, outputs, checked.inputs)
        cycle.pre_ms[op] = watch.seconds() * 1000
        expect(
            not checked.failures and diff.has_changes and not diff.replaces,
            f"{op}: expected an in-place update, got {checked} {diff}",
        )
        cycle.ops[op], outputs = timed_deploy(
            head.dashboard_url,
            name,
            lambda news=checked.inputs, olds=outputs: host.update(
                urn, id_, olds, news, timeout=OP_TIMEOUT_S
            ),
        )
        expect_answer(head.serve_url, app, expected)
        old_inputs = new_inputs
    cycle.ops["remove"] = timed_removal(
        lambda: host.delete(urn, id_, outputs, timeout=OP_TIMEOUT_S)
    )
    return cycle, created


# --- Check + Diff in the host -----------------------------------------------------------------


@dataclass
class CheckDiffCost:
    """Milliseconds per call: through the harness (serializing each request) and wire only."""

    check_ms: list[float] = field(default_factory=list)
    diff_ms: list[float] = field(default_factory=list)
    wire_check_ms: list[float] = field(default_factory=list)
    wire_diff_ms: list[float] = field(default_factory=list)

    @staticmethod
    def both(check: list[float], diff: list[float]) -> list[float]:
        return [c + d for c, d in zip(check, diff, strict=True)]


def check_diff_cost(host: ProviderHost, created: Created, rounds: int) -> CheckDiffCost:
    """``rounds`` Check+Diff round trips of an unchanged resource (a `pulumi up` with no change).

    First through the harness's ``check``/``diff``, which serialize every request in Python as
    the engine does in Go; then the same gRPC calls with the requests serialized once beforehand
    (the host's own cost plus gRPC). The first ``WARMUP_CALLS`` (10) round trips of each warm up
    and are not counted.
    """
    urn = urn_of(TYPE, created.outputs["app_name"])
    cost = CheckDiffCost()
    checked_inputs: dict[str, Any] = {}
    for index in range(rounds + WARMUP_CALLS):
        watch = Stopwatch()
        checked = host.check(urn, created.inputs, created.inputs)
        check_s = watch.lap()
        diff = host.diff(urn, created.id, created.outputs, checked.inputs)
        diff_s = watch.lap()
        expect(
            not checked.failures and not diff.has_changes,
            f"unchanged resource: Check {checked.failures}, Diff {diff}",
        )
        checked_inputs = checked.inputs
        if index >= WARMUP_CALLS:
            cost.check_ms.append(check_s * 1000)
            cost.diff_ms.append(diff_s * 1000)

    check_request = provider_pb2.CheckRequest(
        urn=urn, olds=_serialize(created.inputs), news=_serialize(created.inputs)
    )
    diff_request = provider_pb2.DiffRequest(
        id=created.id, urn=urn, olds=_serialize(created.outputs), news=_serialize(checked_inputs)
    )
    for index in range(rounds + WARMUP_CALLS):
        watch = Stopwatch()
        host.stub.Check(check_request)
        check_s = watch.lap()
        reply = host.stub.Diff(diff_request)
        diff_s = watch.lap()
        expect(
            reply.changes != provider_pb2.DiffResponse.DIFF_SOME,
            "unchanged resource: Diff over the wire reports changes",
        )
        if index >= WARMUP_CALLS:
            cost.wire_check_ms.append(check_s * 1000)
            cost.wire_diff_ms.append(diff_s * 1000)
    return cost


# --- report -----------------------------------------------------------------------------------

LABELS = {
    "create": "fresh FruitStand deploy (Serve already running), until RUNNING + all HEALTHY",
    "price 3->4": "price update MangoStand 3 -> 4, until RUNNING again",
    "price 4->3": "price update MangoStand 4 -> 3, until RUNNING again",
    "remove": "remove the app (PUT without it), until Serve no longer lists it",
}


def backoff_delay_at(elapsed_s: float, backoff: Backoff) -> float:
    """The provider's sleep in effect ``elapsed_s`` after its first poll (GET time ignored)."""
    clock = [0.0]  # simulated time since the first poll
    for delay in backoff.delays(elapsed=lambda: clock[0]):
        clock[0] += delay
        if clock[0] >= elapsed_s:
            return delay
    raise AssertionError("unreachable: delays() never ends")


def results_table(cycles: list[Cycle], cost: CheckDiffCost, rounds: int) -> str:
    raw = [c for c in cycles if c.path == "raw"]
    prov = [c for c in cycles if c.path == "provider"]
    rows = [
        row("operation", "raw median s", "provider median s", "ratio", "target", "ok?"),
        row(*["---"] * 6),
    ]
    for op in OPS:
        r = [c.ops[op].seconds for c in raw]
        p = [c.ops[op].seconds for c in prov]
        ratio = statistics.median(p) / statistics.median(r)
        target, ok = "-", "-"
        if op == "create":
            target, ok = f"<= {CREATE_RATIO_TARGET:.2f}", verdict(ratio <= CREATE_RATIO_TARGET)
        elif op.startswith("price"):
            target, ok = f"<= {UPDATE_RATIO_TARGET:.2f}", verdict(ratio <= UPDATE_RATIO_TARGET)
        rows.append(row(LABELS[op], spread(r), spread(p), f"{ratio:.2f}", target, ok))
        if op == "create":  # Serve's own share, to tell machine noise from provider overhead
            r = [c.ops[op].serve_running_s or 0.0 for c in raw]
            p = [c.ops[op].serve_running_s or 0.0 for c in prov]
            ratio = statistics.median(p) / statistics.median(r)
            label = "  of which Serve's own time to RUNNING in those runs (watcher)"
            rows.append(row(label, spread(r), spread(p), f"{ratio:.2f}", "-", "-"))

    for ops, label, judged in (
        (
            ("create",),
            "RUNNING detection lag, fresh deploy: op returned - Serve said RUNNING",
            True,
        ),
        (DEPLOYS[1:], "RUNNING detection lag, price updates (both directions)", False),
    ):
        r = [c.ops[op].lag or 0.0 for c in raw for op in ops]
        p = [c.ops[op].lag or 0.0 for c in prov for op in ops]
        cells = [f"{statistics.median(v):.3f} (max {max(v):.3f})" for v in (r, p)]
        target, ok = "-", "-"
        if judged:
            target, ok = f"<= {LAG_TARGET_S} s (max)", verdict(max(p) <= LAG_TARGET_S)
        rows.append(row(label, *cells, "-", target, ok))

    for label, values, judged in (
        (
            "Check+Diff of an unchanged resource, with the test harness serializing each request",
            cost.both(cost.check_ms, cost.diff_ms),
            False,
        ),
        ("Check alone", cost.check_ms, False),
        ("Diff alone", cost.diff_ms, False),
        (
            # The host's own cost: what the engine (Go) spends serializing is not the provider's.
            "Check+Diff in the host: gRPC calls with requests serialized once beforehand",
            cost.both(cost.wire_check_ms, cost.wire_diff_ms),
            True,
        ),
    ):
        cell = median_p95(values, " ms")
        target, ok = "-", "-"
        if judged:
            target = f"<= {CHECK_DIFF_TARGET_MS:g} ms (p95)"
            ok = verdict(p95(values) <= CHECK_DIFF_TARGET_MS)
        rows.append(row(f"{label}, N={rounds}", "-", cell, "-", target, ok))
    return "\n".join(rows)


def runs_table(cycles: list[Cycle]) -> str:
    backoff = Backoff(initial_s=POLL_FIRST_S, steady_s=POLL_STEADY_S)
    rows = [
        row(
            "run",
            "path",
            "create s (lag)",
            "Serve RUNNING at s",
            "provider backoff sleep then, s",
            "3->4 s (lag)",
            "4->3 s (lag)",
            "remove s",
            "Check / Check+Diff / Check+Diff before, ms",
        ),
        row(*["---"] * 9),
    ]
    for index, cycle in enumerate(cycles):
        create = cycle.ops["create"]
        running_at = create.serve_running_s or 0.0
        provider = cycle.path == "provider"
        rows.append(
            row(
                str(index // 2 + 1),
                cycle.path,
                *[
                    f"{cycle.ops[op].seconds:.3f} ({cycle.ops[op].lag or 0.0:.3f})"
                    for op in OPS[:1]
                ],
                f"{running_at:.3f}",
                f"{backoff_delay_at(running_at, backoff):.2f}" if provider else "-",
                *[
                    f"{cycle.ops[op].seconds:.3f} ({cycle.ops[op].lag or 0.0:.3f})"
                    for op in OPS[1:3]
                ],
                f"{cycle.ops['remove'].seconds:.3f}",
                " / ".join(f"{cycle.pre_ms[op]:.1f}" for op in DEPLOYS) if provider else "-",
            )
        )
    return "\n".join(rows)


def section(
    cycles: list[Cycle],
    cost: CheckDiffCost,
    runs: int,
    rounds: int,
    load: str,
    head_ray: str,
    venv: Path | None,
) -> str:
    backoff = Backoff(initial_s=POLL_FIRST_S, steady_s=POLL_STEADY_S)
    where = f"from `{venv}`, with that release's own pins" if venv else "the package's own `.venv`"
    return "\n".join(
        [
            *heading(
                f"serve_bench: raw Serve REST API vs ServeApplicationProvider, {runs} runs each, "
                f"Ray {head_ray} on the head",
                packages={"Ray in .venv": "ray", "pulumi SDK": "pulumi"},
                note="no Pulumi CLI on this machine: the real `python -m pulumi.dynamic` host is "
                "driven over gRPC by testbed/rayservice_testbed/harness",
                script=__spec__,
                load=load,
            ),
            f"- the head runs Ray {head_ray} ({where}); the package and the host run in "
            "`.venv` (the Ray above is that virtualenv's, not the head's)",
            "- one local Ray head (`RayHead.start(num_cpus=4)`); Serve already running for every "
            "deploy; replicas at 0.1 CPU; a new app name per run; runs interleaved raw, provider, "
            "raw, ...; one untimed warm-up run of each path first",
            "- raw = PUT, then GET every 0.05 s; provider = Create/Update/Delete through the real "
            "host, its Check (and Diff) before each op timed apart (last column below)",
            "- lag: during every deploy, for both paths, a watcher polls Serve every 0.02 s; lag = "
            "op returned - watcher first saw RUNNING + all HEALTHY with this deploy's "
            "`last_deployed_time_s` (resolution about one GET, ~0.05 s)",
            f"- provider polling: `{backoff!r}`",
            "- cells: median (min..max) in seconds unless marked",
            "",
            results_table(cycles, cost, rounds),
            "",
            'Per run ("backoff sleep then": the provider\'s poll interval in effect when Serve '
            "reported RUNNING, from its Backoff schedule, GET time ignored):",
            "",
            runs_table(cycles),
            "",
        ]
    )


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per path (default 3)")
    parser.add_argument("--rounds", type=int, default=200, help="Check+Diff round trips (200)")
    parser.add_argument("--no-append", action="store_true", help="print only, leave BENCHMARKS.md")
    parser.add_argument(
        "--ray-venv",
        type=Path,
        default=None,
        help="run the head from this virtualenv's Ray (a cell of the Ray matrix, .venvs/ray-X)",
    )
    args = parser.parse_args()

    load = load_average()
    cycles: list[Cycle] = []
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs-bench-")))
        uri = zip_app(EXAMPLES / "fruit_stand" / "app", folder / "fruit_stand.zip")
        host = stack.enter_context(ProviderHost())
        print("starting a local Ray head ...", flush=True)
        head = RayHead.start(num_cpus=4, venv=args.ray_venv)
        head_ray = ".".join(map(str, head.ray_version()))
        print(f"the head runs Ray {head_ray}", flush=True)
        try:
            raw_cycle(head, uri, "warm_raw")
            _, created = provider_cycle(host, head, uri, "warm_prov")
            print("warm-up done", flush=True)
            for run in range(1, args.runs + 1):
                for path in ("raw", "provider"):
                    name = f"bench_{path}_{run}"
                    if path == "raw":
                        cycles.append(raw_cycle(head, uri, name))
                    else:
                        cycle, created = provider_cycle(host, head, uri, name)
                        cycles.append(cycle)
                    timings = ", ".join(f"{op} {t.seconds:.3f}" for op, t in cycles[-1].ops.items())
                    print(f"run {run} {path}: {timings} s", flush=True)
        finally:
            head.stop()
        print("Ray head stopped; timing Check+Diff in the host ...", flush=True)
        cost = check_diff_cost(host, created, args.rounds)

    publish(
        section(cycles, cost, args.runs, args.rounds, load, head_ray, args.ray_venv),
        to_file=not args.no_append,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
