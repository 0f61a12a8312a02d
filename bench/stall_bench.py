"""Time to fail against stalled servers: every operation ends by ``timeout_s`` plus a small margin.

A server that accepts a connection and never answers, or answers one byte at a time, must not hold
``pulumi up`` beyond the operation's ``timeout_s``. For each ``--timeouts`` value, each operation
runs once through the real Pulumi provider host against such a server:

- ServeApplication create, refresh and delete against a dashboard
  (``rayservice_testbed.harness.stalled_server``) whose every request stalls, and create against one
  whose PUT alone stalls (GETs answer);
- ServeApplication create through the API server's proxy while the API server stalls the Lease;
- RayCluster create (POST stalls), create while every watch stalls (a cluster that never turns
  ready: the wait must end by its deadline), delete (DELETE stalls), against the fake API server
  (``testbed/rayservice_testbed/fake_kube``, ``hang``/``trickle`` faults);

each with a ``silent`` server (no byte) and a ``trickle`` one (a byte every 0.5 s). The table gives
the time to fail and how far past ``timeout_s`` it was (target: at most ``MARGIN_S``, the read
that reports the state a wait ended in, the read-back after a PUT, a cleanup's first step).

Prints a markdown table and appends it to BENCHMARKS.md. Run from the repo root:
``.venv/bin/python -m bench.stall_bench`` (``--timeouts 5 20``, ``--no-append``; about 8 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer, Scenario
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.fake_kube.operator import SCENARIO_KEY
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.stalled_server import StallingDashboard, back_head_service
from rayservice_testbed.measure import Stopwatch, heading, load_average, publish, row, verdict

from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.provider import ServeApplicationProvider

MARGIN_S = 8.0
SERVE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER = "pulumi-python:dynamic/rayservice:RayCluster"
APP = {"name": "stalled", "import_path": "app:deployment", "route_prefix": "/stalled"}


@dataclass
class Outcome:
    operation: str
    mode: str
    timeout_s: float
    seconds: float
    failed: bool
    message: str


class Bench:
    """One provider host, one fake API server; runs each stalled operation once."""

    def __init__(self, host: ProviderHost, kube: FakeKubeServer, kubeconfig: Path) -> None:
        self.host = host
        self.kube = kube
        self.kubeconfig = kubeconfig
        self.count = 0

    def _urn(self, kind: str) -> str:
        self.count += 1
        return urn_of(kind, f"stall-{self.count}")

    def serve_props(
        self, timeout_s: float, dashboard: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        urn = self._urn(SERVE)
        inputs = {
            "app": dict(APP),
            "dashboard": dashboard,
            "timeout_s": timeout_s,
            "owner": "bench/stall",
            PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        }
        return urn, Engine(self.host).check(urn, inputs)

    def cluster_inputs(self, timeout_s: float, name: str, **extra: Any) -> dict[str, Any]:
        return {
            "spec": sample_cluster_spec(),
            "namespace": "default",
            "name": name,
            "resource_name": name,
            "kube": {"path": str(self.kubeconfig)},
            "timeout_s": timeout_s,
            "wait_for_dashboard": False,
            "owner": "bench/stall",
            PROVIDER_KEY: provider_input(RayClusterProvider()),
            **extra,
        }

    def stall_kube(self, mode: str, matches: Callable[[Any], bool]) -> None:
        if mode == "silent":
            self.kube.hang(3600, match=matches)
        else:
            self.kube.trickle(0.5, match=matches)

    def run(self, operation: str, mode: str, timeout_s: float) -> Outcome:
        self.kube.clear_faults()
        with contextlib.ExitStack() as stack:
            call = self._prepare(stack, operation, mode, timeout_s)
            watch = Stopwatch()
            try:
                call()
                failed, message = False, "completed"
            except ProviderError as error:
                failed, message = True, error.message.splitlines()[-1]
            seconds = watch.seconds()
        self.kube.clear_faults()
        return Outcome(operation, mode, timeout_s, seconds, failed, message)

    def _prepare(
        self, stack: contextlib.ExitStack, operation: str, mode: str, timeout_s: float
    ) -> Callable[[], Any]:
        if operation == "serve create (Lease stalls)":
            self.stall_kube(mode, lambda info: "/leases" in info.path)
            dashboard = StallingDashboard(mode, set())  # answers: the write reaches the Lease
            stack.callback(dashboard.close)
            back_head_service(self.kube, "default", "stalled-head-svc", dashboard)
            target = {
                "service": "stalled-head-svc",
                "namespace": "default",
                "kube": {"path": str(self.kubeconfig)},
            }
            urn, props = self.serve_props(timeout_s, target)
            return lambda: self.host.create(urn, props)
        if operation.startswith("serve "):
            stalled = {"GET", "PUT"} if operation != "serve create (PUT stalls)" else {"PUT"}
            dashboard = StallingDashboard(mode, stalled)
            stack.callback(dashboard.close)
            urn, props = self.serve_props(timeout_s, {"url": dashboard.url})
            id_ = f"stalled@{dashboard.url}"
            if operation == "serve refresh":
                return lambda: self.host.read(urn, id_, props, props)
            if operation == "serve delete":
                return lambda: self.host.delete(urn, id_, props)
            return lambda: self.host.create(urn, props)
        engine = Engine(self.host)
        urn = self._urn(CLUSTER)
        name = f"stall-{self.count}"
        stack.callback(lambda: self._remove(engine, urn, name))
        if operation == "cluster create (POST stalls)":
            self.stall_kube(mode, lambda info: info.method == "POST" and "rayclusters" in info.path)
            return lambda: engine.up(urn, self.cluster_inputs(timeout_s, name))
        if operation == "cluster create (watch stalls)":
            self.stall_kube(mode, lambda info: "watch=true" in info.query)
            labels = {SCENARIO_KEY: "never_ready"}
            return lambda: engine.up(urn, self.cluster_inputs(timeout_s, name, labels=labels))
        engine.up(urn, self.cluster_inputs(timeout_s, name))
        state = engine.state.pop(urn)
        self.stall_kube(mode, lambda info: info.method == "DELETE")
        return lambda: self.host.delete(urn, state.id, state.outputs)

    def _remove(self, engine: Engine, urn: str, name: str) -> None:
        self.kube.clear_faults()
        engine.state.pop(urn, None)
        with contextlib.suppress(Exception):
            self.kube.registry.delete(RAYCLUSTERS, "default", name)


OPERATIONS = (
    "serve create",
    "serve refresh",
    "serve delete",
    "serve create (PUT stalls)",
    "serve create (Lease stalls)",
    "cluster create (POST stalls)",
    "cluster create (watch stalls)",
    "cluster delete (DELETE stalls)",
)


def table(outcomes: list[Outcome]) -> str:
    lines = [
        row("operation", "server", "timeout_s", "time to fail (s)", "past timeout (s)", "ok?"),
        row(*["---"] * 6),
    ]
    for outcome in outcomes:
        over = outcome.seconds - outcome.timeout_s
        lines.append(
            row(
                outcome.operation,
                outcome.mode,
                f"{outcome.timeout_s:g}",
                f"{outcome.seconds:.2f}",
                f"{over:+.2f}",
                verdict(outcome.failed and over <= MARGIN_S),
            )
        )
    worst = max(outcomes, key=lambda o: o.seconds - o.timeout_s)
    lines += [
        "",
        f"Longest past its timeout: {worst.operation} ({worst.mode}), "
        f"{worst.seconds - worst.timeout_s:+.2f} s over timeout_s = {worst.timeout_s:g} "
        f"(target: every operation fails, at most {MARGIN_S:g} s past its timeout). "
        f"Its message: `{worst.message[:200]}`",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--timeouts", type=float, nargs="+", default=[5.0, 20.0])
    parser.add_argument("--no-append", action="store_true", help="print only, leave BENCHMARKS.md")
    args = parser.parse_args()
    load = load_average()
    outcomes: list[Outcome] = []
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs-stall-")))
        kube = stack.enter_context(
            FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario())
        )
        host = stack.enter_context(ProviderHost())
        bench = Bench(host, kube, kube.write_kubeconfig(folder / "kubeconfig"))
        for timeout_s in args.timeouts:
            for operation in OPERATIONS:
                for mode in ("silent", "trickle"):
                    outcome = bench.run(operation, mode, timeout_s)
                    print(
                        f"{operation} [{mode}] timeout {timeout_s:g}: {outcome.seconds:.2f} s, "
                        f"{outcome.message[:120]}",
                        flush=True,
                    )
                    outcomes.append(outcome)
    text = "\n".join(
        [
            *heading(
                "Stalled servers: time to fail",
                packages={"pulumi": "pulumi", "kubernetes": "kubernetes", "urllib3": "urllib3"},
                note="no Ray; a scripted dashboard and the fake API server on loopback",
                script=__spec__,
                load=load,
            ),
            "",
            table(outcomes),
            "",
        ]
    )
    publish(text, to_file=not args.no_append)
    return 0 if all(o.failed and o.seconds - o.timeout_s <= MARGIN_S for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
