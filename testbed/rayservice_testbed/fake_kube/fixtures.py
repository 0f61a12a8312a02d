"""Pytest fixtures for the fake API server; import the ones you need into a test module.

Every fixture stops what it started in ``finally`` (servers, operators, Ray heads), so a failing
test leaves no process behind.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..paths import KUBERAY_SAMPLES
from .operator import Scenario
from .server import FakeKubeServer

SAMPLES = KUBERAY_SAMPLES


def sample_cluster_spec(file_name: str = "ray-service.sample.yaml") -> dict[str, Any]:
    """The RayCluster spec of a KubeRay sample (``rayClusterConfig`` for a RayService)."""
    for document in yaml.safe_load_all((SAMPLES / file_name).read_text()):
        if not document:
            continue
        if document.get("kind") == "RayService":
            return copy.deepcopy(document["spec"]["rayClusterConfig"])
        if document.get("kind") == "RayCluster":
            return copy.deepcopy(document["spec"])
    raise LookupError(f"no RayCluster spec in {file_name}")


def raycluster(
    name: str,
    spec: dict[str, Any] | None = None,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    finalizers: list[str] | None = None,
) -> dict[str, Any]:
    """A RayCluster manifest (the sample's spec by default)."""
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    if finalizers:
        metadata["finalizers"] = finalizers
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": metadata,
        "spec": spec if spec is not None else sample_cluster_spec(),
    }


def unique_name(prefix: str = "rc") -> str:
    """A fresh DNS-1035 name, so tests sharing a server never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _serve(server: FakeKubeServer) -> Iterator[FakeKubeServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_kube() -> Iterator[FakeKubeServer]:
    """A fake API server without operator: only the API rules."""
    yield from _serve(FakeKubeServer(operator=False))


@pytest.fixture
def fake_kube_operator() -> Iterator[FakeKubeServer]:
    """A fake API server whose stand-in operator runs without Ray processes (status flows only)."""
    yield from _serve(FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()))


@pytest.fixture
def fake_kube_gateway() -> Iterator[FakeKubeServer]:
    """A fake API server with the stand-in Gateway controller (class ``fake-gateway``) and the
    operator without Ray processes (serve services exist, their endpoints lead nowhere).
    """
    yield from _serve(
        FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario(), gateway_controller=True)
    )


@pytest.fixture
def fake_kube_ray() -> Iterator[FakeKubeServer]:
    """A fake API server whose operator starts a real Ray head per RayCluster."""
    pytest.importorskip("ray.serve")
    yield from _serve(FakeKubeServer(operator=True, ray_heads=True))


@pytest.fixture
def fake_kube_ray_gateway() -> Iterator[FakeKubeServer]:
    """Real Ray heads and the stand-in Gateway controller: routes reach real Serve."""
    pytest.importorskip("ray.serve")
    yield from _serve(FakeKubeServer(operator=True, ray_heads=True, gateway_controller=True))


@pytest.fixture
def kubeconfig(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A kubeconfig for whichever fake server fixture the test uses."""
    for fixture in (
        "fake_kube",
        "fake_kube_operator",
        "fake_kube_gateway",
        "fake_kube_ray",
        "fake_kube_ray_gateway",
    ):
        if fixture in request.fixturenames:
            server: FakeKubeServer = request.getfixturevalue(fixture)
            return server.write_kubeconfig(tmp_path / "kubeconfig")
    raise LookupError("kubeconfig needs one of the fake_kube* fixtures")


@pytest.fixture
def kube_client(kubeconfig: Path) -> Iterator[Any]:
    """An official ``kubernetes`` ApiClient built from the kubeconfig file."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    try:
        yield client
    finally:
        client.close()
