"""Check refuses every bad input with a failure naming the field, and never raises.

Tables of the concrete hostile inputs (wrong types, NaN and infinity, strings taken for flags,
proxy path tricks, unparsable URLs, secrets with a trailing newline, Kubernetes names the API
server refuses), run through both providers' ``check`` and ``diff`` and the public models. Each
row says which field must be named; rows with a secret also prove the secret is not quoted.
``tests/test_check_properties.py`` generates many more inputs of the same kinds.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from pulumi.output import Unknown
from pydantic import ValidationError as PydanticValidationError
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec

from pulumi_rayservice import Dashboard, ServeApp, Upgrade
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.dashboard import url_problem
from pulumi_rayservice.serve.provider import ServeApplicationProvider

SECRET = "tok-3f9a7c1e"
NAN, INF = math.nan, math.inf


def serve_inputs(**changes: Any) -> dict[str, Any]:
    """Valid ServeApplication inputs with ``changes`` applied (``None`` removes a key)."""
    base: dict[str, Any] = {
        "app": {"name": "fruit", "import_path": "fruit.app", "route_prefix": "/fruit"},
        "dashboard": {"url": "http://127.0.0.1:8265"},
        "timeout_s": 60,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def cluster_inputs(**changes: Any) -> dict[str, Any]:
    """Valid RayCluster inputs with ``changes`` applied."""
    base: dict[str, Any] = {
        "spec": sample_cluster_spec(),
        "namespace": "ray",
        "resource_name": "fruit",
        "timeout_s": 60,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def serve_failures(news: dict[str, Any]) -> list[tuple[str, str]]:
    result = ServeApplicationProvider().check({}, news)
    return [(f.property, f.reason) for f in result.failures or []]


def cluster_failures(news: dict[str, Any]) -> list[tuple[str, str]]:
    result = RayClusterProvider().check({}, news)
    return [(f.property, f.reason) for f in result.failures or []]


def test_the_valid_bases_pass() -> None:
    assert serve_failures(serve_inputs()) == []
    assert cluster_failures(cluster_inputs()) == []


def _fields(failures: list[tuple[str, str]]) -> set[str]:
    return {prop for prop, _ in failures}


# ---------------------------------------------------------------------------------------------
# ServeApplication

SERVE_CASES = [
    # durations: finite, bounded, numbers only
    ("timeout_s", {"timeout_s": NAN}),
    ("timeout_s", {"timeout_s": INF}),
    ("timeout_s", {"timeout_s": -INF}),
    ("timeout_s", {"timeout_s": True}),
    ("timeout_s", {"timeout_s": "600"}),
    ("timeout_s", {"timeout_s": -1}),
    ("timeout_s", {"timeout_s": 0}),
    ("timeout_s", {"timeout_s": 86401}),
    ("timeout_s", {"timeout_s": [60]}),
    ("drain_s", {"drain_s": NAN}),
    ("drain_s", {"drain_s": INF}),
    ("drain_s", {"drain_s": -1}),
    ("drain_s", {"drain_s": 3601}),
    ("drain_s", {"drain_s": False}),
    ("drain_s", {"drain_s": "5"}),
    # flags: booleans only ("false" and "no" used to be True)
    ("adopt", {"adopt": "false"}),
    ("adopt", {"adopt": "no"}),
    ("adopt", {"adopt": "0"}),
    ("adopt", {"adopt": 0}),
    ("rollback_on_failure", {"rollback_on_failure": "false"}),
    ("rollback_on_failure", {"rollback_on_failure": 1.0}),
    ("wait_for_removal", {"wait_for_removal": "no"}),
    ("wait_for_removal", {"wait_for_removal": []}),
    # plain strings
    ("owner", {"owner": 5}),
    ("cluster_revision", {"cluster_revision": {"a": 1}}),
    ("bogus", {"bogus": 1}),
    # dashboard URL: unparsable, bad port, wrong scheme, wrong type
    ("dashboard.url", {"dashboard": {"url": "http://[::1"}}),
    ("dashboard.url", {"dashboard": {"url": "http://127.0.0.1:abc"}}),
    ("dashboard.url", {"dashboard": {"url": "http://127.0.0.1:99999"}}),
    ("dashboard.url", {"dashboard": {"url": "http://127.0.0.1:0"}}),
    ("dashboard.url", {"dashboard": {"url": "ftp://127.0.0.1"}}),
    ("dashboard.url", {"dashboard": {"url": "http://127.0.0.1:8265/?x=1"}}),
    ("dashboard.url", {"dashboard": {"url": "http://127.0.0.1:8265\n"}}),
    ("dashboard.url", {"dashboard": {"url": 8265}}),
    ("dashboard", {"dashboard": "http://127.0.0.1:8265"}),
    ("dashboard", {"dashboard": [1]}),
    ("dashboard", {"dashboard": {}}),
    ("dashboard", {"dashboard": {"url": "http://h", "service": "h"}}),
    ("dashboard", {"dashboard": {"url": "http://h", "kube": {"context": "c"}}}),
    ("dashboard", {"dashboard": {"url": "http://h", "extra": 1}}),
    # dashboard through the API server proxy: every segment as Kubernetes validates it
    ("dashboard.namespace", {"dashboard": {"service": "h", "namespace": "ray/../kube-system"}}),
    ("dashboard.namespace", {"dashboard": {"service": "h", "namespace": "Ray"}}),
    ("dashboard.namespace", {"dashboard": {"service": "h", "namespace": "a" * 64}}),
    ("dashboard.namespace", {"dashboard": {"service": "h", "namespace": "-ray"}}),
    ("dashboard.namespace", {"dashboard": {"service": "h", "namespace": "ray\n"}}),
    ("dashboard.namespace", {"dashboard": {"service": "h", "namespace": ""}}),
    ("dashboard.namespace", {"dashboard": {"service": "h", "namespace": 7}}),
    ("dashboard.service", {"dashboard": {"service": "1svc"}}),
    ("dashboard.service", {"dashboard": {"service": "svc/../x"}}),
    ("dashboard.service", {"dashboard": {"service": "svc.x"}}),
    ("dashboard.service", {"dashboard": {"service": "s" * 64}}),
    ("dashboard.service", {"dashboard": {"service": "svc:8265"}}),
    ("dashboard.service", {"dashboard": {"service": ["svc"]}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": 0}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": 99999}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": "99999"}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": -1}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": 80.5}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": True}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": "dash--board"}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": "-dashboard"}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": "abcdefghijklmnop"}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": "Dashboard"}}),
    ("dashboard.port", {"dashboard": {"service": "h", "port": "dash/../x"}}),
    ("dashboard.kube", {"dashboard": {"service": "h", "kube": "str"}}),
    ("dashboard.kube", {"dashboard": {"service": "h", "kube": [1]}}),
    ("dashboard.kube", {"dashboard": {"service": "h", "kube": {"bogus": 1}}}),
    ("dashboard.kube.path", {"dashboard": {"service": "h", "kube": {"path": 1}}}),
    ("dashboard.kube.context", {"dashboard": {"service": "h", "kube": {"context": ""}}}),
    ("dashboard.kube.in_cluster", {"dashboard": {"service": "h", "kube": {"in_cluster": "yes"}}}),
    ("dashboard.kube", {"dashboard": {"service": "h", "kube": {"in_cluster": True, "path": "p"}}}),
    # app names (Serve splits replica ids on '#'), deployment names, JSON values, ports
    ("app.name", {"app": {"name": "a/b", "import_path": "m.app"}}),
    ("app.name", {"app": {"name": "a#b", "import_path": "m.app"}}),
    ("app.name", {"app": {"name": "a\x00b", "import_path": "m.app"}}),
    ("app.name", {"app": {"name": "a\nb", "import_path": "m.app"}}),
    ("app.name", {"app": {"name": " fruit", "import_path": "m.app"}}),
    ("app.name", {"app": {"name": "fruit ", "import_path": "m.app"}}),
    ("app.name", {"app": {"name": "", "import_path": "m.app"}}),
    ("app.name", {"app": {"name": "a" * 129, "import_path": "m.app"}}),
    ("app.name", {"app": {"name": "a" * 1_000_000, "import_path": "m.app"}}),
    ("app.name", {"app": {"name": 5, "import_path": "m.app"}}),
    ("app.name", {"app": {"name": None, "import_path": "m.app"}}),
    (
        "app.deployments[0].name",
        {"app": {"name": "a", "import_path": "m.app", "deployments": [{"name": "d#1"}]}},
    ),
    (
        "app.deployments[0].name",
        {"app": {"name": "a", "import_path": "m.app", "deployments": [{"name": "d" * 129}]}},
    ),
    (
        "app.deployments[0].user_config.x[1]",
        {
            "app": {
                "name": "a",
                "import_path": "m.app",
                "deployments": [{"name": "d", "user_config": {"x": [1, NAN]}}],
            }
        },
    ),
    (
        "app.deployments[0].user_config.y",
        {
            "app": {
                "name": "a",
                "import_path": "m.app",
                "deployments": [{"name": "d", "user_config": {"y": INF}}],
            }
        },
    ),
    ("app.args.z.w", {"app": {"name": "a", "import_path": "m.app", "args": {"z": {"w": -INF}}}}),
    (
        "app.runtime_env.config.n",
        {"app": {"name": "a", "import_path": "m.app", "runtime_env": {"config": {"n": NAN}}}},
    ),
    ("app", {"app": "fruit"}),
    ("app", {"app": [1]}),
    ("serve_options.http_options.port", {"serve_options": {"http_options": {"port": -5}}}),
    ("serve_options.http_options.port", {"serve_options": {"http_options": {"port": 0}}}),
    ("serve_options.http_options.port", {"serve_options": {"http_options": {"port": 65536}}}),
    ("serve_options.http_options.port", {"serve_options": {"http_options": {"port": "80"}}}),
    ("serve_options.http_options.host", {"serve_options": {"http_options": {"host": 5}}}),
    ("serve_options.grpc_options.port", {"serve_options": {"grpc_options": {"port": 70000}}}),
    ("serve_options", {"serve_options": "x"}),
]


@pytest.mark.parametrize(("field", "changes"), SERVE_CASES)
def test_serve_check_names_the_field(field: str, changes: dict[str, Any]) -> None:
    failures = serve_failures(serve_inputs(**changes))
    assert field in _fields(failures), failures
    assert all(reason for _, reason in failures)


TOKENS = [
    SECRET + "\n",
    " " + SECRET,
    SECRET + " x",
    SECRET + "\t",
    SECRET + "\x00",
    SECRET + "\r\n",
    SECRET + "\u2028",
    SECRET + "é",
]


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("where", ["token", "dashboard.token"])
def test_a_token_with_whitespace_is_refused_and_never_quoted(token: str, where: str) -> None:
    if where == "token":
        news = serve_inputs(token=token)
    else:
        news = serve_inputs(dashboard={"url": "http://127.0.0.1:8265", "token": token})
    failures = serve_failures(news)
    assert [prop for prop, _ in failures] == [where]
    text = repr(failures)
    assert SECRET not in text and SECRET[:6] not in text
    if token.strip() != token:
        assert "strip" in failures[0][1]


def test_a_token_of_another_type_is_refused() -> None:
    assert _fields(serve_failures(serve_inputs(token=5))) == {"token"}


def test_a_url_with_credentials_is_refused_without_quoting_them() -> None:
    for url in (
        f"http://user:{SECRET}@h:8265",
        f"ftp://user:{SECRET}@h",
        f"http://u:{SECRET}@[::1",
    ):
        failures = serve_failures(serve_inputs(dashboard={"url": url}))
        assert _fields(failures) == {"dashboard.url"}, url
        assert SECRET not in repr(failures)


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://h:abc", "http://h:99999", "http://h:0", "http://h:-1", "::"]
)
def test_url_problem_answers_instead_of_raising(url: str) -> None:
    assert url_problem(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8265", "https://ray.example.com", "http://[::1]:8265/prefix"]
)
def test_url_problem_accepts_dashboard_urls(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"timeout_s": 86400, "drain_s": 3600},
        {"timeout_s": 0.5, "drain_s": 0},
        {"adopt": True, "rollback_on_failure": False, "wait_for_removal": False},
        {"dashboard": {"service": "fruit-head-svc", "namespace": "ray", "port": "dashboard"}},
        {"dashboard": {"service": "h", "port": 8265.0}},
        {"dashboard": {"service": "h", "port": "8265"}},
        {"dashboard": {"service": "h", "port": "metrics-2"}},
        {"dashboard": {"service": "h", "kube": {"path": "~/.kube/config", "context": "kind"}}},
        {"dashboard": {"service": "h", "kube": {"in_cluster": True}}},
        {"token": SECRET},
        {"app": {"name": "Fruit stand 1", "import_path": "m.app"}},
        {"app": {"name": "a" * 128, "import_path": "m.app"}},
        {"serve_options": {"http_options": {"port": 65535, "host": "0.0.0.0"}}},
    ],
)
def test_serve_check_accepts_the_edges(changes: dict[str, Any]) -> None:
    assert serve_failures(serve_inputs(**changes)) == []


def test_serve_check_leaves_unknown_values_for_later() -> None:
    unknown = Unknown()
    news = serve_inputs(
        timeout_s=unknown,
        adopt=unknown,
        token=unknown,
        dashboard={"service": unknown, "namespace": "ray", "kube": unknown},
        app={"name": "fruit", "import_path": unknown},
    )
    assert serve_failures(news) == []
    bad = serve_inputs(app={"name": "a/b", "import_path": unknown}, dashboard=unknown)
    assert _fields(serve_failures(bad)) == {"app.name"}


SERVE_DIFF_CASES = [
    ({"app": "x"}, serve_inputs()),
    ({"app": {"name": "fruit"}, "dashboard": {"service": "h", "kube": "str"}}, serve_inputs()),
    (serve_inputs(), serve_inputs(dashboard={"service": "h", "kube": "str"})),
    (serve_inputs(dashboard={"service": "h", "kube": "str"}), serve_inputs()),
    (serve_inputs(dashboard={"service": "h", "kube": [1]}), serve_inputs()),
    (serve_inputs(dashboard={"service": 5, "port": []}), serve_inputs()),
    (serve_inputs(dashboard="http://h"), serve_inputs(dashboard=[1])),
    (serve_inputs(target=5), serve_inputs(app=[1])),
    ({}, {}),
    (serve_inputs(app={"name": "fruit", "route_prefix": 5}), serve_inputs(app="x")),
]


@pytest.mark.parametrize(("olds", "news"), SERVE_DIFF_CASES)
def test_serve_diff_never_raises_on_malformed_inputs(
    olds: dict[str, Any], news: dict[str, Any]
) -> None:
    result = ServeApplicationProvider().diff("id", olds, news)
    assert result.changes is not None


def test_serve_diff_replaces_when_the_target_cannot_be_read() -> None:
    olds = {**serve_inputs(), "target": "http://127.0.0.1:8265"}
    result = ServeApplicationProvider().diff(
        "id", olds, serve_inputs(dashboard={"service": "h", "kube": "str"})
    )
    assert result.changes and "dashboard" in (result.replaces or [])


# ---------------------------------------------------------------------------------------------
# RayCluster

CLUSTER_CASES = [
    ("namespace", {"namespace": "ray/../kube-system"}),
    ("namespace", {"namespace": "Ray"}),
    ("namespace", {"namespace": 5}),
    ("namespace", {"namespace": "ray\n"}),
    ("name", {"name": 5}),
    ("name", {"name": "Bad_Name"}),
    ("name", {"name": "a" * 54}),
    ("name", {"name": "fruit\n"}),
    ("name", {"name": ["fruit"]}),
    ("resource_name", {"resource_name": 5}),
    ("owner", {"owner": ["x"]}),
    ("labels", {"labels": "x"}),
    ("labels", {"labels": ["a"]}),
    ("labels.team", {"labels": {"team": 5}}),
    ('labels["bad key!"]', {"labels": {"bad key!": "v"}}),
    ("labels.k", {"labels": {"k": "v" * 64}}),
    ('labels["a/b/c"]', {"labels": {"a/b/c": "v"}}),
    ('labels["/x"]', {"labels": {"/x": "v"}}),
    ('labels["Example.com/x"]', {"labels": {"Example.com/x": "v"}}),
    ("labels.k", {"labels": {"k": "bad value!"}}),
    ("labels.k", {"labels": {"k": "v\n"}}),
    ("annotations", {"annotations": ["a"]}),
    ("annotations", {"annotations": "x"}),
    ("annotations.k", {"annotations": {"k": 5}}),
    ('annotations["bad key!"]', {"annotations": {"bad key!": "v"}}),
    ("annotations", {"annotations": {"k": "x" * 300_000}}),
    ("kube", {"kube": "str"}),
    ("kube", {"kube": {"bogus": "x"}}),
    ("kube.in_cluster", {"kube": {"in_cluster": "true"}}),
    ("redis_password", {"redis_password": 5}),
    ("timeout_s", {"timeout_s": NAN}),
    ("timeout_s", {"timeout_s": INF}),
    ("timeout_s", {"timeout_s": True}),
    ("timeout_s", {"timeout_s": 86401}),
    ("timeout_s", {"timeout_s": "900"}),
    ("keep_on_failure", {"keep_on_failure": "false"}),
    ("keep_on_failure", {"keep_on_failure": 1}),
    ("wait_for_dashboard", {"wait_for_dashboard": "no"}),
    ("auto_named", {"auto_named": "0"}),
    ("spec", {"spec": "x"}),
    ("spec", {"spec": [1]}),
    ("spec", {"spec": None}),
    ("bogus", {"bogus": 1}),
]


@pytest.mark.parametrize(("field", "changes"), CLUSTER_CASES)
def test_cluster_check_names_the_field(field: str, changes: dict[str, Any]) -> None:
    failures = cluster_failures(cluster_inputs(**changes))
    assert field in _fields(failures), failures


@pytest.mark.parametrize("password", [SECRET + "\n", " " + SECRET, SECRET + " x", SECRET + "\x00"])
def test_a_redis_password_with_whitespace_is_refused_and_never_quoted(password: str) -> None:
    failures = cluster_failures(cluster_inputs(redis_password=password))
    assert _fields(failures) == {"redis_password"}
    assert SECRET not in repr(failures) and SECRET[:6] not in repr(failures)


@pytest.mark.parametrize(
    "changes",
    [
        {"labels": {"team": "", "example.com/Team_1": "A.b-c"}},
        {"annotations": {"Example.com/Note": "any text\nat all"}},
        {"kube": {"content": "apiVersion: v1\nkind: Config\n"}},
        {"timeout_s": 86400, "keep_on_failure": True, "wait_for_dashboard": False},
        {"name": "a" * 53},
    ],
)
def test_cluster_check_accepts_the_edges(changes: dict[str, Any]) -> None:
    assert cluster_failures(cluster_inputs(**changes)) == []


CLUSTER_DIFF_CASES = [
    ({"spec": "x"}, cluster_inputs()),
    (cluster_inputs(kube="str"), cluster_inputs(kube="str")),
    (cluster_inputs(labels="x"), cluster_inputs(labels=["x"])),
    (cluster_inputs(annotations=["a"]), cluster_inputs(annotations={"k": 5})),
    (cluster_inputs(auto_named="false"), cluster_inputs(spec=[1])),
    (cluster_inputs(spec={"workerGroupSpecs": "x"}), cluster_inputs()),
    (cluster_inputs(), cluster_inputs(spec={"headGroupSpec": [1], "workerGroupSpecs": [5]})),
    ({}, {}),
]


@pytest.mark.parametrize(("olds", "news"), CLUSTER_DIFF_CASES)
def test_cluster_diff_never_raises_on_malformed_inputs(
    olds: dict[str, Any], news: dict[str, Any]
) -> None:
    result = RayClusterProvider().diff("id", olds, news)
    assert result.changes is not None


# ---------------------------------------------------------------------------------------------
# Public models


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "http://[::1"},
        {"url": "http://h:abc"},
        {"url": "http://h:99999"},
        {"service": "h", "namespace": "ray/../kube-system"},
        {"service": "Head", "namespace": "ray"},
        {"service": "h", "port": "99999"},
        {"service": "h", "port": 0},
        {"service": "h", "port": "dash--board"},
        {"url": "http://h", "token": SECRET + "\n"},
        {"service": "h", "token": " " + SECRET},
    ],
)
def test_dashboard_model_refuses_bad_targets_without_echoing_them(kwargs: dict[str, Any]) -> None:
    with pytest.raises(PydanticValidationError) as error:
        Dashboard(**kwargs)
    assert SECRET not in str(error.value) and SECRET not in repr(error.value)


def test_dashboard_kube_proxy_takes_a_port_number() -> None:
    assert Dashboard.kube_proxy("fruit-head-svc", namespace="ray", port=8265).port == "8265"
    with pytest.raises(PydanticValidationError):
        Dashboard.kube_proxy("fruit-head-svc", port=65536)


@pytest.mark.parametrize("drain_s", [NAN, INF, -INF, True, -1, 3601, "60"])
def test_upgrade_drain_s_is_finite_and_bounded(drain_s: Any) -> None:
    with pytest.raises(PydanticValidationError):
        Upgrade(drain_s=drain_s)


@pytest.mark.parametrize("drain_s", [0, 0.5, 60, 3600])
def test_upgrade_drain_s_accepts_the_range(drain_s: float) -> None:
    assert Upgrade(drain_s=drain_s).drain_s == drain_s


@pytest.mark.parametrize("name", ["a/b", "a#b", "a\x00b", " a", "a" * 129])
def test_serve_app_model_refuses_bad_names(name: str) -> None:
    with pytest.raises(PydanticValidationError):
        ServeApp(name=name, import_path="m.app")
