"""A preview after a real ``up`` is summarized as the state filled without one is.

The golden summaries (``test_review_engine_previews``) are made from a state written as an ``up``
would leave it (``RecordingEngine.assume_applied``), without Ray. Here the same stack is really
deployed (fake API server, stand-in operator, a real Ray head per RayCluster), and the previews
of a price change and of an image upgrade after it must read exactly as the ones made from the
filled state: so the goldens show what a reviewer would see after a real ``up``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from rayservice_testbed.fake_kube import FakeKubeServer
from rayservice_testbed.harness.fruit_stack import Stack
from rayservice_testbed.harness.preview_digest import (
    NoServiceWrites,
    RecordingEngine,
    digest,
    stable_cluster_names,
)
from rayservice_testbed.harness.program_engine import ServiceApplier
from rayservice_testbed.harness.provider_host import ProviderHost

from pulumi_rayservice.review import EXIT_CHANGES_SAFE, EXIT_DESTRUCTIVE, summarize

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKubeServer]:
    pytest.importorskip("ray.serve")
    with FakeKubeServer(operator=True, ray_heads=True) as fake:
        yield fake


def summaries(engine: RecordingEngine, stack: Stack) -> dict[str, tuple[str, int]]:
    """The summaries of a price change and of an image upgrade from ``engine``'s state."""
    found = {}
    for name, change in (("price", {"mango": 4}), ("image", {"image": "rayproject/ray:2.53.0"})):
        changed = Stack(**{**stack.__dict__, **change})
        run, planned = engine.preview_steps(changed.program)
        assert run.failure is None, run.failure
        text, status = summarize(digest(planned))
        found[name] = (stable_cluster_names(text, engine, planned), status)
    return found


def test_summaries_after_a_real_up_equal_those_of_the_filled_state(
    server: FakeKubeServer, provider_host: ProviderHost, app_uris: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    stack = Stack(app_uris["fruit_stand"], kubeconfig)
    deployed = RecordingEngine(provider_host, ServiceApplier(str(kubeconfig)))
    try:
        run = deployed.up(stack.program)
        assert run.failure is None, run.failure
        real = summaries(deployed, stack)
    finally:
        deployed.destroy()
    filled = RecordingEngine(provider_host, cast(Any, NoServiceWrites()))
    filled.assume_applied(stack.program)
    assert summaries(filled, stack) == real
    assert real["price"][1] == EXIT_CHANGES_SAFE
    assert "| `MangoStand` | reconfigure only (user_config, no restart) |" in real["price"][0]
    assert real["image"][1] == EXIT_DESTRUCTIVE
    assert "### RayService `fruit`: new cluster" in real["image"][0]
