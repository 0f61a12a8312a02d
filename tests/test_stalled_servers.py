"""Every operation ends by its ``timeout_s`` against a server that never answers, or trickles.

A hung dashboard, a wedged API server, a watch a load balancer dropped silently: the connection is
up, so no connect timeout fires, and a server that sends one byte a second keeps every read short,
so no read timeout fires either. Each operation here runs through the REAL provider host against
such a server (a scripted dashboard on loopback; the fake API server's ``hang``/``trickle``
faults) and must fail within ``timeout_s + MARGIN_S``, saying what it waited for, or, where the
stalled request was only a wait for a change (a watch), go on and finish.

``MARGIN_S`` is what an operation may take past its deadline by design: the read that reports the
state a wait ended in, the read-back after a PUT, the first step of a cleanup.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rayservice_testbed.fake_kube import RAYCLUSTERS, FakeKubeServer, Scenario
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.fake_kube.operator import SCENARIO_KEY
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.stalled_server import APPS, StallingDashboard, back_head_service

from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.provider import ServeApplicationProvider

TIMEOUT_S = 4
MARGIN_S = 8.0
SERVE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER = "pulumi-python:dynamic/rayservice:RayCluster"
APP = {"name": "stalled", "import_path": "app:deployment", "route_prefix": "/stalled"}


def timed(call: Callable[[], Any]) -> tuple[float, BaseException | None]:
    """Seconds ``call`` took, and what it raised (None when it returned)."""
    start = time.monotonic()
    try:
        call()
    except Exception as error:
        return time.monotonic() - start, error
    return time.monotonic() - start, None


# a dashboard that stalls ----------------------------------------------------------------------


def serve_inputs(url: str) -> dict[str, Any]:
    return {
        "app": dict(APP),
        "dashboard": {"url": url},
        "timeout_s": TIMEOUT_S,
        "owner": "tests/stalled",
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
    }


@pytest.fixture
def stalling() -> Iterator[Callable[[str, set[str]], StallingDashboard]]:
    started: list[StallingDashboard] = []

    def start(mode: str, stall: set[str]) -> StallingDashboard:
        started.append(StallingDashboard(mode, stall))
        return started[-1]

    yield start
    for dashboard in started:
        dashboard.close()


@pytest.mark.parametrize("mode", ["silent", "trickle"])
@pytest.mark.parametrize("operation", ["create", "refresh", "delete"])
def test_a_stalled_dashboard_fails_each_operation_within_its_timeout(
    engine: Engine,
    provider_host: ProviderHost,
    stalling: Callable[[str, set[str]], StallingDashboard],
    mode: str,
    operation: str,
) -> None:
    dashboard = stalling(mode, {"GET", "PUT"})
    urn = urn_of(SERVE, f"stalled-{operation}")
    props = engine.check(urn, serve_inputs(dashboard.url))
    calls: dict[str, Callable[[], Any]] = {
        "create": lambda: provider_host.create(urn, props),
        "refresh": lambda: provider_host.read(urn, f"stalled@{dashboard.url}", props, props),
        "delete": lambda: provider_host.delete(urn, f"stalled@{dashboard.url}", props),
    }

    took, error = timed(calls[operation])

    assert isinstance(error, ProviderError), error
    assert took < TIMEOUT_S + MARGIN_S, (took, error)
    assert "no complete answer within" in str(error), error
    # The first read stalled (a write asks the Ray version first, a refresh reads the apps).
    first = "GET /api/version" if operation != "refresh" else f"GET {APPS}"
    assert dashboard.seen[:1] == [first], dashboard.seen
    assert not any(seen.startswith("PUT") for seen in dashboard.seen)  # nothing was written


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_a_stalled_put_fails_the_create_within_its_timeout_and_says_what_was_left(
    engine: Engine,
    provider_host: ProviderHost,
    stalling: Callable[[str, set[str]], StallingDashboard],
    mode: str,
) -> None:
    dashboard = stalling(mode, {"PUT"})
    urn = urn_of(SERVE, "stalled-put")
    props = engine.check(urn, serve_inputs(dashboard.url))

    took, error = timed(lambda: provider_host.create(urn, props))

    assert isinstance(error, ProviderError), error
    assert took < TIMEOUT_S + MARGIN_S, (took, error)
    text = str(error)
    assert "no complete answer within" in text, text
    assert "Serve does not run 'stalled' as sent" in text, text
    # Read back after the unanswered PUT: the app is not there, so nothing is left to remove.
    assert "nothing was left on the cluster" in text, text
    assert [seen for seen in dashboard.seen if seen.startswith("PUT")] == [f"PUT {APPS}"]


# an API server that stalls ------------------------------------------------------------------

CLUSTERS = r"/apis/ray\.io/v1/namespaces/default/rayclusters"


@pytest.fixture(scope="module")
def kube_server() -> Iterator[FakeKubeServer]:
    with FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()) as fake:
        yield fake


@pytest.fixture
def api(kube_server: FakeKubeServer) -> Iterator[FakeKubeServer]:
    kube_server.reset_requests()
    kube_server.clear_faults()
    yield kube_server
    kube_server.clear_faults()


@pytest.fixture(scope="module")
def kubeconfig(kube_server: FakeKubeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kube_server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")


def cluster_inputs(kubeconfig: Path, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "spec": sample_cluster_spec(),
        "namespace": "default",
        "name": name,
        "resource_name": name,
        "kube": {"path": str(kubeconfig)},
        "timeout_s": TIMEOUT_S,
        "wait_for_dashboard": False,
        "owner": "tests/stalled",
        PROVIDER_KEY: provider_input(RayClusterProvider()),
        **extra,
    }


def stall(api: FakeKubeServer, mode: str, method: str, watch: bool = False) -> None:
    """Make the API server stall the next request of ``method`` on RayClusters."""

    def matches(info: Any) -> bool:
        return (
            info.method == method
            and "/rayclusters" in info.path
            and (("watch=true" in info.query) == watch)
        )

    if mode == "silent":
        api.hang(3600, match=matches)
    else:
        api.trickle(0.5, match=matches)


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_a_stalled_create_fails_within_its_timeout_and_says_the_object_may_exist(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path, mode: str
) -> None:
    stall(api, mode, "POST")
    urn = urn_of(CLUSTER, f"post-{mode}")

    took, error = timed(lambda: engine.up(urn, cluster_inputs(kubeconfig, f"post-{mode}")))

    assert isinstance(error, ProviderError), error
    assert took < TIMEOUT_S + MARGIN_S, (took, error)
    assert "no complete answer within" in str(error), error
    assert "may have been created" in str(error), error


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_a_stalled_watch_is_cut_and_the_wait_ends_by_its_deadline(
    engine: Engine, api: FakeKubeServer, kubeconfig: Path, mode: str
) -> None:
    stall(api, mode, "GET", watch=True)
    urn = urn_of(CLUSTER, f"watch-{mode}")
    never_ready = cluster_inputs(kubeconfig, f"watch-{mode}", labels={SCENARIO_KEY: "never_ready"})

    took, error = timed(lambda: engine.up(urn, never_ready))

    assert isinstance(error, ProviderError), error
    assert took < TIMEOUT_S + MARGIN_S, (took, error)
    assert f"was not ready within {TIMEOUT_S}s" in str(error), error
    assert "deleted again" in str(error), error
    assert api.faults.pending == 0  # the watch was sent, and stalled


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_a_stalled_delete_fails_within_its_timeout_and_a_rerun_converges(
    engine: Engine, provider_host: ProviderHost, api: FakeKubeServer, kubeconfig: Path, mode: str
) -> None:
    urn = urn_of(CLUSTER, f"delete-{mode}")
    engine.up(urn, cluster_inputs(kubeconfig, f"delete-{mode}"))
    state = engine.state[urn]
    stall(api, mode, "DELETE")

    took, error = timed(lambda: provider_host.delete(urn, state.id, state.outputs))

    assert isinstance(error, ProviderError), error
    assert took < TIMEOUT_S + MARGIN_S, (took, error)
    assert "no complete answer within" in str(error), error
    api.clear_faults()
    provider_host.delete(urn, state.id, state.outputs)  # `pulumi destroy` again
    del engine.state[urn]
    assert api.registry.find(RAYCLUSTERS, "default", f"delete-{mode}") is None


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_a_stalled_lease_fails_the_write_within_its_timeout_and_writes_nothing(
    engine: Engine,
    provider_host: ProviderHost,
    api: FakeKubeServer,
    kubeconfig: Path,
    mode: str,
    stack: contextlib.ExitStack,
) -> None:
    # Through the API server's proxy, a write first takes the cluster's Lease: a stalled API
    # server must not hold it there.
    def on_leases(info: Any) -> bool:
        return "/leases" in info.path

    if mode == "silent":
        api.hang(3600, match=on_leases)
    else:
        api.trickle(0.5, match=on_leases)
    # The head Service exists and its dashboard answers (its Ray version): the write gets as far
    # as the Lease.
    version = stack.enter_context(contextlib.closing(StallingDashboard(mode, set())))
    back_head_service(api, "default", "stalled-head-svc", version)
    urn = urn_of(SERVE, f"lease-{mode}")
    props = engine.check(
        urn,
        {
            **serve_inputs("unused"),
            "dashboard": {
                "service": "stalled-head-svc",
                "namespace": "default",
                "kube": {"path": str(kubeconfig)},
            },
        },
    )

    took, error = timed(lambda: provider_host.create(urn, props))

    assert isinstance(error, ProviderError), error
    assert took < TIMEOUT_S + MARGIN_S, (took, error)
    assert "Lease default/stalled-head-svc-serve-config" in str(error), error
    assert "no complete answer within" in str(error), error
    assert not api.matching("PUT", "/proxy/")
    assert version.seen == ["GET /api/version"]  # asked its version, nothing else


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as opened:
        yield opened
