"""The KubeRay API server's compute templates: what V1 can carry, and what a template puts in a pod.

A compute template (``proto/config.proto`` ``ComputeTemplate``) is the API server's name for the
resources of one Ray pod: whole CPUs, memory as a whole number and its unit, GPUs, extended
resources and tolerations. It is stored as a ConfigMap and read back by name.

- :func:`v1_message` turns ``rs.ComputeTemplate`` into the V1 message, and refuses (naming the
  field) what V1 cannot carry instead of letting the server drop or round it: a fraction of a CPU,
  memory that is not a whole number of one unit, toleration fields other than key, operator,
  value and effect.
- :func:`expand` writes a template into a head or worker group exactly as KubeRay's V2
  compute-template middleware does (``apiserversdk/util/template.go``, v1.5+): cpu and memory
  into the limits and requests of every container, GPUs and extended resources into the Ray
  container, the ``ray.io/compute-template`` pod annotation, the tolerations appended. The
  providers do it themselves, so a PATCH (which the middleware skips) and a v1.4 server (which
  has none) get the template's resources too, and the object never carries the
  ``computeTemplate`` key that Kubernetes would prune (or refuse under strict validation).
- :func:`contract` undoes :func:`expand` on a live spec read back, so an unchanged cluster shows
  no drift and a changed resource still does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from .._util.k8s_names import dns1123_subdomain_problem
from .._util.normalize import canonical
from .spec import DEFAULT_GPU_RESOURCE, ComputeTemplate

__all__ = [
    "COMPUTE_TEMPLATE_ANNOTATION",
    "COMPUTE_TEMPLATE_KEY",
    "changed_since",
    "contract",
    "expand",
    "template_names",
    "template_problems",
    "v1_message",
    "without_template_keys",
]

COMPUTE_TEMPLATE_KEY = "computeTemplate"
"""The key of a head or worker group that names a template (KubeRay v1.5's V2 middleware)."""
COMPUTE_TEMPLATE_ANNOTATION = "ray.io/compute-template"
"""The pod-template annotation that names the template a group's resources came from."""
UINT32_MAX = 2**32 - 1
TOLERATION_FIELDS = ("key", "operator", "value", "effect")
"""What V1's ``PodToleration`` carries; anything else (``tolerationSeconds``) would be dropped."""
_WHOLE_QUANTITY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)$")
_RAY_CONTAINER = {"head": "ray-head", "worker": "ray-worker"}


def v1_message(
    template: ComputeTemplate, *, name: str, namespace: str
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The V1 ``ComputeTemplate`` message, and (field, reason) for what V1 cannot carry."""
    failures: list[tuple[str, str]] = []
    cpu = _whole_cpu(template.cpu)
    if cpu is None:
        failures.append(
            (
                "template.cpu",
                f"got {template.cpu!r}; a V1 compute template counts whole CPUs (1, 2, ...): the "
                "API server refuses a fraction (write a whole number, or use inline compute= "
                "on the group)",
            )
        )
    memory = _memory_and_unit(template.memory)
    if memory is None:
        failures.append(
            (
                "template.memory",
                f"got {template.memory!r}; a V1 compute template holds memory as a whole number "
                'and its unit (4 for 4Gi, "512Mi", "1536Mi" for 1.5Gi)',
            )
        )
    message: dict[str, Any] = {"name": name, "namespace": namespace}
    if cpu is not None:
        message["cpu"] = cpu
    if memory is not None:
        message["memory"], message["memory_unit"] = memory
    if template.gpu:
        message["gpu"] = _bounded(template.gpu, "template.gpu", failures)
    if template.gpu_accelerator:
        message["gpu_accelerator"] = template.gpu_accelerator
    if template.extended_resources:
        message["extended_resources"] = {
            key: _bounded(value, f"template.extended_resources.{key}", failures)
            for key, value in template.extended_resources.items()
        }
    tolerations = []
    for index, toleration in enumerate(template.tolerations):
        extra = sorted(str(k) for k in toleration if k not in TOLERATION_FIELDS)
        if extra:
            failures.append(
                (
                    f"template.tolerations[{index}]",
                    f"has {extra}; a V1 compute template's toleration carries only "
                    f"{', '.join(TOLERATION_FIELDS)}",
                )
            )
        tolerations.append({k: str(toleration[k]) for k in TOLERATION_FIELDS if k in toleration})
    if tolerations:
        message["tolerations"] = tolerations
    return message, failures


def _whole_cpu(cpu: float | int | str) -> int | None:
    if isinstance(cpu, str):
        return int(cpu) if cpu.isdigit() and 0 < int(cpu) <= UINT32_MAX else None
    if isinstance(cpu, float) and not cpu.is_integer():
        return None
    value = int(cpu)
    return value if 0 < value <= UINT32_MAX else None


def _memory_and_unit(memory: int | str) -> tuple[int, str] | None:
    if isinstance(memory, int):
        return (memory, "Gi") if 0 < memory <= UINT32_MAX else None
    match = _WHOLE_QUANTITY.match(memory)
    if match is None or not 0 < int(match.group(1)) <= UINT32_MAX:
        return None
    return int(match.group(1)), match.group(2)


def _bounded(value: int, field: str, failures: list[tuple[str, str]]) -> int:
    if value > UINT32_MAX:
        failures.append((field, f"got {value}; V1 carries at most {UINT32_MAX}"))
    return value


def template_names(spec: Mapping[str, Any]) -> list[str]:
    """Every template the spec's groups name, each once, in order."""
    names: dict[str, None] = {}
    for _, group in _groups(spec):
        name = group.get(COMPUTE_TEMPLATE_KEY)
        if isinstance(name, str):
            names.setdefault(name, None)
    return list(names)


def without_template_keys(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with every group's ``computeTemplate`` key left out (what the schema checks)."""
    stripped: dict[str, Any] = copy.deepcopy(dict(spec))
    for _, group in _groups(stripped):
        group.pop(COMPUTE_TEMPLATE_KEY, None)
    return stripped


def template_problems(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for group ``computeTemplate`` values that cannot name a template."""
    failures = []
    for key, group in _keyed_groups(spec):
        if COMPUTE_TEMPLATE_KEY not in group:
            continue
        value = group[COMPUTE_TEMPLATE_KEY]
        where = "spec.headGroupSpec" if key == "head" else _worker_path(spec, group)
        if not isinstance(value, str):
            failures.append((f"{where}.{COMPUTE_TEMPLATE_KEY}", "must be a template's name"))
            continue
        problem = dns1123_subdomain_problem(value)
        if problem:
            failures.append((f"{where}.{COMPUTE_TEMPLATE_KEY}", problem))
    return failures


def _worker_path(spec: Mapping[str, Any], group: Mapping[str, Any]) -> str:
    groups = spec.get("workerGroupSpecs") or []
    index = next(i for i, g in enumerate(groups) if g is group)
    return f"spec.workerGroupSpecs[{index}]"


def expand(spec: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The spec with each named template written into its group, the ``computeTemplate`` key gone.

    ``templates`` maps a name to the V1 answer for it (``cpu``, ``memory``, ``memoryUnit``,
    ``gpu``, ``gpuAccelerator``, ``extendedResources``, ``tolerations``; zero values absent).
    """
    expanded: dict[str, Any] = copy.deepcopy(dict(spec))
    for role, group in _groups(expanded):
        name = group.pop(COMPUTE_TEMPLATE_KEY, None)
        if isinstance(name, str):
            _apply(group, templates[name], name, role)
    return expanded


def changed_since(
    live: Mapping[str, Any], desired: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Templates that now write other resources than a live group made from them holds.

    A template replaced on the server under the same name: a patch of the group would give the
    new resources to new pods only, beside old ones of the old size.
    """
    expanded = {key: group for key, group in _keyed_groups(expand(desired, templates))}
    wanted = {key: group for key, group in _keyed_groups(desired)}
    changed: list[str] = []
    for key, group in _keyed_groups(live):
        name = (wanted.get(key) or {}).get(COMPUTE_TEMPLATE_KEY)
        if not isinstance(name, str) or key not in expanded:
            continue
        metadata = (group.get("template") or {}).get("metadata") or {}
        if (metadata.get("annotations") or {}).get(COMPUTE_TEMPLATE_ANNOTATION) != name:
            continue
        if _sizing(group) != _sizing(expanded[key]) and name not in changed:
            changed.append(name)
    return changed


def _sizing(group: Mapping[str, Any]) -> Any:
    """What a template decides of a group's pods: each container's resources, the tolerations."""
    pod_spec = (group.get("template") or {}).get("spec") or {}
    containers = pod_spec.get("containers") or []
    return canonical(
        [[c.get("resources") for c in containers if isinstance(c, Mapping)],
         pod_spec.get("tolerations")]
    )  # fmt: skip


def contract(
    live: Mapping[str, Any], desired: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """A live spec with what :func:`expand` wrote taken out again where it is still as written.

    Only groups the program lets name a template are touched, and only values equal to the
    template's: a resource changed on the cluster stays and shows as drift.
    """
    result: dict[str, Any] = copy.deepcopy(dict(live))
    wanted = {key: group for key, group in _keyed_groups(desired)}
    for key, group in _keyed_groups(result):
        name = (wanted.get(key) or {}).get(COMPUTE_TEMPLATE_KEY)
        if not isinstance(name, str) or name not in templates:
            continue
        metadata = (group.get("template") or {}).get("metadata") or {}
        if (metadata.get("annotations") or {}).get(COMPUTE_TEMPLATE_ANNOTATION) != name:
            continue
        _remove(group, templates[name], name, "head" if key == "head" else "worker")
        group[COMPUTE_TEMPLATE_KEY] = name
    return result


def _amounts(template: Mapping[str, Any], role: str) -> tuple[dict[str, str], dict[str, str]]:
    """(what every container gets, what the Ray container gets besides), as quantity strings."""
    # No unit: a server before v1.5, where every template is in Gi (the proto's default).
    unit = str(template.get("memoryUnit") or template.get("memory_unit") or "Gi")
    common = {
        "cpu": str(int(template.get("cpu") or 0)),
        "memory": f"{int(template.get('memory') or 0)}{unit}",
    }
    ray: dict[str, str] = {}
    gpu = int(template.get("gpu") or 0)
    if gpu:
        accelerator = template.get("gpuAccelerator") or template.get("gpu_accelerator")
        ray[str(accelerator or DEFAULT_GPU_RESOURCE)] = str(gpu)
    extended = template.get("extendedResources") or template.get("extended_resources") or {}
    for key, value in extended.items() if isinstance(extended, Mapping) else []:
        ray[str(key)] = str(int(value))
    return common, ray


def _tolerations(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    listed = template.get("tolerations") or []
    return [
        {k: str(t.get(k) or "") for k in TOLERATION_FIELDS}
        for t in listed
        if isinstance(t, Mapping)
    ]


def _apply(group: dict[str, Any], template: Mapping[str, Any], name: str, role: str) -> None:
    pod = group.setdefault("template", {})
    pod.setdefault("metadata", {}).setdefault("annotations", {})[COMPUTE_TEMPLATE_ANNOTATION] = name
    pod_spec = pod.setdefault("spec", {})
    common, ray = _amounts(template, role)
    for container in pod_spec.get("containers") or []:
        resources = container.setdefault("resources", {})
        for side in ("limits", "requests"):
            amounts = resources.setdefault(side, {})
            amounts.update(common)
            if container.get("name") == _RAY_CONTAINER[role]:
                amounts.update(ray)
    tolerations = _tolerations(template)
    if tolerations:
        pod_spec["tolerations"] = [*(pod_spec.get("tolerations") or []), *tolerations]


def _remove(group: dict[str, Any], template: Mapping[str, Any], name: str, role: str) -> None:
    pod = group.get("template") or {}
    metadata = pod.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    annotations.pop(COMPUTE_TEMPLATE_ANNOTATION, None)
    if not annotations:
        metadata.pop("annotations", None)
    if not metadata:
        pod.pop("metadata", None)
    pod_spec = pod.get("spec") or {}
    common, ray = _amounts(template, role)
    for container in pod_spec.get("containers") or []:
        resources = container.get("resources") or {}
        for side in ("limits", "requests"):
            amounts = resources.get(side) or {}
            written = {**common, **(ray if container.get("name") == _RAY_CONTAINER[role] else {})}
            for key, value in written.items():
                if str(amounts.get(key)) == value:
                    amounts.pop(key)
            if not amounts:
                resources.pop(side, None)
        if not resources:
            container.pop("resources", None)
    tolerations = _tolerations(template)
    present = pod_spec.get("tolerations") or []
    if tolerations and present[-len(tolerations) :] == tolerations:
        rest = present[: -len(tolerations)]
        if rest:
            pod_spec["tolerations"] = rest
        else:
            pod_spec.pop("tolerations", None)


def _groups(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role, group) of the head and every worker group that is a mapping."""
    return [("head" if key == "head" else "worker", group) for key, group in _keyed_groups(spec)]


def _keyed_groups(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``("head", group)`` and ``("worker:<groupName>", group)`` for each group of a spec."""
    found: list[tuple[str, dict[str, Any]]] = []
    head = spec.get("headGroupSpec")
    if isinstance(head, dict):
        found.append(("head", head))
    groups = spec.get("workerGroupSpecs")
    for group in groups if isinstance(groups, list) else []:  # (or anything, unchecked yet)
        if isinstance(group, dict):
            found.append((f"worker:{group.get('groupName')}", group))
    return found
