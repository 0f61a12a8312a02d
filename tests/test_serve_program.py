"""A Pulumi program with ``rs.ServeApplication``, run against ``pulumi.runtime.set_mocks``.

No Ray, no engine: the mock monitor receives the registration exactly as the engine would (type
token, inputs serialized to protobuf and back, secrets marked), which shows what a user's program
sends: the right type token, the app in Serve's schema, and credentials only ever as secrets.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dill
import pulumi
import pydantic
import pytest
import yaml
from pulumi.runtime import rpc
from rayservice_testbed.harness.pulumi_mocks import mocked_runtime

import pulumi_rayservice as rs

REPO = Path(__file__).resolve().parents[1]
FRUIT_YAML = REPO / "examples" / "fruit_stand" / "serve_config.yaml"
TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
TOKEN = "t0ken-abc"
KUBE_TOKEN = "kube-secret-token"
KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": KUBE_TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
)


def fruit_app_from_yaml() -> dict[str, Any]:
    data = yaml.safe_load(FRUIT_YAML.read_text(encoding="utf-8"))
    [app] = [a for a in data["applications"] if a["name"] == "fruit_app"]
    assert isinstance(app, dict)
    return app


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registration; answers with the inputs plus what a successful create returns."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        state = {
            **args.inputs,
            "status": "RUNNING",
            "deployments": {"MangoStand": "HEALTHY", "FruitMarket": "HEALTHY"},
        }
        return f"{args.name}_id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


@pytest.fixture
def mocks() -> Iterator[RecordingMocks]:
    recording = RecordingMocks()
    with mocked_runtime(recording):
        yield recording


def run_program(
    mocks: RecordingMocks,
    program: Callable[[], rs.ServeApplication],
    check: Callable[[rs.ServeApplication], pulumi.Output[Any]] | None = None,
) -> pulumi.runtime.MockResourceArgs:
    """Run ``program`` to completion under the mocks; return what the monitor received."""

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any]:
        resource = program()
        done = pulumi.Output.all(resource.urn, resource.id)
        return done if check is None else pulumi.Output.all(done, check(resource))

    run()
    [registered] = mocks.created
    return registered


def plain_strings(value: Any) -> list[str]:
    """Every string in ``value`` that is NOT inside a secret (what state would show in clear)."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *plain_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in plain_strings(v)]
    return [value] if isinstance(value, str) else []


def all_strings(value: Any) -> list[str]:
    """Every string in ``value``, secrets unwrapped."""
    if rpc.is_rpc_secret(value):
        return all_strings(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *all_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return [value] if isinstance(value, str) else []


def unwrap(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def fruit(opts: pulumi.ResourceOptions | None = None) -> rs.ServeApplication:
    return rs.ServeApplication(
        "fruit",
        app=rs.ServeApp.from_yaml(FRUIT_YAML, name="fruit_app"),
        dashboard=rs.Dashboard(url="http://127.0.0.1:8265", token=TOKEN),
        opts=opts,
    )


# what the engine receives -----------------------------------------------------------------------


def test_type_token_names_the_resource(mocks: RecordingMocks) -> None:
    registered = run_program(mocks, fruit)

    assert registered.typ == TYPE
    assert registered.name == "fruit"
    assert registered.custom is True


def test_inputs_hold_the_yaml_app_dashboard_url_and_default_timeout(mocks: RecordingMocks) -> None:
    inputs = run_program(mocks, fruit).inputs

    # Over the wire every number is a double (3 arrives as 3.0); equality still holds.
    assert inputs["app"] == fruit_app_from_yaml()
    assert unwrap(inputs["dashboard"])["url"] == "http://127.0.0.1:8265"
    assert inputs["timeout_s"] == 600
    assert inputs["adopt"] is False
    assert inputs["rollback_on_failure"] is True


def test_app_is_sent_in_serves_own_schema_with_ints_as_ints(mocks: RecordingMocks) -> None:
    """Before serialization (a transformation sees the props): snake_case keys, ints stay ints."""
    seen: list[dict[str, Any]] = []

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen.append(dict(args.props))

    run_program(mocks, lambda: fruit(pulumi.ResourceOptions(transformations=[record])))

    [props] = seen
    app = props["app"]
    assert app == fruit_app_from_yaml()
    mango = app["deployments"][0]
    assert mango["name"] == "MangoStand"
    assert type(mango["num_replicas"]) is int
    assert type(mango["user_config"]["price"]) is int
    assert mango["ray_actor_options"] == {"num_cpus": 0.1}
    assert "route_prefix" in app
    assert "routePrefix" not in app


def test_token_reaches_the_engine_only_as_a_secret(mocks: RecordingMocks) -> None:
    inputs = run_program(mocks, fruit).inputs

    assert TOKEN in all_strings(inputs["token"])
    assert not any(TOKEN in s for s in plain_strings(inputs))
    assert rpc.is_rpc_secret(inputs["token"])
    # The target itself stays readable in previews: only the token is secret.
    assert not rpc.is_rpc_secret(inputs["dashboard"])
    assert inputs["dashboard"] == {"url": "http://127.0.0.1:8265"}


def test_provider_input_is_present_and_unpickles_to_the_provider(mocks: RecordingMocks) -> None:
    inputs = run_program(mocks, fruit).inputs

    assert "__provider" in inputs
    blob = unwrap(inputs["__provider"])
    provider = dill.loads(base64.b64decode(blob))
    assert type(provider) is rs.ServeApplicationProvider
    assert TOKEN not in base64.b64decode(blob).decode("latin-1")


def test_outputs_resolve_from_the_registered_state(mocks: RecordingMocks) -> None:
    results: dict[str, Any] = {}

    def check(app: rs.ServeApplication) -> pulumi.Output[Any]:
        return pulumi.Output.all(app.status, app.deployments).apply(
            lambda values: results.update(status=values[0], deployments=values[1])
        )

    run_program(mocks, fruit, check)

    assert results == {
        "status": "RUNNING",
        "deployments": {"MangoStand": "HEALTHY", "FruitMarket": "HEALTHY"},
    }


def test_plain_dict_app_is_accepted(mocks: RecordingMocks) -> None:
    app = {
        "name": "plain_app",
        "route_prefix": "/plain",
        "import_path": "plain:app",
        "deployments": [{"name": "Plain", "num_replicas": 2}],
    }

    inputs = run_program(
        mocks,
        lambda: rs.ServeApplication(
            "plain", app=app, dashboard=rs.Dashboard(url="http://127.0.0.1:8265")
        ),
    ).inputs

    assert inputs["app"] == app
    # No token: nothing about this dashboard is secret.
    assert inputs["dashboard"] == {"url": "http://127.0.0.1:8265"}


def test_kube_proxy_with_kubeconfig_content_keeps_the_content_secret(
    mocks: RecordingMocks,
) -> None:
    dashboard = rs.Dashboard.kube_proxy(
        "x-head-svc", namespace="ray", kube=rs.Kube(kubeconfig=KUBECONFIG)
    )

    inputs = run_program(
        mocks, lambda: rs.ServeApplication("fruit", app=fruit_app_from_yaml(), dashboard=dashboard)
    ).inputs

    received = unwrap(inputs["dashboard"])
    assert received["service"] == "x-head-svc"
    assert received["namespace"] == "ray"
    assert all_strings(received["kube"]).count(KUBECONFIG) == 1
    plain = plain_strings(inputs)
    assert not any(KUBE_TOKEN in s or "clusters:" in s for s in plain)


def test_kube_proxy_with_kubeconfig_path_stays_plain(mocks: RecordingMocks) -> None:
    path = "/home/me/.kube/config"
    dashboard = rs.Dashboard.kube_proxy(
        "x-head-svc", namespace="ray", kube=rs.Kube(kubeconfig=path)
    )

    inputs = run_program(
        mocks, lambda: rs.ServeApplication("fruit", app=fruit_app_from_yaml(), dashboard=dashboard)
    ).inputs

    assert not rpc.is_rpc_secret(inputs["dashboard"])
    assert inputs["dashboard"] == {
        "service": "x-head-svc",
        "namespace": "ray",
        "port": "dashboard",
        "kube": {"path": path},
    }


# what is refused before any resource exists -----------------------------------------------------


def test_dashboard_url_without_scheme_is_a_validation_error() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        rs.Dashboard(url="127.0.0.1:8265")

    assert "http://" in str(caught.value)
    assert caught.value.errors()[0]["loc"] == ("url",)


def test_dashboard_url_and_service_together_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        rs.Dashboard(url="http://127.0.0.1:8265", service="x-head-svc")

    assert "url=" in str(caught.value)
    assert "service=" in str(caught.value)


def test_a_token_given_beside_a_cluster_dashboard_is_a_secret(mocks: RecordingMocks) -> None:
    target = {"service": "c-head-svc", "namespace": "ray", "port": "dashboard"}

    def program() -> rs.ServeApplication:
        return rs.ServeApplication(
            "fruit", app=fruit_app_from_yaml(), dashboard=target, token=TOKEN
        )

    inputs = run_program(mocks, program).inputs
    assert rpc.is_rpc_secret(inputs["token"]) and TOKEN in all_strings(inputs["token"])
    assert inputs["dashboard"] == target
