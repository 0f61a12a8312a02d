"""Shared-cluster safety: apps lost or altered under concurrent writers, and what the safety costs.

One run, one local Ray head started and stopped here, with a pass-through proxy
(``rayservice_testbed.harness.fault_proxy``) in front of its dashboard that counts every request:

1. Loss: two other owners' apps are deployed with a raw PUT (``route_prefix: null``, null and
   float values in ``user_config``). Two provider host processes (two stacks) each drive two app
   slots from their own threads: create, ``--updates`` user_config updates, delete, and again,
   ``--cycles`` times. After every operation the thread reads Serve and counts an app LOST (one of
   the other owners' apps, or a slot's app that should be there, missing) or ALTERED (a config not
   byte for byte what its owner wrote, or another owner's replicas restarted). Target: 0 of each.
2. Requests per update: ten sequential user_config updates of one app through one host, the
   requests counted at the proxy (GET of the apps, PUT, state API, version).
3. Scale: N = 1, 5, 10, 20 apps created "in one `up`": N ``create`` calls on a pool of 4 threads
   (the provider host serves four calls at once) in this process, each under the real writer lock
   (timed: the lock wait of each call), vs one raw PUT of all N apps polled until every app is
   RUNNING. Target: provider/raw <= 1.3 at N = 20. Reports the p95 lock wait.

The fresh-deploy ratio provider/raw (target <= 1.10) is ``bench/serve_bench.py``'s, run separately.
Prints a markdown section and appends it to BENCHMARKS.md (``--no-append`` to only print).
Run from the repo root: ``.venv/bin/python -m bench.shared_bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

if __package__ in (None, ""):  # run as `python bench/shared_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayservice_testbed.harness.fault_proxy import FaultProxy
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    urn_of,
)
from rayservice_testbed.harness.provider_host import provider_input as serialized_provider
from rayservice_testbed.harness.ray_head import RayHead
from rayservice_testbed.harness.serve_apps import (
    deployment,
    math_app,
    put_raw,
    serve_details,
    zip_app,
)
from rayservice_testbed.measure import (
    Stopwatch,
    expect,
    heading,
    load_average,
    p95,
    per_call,
    publish,
    row,
    verdict,
    wait_until,
)
from rayservice_testbed.paths import EXAMPLES

from pulumi_rayservice._util.polling import Deadline
from pulumi_rayservice.serve import provider as serve_provider
from pulumi_rayservice.serve.provider import ServeApplicationProvider

TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
SCALE_RATIO_TARGET = 1.3
SCALES = (1, 5, 10, 20)


def light(uri: str, name: str, increment: float, route: bool = True) -> dict[str, Any]:
    """The math app, every replica at 0.02 CPU so that 20 apps fit on a 2-core machine."""
    app = math_app(uri, name=name, route_prefix=f"/{name}")
    if not route:
        app["route_prefix"] = None
    for dep in app["deployments"]:
        dep["ray_actor_options"] = {"num_cpus": 0.02}
    deployment(app, "Adder")["user_config"] = {"increment": increment}
    return app


def exact(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def inputs(app: dict[str, Any], url: str, owner: str) -> dict[str, Any]:
    return {
        "app": app,
        "dashboard": {"url": url},
        "timeout_s": 300,
        "owner": owner,
        PROVIDER_KEY: serialized_provider(ServeApplicationProvider()),
    }


def replicas(app: dict[str, Any]) -> dict[str, list[str]]:
    return {
        dep: sorted(r["replica_id"] for r in info.get("replicas", []))
        for dep, info in (app.get("deployments") or {}).items()
    }


def all_running(url: str, names: list[str]) -> bool:
    try:
        apps = serve_details(url)["applications"]
    except requests.RequestException:
        return False  # a dashboard busy starting 60 replicas on 2 cores may not answer in 30 s
    return all((apps.get(n) or {}).get("status") == "RUNNING" for n in names)


# 1. loss under concurrent writers --------------------------------------------------------------


class Tally:
    """Operations, failures, and every app seen lost or altered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops = 0
        self.failures: list[str] = []
        self.lost: list[str] = []
        self.altered: list[str] = []

    def check(self, url: str, others: dict[str, dict[str, Any]], mine: dict[str, str]) -> None:
        apps = serve_details(url)["applications"]
        with self.lock:
            self.ops += 1
            for name, seen in others.items():
                app = apps.get(name)
                if app is None or app["status"] == "DELETING":
                    self.lost.append(name)
                elif exact(app["deployed_app_config"]) != seen["config"]:
                    self.altered.append(f"{name} (config)")
                elif replicas(app) != seen["replicas"]:
                    self.altered.append(f"{name} (replicas restarted)")
            for name, config in mine.items():
                app = apps.get(name)
                if app is None or app["status"] == "DELETING":
                    self.lost.append(name)
                elif exact(app["deployed_app_config"]) != config:
                    self.altered.append(name)


def loss_run(head: RayHead, uri: str, url: str, cycles: int, updates: int) -> tuple[Tally, float]:
    others_apps = [light(uri, f"other_{i}", 3, route=False) for i in range(2)]
    for app in others_apps:
        deployment(app, "Adder")["user_config"] = {"increment": 3, "note": None}
        deployment(app, "Multiplier")["user_config"] = {"factor": 1.5, "scale": 1.0}
    put_raw(head.dashboard_url, others_apps)
    wait_until(lambda: all_running(head.dashboard_url, ["other_0", "other_1"]), 300, "other apps")
    details = serve_details(head.dashboard_url)["applications"]
    others = {
        name: {
            "config": exact(details[name]["deployed_app_config"]),
            "replicas": replicas(details[name]),
        }
        for name in ("other_0", "other_1")
    }
    tally = Tally()
    watch = Stopwatch()

    def slot(engine: Engine, stack: int, index: int) -> None:
        name = f"s{stack}_{index}"
        urn = urn_of(TYPE, name)
        mine: dict[str, str] = {}
        for cycle in range(cycles):
            for step in range(updates + 1):
                app = light(uri, name, increment=1000 * cycle + step)
                try:
                    engine.up(urn, inputs(app, url, f"bench/stack-{stack}"))
                    # What the program wrote (outputs come back through gRPC, 3 as 3.0).
                    mine[name] = exact(app)
                except ProviderError as error:
                    tally.failures.append(error.message)
                tally.check(head.dashboard_url, others, mine)
            try:
                engine.destroy(urn)
                mine.pop(name, None)
            except ProviderError as error:
                tally.failures.append(error.message)
            tally.check(head.dashboard_url, others, mine)

    with ProviderHost() as first, ProviderHost() as second:
        engines = [Engine(first), Engine(second)]
        threads = [
            threading.Thread(target=slot, args=(engines[stack], stack, index))
            for stack in range(2)
            for index in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = watch.seconds()
    put_raw(head.dashboard_url, [])
    wait_until(lambda: not serve_details(head.dashboard_url)["applications"], 120, "cleanup")
    return tally, elapsed


# 2. requests per update ------------------------------------------------------------------------


def requests_per_update(uri: str, proxy: FaultProxy, updates: int = 10) -> dict[str, float]:
    with ProviderHost() as host:
        engine = Engine(host)
        urn = urn_of(TYPE, "counted")
        engine.up(urn, inputs(light(uri, "counted", 0), proxy.url, "bench/count"))
        proxy.clear()
        for step in range(1, updates + 1):
            engine.up(urn, inputs(light(uri, "counted", step), proxy.url, "bench/count"))
        counts = per_call(proxy.seen, updates)
        engine.destroy(urn)
    return counts


# 3. scale: N apps in one up vs one raw PUT -------------------------------------------------------


@contextlib.contextmanager
def timed_lock_waits(waits: list[float]) -> Iterator[None]:
    """Wrap the provider's writer lock to time how long each call waited for it."""
    original = serve_provider.writer_lock

    @contextlib.contextmanager
    def timed(target: Any, owner: Any, deadline: Deadline) -> Iterator[Any]:
        asked = Stopwatch()
        with original(target, owner, deadline) as held:
            waits.append(asked.seconds())
            yield held

    serve_provider.writer_lock = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        serve_provider.writer_lock = original  # type: ignore[assignment]


def scale_run(head: RayHead, uri: str, n: int) -> dict[str, Any]:
    url = head.dashboard_url
    names = [f"scale_raw_{n}_{i}" for i in range(n)]
    watch = Stopwatch()
    put_raw(url, [light(uri, name, i) for i, name in enumerate(names)])
    wait_until(lambda: all_running(url, names), 900, f"{n} raw apps")
    raw_s = watch.seconds()
    put_raw(url, [])
    wait_until(lambda: not serve_details(url)["applications"], 300, "raw cleanup")

    provider = ServeApplicationProvider()
    names = [f"scale_prov_{n}_{i}" for i in range(n)]
    props = [
        {
            k: v
            for k, v in inputs(light(uri, name, i), url, "bench/scale").items()
            if k != PROVIDER_KEY
        }
        for i, name in enumerate(names)
    ]
    waits: list[float] = []
    watch = Stopwatch()
    with timed_lock_waits(waits), ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(provider.create, props))
    provider_s = watch.seconds()
    expect(
        all(r.outs and r.outs["status"] == "RUNNING" for r in results),
        f"scale {n}: not every app created RUNNING",
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda r: provider.delete(r.id, r.outs), results))
    wait_until(lambda: not serve_details(url)["applications"], 300, "provider cleanup")
    return {"n": n, "raw_s": raw_s, "provider_s": provider_s, "waits": waits}


# report ----------------------------------------------------------------------------------------


def section(
    tally: Tally,
    loss_s: float,
    cycles: int,
    updates: int,
    per_update: dict[str, float],
    scales: list[dict[str, Any]],
    load: str,
) -> str:
    lines = heading(
        "Shared-cluster safety (bench/shared_bench.py)",
        packages={"Ray": "ray", "pulumi": "pulumi"},
        note="one local Ray head; 2 provider host processes x 2 app slots for the loss run",
        script=__spec__,
        load=load,
    )
    lines += [
        "",
        "| measure | result | target | ok? |",
        "| --- | --- | --- | --- |",
        row(
            "operations from 2 processes (create/update/delete, "
            f"{cycles} cycles x ({updates} updates + create + delete) x 4 slots)",
            f"{tally.ops} in {loss_s:.0f} s",
            ">= 200",
            verdict(tally.ops >= 200),
        ),
        row("apps lost", str(len(tally.lost)), "0", verdict(not tally.lost)),
        row("apps altered", str(len(tally.altered)), "0", verdict(not tally.altered)),
        row("operations failed", str(len(tally.failures)), "(reported)", ""),
    ]
    final = scales[-1]
    ratio = final["provider_s"] / final["raw_s"]
    lines.append(
        row(
            f"N={final['n']} apps in one up, provider/raw",
            f"{ratio:.2f}",
            f"<= {SCALE_RATIO_TARGET}",
            verdict(ratio <= SCALE_RATIO_TARGET),
        )
    )
    lines += [
        "",
        "Requests per user_config update (10 sequential updates, counted at a pass-through proxy):",
        "",
        "| request | per update |",
        "| --- | --- |",
        *[row(f"`{key}`", f"{value:.1f}") for key, value in sorted(per_update.items())],
        "",
        "Scale: N apps created concurrently (4 calls at a time, as the provider host serves "
        "them) vs one raw PUT of all N, each until every app is RUNNING:",
        "",
        "| N | raw PUT + poll (s) | provider (s) | provider/raw "
        "| lock wait median / p95 / max (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for result in scales:
        waits = result["waits"]
        lock = f"{statistics.median(waits):.2f} / {p95(waits):.2f} / {max(waits):.2f}"
        lines.append(
            row(
                str(result["n"]),
                f"{result['raw_s']:.2f}",
                f"{result['provider_s']:.2f}",
                f"{result['provider_s'] / result['raw_s']:.2f}",
                lock,
            )
        )
    if tally.failures:
        lines += ["", "Failed operations (first 5):", ""]
        lines += [f"- {message[:300]}" for message in tally.failures[:5]]
    if tally.lost or tally.altered:
        lines += ["", f"Lost: {tally.lost[:10]}; altered: {tally.altered[:10]}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cycles", type=int, default=2, help="create..delete cycles per slot")
    parser.add_argument("--updates", type=int, default=24, help="updates per cycle (24)")
    parser.add_argument("--scales", type=int, nargs="*", default=list(SCALES))
    parser.add_argument("--no-append", action="store_true", help="print only, leave BENCHMARKS.md")
    args = parser.parse_args()

    load = load_average()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs-bench-")))
        uri = zip_app(EXAMPLES / "math_app" / "app", folder / "math_app.zip")
        print("starting a local Ray head ...", flush=True)
        head = RayHead.start(num_cpus=4)
        stack.callback(head.stop)
        proxy = stack.enter_context(FaultProxy(head.dashboard_url))
        requests.get(f"{proxy.url}/api/version", timeout=10).raise_for_status()
        tally, loss_s = loss_run(head, uri, proxy.url, args.cycles, args.updates)
        print(f"loss run: {tally.ops} ops, lost {len(tally.lost)}, altered {len(tally.altered)}")
        per_update = requests_per_update(uri, proxy)
        print(f"requests per update: {per_update}", flush=True)
        scales = []
        for n in args.scales:
            scales.append(scale_run(head, uri, n))
            print(f"scale {n}: {scales[-1]['raw_s']:.1f}s raw, {scales[-1]['provider_s']:.1f}s")
    publish(
        section(tally, loss_s, args.cycles, args.updates, per_update, scales, load),
        to_file=not args.no_append,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
