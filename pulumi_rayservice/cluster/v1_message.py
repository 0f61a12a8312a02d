"""A RayCluster spec as the KubeRay API server's V1 ``Cluster`` message, or why it cannot be one.

V1 (``proto/cluster.proto``) describes a cluster in its own, smaller terms: groups name a compute
template instead of resources, the head's container and ports are the server's own
(``apiserver/pkg/util/cluster.go``), and there is no place for most of a pod template. The server
drops unknown fields without a word. So the spec is converted by a list of what V1 carries, and
everything else is a Check failure naming the field, never lost on the way:

- carried: ``rayVersion``; ``enableInTreeAutoscaling`` and ``autoscalerOptions`` (idle timeout,
  upscaling mode, image, pull policy); ``headServiceAnnotations``; per group the compute
  template, ``rayStartParams``, the Ray container's image, pull policy (Always or IfNotPresent)
  and plain ``env`` values, the pod template's annotations and labels, service account and one
  image pull secret; the head's ``serviceType`` and ``enableIngress``; worker ``groupName``,
  ``replicas``, ``minReplicas``, ``maxReplicas``.
- head ports: the server gives the head 6379, 10001, 8265, 8080 (and 52365, 8000 with
  ``ray.io/enable-serve-service``); ports the program lists are accepted when they are among
  those (named the server's way), refused otherwise.
- what V1 validates is checked here first: a head needs ``rayStartParams``; a worker's
  ``maxReplicas`` is not 0 and ``minReplicas`` is not above it; and ``minReplicas: 0`` with
  ``replicas`` above 0 cannot be expressed (the server stores ``replicas`` as the minimum).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .compute_template import COMPUTE_TEMPLATE_KEY

__all__ = ["HEAD_PORTS", "SERVE_PORTS", "v1_cluster_message"]

HEAD_PORTS = frozenset({6379, 10001, 8265, 8080})
"""The ports the API server gives every head container (``buildHeadPodTemplate``)."""
SERVE_PORTS = frozenset({52365, 8000})
"""Added to the head with ``ray.io/enable-serve-service: "true"``."""
ENABLE_SERVE = "ray.io/enable-serve-service"
PULL_POLICIES = ("Always", "IfNotPresent")
AUTOSCALER_KEYS = {
    "idleTimeoutSeconds": "idleTimeoutSeconds",
    "upscalingMode": "upscalingMode",
    "image": "image",
    "imagePullPolicy": "imagePullPolicy",
}
Failures = list[tuple[str, str]]


def v1_cluster_message(
    spec: Mapping[str, Any],
    *,
    name: str,
    namespace: str,
    user: str,
    annotations: Mapping[str, str],
) -> tuple[dict[str, Any], Failures]:
    """The V1 ``Cluster`` for ``spec``, and (field, reason) for everything V1 cannot carry."""
    failures: Failures = []
    top_known = {
        "rayVersion", "enableInTreeAutoscaling", "autoscalerOptions", "headServiceAnnotations",
        "headGroupSpec", "workerGroupSpecs",
    }  # fmt: skip
    _refuse_others(spec, top_known, "spec", failures)
    cluster_spec: dict[str, Any] = {}
    serve = str(annotations.get(ENABLE_SERVE, "")).lower() == "true"
    head = spec.get("headGroupSpec")
    if isinstance(head, Mapping):
        cluster_spec["headGroupSpec"] = _head(head, serve, failures)
    workers = spec.get("workerGroupSpecs") or []
    cluster_spec["workerGroupSpec"] = [
        _worker(group, index, failures)
        for index, group in enumerate(workers)
        if isinstance(group, Mapping)
    ]
    if not cluster_spec["workerGroupSpec"]:
        cluster_spec.pop("workerGroupSpec")
    if spec.get("enableInTreeAutoscaling"):
        cluster_spec["enableInTreeAutoscaling"] = True
    options = spec.get("autoscalerOptions")
    if isinstance(options, Mapping):
        _refuse_others(options, set(AUTOSCALER_KEYS), "spec.autoscalerOptions", failures)
        carried = {AUTOSCALER_KEYS[k]: v for k, v in options.items() if k in AUTOSCALER_KEYS}
        if carried:
            cluster_spec["autoscalerOptions"] = carried
    if spec.get("headServiceAnnotations"):
        cluster_spec["headServiceAnnotations"] = dict(spec["headServiceAnnotations"])
    message: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "user": user,
        "version": str(spec.get("rayVersion") or ""),
        "clusterSpec": cluster_spec,
    }
    if annotations:
        message["annotations"] = dict(annotations)
    if not message["version"]:
        failures.append(("spec.rayVersion", "required: V1 names the cluster's Ray version"))
    return message, failures


def _head(head: Mapping[str, Any], serve: bool, failures: Failures) -> dict[str, Any]:
    where = "spec.headGroupSpec"
    _refuse_others(
        head,
        {COMPUTE_TEMPLATE_KEY, "serviceType", "enableIngress", "rayStartParams", "template"},
        where,
        failures,
    )
    group = _group_common(head, where, "ray-head", failures)
    if head.get("serviceType"):
        group["serviceType"] = str(head["serviceType"])
    if head.get("enableIngress"):
        group["enableIngress"] = True
    if not group.get("rayStartParams"):
        failures.append(
            (
                f"{where}.rayStartParams",
                "V1 requires the head's rayStartParams to hold at least one entry (e.g. "
                "dashboard-host: 0.0.0.0)",
            )
        )
    allowed = HEAD_PORTS | (SERVE_PORTS if serve else frozenset())
    for index, port in enumerate(_container(head).get("ports") or []):
        number = port.get("containerPort") if isinstance(port, Mapping) else None
        if number not in allowed:
            failures.append(
                (
                    f"{where}.template.spec.containers[0].ports[{index}]",
                    f"port {number} is not one V1 gives the head ({_listed(allowed)}"
                    + ("" if serve else f"; {ENABLE_SERVE} adds 52365 and 8000")
                    + "); V1 has no place for other ports",
                )
            )
    return group


def _worker(worker: Mapping[str, Any], index: int, failures: Failures) -> dict[str, Any]:
    where = f"spec.workerGroupSpecs[{index}]"
    _refuse_others(
        worker,
        {"groupName", COMPUTE_TEMPLATE_KEY, "replicas", "minReplicas", "maxReplicas",
         "rayStartParams", "template"},
        where,
        failures,
    )  # fmt: skip
    group: dict[str, Any] = {"groupName": str(worker.get("groupName") or "")}
    group.update(_group_common(worker, where, "ray-worker", failures))
    replicas = int(worker.get("replicas") or 0)
    low = int(worker.get("minReplicas") or 0)
    high = int(worker.get("maxReplicas") or 0)
    if high == 0:
        failures.append((f"{where}.maxReplicas", "V1 requires maxReplicas above 0"))
    if low == 0 and replicas > 0:
        failures.append(
            (
                f"{where}.minReplicas",
                f"V1 cannot express minReplicas 0 with replicas {replicas}: the API server "
                f"stores replicas ({replicas}) as the minimum. Set minReplicas to {replicas}, "
                "or use api='v2'",
            )
        )
    group.update({"replicas": replicas, "minReplicas": low, "maxReplicas": high})
    for ports_at, port in enumerate(_container(worker).get("ports") or []):
        failures.append(
            (
                f"{where}.template.spec.containers[0].ports[{ports_at}]",
                "V1 has no place for a worker's ports",
            )
        )
        del port
    return group


def _group_common(
    group: Mapping[str, Any], where: str, container_name: str, failures: Failures
) -> dict[str, Any]:
    """What head and workers share: template, start params, the Ray container, pod metadata."""
    out: dict[str, Any] = {}
    template_name = group.get(COMPUTE_TEMPLATE_KEY)
    if not isinstance(template_name, str) or not template_name:
        failures.append(
            (
                f"{where}.{COMPUTE_TEMPLATE_KEY}",
                "V1 requires every group to name a compute template (compute_template=); it has "
                "no place for inline resources",
            )
        )
    else:
        out["computeTemplate"] = template_name
    params = group.get("rayStartParams") or {}
    out["rayStartParams"] = {str(k): str(v) for k, v in dict(params).items()}
    pod = group.get("template") or {}
    _refuse_others(pod, {"metadata", "spec"}, f"{where}.template", failures)
    metadata = pod.get("metadata") or {}
    _refuse_others(metadata, {"annotations", "labels"}, f"{where}.template.metadata", failures)
    if metadata.get("annotations"):
        out["annotations"] = dict(metadata["annotations"])
    if metadata.get("labels"):
        out["labels"] = dict(metadata["labels"])
    pod_spec = pod.get("spec") or {}
    _refuse_others(
        pod_spec,
        {"containers", "serviceAccountName", "imagePullSecrets"},
        f"{where}.template.spec",
        failures,
    )
    if pod_spec.get("serviceAccountName"):
        out["serviceAccount"] = str(pod_spec["serviceAccountName"])
    secrets = pod_spec.get("imagePullSecrets") or []
    if len(secrets) > 1:
        failures.append((f"{where}.template.spec.imagePullSecrets", "V1 carries one at most"))
    elif secrets:
        out["imagePullSecret"] = str((secrets[0] or {}).get("name") or "")
    containers = pod_spec.get("containers") or []
    if len(containers) != 1:
        failures.append(
            (
                f"{where}.template.spec.containers",
                f"V1 makes exactly one container ({container_name}); got {len(containers)}",
            )
        )
    container = _container(group)
    at = f"{where}.template.spec.containers[0]"
    _refuse_others(container, {"name", "image", "imagePullPolicy", "env", "ports"}, at, failures)
    if container.get("name") not in (None, container_name):
        failures.append((f"{at}.name", f"V1 names it {container_name}"))
    if container.get("image"):
        out["image"] = str(container["image"])
    policy = container.get("imagePullPolicy")
    if policy:
        if policy not in PULL_POLICIES:
            failures.append((f"{at}.imagePullPolicy", "V1 takes Always or IfNotPresent"))
        out["imagePullPolicy"] = str(policy)
    values: dict[str, str] = {}
    for index, entry in enumerate(container.get("env") or []):
        if not isinstance(entry, Mapping) or set(entry) - {"name", "value"}:
            failures.append((f"{at}.env[{index}]", "V1 carries plain values only (name and value)"))
            continue
        values[str(entry.get("name"))] = str(entry.get("value") or "")
    if values:
        out["environment"] = {"values": values}
    return out


def _listed(ports: frozenset[int]) -> str:
    return ", ".join(str(port) for port in sorted(ports))


def _container(group: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or []
    first = containers[0] if containers else {}
    return first if isinstance(first, Mapping) else {}


def _refuse_others(node: Any, known: set[str], where: str, failures: Failures) -> None:
    if not isinstance(node, Mapping):
        return
    for key in sorted(str(k) for k in node if k not in known):
        failures.append(
            (f"{where}.{key}", "V1's cluster API has no place for it; use api='v2' to keep it")
        )
