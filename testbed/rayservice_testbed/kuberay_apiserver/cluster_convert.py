"""V1 ``Cluster`` to RayCluster and back, rule for rule.

Into Kubernetes: ``util.NewRayCluster`` (``apiserver/pkg/util/cluster.go``); the object is built
as client-go serializes the Go structs, zero values included (``creationTimestamp: null`` in
pod template metadata, ``resources`` on every container, ``rayStartParams: null`` for a worker
group without parameters, ``divisor: "0"`` in resource field references, canonical quantities),
so the fake Kubernetes prunes and defaults exactly what a real one would receive.

Back out: ``model.PopulateRayClusterSpec`` and friends (``apiserver/pkg/model/converter.go``):
the compute template and image come back from the pod template's annotations, reserved env vars,
annotations and labels are filtered out, ``minReplicas`` is the stored one.

Go map iteration order is random (environment variables, ConfigMap items, autoscaler env); here
it is sorted by key.
"""

from __future__ import annotations

from typing import Any

from . import quantity, volumes
from .errors import GoPanic, errorf
from .messages import ENV_SOURCES, ENVIRONMENTS

COMPUTE_TEMPLATE_ANNOTATION = "ray.io/compute-template"
IMAGE_ANNOTATION = "ray.io/compute-image"
ENABLE_SERVE_SERVICE = "ray.io/enable-serve-service"
MANAGED_BY = "app.kubernetes.io/managed-by"
COMPONENT = "kuberay-apiserver"
DEFAULT_IMAGE_REPOSITORY = "rayproject/ray"

_NODE_DEFAULT_ANNOTATIONS = {
    "ray.io/compute-image",
    "openshift.io/scc",
    "cni.projectcalico.org/podIP",
    "ray.io/health-state",
    "ray.io/ft-enabled",
    "cni.projectcalico.org/podIPs",
    "cni.projectcalico.org/containerID",
    "ray.io/compute-template",
    "k8s.v1.cni.cncf.io/network-status",
    "k8s.v1.cni.cncf.io/networks-status",
}
_NODE_DEFAULT_LABELS = {
    "app.kubernetes.io/created-by",
    "app.kubernetes.io/name",
    "ray.io/cluster",
    "ray.io/cluster-dashboard",
    "ray.io/group",
    "ray.io/identifier",
    "ray.io/is-ray-node",
    "ray.io/node-type",
}
_HEAD_ENV = {
    "MY_POD_IP",
    "RAY_CLUSTER_NAME",
    "RAY_PORT",
    "RAY_ADDRESS",
    "RAY_USAGE_STATS_KUBERAY_IN_USE",
}
_WORKER_ENV = {
    "RAY_DISABLE_DOCKER_CPU_WARNING",
    "TYPE",
    "CPU_REQUEST",
    "CPU_LIMITS",
    "MEMORY_REQUESTS",
    "MEMORY_LIMITS",
    "MY_POD_NAME",
    "MY_POD_IP",
    "FQ_RAY_IP",
    "RAY_IP",
    "RAY_CLUSTER_NAME",
    "RAY_PORT",
    "RAY_ADDRESS",
    "RAY_USAGE_STATS_KUBERAY_IN_USE",
    "REDIS_PASSWORD",
}
_ENV_NAMES = {number: name for name, number in ENVIRONMENTS.items()}


def environment_name(number: int) -> str:
    """``Cluster_Environment.String()``: the enum name, or the number for an unknown value."""
    return _ENV_NAMES.get(number, str(number))


# -- into Kubernetes ------------------------------------------------------------------------------


def _field_ref(path: str) -> dict[str, Any]:
    return {"fieldRef": {"fieldPath": path}}


def _resource_ref(container: str, resource: str) -> dict[str, Any]:
    return {"resourceFieldRef": {"containerName": container, "resource": resource, "divisor": "0"}}


def convert_env(envs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``convertEnvironmentVariables``: values first, then references, each sorted by name."""
    if not envs:
        return []
    out: list[dict[str, Any]] = []
    values: dict[str, str] = envs.get("values") or {}
    for key in sorted(values):
        entry: dict[str, Any] = {"name": key}
        if values[key]:
            entry["value"] = values[key]
        out.append(entry)
    refs: dict[str, dict[str, Any]] = envs.get("valuesFrom") or {}
    for key in sorted(refs):
        ref = refs[key]
        source = ref.get("source", 0)
        name, ref_key = ref.get("name", ""), ref.get("key", "")
        if source == ENV_SOURCES["CONFIGMAP"]:
            value_from: dict[str, Any] = {"configMapKeyRef": {"name": name, "key": ref_key}}
        elif source == ENV_SOURCES["SECRET"]:
            value_from = {"secretKeyRef": {"name": name, "key": ref_key}}
        elif source == ENV_SOURCES["RESOURCEFIELD"]:
            value_from = _resource_ref(name, ref_key)
        else:
            value_from = _field_ref(ref_key)
        out.append({"name": key, "valueFrom": value_from})
    return out


def _tolerations(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The template's tolerations as V1 writes them: operator ``Exists`` else ``Equal``, effect
    ``NoExecute``/``NoSchedule`` else ``PreferNoSchedule``."""
    out = []
    for toleration in template.get("tolerations") or []:
        effect = toleration.get("effect", "")
        entry = {
            "key": toleration.get("key", ""),
            "operator": "Exists" if toleration.get("operator") == "Exists" else "Equal",
            "value": toleration.get("value", ""),
            "effect": effect if effect in ("NoExecute", "NoSchedule") else "PreferNoSchedule",
        }
        out.append({k: v for k, v in entry.items() if v})
    return out


def _security_context(context: dict[str, Any] | None) -> dict[str, Any] | None:
    """``buildSecurityContext``: capabilities always present, ``privileged`` only if given."""
    if context is None:
        return None
    capabilities: dict[str, Any] = {}
    caps = context.get("capabilities") or {}
    if caps.get("add"):
        capabilities["add"] = list(caps["add"])
    if caps.get("drop"):
        capabilities["drop"] = list(caps["drop"])
    out: dict[str, Any] = {"capabilities": capabilities}
    if "privileged" in context:
        out["privileged"] = bool(context["privileged"])
    return out


def _resources(template: dict[str, Any], memory_unit: bool) -> dict[str, Any]:
    cpu = quantity.canonical(str(template.get("cpu", 0)))
    unit = template.get("memory_unit", "") if memory_unit else "Gi"
    memory = quantity.canonical(f"{template.get('memory', 0)}{unit}")
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    gpu = template.get("gpu", 0)
    if gpu:
        limits[template.get("gpu_accelerator") or "nvidia.com/gpu"] = quantity.canonical(str(gpu))
    for name, amount in (template.get("extended_resources") or {}).items():
        if amount:
            limits[name] = quantity.canonical(str(amount))
    return {"limits": dict(limits), "requests": dict(limits)}


def _pod_template(
    group: dict[str, Any],
    template: dict[str, Any],
    container: dict[str, Any],
    memory_unit: bool,
) -> dict[str, Any]:
    """The parts head and worker pod templates share: metadata, resources, volumes, policies."""
    image = group.get("image", "")
    annotations = {COMPUTE_TEMPLATE_ANNOTATION: template.get("name", ""), IMAGE_ANNOTATION: image}
    annotations.update(group.get("annotations") or {})
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group.get("labels"):
        metadata["labels"] = dict(group["labels"])
    metadata["annotations"] = annotations
    container["resources"] = _resources(template, memory_unit)
    group_volumes = group.get("volumes") or []
    mounts = volumes.mounts(group_volumes)
    if mounts:
        container["volumeMounts"] = mounts
    policy = group.get("imagePullPolicy", "")
    container["imagePullPolicy"] = "Always" if policy.lower() == "always" else "IfNotPresent"
    security = _security_context(group.get("security_context"))
    if security is not None:
        container["securityContext"] = security
    spec: dict[str, Any] = {}
    pod_volumes = volumes.pod_volumes(group_volumes)
    if pod_volumes:
        spec["volumes"] = pod_volumes
    spec["containers"] = [container]
    account = group.get("service_account", "")
    if len(account) > 1:  # the real check: a one-letter name is ignored
        spec["serviceAccountName"] = account
    secret = group.get("image_pull_secret", "")
    if len(secret) > 1:
        spec["imagePullSecrets"] = [{"name": secret}]
    tolerations = _tolerations(template)
    if tolerations:
        spec["tolerations"] = tolerations
    return {"metadata": metadata, "spec": spec}


def _head_template(
    version: str,
    envs: dict[str, Any] | None,
    head: dict[str, Any],
    template: dict[str, Any],
    serve: bool,
    memory_unit: bool,
) -> dict[str, Any]:
    ports = [
        {"name": "redis", "containerPort": 6379},
        {"name": "head", "containerPort": 10001},
        {"name": "dashboard", "containerPort": 8265},
        {"name": "metrics", "containerPort": 8080},
    ]
    if serve:
        ports += [
            {"name": "dashboard-agent", "containerPort": 52365},
            {"name": "serve", "containerPort": 8000},
        ]
    env = [{"name": "MY_POD_IP", "valueFrom": _field_ref("status.podIP")}]
    env += convert_env(envs) + convert_env(head.get("environment"))
    container: dict[str, Any] = {
        "name": "ray-head",
        "image": head.get("image") or f"{DEFAULT_IMAGE_REPOSITORY}:{version}",
        "ports": ports,
        "env": env,
    }
    return _pod_template(head, template, container, memory_unit)


def _worker_template(
    version: str,
    envs: dict[str, Any] | None,
    worker: dict[str, Any],
    template: dict[str, Any],
    memory_unit: bool,
) -> dict[str, Any]:
    env = [
        {"name": "RAY_DISABLE_DOCKER_CPU_WARNING", "value": "1"},
        {"name": "TYPE", "value": "worker"},
        {"name": "CPU_REQUEST", "valueFrom": _resource_ref("ray-worker", "requests.cpu")},
        {"name": "CPU_LIMITS", "valueFrom": _resource_ref("ray-worker", "limits.cpu")},
        {"name": "MEMORY_REQUESTS", "valueFrom": _resource_ref("ray-worker", "requests.memory")},
        {"name": "MEMORY_LIMITS", "valueFrom": _resource_ref("ray-worker", "limits.memory")},
        {"name": "MY_POD_NAME", "valueFrom": _field_ref("metadata.name")},
        {"name": "MY_POD_IP", "valueFrom": _field_ref("status.podIP")},
    ]
    env += convert_env(envs) + convert_env(worker.get("environment"))
    container: dict[str, Any] = {
        "name": "ray-worker",
        "image": worker.get("image") or f"{DEFAULT_IMAGE_REPOSITORY}:{version}",
        "ports": [{"containerPort": 80}],
        "env": env,
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}},
    }
    return _pod_template(worker, template, container, memory_unit)


def _autoscaler_options(options: dict[str, Any] | None) -> dict[str, Any] | None:
    """``buildAutoscalerOptions``.

    Raises:
        GoError: An autoscaler cpu or memory that does not parse.

    """
    if options is None:
        return None
    out: dict[str, Any] = {}
    if options.get("idleTimeoutSeconds", 0) > 0:
        out["idleTimeoutSeconds"] = options["idleTimeoutSeconds"]
    if options.get("upscalingMode"):
        out["upscalingMode"] = options["upscalingMode"]
    if options.get("image"):
        out["image"] = options["image"]
    if options.get("imagePullPolicy", "").lower() == "always":
        out["imagePullPolicy"] = "Always"
    envs = options.get("envs")
    if envs is not None:
        values: dict[str, str] = envs.get("values") or {}
        if values:
            out["env"] = [
                {"name": k, **({"value": values[k]} if values[k] else {})} for k in sorted(values)
            ]
        refs: dict[str, dict[str, Any]] = envs.get("valuesFrom") or {}
        if refs:
            env_from = []
            for key in sorted(refs):
                source = refs[key].get("source", 0)
                if source == ENV_SOURCES["CONFIGMAP"]:
                    env_from.append({"configMapRef": {"name": refs[key].get("name", "")}})
                elif source == ENV_SOURCES["SECRET"]:
                    env_from.append({"secretRef": {"name": refs[key].get("name", "")}})
            out["envFrom"] = env_from
    if options.get("volumes"):
        out["volumeMounts"] = volumes.mounts(options["volumes"])
    cpu, memory = options.get("cpu", ""), options.get("memory", "")
    if cpu or memory:
        cpu, memory = cpu or "500m", memory or "512Mi"
        if quantity.parse(cpu) is None:
            raise errorf("cpu for autoscaler is not specified correctly")
        if quantity.parse(memory) is None:
            raise errorf("memory for autoscaler is not specified correctly")
        amounts = {"cpu": quantity.canonical(cpu), "memory": quantity.canonical(memory)}
        out["resources"] = {"limits": dict(amounts), "requests": dict(amounts)}
    return out


def new_ray_cluster(
    cluster: dict[str, Any],
    templates: dict[str, dict[str, Any]],
    *,
    memory_unit: bool,
) -> dict[str, Any]:
    """``util.NewRayCluster``: the RayCluster client-go sends (before the creation timestamp).

    Raises:
        GoError: A volume or autoscaler setting that does not convert (V1 answers 400).

    """
    spec: dict[str, Any] = cluster.get("cluster_spec") or {}
    head: dict[str, Any] = spec.get("head_group_spec") or {}
    version = cluster.get("version", "")
    envs = cluster.get("envs")
    annotations = dict(cluster.get("annotations") or {})
    serve = annotations.get(ENABLE_SERVE_SERVICE) == "true"
    head_group: dict[str, Any] = {
        "template": _head_template(
            version, envs, head, templates[head.get("compute_template", "")], serve, memory_unit
        ),
    }
    if head.get("enableIngress"):
        head_group["enableIngress"] = True
    head_group["rayStartParams"] = dict(head.get("ray_start_params") or {}) or None
    if head.get("service_type"):
        head_group["serviceType"] = head["service_type"]
    ray_spec: dict[str, Any] = {"headGroupSpec": head_group}
    if version:
        ray_spec["rayVersion"] = version
    workers = []
    for worker in spec.get("worker_group_spec") or []:
        replicas = worker.get("replicas", 0)
        workers.append(
            {
                "groupName": worker.get("group_name", ""),
                "replicas": replicas,
                "minReplicas": worker.get("min_replicas") or replicas,
                "maxReplicas": worker.get("max_replicas") or replicas,
                "rayStartParams": dict(worker.get("ray_start_params") or {}) or None,
                "template": _worker_template(
                    version,
                    envs,
                    worker,
                    templates[worker.get("compute_template", "")],
                    memory_unit,
                ),
                "scaleStrategy": {},
            }
        )
    if workers:
        ray_spec["workerGroupSpecs"] = workers
    if spec.get("headServiceAnnotations"):
        ray_spec["headServiceAnnotations"] = dict(spec["headServiceAnnotations"])
    if spec.get("enableInTreeAutoscaling"):
        ray_spec["enableInTreeAutoscaling"] = True
        options = _autoscaler_options(spec.get("autoscalerOptions"))
        if options is not None:
            ray_spec["autoscalerOptions"] = options
    labels = {
        "ray.io/cluster-name": cluster.get("name", ""),
        "ray.io/user": cluster.get("user", ""),
        "ray.io/version": version,
        "ray.io/environment": environment_name(cluster.get("environment", 0)),
        "app.kubernetes.io/name": "kuberay",
        MANAGED_BY: COMPONENT,
    }
    return {
        "kind": "RayCluster",
        "apiVersion": "ray.io/v1",
        "metadata": {
            "name": cluster.get("name", ""),
            "namespace": cluster.get("namespace", ""),
            "creationTimestamp": None,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": ray_spec,
        "status": {},
    }


# -- back out -------------------------------------------------------------------------------------


def _env_back(env: list[dict[str, Any]], reserved: set[str]) -> dict[str, Any]:
    """``convertEnvVariables``: both maps, possibly empty (the message is set either way)."""
    values: dict[str, str] = {}
    refs: dict[str, dict[str, Any]] = {}
    for var in env:
        name = var.get("name", "")
        if name in reserved:
            continue
        source = var.get("valueFrom")
        if source is None:
            values[name] = var.get("value", "")
        elif source.get("configMapKeyRef") is not None:
            ref = source["configMapKeyRef"]
            refs[name] = {"source": 0, "name": ref.get("name", ""), "key": ref.get("key", "")}
        elif source.get("secretKeyRef") is not None:
            ref = source["secretKeyRef"]
            refs[name] = {"source": 1, "name": ref.get("name", ""), "key": ref.get("key", "")}
        elif source.get("resourceFieldRef") is not None:
            ref = source["resourceFieldRef"]
            refs[name] = {
                "source": 2,
                "name": ref.get("containerName", ""),
                "key": ref.get("resource", ""),
            }
        elif source.get("fieldRef") is not None:
            refs[name] = {"source": 3, "key": source["fieldRef"].get("fieldPath", "")}
    return {"values": values, "valuesFrom": refs}


def _security_back(context: dict[str, Any] | None) -> dict[str, Any] | None:
    if context is None:
        return None
    caps = context.get("capabilities") or {}
    out: dict[str, Any] = {
        "capabilities": {"add": list(caps.get("add") or []), "drop": list(caps.get("drop") or [])}
    }
    if context.get("privileged") is not None:
        out["privileged"] = bool(context["privileged"])
    return out


def _group_back(group: dict[str, Any], container_name: str, reserved: set[str]) -> dict[str, Any]:
    """What head and worker groups share on the way back."""
    template = group.get("template") or {}
    metadata = template.get("metadata") or {}
    pod_spec = template.get("spec") or {}
    annotations = dict(metadata.get("annotations") or {})
    out: dict[str, Any] = {
        "image": annotations.get(IMAGE_ANNOTATION, ""),
        "compute_template": annotations.get(COMPUTE_TEMPLATE_ANNOTATION, ""),
    }
    found = volumes.read_back(template)
    if found:
        out["volumes"] = found
    kept = {k: v for k, v in annotations.items() if k not in _NODE_DEFAULT_ANNOTATIONS}
    if kept:
        out["annotations"] = kept
    labels = {
        k: v for k, v in (metadata.get("labels") or {}).items() if k not in _NODE_DEFAULT_LABELS
    }
    if labels:
        out["labels"] = labels
    containers = pod_spec.get("containers") or []
    named = next((c for c in containers if c.get("name") == container_name), None)
    if named is not None:
        if named.get("env"):
            out["environment"] = _env_back(named["env"], reserved)
        security = _security_back(named.get("securityContext"))
        if security is not None:
            out["security_context"] = security
    account = pod_spec.get("serviceAccountName", "")
    if len(account) > 1:
        out["service_account"] = account
    secrets = pod_spec.get("imagePullSecrets") or []
    if secrets:
        out["image_pull_secret"] = secrets[0].get("name", "")
    if not containers:
        raise GoPanic("pod template without containers: index out of range in converter")
    if containers[0].get("imagePullPolicy") == "Always":
        out["imagePullPolicy"] = "Always"
    return out


def _autoscaler_back(options: dict[str, Any] | None) -> dict[str, Any] | None:
    """``convertAutoscalingOptions``."""
    if options is None:
        return None
    out: dict[str, Any] = {}
    for key in ("idleTimeoutSeconds", "upscalingMode", "image", "imagePullPolicy"):
        if options.get(key) is not None:
            out[key] = options[key]
    env, env_from = options.get("env") or [], options.get("envFrom") or []
    if env or env_from:
        envs: dict[str, Any] = {}
        if env:
            envs["values"] = {e.get("name", ""): e.get("value", "") for e in env}
        if env_from:
            envs["valuesFrom"] = {
                str(i): (
                    {"source": 0, "name": (e["configMapRef"] or {}).get("name", "")}
                    if e.get("configMapRef") is not None
                    else {"source": 1, "name": (e.get("secretRef") or {}).get("name", "")}
                )
                for i, e in enumerate(env_from)
            }
        out["envs"] = envs
    if options.get("volumeMounts"):
        out["volumes"] = [
            {
                "name": m.get("name", ""),
                "mount_path": m.get("mountPath", ""),
                "read_only": bool(m.get("readOnly")),
                "mount_propagation_mode": {"HostToContainer": 1, "Bidirectional": 2}.get(
                    str(m.get("mountPropagation")), 0
                ),
            }
            for m in options["volumeMounts"]
        ]
    resources = options.get("resources")
    if resources is not None:
        amounts = resources.get("limits") or resources.get("requests") or {}
        out["cpu"] = quantity.canonical(str(amounts.get("cpu", "0")))
        out["memory"] = quantity.canonical(str(amounts.get("memory", "0")))
    return out


def cluster_spec_back(spec: dict[str, Any]) -> dict[str, Any]:
    """``model.PopulateRayClusterSpec``: a RayCluster spec as the V1 ``ClusterSpec`` message.

    Raises:
        GoPanic: Where the real converter dereferences nil (a worker group without
            ``minReplicas``/``maxReplicas``/``replicas``, a pod template without containers).

    """
    head = spec.get("headGroupSpec") or {}
    head_out = _group_back(head, "ray-head", _HEAD_ENV)
    head_out["ray_start_params"] = dict(head.get("rayStartParams") or {})
    head_out["service_type"] = head.get("serviceType", "")
    if head.get("enableIngress"):
        head_out["enableIngress"] = True
    out: dict[str, Any] = {"head_group_spec": head_out}
    workers = []
    for worker in spec.get("workerGroupSpecs") or []:
        if any(worker.get(k) is None for k in ("maxReplicas", "minReplicas", "replicas")):
            raise GoPanic("worker group without replicas: nil pointer dereference in converter")
        entry = {
            "group_name": worker.get("groupName", ""),
            "replicas": worker["replicas"],
            "min_replicas": worker["minReplicas"],
            "max_replicas": worker["maxReplicas"],
            "ray_start_params": dict(worker.get("rayStartParams") or {}),
        }
        entry.update(_group_back(worker, "ray-worker", _WORKER_ENV))
        workers.append(entry)
    if workers:
        out["worker_group_spec"] = workers
    if spec.get("enableInTreeAutoscaling"):
        out["enableInTreeAutoscaling"] = True
        options = _autoscaler_back(spec.get("autoscalerOptions"))
        if options is not None:
            out["autoscalerOptions"] = options
    if spec.get("headServiceAnnotations"):
        out["headServiceAnnotations"] = dict(spec["headServiceAnnotations"])
    return out
