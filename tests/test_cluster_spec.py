"""Typed cluster helpers: exact renderings, their own checks, and that every rendering validates."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pulumi_rayservice._util.normalize import canonical
from pulumi_rayservice.cluster.crd_schema import validate_cluster_spec
from pulumi_rayservice.cluster.spec import (
    AutoscalerOptions,
    ClusterSpec,
    ComputeTemplate,
    GcsFaultTolerance,
    HeadGroup,
    WorkerGroup,
)

HEAD_PORTS = [
    {"containerPort": 6379, "name": "gcs-server"},
    {"containerPort": 8265, "name": "dashboard"},
    {"containerPort": 10001, "name": "client"},
    {"containerPort": 8000, "name": "serve"},
]


def _resources(**amounts: str) -> dict[str, dict[str, str]]:
    return {"limits": dict(amounts), "requests": dict(amounts)}


def _seed_cluster() -> ClusterSpec:
    """The cluster of the issue's example."""
    return ClusterSpec(
        ray_version="2.52.0",
        image="rayproject/ray:2.52.0",
        head=HeadGroup(compute=ComputeTemplate(cpu=2, memory="4Gi")),
        workers=[
            WorkerGroup(
                name="small-wg",
                replicas=1,
                min_replicas=0,
                max_replicas=5,
                compute=ComputeTemplate(cpu=1, memory="2Gi"),
            )
        ],
        enable_serve_service=True,
    )


def test_small_cluster_renders_exactly() -> None:
    cluster = _seed_cluster()
    assert cluster.to_spec() == {
        "rayVersion": "2.52.0",
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "ray-head",
                            "image": "rayproject/ray:2.52.0",
                            "ports": HEAD_PORTS,
                            "resources": _resources(cpu="2", memory="4Gi"),
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
                                "resources": _resources(cpu="1", memory="2Gi"),
                            }
                        ]
                    }
                },
            }
        ],
    }
    # enable_serve_service is an object annotation, never a spec field.
    assert cluster.annotations() == {"ray.io/enable-serve-service": "true"}
    assert validate_cluster_spec(cluster.to_spec()) == []


def test_full_cluster_renders_exactly() -> None:
    cluster = ClusterSpec(
        ray_version="2.53.0",
        head=HeadGroup(
            compute=ComputeTemplate(cpu="500m", memory=8),
            image="my/ray:head",
            ray_start_params={
                "num-cpus": 0,
                "dashboard-host": "0.0.0.0",
                "include-dashboard": True,
            },
            service_type="NodePort",
            env={"RAY_LOG": "debug"},
            volumes=[{"name": "logs", "emptyDir": {}}],
            volume_mounts=[{"name": "logs", "mountPath": "/tmp/ray"}],
            node_selector={"pool": "head"},
            service_account="ray",
            annotations={"a": "1"},
            labels={"team": "ml"},
            ports=[{"containerPort": 8265, "name": "dashboard"}],
            container={"imagePullPolicy": "Always"},
            pod_spec={"priorityClassName": "high"},
        ),
        workers=[
            WorkerGroup(
                name="gpu",
                replicas=0,
                max_replicas=4,
                num_of_hosts=2,
                compute=ComputeTemplate(
                    cpu=1.5,
                    memory="16Gi",
                    gpu=2,
                    gpu_accelerator="amd.com/gpu",
                    extended_resources={"vpc.amazonaws.com/efa": 1},
                    tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                ),
                env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            )
        ],
        autoscaling=AutoscalerOptions(
            version="v2",
            upscaling_mode="Conservative",
            idle_timeout_s=120,
            image_pull_policy="IfNotPresent",
            compute=ComputeTemplate(cpu="500m", memory="512Mi"),
            env={"AUTOSCALER_UPDATE_INTERVAL_S": "5"},
        ),
        gcs_fault_tolerance=GcsFaultTolerance(
            redis_address="redis:6379",
            password_secret=("redis-password-secret", "password"),
            external_storage_namespace="fruit",
        ),
        auth_token=True,
    )
    assert cluster.to_spec() == {
        "rayVersion": "2.53.0",
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {
            "version": "v2",
            "upscalingMode": "Conservative",
            "idleTimeoutSeconds": 120,
            "imagePullPolicy": "IfNotPresent",
            "resources": _resources(cpu="500m", memory="512Mi"),
            "env": [{"name": "AUTOSCALER_UPDATE_INTERVAL_S", "value": "5"}],
        },
        "authOptions": {"mode": "token"},
        "gcsFaultToleranceOptions": {
            "redisAddress": "redis:6379",
            "redisPassword": {
                "valueFrom": {"secretKeyRef": {"name": "redis-password-secret", "key": "password"}}
            },
            "externalStorageNamespace": "fruit",
        },
        "headGroupSpec": {
            "rayStartParams": {
                "num-cpus": "0",
                "dashboard-host": "0.0.0.0",
                "include-dashboard": "true",
            },
            "serviceType": "NodePort",
            "template": {
                "metadata": {"annotations": {"a": "1"}, "labels": {"team": "ml"}},
                "spec": {
                    "containers": [
                        {
                            "name": "ray-head",
                            "image": "my/ray:head",
                            "ports": [{"containerPort": 8265, "name": "dashboard"}],
                            "resources": _resources(cpu="500m", memory="8Gi"),
                            "env": [{"name": "RAY_LOG", "value": "debug"}],
                            "volumeMounts": [{"name": "logs", "mountPath": "/tmp/ray"}],
                            "imagePullPolicy": "Always",
                        }
                    ],
                    "volumes": [{"name": "logs", "emptyDir": {}}],
                    "nodeSelector": {"pool": "head"},
                    "serviceAccountName": "ray",
                    "priorityClassName": "high",
                },
            },
        },
        "workerGroupSpecs": [
            {
                "groupName": "gpu",
                "replicas": 0,
                "minReplicas": 0,
                "maxReplicas": 4,
                "numOfHosts": 2,
                "rayStartParams": {},
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "ray-worker",
                                "image": "rayproject/ray:2.53.0",
                                "resources": _resources(
                                    cpu="1500m",
                                    memory="16Gi",
                                    **{"amd.com/gpu": "2", "vpc.amazonaws.com/efa": "1"},
                                ),
                                "env": [
                                    {
                                        "name": "POD",
                                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                    }
                                ],
                            }
                        ],
                        "tolerations": [
                            {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
                        ],
                    }
                },
            }
        ],
    }
    assert cluster.annotations() == {}
    assert validate_cluster_spec(cluster.to_spec()) == []


CPU = [
    pytest.param(2, "2", id="int"),
    pytest.param(2.0, "2", id="integral-float-from-engine"),
    pytest.param(1.5, "1500m", id="float"),
    pytest.param(0.25, "250m", id="quarter"),
    pytest.param(0.1, "100m", id="tenth"),
    pytest.param("500m", "500m", id="quantity"),
    pytest.param("2", "2", id="string-int"),
]


@pytest.mark.parametrize(("cpu", "rendered"), CPU)
def test_cpu_renders_as_a_quantity_string(cpu: Any, rendered: str) -> None:
    assert ComputeTemplate(cpu=cpu, memory="1Gi").resources()["limits"]["cpu"] == rendered


MEMORY = [
    pytest.param(4, "4Gi", id="int-gib"),
    pytest.param(4.0, "4Gi", id="integral-float-from-engine"),
    pytest.param("512Mi", "512Mi", id="quantity"),
    pytest.param("1G", "1G", id="decimal-quantity"),
]


@pytest.mark.parametrize(("memory", "rendered"), MEMORY)
def test_memory_renders_as_a_quantity_string(memory: Any, rendered: str) -> None:
    assert ComputeTemplate(cpu=1, memory=memory).resources()["requests"]["memory"] == rendered


def test_gpu_resource_name() -> None:
    default = ComputeTemplate(cpu=1, memory=1, gpu=1).resources()["limits"]
    assert default == {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}
    amd = ComputeTemplate(cpu=1, memory=1, gpu=1, gpu_accelerator="amd.com/gpu").resources()
    assert amd["requests"] == {"cpu": "1", "memory": "1Gi", "amd.com/gpu": "1"}
    assert "nvidia.com/gpu" not in ComputeTemplate(cpu=1, memory=1).resources()["limits"]


BAD_COMPUTE = [
    pytest.param({"cpu": True, "memory": "1Gi"}, "Got True for cpu", id="cpu-bool"),
    pytest.param({"cpu": 0, "memory": "1Gi"}, "cpu must be greater than 0", id="cpu-zero"),
    pytest.param({"cpu": -1.5, "memory": "1Gi"}, "greater than 0", id="cpu-negative"),
    pytest.param({"cpu": "two", "memory": "1Gi"}, 'Got "two" for cpu', id="cpu-word"),
    pytest.param({"cpu": 0.0005, "memory": "1Gi"}, "millicores", id="cpu-sub-milli"),
    pytest.param({"cpu": 1, "memory": "4 GB"}, 'Got "4 GB" for memory', id="memory-space"),
    pytest.param({"cpu": 1, "memory": 1.5}, '"1536Mi"', id="memory-fraction"),
    pytest.param({"cpu": 1, "memory": 0}, "greater than 0", id="memory-zero"),
    pytest.param({"cpu": 1, "memory": "1Gi", "gpu": -1}, "greater than or equal to 0", id="gpu"),
    pytest.param({"cpu": 1, "memory": "1Gi", "gpus": 1}, "Extra inputs", id="typo"),
    pytest.param({"cpu": 1, "memory": "1Gi", "gpu_accelerator": " "}, "gpu_accelerator", id="acc"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_COMPUTE)
def test_bad_compute_templates(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        ComputeTemplate(**kwargs)


COMPUTE = ComputeTemplate(cpu=1, memory=1)

WORKERS = [
    pytest.param({"replicas": 3}, (3, 0, 3), id="max-defaults-to-replicas"),
    pytest.param({"replicas": 0, "min_replicas": 2, "max_replicas": 4}, None, id="below-min"),
    pytest.param({"replicas": 2, "min_replicas": 2}, (2, 2, 2), id="min-only"),
    pytest.param({"replicas": 1, "max_replicas": 10}, (1, 0, 10), id="room-to-grow"),
    pytest.param({"replicas": 2.0, "max_replicas": 5.0}, (2, 0, 5), id="engine-floats"),
    pytest.param({"replicas": 6, "max_replicas": 5}, None, id="above-max"),
    pytest.param({"replicas": 3, "min_replicas": 4, "max_replicas": 3}, None, id="min-gt-max"),
    pytest.param({"replicas": -1}, None, id="negative"),
    pytest.param({"replicas": 1.5}, None, id="fractional"),
]


@pytest.mark.parametrize(("kwargs", "expected"), WORKERS)
def test_worker_replica_bounds(
    kwargs: dict[str, Any], expected: tuple[int, int, int] | None
) -> None:
    if expected is None:
        with pytest.raises(ValidationError):
            WorkerGroup(name="w", compute=COMPUTE, **kwargs)
        return
    spec = WorkerGroup(name="w", compute=COMPUTE, **kwargs).to_spec(image="img")
    assert (spec["replicas"], spec["minReplicas"], spec["maxReplicas"]) == expected
    assert all(type(spec[k]) is int for k in ("replicas", "minReplicas", "maxReplicas"))


def test_replica_messages_say_what_was_received_and_allowed() -> None:
    with pytest.raises(ValidationError) as info:
        WorkerGroup(name="w", compute=COMPUTE, replicas=6, max_replicas=5)
    assert 'Got replicas=6 for worker group "w"' in str(info.value)
    assert "[0, 5]" in str(info.value)
    with pytest.raises(ValidationError) as info:
        WorkerGroup(name="w", compute=COMPUTE, replicas=4, min_replicas=4, max_replicas=3)
    assert "Got min_replicas=4 and max_replicas=3" in str(info.value)


@pytest.mark.parametrize("name", ["", "bad name", "-w", "w" * 64, "w/1"])
def test_bad_worker_group_names(name: str) -> None:
    with pytest.raises(ValidationError, match="for name"):
        WorkerGroup(name=name, compute=COMPUTE)


def _cluster(**kwargs: Any) -> ClusterSpec:
    kwargs.setdefault("ray_version", "2.52.0")
    kwargs.setdefault("head", HeadGroup(compute=COMPUTE))
    return ClusterSpec(**kwargs)


def test_duplicate_worker_names() -> None:
    with pytest.raises(ValidationError, match='Got worker group name "w" twice'):
        _cluster(
            workers=[WorkerGroup(name="w", compute=COMPUTE), WorkerGroup(name="w", compute=COMPUTE)]
        )


def test_auth_token_needs_ray_2_52() -> None:
    assert _cluster(auth_token=True).to_spec()["authOptions"] == {"mode": "token"}
    with pytest.raises(ValidationError, match=r"needs Ray 2\.52\.0 or later"):
        _cluster(ray_version="2.46.0", auth_token=True)


@pytest.mark.parametrize("version", ["", "latest", "2"])
def test_bad_ray_version(version: str) -> None:
    with pytest.raises(ValidationError, match="ray_version"):
        _cluster(ray_version=version)


def test_default_image_comes_from_the_ray_version() -> None:
    spec = _cluster(workers=[WorkerGroup(name="w", compute=COMPUTE, image="own:1")]).to_spec()
    assert spec["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] == (
        "rayproject/ray:2.52.0"
    )
    assert spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["image"] == "own:1"


AUTOSCALING = [
    pytest.param(False, {}, id="off"),
    pytest.param(True, {"enableInTreeAutoscaling": True}, id="on"),
    pytest.param({}, {"enableInTreeAutoscaling": True}, id="empty-options"),
    pytest.param(
        {"idle_timeout_s": 60},
        {"enableInTreeAutoscaling": True, "autoscalerOptions": {"idleTimeoutSeconds": 60}},
        id="options-dict",
    ),
]


@pytest.mark.parametrize(("autoscaling", "expected"), AUTOSCALING)
def test_autoscaling(autoscaling: Any, expected: dict[str, Any]) -> None:
    spec = _cluster(autoscaling=autoscaling).to_spec()
    got = {k: spec[k] for k in ("enableInTreeAutoscaling", "autoscalerOptions") if k in spec}
    assert got == expected


def test_gcs_password_as_a_value_is_hidden_from_repr_and_errors() -> None:
    gcs = GcsFaultTolerance(redis_address="redis:6379", redis_password="hunter2")
    assert gcs.to_spec() == {"redisAddress": "redis:6379", "redisPassword": {"value": "hunter2"}}
    assert "hunter2" not in repr(gcs)
    with pytest.raises(ValidationError) as info:
        _cluster(
            gcs_fault_tolerance={
                "redis_address": "r:1",
                "redis_password": "hunter2",
                "password_secret": ["s", "k"],
            }
        )
    assert "Give the password one way" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_gcs_redis_username_and_secret_from_engine_list() -> None:
    gcs = GcsFaultTolerance.model_validate(
        {"redis_address": "r:1", "password_secret": ["s", "k"], "redis_username": "ray"}
    )
    assert gcs.to_spec() == {
        "redisAddress": "r:1",
        "redisPassword": {"valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        "redisUsername": {"value": "ray"},
    }
    with pytest.raises(ValidationError, match="both non-empty"):
        GcsFaultTolerance(redis_address="r:1", password_secret=("s", ""))


def test_unknown_keyword_is_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        WorkerGroup(name="w", compute=COMPUTE, replica=2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="Extra inputs"):
        ClusterSpec.model_validate(
            {"ray_version": "2.52.0", "head": {"compute": {"cpu": 1, "memory": 1}}, "worker": []}
        )


def test_engine_shaped_input_round_trips() -> None:
    """What the Pulumi engine sends back: floats for every number, lists for tuples."""
    engine = {
        "ray_version": "2.52.0",
        "head": {"compute": {"cpu": 2.0, "memory": "4Gi"}, "ray_start_params": {"num-cpus": 0.0}},
        "workers": [
            {
                "name": "w",
                "replicas": 1.0,
                "min_replicas": 0.0,
                "max_replicas": 5.0,
                "compute": {"cpu": 1.5, "memory": 2.0, "gpu": 1.0},
            }
        ],
    }
    spec = ClusterSpec.model_validate(engine).to_spec()
    assert spec == canonical(spec)
    assert spec["headGroupSpec"]["rayStartParams"] == {"num-cpus": "0"}
    worker = spec["workerGroupSpecs"][0]
    assert worker["replicas"] == 1 and type(worker["replicas"]) is int
    limits = worker["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "1500m", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert validate_cluster_spec(spec) == []


def test_to_spec_returns_fresh_dicts() -> None:
    cluster = _cluster(head=HeadGroup(compute=COMPUTE, env={"A": "1"}, volumes=[{"name": "v"}]))
    first = cluster.to_spec()
    first["headGroupSpec"]["template"]["spec"]["volumes"].append({"name": "x"})
    first["headGroupSpec"]["template"]["spec"]["containers"][0]["env"].clear()
    assert cluster.to_spec()["headGroupSpec"]["template"]["spec"]["volumes"] == [{"name": "v"}]
    assert cluster.head.volumes == [{"name": "v"}]


RENDERINGS = [
    pytest.param(_seed_cluster, id="seed"),
    pytest.param(lambda: _cluster(), id="head-only"),
    pytest.param(lambda: _cluster(autoscaling=AutoscalerOptions(version="v2")), id="autoscaler-v2"),
    pytest.param(
        lambda: _cluster(
            gcs_fault_tolerance=GcsFaultTolerance(redis_address="r:6379", redis_password="pw")
        ),
        id="gcs-ft-value",
    ),
    pytest.param(
        lambda: _cluster(
            head=HeadGroup(
                compute=ComputeTemplate(cpu=0.5, memory="512Mi", gpu=1),
                env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            ),
            workers=[
                WorkerGroup(
                    name=f"g{i}",
                    compute=ComputeTemplate(cpu=i + 1, memory=i + 1),
                    replicas=i,
                    max_replicas=10,
                )
                for i in range(3)
            ],
        ),
        id="three-groups",
    ),
]


@pytest.mark.parametrize("build", RENDERINGS)
def test_every_rendering_passes_the_crd_validator(build: Any) -> None:
    assert validate_cluster_spec(build().to_spec()) == []


def test_escape_hatch_typo_is_caught_by_the_crd_validator() -> None:
    cluster = _cluster(head=HeadGroup(compute=COMPUTE, pod_spec={"nodeSelectors": {"a": "b"}}))
    violations = validate_cluster_spec(cluster.to_spec())
    assert [v.path for v in violations] == ["spec.headGroupSpec.template.spec.nodeSelectors"]
    assert "did you mean 'nodeSelector'?" in violations[0].message
