"""``import pulumi_rayservice`` must work in a user's Pulumi virtualenv, which has no Ray.

Ray is installed in the test environment, so a fresh interpreter blocks it first
(``sys.modules["ray"] = None`` makes every ``import ray...`` raise ImportError) and then imports
the package, touches its public names and round-trips the provider through dill as the Pulumi
dynamic provider host does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import pulumi_rayservice

EXPECTED_PUBLIC = {
    "ServeApplication",
    "ServeApp",
    "ServeConfig",
    "Dashboard",
    "Kube",
    "ClusterSpec",
    "HeadGroup",
    "WorkerGroup",
    "ComputeTemplate",
    "ServeApplicationProvider",
    "RayServiceError",
}

SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    sys.modules["ray"] = None  # any `import ray` (or ray.serve, ...) now raises ImportError

    import dill

    import pulumi_rayservice as rs

    try:
        import ray  # noqa: F401
    except ImportError:
        ray_blocked = True
    else:
        ray_blocked = False

    missing = [name for name in rs.__all__ if not hasattr(rs, name)]
    provider = dill.loads(dill.dumps(rs.ServeApplicationProvider(), recurse=True))
    print(
        json.dumps(
            {
                "all": sorted(rs.__all__),
                "missing": missing,
                "ray_blocked": ray_blocked,
                "ray_modules": sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")),
                "provider_type": type(provider).__module__ + "." + type(provider).__qualname__,
                "is_provider": isinstance(provider, rs.ServeApplicationProvider),
                "app": rs.ServeApp(name="a", import_path="m:app").to_serve_dict(),
            }
        )
    )
    """
)


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    """One fresh interpreter without Ray, shared by the tests of this module."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_package_imports_and_works_without_ray(report: dict[str, object]) -> None:
    assert report["ray_blocked"] is True
    # Only the blocking placeholder itself: no ray submodule was imported along the way.
    assert report["ray_modules"] == ["ray"]
    assert report["missing"] == []
    assert report["all"] == sorted(pulumi_rayservice.__all__)
    assert set(pulumi_rayservice.__all__) >= EXPECTED_PUBLIC
    assert report["app"] == {"name": "a", "import_path": "m:app"}


def test_provider_round_trips_through_dill_without_ray(report: dict[str, object]) -> None:
    assert report["is_provider"] is True
    assert report["provider_type"] == ("pulumi_rayservice.serve.provider.ServeApplicationProvider")
