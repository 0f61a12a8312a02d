"""The KubeRay API server as the way in, against the Kubernetes API server: time and requests.

One fake Kubernetes API server (``rayservice_testbed.fake_kube``) whose stand-in operator starts a
REAL Ray head per RayCluster, and the stand-in KubeRay API server (v1.7) in front of it; the real
Pulumi provider host driven over gRPC as the engine drives it. The same work, two ways in,
alternated (API server, Kubernetes, API server, ...) so both share the machine's noise:

1. RayCluster create until ready (head pod ready AND the dashboard answering through the proxy):
   through the API server's V2 (which buffers watches, so the wait polls) vs through a
   kubeconfig (which watches); time of the Create call, and the requests each sent (what the
   API server logged, vs what the fake Kubernetes logged), then its Delete.
2. Serve deploy of the math app onto one ready cluster until RUNNING: through V2's service proxy
   (the lock in the RayCluster's annotation) vs through the Kubernetes service proxy (the lock in
   a Lease); time of the Create call and requests, then its Delete.

Targets: cluster ratio <= 1.10, Serve ratio <= 1.05 (medians). Prints markdown tables and appends
them to BENCHMARKS.md. Run from the repo root: ``.venv/bin/python -m bench.apiserver_bench``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/apiserver_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayservice_testbed.fake_kube import FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.serve_apps import math_app, zip_app
from rayservice_testbed.kuberay_apiserver import ALL_PROXY_VERBS, FakeKubeRayApiServer
from rayservice_testbed.measure import (
    expect,
    heading,
    load_average,
    median_p95,
    publish,
    row,
    verdict,
)
from rayservice_testbed.paths import EXAMPLES

from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.provider import ServeApplicationProvider

NS = "default"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER_TARGET = 1.10
SERVE_TARGET = 1.05


class Ways:
    """The two ways in: the inputs each takes, and how to count the requests it sent."""

    def __init__(self, kube: FakeKubeServer, apiserver: FakeKubeRayApiServer, kubeconfig: Path):
        self.kube = kube
        self.apiserver = apiserver
        self.kubeconfig = kubeconfig

    def target(self, way: str) -> dict[str, Any]:
        if way == "apiserver":
            return {"api_server": {"url": self.apiserver.url}}
        return {"kube": {"path": str(self.kubeconfig)}}

    def reset(self) -> None:
        self.kube.reset_requests()
        self.apiserver.reset_requests()

    def sent(self, way: str) -> int:
        return len(self.apiserver.requests if way == "apiserver" else self.kube.requests)


def cluster_inputs(ways: Ways, way: str, name: str) -> dict[str, Any]:
    return {
        "spec": sample_cluster_spec(),
        "namespace": NS,
        "resource_name": name,
        "annotations": {"ray.io/enable-serve-service": "true"},
        "timeout_s": 300,
        "owner": "bench/apiserver",
        PROVIDER_KEY: provider_input(RayClusterProvider()),
        **ways.target(way),
    }


def dashboard(ways: Ways, way: str, cluster: str) -> dict[str, Any]:
    target: dict[str, Any] = {
        "service": f"{cluster}-head-svc",
        "namespace": NS,
        "port": "dashboard",
    }
    if way == "apiserver":
        target.update(api_server={"url": ways.apiserver.url}, cluster=cluster)
    else:
        target["kube"] = {"path": str(ways.kubeconfig)}
    return target


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apiserver_bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load = load_average()
    times: dict[str, dict[str, list[float]]] = {
        "cluster": {"apiserver": [], "kube": []},
        "serve": {"apiserver": [], "kube": []},
    }
    sent: dict[str, dict[str, list[int]]] = {
        "cluster": {"apiserver": [], "kube": []},
        "serve": {"apiserver": [], "kube": []},
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeKubeServer(operator=True, ray_heads=True) as kube,
        FakeKubeRayApiServer(
            kube, release="v1.7", service_proxy_verbs=ALL_PROXY_VERBS
        ) as apiserver,
    ):
        ways = Ways(kube, apiserver, kube.write_kubeconfig(Path(tmp) / "kubeconfig"))
        uri = zip_app(EXAMPLES / "math_app" / "app", Path(tmp) / "math_app.zip")
        host = ProviderHost()
        try:
            engine = Engine(host)
            # Warm-up (untimed): the host imports, the app's runtime_env unpacked on one head.
            for way in ("apiserver", "kube"):
                urn = urn_of(CLUSTER_TYPE, f"warm-{way}")
                engine.up(urn, cluster_inputs(ways, way, f"warm-{way}"))
                engine.destroy(urn)
            shared = urn_of(CLUSTER_TYPE, "shared")
            engine.up(shared, cluster_inputs(ways, "kube", "shared"))
            cluster = str(engine.state[shared].outputs["name"])
            for index in range(args.runs + 1):
                for way in ("apiserver", "kube"):
                    name = f"c{index}-{way}"
                    urn = urn_of(CLUSTER_TYPE, name)
                    ways.reset()
                    took = timed(lambda: engine.up(urn, cluster_inputs(ways, way, name)))  # noqa: B023
                    requests_sent = ways.sent(way)
                    engine.destroy(urn)
                    app_name = f"calc{index}_{way}"
                    app = math_app(uri, name=app_name, route_prefix=f"/{app_name}")
                    app_urn = urn_of(APP_TYPE, app_name)
                    inputs = {
                        "app": app,
                        "dashboard": dashboard(ways, way, cluster),
                        "timeout_s": 120,
                        "owner": "bench/apiserver",
                        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
                    }
                    ways.reset()
                    deploy = timed(lambda: engine.up(app_urn, inputs))  # noqa: B023
                    deploy_sent = ways.sent(way)
                    engine.destroy(app_urn)
                    if index == 0:
                        continue  # the first cycle of each way is a warm-up too
                    times["cluster"][way].append(took)
                    sent["cluster"][way].append(requests_sent)
                    times["serve"][way].append(deploy)
                    sent["serve"][way].append(deploy_sent)
            engine.destroy(shared)
        finally:
            host.close()

    lines = heading(
        "KubeRay API server vs Kubernetes API server (apiserver_bench)",
        packages={"Ray": "ray", "pulumi": "pulumi"},
        note="stand-in KubeRay API server v1.7 over the fake API server, real Ray heads",
        script=__spec__,
        load=load,
    )
    lines += [
        "",
        f"{args.runs} runs of each, alternated; medians (p95 over runs).",
        "",
        row("operation", "via KubeRay API server (V2)", "via kubeconfig", "ratio", "target"),
        row("---", "---", "---", "---", "---"),
    ]
    for operation, target, what in (
        ("cluster", CLUSTER_TARGET, "RayCluster create until ready (s)"),
        ("serve", SERVE_TARGET, "Serve deploy until RUNNING (s)"),
    ):
        via, direct = times[operation]["apiserver"], times[operation]["kube"]
        expect(bool(via) and bool(direct), f"no {operation} timings")
        ratio = statistics.median(via) / statistics.median(direct)
        lines.append(
            row(
                what,
                median_p95(via, " s"),
                median_p95(direct, " s"),
                f"{ratio:.2f}",
                f"<= {target:.2f} {verdict(ratio <= target)}",
            )
        )
    for operation, what in (
        ("cluster", "requests sent by one create"),
        ("serve", "requests sent by one deploy"),
    ):
        via, direct = sent[operation]["apiserver"], sent[operation]["kube"]
        lines.append(
            row(what, f"{statistics.median(via):g}", f"{statistics.median(direct):g}", "", "")
        )
    lines += [
        "",
        "Requests are what each server logged from the provider (the API server's own calls to "
        "Kubernetes are not counted). Through V2 the cluster wait polls (V2 reads a watch whole "
        "before passing it on); through a kubeconfig it watches. The Serve lock is a RayCluster "
        "annotation through V2 and a Lease through a kubeconfig.",
    ]
    publish("\n".join(lines) + "\n", to_file=not args.no_append)
    return 0  # a missed target is marked MISSED in the table; only errors fail the bench


if __name__ == "__main__":
    raise SystemExit(main())
