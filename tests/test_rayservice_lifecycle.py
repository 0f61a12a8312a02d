"""The whole RayService lifecycle, end to end, as ``pulumi up`` runs it.

The program is the component's; the engine's steps are played by
rayservice_testbed.harness.program_engine (check/diff/create/update in dependency order through the
REAL provider host, create-before-delete for replacements, deletes last); Kubernetes is the fake API
server whose stand-in operator runs a REAL Ray head per RayCluster; traffic goes through the API
server's proxy to the serve Service, which resolves the Service's selector to the cluster it points
at, as kube-proxy would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rayservice_testbed.fake_kube import RAYCLUSTERS, SERVICES, FakeKubeServer
from rayservice_testbed.harness.fruit_stack import NS, Stack, Traffic, serve_answer
from rayservice_testbed.harness.program_engine import ProgramEngine, ServiceApplier
from rayservice_testbed.harness.provider_host import ProviderHost
from rayservice_testbed.harness.serve_apps import wait_for

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKubeServer]:
    pytest.importorskip("ray.serve")
    with FakeKubeServer(operator=True, ray_heads=True) as fake:
        yield fake


def clusters(server: FakeKubeServer) -> dict[str, str]:
    return {
        o["metadata"]["name"]: o["metadata"]["uid"]
        for o in server.registry.list(RAYCLUSTERS, NS)["items"]
    }


def selector(server: FakeKubeServer) -> dict[str, Any]:
    service = server.registry.find(SERVICES, NS, "fruit-serve-svc")
    assert service is not None
    return dict(service["spec"]["selector"])


def test_up_in_place_change_upgrade_failed_upgrade_and_destroy(
    server: FakeKubeServer, provider_host: ProviderHost, app_uris: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    stack = Stack(app_uris["fruit_stand"], kubeconfig)
    engine = ProgramEngine(provider_host, ServiceApplier(str(kubeconfig)))
    try:
        # 1. up: cluster, app RUNNING, Service pointing at the cluster.
        run = engine.up(stack.program)
        assert run.failure is None, run.failure
        [first] = clusters(server)
        assert selector(server) == {"ray.io/cluster": first}
        assert serve_answer(server) == "6"

        # 2. mango price 3 -> 4: one app updated in place, no new cluster.
        stack.mango = 4
        preview = engine.preview(stack.program)
        assert sorted(preview.steps.values()) == ["same", "same", "update"]
        run = engine.up(stack.program)
        assert run.failure is None, run.failure
        assert [op for urn, op in run.steps.items() if "ServeApplication" in urn] == ["update"]
        assert list(clusters(server)) == [first]
        assert serve_answer(server) == "8"

        # 3. identical up: no writes at all, anywhere.
        server.reset_requests()
        run = engine.up(stack.program)
        assert run.failure is None and set(run.steps.values()) == {"same"}
        assert server.write_count() == 0

        # 4. new image: a second cluster, apps RUNNING there, then the Service switches, then the
        #    old apps and cluster go; clients see no failure at any moment.
        stack.image = "rayproject/ray:2.53.0"
        preview = engine.preview(stack.program)
        kinds = {urn.rsplit("$", 1)[-1].split("::")[0]: op for urn, op in preview.steps.items()}
        assert kinds == {
            "pulumi-python:dynamic/rayservice:RayCluster": "replace",
            "pulumi-python:dynamic/rayservice:ServeApplication": "replace",
            "kubernetes:core/v1:Service": "update",
        }
        mark = len(engine.events)
        with Traffic(server, "8") as traffic:
            run = engine.up(stack.program)
        assert run.failure is None, run.failure
        assert traffic.sent > 20 and traffic.failures == []
        [second] = clusters(server)
        assert second != first and selector(server) == {"ray.io/cluster": second}
        steps = [(e.op, e.type, e.detail) for e in engine.events[mark:]]
        ops = [(op, typ) for op, typ, _ in steps]
        assert ops == [
            ("replace-create", "pulumi-python:dynamic/rayservice:RayCluster"),
            ("replace-create", "pulumi-python:dynamic/rayservice:ServeApplication"),
            ("update", "kubernetes:core/v1:Service"),
            ("delete", "pulumi-python:dynamic/rayservice:ServeApplication"),
            ("delete", "pulumi-python:dynamic/rayservice:RayCluster"),
        ], steps
        assert serve_answer(server) == "8"

        # 5. an upgrade whose new cluster never gets ready: `up` fails with the reason, the
        #    Service still points at the serving cluster, traffic never moved.
        stack.image = "rayproject/ray:2.54.0"
        stack.annotations = {"fake-kube.test/scenario": "never_ready"}
        stack.cluster_timeout_s = 6
        with Traffic(server, "8") as traffic:
            run = engine.up(stack.program)
        assert run.failure is not None and "was not ready within 6s" in str(run.failure)
        assert traffic.failures == []
        assert list(clusters(server)) == [second]
        assert selector(server) == {"ray.io/cluster": second}
        assert serve_answer(server) == "8"
    finally:
        engine.destroy()
    # 6. destroy: nothing left in the API server or on Ray.
    assert clusters(server) == {}
    assert server.registry.find(SERVICES, NS, "fruit-serve-svc") is None
    for name in (first, second):
        wait_for(lambda n=name: server.operator.head(NS, n) is None, 30, f"{name}'s Ray head")
