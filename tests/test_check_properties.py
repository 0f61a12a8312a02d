"""Property-based tests of both providers' Check (and Diff): generated inputs, fixed seed.

What is proven, over inputs hypothesis generates (JSON-like values of every kind at every input
key, the engine's shapes: floats for ints, None, nested lists and mappings, unknown values):
- ``check`` and ``diff`` of both providers never raise; every failure names a known input;
  no failure quotes a secret;
- a Serve application that Check accepts is also accepted by Ray's own schema
  (``ServeApplicationSchema``, and ``ServeDeploySchema`` holding it) and is standard JSON;
- a RayCluster that Check accepts is admitted by the CRD schema and the metadata rules of the fake
  API server (``testbed/rayservice_testbed/fake_kube``), which mirror the real server's;
- an accepted dashboard target's namespace, Service and port satisfy Kubernetes' own rules
  (checked by the fake server's independent implementation), and flags and durations are
  accepted only as booleans and finite numbers within their bounds.

Each property runs a bounded, derandomized number of examples, so CI sees the same inputs on
every run and the file finishes in well under a minute.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.output import Unknown
from pulumi.runtime import rpc
from rayservice_testbed.fake_kube import RAYCLUSTERS
from rayservice_testbed.fake_kube.admission import raycluster_schema
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.fake_kube.meta import validate_object_meta
from rayservice_testbed.fake_kube.validation import dns1035_label_errors, dns1123_label_errors

from pulumi_rayservice.cluster.inputs import INPUT_KEYS as CLUSTER_KEYS
from pulumi_rayservice.cluster.inputs import ClusterInputs
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.serve.dashboard import check_dashboard
from pulumi_rayservice.serve.inputs import INPUT_KEYS as SERVE_KEYS
from pulumi_rayservice.serve.models import check_app
from pulumi_rayservice.serve.provider import ServeApplicationProvider

EXAMPLES = 200
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECRET = "S3CRET-9c2f"
"""Every generated secret starts with this; no failure may hold it (or its first 6 chars)."""

# ---------------------------------------------------------------------------------------------
# Values of every kind the engine (or a careless program) can send

HOSTILE_TEXT = st.sampled_from(
    [
        "", " ", "\n", "false", "no", "0", "1", "true", "NaN", "Infinity", "a/b", "a#b",
        "ray/../kube-system", "http://[::1", "http://h:abc", "http://h:99999", "http://h:0",
        "dashboard", "Dashboard", "8265", "99999", "x" * 300, "\x00", "é", "-", "a--b",
        rpc.UNKNOWN,
    ]
)  # fmt: skip
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, -1, 0.5, 2.0, 65535, 65536, 86400, 86401, 3600, 3601])
)
UNKNOWNS = st.builds(Unknown)
LEAVES = st.none() | st.booleans() | NUMBERS | HOSTILE_TEXT | st.text(max_size=12) | UNKNOWNS
KEY_TEXT = st.text(max_size=8) | st.sampled_from(["name", "url", "kube", "port", "spec", "path"])
JSON_LIKE = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(KEY_TEXT, children, max_size=3)
    ),
    max_leaves=8,
)
SECRETS = st.builds(lambda tail: SECRET + tail, st.text(max_size=6))


def _inputs(keys: tuple[str, ...], near: Mapping[str, st.SearchStrategy[Any]]) -> Any:
    """Inputs with any subset of ``keys`` (and an unknown one), each near-valid or anything."""
    optional = {key: near.get(key, st.nothing()) | JSON_LIKE for key in keys}
    optional["bogus_key"] = JSON_LIKE
    return st.fixed_dictionaries({}, optional=optional)


def _root(prop: str) -> str:
    return re.split(r"[.\[]", prop, maxsplit=1)[0]


def _assert_sane(failures: list[tuple[str, str]], keys: tuple[str, ...]) -> None:
    for prop, reason in failures:
        assert _root(prop) in (*keys, "bogus_key"), prop
        assert isinstance(reason, str) and reason
        assert SECRET[:6] not in prop + reason


def _failures(result: Any) -> list[tuple[str, str]]:
    return [(f.property, f.reason) for f in result.failures or []]


def _plain(value: Any) -> Any:
    """Check's inputs with Pulumi secret wrappers taken off (as the engine stores them)."""
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _holds_unknown(value: Any) -> bool:
    """A value not known until apply, anywhere inside: Check passes it, nobody can admit it yet."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(_holds_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_unknown(v) for v in value)
    return False


# ---------------------------------------------------------------------------------------------
# Serve applications from Serve's schema space: valid-leaning choices first, broken ones mixed in

NAMES = (
    st.sampled_from(["fruit", "app_1", "Fruit Stand", "a" * 128])
    | st.from_regex(r"[A-Za-z0-9_ -]{1,20}", fullmatch=True)
    | st.sampled_from(["", "a/b", "a#b", " x", "x ", "\x00", "a" * 129, "tab\there", "é"])
    | st.text(max_size=12)
)
IMPORT_PATHS = st.sampled_from(["fruit.app", "fruit:app", "pkg.mod:build"]) | st.sampled_from(
    ["fruit", ":app", "a.", ".a", "a:b:c", ""]
)
ROUTES = st.sampled_from(["/", "/fruit", "/a/b"]) | st.sampled_from(
    ["fruit", "/fruit/", "/{x}", "", "/ü"]
)
COUNTS = st.integers(min_value=1, max_value=8) | st.sampled_from(
    [0, -1, 2.0, 1.5, "2", True, None, math.nan]
)
FLOATS = st.floats(min_value=0, max_value=100) | st.sampled_from(
    [-1.0, math.nan, math.inf, "0.5", True, 0]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.nan, math.inf, -math.inf])
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
JSON_DICTS = st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3)
RUNTIME_ENVS = st.fixed_dictionaries(
    {},
    optional={
        "working_dir": st.sampled_from(
            ["https://x.test/app.zip", "s3://b/app.zip", "local:///app", "./app", "app.zip"]
        ),
        "env_vars": st.dictionaries(
            st.from_regex(r"[A-Z_]{1,6}", fullmatch=True), st.text(max_size=4) | st.integers()
        ),
        "pip": st.lists(st.sampled_from(["requests", "numpy==2.0"]), max_size=2),
        "config": JSON_DICTS,
    },
)
AUTOSCALING = st.fixed_dictionaries(
    {},
    optional={
        "min_replicas": COUNTS,
        "max_replicas": COUNTS,
        "initial_replicas": COUNTS,
        "target_ongoing_requests": FLOATS,
        "upscale_delay_s": FLOATS,
    },
)
DEPLOYMENTS = st.fixed_dictionaries(
    {"name": NAMES},
    optional={
        "num_replicas": COUNTS | st.just("auto"),
        "max_ongoing_requests": COUNTS,
        "max_queued_requests": COUNTS,
        "user_config": JSON_DICTS,
        "autoscaling_config": AUTOSCALING,
        "ray_actor_options": st.fixed_dictionaries(
            {},
            optional={
                "num_cpus": FLOATS,
                "num_gpus": FLOATS,
                "memory": FLOATS,
                "resources": st.dictionaries(st.sampled_from(["TPU", "custom"]), FLOATS),
                "runtime_env": RUNTIME_ENVS,
            },
        ),
        "health_check_period_s": FLOATS,
        "graceful_shutdown_timeout_s": FLOATS,
        "num_replica": COUNTS,  # a typo Serve would silently drop
    },
)
APPS = st.fixed_dictionaries(
    {"name": NAMES, "import_path": IMPORT_PATHS},
    optional={
        "route_prefix": ROUTES,
        "deployments": st.lists(DEPLOYMENTS, max_size=3),
        "args": JSON_DICTS,
        "runtime_env": RUNTIME_ENVS,
        "external_scaler_enabled": st.booleans() | st.just("false"),
        "logging_config": st.fixed_dictionaries(
            {}, optional={"log_level": st.sampled_from(["INFO", "DEBUG", "LOUD", 5])}
        ),
    },
)

# Dashboard targets, with segments drawn from near Kubernetes' alphabets
SEGMENT = st.text(alphabet="abz09-._/A \n%", max_size=66) | st.sampled_from(
    ["ray", "fruit-head-svc", "ray/../kube-system", "a" * 63, "a" * 64, "9lives", "x-"]
)
PORTS = (
    st.integers(min_value=-5, max_value=70000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet="adhsb09-_A", max_size=17)
    | st.sampled_from(["dashboard", "8265", "99999", "0", "dash--board", "-d", "d-", True])
)
KUBES = st.fixed_dictionaries(
    {},
    optional={
        "path": st.sampled_from(["~/.kube/config", "", "a\nb"]) | JSON_LIKE,
        "content": SECRETS | JSON_LIKE,
        "context": st.sampled_from(["kind", ""]) | JSON_LIKE,
        "in_cluster": st.booleans() | JSON_LIKE,
        "token": JSON_LIKE,
    },
)
DASHBOARDS = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from(["http://127.0.0.1:8265", "https://ray.test"]) | HOSTILE_TEXT,
        "service": SEGMENT,
        "namespace": SEGMENT,
        "port": PORTS,
        "kube": KUBES | JSON_LIKE,
        "token": SECRETS,
    },
)

SERVE_NEAR: dict[str, st.SearchStrategy[Any]] = {
    "app": APPS,
    "dashboard": DASHBOARDS,
    "token": SECRETS,
    "timeout_s": NUMBERS,
    "drain_s": NUMBERS,
    "adopt": st.booleans(),
    "rollback_on_failure": st.booleans(),
    "wait_for_removal": st.booleans(),
    "serve_options": st.fixed_dictionaries(
        {},
        optional={
            "http_options": st.fixed_dictionaries(
                {}, optional={"port": PORTS, "host": JSON_LIKE, "request_timeout_s": FLOATS}
            ),
            "grpc_options": st.fixed_dictionaries({}, optional={"port": PORTS}),
            "proxy_location": st.sampled_from(["EveryNode", "HeadOnly", "Nowhere"]),
        },
    ),
}
SERVE_INPUTS = _inputs(SERVE_KEYS, SERVE_NEAR)


# ---------------------------------------------------------------------------------------------
# RayCluster specs: KubeRay's sample, with fields replaced by near-valid or broken values

BASE_SPEC = sample_cluster_spec()
LABEL_KEYS = st.sampled_from(
    ["team", "example.com/team", "a/b/c", "/x", "Example.com/x", "bad key", "k" * 64, ""]
) | st.text(alphabet="abZ09-._/", min_size=1, max_size=12)
LABEL_VALUES = st.sampled_from(["", "v", "A.b-c_1", "v" * 64, "bad value", "v\n"]) | st.text(
    alphabet="abZ09-._", max_size=10
)
SPEC_EDITS: list[tuple[tuple[str | int, ...], st.SearchStrategy[Any]]] = [
    (("rayVersion",), st.sampled_from(["2.52.0", "2.9.0", "", "latest"]) | JSON_LIKE),
    (("enableInTreeAutoscaling",), st.booleans() | st.just("true")),
    (("suspend",), st.booleans() | st.just("no")),
    (("workerGroupSpecs", 0, "replicas"), COUNTS | st.integers(-3, 12)),
    (("workerGroupSpecs", 0, "minReplicas"), COUNTS | st.integers(-3, 12)),
    (("workerGroupSpecs", 0, "maxReplicas"), COUNTS | st.integers(-3, 12)),
    (("workerGroupSpecs", 0, "groupName"), NAMES | SEGMENT),
    (("workerGroupSpecs", 0, "rayStartParams"), st.dictionaries(KEY_TEXT, JSON_LIKE, max_size=2)),
    (("headGroupSpec", "rayStartParams"), st.dictionaries(KEY_TEXT, LABEL_VALUES, max_size=2)),
    (
        ("headGroupSpec", "template", "spec", "containers", 0, "image"),
        st.sampled_from(["rayproject/ray:2.52.0", ""]) | JSON_LIKE,
    ),
    (
        ("headGroupSpec", "template", "spec", "containers", 0, "resources", "limits", "cpu"),
        st.sampled_from(["1", "500m", "abc", "-1", 1, 1.5]),
    ),
    (
        ("headGroupSpec", "template", "metadata", "labels"),
        st.dictionaries(LABEL_KEYS, LABEL_VALUES | JSON_LIKE, max_size=2),
    ),
    (("bogusField",), JSON_LIKE),
    (("workerGroupSpecs",), st.just([]) | JSON_LIKE),
]


def _edited(spec: dict[str, Any], edits: list[tuple[tuple[str | int, ...], Any]]) -> Any:
    out = json.loads(json.dumps(spec))
    for path, value in edits:
        target: Any = out
        for part in path[:-1]:
            try:
                target = target[part]
            except (KeyError, IndexError, TypeError):
                target = None
                break
        if isinstance(target, dict | list) and not (
            isinstance(target, list) and not isinstance(path[-1], int)
        ):
            with contextlib.suppress(IndexError):
                target[path[-1]] = value
    return out


SPECS = st.builds(
    _edited,
    st.just(BASE_SPEC),
    st.lists(st.sampled_from(range(len(SPEC_EDITS))), max_size=3)
    .flatmap(
        lambda picks: st.tuples(
            *(st.tuples(st.just(SPEC_EDITS[i][0]), SPEC_EDITS[i][1]) for i in picks)
        )
    )
    .map(list),
)
CLUSTER_NEAR: dict[str, st.SearchStrategy[Any]] = {
    "spec": SPECS,
    "namespace": SEGMENT,
    "name": st.sampled_from(["fruit", "fruit-1", "a" * 53, "a" * 54]) | SEGMENT,
    "resource_name": st.sampled_from(["fruit", "Fruit_Stand"]),
    "kube": KUBES,
    "timeout_s": NUMBERS,
    "keep_on_failure": st.booleans(),
    "wait_for_dashboard": st.booleans(),
    "auto_named": st.booleans(),
    "labels": st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=3),
    "annotations": st.dictionaries(LABEL_KEYS, st.text(max_size=20), max_size=3),
    "redis_password": SECRETS,
    "owner": st.sampled_from(["shop/dev"]),
}
CLUSTER_INPUTS = _inputs(CLUSTER_KEYS, CLUSTER_NEAR)


# ---------------------------------------------------------------------------------------------
# Never raises; failures name known inputs and no secret


@BOUNDED
@given(SERVE_INPUTS, SERVE_INPUTS)
def test_serve_check_and_diff_never_raise(olds: dict[str, Any], news: dict[str, Any]) -> None:
    provider = ServeApplicationProvider()
    result = provider.check(olds, dict(news))
    _assert_sane(_failures(result), SERVE_KEYS)
    provider.diff("id", olds, news)
    provider.diff("id", _plain(result.inputs), olds)


@BOUNDED
@given(CLUSTER_INPUTS, CLUSTER_INPUTS)
def test_cluster_check_and_diff_never_raise(olds: dict[str, Any], news: dict[str, Any]) -> None:
    provider = RayClusterProvider()
    result = provider.check(olds, dict(news))
    _assert_sane(_failures(result), CLUSTER_KEYS)
    provider.diff("id", olds, news)
    provider.diff("id", _plain(result.inputs), olds)


VALID_SERVE_NEWS = [
    {"app": {"name": "fruit", "import_path": "m.app"}, "dashboard": {"url": "http://h:8265"}},
    {
        "app": {"name": "fruit", "import_path": "m.app", "route_prefix": "/f"},
        "dashboard": {"service": "h", "namespace": "ray", "kube": {"context": "kind"}},
        "timeout_s": 60,
    },
]
VALID_CLUSTER_NEWS = [
    {"spec": BASE_SPEC, "name": "fruit", "namespace": "ray"},
    {"spec": BASE_SPEC, "resource_name": "fruit", "kube": {"path": "/k"}, "labels": {"a": "b"}},
]
SERVE_OLDS = st.tuples(
    _inputs(SERVE_KEYS, SERVE_NEAR),
    st.fixed_dictionaries({}, optional={"target": JSON_LIKE, "app_name": JSON_LIKE}),
).map(lambda parts: {**parts[0], **parts[1]})
CLUSTER_OLDS = st.tuples(
    _inputs(CLUSTER_KEYS, CLUSTER_NEAR),
    st.fixed_dictionaries({}, optional={"uid": JSON_LIKE, "revision": JSON_LIKE}),
).map(lambda parts: {**parts[0], **parts[1]})


@BOUNDED
@given(SERVE_OLDS, st.sampled_from(VALID_SERVE_NEWS))
def test_serve_diff_against_any_previous_state_never_raises(
    olds: dict[str, Any], news: dict[str, Any]
) -> None:
    provider = ServeApplicationProvider()
    checked = provider.check({}, json.loads(json.dumps(news)))
    assert _failures(checked) == []
    result = provider.diff("id", olds, _plain(checked.inputs))
    if not isinstance(olds.get("dashboard"), Mapping) and not isinstance(olds.get("target"), str):
        assert "dashboard" in (result.replaces or [])


@BOUNDED
@given(CLUSTER_OLDS, st.sampled_from(VALID_CLUSTER_NEWS))
def test_cluster_diff_against_any_previous_state_never_raises(
    olds: dict[str, Any], news: dict[str, Any]
) -> None:
    provider = RayClusterProvider()
    checked = provider.check(olds, json.loads(json.dumps(news)))
    assert _failures(checked) == []
    result = provider.diff("id", olds, _plain(checked.inputs))
    if not isinstance(olds.get("spec"), Mapping):
        assert "spec" in (result.replaces or [])


def _accepted_counter(
    strategy: st.SearchStrategy[Any], body: Callable[[Any], bool], minimum: int
) -> None:
    """Run ``body`` over ``strategy``; it returns whether the example was accepted by Check.

    A property of the form "whatever Check accepts, X accepts" proves nothing if Check accepts
    nothing: at least ``minimum`` examples must have been accepted (and some refused).
    """
    seen: Counter[bool] = Counter()

    @BOUNDED
    @given(strategy)
    def run(example: Any) -> None:
        seen[body(example)] += 1

    run()
    assert seen[True] >= minimum, seen
    assert seen[False] >= minimum, seen


# ---------------------------------------------------------------------------------------------
# Accepted Serve apps are accepted by Ray's own schema


def test_accepted_apps_are_accepted_by_rays_schema() -> None:
    schema = pytest.importorskip("ray.serve.schema")

    def body(app: dict[str, Any]) -> bool:
        normalized, failures = check_app(app, "app")
        _assert_sane(failures, ("app",))
        if failures:
            assert normalized is None
            return False
        assert normalized is not None
        json.dumps(normalized, allow_nan=False)  # standard JSON, no NaN/Infinity
        schema.ServeApplicationSchema.model_validate(normalized)
        schema.ServeDeploySchema.model_validate({"applications": [normalized]})
        name = normalized["name"]
        assert 0 < len(name) <= 128 and name == name.strip() and name.isprintable()
        assert "/" not in name and "#" not in name
        return True

    _accepted_counter(APPS, body, minimum=20)


def _standard_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


@BOUNDED
@given(JSON_DICTS, st.sampled_from(["user_config", "args", "runtime_env"]))
def test_json_fields_are_accepted_exactly_when_they_are_standard_json(
    value: dict[str, Any], field: str
) -> None:
    app: dict[str, Any] = {"name": "a", "import_path": "m.app"}
    if field == "user_config":
        app["deployments"] = [{"name": "d", "user_config": value}]
    else:
        app[field] = {"config": value} if field == "runtime_env" else value
    normalized, failures = check_app(app, "app")
    assert (normalized is not None) == _standard_json(value), failures
    for prop, reason in failures:
        assert prop.startswith(("app.deployments[0].user_config", "app.args", "app.runtime_env"))
        assert "NaN and Infinity" in reason


# ---------------------------------------------------------------------------------------------
# Accepted cluster specs are admitted by the CRD schema and the metadata rules


def test_accepted_clusters_are_admitted_by_the_api_server() -> None:
    schema = raycluster_schema()
    provider = RayClusterProvider()

    def body(news: dict[str, Any]) -> bool:
        news = {k: v for k, v in news.items() if k not in ("bogus_key", "kube")}
        result = provider.check({}, news)
        failures = _failures(result)
        _assert_sane(failures, CLUSTER_KEYS)
        if failures:
            return False
        inputs = _plain(result.inputs)
        if _holds_unknown(inputs):
            return False
        obj = ClusterInputs.parse(inputs).manifest()
        assert schema.prune(obj) == []
        schema.default(obj)
        assert schema.validate(obj) == []
        assert schema.list_type_errors(obj) == []
        assert validate_object_meta(RAYCLUSTERS, obj["metadata"]) == []
        return True

    _accepted_counter(
        st.fixed_dictionaries(
            {"spec": SPECS},
            optional={
                k: CLUSTER_NEAR[k]
                for k in ("namespace", "name", "labels", "annotations", "redis_password")
            },
        ),
        body,
        minimum=20,
    )


# ---------------------------------------------------------------------------------------------
# Dashboard targets, flags and durations


def _port_ok(value: Any) -> bool:
    """Kubernetes' IsValidPortNum / IsValidPortName, written out independently."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        value = int(value)
    if isinstance(value, int):
        return 1 <= value <= 65535
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 15
        and re.fullmatch(r"[-a-z0-9]+", value) is not None
        and re.search(r"[a-z]", value) is not None
        and not value.startswith("-")
        and not value.endswith("-")
        and "--" not in value
    )


def test_accepted_dashboard_targets_satisfy_kubernetes() -> None:
    def body(target: dict[str, Any]) -> bool:
        failures = check_dashboard(target, "dashboard")
        _assert_sane(failures, ("dashboard",))
        named = {prop for prop, _ in failures}
        accepted = False
        for key, rule in (("namespace", dns1123_label_errors), ("service", dns1035_label_errors)):
            value = target.get(key)
            if value is not None and f"dashboard.{key}" not in named:
                assert isinstance(value, str) and rule(value) == [], (key, value)
                assert not {"/", "%", "?", "#"} & set(value) and ".." not in value
                accepted = True
        if target.get("port") is not None and "dashboard.port" not in named:
            assert _port_ok(target["port"]), target["port"]
            accepted = True
        return accepted

    _accepted_counter(DASHBOARDS, body, minimum=20)


FLAGS = {
    ServeApplicationProvider: ("adopt", "rollback_on_failure", "wait_for_removal"),
    RayClusterProvider: ("keep_on_failure", "wait_for_dashboard", "auto_named"),
}
DURATIONS = {
    ServeApplicationProvider: {"timeout_s": (86400, False), "drain_s": (3600, True)},
    RayClusterProvider: {"timeout_s": (86400, False)},
}


@pytest.mark.parametrize("provider_type", [ServeApplicationProvider, RayClusterProvider])
def test_flags_and_durations_are_accepted_only_as_booleans_and_bounded_numbers(
    provider_type: type[Any],
) -> None:
    keys = (*FLAGS[provider_type], *DURATIONS[provider_type])

    @BOUNDED
    @given(st.fixed_dictionaries({}, optional={k: JSON_LIKE | NUMBERS for k in keys}))
    def run(values: dict[str, Any]) -> None:
        result = provider_type().check({}, dict(values))
        named = {_root(f.property) for f in result.failures or []}
        for key in FLAGS[provider_type]:
            value = values.get(key)
            refused = not (value is None or isinstance(value, bool | Unknown))
            assert (key in named) == refused, (key, value)
        for key, (maximum, zero_ok) in DURATIONS[provider_type].items():
            value = values.get(key)
            if key in named or value is None or isinstance(value, Unknown):
                continue
            assert isinstance(value, int | float) and not isinstance(value, bool)
            assert math.isfinite(value) and value <= maximum
            assert value > 0 or (zero_ok and value == 0)

    run()
