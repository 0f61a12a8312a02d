"""Every example's Pulumi program runs under mocks, so the examples cannot rot.

Each program is executed exactly as ``pulumi up`` would load it (``__main__.py`` of its
directory), against Pulumi's mock runtime: what it registers is checked, not just that it ran.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import config as runtime_config
from rayservice_testbed.harness.pulumi_mocks import (
    APP_TYPE,
    CLUSTER_TYPE,
    ResourceMocks,
    mocked_runtime,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SERVICE_TYPE = "kubernetes:core/v1:Service"


def run_example(name: str, config: dict[str, str]) -> ResourceMocks:
    mocks = ResourceMocks()
    saved = runtime_config.CONFIG.get()
    runtime_config.CONFIG.set({f"project:{key}": value for key, value in config.items()})
    try:
        with mocked_runtime(mocks):

            @pulumi.runtime.test  # type: ignore[untyped-decorator]
            def program() -> None:
                runpy.run_path(str(EXAMPLES / name / "__main__.py"), run_name="__main__")

            program()
    finally:
        runtime_config.CONFIG.set(saved)
    return mocks


def apps_by_name(mocks: ResourceMocks) -> dict[str, dict[str, Any]]:
    return {r.inputs["app"]["name"]: r.inputs for r in mocks.of_type(APP_TYPE)}


def test_local_example_deploys_both_apps_on_the_local_dashboard() -> None:
    mocks = run_example("local", {"mangoPrice": "5"})
    apps = apps_by_name(mocks)
    assert set(apps) == {"fruit_app", "math_app"}
    assert {a["dashboard"]["url"] for a in apps.values()} == {"http://127.0.0.1:8265"}
    for app in apps.values():
        assert app["app"]["runtime_env"]["working_dir"].startswith("file:///")
    mango = next(d for d in apps["fruit_app"]["app"]["deployments"] if d["name"] == "MangoStand")
    assert mango["user_config"] == {"price": 5}
    assert mocks.of_type(CLUSTER_TYPE) == []


def test_fruit_stand_example_is_a_rayservice_with_the_stands_app() -> None:
    uri = "https://example.com/fruit_stand.zip"
    mocks = run_example("fruit_stand", {"workingDir": uri, "image": "rayproject/ray:2.53.0"})
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    head = cluster.inputs["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert (
        head["image"] == "rayproject/ray:2.53.0"
        and cluster.inputs["spec"]["rayVersion"] == "2.53.0"
    )
    assert cluster.inputs["namespace"] == "ray"
    [fruit] = mocks.of_type(APP_TYPE)
    assert fruit.inputs["app"]["runtime_env"] == {"working_dir": uri}
    assert fruit.inputs["drain_s"] == 30
    [service] = mocks.of_type(SERVICE_TYPE)
    assert service.inputs["metadata"]["name"] == "fruit-serve-svc"


def test_math_example_puts_two_independent_apps_on_one_cluster() -> None:
    mocks = run_example(
        "math_app",
        {
            "fruitWorkingDir": "https://example.com/f.zip",
            "mathWorkingDir": "https://example.com/m.zip",
        },
    )
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    assert cluster.inputs["annotations"] == {"ray.io/enable-serve-service": "true"}
    apps = apps_by_name(mocks)
    assert set(apps) == {"fruit_app", "math_app"}
    for app in apps.values():
        assert app["dashboard"]["service"] == "shared-abcde-head-svc"
    assert mocks.of_type(SERVICE_TYPE) == []


def test_the_serve_configs_of_the_examples_match_their_app_code() -> None:
    """Deployment names in each serve_config.yaml exist in that example's app code."""
    for example in ("fruit_stand", "math_app"):
        config = yaml.safe_load((EXAMPLES / example / "serve_config.yaml").read_text())
        code = "\n".join(p.read_text() for p in (EXAMPLES / example / "app").glob("*.py"))
        for app in config["applications"]:
            module, _, attribute = app["import_path"].partition(":")
            assert (EXAMPLES / example / "app" / f"{module}.py").exists()
            assert f"\n{attribute} = " in code
            for deployment in app["deployments"]:
                assert f"class {deployment['name']}" in code


@pytest.mark.parametrize("example", ["fruit_stand", "math_app"])
def test_kubernetes_examples_refuse_to_run_without_a_working_dir(example: str) -> None:
    with pytest.raises(Exception, match="Missing required configuration"):
        run_example(example, {})


TEMPLATE_TYPE = "pulumi-python:dynamic/rayservice:KubeRayComputeTemplate"


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_apiserver_example_is_the_seeds_walkthrough_without_a_kubeconfig(api: str) -> None:
    config = {"fruitWorkingDir": "https://x/f.zip", "mathWorkingDir": "https://x/m.zip", "api": api}
    mocks = run_example("kuberay_apiserver", config)
    [template] = mocks.of_type(TEMPLATE_TYPE)
    assert template.inputs["name"] == "default-template"
    assert template.inputs["template"] == {"cpu": 2, "memory": 4}
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    assert cluster.inputs["api_server"] == {"url": "http://localhost:31888", "api": api}
    assert "kube" not in cluster.inputs
    spec = cluster.inputs["spec"]
    assert spec["headGroupSpec"]["computeTemplate"] == "default-template"
    [worker] = spec["workerGroupSpecs"]
    assert (worker["groupName"], worker["computeTemplate"]) == ("small-wg", "default-template")
    assert worker["minReplicas"] == (0 if api == "v2" else 1)
    assert cluster.inputs["annotations"] == {"ray.io/enable-serve-service": "true"}
    assert set(apps_by_name(mocks)) == {"fruit_app", "math_app"}
