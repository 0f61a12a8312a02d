"""Pytest fixtures: a stand-in KubeRay API server over a fake Kubernetes with its operator.

Import the ones you need into a test module. The release comes from ``request.param`` when the
fixture is parametrized indirectly (``@pytest.mark.parametrize("kuberay_apiserver", ["v1.4",
"v1.7"], indirect=True)``), else ``"v1.7"``. Everything started is stopped in ``finally``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rayservice_testbed.fake_kube.operator import Scenario
from rayservice_testbed.fake_kube.server import FakeKubeServer

from .server import FakeKubeRayApiServer

DEFAULT_RELEASE = "v1.7"


def _release(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", DEFAULT_RELEASE))


def _serve(kube: FakeKubeServer, release: str) -> Iterator[FakeKubeRayApiServer]:
    kube.start()
    try:
        apiserver = FakeKubeRayApiServer(kube, release=release)
        apiserver.start()
        try:
            yield apiserver
        finally:
            apiserver.stop()
    finally:
        kube.stop()


@pytest.fixture
def kuberay_apiserver(request: pytest.FixtureRequest) -> Iterator[FakeKubeRayApiServer]:
    """The stand-in over a fake Kubernetes whose operator runs no Ray process (status only).

    The fake Kubernetes is ``kuberay_apiserver.kube``.
    """
    kube = FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario())
    yield from _serve(kube, _release(request))


@pytest.fixture
def kuberay_apiserver_ray(request: pytest.FixtureRequest) -> Iterator[FakeKubeRayApiServer]:
    """The stand-in over a fake Kubernetes whose operator starts a real Ray head per RayCluster:
    V2's service proxy reaches a real dashboard."""
    pytest.importorskip("ray.serve")
    kube = FakeKubeServer(operator=True, ray_heads=True)
    yield from _serve(kube, _release(request))
