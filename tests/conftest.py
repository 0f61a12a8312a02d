"""Session-wide real components: one local Ray head with Serve, the example apps zipped as URIs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rayservice_testbed.harness.provider_host import Engine, ProviderHost
from rayservice_testbed.harness.serve_apps import zip_examples


@pytest.fixture(scope="session")
def ray_head() -> Iterator[object]:
    """One real Ray head (with Serve on its own ports) shared by the whole test session."""
    pytest.importorskip("ray.serve")
    from rayservice_testbed.harness.ray_head import RayHead

    head = RayHead.start(num_cpus=4)
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture(autouse=True)
def _serve_needs_a_supported_head(request: pytest.FixtureRequest) -> None:
    """Skip a test that needs Serve's REST API when the session's head is older than Ray 2.8.

    Such a head (the Ray matrix's cell below the oldest supported release) serves no Serve API
    on the dashboard: only tests marked ``any_ray`` (that it is refused) run there.
    """
    if "ray_head" not in request.fixturenames or request.node.get_closest_marker("any_ray"):
        return
    from rayservice_testbed.harness.ray_head import SERVE_API_ON_HEAD_SINCE

    head = request.getfixturevalue("ray_head")
    if head.ray_version() < SERVE_API_ON_HEAD_SINCE:
        from pulumi_rayservice.serve.ray_versions import show

        pytest.skip(
            f"the head runs Ray {show(head.ray_version())}, below the oldest supported: no Serve "
            "API there"
        )


@pytest.fixture(scope="session")
def app_uris(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``{"fruit_stand": "file:///.../fruit_stand.zip", ...}`` for every example's app code."""
    return zip_examples(tmp_path_factory.mktemp("apps"))


@pytest.fixture(scope="module")
def provider_host() -> Iterator[ProviderHost]:
    """The real Pulumi dynamic provider host (``python -m pulumi.dynamic``), one per test module."""
    host = ProviderHost()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def engine(provider_host: ProviderHost) -> Iterator[Engine]:
    """Fresh engine state per test; whatever the test left deployed is destroyed after it."""
    engine = Engine(provider_host)
    try:
        yield engine
    finally:
        for _ in engine.destroy_all():
            pass


# The quick lane (``./scripts/test --quick``) ------------------------------------------------------

PROCESS_TYPES = ("ProviderHost", "RayHead", "ProgramEngine")
"""What a fixture that starts a test-bed process yields: the provider host, a Ray head."""


def _starts_a_process(fixture_def: pytest.FixtureDef[object]) -> bool:
    """Whether a fixture starts a test-bed process, told by what it yields."""
    returns = str(getattr(fixture_def.func, "__annotations__", {}).get("return", ""))
    return any(name in returns for name in PROCESS_TYPES) or fixture_def.argname == "ray_head"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``testbed_process`` every test that starts (or shares) a test-bed process.

    The provider host, a Ray head, the fake API server run as a process of its own: the quick
    lane (``-m "not ray and not testbed_process"``) leaves these out.
    """
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        defs = [d for name in item.fixturenames for d in info.name2fixturedefs.get(name, ())]
        if any(_starts_a_process(d) for d in defs):
            item.add_marker(pytest.mark.testbed_process)
