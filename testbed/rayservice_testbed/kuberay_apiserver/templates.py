"""V1 compute templates: validation, the ConfigMap they are stored as, and the answers.

A compute template is a ConfigMap of the template's name (``util.NewComputeTemplate`` in
``apiserver/pkg/util/cluster.go``): labels ``ray.io/config-type=compute-template`` and
``ray.io/compute-template=<name>``, all-string data (``extended_resources`` is the JSON of a Go
map, ``"null"`` when there is none; ``tolerations`` only when some are set). It is read back by
``model.FromKubeToAPIComputeTemplate``: a GET reads any ConfigMap of that name (no label check),
a list filters by the label. Nothing stops deleting a template that clusters still name.

Handlers follow ``apiserver/pkg/server/compute_template_server.go`` and
``apiserver/pkg/manager/resource_manager.go`` step for step, so the errors (codes and wording)
come out as the real ones.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import (
    GoError,
    already_exist_error,
    errorf,
    internal_server_error,
    invalid_input_error,
    not_found_error,
    wrap,
)
from .kube import KubeClient, KubeError
from .releases import Release

CONFIG_TYPE_LABEL = "ray.io/config-type"
TEMPLATE_LABEL = "ray.io/compute-template"
TEMPLATE_SELECTOR = f"{CONFIG_TYPE_LABEL}=compute-template"

_QUANTITY_FORMAT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_SUFFIXES = {"", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}


def quantity_error(quantity: str) -> str | None:
    """``resource.ParseQuantity``'s error for ``<digits><unit>``, or None if it parses."""
    match = re.fullmatch(r"([+-]?[0-9.]+)(.*)", quantity, re.DOTALL)
    if match is None:
        return _QUANTITY_FORMAT
    suffix = match.group(2)
    shape = re.fullmatch(r"[eEinumkKMGTP]*[-+]?[0-9]*", suffix)
    if shape is None:
        return _QUANTITY_FORMAT
    if suffix in _SUFFIXES or re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        return None
    return "unable to parse quantity's suffix"


def config_map_path(namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    return base if name is None else f"{base}/{name}"


def _go_json(value: Any, *, struct: bool = False) -> str:
    """``encoding/json.Marshal`` of strings and numbers in maps (keys sorted) or structs (fields
    in declaration order); HTML characters and U+2028/U+2029 escaped, other non-ASCII kept."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=not struct, ensure_ascii=False)
    for char, escape in GO_JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


GO_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
"""What encoding/json escapes inside strings besides what JSON requires."""


def to_config_map(template: dict[str, Any], release: Release) -> dict[str, Any]:
    """``util.NewComputeTemplate``: the ConfigMap client-go sends.

    Raises:
        GoError: ``invalid memory quantity ...`` (v1.5+: the memory and unit must parse).

    """
    name = template.get("name", "")
    memory = str(template.get("memory", 0))
    extended = template.get("extended_resources")
    data: dict[str, str] = {
        "name": name,
        "namespace": template.get("namespace", ""),
        "cpu": str(template.get("cpu", 0)),
        "memory": memory,
        "gpu": str(template.get("gpu", 0)),
        "gpu_accelerator": template.get("gpu_accelerator", ""),
        "extended_resources": _go_json(extended) if extended is not None else "null",
    }
    if release.memory_unit:
        unit = template.get("memory_unit") or "Gi"
        problem = quantity_error(memory + unit)
        if problem is not None:
            raise errorf(f"invalid memory quantity {json.dumps(memory + unit)}: {problem}")
        data["memory_unit"] = unit
    tolerations = template.get("tolerations") or []
    if tolerations:
        # protoc-gen-go's struct tags: key, operator, value, effect, each omitempty.
        data["tolerations"] = _go_json(
            [
                {k: t[k] for k in ("key", "operator", "value", "effect") if t.get(k)}
                for t in tolerations
            ],
            struct=True,
        )
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": template.get("namespace", ""),
            "creationTimestamp": None,
            "labels": {CONFIG_TYPE_LABEL: "compute-template", TEMPLATE_LABEL: name},
        },
        "data": dict(sorted(data.items())),
    }


def _uint32(text: str | None) -> int:
    """``strconv.ParseUint(s, 10, 32)`` with the error ignored (0), as the converter does."""
    if text is None or not re.fullmatch(r"[0-9]+", text) or int(text) >= 2**32:
        return 0
    return int(text)


def from_config_map(config_map: dict[str, Any], release: Release) -> dict[str, Any]:
    """``model.FromKubeToAPIComputeTemplate``: a ConfigMap as the ComputeTemplate message.

    Bad JSON in ``extended_resources`` or ``tolerations`` is logged and left out by the real
    server; here it is left out.
    """
    data: dict[str, str] = config_map.get("data") or {}
    meta = config_map.get("metadata") or {}
    template: dict[str, Any] = {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "cpu": _uint32(data.get("cpu")),
        "memory": _uint32(data.get("memory")),
        "gpu": _uint32(data.get("gpu")),
        "gpu_accelerator": data.get("gpu_accelerator", ""),
    }
    if release.memory_unit:
        template["memory_unit"] = data.get("memory_unit", "")
    if "extended_resources" in data:
        try:
            extended = json.loads(data["extended_resources"])
        except ValueError:
            extended = None
        if isinstance(extended, dict):
            template["extended_resources"] = {
                str(k): int(v) for k, v in extended.items() if isinstance(v, int)
            }
    if "tolerations" in data:
        try:
            tolerations = json.loads(data["tolerations"])
        except ValueError:
            tolerations = None
        if isinstance(tolerations, list):
            template["tolerations"] = [
                {k: str(t.get(k, "")) for k in ("key", "operator", "value", "effect")}
                for t in tolerations
                if isinstance(t, dict)
            ]
    return template


# -- the resource manager's steps ----------------------------------------------------------------


def get_config_map(
    kube: KubeClient, namespace: str, name: str, deadline: float | None
) -> dict[str, Any]:
    """``getComputeTemplateByName``: any ConfigMap of that name.

    Raises:
        GoError: ``NotFoundError`` (code 5) when absent, a plain wrapped error otherwise.

    """
    try:
        return kube.get(config_map_path(namespace, name), deadline=deadline)
    except KubeError as exc:
        if exc.not_found:
            raise not_found_error(exc, f"Compute template {name} not found") from exc
        raise wrap(exc, "Get compute template failed") from exc


def create(
    kube: KubeClient, namespace: str, template: dict[str, Any], release: Release, deadline: float
) -> dict[str, Any]:
    """``CreateComputeTemplate``: validation, duplicate check, the ConfigMap, the answer."""
    try:
        _validate_create(namespace, template)
    except GoError as exc:
        raise wrap(exc, "Validate compute template runtime request failed.") from exc
    template = {**template, "namespace": namespace}
    name = template.get("name", "")
    try:
        try:
            get_config_map(kube, namespace, name, deadline)
        except GoError:
            pass  # any failure to read it counts as "does not exist yet"
        else:
            raise already_exist_error(
                f"Compute template with name {name} already exists in namespace {namespace}"
            )
        try:
            config_map = to_config_map(template, release)
        except GoError as exc:
            raise internal_server_error(
                exc, f"Failed to convert compute runtime ({namespace}/{name})"
            ) from exc
        try:
            created = kube.create(config_map_path(namespace), config_map, deadline=deadline)
        except KubeError as exc:
            raise internal_server_error(
                exc, f"Failed to create a compute runtime for ({namespace}/{name})"
            ) from exc
    except GoError as exc:
        raise wrap(exc, "Create compute template failed.") from exc
    return from_config_map(created, release)


def _validate_create(namespace: str, template: dict[str, Any]) -> None:
    """``ValidateCreateComputeTemplateRequest``, in its order."""
    if not namespace:
        raise invalid_input_error("Namespace is empty. Please specify a valid value.")
    if namespace != template.get("namespace", ""):
        raise invalid_input_error(
            "The namespace in the request is different from the namespace defined in the "
            "compute template."
        )
    if not template.get("name"):
        raise invalid_input_error("Compute template name is empty. Please specify a valid value.")
    if not template.get("cpu"):
        raise invalid_input_error("Cpu amount is zero. Please specify a valid value.")
    if not template.get("memory"):
        raise invalid_input_error("Memory amount is zero. Please specify a valid value.")


def _require(namespace: str, name: str) -> None:
    if not name:
        raise invalid_input_error("Compute template name is empty. Please specify a valid value.")
    if not namespace:
        raise invalid_input_error("Namespace is empty. Please specify a valid value.")


def get(
    kube: KubeClient, namespace: str, name: str, release: Release, deadline: float
) -> dict[str, Any]:
    """``GetComputeTemplate``."""
    _require(namespace, name)
    try:
        config_map = get_config_map(kube, namespace, name, deadline)
    except GoError as exc:
        raise wrap(exc, "Get compute template failed.") from exc
    return from_config_map(config_map, release)


def list_in(kube: KubeClient, namespace: str, release: Release, deadline: float) -> dict[str, Any]:
    """``ListComputeTemplates``: the labelled ConfigMaps of one namespace."""
    if not namespace:
        raise invalid_input_error("Namespace is empty. Please specify a valid value.")
    try:
        try:
            listed = kube.list(
                config_map_path(namespace), labelSelector=TEMPLATE_SELECTOR, deadline=deadline
            )
        except KubeError as exc:
            raise wrap(exc, "List compute templates failed") from exc
    except GoError as exc:
        raise wrap(exc, f"List compute templates in namespace {namespace} failed.") from exc
    return {"compute_templates": [from_config_map(i, release) for i in listed.get("items") or []]}


def list_all(kube: KubeClient, release: Release, deadline: float) -> dict[str, Any]:
    """``ListAllComputeTemplates``: every Namespace walked in turn."""
    items: list[dict[str, Any]] = []
    try:
        try:
            namespaces = kube.list("/api/v1/namespaces", deadline=deadline)
        except KubeError as exc:
            raise wrap(exc, "Failed to fetch all Kubernetes namespaces") from exc
        for namespace in namespaces.get("items") or []:
            name = (namespace.get("metadata") or {}).get("name", "")
            try:
                listed = kube.list(
                    config_map_path(name), labelSelector=TEMPLATE_SELECTOR, deadline=deadline
                )
            except KubeError as exc:
                raise wrap(exc, f"List compute templates failed in {name}") from exc
            items.extend(listed.get("items") or [])
    except GoError as exc:
        raise wrap(exc, "List all compute templates from all namespaces failed.") from exc
    return {"compute_templates": [from_config_map(i, release) for i in items]}


def delete(kube: KubeClient, namespace: str, name: str, deadline: float) -> dict[str, Any]:
    """``DeleteComputeTemplate``: refused by nothing, not even clusters that name it."""
    _require(namespace, name)
    try:
        config_map = get_config_map(kube, namespace, name, deadline)
    except GoError as exc:
        raise wrap(exc, "Get compute template failure") from exc
    try:
        kube.delete(config_map_path(namespace, config_map["metadata"]["name"]), deadline=deadline)
    except KubeError as exc:
        raise internal_server_error(exc, f"failed to delete compute template {name}.") from exc
    return {}
