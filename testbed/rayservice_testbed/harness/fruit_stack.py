"""The lifecycle tests' stack: ``RayService("fruit")`` on the fake API server, and its clients.

``Stack`` is the program's configuration as a user changes it between two ``pulumi up``s;
``Traffic`` posts to the serve Service through the API server's proxy and counts every failure.
The lifecycle tests and ``bench/lifecycle_bench.py`` share them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import requests

import pulumi_rayservice as rs

from ..fake_kube import FakeKubeServer
from ..fake_kube.fixtures import sample_cluster_spec
from .serve_apps import fruit_app

NS = "default"


@dataclass
class Stack:
    """The program's configuration, as a user would change it between two `pulumi up`s."""

    uri: str
    kubeconfig: Path
    image: str = "rayproject/ray:2.52.0"
    mango: int = 3
    annotations: dict[str, str] = field(default_factory=dict)
    cluster_timeout_s: float = 240
    upgrade: rs.Upgrade = field(
        default_factory=lambda: rs.Upgrade(strategy="NewCluster", drain_s=1)
    )

    def program(self) -> rs.RayService:
        spec = sample_cluster_spec()
        for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
            group["template"]["spec"]["containers"][0]["image"] = self.image
        return rs.RayService(
            "fruit",
            namespace=NS,
            cluster=spec,
            applications=[fruit_app(self.uri, mango=self.mango)],
            kube=rs.Kube(kubeconfig=str(self.kubeconfig)),
            upgrade=self.upgrade,
            cluster_timeout_s=self.cluster_timeout_s,
            app_timeout_s=180,
            cluster_annotations=self.annotations,
        )


def incremental_upgrade(step: int, interval_s: float, expected_body: str = "6") -> rs.Upgrade:
    """``NewClusterWithIncrementalUpgrade`` through the stand-in Gateway class, gated on the
    answer to ``POST /fruit ["MANGO", 2]`` (``"6"`` at the mango's price of 3)."""
    probe = rs.HttpProbe(
        path="/fruit", method="POST", body='["MANGO", 2]', expected_body=expected_body, requests=5
    )
    return rs.Upgrade(
        strategy="NewClusterWithIncrementalUpgrade",
        drain_s=1,
        cluster_upgrade_options=rs.ClusterUpgradeOptions(
            gateway_class_name="fake-gateway",
            step_size_percent=step,
            interval_seconds=interval_s,
            health_gates=rs.HealthGates(probes=(probe,), ready_timeout_s=120),
        ),
    )


class Traffic:
    """Clients of the serve Service, through the API server proxy, counting every failure."""

    def __init__(self, server: FakeKubeServer, expected: str) -> None:
        self.url = f"{server.url}/api/v1/namespaces/{NS}/services/fruit-serve-svc:serve/proxy/fruit"
        self.headers = {"Authorization": f"Bearer {server.token}"}
        self.expected = expected
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            self.sent += 1
            try:
                reply = session.post(self.url, json=["MANGO", 2], headers=self.headers, timeout=10)
                if reply.status_code != 200 or reply.text != self.expected:
                    self.failures.append(f"{reply.status_code} {reply.text[:100]}")
            except requests.RequestException as error:
                self.failures.append(type(error).__name__)
            self._stop.wait(0.05)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def serve_answer(server: FakeKubeServer) -> str:
    return (
        Traffic(server, "").url
        and requests.post(
            Traffic(server, "").url,
            json=["MANGO", 2],
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=30,
        ).text
    )


class GatewayTraffic:
    """Clients of a Gateway's listener, one request at a time, each tagged with the new share.

    Before each request the route's share for every backend but ``old_service`` is read from
    the fake's store, so the answers can be grouped by the step they were sent in; the gateway's
    own record says which backend took each one (both in send order: one client, one request at
    a time).
    """

    def __init__(
        self, server: FakeKubeServer, gateway: str, route: str, expected: str, old_service: str
    ) -> None:
        self.server = server
        self.url = server.gateway_url(NS, gateway) + "/fruit"
        self.route = route
        self.expected = expected
        self.old_service = old_service
        self.weights: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _new_weight(self) -> int:
        from ..fake_kube import HTTPROUTES

        route = self.server.registry.find(HTTPROUTES, NS, self.route) or {}
        refs = ((route.get("spec") or {}).get("rules") or [{}])[0].get("backendRefs") or []
        total = sum(int(r.get("weight", 1)) for r in refs) or 1
        new = sum(int(r.get("weight", 1)) for r in refs if r.get("name") != self.old_service)
        return round(100 * new / total)

    def _loop(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            self.weights.append(self._new_weight())
            try:
                reply = session.post(self.url, json=["MANGO", 2], timeout=10)
                if reply.status_code != 200 or reply.text != self.expected:
                    self.failures.append(f"{reply.status_code} {reply.text[:100]}")
            except requests.RequestException as error:
                self.failures.append(type(error).__name__)
            self._stop.wait(0.01)

    def __enter__(self) -> GatewayTraffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
