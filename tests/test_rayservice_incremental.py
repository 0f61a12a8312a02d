"""An incremental upgrade end to end: a RayService behind a Gateway, moved step by step.

The program is the component's, played by the engine stand-in through the REAL provider host;
the fake API server runs a REAL Ray head per RayCluster and the stand-in Gateway controller,
whose listener splits requests by the HTTPRoute's weights to each cluster's serve Service.
A client loop sends requests through the Gateway during every ``up``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from rayservice_testbed.fake_kube import GATEWAYS, HTTPROUTES, RAYCLUSTERS, FakeKubeServer
from rayservice_testbed.harness.fruit_stack import (
    NS,
    GatewayTraffic,
    Stack,
    incremental_upgrade,
)
from rayservice_testbed.harness.program_engine import ProgramEngine
from rayservice_testbed.harness.provider_host import ProviderHost
from rayservice_testbed.harness.serve_apps import wait_for

pytestmark = pytest.mark.ray

STEP = 25
INTERVAL_S = 6.0


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKubeServer]:
    pytest.importorskip("ray.serve")
    with FakeKubeServer(operator=True, ray_heads=True, gateway_controller=True) as fake:
        yield fake


def clusters(server: FakeKubeServer) -> list[str]:
    return sorted(o["metadata"]["name"] for o in server.registry.list(RAYCLUSTERS, NS)["items"])


def clusters_but(server: FakeKubeServer, name: str) -> str:
    [other] = [c for c in clusters(server) if c != name]
    return other


def weights(server: FakeKubeServer) -> dict[str, int]:
    route = server.registry.find(HTTPROUTES, NS, "fruit-httproute")
    assert route is not None
    refs = route["spec"]["rules"][0]["backendRefs"]
    return {ref["name"]: ref["weight"] for ref in refs}


def test_an_incremental_upgrade_moves_traffic_by_steps_and_a_bad_version_rolls_back(
    server: FakeKubeServer, provider_host: ProviderHost, app_uris: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    stack = Stack(
        app_uris["fruit_stand"], kubeconfig, upgrade=incremental_upgrade(STEP, INTERVAL_S)
    )
    engine = ProgramEngine(provider_host)
    try:
        # 1. up: one cluster, its app, the Gateway and a route sending it everything.
        run = engine.up(stack.program)
        assert run.failure is None, run.failure
        [first] = clusters(server)
        assert weights(server) == {f"{first}-serve-svc": 100}
        gateway = server.registry.find(GATEWAYS, NS, "fruit-gateway")
        assert gateway is not None and gateway["spec"]["gatewayClassName"] == "fake-gateway"

        # 2. an image upgrade: a new cluster beside the old, then traffic in steps of 25%,
        #    every step gated; the client loop through the Gateway sees no failure.
        stack.image = "rayproject/ray:2.53.0"
        server.reset_gateway_requests()
        old_service = f"{first}-serve-svc"
        with GatewayTraffic(
            server, "fruit-gateway", "fruit-httproute", "6", old_service
        ) as traffic:
            run = engine.up(stack.program)
        assert run.failure is None, run.failure
        [second] = clusters(server)
        assert second != first
        assert weights(server) == {f"{second}-serve-svc": 100}
        assert traffic.failures == []
        # Every request, grouped by the step it was sent in: the new cluster's share is within
        # 10 points of its weight wherever a step saw at least 100 requests.
        routed = server.gateway_requests(namespace=NS, name="fruit-gateway")
        assert len(routed) == len(traffic.weights)
        by_step: dict[int, Counter[bool]] = {}
        for weight, request in zip(traffic.weights, routed, strict=True):
            to_new = not str(request.backend).endswith(f"/{old_service}:8000")
            by_step.setdefault(weight, Counter())[to_new] += 1
        assert {25, 50, 75} <= set(by_step), by_step
        measured = 0
        for weight, seen in by_step.items():
            total = seen[True] + seen[False]
            if total >= 100:
                measured += 1
                assert abs(100 * seen[True] / total - weight) <= 10, (weight, seen)
        assert measured >= 3, by_step

        # 3. a bad new version (the mango's price changed: the probe's body is wrong) on a new
        #    cluster: the first step's gate fails, nothing moved, `up` fails with the evidence,
        #    and the new cluster is deleted.
        stack.image, stack.mango = "rayproject/ray:2.54.0", 4
        old_service = f"{second}-serve-svc"
        with GatewayTraffic(
            server, "fruit-gateway", "fruit-httproute", "6", old_service
        ) as traffic:
            run = engine.up(stack.program)
        assert run.failure is not None
        message = str(run.failure)
        assert "rolled back at step 1" in message, message
        assert "probe POST /fruit: FAILED (0/5 as expected" in message, message
        assert "without '6'" in message, message
        assert "was deleted; `pulumi up --refresh` makes a new one" in message, message
        assert traffic.failures == []
        assert clusters(server) == [second]
        assert weights(server)[old_service] == 100

        # 4. the price put right: a bare `up` finds the new cluster gone and changes nothing;
        #    after a refresh the next `up` makes a new cluster and runs the upgrade to the end.
        stack.mango = 3
        run = engine.up(stack.program)
        gone = str(run.failure)
        assert "does not exist" in gone or "no longer exists" in gone, gone
        assert clusters(server) == [second]
        assert weights(server)[old_service] == 100
        engine.refresh()
        with GatewayTraffic(
            server, "fruit-gateway", "fruit-httproute", "6", old_service
        ) as traffic:
            run = engine.up(stack.program)
        assert run.failure is None, run.failure
        assert traffic.failures == []
        [fourth] = clusters(server)
        assert fourth != second
        assert weights(server) == {f"{fourth}-serve-svc": 100}

        # 5. a new cluster that never gets ready: `up` fails with the reason within the cluster's
        #    timeout, the cluster is removed again, and traffic never moved.
        stack.image = "rayproject/ray:2.55.0"
        stack.annotations = {"fake-kube.test/scenario": "never_ready"}
        stack.cluster_timeout_s = 6
        with GatewayTraffic(
            server, "fruit-gateway", "fruit-httproute", "6", f"{fourth}-serve-svc"
        ) as traffic:
            run = engine.up(stack.program)
        assert run.failure is not None and "was not ready within 6s" in str(run.failure)
        assert traffic.failures == []
        assert clusters(server) == [fourth]
        assert weights(server) == {f"{fourth}-serve-svc": 100}
    finally:
        engine.destroy()
    assert clusters(server) == []
    assert server.registry.find(HTTPROUTES, NS, "fruit-httproute") is None
    assert server.registry.find(GATEWAYS, NS, "fruit-gateway") is None


def split(server: FakeKubeServer) -> bool:
    """The route sends traffic to two clusters (a rollout under way)."""
    route = server.registry.find(HTTPROUTES, NS, "fruit-httproute")
    refs = route["spec"]["rules"][0]["backendRefs"] if route else []
    return sum(1 for ref in refs if ref.get("weight", 1) > 0) == 2


def interrupted_up(engine: ProgramEngine, stack: Stack, server: FakeKubeServer) -> None:
    """``pulumi up`` killed mid-rollout: its provider host dies once traffic is split.

    The program runs on this thread (Pulumi's runtime needs its event loop); a watcher kills the
    host process from another.
    """
    host = engine.host
    seen: dict[str, bool] = {}

    def kill_when_split() -> None:
        seen["split"] = bool(wait_for(lambda: split(server), 300, "the route to split traffic"))
        host.proc.kill()

    watcher = threading.Thread(target=kill_when_split, daemon=True)
    watcher.start()
    run = engine.up(stack.program)
    watcher.join(30)
    assert seen.get("split") and run.failure is not None, (seen, run.failure)
    host.close()
    engine.host = ProviderHost()


def test_an_interrupted_upgrade_resumes_from_the_route_and_a_revert_moves_traffic_back(
    server: FakeKubeServer, app_uris: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    stack = Stack(
        app_uris["fruit_stand"], kubeconfig, upgrade=incremental_upgrade(STEP, INTERVAL_S)
    )
    engine = ProgramEngine(ProviderHost())
    try:
        run = engine.up(stack.program)
        assert run.failure is None, run.failure
        [first] = clusters(server)
        original_image = stack.image

        # 1. an upgrade killed mid-way, then the spec changed back: after a refresh, the next
        #    `up` moves the traffic back off the abandoned cluster, and that cluster goes.
        stack.image = "rayproject/ray:2.53.0"
        interrupted_up(engine, stack, server)
        abandoned = clusters_but(server, first)
        engine.refresh()
        stack.image = original_image
        with GatewayTraffic(
            server, "fruit-gateway", "fruit-httproute", "6", f"{first}-serve-svc"
        ) as traffic:
            run = engine.up(stack.program)
        assert run.failure is None, run.failure
        assert traffic.failures == []
        assert abandoned not in clusters(server)
        [reverted] = clusters(server)
        assert weights(server) == {f"{reverted}-serve-svc": 100}

        # 2. an upgrade killed mid-way and run again unchanged: it resumes from the route's
        #    weights (the new cluster's share never drops back) and ends on the new cluster.
        stack.image = "rayproject/ray:2.54.0"
        interrupted_up(engine, stack, server)
        upgraded = clusters_but(server, reverted)
        share = weights(server)[f"{upgraded}-serve-svc"]
        engine.refresh()
        with GatewayTraffic(
            server, "fruit-gateway", "fruit-httproute", "6", f"{reverted}-serve-svc"
        ) as traffic:
            run = engine.up(stack.program)
        assert run.failure is None, run.failure
        assert traffic.failures == [], traffic.failures[:5]
        assert traffic.weights[0] >= share
        assert traffic.weights == sorted(traffic.weights)
        assert clusters(server) == [upgraded]
        assert weights(server) == {f"{upgraded}-serve-svc": 100}
    finally:
        engine.destroy()
        engine.host.close()
    assert clusters(server) == []
