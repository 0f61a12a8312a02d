"""The HTTPRoute and Gateway written to the fake API server, admitted by the Gateway API's CRDs.

The stand-in Gateway controller sets the conditions a real one does and routes requests by
weight to small loopback servers standing in for each cluster's serve Service.
"""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rayservice_testbed.fake_kube import GATEWAYS, HTTPROUTES, FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import fake_kube_gateway, kubeconfig

from pulumi_rayservice.errors import RolloutError, RouteOwnershipError
from pulumi_rayservice.kube.client import KubeClient
from pulumi_rayservice.rollout.gateway_api import GatewayRef
from pulumi_rayservice.rollout.kube_route import KubeGateway, KubeRoute, Owner
from pulumi_rayservice.rollout.runner import ClusterBackend

__all__ = ["fake_kube_gateway", "kubeconfig"]

NS = "default"
OWNER = Owner("fruit", "project/stack-a")
GATEWAY = GatewayRef("fruit-gateway", NS)
OLD = ClusterBackend("old", "old-serve-svc", 8000)
NEW = ClusterBackend("new", "new-serve-svc", 8000)


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backends(fake_kube_gateway: FakeKubeServer) -> Iterator[None]:
    """Two serve Services whose one endpoint answers with the cluster's name."""
    servers = []
    for backend in (OLD, NEW):
        fake_kube_gateway.registry.create(
            _services(),
            NS,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": backend.service, "namespace": NS},
                "spec": {"ports": [{"name": "serve", "port": 8000, "targetPort": 8000}]},
            },
        )
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
        server.name = backend.cluster  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        fake_kube_gateway.set_endpoints(NS, backend.service, {"serve": url})
    yield
    for server in servers:
        server.shutdown()
        server.server_close()


def _services():  # type: ignore[no-untyped-def]
    from rayservice_testbed.fake_kube import SERVICES

    return SERVICES


def _route(kube: KubeClient, deadline: float = 20) -> KubeRoute:
    return KubeRoute(kube, NS, "fruit-httproute", GATEWAY, OWNER, deadline)


def _shares(server: FakeKubeServer, count: int = 100) -> Counter[str]:
    url = server.gateway_url(NS, "fruit-gateway")
    return Counter(requests.get(f"{url}/fruit", timeout=5).text for _ in range(count))


def test_a_gateway_and_a_weighted_route_carry_traffic_by_weight(
    fake_kube_gateway: FakeKubeServer, kubeconfig: Path, backends: None
) -> None:
    with KubeClient({"path": str(kubeconfig)}) as kube:
        gateway = KubeGateway(kube, GATEWAY, OWNER, 20, class_name="fake-gateway")
        ready = gateway.ensure()
        (listener,) = ready["spec"]["listeners"]
        assert (listener["name"], listener["protocol"], listener["port"]) == ("http", "HTTP", 80)
        writes = fake_kube_gateway.write_count("/gateways")
        gateway.ensure()  # as it should be: nothing written
        assert fake_kube_gateway.write_count("/gateways") == writes
        route = _route(kube)
        route.set_weights([(OLD, 80), (NEW, 20)])
        assert route.weights() == {"old-serve-svc": 80, "new-serve-svc": 20}
        shares = _shares(fake_kube_gateway)
        assert abs(shares["new"] - 20) <= 10, shares
        route.set_weights([(NEW, 100)])
        assert _shares(fake_kube_gateway, 20) == Counter({"new": 20})
        stored = fake_kube_gateway.registry.find(HTTPROUTES, NS, "fruit-httproute")
        assert stored is not None
        assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pulumi-rayservice"
        route.delete()
        gateway.delete()
    assert fake_kube_gateway.registry.find(HTTPROUTES, NS, "fruit-httproute") is None
    assert fake_kube_gateway.registry.find(GATEWAYS, NS, "fruit-gateway") is None


def test_someone_elses_route_is_never_changed(
    fake_kube_gateway: FakeKubeServer, kubeconfig: Path, backends: None
) -> None:
    with KubeClient({"path": str(kubeconfig)}) as kube:
        KubeGateway(kube, GATEWAY, OWNER, 20, class_name="fake-gateway").ensure()
        theirs = KubeRoute(
            kube, NS, "fruit-httproute", GATEWAY, Owner("other", "project/stack-b"), 20
        )
        theirs.set_weights([(OLD, 100)])
        before = fake_kube_gateway.registry.find(HTTPROUTES, NS, "fruit-httproute")
        with pytest.raises(
            RouteOwnershipError, match="not managed by pulumi-rayservice for 'fruit'"
        ):
            _route(kube).set_weights([(NEW, 100)])
        with pytest.raises(RouteOwnershipError):
            _route(kube).delete()
        after = fake_kube_gateway.registry.find(HTTPROUTES, NS, "fruit-httproute")
        assert after == before


def test_a_route_no_controller_accepts_fails_within_its_deadline_saying_why(
    fake_kube_gateway: FakeKubeServer, kubeconfig: Path, backends: None
) -> None:
    with KubeClient({"path": str(kubeconfig)}) as kube:
        # A Gateway of a class no controller serves: the route is never accepted.
        orphan = GatewayRef("nobodys", NS)
        KubeGateway(kube, orphan, OWNER, 1, class_name="no-such-class")
        route = KubeRoute(kube, NS, "fruit-httproute", orphan, OWNER, 1)
        with pytest.raises(
            RolloutError, match="not in force within 1s: no controller has reported"
        ):
            route.set_weights([(OLD, 100)])
        with pytest.raises(RolloutError, match="did not become ready within 1s"):
            KubeGateway(kube, orphan, OWNER, 1, class_name="no-such-class").ensure()


def test_an_existing_gateway_is_attached_to_and_never_written(
    fake_kube_gateway: FakeKubeServer, kubeconfig: Path, backends: None
) -> None:
    with KubeClient({"path": str(kubeconfig)}) as kube:
        shared = GatewayRef("shared", NS)
        KubeGateway(kube, shared, Owner("infra", "infra/prod"), 20, "fake-gateway").ensure()
        before = fake_kube_gateway.registry.find(GATEWAYS, NS, "shared")
        existing = KubeGateway(kube, shared, OWNER, 20)
        existing.ensure()
        KubeRoute(kube, NS, "fruit-httproute", shared, OWNER, 20).set_weights([(OLD, 100)])
        existing.delete()
        after = fake_kube_gateway.registry.find(GATEWAYS, NS, "shared")
        assert after is not None and before is not None
        # Only its controller wrote its status (the route attached); we wrote nothing to it.
        fields = ("generation", "labels", "annotations", "uid")
        assert after["spec"] == before["spec"]
        assert [after["metadata"].get(f) for f in fields] == [
            before["metadata"].get(f) for f in fields
        ]
        with pytest.raises(RolloutError, match="does not exist"):
            KubeGateway(kube, GatewayRef("absent", NS), OWNER, 2).ensure()
