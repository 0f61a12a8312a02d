"""The RayService lifecycle end to end: wall time, API requests and client failures per step.

One fake Kubernetes API server (``rayservice_testbed.fake_kube``) whose stand-in KubeRay operator
starts a REAL local Ray head per RayCluster, the real Pulumi provider host (``python -m
pulumi.dynamic``) and ``rayservice_testbed.harness.program_engine.ProgramEngine`` playing the
engine's steps for the program of ``rayservice_testbed.harness.fruit_stack`` (``Stack``:
``RayService("fruit")`` with the FruitStand app, ``Upgrade(strategy="NewCluster", drain_s=1)``). One
lifecycle, each step a ``pulumi up`` (or ``destroy``) timed in wall seconds:

1. first up: the cluster, the FruitStand app RUNNING on it, the serve Service;
2. in-place update: MangoStand price 3 -> 4 (one ServeApplication updated, no new cluster);
3. identical up: target zero writes;
4. cluster upgrade: image change: a new cluster, the app RUNNING on it, the Service's selector
   moved, then (after ``drain_s``) the old app and the old cluster deleted;
5. destroy: nothing left in the API server, the clusters' Ray heads ended.

Per step the fake's request log is counted: requests made by the engine, the provider host and
the stand-in for pulumi-kubernetes (total, writes, and those through the API server's service
proxy to a cluster's dashboard, ``...-head-svc:dashboard/proxy/...``, by method); the client
traffic (below) is logged by the fake too but counted apart. During steps 2 and 4, and during
step 1 from the serve Service's first answer on, the lifecycle test's ``Traffic`` loop posts to
the serve Service through the API server proxy (as kube-proxy would route it) and every failure
is counted (target for the upgrade: none). A watcher reads the fake's store in-process every
20 ms (no request) and notes when each RayCluster object appeared, turned ready and was gone;
with the engine's own events this gives the upgrade's timeline (new cluster ready -> Service
switch -> old cluster deleted).

The lifecycle runs ``--runs`` times (2) on one API server and one provider host (run 1 pays the
host's cold start), unless a further run would end after ``--budget-s`` (300 s); the section says
how many ran. Prints markdown tables and appends them to BENCHMARKS.md. Exits non-zero only on
errors; a missed target is marked MISSED. Run from the repo root:
``.venv/bin/python -m bench.lifecycle_bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests

if __package__ in (None, ""):  # run as `python bench/lifecycle_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayservice_testbed.fake_kube import RAYCLUSTERS, SERVICES, FakeKubeServer, RequestRecord
from rayservice_testbed.harness.fruit_stack import NS, Stack, Traffic, serve_answer
from rayservice_testbed.harness.program_engine import Event, ProgramEngine, Run, ServiceApplier
from rayservice_testbed.harness.provider_host import ProviderHost
from rayservice_testbed.harness.serve_apps import zip_app
from rayservice_testbed.measure import (
    FirstSeen,
    Stopwatch,
    count_requests,
    expect,
    heading,
    load_average,
    publish,
    repeats,
    row,
    verdict,
    wait_until,
    writes,
)
from rayservice_testbed.paths import EXAMPLES

from pulumi_rayservice.cluster.readiness import Readiness

NEW_IMAGE = "rayproject/ray:2.53.0"
SERVICE_NAME = "fruit-serve-svc"
DASHBOARD_PROXY = "-head-svc:dashboard/proxy"
SERVE_PROXY = f"{SERVICE_NAME}:serve/proxy"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
SERVICE_TYPE = "kubernetes:core/v1:Service"
WATCH_POLL_S = 0.02
PROBE_S = 0.05
FIRST_ANSWER_AFTER_S = 30.0
HEADS_GONE_TIMEOUT_S = 60.0
SAME_TARGET_WRITES = 0
UPGRADE_TARGET_FAILED = 0
STEPS = ("up", "update", "same", "upgrade", "destroy")
LABELS = {
    "up": "1. first up: cluster, FruitStand RUNNING, serve Service",
    "update": "2. in-place update: mango price 3 -> 4",
    "same": "3. identical up",
    "upgrade": "4. cluster upgrade: image change, new cluster, Service switch, old deleted",
    "destroy": "5. destroy",
}
UPGRADE_ORDER = [
    ("replace-create", CLUSTER_TYPE),
    ("replace-create", APP_TYPE),
    ("update", SERVICE_TYPE),
    ("delete", APP_TYPE),
    ("delete", CLUSTER_TYPE),
]


# --- what the fake's store shows, without requests ---------------------------------------------


Milestone = tuple[str, str]
"""(RayCluster name, ``created``, ``ready`` or ``gone``)."""


def milestones(server: FakeKubeServer) -> Callable[[], list[Milestone]]:
    """What the fake's RayClusters show at each read, in-process (no request): every object
    ``created``, those ready ``ready``, and ``gone`` for a name seen before that is no longer
    there. A ``FirstSeen`` of it keeps when (``time.monotonic()``) each milestone was reached."""
    known: set[str] = set()

    def observe() -> list[Milestone]:
        items = server.registry.list(RAYCLUSTERS, NS)["items"]
        present = {obj["metadata"]["name"] for obj in items}
        known.update(present)
        return [
            *((name, "created") for name in present),
            *((obj["metadata"]["name"], "ready") for obj in items if Readiness.of(obj).ready),
            *((name, "gone") for name in known - present),
        ]

    return observe


# --- client traffic ------------------------------------------------------------------------------


@dataclass
class TrafficResult:
    """The ``Traffic`` loop of one step; ``old`` answers (the previous price) are not failures."""

    sent: int
    failures: list[str]
    old: int = 0
    probes: int = 0  # step 1: requests before the Service first answered (not counted)
    first_answer_s: float | None = None  # step 1: from the step's start

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def fraction(self) -> float:
        return self.failed / self.sent if self.sent else 0.0


class TrafficClient(Protocol):
    """Client traffic beside one step, started when made."""

    def finish(self) -> TrafficResult: ...


class MeasuredTraffic:
    """``Traffic``, started now; answers equal to ``old`` (a price still being replaced) are
    taken out of its failures and counted apart."""

    def __init__(self, server: FakeKubeServer, expected: str, old: str | None = None) -> None:
        self.traffic = Traffic(server, expected).__enter__()
        self.old = old

    def finish(self) -> TrafficResult:
        self.traffic.__exit__(None, None, None)
        old_answer = f"200 {self.old}" if self.old is not None else None
        failures = [f for f in self.traffic.failures if f != old_answer]
        old = len(self.traffic.failures) - len(failures)
        return TrafficResult(self.traffic.sent, failures, old)


class TrafficAfterFirstAnswer(threading.Thread):
    """Probe the serve Service until it answers ``expected``; from then on, while the step runs,
    ``Traffic``. The probing goes on after the step (up to 30 s) to learn when it first answered.
    """

    def __init__(self, server: FakeKubeServer, expected: str, start: float) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.expected = expected
        self.start_at = start
        self.probes = 0
        self.first_answer: float | None = None
        self.traffic: MeasuredTraffic | None = None
        self._lock = threading.Lock()
        self._step_done = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        probe = Traffic(self.server, self.expected)  # only its URL and headers
        session = requests.Session()
        while not self._stop_event.is_set():
            self.probes += 1
            try:
                reply = session.post(
                    probe.url, json=["MANGO", 2], headers=probe.headers, timeout=10
                )
                if reply.status_code == 200 and reply.text == self.expected:
                    self.first_answer = time.monotonic()
                    with self._lock:
                        if not self._step_done:
                            self.traffic = MeasuredTraffic(self.server, self.expected)
                    return
            except requests.RequestException:
                pass
            self._stop_event.wait(PROBE_S)

    def finish(self) -> TrafficResult:
        with self._lock:
            self._step_done = True  # no traffic starts after this
        self.join(FIRST_ANSWER_AFTER_S)
        self._stop_event.set()
        self.join()
        result = TrafficResult(0, []) if self.traffic is None else self.traffic.finish()
        result.probes = self.probes
        if self.first_answer is not None:
            result.first_answer_s = self.first_answer - self.start_at
        return result


# --- one lifecycle -------------------------------------------------------------------------------


@dataclass
class StepResult:
    """One ``pulumi up``/``destroy``: its wall time, requests (client traffic apart), events."""

    seconds: float
    start: float  # time.monotonic() at the step's start
    requests: list[RequestRecord]  # the client traffic's left out
    traffic: TrafficResult | None
    events: list[Event]
    engine_steps: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # cluster name -> "old"/"new"

    def count(self, method: str | None = None, *, dashboard: bool | None = None) -> int:
        if dashboard is None:
            return count_requests(self.requests, method)
        return count_requests(
            self.requests, method, where=lambda r: (DASHBOARD_PROXY in r.path) == dashboard
        )

    def writes(self) -> int:
        return writes(self.requests)

    def event_at(self, op: str, typ: str) -> float | None:
        """Seconds from the step's start to the first event ``op`` on a resource of ``typ``."""
        return next((e.at - self.start for e in self.events if e.op == op and e.type == typ), None)


@dataclass
class Lifecycle:
    steps: dict[str, StepResult] = field(default_factory=dict)
    seen: dict[Milestone, float] = field(default_factory=dict)  # time.monotonic(), first seen
    first: str = ""
    second: str = ""
    heads_gone_s: float = 0.0  # after destroy returned, until every Ray head had ended
    seconds: float = 0.0
    load: str = ""


def cluster_names(server: FakeKubeServer) -> list[str]:
    return [o["metadata"]["name"] for o in server.registry.list(RAYCLUSTERS, NS)["items"]]


def selector(server: FakeKubeServer) -> dict[str, Any]:
    service = server.registry.find(SERVICES, NS, SERVICE_NAME)
    expect(service is not None, f"the serve Service {SERVICE_NAME} is missing")
    assert service is not None
    return dict(service["spec"]["selector"])


def timed_step(
    server: FakeKubeServer,
    engine: ProgramEngine,
    action: Callable[[], Run | None],
    traffic: Callable[[float], TrafficClient] | None = None,
) -> StepResult:
    """Run one step with the request log cleared before and, if given, ``traffic(start)``
    (started client traffic) beside it until the step returns."""
    server.reset_requests()
    mark = len(engine.events)
    client = None
    watch = Stopwatch(time.monotonic)  # the engine's events are time.monotonic() stamps
    start = watch.started
    try:
        if traffic is not None:
            client = traffic(start)
        run = action()
        seconds = watch.seconds()
    finally:
        outcome = client.finish() if client is not None else None
    if run is not None and run.failure is not None:
        raise RuntimeError(f"the step failed: {run.failure!r}") from run.failure
    return StepResult(
        seconds=seconds,
        start=start,
        requests=[r for r in server.requests if SERVE_PROXY not in r.path],
        traffic=outcome,
        events=list(engine.events[mark:]),
        engine_steps=dict(run.steps) if run is not None else {},
    )


def first_answer_traffic(server: FakeKubeServer, expected: str) -> Callable[[float], TrafficClient]:
    def begin(start: float) -> TrafficAfterFirstAnswer:
        thread = TrafficAfterFirstAnswer(server, expected, start)
        thread.start()
        return thread

    return begin


def steady_traffic(
    server: FakeKubeServer, expected: str, old: str | None = None
) -> Callable[[float], TrafficClient]:
    return lambda _start: MeasuredTraffic(server, expected, old)


def run_lifecycle(
    server: FakeKubeServer, host: ProviderHost, kubeconfig: Path, uri: str
) -> Lifecycle:
    """The five steps on a fresh stack; every outcome is checked against the fake's store."""
    life = Lifecycle(load=load_average())
    stack = Stack(uri, kubeconfig)
    engine = ProgramEngine(host, ServiceApplier(str(kubeconfig)))
    watcher = FirstSeen(milestones(server), interval=WATCH_POLL_S, clock=time.monotonic).start()
    began = time.monotonic()
    try:
        expect(
            cluster_names(server) == [], f"clusters left before the run: {cluster_names(server)}"
        )

        # 1. first up
        life.steps["up"] = step = timed_step(
            server, engine, lambda: engine.up(stack.program), first_answer_traffic(server, "6")
        )
        [life.first] = cluster_names(server)
        step.tags = {life.first: ""}
        expect(selector(server) == {"ray.io/cluster": life.first}, "up: Service selector")
        expect(serve_answer(server) == "6", "up: FruitStand does not answer 6")

        # 2. in-place update
        stack.mango = 4
        life.steps["update"] = step = timed_step(
            server, engine, lambda: engine.up(stack.program), steady_traffic(server, "8", "6")
        )
        step.tags = {life.first: ""}
        apps = [op for urn, op in step.engine_steps.items() if "ServeApplication" in urn]
        expect(apps == ["update"], f"update: the app's step was {apps}")
        expect(cluster_names(server) == [life.first], "update: a new cluster appeared")
        expect(serve_answer(server) == "8", "update: FruitStand does not answer 8")

        # 3. identical up
        life.steps["same"] = step = timed_step(server, engine, lambda: engine.up(stack.program))
        step.tags = {life.first: ""}
        expect(set(step.engine_steps.values()) == {"same"}, f"same: {step.engine_steps}")

        # 4. cluster upgrade
        stack.image = NEW_IMAGE
        life.steps["upgrade"] = step = timed_step(
            server, engine, lambda: engine.up(stack.program), steady_traffic(server, "8")
        )
        [life.second] = cluster_names(server)
        expect(life.second != life.first, "upgrade: no new cluster")
        step.tags = {life.first: "old", life.second: "new"}
        expect(selector(server) == {"ray.io/cluster": life.second}, "upgrade: Service selector")
        order = [(e.op, e.type) for e in step.events if e.op != "same"]
        expect(order == UPGRADE_ORDER, f"upgrade: steps in this order: {order}")
        expect(serve_answer(server) == "8", "upgrade: FruitStand does not answer 8")

        # 5. destroy
        life.steps["destroy"] = step = timed_step(server, engine, engine.destroy)
        step.tags = {life.second: ""}
        expect(cluster_names(server) == [], f"destroy: clusters left: {cluster_names(server)}")
        expect(server.registry.find(SERVICES, NS, SERVICE_NAME) is None, "destroy: Service left")
        operator = server.operator
        assert operator is not None
        destroyed = time.monotonic()
        wait_until(
            lambda: all(operator.head(NS, n) is None for n in (life.first, life.second)),
            HEADS_GONE_TIMEOUT_S,
            f"the Ray heads of {life.first} and {life.second} to end",
        )
        life.heads_gone_s = time.monotonic() - destroyed
    finally:
        watcher.stop()
        if engine.state or engine.pending_deletes:
            try:
                engine.destroy()
            except Exception:  # the run's own error matters more; show this one too
                traceback.print_exc()
    life.seconds = time.monotonic() - began
    life.seen = watcher.times()
    return life


# --- report --------------------------------------------------------------------------------------


def joined(values: list[str]) -> str:
    """One value when every run agrees, else run 1 / run 2 / ..."""
    return values[0] if len(set(values)) == 1 else " / ".join(values)


def seconds_cell(values: list[float | None]) -> str:
    return " / ".join("-" if v is None else f"{v:.2f}" for v in values)


def dashboard_methods(lives: list[Lifecycle]) -> list[str]:
    seen = {
        r.method
        for life in lives
        for step in life.steps.values()
        for r in step.requests
        if DASHBOARD_PROXY in r.path
    }
    return sorted(seen | {"GET", "PUT"}, key=lambda m: (m != "GET", m != "PUT", m))


def steps_table(lives: list[Lifecycle]) -> str:
    methods = dashboard_methods(lives)
    header = [
        "step",
        "wall s",
        "requests",
        "writes",
        *(f"dashboard {m}" for m in methods),
        "traffic sent",
        "traffic failed",
        "failed fraction",
        "target",
        "ok?",
    ]
    rows = [row(*header), row(*["---"] * len(header))]
    for name in STEPS:
        results = [life.steps[name] for life in lives]
        traffic = [r.traffic for r in results]
        target, ok = "-", "-"
        if name == "same":
            target = f"{SAME_TARGET_WRITES} writes"
            ok = verdict(all(r.writes() <= SAME_TARGET_WRITES for r in results))
        elif name == "upgrade":
            target = f"{UPGRADE_TARGET_FAILED} failed requests"
            ok = verdict(all(t is not None and t.failed <= UPGRADE_TARGET_FAILED for t in traffic))
        has_traffic = all(t is not None for t in traffic)
        rows.append(
            row(
                LABELS[name],
                seconds_cell([r.seconds for r in results]),
                joined([str(r.count()) for r in results]),
                joined([str(r.writes()) for r in results]),
                *(joined([str(r.count(m, dashboard=True)) for r in results]) for m in methods),
                joined([str(t.sent) for t in traffic if t is not None]) if has_traffic else "-",
                joined([str(t.failed) for t in traffic if t is not None]) if has_traffic else "-",
                joined([f"{t.fraction:.4f}" for t in traffic if t is not None])
                if has_traffic
                else "-",
                target,
                ok,
            )
        )
    return "\n".join(rows)


def traffic_notes(lives: list[Lifecycle]) -> list[str]:
    notes = []
    for index, life in enumerate(lives, 1):
        up, update = life.steps["up"].traffic, life.steps["update"].traffic
        upgrade = life.steps["upgrade"].traffic
        assert up is not None and update is not None and upgrade is not None
        step_s = life.steps["up"].seconds
        if up.first_answer_s is None:
            first = f"not within {FIRST_ANSWER_AFTER_S:g} s after the step returned"
        else:
            first = (
                f"at {up.first_answer_s:.2f} s ({up.first_answer_s - step_s:+.2f} s from the end)"
            )
        failures = Counter(up.failures + update.failures + upgrade.failures)
        shown = ", ".join(f"`{text}` x{n}" for text, n in failures.most_common(5)) or "none"
        notes.append(
            f"- run {index}: step 1 ({step_s:.2f} s): the serve Service first answered 6 {first}, "
            f"after {up.probes} probes (not counted); step 2: {update.old} answers still at the "
            f"old price (6, not failures); failures seen: {shown}"
        )
    return notes


def timeline_table(lives: list[Lifecycle]) -> str:
    """Seconds from the step's start (engine events; store watcher where marked)."""

    def seen(life: Lifecycle, name: str, milestone: str, start: float) -> float | None:
        value = life.seen.get((name, milestone))
        return None if value is None else value - start

    lines: list[tuple[str, Callable[[Lifecycle], float | None]]] = [
        (
            "1. RayCluster object created (POST; watcher)",
            lambda lf: seen(lf, lf.first, "created", lf.steps["up"].start),
        ),
        (
            "1. RayCluster ready: observedGeneration current, HeadPodReady (watcher)",
            lambda lf: seen(lf, lf.first, "ready", lf.steps["up"].start),
        ),
        (
            "1. RayCluster created (engine event: Create returned)",
            lambda lf: lf.steps["up"].event_at("create", CLUSTER_TYPE),
        ),
        (
            "1. FruitStand RUNNING (engine event: Create returned)",
            lambda lf: lf.steps["up"].event_at("create", APP_TYPE),
        ),
        (
            "1. serve Service created (engine event)",
            lambda lf: lf.steps["up"].event_at("create", SERVICE_TYPE),
        ),
        ("1. the step returned", lambda lf: lf.steps["up"].seconds),
        (
            "2. FruitStand updated, RUNNING (engine event)",
            lambda lf: lf.steps["update"].event_at("update", APP_TYPE),
        ),
        (
            "4. new RayCluster object created (POST; watcher)",
            lambda lf: seen(lf, lf.second, "created", lf.steps["upgrade"].start),
        ),
        (
            "4. new RayCluster ready (watcher)",
            lambda lf: seen(lf, lf.second, "ready", lf.steps["upgrade"].start),
        ),
        (
            "4. new RayCluster created (engine event)",
            lambda lf: lf.steps["upgrade"].event_at("replace-create", CLUSTER_TYPE),
        ),
        (
            "4. FruitStand RUNNING on the new cluster (engine event)",
            lambda lf: lf.steps["upgrade"].event_at("replace-create", APP_TYPE),
        ),
        (
            "4. Service switched to the new cluster (engine event)",
            lambda lf: lf.steps["upgrade"].event_at("update", SERVICE_TYPE),
        ),
        (
            "4. old FruitStand deleted (engine event; includes drain_s=1)",
            lambda lf: lf.steps["upgrade"].event_at("delete", APP_TYPE),
        ),
        (
            "4. old RayCluster object gone (watcher)",
            lambda lf: seen(lf, lf.first, "gone", lf.steps["upgrade"].start),
        ),
        (
            "4. old RayCluster deleted (engine event)",
            lambda lf: lf.steps["upgrade"].event_at("delete", CLUSTER_TYPE),
        ),
        ("4. the step returned", lambda lf: lf.steps["upgrade"].seconds),
        (
            "5. serve Service deleted (engine event)",
            lambda lf: lf.steps["destroy"].event_at("delete", SERVICE_TYPE),
        ),
        (
            "5. FruitStand deleted (engine event)",
            lambda lf: lf.steps["destroy"].event_at("delete", APP_TYPE),
        ),
        (
            "5. RayCluster deleted (engine event)",
            lambda lf: lf.steps["destroy"].event_at("delete", CLUSTER_TYPE),
        ),
        ("5. the step returned", lambda lf: lf.steps["destroy"].seconds),
        (
            "5. every Ray head ended, after the step returned",
            lambda lf: lf.heads_gone_s,
        ),
    ]
    rows = [row("moment", "s from the step's start"), row("---", "---")]
    rows += [row(label, seconds_cell([value(life) for life in lives])) for label, value in lines]
    return "\n".join(rows)


def upgrade_gaps(life: Lifecycle) -> tuple[float | None, float | None]:
    """New cluster's creation event -> Service switch, and -> old cluster's deletion event."""
    step = life.steps["upgrade"]
    created = step.event_at("replace-create", CLUSTER_TYPE)
    switched = step.event_at("update", SERVICE_TYPE)
    deleted = step.event_at("delete", CLUSTER_TYPE)
    if created is None:
        return None, None
    return (
        None if switched is None else switched - created,
        None if deleted is None else deleted - created,
    )


def gaps_table(lives: list[Lifecycle]) -> str:
    gaps = [upgrade_gaps(life) for life in lives]
    return "\n".join(
        [
            row("upgrade, from the new cluster's creation event (engine)", "s"),
            row("---", "---"),
            row("to the Service switch", seconds_cell([g[0] for g in gaps])),
            row("to the old cluster's deletion", seconds_cell([g[1] for g in gaps])),
        ]
    )


def request_kind(record: RequestRecord, tags: Mapping[str, str]) -> str:
    """``GET raycluster(old) 200``: method, what it targets (names generalized), status."""
    path = record.path
    watch = " watch" if "watch=true" in record.query or "watch=1" in record.query else ""
    if DASHBOARD_PROXY in path:
        before, rest = path.split(DASHBOARD_PROXY, 1)
        cluster = before.rsplit("/", 1)[-1]
        tag = tags.get(cluster, "?")
        what = f"dashboard{f'({tag})' if tag else ''} {rest.split('/proxy', 1)[-1] or '/'}"
        return f"{record.method} {what} {record.status}"
    parts = path.strip("/").split("/")
    tail = parts[parts.index("namespaces") + 2 :] if "namespaces" in parts else parts[-1:]
    resource = tail[0] if tail else path
    if len(tail) > 1:
        name = tail[1]
        label = tags.get(name, name if name == SERVICE_NAME else "<name>") or "<cluster>"
        resource = f"{resource}/{label}" + "".join(f"/{p}" for p in tail[2:])
    return f"{record.method} {resource}{watch} {record.status}"


def kinds(step: StepResult) -> str:
    return repeats((request_kind(r, step.tags) for r in step.requests), adjacent=False)


def kinds_table(lives: list[Lifecycle]) -> str:
    rows = [row("step", "run", "requests by target, first-seen order"), row("---", "---", "---")]
    for name in STEPS:
        texts = [kinds(life.steps[name]) for life in lives]
        if len(set(texts)) == 1:
            rows.append(row(LABELS[name], "all", f"`{texts[0]}`"))
        else:
            rows += [row(LABELS[name], str(i), f"`{text}`") for i, text in enumerate(texts, 1)]
    return "\n".join(rows)


def section(lives: list[Lifecycle], args: argparse.Namespace, load: str, why: str) -> str:
    runs = len(lives)
    return "\n".join(
        [
            *heading(
                f"lifecycle_bench: RayService lifecycle end to end, {runs} "
                f"run{'s' if runs > 1 else ''}",
                packages={"Ray": "ray", "pulumi SDK": "pulumi", "kubernetes client": "kubernetes"},
                note="no Pulumi CLI and no Kubernetes on this machine: "
                "the testbed's ProgramEngine plays the engine's steps through the real "
                "`python -m pulumi.dynamic` host, against its fake API server",
                script=__spec__,
                load=load,
                load_note=f"; at each run's start: {' / '.join(life.load for life in lives)}",
            ),
            f"- runs: {why}; run durations "
            f"{' / '.join(f'{life.seconds:.1f}' for life in lives)} s; one fake API server and "
            "one provider host for all runs (run 1 pays the host's cold start)",
            '- program: `tests.test_rayservice_lifecycle.Stack` (`RayService("fruit")`, the '
            'KubeRay sample cluster spec, FruitStand, `Upgrade(strategy="NewCluster", '
            "drain_s=1)`), steps played by `ProgramEngine`; the fake's operator starts a real "
            "Ray head per RayCluster (ready when Ray's dashboard and Serve are up)",
            "- requests: what the fake logged during the step from the provider host and the "
            "harness's stand-in for pulumi-kubernetes (`ServiceApplier`: GET + POST/PUT of the "
            "Service), client traffic excluded; writes: POST/PUT/PATCH/DELETE, the dashboard's "
            "too; dashboard: requests through the API server's service proxy to a cluster's "
            "dashboard (`...-head-svc:dashboard/proxy/...`)",
            f'- traffic: the lifecycle test\'s `Traffic` loop (POST `["MANGO", 2]` to '
            f"`{SERVICE_NAME}:serve/proxy/fruit` through the API server, 0.05 s between "
            "requests, one at a time); step 1 from the Service's first answer on, steps 2 and 4 "
            "for the whole step; failed: anything but HTTP 200 with the expected price (in step "
            "2 the old price is expected too)",
            "- cells: one value when all runs agree, else run 1 / run 2",
            "",
            steps_table(lives),
            "",
            *traffic_notes(lives),
            "",
            gaps_table(lives),
            "",
            "Timeline (engine events are recorded when the step's provider call returned; the "
            f"watcher reads the fake's store in-process every {WATCH_POLL_S * 1000:g} ms):",
            "",
            timeline_table(lives),
            "",
            "Requests by target (`old`/`new`: the replaced and the replacing cluster; "
            "`<cluster>`: the only cluster):",
            "",
            kinds_table(lives),
            "",
        ]
    )


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="lifecycles to run at most (2)")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=300.0,
        help="start another run only if it should end within this many s of the start (300)",
    )
    parser.add_argument("--no-append", action="store_true", help="print only, leave BENCHMARKS.md")
    args = parser.parse_args()

    load = load_average()
    lives: list[Lifecycle] = []
    why = ""
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs-lbench-")))
        uri = zip_app(EXAMPLES / "fruit_stand" / "app", folder / "fruit_stand.zip")
        server = stack.enter_context(FakeKubeServer(operator=True, ray_heads=True))
        kubeconfig = server.write_kubeconfig(folder / "kubeconfig")
        host = stack.enter_context(ProviderHost())
        for run in range(1, args.runs + 1):
            if lives:
                elapsed = time.monotonic() - began
                longest = max(life.seconds for life in lives)
                if elapsed + longest > args.budget_s:
                    why = (
                        f"{len(lives)} of {args.runs}: another run (~{longest:.0f} s) would end "
                        f"after the {args.budget_s:g} s budget ({elapsed:.0f} s spent)"
                    )
                    break
            print(f"run {run}: lifecycle ...", flush=True)
            life = run_lifecycle(server, host, kubeconfig, uri)
            lives.append(life)
            timings = ", ".join(f"{name} {s.seconds:.2f} s" for name, s in life.steps.items())
            print(f"run {run}: {timings}", flush=True)
        if not why:
            why = f"{len(lives)} of {args.runs} (within the {args.budget_s:g} s budget)"
        operator = server.operator
        assert operator is not None
        expect(not operator.errors, f"fake operator errors: {operator.errors}")

    publish(section(lives, args, load, why), to_file=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
