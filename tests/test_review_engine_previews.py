"""Review summaries of this package's own previews, made by the engine stand-in (no Ray, no CLI).

The example programs run under the engine stand-in (``RecordingEngine``): the state is filled as
an ``up`` would leave it, the program changes, and the preview's Check and Diff go through the
real provider host. ``harness/preview_digest`` writes what was planned as the CLI's
PreviewDigest, and the summary of it must equal the golden Markdown in ``tests/data/review/``
(``REVIEW_UPDATE_GOLDEN=1`` rewrites them; read the diff before committing it). Cluster names
are drawn at random by Check, so each is replaced by a stable one before comparing.
"""

from __future__ import annotations

import json
import os
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pulumi
import pytest
from pulumi.runtime import config as runtime_config
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.fruit_stack import Stack
from rayservice_testbed.harness.preview_digest import (
    SECRET,
    UNKNOWN_SENTINEL,
    NoServiceWrites,
    RecordingEngine,
    destroy_plan,
    digest,
    stable_cluster_names,
)
from rayservice_testbed.harness.provider_host import ProviderHost
from rayservice_testbed.paths import REPO_ROOT

import pulumi_rayservice as rs
from pulumi_rayservice.review import EXIT_CHANGES_SAFE, EXIT_DESTRUCTIVE, summarize

GOLDEN = Path(__file__).parent / "data" / "review"
FRUIT_STAND = REPO_ROOT / "examples" / "fruit_stand" / "__main__.py"
KUBECONFIG = "/nonexistent/kubeconfig"  # any call to a cluster would fail the preview
FRUIT_CONFIG = {"workingDir": "https://example.com/fruit.zip", "kubeconfig": KUBECONFIG}


def fruit_stand(**config: Any) -> Callable[[], None]:
    """The example program ``examples/fruit_stand`` with its stack config."""
    values = {f"fruit-stand:{k}": str(v) for k, v in {**FRUIT_CONFIG, **config}.items()}

    def program() -> None:
        token = runtime_config.CONFIG.set(values)
        try:
            runpy.run_path(str(FRUIT_STAND), run_name="__main__")
        finally:
            runtime_config.CONFIG.reset(token)

    return program


def workers(replicas: int) -> Callable[[], None]:
    """``examples/math_app``'s cluster with one app, its worker count as the knob."""

    def program() -> None:
        cluster = rs.RayCluster(
            "shared",
            namespace="ray",
            spec=rs.ClusterSpec(
                ray_version="2.52.0",
                image="rayproject/ray:2.52.0",
                head=rs.HeadGroup(compute=rs.ComputeTemplate(cpu=2, memory="4Gi")),
                workers=[rs.WorkerGroup(name="small-wg", replicas=replicas, min_replicas=0,
                                        max_replicas=5,
                                        compute=rs.ComputeTemplate(cpu=1, memory="2Gi"))],
                enable_serve_service=True,
            ),
            kube=rs.Kube(kubeconfig=KUBECONFIG),
        )  # fmt: skip
        app = rs.ServeApp.from_yaml(
            REPO_ROOT / "examples" / "math_app" / "serve_config.yaml", name="math_app"
        ).model_copy(update={"runtime_env": {"working_dir": "https://example.com/math.zip"}})
        rs.ServeApplication("math", app=app, dashboard=cluster.dashboard)
        pulumi.export("cluster", cluster.name)

    return program


def incremental(image: str) -> Callable[[], None]:
    """The lifecycle stack (``harness/fruit_stack``) with an incremental upgrade."""
    stack = Stack(
        uri="https://example.com/fruit.zip",
        kubeconfig=Path(KUBECONFIG),
        image=image,
        upgrade=rs.Upgrade(
            strategy="NewClusterWithIncrementalUpgrade",
            drain_s=30,
            cluster_upgrade_options=rs.ClusterUpgradeOptions(
                gateway_class_name="istio",
                step_size_percent=25,
                interval_seconds=30,
                max_surge_percent=50,
                health_gates=rs.HealthGates(
                    probes=(rs.HttpProbe(path="/fruit", method="POST", body='["MANGO", 2]',
                                         expected_body="6"),)),
            ),
        ),
    )  # fmt: skip

    def program() -> None:
        stack.program()

    return program


@pytest.fixture
def engine(provider_host: ProviderHost) -> Iterator[RecordingEngine]:
    yield RecordingEngine(provider_host, cast(Any, NoServiceWrites()), project="fruit-stand")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if os.environ.get("REVIEW_UPDATE_GOLDEN") == "1":
        if path.exists() and path.read_text() == text:
            return
        path.write_text(text)
        pytest.fail(f"{path} rewritten: read its diff, then run again without REVIEW_UPDATE_GOLDEN")
    assert text == path.read_text(), f"{path} differs; REVIEW_UPDATE_GOLDEN=1 rewrites it"


def reviewed(
    engine: RecordingEngine, before: Callable[[], None], after: Callable[[], None] | None
) -> tuple[str, int, dict[str, Any]]:
    engine.assume_applied(before)
    if after is None:
        planned = destroy_plan(engine)
    else:
        run, planned = engine.preview_steps(after)
        assert run.failure is None, run.failure
    document = json.loads(json.dumps(digest(planned)))  # as the CLI's file would be read
    text, status = summarize(document)
    return stable_cluster_names(text, engine, planned), status, document


SCENARIOS = {
    "user_config": (fruit_stand(), fruit_stand(mangoPrice=4), EXIT_CHANGES_SAFE),
    "code_change": (fruit_stand(), fruit_stand(workingDir="https://example.com/fruit-v2.zip"),
                    EXIT_CHANGES_SAFE),
    "worker_scale": (workers(1), workers(3), EXIT_CHANGES_SAFE),
    "image_upgrade": (fruit_stand(), fruit_stand(image="rayproject/ray:2.53.0"), EXIT_DESTRUCTIVE),
    "incremental_rollout": (incremental("rayproject/ray:2.52.0"),
                            incremental("rayproject/ray:2.53.0"), EXIT_DESTRUCTIVE),
    "destroy": (fruit_stand(), None, EXIT_DESTRUCTIVE),
}  # fmt: skip


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_golden_summary_of_an_engine_preview(engine: RecordingEngine, scenario: str) -> None:
    before, after, expected_status = SCENARIOS[scenario]
    text, status, document = reviewed(engine, before, after)
    assert status == expected_status
    raw = json.dumps(document)
    assert "pickle" not in raw and '"__provider": "[secret]"' in raw.replace(SECRET, "[secret]")
    check_golden(scenario, text)


def test_what_each_golden_says() -> None:
    """The verdicts a reviewer reads, apart from the goldens: a rewrite cannot lose them."""
    said = {name: (GOLDEN / f"{name}.md").read_text() for name in SCENARIOS}
    assert "| `MangoStand` | reconfigure only (user_config, no restart) |" in said["user_config"]
    assert "whole app rebuilt (every replica restarted)" in said["code_change"]
    assert "### RayCluster `shared`: patched in place" in said["worker_scale"]
    assert "`spec.workerGroupSpecs[0].replicas`: `1` → `3`" in said["worker_scale"]
    assert "### RayService `fruit`: new cluster" in said["image_upgrade"]
    assert "the serve Service's selector moves" in said["image_upgrade"]
    assert "after 30 s (drain_s)" in said["image_upgrade"]
    assert "new cluster, traffic moved step by step" in said["incremental_rollout"]
    assert "new cluster's traffic % 25 -> 50 -> 75 -> 100" in said["incremental_rollout"]
    assert "### RayService `fruit`: deleted" in said["destroy"]
    assert UNKNOWN_SENTINEL not in "".join(said.values())


def with_secrets(secret: str, price: int) -> Callable[[], None]:
    """A cluster whose head has a secret env var and an app with a secret one, both from secret
    Outputs of the program (so each resource declares them in its ``secret_paths``)."""

    def program() -> None:
        spec = sample_cluster_spec()
        head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
        head["env"] = [{"name": "HEAD_TOKEN", "value": pulumi.Output.secret(secret + "-head")}]
        cluster = rs.RayCluster(
            "shared", namespace="ray", spec=spec, kube=rs.Kube(kubeconfig=KUBECONFIG)
        )
        app = {
            "name": "math_app",
            "import_path": "math_app:app",
            "runtime_env": {
                "working_dir": "https://example.com/math.zip",
                "env_vars": {"API_KEY": pulumi.Output.secret(secret + "-app")},
            },
            "deployments": [{"name": "Adder", "user_config": {"price": price}}],
        }
        rs.ServeApplication("math", app=app, dashboard=cluster.dashboard)

    return program


@pytest.mark.parametrize("output", ["markdown", "json"])
@pytest.mark.parametrize("show_secrets", [False, True], ids=["as-the-cli-writes", "plain"])
def test_a_programs_secrets_never_reach_the_summary(
    engine: RecordingEngine, output: str, show_secrets: bool
) -> None:
    old, new = "SeCrEt-old-0123456789", "SeCrEt-new-9876543210"
    engine.assume_applied(with_secrets(old, 3))
    run, planned = engine.preview_steps(with_secrets(new, 4))
    assert run.failure is None, run.failure
    document = json.loads(json.dumps(digest(planned, show_secrets=show_secrets)))
    raw = json.dumps(document)
    # Plain, the document holds every secret and only the review's own blinding keeps them out.
    assert all(f"{s}-{where}" in raw for s in (old, new) for where in ("head", "app")) is (
        show_secrets
    )
    text, _ = summarize(document, output=output)  # type: ignore[arg-type]
    ops = {step["op"] for step in document["steps"]}
    assert ops & {"update", "replace"}, ops  # the secrets changed: the steps hold old and new
    for secret in (old, new):
        assert secret not in text


APISERVER_EXAMPLE = REPO_ROOT / "examples" / "kuberay_apiserver" / "__main__.py"


def apiserver_example(**config: Any) -> Callable[[], None]:
    """``examples/kuberay_apiserver`` with its stack config (an API server nothing listens on)."""
    base = {
        "apiServerUrl": "http://127.0.0.1:9",
        "fruitWorkingDir": "https://example.com/fruit.zip",
        "mathWorkingDir": "https://example.com/math.zip",
    }
    # The engine fixture runs programs as project "fruit-stand": the config is read there.
    values = {f"fruit-stand:{k}": str(v) for k, v in {**base, **config}.items()}

    def program() -> None:
        token = runtime_config.CONFIG.set(values)
        try:
            runpy.run_path(str(APISERVER_EXAMPLE), run_name="__main__")
        finally:
            runtime_config.CONFIG.reset(token)

    return program


def test_an_api_server_stack_reads_as_a_kubernetes_one(engine: RecordingEngine) -> None:
    """A worker scale through V2 is patched in place, through V1 a new cluster, said as for a
    kubeconfig's stack; the pods sized by a compute template are counted by it."""
    through_v2, status, _ = reviewed(engine, apiserver_example(), apiserver_example(workers=3))
    assert status == EXIT_CHANGES_SAFE
    assert "### RayCluster `test-cluster`: patched in place" in through_v2
    assert "`spec.workerGroupSpecs[0].replicas`: `1` → `3`" in through_v2
    assert "asks for 4 pods sized by compute template `default-template`" in through_v2
    engine.state.clear()
    through_v1, status, _ = reviewed(
        engine, apiserver_example(api="v1"), apiserver_example(api="v1", workers=3)
    )
    assert status == EXIT_DESTRUCTIVE
    assert "### RayCluster `test-cluster`: a new cluster" in through_v1
    assert "while the old one still runs (2 pods sized by compute template" in through_v1
