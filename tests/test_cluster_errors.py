"""What a RayCluster operation raises says what happened, and stays a ``KubeError`` for callers.

The provider runs in-process here (its error types are what is checked; the provider host only
turns them into text), against the fake Kubernetes API server with its stand-in operator and no
Ray processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer, Scenario
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec

from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.errors import (
    ClusterDeleteTimeoutError,
    ClusterGoneError,
    ClusterOwnershipError,
    KubeError,
    KubeTemporaryError,
)

NS = "default"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKubeServer]:
    with FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()) as fake:
        yield fake


@pytest.fixture(scope="module")
def kubeconfig(server: FakeKubeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")


def checked(kubeconfig: Path, name: str, **extra: Any) -> dict[str, Any]:
    """Inputs as Check returns them (name filled, owner set)."""
    news = {
        "spec": sample_cluster_spec(),
        "namespace": NS,
        "name": name,
        "resource_name": name,
        "owner": "project/stack-a",
        "kube": {"path": str(kubeconfig)},
        "timeout_s": 30,
        "wait_for_dashboard": False,
        **extra,
    }
    result = RayClusterProvider().check({}, news)
    assert not result.failures
    return dict(result.inputs)


def test_someone_elses_cluster_is_an_ownership_error(
    server: FakeKubeServer, kubeconfig: Path
) -> None:
    server.registry.create(
        RAYCLUSTERS,
        NS,
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {"name": "theirs", "namespace": NS},
            "spec": sample_cluster_spec(),
        },
    )
    with pytest.raises(ClusterOwnershipError, match="not managed by pulumi-rayservice") as caught:
        RayClusterProvider().create(checked(kubeconfig, "theirs"))
    assert isinstance(caught.value, KubeError)
    server.registry.delete(RAYCLUSTERS, NS, "theirs")


def test_another_stacks_cluster_is_an_ownership_error_on_update(kubeconfig: Path) -> None:
    provider = RayClusterProvider()
    props = checked(kubeconfig, "stack-a")
    created = provider.create(props)
    news = {**props, "owner": "project/stack-b"}
    with pytest.raises(ClusterOwnershipError, match="belongs to stack 'project/stack-a'"):
        provider.update(created.id, dict(created.outs), news)
    provider.delete(created.id, dict(created.outs))


def test_a_deleted_cluster_is_gone_on_update(server: FakeKubeServer, kubeconfig: Path) -> None:
    provider = RayClusterProvider()
    props = checked(kubeconfig, "vanishing")
    created = provider.create(props)
    server.registry.delete(RAYCLUSTERS, NS, "vanishing")
    with pytest.raises(ClusterGoneError, match="no longer exists") as caught:
        provider.update(created.id, dict(created.outs), props)
    assert isinstance(caught.value, KubeError)


def test_a_finalizer_held_past_the_deadline_is_a_delete_timeout(
    server: FakeKubeServer, kubeconfig: Path
) -> None:
    server.operator.set_scenario(r"held-.*", Scenario(gcs_ft_finalizer=True, finalizer_delay_s=5))
    provider = RayClusterProvider()
    created = provider.create(checked(kubeconfig, "held-a"))
    outputs = {**created.outs, "timeout_s": 1}
    with pytest.raises(ClusterDeleteTimeoutError, match="still terminating") as caught:
        provider.delete(created.id, outputs)
    assert isinstance(caught.value, KubeError)
    assert "finalizers:" in str(caught.value)


def test_an_api_failure_while_waiting_keeps_its_type_and_says_what_was_left(
    server: FakeKubeServer, kubeconfig: Path
) -> None:
    props = checked(kubeconfig, "unanswered", timeout_s=3)
    server.inject(503, count=10_000, match=("GET", "rayclusters"))
    try:
        with pytest.raises(KubeTemporaryError) as caught:
            RayClusterProvider().create(props)
    finally:
        server.clear_faults()
    message = str(caught.value)
    assert "503" in message or "Service Unavailable" in message, message
    assert "deleted again" in message or "may still exist" in message, message
    assert server.get(RAYCLUSTERS, NS, "unanswered") is None
