"""Typed helpers that render KubeRay's RayCluster ``spec``, so a cluster fits in a few lines.

A RayCluster manifest is mostly pod-template boilerplate: the Ray container's name and image,
requests equal to limits, the head's ports. The KubeRay API server hides that behind compute
templates (cpu, memory, gpu, gpu accelerator, extended resources, tolerations); these models do
the same, but render to the camelCase ``spec`` itself (exactly what stands under
``rayClusterConfig:`` in a RayService manifest), so the state, the preview and the diff always
show the one canonical format, whether the user wrote a dict or used the helpers.

Numbers are turned into the strings Kubernetes expects here (``cpu=1.5`` renders ``"1500m"``,
``memory=4`` renders ``"4Gi"`` as the API server's compute templates do); a raw dict with a float
cpu is refused by :mod:`~pulumi_rayservice.cluster.crd_schema`, as the API server refuses it.
Escape hatches (``env``, ``volumes``, ``node_selector``, ``container``, ``pod_spec``, ...) cover the
rest of the pod template; whatever they add is checked against the CRD at ``check`` too.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    field_validator,
    model_validator,
)

from .._util.k8s_names import dns1123_subdomain_problem, label_value_problem
from .._util.versions import at_least, parse_version
from .operator_rules import AUTH_MIN_RAY

__all__ = [
    "DEFAULT_GPU_RESOURCE",
    "DEFAULT_HEAD_PORTS",
    "DEFAULT_IMAGE_REPOSITORY",
    "ENABLE_SERVE_SERVICE_ANNOTATION",
    "AutoscalerOptions",
    "ClusterSpec",
    "ComputeTemplate",
    "GcsFaultTolerance",
    "HeadGroup",
    "WorkerGroup",
]

#: Resource name used for ``gpu`` when ``gpu_accelerator`` is not given (as the API server does).
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
#: Image repository used when no image is given: ``rayproject/ray:<ray_version>``.
DEFAULT_IMAGE_REPOSITORY = "rayproject/ray"
#: Ports of the head's Ray container when ``ports`` is not given (KubeRay's well-known names).
DEFAULT_HEAD_PORTS: tuple[tuple[str, int], ...] = (
    ("gcs-server", 6379),
    ("dashboard", 8265),
    ("client", 10001),
    ("serve", 8000),
)
#: Object annotation that asks KubeRay for a `<name>-serve-svc` Service on a plain RayCluster.
ENABLE_SERVE_SERVICE_ANNOTATION = "ray.io/enable-serve-service"

# The CRD's pattern for resource quantities (resources.limits / requests values).
_QUANTITY_RE = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

_STRICT = ConfigDict(extra="forbid")
# Models that can hold the Redis password never echo their input in errors (it would show the
# password in `pulumi preview` output); their messages name what was wrong instead.
_SECRET_SAFE = ConfigDict(extra="forbid", hide_input_in_errors=True)


def _reject_bool(value: Any, field: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"Got {value!r} for {field}; a number or a quantity string is required.")
    return value


def _cpu_quantity(cpu: float | int | str) -> str:
    """Render cpu as a Kubernetes quantity string (``2`` -> ``"2"``, ``1.5`` -> ``"1500m"``)."""
    if isinstance(cpu, str):
        if not _QUANTITY_RE.match(cpu) or cpu.startswith("-"):
            raise ValueError(
                f'Got "{cpu}" for cpu. Use a number of cores (2, 1.5) or a quantity '
                'such as "1500m".'
            )
        return cpu
    if isinstance(cpu, int):
        if cpu <= 0:
            raise ValueError(f"Got {cpu} for cpu. cpu must be greater than 0.")
        return str(cpu)
    if not math.isfinite(cpu) or cpu <= 0:
        raise ValueError(f"Got {cpu} for cpu. cpu must be a finite number greater than 0.")
    if cpu.is_integer():
        return str(int(cpu))
    millis = cpu * 1000
    if abs(millis - round(millis)) > 1e-6:
        raise ValueError(f"Got {cpu} for cpu. Kubernetes counts cpu in millicores (0.001).")
    return f"{round(millis)}m"


def _memory_quantity(memory: int | str) -> str:
    """Render memory: an int is GiB (as the API server's compute templates), a string a quantity."""
    if isinstance(memory, int):
        if memory <= 0:
            raise ValueError(f"Got {memory} for memory. memory (GiB) must be greater than 0.")
        return f"{memory}Gi"
    if not _QUANTITY_RE.match(memory) or memory.startswith("-"):
        raise ValueError(
            f'Got "{memory}" for memory. Use whole GiB (4) or a quantity such as "4Gi" or "512Mi".'
        )
    return memory


def _env_list(env: dict[str, str] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(env, dict):
        return [{"name": k, "value": v} for k, v in env.items()]
    return [dict(e) for e in env]


def _params(params: dict[str, str | int | float | bool]) -> dict[str, str]:
    """Render ``rayStartParams`` values as the strings the CRD wants (``True`` -> ``"true"``)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[key] = str(int(value))
        else:
            out[key] = str(value)
    return out


class ComputeTemplate(BaseModel):
    """The resources of one Ray pod, as the KubeRay API server's compute templates describe them.

    Rendered as the Ray container's ``resources`` with requests equal to limits (Ray sizes itself
    from them), plus pod ``tolerations``.

    Attributes:
        cpu: Cores: ``2``, ``1.5`` (rendered ``"1500m"``) or a quantity string (``"500m"``).
        memory: A quantity string (``"4Gi"``) or whole GiB as an int (``4`` -> ``"4Gi"``).
        gpu: Number of GPUs (0: none).
        gpu_accelerator: The extended-resource name the GPUs are requested as
            (``"nvidia.com/gpu"`` by default; e.g. ``"amd.com/gpu"``), as the API server does.
        extended_resources: Other extended resources, e.g. ``{"vpc.amazonaws.com/efa": 1}``.
        tolerations: Pod tolerations (Kubernetes ``Toleration`` dicts, camelCase).

    """

    model_config = _STRICT

    cpu: float | int | str
    memory: int | str
    gpu: NonNegativeInt = 0
    gpu_accelerator: str | None = None
    extended_resources: dict[str, NonNegativeInt] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("cpu", mode="before")
    @classmethod
    def _check_cpu(cls, value: Any) -> Any:
        return _reject_bool(value, "cpu")

    @field_validator("cpu")
    @classmethod
    def _render_cpu(cls, value: float | int | str) -> float | int | str:
        _cpu_quantity(value)
        return value

    @field_validator("memory", mode="before")
    @classmethod
    def _check_memory(cls, value: Any) -> Any:
        _reject_bool(value, "memory")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(
                    f"Got {value} for memory. A number means whole GiB; write a quantity such as "
                    f'"{round(value * 1024)}Mi" for a fraction.'
                )
            return int(value)
        return value

    @field_validator("memory")
    @classmethod
    def _render_memory(cls, value: int | str) -> int | str:
        _memory_quantity(value)
        return value

    @field_validator("gpu_accelerator")
    @classmethod
    def _check_accelerator(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError('Got "" for gpu_accelerator. Give a resource name or leave it unset.')
        return value

    def resources(self) -> dict[str, dict[str, str]]:
        """Return the container ``resources``: ``requests`` equal to ``limits``, as strings."""
        amounts: dict[str, str] = {
            "cpu": _cpu_quantity(self.cpu),
            "memory": _memory_quantity(self.memory),
        }
        if self.gpu:
            amounts[self.gpu_accelerator or DEFAULT_GPU_RESOURCE] = str(self.gpu)
        for name, amount in self.extended_resources.items():
            amounts[name] = str(amount)
        return {"limits": dict(amounts), "requests": dict(amounts)}


class _GroupBase(BaseModel):
    """Fields shared by head and worker groups: the Ray container and pod-template hatches."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    compute: ComputeTemplate | None = None
    compute_template: Any = None
    """The name of a compute template registered on the KubeRay API server (a string, or a
    ``KubeRayComputeTemplate``'s ``name`` output), instead of ``compute``."""
    image: str | None = None
    ray_start_params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    env: dict[str, str] | list[dict[str, Any]] = Field(default_factory=dict)
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)
    service_account: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    container: dict[str, Any] = Field(default_factory=dict)
    pod_spec: dict[str, Any] = Field(default_factory=dict)

    @field_validator("compute_template")
    @classmethod
    def _check_template_name(cls, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value  # an Output (a template's name) is checked by the provider once known
        problem = dns1123_subdomain_problem(value)
        if problem:
            raise ValueError(f"Got {value!r} for compute_template: {problem}.")
        return value

    @model_validator(mode="after")
    def _one_compute(self) -> _GroupBase:
        if (self.compute is None) == (self.compute_template is None):
            raise ValueError(
                "Give exactly one of compute= (a ComputeTemplate written into the pod) or "
                "compute_template= (the name of a KubeRay API server compute template)."
            )
        return self

    def _with_compute_template(self, out: dict[str, Any]) -> dict[str, Any]:
        """``computeTemplate: <name>`` on the group when it names a registered template.

        Set after the copy: the name may be an Output, which cannot be copied.
        """
        if self.compute_template is not None:
            out["computeTemplate"] = self.compute_template
        return out

    def _template(
        self, container_name: str, image: str, ports: list[dict[str, Any]]
    ) -> dict[str, Any]:
        container: dict[str, Any] = {"name": container_name, "image": self.image or image}
        if ports:
            container["ports"] = ports
        if self.compute is not None:
            container["resources"] = self.compute.resources()
        env = _env_list(self.env)
        if env:
            container["env"] = env
        if self.volume_mounts:
            container["volumeMounts"] = self.volume_mounts
        container.update(self.container)

        pod: dict[str, Any] = {"containers": [container]}
        if self.volumes:
            pod["volumes"] = self.volumes
        if self.node_selector:
            pod["nodeSelector"] = self.node_selector
        if self.service_account:
            pod["serviceAccountName"] = self.service_account
        if self.compute is not None and self.compute.tolerations:
            pod["tolerations"] = self.compute.tolerations
        pod.update(self.pod_spec)

        template: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        if self.annotations:
            metadata["annotations"] = self.annotations
        if self.labels:
            metadata["labels"] = self.labels
        if metadata:
            template["metadata"] = metadata
        template["spec"] = pod
        return template


class HeadGroup(_GroupBase):
    """The head pod: KubeRay's ``headGroupSpec`` with its Ray container named ``ray-head``.

    Attributes:
        compute: Its resources.
        compute_template: Instead of ``compute``, the name of a compute template registered on
            the KubeRay API server (``KubeRayComputeTemplate``); its resources are written into
            the pod when the cluster is created through that server.
        image: Container image; default: the cluster's image.
        ray_start_params: ``ray start`` options (values rendered as strings).
        service_type: Type of the head Service (``ClusterIP`` unless given).
        ports: Container ports; default: gcs-server 6379, dashboard 8265, client 10001, serve 8000.
        env: Environment of the Ray container: a name -> value dict, or ``EnvVar`` dicts
            (for ``valueFrom``).
        volumes: Pod volumes. volume_mounts: Ray container volume mounts.
        node_selector: Pod node selector. service_account: Pod service account name.
        annotations: Pod-template annotations. labels: Pod-template labels.
        container: Extra Ray-container fields (camelCase), applied last.
        pod_spec: Extra pod-spec fields (camelCase), applied last.

    """

    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] | None = None
    ports: list[dict[str, Any]] | None = None

    def to_spec(self, *, image: str) -> dict[str, Any]:
        """Render ``headGroupSpec``; ``image`` is used when the group has none of its own."""
        ports = (
            self.ports
            if self.ports is not None
            else [{"containerPort": port, "name": name} for name, port in DEFAULT_HEAD_PORTS]
        )
        out: dict[str, Any] = {"rayStartParams": _params(self.ray_start_params)}
        if self.service_type:
            out["serviceType"] = self.service_type
        out["template"] = self._template("ray-head", image, ports)
        return self._with_compute_template(copy.deepcopy(out))


class WorkerGroup(_GroupBase):
    """One worker group: an entry of KubeRay's ``workerGroupSpecs``, Ray container ``ray-worker``.

    Attributes:
        name: ``groupName`` (also the ``ray.io/group`` label value, so label syntax, unique).
        replicas: Desired workers (with autoscaling on, only the initial size).
        min_replicas: Lower bound (``minReplicas``).
        max_replicas: Upper bound (``maxReplicas``); default ``max(replicas, min_replicas)``, a
            fixed-size group: set it to let the autoscaler grow the group.
        num_of_hosts: Pods per replica for multi-host groups (TPU slices); KubeRay's default 1.
        compute, compute_template, image, ray_start_params, env, volumes, volume_mounts,
            node_selector, service_account, annotations, labels, container, pod_spec: as for
            :class:`HeadGroup`.

    """

    name: str
    replicas: NonNegativeInt = 1
    min_replicas: NonNegativeInt = 0
    max_replicas: NonNegativeInt | None = None
    num_of_hosts: int | None = Field(default=None, ge=1)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not value or label_value_problem(value):
            raise ValueError(
                f'Got "{value}" for name. A worker group name is 1-63 characters of letters, '
                'digits, "-", "_" or ".", starting and ending with a letter or digit '
                "(it becomes the ray.io/group label)."
            )
        return value

    @model_validator(mode="after")
    def _check_replicas(self) -> WorkerGroup:
        high = self.effective_max_replicas
        if self.min_replicas > high:
            raise ValueError(
                f"Got min_replicas={self.min_replicas} and max_replicas={high} for worker group "
                f'"{self.name}". min_replicas must be <= max_replicas.'
            )
        if not self.min_replicas <= self.replicas <= high:
            raise ValueError(
                f'Got replicas={self.replicas} for worker group "{self.name}". replicas must be '
                f"within min_replicas..max_replicas [{self.min_replicas}, {high}]."
            )
        return self

    @property
    def effective_max_replicas(self) -> int:
        """``max_replicas``, or ``max(replicas, min_replicas)`` when not given."""
        if self.max_replicas is not None:
            return self.max_replicas
        return max(self.replicas, self.min_replicas)

    def to_spec(self, *, image: str) -> dict[str, Any]:
        """Render this ``workerGroupSpecs`` entry; ``image`` is used when the group has none."""
        out: dict[str, Any] = {
            "groupName": self.name,
            "replicas": self.replicas,
            "minReplicas": self.min_replicas,
            "maxReplicas": self.effective_max_replicas,
        }
        if self.num_of_hosts is not None:
            out["numOfHosts"] = self.num_of_hosts
        out["rayStartParams"] = _params(self.ray_start_params)
        out["template"] = self._template("ray-worker", image, [])
        return self._with_compute_template(copy.deepcopy(out))


class AutoscalerOptions(BaseModel):
    """Ray autoscaler settings (``autoscalerOptions``); passing one turns autoscaling on.

    Attributes:
        version: ``"v1"`` or ``"v2"``; unset: the Ray version decides (v2 from Ray 2.47).
        upscaling_mode: ``"Default"``, ``"Aggressive"`` or ``"Conservative"``.
        idle_timeout_s: Seconds an idle worker is kept before it is removed.
        image: Autoscaler container image; default: the head's image.
        image_pull_policy: ``Always``, ``IfNotPresent`` or ``Never``.
        compute: Resources of the autoscaler container (KubeRay's default otherwise).
        env: Environment of the autoscaler container.

    """

    model_config = _STRICT

    version: Literal["v1", "v2"] | None = None
    upscaling_mode: Literal["Default", "Aggressive", "Conservative"] | None = None
    idle_timeout_s: NonNegativeInt | None = None
    image: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    compute: ComputeTemplate | None = None
    env: dict[str, str] | list[dict[str, Any]] = Field(default_factory=dict)

    def to_spec(self) -> dict[str, Any]:
        """Render ``autoscalerOptions`` (only the fields given)."""
        out: dict[str, Any] = {}
        if self.version is not None:
            out["version"] = self.version
        if self.upscaling_mode is not None:
            out["upscalingMode"] = self.upscaling_mode
        if self.idle_timeout_s is not None:
            out["idleTimeoutSeconds"] = self.idle_timeout_s
        if self.image is not None:
            out["image"] = self.image
        if self.image_pull_policy is not None:
            out["imagePullPolicy"] = self.image_pull_policy
        if self.compute is not None:
            out["resources"] = self.compute.resources()
        env = _env_list(self.env)
        if env:
            out["env"] = env
        return copy.deepcopy(out)


class GcsFaultTolerance(BaseModel):
    """GCS fault tolerance with an external Redis (``gcsFaultToleranceOptions``).

    Give the password either as a Kubernetes Secret reference (``password_secret=(name, key)``,
    rendered as ``redisPassword.valueFrom.secretKeyRef``: nothing secret in the spec) or as a
    value (``redis_password``, rendered as ``redisPassword.value``: mark the input secret).

    Attributes:
        redis_address: ``host:port`` of Redis, e.g. ``"redis:6379"``.
        redis_password: The password itself (left out of ``repr`` and of validation errors).
        password_secret: ``(secret name, key)`` of a Secret in the cluster's namespace.
        redis_username: Redis ACL user name, if any.
        external_storage_namespace: Storage namespace in Redis; KubeRay's default is the
            RayCluster's uid.

    """

    model_config = _SECRET_SAFE

    redis_address: str = Field(min_length=1)
    redis_password: str | None = Field(default=None, repr=False)
    password_secret: tuple[str, str] | None = None
    redis_username: str | None = None
    external_storage_namespace: str | None = None

    @model_validator(mode="after")
    def _one_password(self) -> GcsFaultTolerance:
        if self.redis_password is not None and self.password_secret is not None:
            raise ValueError(
                "Got both redis_password and password_secret. Give the password one way: a "
                "Secret reference (password_secret=(name, key)) or a value (redis_password)."
            )
        if self.password_secret is not None and not all(self.password_secret):
            raise ValueError(
                f"Got {self.password_secret!r} for password_secret. Give (secret name, key), "
                "both non-empty."
            )
        return self

    def to_spec(self) -> dict[str, Any]:
        """Render ``gcsFaultToleranceOptions``."""
        out: dict[str, Any] = {"redisAddress": self.redis_address}
        if self.password_secret is not None:
            name, key = self.password_secret
            out["redisPassword"] = {"valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        elif self.redis_password is not None:
            out["redisPassword"] = {"value": self.redis_password}
        if self.redis_username is not None:
            out["redisUsername"] = {"value": self.redis_username}
        if self.external_storage_namespace is not None:
            out["externalStorageNamespace"] = self.external_storage_namespace
        return out


class ClusterSpec(BaseModel):
    """A whole RayCluster, rendered by :meth:`to_spec` to KubeRay's ``spec``.

    Attributes:
        ray_version: ``rayVersion``; must match the Ray in the image (e.g. ``"2.52.0"``).
        image: Image of every Ray container; default ``rayproject/ray:<ray_version>``.
        head: The head group.
        workers: Worker groups (names unique).
        enable_serve_service: Ask KubeRay for a ``<name>-serve-svc`` Service. This is an
            annotation on the object, not a spec field: see :meth:`annotations`.
        autoscaling: ``True``, or :class:`AutoscalerOptions`, to run the in-tree autoscaler
            (which then owns worker ``replicas``).
        gcs_fault_tolerance: External Redis for GCS fault tolerance.
        auth_token: Token authentication for the dashboard and Ray clients
            (``authOptions.mode: token``; Ray 2.52.0 or later).

    """

    model_config = _SECRET_SAFE

    ray_version: str
    image: str | None = None
    head: HeadGroup
    workers: list[WorkerGroup] = Field(default_factory=list)
    enable_serve_service: bool = False
    autoscaling: bool | AutoscalerOptions = False
    gcs_fault_tolerance: GcsFaultTolerance | None = None
    auth_token: bool = False

    @field_validator("ray_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if parse_version(value) is None:
            raise ValueError(f'Got "{value}" for ray_version. Use a Ray version such as "2.52.0".')
        return value

    @model_validator(mode="after")
    def _check_cluster(self) -> ClusterSpec:
        seen: set[str] = set()
        for group in self.workers:
            if group.name in seen:
                raise ValueError(
                    f'Got worker group name "{group.name}" twice. Worker group names must be '
                    "unique."
                )
            seen.add(group.name)
        version = parse_version(self.ray_version)
        if self.auth_token and version is not None and not at_least(version, AUTH_MIN_RAY):
            raise ValueError(
                f'Got auth_token=True with ray_version "{self.ray_version}". Token '
                "authentication needs Ray 2.52.0 or later."
            )
        return self

    @property
    def default_image(self) -> str:
        """The image of Ray containers that do not name their own."""
        return self.image or f"{DEFAULT_IMAGE_REPOSITORY}:{self.ray_version}"

    @property
    def autoscaling_enabled(self) -> bool:
        """Whether the in-tree autoscaler runs (and so owns worker ``replicas``)."""
        return self.autoscaling is not False

    def annotations(self) -> dict[str, str]:
        """Object-level annotations the spec needs (``ray.io/enable-serve-service``)."""
        if self.enable_serve_service:
            return {ENABLE_SERVE_SERVICE_ANNOTATION: "true"}
        return {}

    def to_spec(self) -> dict[str, Any]:
        """Render KubeRay's RayCluster ``spec`` (camelCase; a fresh dict on every call)."""
        spec: dict[str, Any] = {"rayVersion": self.ray_version}
        if self.autoscaling_enabled:
            spec["enableInTreeAutoscaling"] = True
            if isinstance(self.autoscaling, AutoscalerOptions):
                options = self.autoscaling.to_spec()
                if options:
                    spec["autoscalerOptions"] = options
        if self.auth_token:
            spec["authOptions"] = {"mode": "token"}
        if self.gcs_fault_tolerance is not None:
            spec["gcsFaultToleranceOptions"] = self.gcs_fault_tolerance.to_spec()
        spec["headGroupSpec"] = self.head.to_spec(image=self.default_image)
        if self.workers:
            spec["workerGroupSpecs"] = [w.to_spec(image=self.default_image) for w in self.workers]
        return spec
