"""What ``pulumi preview`` sees of a ServeApplication: Check and Diff through the real host.

No Ray and no network: Check and Diff must decide everything from the inputs alone, including
inputs that are not known yet (a dashboard of a cluster that will be created in the same up).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    UNKNOWN,
    Engine,
    ProviderHost,
    ResourceState,
    provider_input,
    secret_paths,
    urn_of,
)

from pulumi_rayservice.serve.provider import ServeApplicationProvider

TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
URN = urn_of(TYPE, "fruit")
# Nothing listens here: any request the provider sent would fail the test with a connection error.
DASHBOARD = {"url": "http://127.0.0.1:9"}

APP: dict[str, Any] = {
    "name": "fruit_app",
    "route_prefix": "/fruit",
    "import_path": "fruit:deployment_graph",
    "runtime_env": {"working_dir": "https://example.com/fruit.zip"},
    "deployments": [
        {"name": "MangoStand", "num_replicas": 1, "user_config": {"price": 3}},
        {"name": "FruitMarket", "num_replicas": 1},
    ],
}


def inputs(app: Any = APP, dashboard: Any = DASHBOARD, **extra: Any) -> dict[str, Any]:
    return {
        "app": app,
        "dashboard": dashboard,
        "timeout_s": 600,
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        **extra,
    }


def outputs(app: dict[str, Any] = APP, dashboard: dict[str, Any] = DASHBOARD) -> dict[str, Any]:
    """What the state holds after a create of ``app``."""
    return {
        **inputs(app, dashboard),
        "adopt": False,
        "rollback_on_failure": True,
        "status": "RUNNING",
        "app_name": app["name"],
        "deployed_app": app,
    }


@pytest.fixture
def engine(provider_host: ProviderHost) -> Engine:
    engine = Engine(provider_host)
    engine.state[URN] = ResourceState(URN, "fruit_app@http://127.0.0.1:9", inputs(), outputs())
    return engine


def changed(path: str, value: Any) -> dict[str, Any]:
    app = copy.deepcopy(APP)
    node: Any = app
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    node[keys[-1]] = value
    return app


@pytest.mark.parametrize(
    ("app", "op", "replaces"),
    [
        (APP, "same", []),
        # The engine sends 3 as 3.0 and drops None values: still the same app.
        (changed("deployments.0.user_config", {"price": 3.0}), "same", []),
        (changed("deployments.0.user_config", {"price": 4}), "update", []),
        (changed("deployments.0.num_replicas", 2), "update", []),
        (changed("import_path", "fruit:other_graph"), "update", []),
        (changed("route_prefix", "/market"), "update", []),
        (changed("name", "fruit_app_v2"), "replace", ["app"]),
        (changed("deployments.0.user_config", {"price": UNKNOWN}), "update", []),
        (changed("name", UNKNOWN), "replace", ["app"]),
    ],
    ids=[
        "identical",
        "float-from-engine",
        "user_config",
        "replicas",
        "import_path",
        "route_prefix",
        "renamed",
        "unknown-price",
        "unknown-name",
    ],
)
def test_diff_decides_update_vs_replace(
    engine: Engine, app: dict[str, Any], op: str, replaces: list[str]
) -> None:
    step = engine.preview(URN, inputs(app))
    assert step.op == op
    assert step.diff is not None and sorted(step.diff.replaces) == replaces


def test_diff_ignores_the_pickled_provider(engine: Engine) -> None:
    props = inputs()
    props[PROVIDER_KEY] = props[PROVIDER_KEY] + "="  # a different pickle of the same provider
    diff = engine.host.diff(URN, "x", outputs(), props)
    assert not diff.has_changes


def test_another_dashboard_is_a_replacement_beside_the_old_one(engine: Engine) -> None:
    step = engine.preview(URN, inputs(dashboard={"url": "http://127.0.0.1:10"}))
    assert step.op == "replace" and step.diff is not None
    assert step.diff.replaces == ["dashboard"] and not step.diff.delete_before_replace


def test_the_same_service_behind_another_api_server_url_is_deleted_first(engine: Engine) -> None:
    """Maybe the same cluster reached anew (an ingress in front of the KubeRay API server): the
    new app created first would meet itself and its old twin's delete would remove it."""
    head = {"service": "c-head-svc", "namespace": "ray", "port": "dashboard", "cluster": "c"}
    old = {**head, "api_server": {"url": "http://127.0.0.1:31888"}}
    new = {**head, "api_server": {"url": "https://kuberay.example.com"}}
    diff = engine.host.diff(URN, "x", outputs(dashboard=old), inputs(dashboard=new))
    assert diff.replaces == ["dashboard"] and diff.delete_before_replace
    elsewhere = {**new, "service": "d-head-svc", "cluster": "d"}
    diff = engine.host.diff(URN, "x", outputs(dashboard=old), inputs(dashboard=elsewhere))
    assert diff.replaces == ["dashboard"] and not diff.delete_before_replace


def test_unknown_dashboard_is_a_replacement(engine: Engine) -> None:
    step = engine.preview(URN, inputs(dashboard=UNKNOWN))
    assert step.op == "replace" and step.diff is not None and "dashboard" in step.diff.replaces


def test_renamed_app_on_same_cluster_and_route_deletes_first(engine: Engine) -> None:
    step = engine.preview(URN, inputs(changed("name", "fruit_app_v2")))
    assert step.diff is not None and step.diff.delete_before_replace
    moved = changed("name", "fruit_app_v2")
    moved["route_prefix"] = "/fruit2"
    step = engine.preview(URN, inputs(moved))
    assert step.diff is not None and not step.diff.delete_before_replace


def test_token_change_is_an_update_and_token_is_secret_in_check(engine: Engine) -> None:
    step = engine.preview(URN, inputs(token="s3cret-token"))
    assert step.op == "update" and step.diff is not None and not step.diff.replaces
    checked = engine.host.check(URN, {}, inputs(token="s3cret-token"))
    assert secret_paths(checked.inputs) == ["token"]
    # A token inside the dashboard dict (older programs, hand-built dicts) is kept secret too.
    nested = engine.host.check(URN, {}, inputs(dashboard={**DASHBOARD, "token": "s3cret-token"}))
    assert secret_paths(nested.inputs) == ["dashboard.token"]


def test_check_with_unknowns_passes_and_keeps_them(provider_host: ProviderHost) -> None:
    app = changed("deployments.0.user_config", UNKNOWN)
    outcome = provider_host.check(URN, {}, inputs(app, dashboard=UNKNOWN))
    assert outcome.failures == []


@pytest.mark.parametrize(
    ("props", "field", "fragment"),
    [
        (
            inputs(changed("deployments.0.num_replicas", "three")),
            "app.deployments[0].num_replicas",
            "three",
        ),
        (inputs(changed("route_prefix", "fruit")), "app.route_prefix", "/"),
        (inputs(changed("route_prefix", "/fruit/")), "app.route_prefix", "/"),
        (inputs(changed("import_path", "fruit")), "app.import_path", "fruit"),
        (inputs(changed("deployments.0.num_replica", 2)), "app.deployments[0].num_replica", ""),
        (
            inputs(changed("runtime_env", {"working_dir": "./app"})),
            "app.runtime_env.working_dir",
            "URI",
        ),
        (inputs(dashboard={"url": "127.0.0.1:8265"}), "dashboard.url", "http://"),
        (inputs(dashboard={"url": "http://user:pw@127.0.0.1:8265"}), "dashboard.url", "token="),
        (inputs(dashboard={}), "dashboard", "url="),
        (inputs(timeout_s=0), "timeout_s", "> 0"),
        (inputs(drain_s=-1), "drain_s", ">= 0"),
        (
            inputs(serve_options={"http_options": {"prot": 9000}}),
            "serve_options.http_options.prot",
            "port",
        ),
        (inputs(surprise=1), "surprise", "unknown input"),
        (inputs(app=None), "app", "required"),
    ],
    ids=[
        "replicas-text",
        "prefix-no-slash",
        "prefix-trailing-slash",
        "import-path",
        "typo",
        "local-working-dir",
        "url-no-scheme",
        "url-credentials",
        "no-target",
        "timeout",
        "drain",
        "serve-options-typo",
        "unknown-input",
        "no-app",
    ],
)
def test_bad_inputs_fail_at_check_naming_the_field(
    provider_host: ProviderHost, props: dict[str, Any], field: str, fragment: str
) -> None:
    outcome = provider_host.check(URN, {}, props)
    fields = {prop: reason for prop, reason in outcome.failures}
    assert field in fields, outcome.failures
    assert fragment in fields[field]


PROXY = {"service": "fruit-abcde-head-svc", "namespace": "ray", "port": "dashboard"}
PROXY_PATH = "/api/v1/namespaces/ray/services/fruit-abcde-head-svc:8265"


def kubeconfig(servers: dict[str, str], current: str) -> str:
    """A kubeconfig with one context per server (context name -> API server URL)."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": f"c-{n}", "cluster": {"server": u}} for n, u in servers.items()],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [
                {"name": n, "context": {"cluster": f"c-{n}", "user": "u"}} for n in servers
            ],
            "current-context": current,
        }
    )


CLUSTER_A = "https://10.0.0.1:6443"
CLUSTER_B = "https://10.9.9.9:6443"


@pytest.mark.parametrize(
    ("old_kube", "new_kube", "op"),
    [
        ({"path": "home"}, {"path": "ci"}, "update"),
        ({"path": "home"}, {"content": "home"}, "update"),
        ({"path": "home", "context": "prod"}, {"path": "home"}, "update"),
        ({"path": "home", "context": "prod"}, {"path": "home", "context": "staging"}, "replace"),
        ({"path": "home", "context": "prod"}, {"path": "moved", "context": "prod"}, "replace"),
    ],
    ids=[
        "another-path-same-server",
        "path-to-content-same-server",
        "explicit-vs-current-context",
        "context-of-another-server",
        "same-context-name-now-another-server",
    ],
)
def test_the_cluster_reached_is_identity_not_how_it_is_reached(
    provider_host: ProviderHost,
    tmp_path: Path,
    old_kube: dict[str, str],
    new_kube: dict[str, str],
    op: str,
) -> None:
    files = {
        # prod is the current context of both the laptop's and CI's kubeconfig.
        "home": kubeconfig({"prod": CLUSTER_A, "staging": CLUSTER_B}, current="prod"),
        "ci": kubeconfig({"ci-prod": CLUSTER_A}, current="ci-prod"),
        # Same context name, now another API server: another cluster.
        "moved": kubeconfig({"prod": CLUSTER_B}, current="prod"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")

    def resolve(kube: dict[str, str]) -> dict[str, str]:
        out = dict(kube)
        if "path" in out:
            out["path"] = str(tmp_path / out["path"])
        if "content" in out:
            out["content"] = files[out["content"]]
        return out

    engine = Engine(provider_host)
    old_dashboard = {**PROXY, "kube": resolve(old_kube)}
    engine.state[URN] = ResourceState(
        URN,
        "fruit_app@k8s",
        inputs(dashboard=old_dashboard),
        {**outputs(dashboard=old_dashboard), "target": CLUSTER_A + PROXY_PATH},
    )
    step = engine.preview(URN, inputs(dashboard={**PROXY, "kube": resolve(new_kube)}))
    assert step.op == op
    if op == "replace":
        assert step.diff is not None and step.diff.replaces == ["dashboard"]


@pytest.mark.parametrize(
    ("stored", "new_port", "op"),
    [
        (CLUSTER_A + PROXY_PATH, "8265", "update"),
        (
            "https://10.0.0.1:6443/api/v1/namespaces/ray/services/fruit-abcde-head-svc:8443",
            "dashboard",
            "replace",
        ),
        # Written by an earlier version: the context name was the identity.
        ("k8s:prod/ray/services/fruit-abcde-head-svc:dashboard", "dashboard", "same"),
        ("k8s:staging/ray/services/fruit-abcde-head-svc:dashboard", "dashboard", "replace"),
    ],
    ids=["named-vs-numbered-port", "another-port", "legacy-same", "legacy-other-context"],
)
def test_stored_targets_are_compared_as_one_identity(
    provider_host: ProviderHost, tmp_path: Path, stored: str, new_port: str, op: str
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig({"prod": CLUSTER_A}, current="prod"), encoding="utf-8")
    kube = {"path": str(path), "context": "prod"}
    engine = Engine(provider_host)
    old_dashboard = {**PROXY, "kube": kube}
    engine.state[URN] = ResourceState(
        URN,
        "fruit_app@k8s",
        inputs(dashboard=old_dashboard),
        {**outputs(dashboard=old_dashboard), "target": stored},
    )
    step = engine.preview(URN, inputs(dashboard={**PROXY, "port": new_port, "kube": kube}))
    assert step.op == op


@pytest.mark.parametrize(
    ("old_url", "new_url", "op"),
    [
        ("http://localhost:8265", "http://127.0.0.1:8265", "update"),
        ("http://LOCALHOST:8265/", "http://[::1]:8265", "update"),
        ("http://127.0.0.1:8265", "http://127.0.0.1:8266", "replace"),
        ("http://ray.example.com", "http://RAY.example.com:80", "update"),
        ("https://ray.example.com", "http://ray.example.com", "replace"),
    ],
)
def test_one_dashboard_url_under_many_spellings_is_one_cluster(
    provider_host: ProviderHost, old_url: str, new_url: str, op: str
) -> None:
    engine = Engine(provider_host)
    old = {"url": old_url}
    engine.state[URN] = ResourceState(
        URN, "fruit_app@x", inputs(dashboard=old), {**outputs(dashboard=old), "target": old_url}
    )
    app = changed("deployments.0.user_config.price", 4)
    step = engine.preview(URN, inputs(app=app, dashboard={"url": new_url}))
    assert step.op == op
