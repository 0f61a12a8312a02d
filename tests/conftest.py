"""Session-wide real components: one local Ray head with Serve, the example apps zipped as URIs."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.provider_host import Engine, ProviderHost

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def ray_head() -> Iterator[object]:
    """One real Ray head (with Serve on its own ports) shared by the whole test session."""
    pytest.importorskip("ray.serve")
    from tests.harness.ray_head import RayHead

    head = RayHead.start(num_cpus=4)
    try:
        yield head
    finally:
        head.stop()


def zip_app(source: Path, target: Path) -> str:
    """Zip an example's app directory; return the ``file://`` URI Serve's working_dir accepts."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(source.rglob("*.py")):
            archive.write(path, path.relative_to(source).as_posix())
    return target.resolve().as_uri()


@pytest.fixture(scope="session")
def app_uris(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``{"fruit_stand": "file:///.../fruit_stand.zip", ...}`` for every example's app code."""
    folder = tmp_path_factory.mktemp("apps")
    uris = {}
    for example in sorted(EXAMPLES.iterdir()):
        if (example / "app").is_dir():
            uris[example.name] = zip_app(example / "app", folder / f"{example.name}.zip")
    return uris


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
