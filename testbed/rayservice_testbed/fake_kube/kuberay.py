"""KubeRay's rules as pure functions: what the stand-in operator computes and writes.

Kept apart from the controller loop (``operator.py``) so that each rule reads like the KubeRay
code it mirrors (``GetWorkerGroupDesiredReplicas``, ``CalculatePodResource``,
``FindHeadPodReadyCondition``, ``ValidateRayClusterMetadata``...; the generic
``meta.SetStatusCondition`` is ``meta.set_condition``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from fractions import Fraction
from typing import Any

from . import meta
from .resources import RAYCLUSTERS
from .store import StoredEvent
from .validation import dns1035_label_errors

MAX_CLUSTER_NAME = 53
HEAD_POD_IP = "127.0.0.1"
NODE_NAME = "fake-node"
GCS_FT_FINALIZER = "ray.io/gcs-ft-redis-cleanup-finalizer"
POD_TEMPLATE_HASH = "ray.io/pod-template-hash"

DEFAULT_PORTS: dict[str, int] = {
    "client": 10001,
    "gcs-server": 6379,
    "dashboard": 8265,
    "metrics": 8080,
    "serve": 8000,
}


def only_status_change(event: StoredEvent) -> bool:
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        m = {
            k: v
            for k, v in obj["metadata"].items()
            if k not in ("resourceVersion", "managedFields")
        }
        return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": m}

    assert event.prev is not None
    return strip(event.obj) == strip(event.prev)


def operator_validation(obj: dict[str, Any]) -> tuple[str, str] | None:
    """KubeRay's own checks (not the API server's); a failure is an event, nothing else."""
    name = obj["metadata"]["name"]
    namespace = obj["metadata"]["namespace"]
    if len(name) > MAX_CLUSTER_NAME:
        return (
            "InvalidRayClusterMetadata",
            f"The RayCluster metadata is invalid {namespace}/{name}: RayCluster name should be "
            f"no more than {MAX_CLUSTER_NAME} characters",
        )
    errors = dns1035_label_errors(name)
    if errors:
        return (
            "InvalidRayClusterMetadata",
            f"The RayCluster metadata is invalid {namespace}/{name}: RayCluster name should be "
            f"a valid DNS1035 label: {errors}",
        )
    spec = obj.get("spec") or {}
    head_containers = (
        ((spec.get("headGroupSpec") or {}).get("template") or {}).get("spec", {}).get("containers")
    )
    if not head_containers:
        return (
            "InvalidRayClusterSpec",
            f"The RayCluster spec is invalid {namespace}/{name}: headGroupSpec should have at "
            "least one container",
        )
    seen = set()
    for group in spec.get("workerGroupSpecs") or []:
        group_name = group.get("groupName")
        if group_name in seen:
            return (
                "InvalidRayClusterSpec",
                f"The RayCluster spec is invalid {namespace}/{name}: worker group names must be "
                f"unique: {group_name}",
            )
        seen.add(group_name)
        if not ((group.get("template") or {}).get("spec") or {}).get("containers"):
            return (
                "InvalidRayClusterSpec",
                f"The RayCluster spec is invalid {namespace}/{name}: workerGroupSpec should have "
                "at least one container",
            )
        if int_or_zero(group.get("minReplicas")) > int_or_zero(group.get("maxReplicas")):
            return (
                "InvalidRayClusterSpec",
                f"The RayCluster spec is invalid {namespace}/{name}: worker group {group_name} "
                f"has minReplicas {group.get('minReplicas')} greater than maxReplicas "
                f"{group.get('maxReplicas')}",
            )
    return None


def gcs_ft_enabled(obj: dict[str, Any]) -> bool:
    annotations = obj["metadata"].get("annotations") or {}
    return (
        bool((obj.get("spec") or {}).get("gcsFaultToleranceOptions"))
        or annotations.get("ray.io/ft-enabled") == "true"
    )


def int_or_zero(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def hosts(group: dict[str, Any]) -> int:
    return max(1, int_or_zero(group.get("numOfHosts")) or 1)


def group_desired(group: dict[str, Any]) -> int:
    """KubeRay's GetWorkerGroupDesiredReplicas: replicas clamped to [min, max], times hosts."""
    if group.get("suspend") is True:
        return 0
    low, high = int_or_zero(group.get("minReplicas")), int_or_zero(group.get("maxReplicas"))
    replicas = int_or_zero(group.get("replicas")) if group.get("replicas") is not None else low
    replicas = high if low > high else min(max(replicas, low), high)
    return replicas * hosts(group)


def cluster_labels(cluster: str, node_type: str, *, group: str | None = None) -> dict[str, str]:
    labels = {
        "ray.io/cluster": cluster,
        "ray.io/node-type": node_type,
        "ray.io/identifier": f"{cluster}-{node_type}",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    if group is not None:
        labels["ray.io/group"] = group
        labels["ray.io/is-ray-node"] = "yes"
    return labels


def owner_reference(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": RAYCLUSTERS.api_version,
        "kind": RAYCLUSTERS.kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def head_ports(obj: dict[str, Any]) -> dict[str, int]:
    """The head Service's ports, as KubeRay's ``getServicePorts``.

    The head container's ports (an unnamed one named ``<port>-port``) if it declares any, else
    the defaults; ``metrics`` 8080 added when missing. A cluster that declares ports never gets
    the defaults it left out: the KubeRay API server's V1 clusters declare ``redis`` and ``head``,
    not ``gcs-server`` and ``client``.
    """
    containers = (((obj.get("spec") or {}).get("headGroupSpec") or {}).get("template") or {}).get(
        "spec", {}
    ).get("containers") or []
    ports: dict[str, int] = {}
    for port in (containers[0].get("ports") or []) if containers else []:
        number = port.get("containerPort")
        if isinstance(number, int) and not isinstance(number, bool):
            ports[str(port.get("name") or f"{number}-port")] = number
    if not ports:
        ports = dict(DEFAULT_PORTS)
    ports.setdefault("metrics", DEFAULT_PORTS["metrics"])
    return ports


def first_image(pod: dict[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return str(containers[0].get("image") or "")


def pod_ready(pod: dict[str, Any]) -> bool:
    pod_status = pod.get("status") or {}
    return pod_status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod_status.get("conditions") or []
    )


def head_pod_ready_condition(pod: dict[str, Any]) -> tuple[str, str, str, str]:
    """KubeRay's FindHeadPodReadyCondition: mirror the pod's Ready condition."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
            reason = cond.get("reason") or ("HeadPodRunningAndReady" if ready else "Unknown")
            return ("HeadPodReady", "True" if ready else "False", reason, cond.get("message", ""))
    return ("HeadPodReady", "False", "Unknown", "")


def pod_status(
    state: str, image: str, detail: str = "", *, container: str = "ray-head"
) -> dict[str, Any]:
    stamp = meta.now()
    ready = state == "ready"
    base: dict[str, Any] = {
        "phase": "Pending" if state == "image_pull_error" else "Running",
        "hostIP": "127.0.0.1",
        "startTime": stamp,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
            {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
            {
                "type": "ContainersReady",
                "status": "True" if ready else "False",
                "lastTransitionTime": stamp,
                **(
                    {}
                    if ready
                    else {
                        "reason": "ContainersNotReady",
                        "message": f"containers with unready status: [{container}]",
                    }
                ),
            },
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": stamp,
                **(
                    {}
                    if ready
                    else {
                        "reason": "ContainersNotReady",
                        "message": f"containers with unready status: [{container}]",
                    }
                ),
            },
        ],
    }
    if state != "image_pull_error":
        base["podIP"] = HEAD_POD_IP
        base["podIPs"] = [{"ip": HEAD_POD_IP}]
    if state == "image_pull_error":
        container_state: dict[str, Any] = {
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{image}"',
            }
        }
    elif state == "crash":
        container_state = {"waiting": {"reason": "CrashLoopBackOff", "message": detail[-1000:]}}
    else:
        container_state = {"running": {"startedAt": stamp}}
    base["containerStatuses"] = [
        {
            "name": container,
            "image": image,
            "imageID": "",
            "ready": ready,
            "started": state not in ("image_pull_error", "crash"),
            "restartCount": 0,
            "state": container_state,
        }
    ]
    return base


def strip_times(value: Any) -> Any:
    """A status without timestamps, to decide whether anything meaningful changed."""
    if isinstance(value, dict):
        return {
            k: strip_times(v)
            for k, v in value.items()
            if k
            not in (
                "lastTransitionTime",
                "lastUpdateTime",
                "startTime",
                "startedAt",
                "stateTransitionTimes",
            )
        }
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


def keep_transition_times(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Keep the old lastTransitionTime of pod conditions whose status did not change."""
    merged = copy.deepcopy(new)
    old_conditions = {c.get("type"): c for c in old.get("conditions") or []}
    for cond in merged.get("conditions") or []:
        previous = old_conditions.get(cond.get("type"))
        if previous and previous.get("status") == cond.get("status"):
            cond["lastTransitionTime"] = previous.get(
                "lastTransitionTime", cond["lastTransitionTime"]
            )
    old_statuses = old.get("containerStatuses") or []
    for index, cs in enumerate(merged.get("containerStatuses") or []):
        old_cs = old_statuses[index] if index < len(old_statuses) else {}
        running = (cs.get("state") or {}).get("running")
        old_running = (old_cs.get("state") or {}).get("running")
        if running and old_running:
            running["startedAt"] = old_running.get("startedAt", running["startedAt"])
    return merged


# -- resources (status.desiredCPU etc.) ----------------------------------------------------------

_SUFFIX = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[A-Za-z]*)$")


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes quantity (``500m``, ``2Gi``, ``1e3``, ``2``) as an exact number."""
    if isinstance(value, (int, float)):
        return Fraction(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return Fraction(0)
    number, suffix = match.groups()
    if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
        return Fraction(number) * Fraction(10) ** int(suffix[1:])
    return Fraction(number) * _SUFFIX.get(suffix, Fraction(0))


def format_cpu(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{math.ceil(value * 1000)}m"


def format_memory(value: Fraction) -> str:
    whole = math.ceil(value)
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIX[suffix])
        if whole and whole % unit == 0:
            return f"{whole // unit}{suffix}"
    return str(whole)


def pod_resources(template: dict[str, Any]) -> dict[str, Fraction]:
    """KubeRay's CalculatePodResource: requests, with limits filling missing names."""
    totals: dict[str, Fraction] = {}
    for container in (template.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for name, quantity in merged.items():
            totals[name] = totals.get(name, Fraction(0)) + parse_quantity(quantity)
    return totals


def desired_resources(spec: dict[str, Any]) -> dict[str, str]:
    totals = pod_resources((spec.get("headGroupSpec") or {}).get("template") or {})
    for group in spec.get("workerGroupSpecs") or []:
        count = group_desired(group)
        for name, quantity in pod_resources(group.get("template") or {}).items():
            totals[name] = totals.get(name, Fraction(0)) + quantity * count
    gpus = sum((q for name, q in totals.items() if name.endswith("gpu")), Fraction(0))
    return {
        "desiredCPU": format_cpu(totals.get("cpu", Fraction(0))),
        "desiredMemory": format_memory(totals.get("memory", Fraction(0))),
        "desiredGPU": format_cpu(gpus),
        "desiredTPU": format_cpu(totals.get("google.com/tpu", Fraction(0))),
    }


def cluster_cpus(obj: dict[str, Any], cap: int) -> int:
    """Logical CPUs for the one Ray head standing in for the whole cluster."""
    spec = obj.get("spec") or {}
    head = spec.get("headGroupSpec") or {}
    params = head.get("rayStartParams") or {}
    if "num-cpus" in params:
        total = parse_quantity(params["num-cpus"])
    else:
        total = pod_resources(head.get("template") or {}).get("cpu", Fraction(1))
    for group in spec.get("workerGroupSpecs") or []:
        group_params = group.get("rayStartParams") or {}
        if "num-cpus" in group_params:
            per_pod = parse_quantity(group_params["num-cpus"])
        else:
            per_pod = pod_resources(group.get("template") or {}).get("cpu", Fraction(1))
        total += per_pod * group_desired(group)
    return max(1, min(cap, math.floor(total)))


# -- what the operator writes ---------------------------------------------------------------------


def head_service(obj: dict[str, Any]) -> dict[str, Any]:
    """KubeRay's head Service: headless, named ``<name>-head-svc`` unless the spec names it."""
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    spec = obj.get("spec") or {}
    service_meta = ((spec.get("headGroupSpec") or {}).get("headService") or {}).get(
        "metadata"
    ) or {}
    ports = [
        {
            "name": port_name,
            "port": number,
            "targetPort": number,
            "protocol": "TCP",
            "appProtocol": "tcp",
        }
        for port_name, number in head_ports(obj).items()
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_meta.get("name") or f"{name}-head-svc",
            "namespace": namespace,
            "labels": cluster_labels(name, "head"),
            "annotations": dict(spec.get("headServiceAnnotations") or {}),
            "ownerReferences": [owner_reference(obj)],
        },
        "spec": {
            "clusterIP": "None",
            "selector": {"ray.io/cluster": name, "ray.io/node-type": "head"},
            "ports": ports,
            "publishNotReadyAddresses": True,
            "type": "ClusterIP",
        },
    }


def serve_service(obj: dict[str, Any]) -> dict[str, Any]:
    """``<name>-serve-svc`` for a RayCluster annotated ``ray.io/enable-serve-service``."""
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    port = head_ports(obj).get("serve", DEFAULT_PORTS["serve"])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{name}-serve-svc",
            "namespace": namespace,
            "labels": {
                "ray.io/originated-from-cr-name": name,
                "ray.io/originated-from-crd": "RayCluster",
                "ray.io/serve": f"{name}-serve",
            },
            "ownerReferences": [owner_reference(obj)],
        },
        "spec": {
            "selector": {"ray.io/cluster": name},
            "ports": [
                {
                    "name": "serve",
                    "port": port,
                    "targetPort": port,
                    "protocol": "TCP",
                    "appProtocol": "tcp",
                }
            ],
            "type": "ClusterIP",
        },
    }


def pod_manifest(
    obj: dict[str, Any], template: dict[str, Any], generate_name: str, labels: dict[str, str]
) -> dict[str, Any]:
    """A Ray pod from a group's template, owned by the cluster, bound to the fake node."""
    template_meta = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    spec["nodeName"] = NODE_NAME
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": generate_name,
            "namespace": obj["metadata"]["namespace"],
            "labels": {**(template_meta.get("labels") or {}), **labels},
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [owner_reference(obj)],
        },
        "spec": spec,
    }


def event_manifest(
    involved: dict[str, Any], kind: str, reason: str, message: str, source: str
) -> dict[str, Any]:
    """A core/v1 Event as client-go's recorder (or the kubelet) writes it."""
    stamp = meta.now()
    involved_meta = involved["metadata"]
    kubelet = source == "kubelet"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{involved_meta['name']}.{meta.random_hex(16)}",
            "namespace": involved_meta["namespace"],
        },
        "involvedObject": {
            "apiVersion": involved.get("apiVersion", "v1"),
            "kind": involved.get("kind"),
            "name": involved_meta["name"],
            "namespace": involved_meta["namespace"],
            "uid": involved_meta["uid"],
            "resourceVersion": involved_meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "source": {"component": source, **({"host": NODE_NAME} if kubelet else {})},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": kind,
        "reportingComponent": source,
        "reportingInstance": NODE_NAME if kubelet else "",
    }


def template_hash(template: dict[str, Any]) -> str:
    """A short stable hash of a pod template, to notice template changes."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
