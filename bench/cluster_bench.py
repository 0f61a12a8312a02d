"""``RayClusterProvider`` against the fake Kubernetes API: requests per operation, Check cost.

One fake API server (``rayservice_testbed.fake_kube``) on loopback with its stand-in KubeRay
operator running WITHOUT Ray processes (a cluster is ready a few milliseconds after each change, so
wall times are the provider's own cost: host call, client setup, requests and its poll sleeps), and
the real Pulumi provider host (``python -m pulumi.dynamic``) driven over gRPC as the engine drives
it. Clusters are created with ``wait_for_dashboard=False`` (no dashboard behind the proxy here).

One cycle, on a fresh resource, counts the requests the fake logged for each ``pulumi up`` step:

1. create + wait until ready (Check, Create);
2. an identical ``up`` (Check, Diff): target zero requests, so zero writes;
3. an in-place update (worker replicas 1 -> 2): Check, Diff, Update;
4. a replacement (image change): Check, Diff, Check, Create of the new cluster, Delete of the old;
5. delete (``pulumi destroy``), every cluster holding a GCS-FT-style finalizer for 1 s;

and, informative, on another fresh resource: create + wait for a cluster whose head pod turns
ready only after ``--slow-ready-s`` (5 s): what the wait's polling costs when it actually waits.

Every cluster of the bench holds the finalizer, so the replacement's deletion of the old cluster
waits for it too (as it would for a real GCS-FT cluster). During each operation a watcher thread
reads the fake's store in-process every 5 ms (no request) and notes when the state the operation
awaits was reached; lag = the operation returned - that moment. One untimed warm-up cycle comes
first (its create, in a fresh provider host, is reported apart); then ``--runs`` cycles, medians.

6. Check cost of the CRD validation: ``validate_cluster_spec`` in a fresh subprocess (import, first
   call with the shipped schema JSON loaded, second call), then in-process (N calls after 10
   warm-up calls) for the sample, autoscaler and complete KubeRay samples; and Check through the
   host (N calls after 10 warm-ups, olds = the previous checked inputs, as in a ``pulumi up`` of an
   existing stack), plus the first Check in a fresh provider host.

Prints markdown tables and appends them to BENCHMARKS.md. Exits non-zero only on errors; a missed
target is marked MISSED. Run from the repo root: ``.venv/bin/python -m bench.cluster_bench``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.runtime.proto import provider_pb2

if __package__ in (None, ""):  # run as `python bench/cluster_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer, RequestRecord, Scenario
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderHost,
    _serialize,
    provider_input,
    urn_of,
)
from rayservice_testbed.measure import (
    count_cell,
    count_requests,
    expect,
    heading,
    load_average,
    median_p95,
    p95,
    publish,
    repeats,
    row,
    spread,
    timed,
    timed_calls,
    verdict,
    watched,
)
from rayservice_testbed.paths import REPO_ROOT

from pulumi_rayservice.cluster.crd_schema import validate_cluster_spec
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.cluster.readiness import Readiness

TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
NS = "default"
RESOURCE_PREFIX = "cb"
CLUSTER_NAMES = rf"{RESOURCE_PREFIX}\d+-[a-z0-9]{{5}}"  # the clusters of the five steps
SLOW_NAMES = rf"{RESOURCE_PREFIX}slow\d+-[a-z0-9]{{5}}"  # the slow-create clusters
FINALIZER_HOLD_S = 1.0
OP_TIMEOUT_S = 60
NEW_IMAGE = "rayproject/ray:2.53.0"
WATCH_POLL_S = 0.005
CHECK_TARGET_MS = 20.0
SAME_TARGET_REQUESTS = 0
SETTLE_S = 10.0  # the watcher may trail the step by one poll
METHODS = ("GET", "POST", "PATCH", "DELETE")
OPS = ("create", "same", "update", "replace", "delete")
SLOW = "slow create"
LABELS = {
    "create": "create + wait until ready",
    "same": "identical `up` (Check + Diff)",
    "update": "in-place update: worker replicas 1 -> 2, until ready",
    "replace": "replacement: image change (new cluster ready, old one gone)",
    "delete": f"delete, GCS-FT finalizer held {FINALIZER_HOLD_S:g} s, until gone",
    SLOW: "create + wait, head pod ready only after {slow:g} s (informative: polling cost)",
}
SAMPLES = {
    "sample": "ray-service.sample.yaml",
    "autoscaler": "ray-cluster.autoscaler.yaml",
    "complete": "ray-cluster.complete.yaml",
}


# --- specs and inputs -------------------------------------------------------------------------


def scaled(spec: Mapping[str, Any], replicas: int) -> dict[str, Any]:
    changed = copy.deepcopy(dict(spec))
    changed["workerGroupSpecs"][0]["replicas"] = replicas
    return changed


def with_image(spec: Mapping[str, Any], image: str) -> dict[str, Any]:
    changed = copy.deepcopy(dict(spec))
    for group in [changed["headGroupSpec"], *changed["workerGroupSpecs"]]:
        group["template"]["spec"]["containers"][0]["image"] = image
    return changed


def cluster_inputs(kubeconfig: Path, spec: Mapping[str, Any], resource: str) -> dict[str, Any]:
    """Inputs as ``rs.RayCluster`` sends them (tests/test_cluster_provider.py)."""
    return {
        "spec": copy.deepcopy(dict(spec)),
        "namespace": NS,
        "resource_name": resource,
        "kube": {"path": str(kubeconfig)},
        "timeout_s": OP_TIMEOUT_S,
        "wait_for_dashboard": False,
        PROVIDER_KEY: provider_input(RayClusterProvider()),
    }


# --- the fake's store, read in-process (no request) ------------------------------------------


def clusters(server: FakeKubeServer) -> list[dict[str, Any]]:
    return list(server.registry.list(RAYCLUSTERS, NS)["items"])


def live(server: FakeKubeServer, name: str) -> dict[str, Any] | None:
    return server.registry.find(RAYCLUSTERS, NS, name)


def is_ready(obj: Mapping[str, Any] | None) -> bool:
    """The provider's own readiness rule (observedGeneration current, HeadPodReady True)."""
    return obj is not None and Readiness.of(obj).ready


# --- one cycle --------------------------------------------------------------------------------


@dataclass
class OpResult:
    """One ``pulumi up`` step of one resource: what reached the API server and how long it took."""

    seconds: float
    requests: list[RequestRecord]
    lag_s: float | None = None  # returned - the fake reached the awaited state
    sequence: str = ""

    def count(self, method: str | None = None) -> int:
        return count_requests(self.requests, method)


@dataclass
class Cycle:
    """Create, identical up, update, replace and delete of one fresh resource."""

    resource: str
    ops: dict[str, OpResult] = field(default_factory=dict)


def sequence(records: list[RequestRecord], tags: Mapping[str, str]) -> str:
    """``GET 404, POST 201, GET 200 x2``; objects named by ``tags`` (name -> tag) when given."""
    tokens: list[str] = []
    for record in records:
        path = record.path
        last = path.rsplit("/", 1)[-1]
        if "/rayclusters" not in path:
            target = f" {path}"  # anything but the RayCluster object itself
        elif last == "rayclusters":
            target = ""
        else:
            tag = tags.get(last, last)
            target = f" {tag}" if tag else ""
        tokens.append(f"{record.method}{target} {record.status}")
    return repeats(tokens, adjacent=True)


def timed_op(
    server: FakeKubeServer,
    step: Callable[[], Any],
    reached: Callable[[], bool] | None,
    what: str,
) -> tuple[OpResult, Any]:
    """Run one step with the request log cleared before and, when ``reached`` is given, a
    watcher beside it reading the fake's store every ``WATCH_POLL_S`` (lag: returned - reached)."""
    server.reset_requests()
    if reached is None:
        seconds, result = timed(step)
        return OpResult(seconds, list(server.requests)), result
    outcome = watched(step, reached, interval=WATCH_POLL_S, what=what, settle_s=SETTLE_S)
    return OpResult(outcome.seconds, list(server.requests), outcome.lag), outcome.result


def run_cycle(engine: Engine, server: FakeKubeServer, kubeconfig: Path, resource: str) -> Cycle:
    """The five steps on a fresh resource; every outcome is checked against the fake's store."""
    cycle = Cycle(resource)
    urn = urn_of(TYPE, resource)
    spec = sample_cluster_spec()
    prefix = f"{resource}-"
    before = {c["metadata"]["uid"] for c in clusters(server)}

    def new_ready(exclude: set[str]) -> Callable[[], bool]:
        return lambda: any(
            c["metadata"]["name"].startswith(prefix)
            and c["metadata"]["uid"] not in exclude
            and is_ready(c)
            for c in clusters(server)
        )

    # 1. create
    op, step = timed_op(
        server,
        lambda: engine.up(urn, cluster_inputs(kubeconfig, spec, resource)),
        new_ready(before),
        f"a new ready cluster {prefix}*",
    )
    expect(step.op == "create", f"create: the engine did {step.op}")
    created = engine.state[urn].outputs
    name, uid = created["name"], created["uid"]
    expect(is_ready(live(server, name)), f"create: {name} not ready after Create returned")
    op.sequence = sequence(op.requests, {name: ""})
    cycle.ops["create"] = op

    # 2. identical up
    op, step = timed_op(
        server, lambda: engine.up(urn, cluster_inputs(kubeconfig, spec, resource)), None, ""
    )
    expect(step.op == "same", f"identical up: the engine did {step.op}")
    op.sequence = sequence(op.requests, {name: ""})
    cycle.ops["same"] = op

    # 3. in-place update
    bigger = scaled(spec, 2)

    def scaled_ready() -> bool:
        obj = live(server, name)
        return (
            obj is not None
            and obj["spec"]["workerGroupSpecs"][0]["replicas"] == 2
            and (is_ready(obj))
        )

    op, step = timed_op(
        server,
        lambda: engine.up(urn, cluster_inputs(kubeconfig, bigger, resource)),
        scaled_ready,
        f"{name} scaled to 2 and ready",
    )
    expect(step.op == "update", f"update: the engine did {step.op}")
    expect(engine.state[urn].outputs["uid"] == uid, "update: the uid changed")
    op.sequence = sequence(op.requests, {name: ""})
    cycle.ops["update"] = op

    # 4. replacement
    op, step = timed_op(
        server,
        lambda: engine.up(urn, cluster_inputs(kubeconfig, with_image(bigger, NEW_IMAGE), resource)),
        lambda: live(server, name) is None,
        f"the old cluster {name} gone",
    )
    expect(step.op == "replace", f"replace: the engine did {step.op}")
    replaced = engine.state[urn].outputs
    new_name = replaced["name"]
    expect(new_name != name and replaced["image"] == NEW_IMAGE, "replace: not a new cluster")
    expect(is_ready(live(server, new_name)), f"replace: {new_name} not ready")
    op.sequence = sequence(op.requests, {name: "old", new_name: "new"})
    cycle.ops["replace"] = op

    # 5. delete
    obj = live(server, new_name)
    expect(
        obj is not None and bool(obj["metadata"].get("finalizers")),
        f"delete: {new_name} holds no finalizer",
    )
    op, _ = timed_op(
        server,
        lambda: engine.destroy(urn),
        lambda: live(server, new_name) is None,
        f"{new_name} gone",
    )
    expect(live(server, new_name) is None, f"delete: {new_name} still exists")
    op.sequence = sequence(op.requests, {new_name: ""})
    cycle.ops["delete"] = op
    leftovers = [c["metadata"]["name"] for c in clusters(server)]
    expect(not leftovers, f"clusters left behind: {leftovers}")
    return cycle


def slow_create(
    engine: Engine, server: FakeKubeServer, kubeconfig: Path, resource: str
) -> OpResult:
    """Create a cluster whose head pod turns ready late (``SLOW_NAMES``); delete it untimed."""
    urn = urn_of(TYPE, resource)
    prefix = f"{resource}-"

    def ready() -> bool:
        return any(
            c["metadata"]["name"].startswith(prefix) and is_ready(c) for c in clusters(server)
        )

    spec = sample_cluster_spec()
    op, step = timed_op(
        server,
        lambda: engine.up(urn, cluster_inputs(kubeconfig, spec, resource)),
        ready,
        f"the slow cluster {prefix}* ready",
    )
    expect(step.op == "create", f"slow create: the engine did {step.op}")
    op.sequence = sequence(op.requests, {engine.state[urn].outputs["name"]: ""})
    engine.destroy(urn)
    return op


# --- Check cost -------------------------------------------------------------------------------

FRESH_PROCESS = """
import json, sys, time
spec = json.load(sys.stdin)
t0 = time.perf_counter()
from pulumi_rayservice.cluster.crd_schema import validate_cluster_spec
t1 = time.perf_counter()
first = validate_cluster_spec(spec)
t2 = time.perf_counter()
validate_cluster_spec(spec)
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000,
                  "second_ms": (t3 - t2) * 1000, "violations": [str(v) for v in first]}))
"""


@dataclass
class CheckCost:
    """Per sample: fresh-process timings (ms), in-process and host Check samples (ms)."""

    spec_bytes: int = 0
    import_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    second_ms: list[float] = field(default_factory=list)
    calls_ms: list[float] = field(default_factory=list)
    host_first_ms: list[float] = field(default_factory=list)
    host_ms: list[float] = field(default_factory=list)
    wire_ms: list[float] = field(default_factory=list)


def fresh_process(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Import and first/second ``validate_cluster_spec`` in a new Python process."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"fresh validation process failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def host_check(
    host: ProviderHost, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]
) -> None:
    outcome = host.check(urn, olds, news)
    if outcome.failures:
        raise RuntimeError(f"Check failed: {outcome.failures}")


def check_cost(
    host: ProviderHost, kubeconfig: Path, fresh: int, rounds: int, host_rounds: int
) -> dict[str, CheckCost]:
    costs: dict[str, CheckCost] = {}
    for label, file_name in SAMPLES.items():
        spec = sample_cluster_spec(file_name)
        cost = costs[label] = CheckCost(spec_bytes=len(json.dumps(spec)))
        for _ in range(fresh):
            result = fresh_process(spec)
            expect(not result["violations"], f"{label}: refused: {result['violations']}")
            cost.import_ms.append(result["import_ms"])
            cost.first_ms.append(result["first_ms"])
            cost.second_ms.append(result["second_ms"])

        violations = validate_cluster_spec(spec)
        expect(not violations, f"{label}: refused: {violations}")
        cost.calls_ms = timed_calls(functools.partial(validate_cluster_spec, spec), rounds)

        urn = urn_of(TYPE, f"check-{label}")
        news = cluster_inputs(kubeconfig, spec, f"check-{label}")
        first = host.check(urn, {}, news)
        expect(not first.failures, f"{label}: Check failed: {first.failures}")
        olds = first.inputs  # a `pulumi up` of an existing stack: the previous checked inputs

        cost.host_ms = timed_calls(
            functools.partial(host_check, host, urn, olds, news), host_rounds
        )
        request = provider_pb2.CheckRequest(urn=urn, olds=_serialize(olds), news=_serialize(news))
        cost.wire_ms = timed_calls(functools.partial(host.stub.Check, request), host_rounds)
    return costs


def first_checks(kubeconfig: Path, fresh: int, costs: dict[str, CheckCost]) -> None:
    """The first Check in a new provider host (what each `pulumi preview` pays once)."""
    for label, file_name in SAMPLES.items():
        spec = sample_cluster_spec(file_name)
        for _ in range(fresh):
            with ProviderHost() as host:
                urn = urn_of(TYPE, f"first-{label}")
                news = cluster_inputs(kubeconfig, spec, f"first-{label}")
                seconds, outcome = timed(functools.partial(host.check, urn, {}, news))
                costs[label].host_first_ms.append(seconds * 1000)
                expect(not outcome.failures, f"{label}: Check failed: {outcome.failures}")


# --- report -----------------------------------------------------------------------------------


def ops_table(cycles: list[Cycle], warmup: Cycle, slow_ready_s: float) -> str:
    rows = [
        row("operation", *METHODS, "total", "wall s", "lag s", "target", "ok?"),
        row(*["---"] * (len(METHODS) + 6)),
    ]
    for op in measured(cycles):
        results = [c.ops[op] for c in cycles]
        counts = [count_cell([r.count(m) for r in results]) for m in METHODS]
        lags = [r.lag_s for r in results if r.lag_s is not None]
        target, ok = "-", "-"
        if op == "same":
            target = f"{SAME_TARGET_REQUESTS} requests (so 0 writes)"
            ok = verdict(all(r.count() <= SAME_TARGET_REQUESTS for r in results))
        rows.append(
            row(
                LABELS[op].format(slow=slow_ready_s),
                *counts,
                count_cell([r.count() for r in results]),
                spread([r.seconds for r in results]),
                spread(lags) if lags else "-",
                target,
                ok,
            )
        )
    cold = warmup.ops["create"]
    rows.append(
        row(
            "  create + wait in a fresh provider host (warm-up run, not in the medians)",
            *[str(cold.count(m)) for m in METHODS],
            str(cold.count()),
            f"{cold.seconds:.3f}",
            f"{cold.lag_s:.3f}" if cold.lag_s is not None else "-",
            "-",
            "-",
        )
    )
    return "\n".join(rows)


def sequences_table(cycles: list[Cycle]) -> str:
    rows = [row("operation", "requests in order", "runs"), row("---", "---", "---")]
    for op in measured(cycles):
        seen = collections.Counter(c.ops[op].sequence for c in cycles)
        for text, times in seen.most_common():
            rows.append(row(op, f"`{text}`", f"{times}/{len(cycles)}"))
    return "\n".join(rows)


def measured(cycles: list[Cycle]) -> list[str]:
    """The operations of the cycles, in order (the slow create only when it ran)."""
    return [op for op in (*OPS, SLOW) if op in cycles[0].ops]


def runs_table(cycles: list[Cycle]) -> str:
    ops = measured(cycles)
    rows = [
        row("run", *(f"{op} s (lag)" for op in ops)),
        row(*["---"] * (len(ops) + 1)),
    ]
    for index, cycle in enumerate(cycles, 1):
        cells = []
        for op in ops:
            result = cycle.ops[op]
            lag = f" ({result.lag_s:.3f})" if result.lag_s is not None else ""
            cells.append(f"{result.seconds:.3f}{lag}")
        rows.append(row(str(index), *cells))
    return "\n".join(rows)


def check_table(costs: dict[str, CheckCost], fresh: int, rounds: int, host_rounds: int) -> str:
    labels = list(costs)
    header = [f"{label} (`{SAMPLES[label]}`)" for label in labels]
    rows = [row("measurement", *header, "target", "ok?"), row(*["---"] * (len(labels) + 3))]

    def add(name: str, cells: list[str], target: str = "-", ok: str = "-") -> None:
        rows.append(row(name, *cells, target, ok))

    add("spec size, JSON bytes", [str(costs[lb].spec_bytes) for lb in labels])
    add(
        f"fresh process: import of `crd_schema` (with the package), ms, median of {fresh}",
        [f"{statistics.median(costs[lb].import_ms):.1f}" for lb in labels],
    )
    add(
        "fresh process: first `validate_cluster_spec` (loads the schema JSON, builds the "
        "validator), ms",
        [f"{statistics.median(costs[lb].first_ms):.1f}" for lb in labels],
    )
    add(
        "fresh process: second call, ms",
        [f"{statistics.median(costs[lb].second_ms):.2f}" for lb in labels],
    )
    in_process_ok = all(p95(costs[lb].calls_ms) < CHECK_TARGET_MS for lb in labels)
    add(
        f"`validate_cluster_spec` in-process after the first load, N={rounds}, ms",
        [median_p95(costs[lb].calls_ms) for lb in labels],
        f"< {CHECK_TARGET_MS:g} ms (p95)",
        verdict(in_process_ok),
    )
    host_ok = all(p95(costs[lb].host_ms) < CHECK_TARGET_MS for lb in labels)
    add(
        f"Check through the host (harness serializes each request), N={host_rounds}, ms",
        [median_p95(costs[lb].host_ms) for lb in labels],
        f"< {CHECK_TARGET_MS:g} ms (p95)",
        verdict(host_ok),
    )
    add(
        f"Check, gRPC call only (request serialized once beforehand), N={host_rounds}, ms",
        [median_p95(costs[lb].wire_ms) for lb in labels],
    )
    add(
        f"first Check in a fresh provider host (unpickles the provider, loads the schema), ms, "
        f"median of {fresh}",
        [spread(costs[lb].host_first_ms, 1) for lb in labels],
    )
    return "\n".join(rows)


def section(
    cycles: list[Cycle],
    warmup: Cycle,
    costs: dict[str, CheckCost],
    args: argparse.Namespace,
    load: str,
) -> str:
    return "\n".join(
        [
            *heading(
                "cluster_bench: RayClusterProvider requests per operation and Check cost, "
                f"{args.runs} runs",
                packages={
                    "pulumi SDK": "pulumi",
                    "kubernetes client": "kubernetes",
                    "openapi-schema-validator": "openapi-schema-validator",
                },
                note="no Pulumi CLI and no Kubernetes on this machine: the real "
                "`python -m pulumi.dynamic` host is driven over gRPC by the testbed's engine "
                "stand-in, against its fake API server",
                script=__spec__,
                load=load,
            ),
            "- fake API server (rayservice_testbed.fake_kube) on loopback; its stand-in KubeRay "
            "operator runs without Ray processes, so a cluster is ready milliseconds after each "
            "change and the wall times are the provider's own (host call, client setup, requests, "
            "poll sleeps); "
            "`wait_for_dashboard=False`",
            "- one RayCluster, the spec of `ray-service.sample.yaml` (`rayClusterConfig`); each "
            "run a fresh resource through create, identical up, update, replace, delete "
            "(steps as `rayservice_testbed.harness.provider_host.Engine` plays them); one untimed "
            "warm-up run first",
            f"- every cluster holds a GCS-FT-style finalizer for {FINALIZER_HOLD_S:g} s after "
            "its deletion (`Scenario(gcs_ft_finalizer=True)`): the replacement's delete of the "
            "old cluster waits for it too",
            "- requests: everything the fake logged during the step; lag: the step returned - "
            f"a watcher (reads the fake's store in-process every {WATCH_POLL_S * 1000:g} ms, no "
            "request) saw the awaited state (new cluster ready by the provider's own rule; old "
            "cluster gone)",
            f"- slow create: another fresh resource whose head pod turns ready "
            f"{args.slow_ready_s:g} s after the head is up (`Scenario(ready_delay_s=...)`), "
            "deleted again untimed"
            if args.slow_ready_s > 0
            else "- slow create: skipped",
            "- cells: count when all runs agree, else median (min..max); seconds as median "
            "(min..max)",
            "",
            ops_table(cycles, warmup, args.slow_ready_s),
            "",
            "Requests in order (`old`/`new`: the replaced and the replacing cluster):",
            "",
            sequences_table(cycles),
            "",
            "Per run:",
            "",
            runs_table(cycles),
            "",
            "Check cost of the CRD validation (all three samples pass), ms as median (p95):",
            "",
            check_table(costs, args.fresh, args.rounds, args.check_rounds),
            "",
        ]
    )


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed cycles (default 3)")
    parser.add_argument("--rounds", type=int, default=200, help="in-process validations (200)")
    parser.add_argument("--check-rounds", type=int, default=100, help="Checks in the host (100)")
    parser.add_argument("--fresh", type=int, default=3, help="fresh processes per sample (3)")
    parser.add_argument(
        "--slow-ready-s",
        type=float,
        default=5.0,
        help="also create a cluster whose head turns ready after this many s (5; 0: skip)",
    )
    parser.add_argument("--no-append", action="store_true", help="print only, leave BENCHMARKS.md")
    args = parser.parse_args()

    load = load_average()
    cycles: list[Cycle] = []
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs-cbench-")))
        server = stack.enter_context(
            FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario())
        )
        assert server.operator is not None
        server.operator.set_scenario(
            CLUSTER_NAMES, Scenario(gcs_ft_finalizer=True, finalizer_delay_s=FINALIZER_HOLD_S)
        )
        if args.slow_ready_s > 0:
            server.operator.set_scenario(SLOW_NAMES, Scenario(ready_delay_s=args.slow_ready_s))
        kubeconfig = server.write_kubeconfig(folder / "kubeconfig")
        host = stack.enter_context(ProviderHost())
        engine = Engine(host)
        try:
            warmup = run_cycle(engine, server, kubeconfig, f"{RESOURCE_PREFIX}0")
            print(f"warm-up done (create in a fresh host {warmup.ops['create'].seconds:.3f} s)")
            for run in range(1, args.runs + 1):
                cycle = run_cycle(engine, server, kubeconfig, f"{RESOURCE_PREFIX}{run}")
                if args.slow_ready_s > 0:
                    cycle.ops[SLOW] = slow_create(
                        engine, server, kubeconfig, f"{RESOURCE_PREFIX}slow{run}"
                    )
                cycles.append(cycle)
                timings = ", ".join(
                    f"{op} {r.seconds:.3f} s/{r.count()} req" for op, r in cycle.ops.items()
                )
                print(f"run {run}: {timings}", flush=True)
        finally:
            for _ in engine.destroy_all():
                pass
        print("timing the CRD validation and Check ...", flush=True)
        costs = check_cost(host, kubeconfig, args.fresh, args.rounds, args.check_rounds)
        first_checks(kubeconfig, args.fresh, costs)
        expect(not server.operator.errors, f"fake operator errors: {server.operator.errors}")

    publish(section(cycles, warmup, costs, args, load), to_file=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
