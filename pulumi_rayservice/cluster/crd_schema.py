"""Validate a RayCluster ``spec`` the way the Kubernetes API server and the KubeRay operator would.

A bad spec must fail at ``pulumi preview`` with the field that is wrong, not minutes into
``pulumi up`` with a 422 from the API server or, worse, a cluster that the operator silently refuses
to reconcile (KubeRay reports its own validation failures only as events). So ``check`` runs
:func:`validate_cluster_spec`, which applies three layers in the order a real cluster applies them:

1. the API server's structural-schema handling of KubeRay's own CRD (``ray.io/v1``, shipped in the
   package as ``data/raycluster.v1.schema.json``, built by ``scripts/build_crd_schema.py``):
   unknown fields (pruned silently by a real server, rejected under ``fieldValidation=Strict``; we
   reject them, since a typo that is dropped is a setting that never applies), schema defaults, then
   OpenAPI v3.0 validation (int-or-string quantities, int32/int64, enums, patterns). This module
   owns this layer;
2. the operator's rules that the schema does not hold, and
3. one rule of our own on ``replicas``, both in :mod:`.operator_rules` (with the name check,
   :func:`~.operator_rules.validate_cluster_name`).

The Pulumi engine sends every number as a float, so specs are validated through
:func:`~pulumi_rayservice._util.normalize.canonical` (``2.0`` is ``2``; ``1.5`` stays a float and a
float cpu limit is refused as the API server refuses it).
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker

from pulumi_rayservice._util.normalize import canonical

from .operator_rules import operator_violations
from .violations import SpecViolation, join_path, short_repr

__all__ = [
    "apply_defaults",
    "crd_schema",
    "spec_schema",
    "validate_cluster_spec",
]

_SCHEMA_RESOURCE = "raycluster.v1.schema.json"


# Loading -------------------------------------------------------------------------------------

# One re-entrant lock: the provider host calls check on several threads, and the first load and
# validator build must happen once (functools.cache alone may run a slow first call twice).
_LOCK = threading.RLock()


@functools.cache
def _load_schema() -> dict[str, Any]:
    data = resources.files("pulumi_rayservice").joinpath("data").joinpath(_SCHEMA_RESOURCE)
    text = data.read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _spec_validator() -> Any:
    return OAS30Validator(spec_schema(), format_checker=oas30_format_checker)


def crd_schema() -> dict[str, Any]:
    """Return KubeRay's ``ray.io/v1`` RayCluster ``openAPIV3Schema`` (without descriptions).

    Loaded from the package once per process; every call returns the same object, so treat it as
    read-only.
    """
    with _LOCK:
        return _load_schema()


def spec_schema() -> dict[str, Any]:
    """Return the ``spec`` sub-schema of :func:`crd_schema` (read-only, shared)."""
    schema: dict[str, Any] = crd_schema()["properties"]["spec"]
    return schema


def _validator() -> Any:
    with _LOCK:
        return _spec_validator()


# Paths ---------------------------------------------------------------------------------------


def _path(parts: Iterable[str | int], root: str = "spec") -> str:
    path = root
    for part in parts:
        path = join_path(path, part)
    return path


# Structural schema: unknown fields and defaults -----------------------------------------------


def _preserves_unknown(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def _unknown_fields(schema: Mapping[str, Any], value: Any, path: str) -> Iterator[SpecViolation]:
    """Yield the fields a structural schema prunes (what ``fieldValidation=Strict`` rejects)."""
    if isinstance(value, Mapping):
        props: Mapping[str, Any] | None = schema.get("properties")
        additional = schema.get("additionalProperties")
        if props is not None:
            for key, sub in value.items():
                child = props.get(key)
                if child is not None:
                    yield from _unknown_fields(child, sub, join_path(path, key))
                elif isinstance(additional, Mapping):
                    yield from _unknown_fields(additional, sub, join_path(path, key))
                elif additional is True or _preserves_unknown(schema):
                    continue
                else:
                    yield SpecViolation(join_path(path, key), _unknown_message(key, props))
        elif isinstance(additional, Mapping):
            for key, sub in value.items():
                yield from _unknown_fields(additional, sub, join_path(path, key))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, sub in enumerate(value):
                yield from _unknown_fields(items, sub, join_path(path, index))


def _unknown_message(key: str, known: Iterable[str]) -> str:
    message = f"unknown field {key!r}"
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return message


def _default(schema: Mapping[str, Any], value: Any) -> Any:
    if isinstance(value, dict):
        props: Mapping[str, Any] | None = schema.get("properties")
        additional = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, sub in value.items():
            child = props.get(key) if props is not None else None
            if child is None and isinstance(additional, Mapping):
                child = additional
            out[key] = _default(child, sub) if child is not None else sub
        if props is not None:
            for key, sub_schema in props.items():
                if key not in out and "default" in sub_schema:
                    out[key] = _default(sub_schema, copy.deepcopy(sub_schema["default"]))
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_default(items, v) for v in value]
    return value


def apply_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``spec`` with the CRD's schema defaults filled in, as the API server does.

    For example a worker group without ``minReplicas`` gets ``0`` and without ``maxReplicas``
    ``2147483647``; this is what a read of the object returns. ``spec`` itself is not changed.

    Args:
        spec: A RayCluster ``spec`` (camelCase), already canonical.

    Returns:
        The defaulted copy.

    """
    defaulted: dict[str, Any] = _default(spec_schema(), dict(spec))
    return defaulted


# OpenAPI validation --------------------------------------------------------------------------


def _schema_violations(spec: Mapping[str, Any]) -> Iterator[SpecViolation]:
    for error in _validator().iter_errors(spec):
        parts = list(error.absolute_path)
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        validator = error.validator
        if validator == "required":
            match = re.match(r"^'(.+)' is a required property$", error.message)
            name = match.group(1) if match else None
            if name is not None:
                yield SpecViolation(_path([*parts, name]), f"required field {name!r} is missing")
                continue
        if validator == "anyOf" and schema.get("x-kubernetes-int-or-string"):
            hint = (
                "; write a quantity as a string, e.g. '1500m', '2', '4Gi'"
                if "pattern" in schema
                else ""
            )
            message = f"{short_repr(error.instance)} is not of type 'integer' or 'string'{hint}"
            yield SpecViolation(_path(parts), message)
            continue
        if validator == "pattern" and schema.get("x-kubernetes-int-or-string"):
            message = (
                f"{short_repr(error.instance)} is not a Kubernetes quantity "
                "(e.g. '2', '1500m', '4Gi')"
            )
            yield SpecViolation(_path(parts), message)
            continue
        if validator == "format" and error.validator_value in ("int32", "int64"):
            message = f"{short_repr(error.instance)} is out of range for {error.validator_value}"
            yield SpecViolation(_path(parts), message)
            continue
        if validator == "type":
            message = f"{short_repr(error.instance)} is not of type {error.validator_value!r}"
            yield SpecViolation(_path(parts), message)
            continue
        yield SpecViolation(_path(parts), _truncate(error.message))


def _truncate(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


# Public entry points -------------------------------------------------------------------------


def validate_cluster_spec(
    spec: Mapping[str, Any], *, annotations: Mapping[str, str] | None = None
) -> list[SpecViolation]:
    """Return every reason a RayCluster ``spec`` would be refused; an empty list means valid.

    Checks, in order: unknown fields (pruned by the API server, so a typo never applies),
    KubeRay's CRD schema after the schema's defaults are applied, then the operator's own rules.
    Integral floats (the Pulumi engine's ``2.0``) count as ints; a float cpu limit (``1.5``) is
    refused as the API server refuses it.

    Args:
        spec: The RayCluster ``spec`` (camelCase; what stands under ``rayClusterConfig:``).
        annotations: The object's annotations, for the rules that read them
            (``ray.io/ft-enabled``, ``ray.io/external-storage-namespace``).

    Returns:
        The violations, each with a field path starting at ``spec``.

    """
    if not isinstance(spec, Mapping):
        return [
            SpecViolation(
                "spec", f"must be an object (a RayCluster spec), got {type(spec).__name__}"
            )
        ]
    raw: dict[str, Any] = canonical(spec)
    violations = list(_unknown_fields(spec_schema(), raw, "spec"))
    defaulted = apply_defaults(raw)
    violations.extend(_schema_violations(defaulted))
    # The API server refuses a schema violation before the operator ever sees the object, so an
    # operator rule about a field the schema already refused would only repeat it.
    refused = tuple(v.path for v in violations)
    violations.extend(
        v
        for v in operator_violations(raw, defaulted, annotations or {})
        if not any(_is_within(v.path, p) for p in refused)
    )
    return violations


def _is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith((parent + ".", parent + "["))
