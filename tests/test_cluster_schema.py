"""RayCluster spec validation: KubeRay's CRD schema plus the operator's own rules."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rayservice_testbed.paths import KUBERAY_SAMPLES

from pulumi_rayservice.cluster.crd_schema import (
    apply_defaults,
    crd_schema,
    spec_schema,
    validate_cluster_spec,
)
from pulumi_rayservice.cluster.operator_rules import MAX_CLUSTER_NAME_LENGTH, validate_cluster_name
from pulumi_rayservice.cluster.violations import SpecViolation

SAMPLES = KUBERAY_SAMPLES
ROOT = Path(__file__).parent.parent


def _sample_specs() -> list[Any]:
    cases = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "RayCluster":
                cases.append(pytest.param(doc["spec"], id=f"{path.name}:spec"))
            elif doc.get("kind") == "RayService":
                cases.append(pytest.param(doc["spec"]["rayClusterConfig"], id=f"{path.name}:rcc"))
    return cases


SAMPLE_SPECS = _sample_specs()


def test_every_sample_file_contributes_a_spec() -> None:
    files = {p.name for p in SAMPLES.glob("*.yaml")}
    assert len(files) == 9
    assert len(SAMPLE_SPECS) == len(files)


@pytest.mark.parametrize("spec", SAMPLE_SPECS)
def test_kuberay_samples_validate_clean(spec: dict[str, Any]) -> None:
    assert validate_cluster_spec(spec) == []


# A small valid spec, the base the bad cases below mutate.
BASE: dict[str, Any] = {
    "rayVersion": "2.52.0",
    "headGroupSpec": {
        "rayStartParams": {},
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "ray-head",
                        "image": "rayproject/ray:2.52.0",
                        "resources": {
                            "limits": {"cpu": "2", "memory": "4Gi"},
                            "requests": {"cpu": "2", "memory": "4Gi"},
                        },
                    }
                ]
            }
        },
    },
    "workerGroupSpecs": [
        {
            "groupName": "small-wg",
            "replicas": 1,
            "minReplicas": 0,
            "maxReplicas": 5,
            "rayStartParams": {},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "ray-worker",
                            "image": "rayproject/ray:2.52.0",
                            "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                        }
                    ]
                }
            },
        }
    ],
}

HEAD = ("headGroupSpec", "template", "spec", "containers", 0)
WG0 = ("workerGroupSpecs", 0)
HEAD_PATH = "spec.headGroupSpec.template.spec.containers[0]"


def _set(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, key, value = path_and_value

    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        for part in path:
            node = node[part]
        node[key] = value

    return mutate


def _pop(*path: Any) -> Callable[[dict[str, Any]], None]:
    *parents, key = path

    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        for part in parents:
            node = node[part]
        node.pop(key)

    return mutate


def _rename(old: str, new: str, *parents: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        for part in parents:
            node = node[part]
        node[new] = node.pop(old)

    return mutate


def _dup_group(spec: dict[str, Any]) -> None:
    spec["workerGroupSpecs"].append(copy.deepcopy(spec["workerGroupSpecs"][0]))


def _all(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        for m in mutations:
            m(spec)

    return mutate


def _head_env(*env: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return _set(*HEAD, "env", list(env))


BAD = [
    pytest.param(
        _set(*WG0, "replicas", "three"),
        "spec.workerGroupSpecs[0].replicas",
        "'three' is not of type 'integer'",
        id="replicas-string",
    ),
    pytest.param(
        _set(*HEAD, "resources", "limits", "cpu", 1.5),
        f"{HEAD_PATH}.resources.limits.cpu",
        "1.5 is not of type 'integer' or 'string'",
        id="cpu-limit-float",
    ),
    pytest.param(
        _set(*HEAD, "resources", "requests", "memory", "4 GiB"),
        f"{HEAD_PATH}.resources.requests.memory",
        "not a Kubernetes quantity",
        id="memory-not-quantity",
    ),
    pytest.param(
        _rename("workerGroupSpecs", "workerGroupSpec"),
        "spec.workerGroupSpec",
        "unknown field 'workerGroupSpec' (did you mean 'workerGroupSpecs'?)",
        id="typo-workerGroupSpec",
    ),
    pytest.param(
        _rename("rayStartParams", "rayStartParam", *WG0),
        "spec.workerGroupSpecs[0].rayStartParam",
        "unknown field 'rayStartParam' (did you mean 'rayStartParams'?)",
        id="typo-rayStartParam",
    ),
    pytest.param(
        _set(*HEAD, "resource", {}),
        f"{HEAD_PATH}.resource",
        "unknown field 'resource'",
        id="typo-in-container",
    ),
    pytest.param(
        _set("headGroupSpec", "template", "spec", "containers", []),
        "spec.headGroupSpec.template.spec.containers",
        "headGroupSpec should have at least one container",
        id="head-containers-empty",
    ),
    pytest.param(
        _pop("headGroupSpec", "template", "spec", "containers"),
        "spec.headGroupSpec.template.spec.containers",
        "required field 'containers' is missing",
        id="head-containers-missing",
    ),
    pytest.param(
        _pop("headGroupSpec"),
        "spec.headGroupSpec",
        "required field 'headGroupSpec' is missing",
        id="head-missing",
    ),
    pytest.param(
        _set(*WG0, "template", "spec", "containers", []),
        "spec.workerGroupSpecs[0].template.spec.containers",
        "worker group 'small-wg' should have at least one container",
        id="worker-containers-empty",
    ),
    pytest.param(
        _all(_set(*WG0, "minReplicas", 5), _set(*WG0, "maxReplicas", 2)),
        "spec.workerGroupSpecs[0].minReplicas",
        "minReplicas 5 greater than maxReplicas 2",
        id="min-gt-max",
    ),
    pytest.param(
        _set(*WG0, "replicas", 9),
        "spec.workerGroupSpecs[0].replicas",
        "replicas 9 is outside minReplicas..maxReplicas [0, 5]",
        id="replicas-above-max",
    ),
    pytest.param(
        _set(*WG0, "minReplicas", -1),
        "spec.workerGroupSpecs[0].minReplicas",
        "minReplicas must be >= 0, got -1",
        id="min-negative",
    ),
    pytest.param(
        _set(*WG0, "replicas", 2**31),
        "spec.workerGroupSpecs[0].replicas",
        "2147483648 is out of range for int32",
        id="replicas-int32-overflow",
    ),
    pytest.param(
        _dup_group,
        "spec.workerGroupSpecs[1].groupName",
        "duplicate groupName 'small-wg'",
        id="duplicate-group-names",
    ),
    pytest.param(
        _pop(*WG0, "groupName"),
        "spec.workerGroupSpecs[0].groupName",
        "required field 'groupName' is missing",
        id="group-name-missing",
    ),
    pytest.param(
        _set("authOptions", {"mode": "tokens"}),
        "spec.authOptions.mode",
        "'tokens' is not one of ['disabled', 'token']",
        id="auth-mode-enum",
    ),
    pytest.param(
        _all(_set("authOptions", {"mode": "token"}), _set("rayVersion", "2.46.0")),
        "spec.rayVersion",
        "needs Ray 2.52.0 or later, got '2.46.0'",
        id="auth-token-old-ray",
    ),
    pytest.param(
        _set("authOptions", {"enableK8sTokenAuth": True}),
        "spec.authOptions.enableK8sTokenAuth",
        "mode is not 'token'",
        id="k8s-auth-without-token",
    ),
    pytest.param(
        _all(
            _set("headGroupSpec", "rayStartParams", {"num-cpus": "0"}),
            _set("headGroupSpec", "resources", {"CPU": "1"}),
        ),
        "spec.headGroupSpec.resources",
        "both here and in rayStartParams (num-cpus)",
        id="resources-twice",
    ),
    pytest.param(
        _set(*WG0, "rayStartParams", {"labels": "a=b"}),
        "spec.workerGroupSpecs[0].rayStartParams.labels",
        "rayStartParams['labels'] is not supported",
        id="ray-start-labels",
    ),
    pytest.param(
        _set(*WG0, "labels", {"-bad": "x"}),
        "spec.workerGroupSpecs[0].labels[-bad]",
        "invalid label key '-bad'",
        id="group-label-key",
    ),
    pytest.param(
        _set(*WG0, "idleTimeoutSeconds", 60),
        "spec.workerGroupSpecs[0].idleTimeoutSeconds",
        "autoscaler v2 is not enabled",
        id="idle-timeout-without-v2",
    ),
    pytest.param(
        _head_env({"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}),
        f"{HEAD_PATH}.env",
        "implicitly enables GCS fault tolerance",
        id="redis-env-without-ft",
    ),
    pytest.param(
        _all(
            _set("gcsFaultToleranceOptions", {"redisAddress": "redis:6379"}),
            _head_env({"name": "REDIS_PASSWORD", "value": "x"}),
        ),
        f"{HEAD_PATH}.env",
        "cannot set REDIS_PASSWORD",
        id="redis-password-env-with-ft",
    ),
    pytest.param(
        _all(
            _set("gcsFaultToleranceOptions", {"redisAddress": "r:1"}),
            _set("headGroupSpec", "rayStartParams", {"redis-password": "x"}),
        ),
        "spec.headGroupSpec.rayStartParams[redis-password]",
        "use gcsFaultToleranceOptions.redisPassword",
        id="redis-password-param-with-ft",
    ),
    pytest.param(
        _head_env({"name": "RAY_enable_autoscaler_v2", "value": "true"}),
        f"{HEAD_PATH}.env",
        "cannot be set to 'true' when enableInTreeAutoscaling is false",
        id="autoscaler-v2-env-without-autoscaling",
    ),
    pytest.param(
        _all(
            _set("enableInTreeAutoscaling", True),
            _set("autoscalerOptions", {"version": "v2"}),
            _set(*WG0, "template", "spec", "restartPolicy", "Always"),
        ),
        "spec.workerGroupSpecs[0].template.spec.restartPolicy",
        "must be 'Never' or unset with autoscaler v2",
        id="autoscaler-v2-restart-policy",
    ),
    pytest.param(
        _all(_set("enableInTreeAutoscaling", True), _set(*WG0, "suspend", True)),
        "spec.workerGroupSpecs[0].suspend",
        "cannot be suspended with the autoscaler enabled",
        id="suspend-with-autoscaler",
    ),
    pytest.param(
        _set("managedBy", "me"),
        "spec.managedBy",
        "managedBy 'me' is not allowed",
        id="managed-by-cel",
    ),
    pytest.param(
        _set("enableInTreeAutoscaling", "yes"),
        "spec.enableInTreeAutoscaling",
        "'yes' is not of type 'boolean'",
        id="bool-as-string",
    ),
]


@pytest.mark.parametrize(("mutate", "path", "message"), BAD)
def test_bad_specs_name_the_field(
    mutate: Callable[[dict[str, Any]], None], path: str, message: str
) -> None:
    spec = copy.deepcopy(BASE)
    mutate(spec)
    violations = validate_cluster_spec(spec)
    assert any(v.path == path and message in v.message for v in violations), violations
    # One mistake, one message: the operator rules do not repeat what the schema refused.
    assert len([v for v in violations if v.path == path]) == 1, violations


GOOD = [
    pytest.param(lambda s: None, id="base"),
    pytest.param(_set(*WG0, "replicas", 1.0), id="engine-float-replicas"),
    pytest.param(
        _all(_set(*WG0, "minReplicas", 0.0), _set(*WG0, "maxReplicas", 5.0)), id="engine-floats"
    ),
    pytest.param(_set(*HEAD, "resources", "limits", "cpu", 2), id="cpu-int"),
    pytest.param(_set(*HEAD, "resources", "limits", "cpu", 2.0), id="cpu-integral-float"),
    pytest.param(_set(*HEAD, "resources", "limits", "nvidia.com/gpu", 1), id="gpu-int"),
    pytest.param(_set(*HEAD, "ports", [{"containerPort": 8000.0}]), id="port-float-from-engine"),
    pytest.param(_pop(*WG0, "replicas"), id="replicas-defaulted"),
    pytest.param(
        _all(_pop(*WG0, "minReplicas"), _pop(*WG0, "maxReplicas")), id="min-max-defaulted"
    ),
    pytest.param(
        _all(_set("enableInTreeAutoscaling", True), _set(*WG0, "replicas", 9)),
        id="autoscaler-owns-replicas",
    ),
    pytest.param(_set(*HEAD, "env", [{"name": "A", "value": None}]), id="none-dropped"),
    pytest.param(
        _all(_set("authOptions", {"mode": "token"}), _set("rayVersion", "2.53")),
        id="auth-two-part-version",
    ),
    pytest.param(
        _set("headGroupSpec", "template", "metadata", {"labels": {"app": "x"}}),
        id="template-metadata",
    ),
]


@pytest.mark.parametrize("mutate", GOOD)
def test_good_specs(mutate: Callable[[dict[str, Any]], None]) -> None:
    spec = copy.deepcopy(BASE)
    mutate(spec)
    assert validate_cluster_spec(spec) == []


def test_validation_does_not_change_the_input() -> None:
    spec = copy.deepcopy(BASE)
    spec["workerGroupSpecs"][0]["replicas"] = 1.0
    del spec["workerGroupSpecs"][0]["minReplicas"]
    before = copy.deepcopy(spec)
    validate_cluster_spec(spec)
    assert spec == before
    assert isinstance(spec["workerGroupSpecs"][0]["replicas"], float)


def test_annotation_rules() -> None:
    spec = copy.deepcopy(BASE)
    spec["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    violations = validate_cluster_spec(
        spec,
        annotations={
            "ray.io/ft-enabled": "true",
            "ray.io/external-storage-namespace": "ns",
        },
    )
    messages = " | ".join(v.message for v in violations)
    assert "ray.io/ft-enabled annotation and gcsFaultToleranceOptions are both set" in messages
    assert "ray.io/external-storage-namespace" in messages
    assert validate_cluster_spec(spec) == []


@pytest.mark.parametrize("spec", [[], "spec", None, 3])
def test_non_object_spec(spec: Any) -> None:
    assert [v.path for v in validate_cluster_spec(spec)] == ["spec"]


def test_several_mistakes_are_all_reported() -> None:
    spec = copy.deepcopy(BASE)
    spec["workerGroupSpecs"][0]["replicas"] = "three"
    spec["headGroupSpec"]["rayStartParam"] = {}
    spec["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = 1.5
    paths = {v.path for v in validate_cluster_spec(spec)}
    assert paths == {
        "spec.workerGroupSpecs[0].replicas",
        "spec.headGroupSpec.rayStartParam",
        f"{HEAD_PATH}.resources.limits.cpu",
    }


NAMES_OK = ["a", "fruit", "fruit-abc12", "a" * MAX_CLUSTER_NAME_LENGTH, "x1-y2"]
NAMES_BAD = [
    pytest.param("a" * 60, "60 characters; KubeRay allows at most 53", id="60-chars"),
    pytest.param("a" * 54, "54 characters", id="54-chars"),
    pytest.param("Fruit", "not a DNS-1035 label", id="upper-case"),
    pytest.param("1fruit", "not a DNS-1035 label", id="starts-with-digit"),
    pytest.param("fruit-", "not a DNS-1035 label", id="ends-with-dash"),
    pytest.param("fruit_stand", "not a DNS-1035 label", id="underscore"),
    pytest.param("fruit.stand", "not a DNS-1035 label", id="dot"),
    pytest.param("", "non-empty", id="empty"),
]


@pytest.mark.parametrize("name", NAMES_OK)
def test_good_names(name: str) -> None:
    assert validate_cluster_name(name) == []


@pytest.mark.parametrize(("name", "message"), NAMES_BAD)
def test_bad_names(name: str, message: str) -> None:
    violations = validate_cluster_name(name)
    assert violations, name
    assert all(v.path == "metadata.name" for v in violations)
    assert any(message in v.message for v in violations), violations


def test_apply_defaults_matches_what_the_server_returns() -> None:
    spec = copy.deepcopy(BASE)
    group = spec["workerGroupSpecs"][0]
    for key in ("replicas", "minReplicas", "maxReplicas"):
        del group[key]
    before = copy.deepcopy(spec)
    defaulted = apply_defaults(spec)
    assert spec == before
    got = defaulted["workerGroupSpecs"][0]
    assert (got["replicas"], got["minReplicas"], got["maxReplicas"], got["numOfHosts"]) == (
        0,
        0,
        2147483647,
        1,
    )
    # Defaults only fill what is missing.
    assert apply_defaults(BASE)["workerGroupSpecs"][0]["maxReplicas"] == 5


def test_spec_violation_is_a_frozen_value() -> None:
    v = SpecViolation("spec.rayVersion", "bad")
    assert str(v) == "spec.rayVersion: bad"
    assert v == SpecViolation("spec.rayVersion", "bad")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.path = "x"  # type: ignore[misc]


def test_schema_is_loaded_once_and_shared() -> None:
    assert crd_schema() is crd_schema()
    assert spec_schema() is crd_schema()["properties"]["spec"]
    assert spec_schema()["required"] == ["headGroupSpec"]


def test_validation_is_thread_safe() -> None:
    bad = copy.deepcopy(BASE)
    bad["workerGroupSpecs"][0]["replicas"] = "three"
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append((len(validate_cluster_spec(BASE)), len(validate_cluster_spec(bad))))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert set(results) == {(0, 1)}


# The shipped schema and the script that builds it --------------------------------------------


def _build_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_crd_schema", ROOT / "scripts" / "build_crd_schema.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strip_schema_keeps_what_validation_needs() -> None:
    strip = _build_script().strip_schema
    schema = {
        "type": "object",
        "description": "doc",
        "properties": {
            "description": {"type": "string", "description": "a field named description"},
            "cpu": {
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": True,
                "pattern": "^[0-9]+$",
                "description": "doc",
            },
            "mode": {"type": "string", "enum": ["a"], "default": "a", "description": "doc"},
            "items": {"type": "array", "items": {"type": "object", "description": "doc"}},
            "map": {"type": "object", "additionalProperties": {"type": "string", "title": "t"}},
            "obj": {"type": "object", "default": {"description": "data, not doc"}},
        },
        "required": ["mode"],
    }
    assert strip(schema) == {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "cpu": {
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": True,
                "pattern": "^[0-9]+$",
            },
            "mode": {"type": "string", "enum": ["a"], "default": "a"},
            "items": {"type": "array", "items": {"type": "object"}},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "obj": {"type": "object", "default": {"description": "data, not doc"}},
        },
        "required": ["mode"],
    }


def _doc_strings(node: Any) -> Any:
    """Yield every ``description: <text>`` (a property *named* description holds a schema dict)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            yield from _doc_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _doc_strings(value)


def test_shipped_schema_is_compact_and_structural() -> None:
    path = ROOT / "pulumi_rayservice" / "data" / "raycluster.v1.schema.json"
    text = path.read_text()
    assert len(text) < 400_000
    assert json.loads(text) == crd_schema()
    assert not list(_doc_strings(crd_schema()))
    limits = spec_schema()["properties"]["headGroupSpec"]["properties"]["template"]["properties"][
        "spec"
    ]["properties"]["containers"]["items"]["properties"]["resources"]["properties"]["limits"]
    value = limits["additionalProperties"]
    assert value["x-kubernetes-int-or-string"] is True
    assert value["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "pattern" in value
