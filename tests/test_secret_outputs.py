"""Outputs derived from a secret input stay secret at the same paths.

The engine sends secret inputs to the dynamic provider host as plain values and marks outputs
secret by top-level key only: a secret nested in ``app`` (a ``runtime_env.env_vars`` value) would
land in plain state in ``app`` and ``deployed_app``. The resources send ``secret_paths`` (where the
program's value holds secret Outputs) and the providers wrap those paths again.

- the program side, under Pulumi mocks: which paths the resource sends;
- the provider side, through the REAL provider host: Check accepts and wraps them, refuses a
  malformed value, Diff does not count them as a change; RayCluster's spec and the outputs
  derived from it against the fake API server;
- end to end (``ray``): a program with a secret env var deployed on a real Ray head, updated and
  refreshed; the value never appears in plain state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc
from rayservice_testbed.fake_kube import FakeKubeServer, Scenario
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.program_engine import ProgramEngine
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderHost,
    provider_input,
    secret_paths,
    urn_of,
)
from rayservice_testbed.harness.pulumi_mocks import APP_TYPE, CLUSTER_TYPE, mocked_runtime
from rayservice_testbed.harness.serve_apps import answer, fruit_app

import pulumi_rayservice as rs
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.provider import ServeApplicationProvider

SECRET = "env-s3cr3t-9b1c"
APP = {"name": "app", "import_path": "fruit:deployment_graph", "route_prefix": "/app"}
ENV_PATH = ["runtime_env", "env_vars", "API_KEY"]


def plain_strings(value: Any) -> list[str]:
    """Every string in ``value`` that is NOT inside a secret (what state shows in clear)."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in plain_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in plain_strings(v)]
    return [value] if isinstance(value, str) else []


class Recorder(pulumi.runtime.Mocks):
    """Records registrations; answers with the inputs (what reaches the engine is the point)."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def registered(program: Callable[[], Any]) -> list[Any]:
    mocks = Recorder()
    with mocked_runtime(mocks):
        pulumi.runtime.test(program)()  # type: ignore[untyped-decorator]
    return mocks.created


# the program side --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_app", "expected"),
    [
        (lambda: APP, []),
        (
            lambda: {**APP, "runtime_env": {"env_vars": {"API_KEY": pulumi.Output.secret(SECRET)}}},
            [ENV_PATH],
        ),
        (
            lambda: {
                **APP,
                "deployments": [{"name": "D", "user_config": {"k": pulumi.Output.secret(1)}}],
            },
            [["deployments"]],
        ),
        (lambda: pulumi.Output.secret(APP), [[]]),
        (lambda: {**APP, "args": {"plain": pulumi.Output.from_input("x")}}, []),
    ],
    ids=["no-secret", "nested-env-var", "inside-a-list", "whole-app", "plain-output"],
)
def test_serve_application_sends_where_the_app_holds_secrets(
    make_app: Callable[[], Any], expected: list[list[str]]
) -> None:
    def program() -> None:
        rs.ServeApplication(
            "a", app=make_app(), dashboard=rs.Dashboard(url="http://127.0.0.1:8265")
        )

    [args] = registered(program)
    assert args.typ == APP_TYPE
    assert args.inputs["secret_paths"] == expected


def test_ray_cluster_sends_where_the_spec_holds_secrets() -> None:
    def secret_spec() -> dict[str, Any]:
        spec = sample_cluster_spec()
        container = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
        container["env"] = [{"name": "TOKEN", "value": pulumi.Output.secret(SECRET)}]
        spec["rayVersion"] = pulumi.Output.secret(spec["rayVersion"])
        return spec

    [args] = registered(lambda: rs.RayCluster("c", spec=secret_spec()))
    assert args.typ == CLUSTER_TYPE
    assert sorted(args.inputs["secret_paths"]) == [
        ["headGroupSpec", "template", "spec", "containers"],
        ["rayVersion"],
    ]


# the provider side, through the real host -------------------------------------------------------


@pytest.fixture(scope="module")
def host() -> Iterator[ProviderHost]:
    with ProviderHost() as started:
        yield started


def serve_inputs(app: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "app": app,
        "dashboard": {"url": "http://127.0.0.1:8265"},
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        **extra,
    }


def test_check_wraps_the_app_at_the_secret_paths(host: ProviderHost) -> None:
    app = {**APP, "runtime_env": {"env_vars": {"API_KEY": SECRET, "PLAIN": "visible"}}}
    outcome = host.check(urn_of(APP_TYPE, "a"), {}, serve_inputs(app, secret_paths=[ENV_PATH]))

    assert outcome.failures == []
    assert "app.runtime_env.env_vars.API_KEY" in secret_paths(outcome.inputs)
    assert SECRET not in plain_strings(outcome.inputs)
    assert "visible" in plain_strings(outcome.inputs)


@pytest.mark.parametrize(
    "bad",
    ["runtime_env", [["a", 1]], ["flat"], {"a": ["b"]}],
    ids=["str", "int-key", "flat", "dict"],
)
def test_check_refuses_malformed_secret_paths(host: ProviderHost, bad: Any) -> None:
    outcome = host.check(urn_of(APP_TYPE, "a"), {}, serve_inputs(APP, secret_paths=bad))
    assert ("secret_paths", "must be a list of key paths into app (lists of strings)") in (
        outcome.failures
    )


def test_a_change_of_secret_paths_alone_is_no_change(host: ProviderHost) -> None:
    olds = {**serve_inputs(APP, secret_paths=[]), "target": "http://127.0.0.1:8265"}
    diff = host.diff(urn_of(APP_TYPE, "a"), "x", olds, serve_inputs(APP, secret_paths=[ENV_PATH]))
    assert not diff.has_changes


@pytest.fixture(scope="module")
def kube_server() -> Iterator[FakeKubeServer]:
    with FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()) as fake:
        yield fake


def test_ray_cluster_outputs_stay_secret_where_the_spec_was(
    host: ProviderHost, kube_server: FakeKubeServer, tmp_path: Path
) -> None:
    kubeconfig = kube_server.write_kubeconfig(tmp_path / "kubeconfig")
    spec = sample_cluster_spec()
    container = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "TOKEN", "value": SECRET}]
    engine = Engine(host)
    urn = urn_of(CLUSTER_TYPE, "secret-spec")
    props = {
        "spec": spec,
        "namespace": "default",
        "resource_name": "secret-spec",
        "kube": {"path": str(kubeconfig)},
        "timeout_s": 60,
        "wait_for_dashboard": False,
        "secret_paths": [["headGroupSpec", "template", "spec", "containers"]],
        PROVIDER_KEY: provider_input(RayClusterProvider()),
    }
    try:
        engine.up(urn, props)
        state = engine.state[urn]
        assert SECRET not in plain_strings(state.inputs)
        assert SECRET not in plain_strings(state.outputs)
        hidden = secret_paths(state.outputs)
        assert "spec.headGroupSpec.template.spec.containers" in hidden
        assert "image" in hidden  # read from the head container: secret with it
        assert "ray_version" not in hidden
        assert state.outputs["ray_version"] == spec["rayVersion"]

        refreshed = engine.refresh(urn)
        assert refreshed is not None
        assert SECRET not in plain_strings(refreshed.outputs)
    finally:
        engine.destroy(urn)


# end to end on a real Ray head -------------------------------------------------------------------


@pytest.mark.ray
def test_nested_secret_in_app_never_reaches_plain_state(
    host: ProviderHost, ray_head: Any, app_uris: dict[str, str]
) -> None:
    base = fruit_app(app_uris["fruit_stand"], name="secret_app", route_prefix="/secret")

    def program(price: int) -> Callable[[], None]:
        def run() -> None:
            app = copy.deepcopy(base)
            app["runtime_env"]["env_vars"] = {
                "API_KEY": pulumi.Output.secret(SECRET),
                "PLAIN": "visible",
            }
            app["deployments"][0]["user_config"] = {"price": price}
            rs.ServeApplication(
                "secret", app=app, dashboard=rs.Dashboard(url=ray_head.dashboard_url)
            )

        return run

    engine = ProgramEngine(host)
    try:
        run = engine.up(program(3))
        assert run.failure is None, run.failure
        [state] = engine.state.values()
        assert answer(ray_head.serve_url, "/secret", ["MANGO", 2]) == "6"
        for where in (state.inputs, state.outputs):
            assert SECRET not in plain_strings(where)
            assert "visible" in plain_strings(where)  # only the secret part is hidden
        hidden = secret_paths(state.outputs)
        assert "app.runtime_env.env_vars.API_KEY" in hidden
        assert "deployed_app.runtime_env.env_vars.API_KEY" in hidden

        run = engine.up(program(4))
        assert run.failure is None, run.failure
        [state] = engine.state.values()
        assert answer(ray_head.serve_url, "/secret", ["MANGO", 2]) == "8"
        assert SECRET not in plain_strings(state.outputs)

        _, refreshed = host.read(state.urn, state.id, state.outputs, state.inputs)
        assert refreshed["deployed_app"] is not None
        assert SECRET not in plain_strings(refreshed)
        assert "deployed_app.runtime_env.env_vars.API_KEY" in secret_paths(refreshed)
    finally:
        engine.destroy()
