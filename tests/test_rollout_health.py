"""The gates against what they read: Serve's apps (in memory), probes through the API server's
service proxy (the fake, forwarding to a loopback server), and a Prometheus stand-in."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from rayservice_testbed.fake_kube import SERVICES, FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import fake_kube, kubeconfig

from pulumi_rayservice.rollout.gates import Answer, HttpProbe, PrometheusGate
from pulumi_rayservice.rollout.health import ServeHealth, ServiceProbe, prometheus_query
from pulumi_rayservice.rollout.options import HealthGates
from pulumi_rayservice.serve.client import DashboardClient
from pulumi_rayservice.serve.dashboard import DashboardTarget
from pulumi_rayservice.serve.status import AppState

__all__ = ["fake_kube", "kubeconfig"]


class _Handler(http.server.BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, bytes]] = {}

    def _answer(self) -> None:
        status, body = self.answers.get(self.path.split("?")[0], (404, b"not found"))
        if self.path.startswith("/api/v1/query"):
            body = json.dumps(self.server.prometheus).encode()  # type: ignore[attr-defined]
            status = 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.prometheus = {}  # type: ignore[attr-defined]
    _Handler.answers = {"/fruit": (200, b"4"), "/broken": (500, b"boom")}
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def test_probes_reach_the_new_clusters_serve_service_through_the_api_server(
    fake_kube: FakeKubeServer, kubeconfig: Path, server: http.server.ThreadingHTTPServer
) -> None:
    fake_kube.create_namespace("ray")
    fake_kube.registry.create(
        SERVICES,
        "ray",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "new-serve-svc", "namespace": "ray"},
            "spec": {"ports": [{"name": "serve", "port": 8000, "targetPort": 8000}]},
        },
    )
    fake_kube.set_endpoints("ray", "new-serve-svc", {"serve": _url(server)})
    target = DashboardTarget(
        url=None,
        service="new-serve-svc",
        namespace="ray",
        port="serve",
        kube={"path": str(kubeconfig)},
        token=None,
    )
    with DashboardClient.for_target(target) as client:
        send = ServiceProbe(client)
        assert HttpProbe(path="/fruit", expected_body="4", requests=3).check(send).passed
        broken = HttpProbe(path="/broken", requests=2).check(send)
        assert not broken.passed
        assert "first failure: HTTP 500 boom" in broken.evidence
    assert fake_kube.count("GET", "/services/new-serve-svc:serve/proxy/fruit") == 3


def test_a_probe_to_nothing_is_a_failure_with_the_reason() -> None:
    target = DashboardTarget(
        url="http://127.0.0.1:9", service=None, namespace="default", port="dashboard",
        kube=None, token=None,
    )  # fmt: skip
    with DashboardClient.for_target(target) as client:
        answer = ServiceProbe(client)("GET", "/", {}, None, 2.0)
    assert answer == Answer(0, "connection refused")


def test_prometheus_is_asked_its_query(server: http.server.ThreadingHTTPServer) -> None:
    server.prometheus = {  # type: ignore[attr-defined]
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "0.2"]}]},
    }
    gate = PrometheusGate(url=_url(server), query="sum(rate(x[1m]))", max_value=0.1)
    result = gate.check(prometheus_query(gate.url))
    assert not result.passed
    assert result.evidence == "value 0.2, past the max 0.1"


def _apps(status: str, running: int) -> dict[str, AppState]:
    details: dict[str, Any] = {
        "status": status,
        "deployments": {
            "Mango": {
                "status": "HEALTHY",
                "target_num_replicas": 1,
                "replicas": [{"state": "RUNNING"}] * running,
            }
        },
    }
    return {"fruit": AppState.from_details("fruit", details)}


def test_the_gates_wait_for_the_apps_then_probe() -> None:
    reads: list[Mapping[str, AppState]] = [
        _apps("DEPLOYING", 0),
        _apps("RUNNING", 0),
        _apps("RUNNING", 1),
    ]
    sent: list[str] = []

    def send(method: str, path: str, headers: Mapping[str, str], body: bytes | None,
             timeout_s: float) -> Answer:  # fmt: skip
        sent.append(path)
        return Answer(200, "4")

    health = ServeHealth(
        ["fruit"],
        HealthGates(probes=(HttpProbe(path="/fruit", expected_body="4", requests=2),)),
        read_apps=lambda: reads.pop(0) if len(reads) > 1 else reads[0],
        send=send,
        poll_s=0.01,
    )
    results = health.check("new", 1)
    assert [r.passed for r in results] == [True, True]
    assert sent == ["/fruit", "/fruit"]


def test_apps_never_ready_fail_the_gate_within_the_ready_timeout() -> None:
    health = ServeHealth(
        ["fruit"],
        HealthGates(ready_timeout_s=0.3, probes=(HttpProbe(),)),
        read_apps=lambda: _apps("DEPLOYING", 0),
        send=lambda *a: pytest.fail("no probe while the apps are not ready"),  # type: ignore[arg-type,return-value]
        poll_s=0.05,
    )
    (result,) = health.check("new", 2)
    assert not result.passed
    assert result.evidence.startswith("fruit: DEPLOYING (still so after")
