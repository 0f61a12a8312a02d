"""Incremental upgrades: rollout time against the step intervals, failed requests, rollback time.

A ``RayService`` with ``NewClusterWithIncrementalUpgrade`` runs on the fake API server (a real
Ray head per RayCluster, the stand-in Gateway controller splitting real requests by the route's
weights), driven through the real provider host by the engine stand-in. A client loop sends
requests through the Gateway during every ``up``. Per image upgrade (``--runs``):

- rollout time: from the rollout's first line (``incremental upgrade A -> B: N step(s)``) to its
  last (``incremental upgrade done``), against the sum of the step intervals ((N - 1) x
  ``--interval``); target ratio at most 1.10. The time before the first move (the new cluster's
  replicas starting from ``target_capacity`` 0) is shown apart, and the ratio of the moves alone;
- failed requests through the Gateway (target 0).

Then a bad version (a price change the probe catches) on a new cluster: the time from the
failed gate's verdict (``gate failed, rolling back``) to all traffic on the old cluster in force
(``rolled back``); target 2 s (the probe period is spent before the verdict).

Prints a markdown table and appends it to BENCHMARKS.md. Run from the repo root:
``.venv/bin/python -m bench.rollout_bench`` (``--runs 2 --step 25 --interval 8``, ``--no-append``;
about 6 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayservice_testbed.fake_kube import HTTPROUTES, RAYCLUSTERS, FakeKubeServer
from rayservice_testbed.harness.fruit_stack import (
    NS,
    GatewayTraffic,
    Stack,
    incremental_upgrade,
)
from rayservice_testbed.harness.program_engine import ProgramEngine
from rayservice_testbed.harness.provider_host import ProviderHost
from rayservice_testbed.harness.serve_apps import zip_examples
from rayservice_testbed.measure import expect, heading, load_average, publish, row, verdict

NOTE = (
    "- the test bed's Ray heads start Serve with the head, so a new cluster's apps come up whole "
    "(`initial_target_capacity` goes only with the PUT that starts Serve, as on a fresh KubeRay "
    'cluster): "before 1st move" holds no replica start here'
)
OVERHEAD_TARGET = 1.10
ROLLBACK_TARGET_S = 2.0
IMAGES = ("rayproject/ray:2.53.0", "rayproject/ray:2.54.0", "rayproject/ray:2.55.0")


@dataclass
class Rollout:
    """One measured image upgrade."""

    steps: int
    interval_s: float
    total_s: float
    before_first_move_s: float
    moves_s: float
    sent: int
    failed: int

    @property
    def intervals_s(self) -> float:
        return self.interval_s * (self.steps - 1)


def lines_since(host: ProviderHost, start: float) -> list[tuple[float, str]]:
    return [(at, line) for at, line in host.log_times if at >= start]


def first(lines: list[tuple[float, str]], text: str) -> float:
    found = [at for at, line in lines if text in line]
    expect(bool(found), f"the provider host never logged {text!r}")
    return found[0]


def last(lines: list[tuple[float, str]], text: str) -> float:
    found = [at for at, line in lines if text in line]
    expect(bool(found), f"the provider host never logged {text!r}")
    return found[-1]


def the_cluster(server: FakeKubeServer) -> str:
    names = [o["metadata"]["name"] for o in server.registry.list(RAYCLUSTERS, NS)["items"]]
    expect(len(names) == 1, f"one cluster expected, found {names}")
    return names[0]


def measured_upgrade(
    engine: ProgramEngine, stack: Stack, server: FakeKubeServer, steps: int, interval_s: float
) -> Rollout:
    old = the_cluster(server)
    start = time.monotonic()
    server.reset_gateway_requests()
    with GatewayTraffic(
        server, "fruit-gateway", "fruit-httproute", "6", f"{old}-serve-svc"
    ) as traffic:
        run = engine.up(stack.program)
    expect(run.failure is None, f"the upgrade failed: {run.failure}")
    lines = lines_since(engine.host, start)
    began = first(lines, "incremental upgrade fruit-")
    first_move = first(lines, f"step 1/{steps}:")
    last_move = first(lines, f"step {steps}/{steps}:")
    done = last(lines, "incremental upgrade done")
    return Rollout(
        steps=steps,
        interval_s=interval_s,
        total_s=done - began,
        before_first_move_s=first_move - began,
        moves_s=last_move - first_move,
        sent=len(traffic.weights),
        failed=len(traffic.failures),
    )


def measured_rollback(engine: ProgramEngine, stack: Stack, server: FakeKubeServer) -> float:
    old = the_cluster(server)
    stack.mango = 4  # the probe expects "6": the new version's body is wrong
    start = time.monotonic()
    with GatewayTraffic(
        server, "fruit-gateway", "fruit-httproute", "6", f"{old}-serve-svc"
    ) as traffic:
        run = engine.up(stack.program)
    expect(run.failure is not None, "the bad version was not rolled back")
    expect(traffic.failures == [], f"requests failed during the rollback: {traffic.failures[:3]}")
    route = server.registry.find(HTTPROUTES, NS, "fruit-httproute") or {}
    refs = route["spec"]["rules"][0]["backendRefs"]
    expect(
        {r["name"]: r["weight"] for r in refs if r["weight"]} == {f"{old}-serve-svc": 100},
        "traffic is not all on the old cluster",
    )
    lines = lines_since(engine.host, start)
    return last(lines, ": rolled back: all traffic on") - first(lines, "gate failed, rolling back")


def table(rollouts: list[Rollout], rollback_s: float) -> str:
    lines = [
        row("upgrade", "steps x interval", "rollout", "before 1st move", "moves",
            "rollout / intervals", "moves / intervals", "requests", "failed"),
        row(*["---"] * 9),
    ]  # fmt: skip
    for index, r in enumerate(rollouts, start=1):
        lines.append(
            row(
                str(index),
                f"{r.steps} x {r.interval_s:g} s",
                f"{r.total_s:.1f} s",
                f"{r.before_first_move_s:.1f} s",
                f"{r.moves_s:.1f} s",
                f"{r.total_s / r.intervals_s:.2f}",
                f"{r.moves_s / r.intervals_s:.2f}",
                str(r.sent),
                str(r.failed),
            )
        )
    worst_total = max(r.total_s / r.intervals_s for r in rollouts)
    worst_moves = max(r.moves_s / r.intervals_s for r in rollouts)
    failed = sum(r.failed for r in rollouts)
    return "\n".join(
        [
            *lines,
            "",
            row("measure", "result", "target", ""),
            row("---", "---", "---", "---"),
            row("rollout / sum of intervals (worst)", f"{worst_total:.2f}",
                f"<= {OVERHEAD_TARGET:.2f}", verdict(worst_total <= OVERHEAD_TARGET)),
            row("moves alone / sum of intervals (worst)", f"{worst_moves:.2f}",
                f"<= {OVERHEAD_TARGET:.2f}", verdict(worst_moves <= OVERHEAD_TARGET)),
            row("failed requests through the Gateway", str(failed), "0", verdict(failed == 0)),
            row("failed gate -> all traffic on the old cluster", f"{rollback_s:.2f} s",
                f"<= {ROLLBACK_TARGET_S:g} s", verdict(rollback_s <= ROLLBACK_TARGET_S)),
        ]
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, choices=range(1, len(IMAGES)))
    parser.add_argument("--step", type=int, default=25)
    parser.add_argument("--interval", type=float, default=8.0)
    parser.add_argument("--no-append", action="store_true", help="print only, leave BENCHMARKS.md")
    args = parser.parse_args()
    load = load_average()
    options = incremental_upgrade(args.step, args.interval).cluster_upgrade_options
    expect(options is not None, "the incremental upgrade has its options")
    steps = len(options.plan()) if options is not None else 0
    rollouts: list[Rollout] = []
    with contextlib.ExitStack() as stack_:
        folder = Path(stack_.enter_context(tempfile.TemporaryDirectory(prefix="rs-rollout-")))
        server = stack_.enter_context(
            FakeKubeServer(operator=True, ray_heads=True, gateway_controller=True)
        )
        uris = zip_examples(folder)
        engine = ProgramEngine(stack_.enter_context(ProviderHost()))
        stack = Stack(
            uris["fruit_stand"],
            server.write_kubeconfig(folder / "kubeconfig"),
            upgrade=incremental_upgrade(args.step, args.interval),
        )
        try:
            run = engine.up(stack.program)
            expect(run.failure is None, f"the first up failed: {run.failure}")
            for image in IMAGES[: args.runs]:
                stack.image = image
                rollouts.append(measured_upgrade(engine, stack, server, steps, args.interval))
                print(f"upgrade to {image}: {rollouts[-1]}", flush=True)
            stack.image = IMAGES[args.runs]
            rollback_s = measured_rollback(engine, stack, server)
            print(f"rollback: {rollback_s:.2f} s", flush=True)
        finally:
            engine.destroy()
    text = "\n".join(
        [
            *heading(
                "Incremental upgrades: rollout time, failed requests, rollback time",
                packages={"Ray": "ray", "pulumi": "pulumi", "kubernetes": "kubernetes"},
                note="one real Ray head per RayCluster; the stand-in Gateway controller",
                script=__spec__,
                load=load,
            ),
            NOTE,
            "",
            table(rollouts, rollback_s),
            "",
        ]
    )
    publish(text, to_file=not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
