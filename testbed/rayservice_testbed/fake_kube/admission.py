"""What the real server does to an object between decoding and storage, per type.

For custom resources the steps and their order follow apiextensions-apiserver with the real CRD
that the type's :class:`ResourceType` names (``crd``: KubeRay's ``ray.io_rayclusters.yaml``, the
Gateway API's ``gateway.networking.k8s.io_gateways.yaml`` and ``..._httproutes.yaml``, in
``crds/``; the served version's ``openAPIV3Schema``):

1. prune unknown fields (kept under ``x-kubernetes-preserve-unknown-fields``), each reported as a
   ``Warning``, or refused with 400 under ``fieldValidation=Strict``;
2. drop ``null`` for non-nullable fields without a default, then apply schema ``default``s
   (a Gateway's ``status`` default, "Waiting for controller", included);
3. validate with an OpenAPI 3.0 validator (nullable, int-or-string, patterns, enums), plus the
   ``x-kubernetes-list-type`` map/set uniqueness rules; failures become 422 causes worded as the
   real ones (``spec.workerGroupSpecs[0].replicas in body must be of type integer: "string"``).

CEL rules (``x-kubernetes-validations``) are not evaluated, and neither is KubeRay's own
operator-side validation: the real API server does not do the latter either.

The fake is a referee, so it reads the CRDs itself and shares nothing with the package under
test. For built-in types (Service, Pod, Namespace, Event, ConfigMap) it applies the defaults and
the few validations that matter for this project.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import ipaddress
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator

from . import status
from .resources import (
    CONFIGMAPS,
    LEASES,
    NAMESPACES,
    PODS,
    RAYCLUSTERS,
    SERVICES,
    ResourceType,
)
from .status import Cause
from .validation import config_map_key_errors, dns1123_label_errors

CRDS = Path(__file__).with_name("crds")
CRD_PATH = CRDS / "ray.io_rayclusters.yaml"


def _load_yaml_schema(path: Path, version: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        crd = yaml.load(handle, Loader=loader)
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise LookupError(f"{path.name} has no version {version}")


@functools.cache
def crd_schema(path: Path = CRD_PATH, version: str = "v1") -> dict[str, Any]:
    """The ``openAPIV3Schema`` of ``version`` in the CRD file; parsed once per process.

    The parsed schema is also cached as JSON in the temp dir, keyed by the YAML's hash, so that
    the next process skips the YAML parse.
    """
    raw = path.read_bytes()
    digest = hashlib.sha256(raw + version.encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"fake-kube-crd-{digest}.json"
    try:
        loaded: dict[str, Any] = json.loads(cache.read_text())
        return loaded
    except (OSError, ValueError):
        pass
    schema = _load_yaml_schema(path, version)
    tmp = cache.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(json.dumps(schema, separators=(",", ":")))
        tmp.replace(cache)
    except OSError:
        pass
    return schema


# --------------------------------------------------------------------------------------------
# Paths


def join_path(path: tuple[str | int, ...]) -> str:
    """``("spec", "workerGroupSpecs", 0, "replicas")`` -> ``spec.workerGroupSpecs[0].replicas``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def go_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _quote(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, (dict, list)) else json.dumps(value)[:200]


# --------------------------------------------------------------------------------------------
# Structural schema operations


class StructuralSchema:
    """Pruning, defaulting and validation of one CRD version's schema."""

    def __init__(self, schema: dict[str, Any], kind: str, api_version: str) -> None:
        self.schema = schema
        self.kind = kind
        self.api_version = api_version
        checker = FormatChecker(formats=())
        checker.checks("date-time", raises=ValueError)(_is_date_time)
        validation_schema = copy.deepcopy(schema)
        # ObjectMeta is validated by the metadata rules, not by the CRD schema.
        validation_schema.setdefault("properties", {})["metadata"] = {"type": "object"}
        self._validator = OAS30Validator(validation_schema, format_checker=checker)

    # -- 1. pruning --------------------------------------------------------------------------

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Remove fields the schema does not declare; return their paths (``spec.foo``)."""
        unknown: list[str] = []
        self._prune(obj, self.schema, (), unknown, root=True)
        return unknown

    def _prune(
        self,
        value: Any,
        schema: dict[str, Any],
        path: tuple[str | int, ...],
        unknown: list[str],
        *,
        root: bool = False,
    ) -> None:
        if isinstance(value, dict):
            props = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
            embedded = root or schema.get("x-kubernetes-embedded-resource", False)
            for key in list(value):
                if embedded and key in ("apiVersion", "kind", "metadata"):
                    continue
                if key in props:
                    self._prune(value[key], props[key], (*path, key), unknown)
                elif isinstance(additional, dict):
                    self._prune(value[key], additional, (*path, key), unknown)
                elif additional is True or preserve:
                    continue
                else:
                    del value[key]
                    unknown.append(join_path((*path, key)))
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for index, item in enumerate(value):
                    self._prune(item, items, (*path, index), unknown)

    # -- 2. nulls and defaults ----------------------------------------------------------------

    def default(self, obj: dict[str, Any]) -> None:
        """Drop non-nullable nulls without default, then apply ``default`` values recursively."""
        self._default(obj, self.schema, root=True)

    def _default(self, value: Any, schema: dict[str, Any], *, root: bool = False) -> None:
        if isinstance(value, dict):
            props = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            for key in list(value):
                prop = props.get(key) or (additional if isinstance(additional, dict) else None)
                if root and key == "metadata":
                    continue
                if (
                    value[key] is None
                    and prop is not None
                    and not prop.get("nullable", False)
                    and "default" not in prop
                ):
                    del value[key]
            for key, prop in props.items():
                if "default" in prop and (
                    key not in value or (value[key] is None and not prop.get("nullable", False))
                ):
                    value[key] = copy.deepcopy(prop["default"])
            for key, sub in value.items():
                if root and key == "metadata":
                    continue
                if key in props:
                    self._default(sub, props[key])
                elif isinstance(additional, dict):
                    self._default(sub, additional)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for item in value:
                    self._default(item, items)

    # -- 3. validation -----------------------------------------------------------------------

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """Schema errors as 422 causes, in the real server's wording."""
        causes: list[Cause] = []
        seen: set[tuple[str, str]] = set()
        for error in self._validator.iter_errors(obj):
            for cause in _to_causes(error):
                key = (cause.field, cause.reason)
                if key in seen:
                    continue
                seen.add(key)
                causes.append(cause)
        return causes

    def list_type_errors(self, obj: dict[str, Any]) -> list[Cause]:
        """``x-kubernetes-list-type: map|set``: no duplicate keys or items."""
        causes: list[Cause] = []
        self._list_types(obj, self.schema, (), causes)
        return causes

    def _list_types(
        self, value: Any, schema: dict[str, Any], path: tuple[str | int, ...], out: list[Cause]
    ) -> None:
        if isinstance(value, dict):
            props = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            for key, sub in value.items():
                if key in props:
                    self._list_types(sub, props[key], (*path, key), out)
                elif isinstance(additional, dict):
                    self._list_types(sub, additional, (*path, key), out)
        elif isinstance(value, list):
            list_type = schema.get("x-kubernetes-list-type")
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen: list[Any] = []
            for index, item in enumerate(value):
                if list_type == "set":
                    identity: Any = item
                elif list_type == "map" and isinstance(item, dict):
                    identity = {k: item.get(k) for k in keys}
                else:
                    identity = None
                if identity is not None:
                    if identity in seen:
                        out.append(
                            Cause(
                                join_path((*path, index)),
                                "FieldValueDuplicate",
                                f"Duplicate value: {json.dumps(identity)}",
                            )
                        )
                    else:
                        seen.append(identity)
                items = schema.get("items")
                if isinstance(items, dict):
                    self._list_types(item, items, (*path, index), out)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _to_causes(error: Any) -> list[Cause]:
    path = tuple(error.absolute_path)
    field = join_path(path)
    validator = error.validator
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    where = field or "<root>"
    if validator == "required":
        missing = [p for p in error.validator_value if isinstance(value, dict) and p not in value]
        return [
            Cause(join_path((*path, name)), "FieldValueRequired", "Required value")
            for name in missing
        ]
    if validator == "type" or (validator == "anyOf" and schema.get("x-kubernetes-int-or-string")):
        expected = "integer,string" if validator == "anyOf" else str(error.validator_value)
        actual = go_type(value)
        return [
            Cause(
                field,
                "FieldValueTypeInvalid",
                f'Invalid value: "{actual}": {where} in body must be of type {expected}: '
                f'"{actual}"',
            )
        ]
    if validator == "enum":
        allowed = ", ".join(
            json.dumps(v) if not isinstance(v, str) else f'"{v}"' for v in error.validator_value
        )
        return [
            Cause(
                field,
                "FieldValueNotSupported",
                f"Unsupported value: {_quote(value)}: supported values: {allowed}",
            )
        ]
    if validator == "maxLength":
        return [
            Cause(
                field,
                "FieldValueTooLong",
                f"Too long: may not be more than {error.validator_value} bytes",
            )
        ]
    if validator == "maxItems":
        return [
            Cause(
                field,
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {error.validator_value} items",
            )
        ]
    detail = {
        "pattern": f"{where} in body should match '{error.validator_value}'",
        "minLength": f"{where} in body should be at least {error.validator_value} chars long",
        "minimum": f"{where} in body should be greater than or equal to {error.validator_value}",
        "maximum": f"{where} in body should be less than or equal to {error.validator_value}",
        "minItems": f"{where} in body should have at least {error.validator_value} items",
        "format": f"{where} in body must be of type {error.validator_value}: {_quote(value)}",
        "uniqueItems": f"{where} in body shouldn't contain duplicates",
    }.get(validator, f"{where} in body {error.message}")
    return [Cause(field, "FieldValueInvalid", f"Invalid value: {_quote(value)}: {detail}")]


@functools.cache
def custom_schema(rt: ResourceType) -> StructuralSchema | None:
    """The schema admitting ``rt``'s objects, from the CRD it names; None for built-in types.

    Built once per process and type.
    """
    if rt.crd is None:
        return None
    return StructuralSchema(crd_schema(CRDS / rt.crd, rt.version), rt.kind, rt.api_version)


def raycluster_schema() -> StructuralSchema:
    """KubeRay's ``RayCluster`` v1 schema, built once per process."""
    schema = custom_schema(RAYCLUSTERS)
    assert schema is not None
    return schema


# --------------------------------------------------------------------------------------------
# Built-in types: the defaults the real server fills in, and the checks that matter here.

_cluster_ips = iter(ipaddress.ip_network("10.96.0.0/16").hosts())
_cluster_ip_lock = threading.Lock()


def _next_cluster_ip() -> str:
    with _cluster_ip_lock:
        next(_cluster_ips)  # skip 10.96.0.1 (the "kubernetes" service)
        return str(next(_cluster_ips))


def _service_defaults(obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    if old is None:
        obj["status"] = {"loadBalancer": {}}
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if old is not None and not spec.get("clusterIP"):
            spec["clusterIP"] = old.get("spec", {}).get("clusterIP")
        if not spec.get("clusterIP"):
            spec["clusterIP"] = _next_cluster_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _service_validate(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    spec = obj.get("spec") or {}
    ports = spec.get("ports") or []
    if not ports and spec.get("clusterIP") != "None" and spec.get("type") != "ExternalName":
        causes.append(Cause("spec.ports", "FieldValueRequired", "Required value"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        path = f"spec.ports[{index}]"
        name = port.get("name", "")
        if len(ports) > 1 and not name:
            causes.append(Cause(f"{path}.name", "FieldValueRequired", "Required value"))
        if name:
            for error in dns1123_label_errors(name):
                causes.append(
                    Cause(f"{path}.name", "FieldValueInvalid", f'Invalid value: "{name}": {error}')
                )
            if name in names:
                causes.append(
                    Cause(f"{path}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"')
                )
            names.add(name)
        number = port.get("port")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
            causes.append(
                Cause(
                    f"{path}.port",
                    "FieldValueInvalid",
                    f"Invalid value: {_quote(number)}: must be between 1 and 65535, inclusive",
                )
            )
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") != old_ip:
            causes.append(
                Cause(
                    "spec.clusterIPs[0]",
                    "FieldValueInvalid",
                    f"Invalid value: {_quote(spec.get('clusterIP'))}: may not change once set",
                )
            )
    return causes


def _pod_defaults(obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if old is None:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _pod_validate(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    containers = (obj.get("spec") or {}).get("containers") or []
    if not containers:
        return [Cause("spec.containers", "FieldValueRequired", "Required value")]
    causes = []
    for index, container in enumerate(containers):
        for error in dns1123_label_errors(str(container.get("name", ""))):
            causes.append(
                Cause(
                    f"spec.containers[{index}].name", "FieldValueInvalid", f"Invalid value: {error}"
                )
            )
    return causes


def _namespace_defaults(obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    name = obj["metadata"].get("name", "")
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    if old is None:
        obj["status"] = {"phase": "Active"}


def _no_checks(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    return []


# metav1.MicroTime decodes with time.Parse(RFC3339Micro): exactly six fractional digits.
_MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
_LEASE_TIMES = ("acquireTime", "renewTime")


def _lease_decode(obj: dict[str, Any]) -> None:
    """Lease bodies that the real server cannot decode: a 400, before any validation."""
    spec = obj.get("spec")
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise status.bad_request(
            f'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal '
            f"{type(spec).__name__} into Go struct field Lease.spec of type v1.LeaseSpec"
        )
    for key in _LEASE_TIMES:
        value = spec.get(key)
        if value is not None and (not isinstance(value, str) or not _MICRO_TIME.match(value)):
            raise status.bad_request(
                f'Lease in version "v1" cannot be handled as a Lease: parsing time {_quote(value)}'
                ' as "2006-01-02T15:04:05.000000Z07:00": cannot parse as RFC3339Micro'
            )
    for key in ("leaseDurationSeconds", "leaseTransitions"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise status.bad_request(
                f'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal '
                f"{_quote(value)} into Go struct field LeaseSpec.spec.{key} of type int32"
            )
    if "holderIdentity" in spec and not isinstance(spec["holderIdentity"], str | None):
        raise status.bad_request(
            'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal into '
            "Go struct field LeaseSpec.spec.holderIdentity of type string"
        )


def _lease_validate(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """k8s.io/kubernetes/pkg/apis/coordination/validation.ValidateLeaseSpec."""
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(
            Cause(
                "spec.leaseDurationSeconds",
                "FieldValueInvalid",
                f"Invalid value: {duration}: must be greater than 0",
            )
        )
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        causes.append(
            Cause(
                "spec.leaseTransitions",
                "FieldValueInvalid",
                f"Invalid value: {transitions}: must be greater than or equal to 0",
            )
        )
    if spec.get("preferredHolder") and not spec.get("strategy"):
        causes.append(
            Cause(
                "spec.strategy",
                "FieldValueForbidden",
                "Forbidden: strategy must be set when preferredHolder is set",
            )
        )
    return causes


# ConfigMaps (k8s.io/kubernetes/pkg/apis/core/validation ValidateConfigMap[Update]): the KubeRay API
# server stores compute templates as ConfigMaps whose values are all strings.
_CONFIG_MAP_MAX_BYTES = 1024 * 1024  # core.MaxSecretSize, shared by ConfigMaps


def _go_json_kind(value: Any) -> str:
    """How encoding/json names a decoded value in ``cannot unmarshal <kind> into ...``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _config_map_decode(obj: dict[str, Any]) -> None:
    """A ConfigMap whose data are not strings cannot be decoded: 400 before any validation."""
    prefix = 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal'
    for key in ("data", "binaryData"):
        bag = obj.get(key)
        if bag is None:
            continue
        if not isinstance(bag, dict):
            raise status.bad_request(
                f"{prefix} {_go_json_kind(bag)} into Go struct field ConfigMap.{key} of type "
                f"map[string]{'string' if key == 'data' else '[]uint8'}"
            )
        for name, value in list(bag.items()):
            if value is None:
                bag[name] = ""  # encoding/json leaves a null string at its zero value
            elif not isinstance(value, str):
                raise status.bad_request(
                    f"{prefix} {_go_json_kind(value)} into Go struct field ConfigMap.{key} of "
                    f"type {'string' if key == 'data' else '[]uint8'}"
                )
    immutable = obj.get("immutable")
    if immutable is not None and not isinstance(immutable, bool):
        raise status.bad_request(
            f"{prefix} {_go_json_kind(immutable)} into Go struct field ConfigMap.immutable of "
            "type bool"
        )


def _config_map_validate(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    data: dict[str, str] = obj.get("data") or {}
    binary: dict[str, str] = obj.get("binaryData") or {}
    total = 0
    for bag, other, path in ((data, binary, "data"), (binary, data, "binaryData")):
        for key, value in bag.items():
            for error in config_map_key_errors(key):
                causes.append(
                    Cause(
                        f"{path}[{key}]",
                        "FieldValueInvalid",
                        f"Invalid value: {_quote(key)}: {error}",
                    )
                )
            if key in other:
                twin = "binaryData" if path == "data" else "data"
                causes.append(
                    Cause(
                        f"{path}[{key}]",
                        "FieldValueInvalid",
                        f"Invalid value: {_quote(key)}: duplicate of key present in {twin}",
                    )
                )
            total += len(value.encode())
    if total > _CONFIG_MAP_MAX_BYTES:
        causes.append(
            Cause(
                "",
                "FieldValueTooLong",
                f"Too long: may not be more than {_CONFIG_MAP_MAX_BYTES} bytes",
            )
        )
    if old is not None and old.get("immutable") is True:
        if obj.get("immutable") is not True:
            causes.append(
                Cause(
                    "immutable",
                    "FieldValueForbidden",
                    "Forbidden: field is immutable when `immutable` is set",
                )
            )
        for key in ("data", "binaryData"):
            if (obj.get(key) or {}) != (old.get(key) or {}):
                causes.append(
                    Cause(
                        key,
                        "FieldValueForbidden",
                        "Forbidden: field is immutable when `immutable` is set",
                    )
                )
    return causes


Defaulter = Callable[[dict[str, Any], "dict[str, Any] | None"], None]
Validator = Callable[[dict[str, Any], "dict[str, Any] | None"], list[Cause]]

_BUILTIN: dict[str, tuple[Defaulter, Validator]] = {
    SERVICES.plural: (_service_defaults, _service_validate),
    PODS.plural: (_pod_defaults, _pod_validate),
    NAMESPACES.plural: (_namespace_defaults, _no_checks),
    LEASES.plural: (lambda obj, old: None, _lease_validate),
    CONFIGMAPS.plural: (lambda obj, old: None, _config_map_validate),
}
_DECODERS: dict[str, Callable[[dict[str, Any]], None]] = {
    LEASES.plural: _lease_decode,
    CONFIGMAPS.plural: _config_map_decode,
}


def builtin_decode(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Refuse, with the real server's 400, a body of a built-in type that it cannot decode."""
    decoder = _DECODERS.get(rt.plural)
    if decoder:
        decoder(obj)


def builtin_defaults(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Fill the defaults the real server sets on built-in types."""
    hooks = _BUILTIN.get(rt.plural)
    if hooks:
        hooks[0](obj, old)


def builtin_validate(
    rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[Cause]:
    """The built-in type validations this fake emulates."""
    hooks = _BUILTIN.get(rt.plural)
    return hooks[1](obj, old) if hooks else []
