"""V2's compute-template middleware (v1.5.0+, ``apiserversdk/util/template.go``).

On ``POST .../{rayclusters,rayjobs,rayservices}`` and ``PUT .../{name}`` (never PATCH) it reads
the body as JSON or YAML by Content-Type (anything else: 400 ``Failed to convert request body to
Golang map object``), finds the head group and worker groups under ``spec``,
``spec.rayClusterSpec`` (RayJob) or ``spec.rayClusterConfig`` (RayService), and for each group
naming a ``computeTemplate`` reads that ConfigMap in the path's namespace with the server's own
credentials (missing: 422 text/plain ``Cannot get compute template for name '<n>' in namespace
'<ns>', error: ...``). It then writes:

- ``cpu`` and ``memory`` (``<memory><memory_unit>``; a template made before v1.5 has no unit, so
  its memory is read in bytes) into the limits and requests of every container;
- the GPU (under ``gpu_accelerator``, default ``nvidia.com/gpu``) and extended resources, as
  numbers, into ``ray-head``/``ray-worker`` only;
- the ``ray.io/compute-template`` annotation of the pod template, and the template's tolerations
  appended to the pod's, copied field for field.

The ``computeTemplate`` key itself stays in the body: Kubernetes prunes it (a Warning) or refuses
it under ``fieldValidation=Strict``. The body is sent on as Go's JSON of the decoded map
(:mod:`gojson`), Content-Type ``application/json``. A body whose ``spec`` is not an object is
sent on untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import gojson
from .errors import GoError, Reply, go_http_error

TEMPLATE_ANNOTATION = "ray.io/compute-template"

TemplateLookup = Callable[[str, str], dict[str, Any]]
"""``(namespace, name)`` -> the ComputeTemplate message; raises ``GoError`` when it cannot."""


def _decode(body: bytes, content_type: str) -> Any:
    if "application/json" in content_type:
        return gojson.loads(body)
    if "application/yaml" in content_type:
        return gojson.loads_yaml(body)
    raise gojson.GoDecodeError(
        f"Cannot unmarshal content type that's not JSON or YAML: {content_type}"
    )


def _groups(spec: dict[str, Any]) -> tuple[Any, Any]:
    """The head group and worker groups where a RayCluster, RayJob or RayService keeps them."""
    holder = spec
    if isinstance(spec.get("rayClusterSpec"), dict):
        holder = spec["rayClusterSpec"]
    elif isinstance(spec.get("rayClusterConfig"), dict):
        holder = spec["rayClusterConfig"]
    head = holder.get("headGroupSpec")
    workers = holder.get("workerGroupSpecs")
    return (head if isinstance(head, dict) else None), (
        workers if isinstance(workers, list) else []
    )


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]`` as a map, replaced by a new one when it is anything else."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _apply(template: dict[str, Any], group: dict[str, Any], kind: str) -> None:
    """``applyComputeTemplateToRequest``."""
    cpu = str(template.get("cpu", 0))
    memory = f"{template.get('memory', 0)}{template.get('memory_unit', '')}"
    pod = group.get("template")
    if not isinstance(pod, dict):
        return
    _child(_child(pod, "metadata"), "annotations")[TEMPLATE_ANNOTATION] = template.get("name", "")
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    containers = spec.get("containers")
    for container in containers if isinstance(containers, list) else []:
        if not isinstance(container, dict):
            continue
        resources = _child(container, "resources")
        limits, requests = _child(resources, "limits"), _child(resources, "requests")
        for bag in (limits, requests):
            bag["cpu"] = cpu
            bag["memory"] = memory
        if container.get("name") == f"ray-{kind}":
            gpu = template.get("gpu", 0)
            if gpu:
                accelerator = template.get("gpu_accelerator") or "nvidia.com/gpu"
                limits[accelerator] = requests[accelerator] = gpu
            for name, amount in (template.get("extended_resources") or {}).items():
                limits[name] = requests[name] = amount
    if "tolerations" in template:
        existing = spec.get("tolerations")
        tolerations = list(existing) if isinstance(existing, list) else None  # nil in Go
        for toleration in template["tolerations"]:
            tolerations = tolerations or []
            tolerations.append(
                {k: toleration.get(k, "") for k in ("key", "operator", "value", "effect")}
            )
        spec["tolerations"] = tolerations


def apply_templates(
    body: bytes, content_type: str, namespace: str, lookup: TemplateLookup
) -> tuple[bytes, str] | Reply:
    """The body and Content-Type to send on, or the middleware's refusal."""
    try:
        document = _decode(body, content_type)
    except gojson.GoDecodeError:
        return go_http_error(400, "Failed to convert request body to Golang map object")
    if document is not None and not isinstance(document, dict):
        return go_http_error(400, "Failed to convert request body to Golang map object")
    spec = (document or {}).get("spec")
    if not isinstance(spec, dict):
        return body, content_type
    head, workers = _groups(spec)
    for group, kind in [(head, "head")] + [(w, "worker") for w in workers]:
        if not isinstance(group, dict) or not isinstance(group.get("computeTemplate"), str):
            continue
        name = group["computeTemplate"]
        try:
            template = lookup(namespace, name)
        except GoError as exc:
            return go_http_error(
                422,
                f"Cannot get compute template for name '{name}' in namespace '{namespace}', "
                f"error: {exc.error()}",
            )
        _apply(template, group, kind)
    return gojson.dumps(document).encode(), "application/json"
