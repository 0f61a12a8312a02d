"""KubeRay operator rules that the CRD schema does not hold, checked before anything is sent.

A spec that passes KubeRay's CRD schema (:mod:`.crd_schema`) can still be refused: the operator
checks more itself and reports a failure only as an event on the object, so the cluster is never
reconciled and ``pulumi up`` waits into its timeout. These rules refuse such a spec at
``pulumi preview`` instead, naming the field.

Where they come from (KubeRay v1.7, ``ray-project/kuberay``):

- ``ValidateRayClusterMetadata`` and ``ValidateRayClusterSpec`` in
  ``ray-operator/controllers/ray/utils/validation.go``: the name, containers, replicas,
  GCS fault tolerance, the autoscaler, auth, group labels and resources;
- the webhook's unique worker group names;
- the CRD's CEL rule on ``managedBy`` (``x-kubernetes-validations``, enforced by the API server but
  not by an OpenAPI validator);
- one rule of our own: with autoscaling off, ``replicas`` outside ``[minReplicas, maxReplicas]`` is
  refused, because KubeRay would silently clamp it (``GetWorkerGroupDesiredReplicas``) and run a
  different number of workers than the program says.

Rules behind operator feature gates that cannot be seen from here are left to the operator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._util.k8s_names import dns1035_label_problem, label_value_problem, qualified_name_problem
from .._util.versions import at_least, parse_version
from .violations import SpecViolation, join_path, short_repr

__all__ = [
    "AUTH_MIN_RAY",
    "MAX_CLUSTER_NAME_LENGTH",
    "operator_violations",
    "validate_cluster_name",
]

#: KubeRay's ``MaxRayClusterNameLength`` (``ray-operator/controllers/ray/utils/constant.go``):
#: 63 (a DNS label) minus ``len("-serve-svc")``, its longest Service-name suffix.
MAX_CLUSTER_NAME_LENGTH = 53
#: The first Ray that KubeRay's token authentication (``authOptions.mode: token``) works with.
AUTH_MIN_RAY = (2, 52, 0)


# Constants from KubeRay (utils/constant.go, apis/ray/v1/raycluster_types.go).
_ANNOTATION_FT_ENABLED = "ray.io/ft-enabled"
_ANNOTATION_EXTERNAL_STORAGE_NS = "ray.io/external-storage-namespace"
_ENV_RAY_REDIS_ADDRESS = "RAY_REDIS_ADDRESS"
_ENV_REDIS_PASSWORD = "REDIS_PASSWORD"
_ENV_REDIS_USERNAME = "REDIS_USERNAME"
_ENV_AUTOSCALER_V2 = "RAY_enable_autoscaler_v2"
_ENV_GEN_AUTOSCALER_CMD = "KUBERAY_GEN_AUTOSCALER_START_CMD"
_RAY_START_RESOURCE_PARAMS = ("num-cpus", "num-gpus", "memory", "resources")
_MANAGED_BY_VALUES = ("ray.io/kuberay-operator", "kueue.x-k8s.io/multikueue")
_K8S_AUTH_MIN_RAY = (2, 55, 0)


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _containers(group: Mapping[str, Any]) -> Sequence[Any]:
    return _seq(_obj(_obj(group.get("template")).get("spec")).get("containers"))


def _env(container: Any) -> dict[str, Any]:
    """Env vars of a container by name (the value, or None for ``valueFrom``)."""
    out: dict[str, Any] = {}
    for var in _seq(_obj(container).get("env")):
        if isinstance(var, Mapping) and isinstance(var.get("name"), str):
            out[var["name"]] = var.get("value")
    return out


def _label_violations(path: str, labels: Any, group: str) -> Iterator[SpecViolation]:
    # As KubeRay's validateRayGroupLabels: IsQualifiedName keys, IsValidLabelValue values.
    for key, val in _obj(labels).items():
        if qualified_name_problem(str(key)):
            yield SpecViolation(
                join_path(path, str(key)),
                f"invalid label key {key!r} for {group} group: a qualified name is an optional "
                "DNS subdomain prefix and '/', then at most 63 characters of alphanumerics, "
                "'-', '_' or '.', starting and ending with an alphanumeric",
            )
        if isinstance(val, str) and label_value_problem(val):
            yield SpecViolation(
                join_path(path, str(key)),
                f"invalid label value {val!r} for {group} group: at most 63 characters of "
                "alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
            )


def _group_violations(path: str, group: Mapping[str, Any], name: str) -> Iterator[SpecViolation]:
    """KubeRay's validateRayGroupResources and validateRayGroupLabels, for one group."""
    params = _obj(group.get("rayStartParams"))
    set_params = [p for p in _RAY_START_RESOURCE_PARAMS if params.get(p)]
    if set_params and _obj(group.get("resources")):
        yield SpecViolation(
            join_path(path, "resources"),
            f"resources are set both here and in rayStartParams ({', '.join(set_params)}) for "
            f"{name} group; KubeRay allows only one of the two",
        )
    if "labels" in params:
        yield SpecViolation(
            join_path(join_path(path, "rayStartParams"), "labels"),
            f"rayStartParams['labels'] is not supported for {name} group; use the group's "
            "top-level 'labels' field instead",
        )
    yield from _label_violations(join_path(path, "labels"), group.get("labels"), name)


def operator_violations(
    raw: Mapping[str, Any], spec: Mapping[str, Any], annotations: Mapping[str, str]
) -> Iterator[SpecViolation]:
    """KubeRay's ValidateRayClusterSpec (and the webhook's unique group names) on a defaulted spec.

    Rules behind operator feature gates that we cannot see (networkPolicy, tlsOptions,
    historyServerOptions, the RocksDB GCS backend, suspending worker groups without autoscaling)
    are left to the operator.

    Args:
        raw: The spec as written, canonical (to tell "given" from "defaulted").
        spec: The same spec with the CRD's schema defaults applied.
        annotations: The object's annotations (``ray.io/ft-enabled``,
            ``ray.io/external-storage-namespace``).

    Yields:
        The violations, each with a field path starting at ``spec``.

    """
    head = _obj(spec.get("headGroupSpec"))
    head_path = "spec.headGroupSpec"
    head_containers = _containers(head)
    if not head_containers:
        yield SpecViolation(
            f"{head_path}.template.spec.containers",
            "headGroupSpec should have at least one container (KubeRay runs Ray in the first one, "
            "conventionally named 'ray-head'); got none",
        )
    head_env = _env(head_containers[0]) if head_containers else {}
    head_params = _obj(head.get("rayStartParams"))
    yield from _group_violations(head_path, head, "Head")

    autoscaling = spec.get("enableInTreeAutoscaling") is True
    autoscaler = _obj(spec.get("autoscalerOptions"))
    autoscaler_v2 = autoscaler.get("version") == "v2"
    v2_env = head_env.get(_ENV_AUTOSCALER_V2) in ("1", "true")

    raw_groups = _seq(raw.get("workerGroupSpecs"))
    seen: dict[str, int] = {}
    for index, group in enumerate(_seq(spec.get("workerGroupSpecs"))):
        if not isinstance(group, Mapping):
            continue
        path = f"spec.workerGroupSpecs[{index}]"
        raw_group = _obj(raw_groups[index]) if index < len(raw_groups) else {}
        group_name = group.get("groupName")
        label = str(group_name) if group_name is not None else f"#{index}"
        if not _containers(group):
            yield SpecViolation(
                f"{path}.template.spec.containers",
                f"worker group {label!r} should have at least one container (the first one is "
                "the Ray container, conventionally named 'ray-worker'); got none",
            )
        if isinstance(group_name, str):
            if group_name in seen:
                yield SpecViolation(
                    f"{path}.groupName",
                    f"duplicate groupName {group_name!r} (also in "
                    f"workerGroupSpecs[{seen[group_name]}]); worker group names must be unique",
                )
            else:
                seen[group_name] = index
        yield from _replica_violations(path, group, raw_group, label, autoscaling)
        yield from _group_violations(path, group, label)
        idle = group.get("idleTimeoutSeconds")
        if isinstance(idle, int) and not isinstance(idle, bool):
            if idle < 0:
                yield SpecViolation(
                    f"{path}.idleTimeoutSeconds",
                    f"idleTimeoutSeconds must be non-negative, got {idle}",
                )
            elif not (autoscaler_v2 or v2_env):
                yield SpecViolation(
                    f"{path}.idleTimeoutSeconds",
                    "idleTimeoutSeconds is set, but autoscaler v2 is not enabled; set "
                    "spec.autoscalerOptions.version to 'v2'",
                )
        if autoscaling and group.get("suspend") is True:
            yield SpecViolation(
                f"{path}.suspend",
                f"worker group {label!r} cannot be suspended with the autoscaler enabled",
            )

    yield from _gcs_violations(spec, head_path, head_env, head_params, annotations)

    if not autoscaling and head_env.get(_ENV_AUTOSCALER_V2) in ("1", "true"):
        yield SpecViolation(
            f"{head_path}.template.spec.containers[0].env",
            f"environment variable {_ENV_AUTOSCALER_V2} cannot be set to "
            f"{head_env[_ENV_AUTOSCALER_V2]!r} when enableInTreeAutoscaling is false; set "
            "enableInTreeAutoscaling: true to use autoscaler v2",
        )
    if autoscaling:
        if "version" in autoscaler and _ENV_AUTOSCALER_V2 in head_env:
            yield SpecViolation(
                "spec.autoscalerOptions.version",
                f"both autoscalerOptions.version and the head container env var "
                f"{_ENV_AUTOSCALER_V2} are set; use only the former",
            )
        if autoscaler_v2:
            pods = [(head_path, head)] + [
                (f"spec.workerGroupSpecs[{i}]", _obj(g))
                for i, g in enumerate(_seq(spec.get("workerGroupSpecs")))
            ]
            for path, group in pods:
                policy = _obj(_obj(group.get("template")).get("spec")).get("restartPolicy")
                if policy not in (None, "", "Never"):
                    yield SpecViolation(
                        f"{path}.template.spec.restartPolicy",
                        "restartPolicy must be 'Never' or unset with autoscaler v2, "
                        f"got {policy!r}",
                    )
    idle = autoscaler.get("idleTimeoutSeconds")
    if isinstance(idle, int) and not isinstance(idle, bool) and idle < 0:
        yield SpecViolation(
            "spec.autoscalerOptions.idleTimeoutSeconds",
            f"idleTimeoutSeconds must be non-negative, got {idle}",
        )
    if _ENV_GEN_AUTOSCALER_CMD in _env(autoscaler):
        yield SpecViolation(
            "spec.autoscalerOptions.env",
            f"autoscalerOptions.env must not contain {_ENV_GEN_AUTOSCALER_CMD}: KubeRay manages it",
        )

    yield from _auth_violations(spec)

    managed_by = spec.get("managedBy")
    if isinstance(managed_by, str) and managed_by not in _MANAGED_BY_VALUES:
        # A CEL rule (x-kubernetes-validations) in the CRD: the API server enforces it.
        yield SpecViolation(
            "spec.managedBy",
            f"managedBy {managed_by!r} is not allowed; use one of {list(_MANAGED_BY_VALUES)}",
        )


def _replica_violations(
    path: str,
    group: Mapping[str, Any],
    raw_group: Mapping[str, Any],
    label: str,
    autoscaling: bool,
) -> Iterator[SpecViolation]:
    def as_int(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    low, high = as_int(group.get("minReplicas")), as_int(group.get("maxReplicas"))
    replicas = as_int(raw_group.get("replicas"))  # only when given: the default 0 is clamped up
    if low is not None and low < 0:
        yield SpecViolation(f"{path}.minReplicas", f"minReplicas must be >= 0, got {low}")
    if high is not None and high < 0:
        yield SpecViolation(f"{path}.maxReplicas", f"maxReplicas must be >= 0, got {high}")
    if low is not None and high is not None and low > high:
        yield SpecViolation(
            f"{path}.minReplicas",
            f"worker group {label!r} has minReplicas {low} greater than maxReplicas {high}",
        )
        return
    if autoscaling or replicas is None:
        return  # with autoscaling on, replicas belongs to the autoscaler
    low = 0 if low is None else low
    if replicas < low or (high is not None and replicas > high):
        allowed = f"[{low}, {high}]" if high is not None else f">= {low}"
        yield SpecViolation(
            f"{path}.replicas",
            f"replicas {replicas} is outside minReplicas..maxReplicas {allowed} for worker group "
            f"{label!r}; KubeRay would silently run "
            f"{min(max(replicas, low), high if high is not None else replicas)} workers",
        )


def _gcs_violations(
    spec: Mapping[str, Any],
    head_path: str,
    head_env: Mapping[str, Any],
    head_params: Mapping[str, Any],
    annotations: Mapping[str, str],
) -> Iterator[SpecViolation]:
    options = spec.get("gcsFaultToleranceOptions")
    env_path = f"{head_path}.template.spec.containers[0].env"
    if annotations.get(_ANNOTATION_FT_ENABLED) and options is not None:
        yield SpecViolation(
            "spec.gcsFaultToleranceOptions",
            f"the {_ANNOTATION_FT_ENABLED} annotation and gcsFaultToleranceOptions are both set; "
            "use only gcsFaultToleranceOptions",
        )
    ft_enabled = options is not None or annotations.get(_ANNOTATION_FT_ENABLED) == "true"
    if not ft_enabled and _ENV_RAY_REDIS_ADDRESS in head_env:
        yield SpecViolation(
            env_path,
            f"{_ENV_RAY_REDIS_ADDRESS} is set, which implicitly enables GCS fault tolerance, but "
            "gcsFaultToleranceOptions is not set; set gcsFaultToleranceOptions instead",
        )
    if options is not None:
        if head_params.get("redis-password"):
            yield SpecViolation(
                f"{head_path}.rayStartParams[redis-password]",
                "cannot set 'redis-password' in rayStartParams with gcsFaultToleranceOptions; "
                "use gcsFaultToleranceOptions.redisPassword",
            )
        if _ENV_REDIS_PASSWORD in head_env:
            yield SpecViolation(
                env_path,
                f"cannot set {_ENV_REDIS_PASSWORD} in the head container with "
                "gcsFaultToleranceOptions; use gcsFaultToleranceOptions.redisPassword",
            )
        if _ENV_RAY_REDIS_ADDRESS in head_env:
            yield SpecViolation(
                env_path,
                f"cannot set {_ENV_RAY_REDIS_ADDRESS} in the head container with "
                "gcsFaultToleranceOptions; use gcsFaultToleranceOptions.redisAddress",
            )
        if annotations.get(_ANNOTATION_EXTERNAL_STORAGE_NS):
            yield SpecViolation(
                "spec.gcsFaultToleranceOptions",
                f"cannot set the {_ANNOTATION_EXTERNAL_STORAGE_NS} annotation with "
                "gcsFaultToleranceOptions; use gcsFaultToleranceOptions.externalStorageNamespace",
            )
        opts = _obj(options)
        if opts.get("backend", "redis") == "redis" and "storage" in opts:
            yield SpecViolation(
                "spec.gcsFaultToleranceOptions.storage",
                "storage only applies to the 'rocksdb' backend, not 'redis'",
            )
        if opts.get("backend") == "rocksdb":
            for field in (
                "redisAddress",
                "redisUsername",
                "redisPassword",
                "externalStorageNamespace",
            ):
                if opts.get(field):
                    yield SpecViolation(
                        f"spec.gcsFaultToleranceOptions.{field}",
                        f"cannot set {field} when backend is 'rocksdb'",
                    )
    if head_params.get("redis-username") or _ENV_REDIS_USERNAME in head_env:
        yield SpecViolation(
            f"{head_path}.rayStartParams[redis-username]"
            if head_params.get("redis-username")
            else env_path,
            "cannot set the redis username in rayStartParams or env; use "
            "gcsFaultToleranceOptions.redisUsername",
        )


def _auth_violations(spec: Mapping[str, Any]) -> Iterator[SpecViolation]:
    auth = _obj(spec.get("authOptions"))
    k8s_auth = auth.get("enableK8sTokenAuth") is True
    if auth.get("mode") != "token":
        if k8s_auth:
            yield SpecViolation(
                "spec.authOptions.enableK8sTokenAuth",
                "enableK8sTokenAuth is enabled but authOptions.mode is not 'token'",
            )
        return
    ray_version = spec.get("rayVersion")
    if not ray_version:
        yield SpecViolation(
            "spec.rayVersion",
            "authOptions.mode is 'token' but rayVersion is not set; "
            "Ray 2.52.0 or later is required",
        )
        return
    parsed = parse_version(ray_version)
    if parsed is None:
        yield SpecViolation(
            "spec.rayVersion", f"rayVersion {ray_version!r} is not a version like '2.52.0'"
        )
        return
    if not at_least(parsed, AUTH_MIN_RAY):
        yield SpecViolation(
            "spec.rayVersion",
            f"authOptions.mode 'token' needs Ray 2.52.0 or later, got {ray_version!r}",
        )
    if k8s_auth:
        if not at_least(parsed, _K8S_AUTH_MIN_RAY):
            yield SpecViolation(
                "spec.rayVersion",
                f"authOptions.enableK8sTokenAuth needs Ray 2.55.0 or later, got {ray_version!r}",
            )
        if auth.get("secretName"):
            yield SpecViolation(
                "spec.authOptions.secretName",
                "authOptions.enableK8sTokenAuth and authOptions.secretName are both set",
            )


def validate_cluster_name(name: str) -> list[SpecViolation]:
    """Check a RayCluster object name as KubeRay's ``ValidateRayClusterMetadata`` does.

    The name must be a DNS-1035 label (it becomes Service names) and at most
    :data:`MAX_CLUSTER_NAME_LENGTH` (53) characters, so ``<name>-serve-svc`` still fits in 63.

    Args:
        name: The ``metadata.name`` of the RayCluster.

    Returns:
        The violations (path ``metadata.name``); empty when the name is fine.

    """
    path = "metadata.name"
    if not isinstance(name, str) or not name:
        return [SpecViolation(path, f"name must be a non-empty string, got {short_repr(name)}")]
    violations: list[SpecViolation] = []
    if len(name) > MAX_CLUSTER_NAME_LENGTH:
        violations.append(
            SpecViolation(
                path,
                f"name {name!r} is {len(name)} characters; KubeRay allows at most "
                f"{MAX_CLUSTER_NAME_LENGTH} (63 minus the '-serve-svc' suffix of its Services)",
            )
        )
    if dns1035_label_problem(name):
        violations.append(
            SpecViolation(
                path,
                f"name {name!r} is not a DNS-1035 label: use lower case letters, digits and '-', "
                "start with a letter and end with a letter or digit (e.g. 'my-name', 'abc-123')",
            )
        )
    return violations
