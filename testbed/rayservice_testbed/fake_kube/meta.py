"""Object metadata as the real server keeps it: system fields, names, validation, managedFields.

Clients read these fields back (``uid``, ``resourceVersion``, ``generation``,
``creationTimestamp``, ``managedFields``) and a fake that leaves them out hides drift and
adoption bugs; clients also send metadata the real server refuses (an upper-case name, a label
value with a space, a new finalizer on an object being deleted), which must be a 422 here too.
"""

from __future__ import annotations

import json
import random
import string
from datetime import datetime, timezone
from typing import Any

from .resources import ResourceType
from .status import Cause
from .validation import NAME_RULES, label_value_errors, qualified_name_errors

# ObjectMeta's fields: anything else under ``metadata`` is dropped on decode (with a warning).
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)

# names.SimpleNameGenerator: 5 characters from an alphabet without vowels or look-alikes.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_GENERATED_BASE = 63 - 5
_TOTAL_ANNOTATION_BYTES = 256 * 1024


def now() -> str:
    """RFC 3339 UTC timestamp with second precision, as ``metav1.Time`` serializes."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    state: str,
    reason: str,
    message: str,
    *,
    observed_generation: int | None = None,
) -> None:
    """meta.SetStatusCondition: lastTransitionTime changes only when the status does.

    ``observed_generation`` is written when given (Gateway API conditions carry it).
    """
    extra: dict[str, Any] = {}
    if observed_generation is not None:
        extra["observedGeneration"] = observed_generation
    for cond in conditions:
        if cond["type"] == kind:
            if cond["status"] != state:
                cond["lastTransitionTime"] = now()
            cond.update(status=state, reason=reason, message=message, **extra)
            return
    conditions.append(
        {
            "type": kind,
            "status": state,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now(),
            **extra,
        }
    )


def generate_name(base: str) -> str:
    """``generateName`` + 5 random characters, the base cut so the result fits 63."""
    suffix = "".join(random.choice(_NAME_ALPHABET) for _ in range(5))
    return base[:_MAX_GENERATED_BASE] + suffix


def random_hex(n: int) -> str:
    return "".join(random.choice(string.hexdigits.lower()[:16]) for _ in range(n))


def prune_metadata(obj: dict[str, Any]) -> list[str]:
    """Drop unknown ``metadata`` fields (ObjectMeta decoding does); return their paths."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return []
    unknown = sorted(k for k in meta if k not in OBJECT_META_FIELDS)
    for key in unknown:
        del meta[key]
    return [f"metadata.{k}" for k in unknown]


def _quoted(value: Any) -> str:
    return json.dumps(value)


def validate_object_meta(rt: ResourceType, meta: dict[str, Any]) -> list[Cause]:
    """``ValidateObjectMeta``: name, namespace, labels, annotations, finalizers, owners."""
    causes: list[Cause] = []
    name = meta.get("name")
    if not name:
        causes.append(
            Cause(
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        )
    elif not isinstance(name, str):
        causes.append(
            Cause("metadata.name", "FieldValueInvalid", f"Invalid value: {_quoted(name)}")
        )
    else:
        for error in NAME_RULES[rt.name_rule](name):
            causes.append(
                Cause(
                    "metadata.name", "FieldValueInvalid", f"Invalid value: {_quoted(name)}: {error}"
                )
            )
    namespace = meta.get("namespace")
    if rt.namespaced and not namespace:
        causes.append(Cause("metadata.namespace", "FieldValueRequired", "Required value"))
    if not rt.namespaced and namespace:
        causes.append(
            Cause(
                "metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type"
            )
        )
    labels = meta.get("labels")
    if labels is not None and not isinstance(labels, dict):
        causes.append(Cause("metadata.labels", "FieldValueTypeInvalid", "Invalid value: labels"))
    for key, value in (labels or {}).items():
        for error in qualified_name_errors(key):
            causes.append(
                Cause(
                    "metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {_quoted(key)}: {error}",
                )
            )
        if not isinstance(value, str):
            causes.append(
                Cause(
                    "metadata.labels",
                    "FieldValueTypeInvalid",
                    f"Invalid value: {_quoted(value)}: must be a string",
                )
            )
            continue
        for error in label_value_errors(value):
            causes.append(
                Cause(
                    "metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {_quoted(value)}: {error}",
                )
            )
    annotations = meta.get("annotations") or {}
    total = 0
    for key, value in annotations.items():
        for error in qualified_name_errors(key.lower()):
            causes.append(
                Cause(
                    "metadata.annotations",
                    "FieldValueInvalid",
                    f"Invalid value: {_quoted(key)}: {error}",
                )
            )
        total += len(key) + len(value if isinstance(value, str) else json.dumps(value))
    if total > _TOTAL_ANNOTATION_BYTES:
        causes.append(
            Cause(
                "metadata.annotations",
                "FieldValueTooLong",
                f"Too long: may not be more than {_TOTAL_ANNOTATION_BYTES} bytes",
            )
        )
    for index, finalizer in enumerate(meta.get("finalizers") or []):
        for error in qualified_name_errors(str(finalizer)):
            causes.append(
                Cause(
                    f"metadata.finalizers[{index}]",
                    "FieldValueInvalid",
                    f"Invalid value: {_quoted(finalizer)}: {error}",
                )
            )
    controllers = 0
    for index, ref in enumerate(meta.get("ownerReferences") or []):
        path = f"metadata.ownerReferences[{index}]"
        for key, what in (
            ("apiVersion", "version"),
            ("kind", "kind"),
            ("name", "name"),
            ("uid", "uid"),
        ):
            if not ref.get(key):
                causes.append(
                    Cause(
                        f"{path}.{key}",
                        "FieldValueInvalid",
                        f'Invalid value: "": {what} must not be empty',
                    )
                )
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        causes.append(
            Cause(
                "metadata.ownerReferences",
                "FieldValueInvalid",
                "Invalid value: ownerReferences: Only one reference can have Controller set to "
                "true",
            )
        )
    return causes


def finalizer_warnings(meta: dict[str, Any]) -> list[str]:
    """The warning real servers give for finalizer names without a domain and path."""
    warnings = []
    for finalizer in meta.get("finalizers") or []:
        if "/" not in str(finalizer) and finalizer not in (
            "kubernetes",
            "orphan",
            "foregroundDeletion",
        ):
            warnings.append(
                f'metadata.finalizers: "{finalizer}": prefer a domain-qualified finalizer name '
                "including a path (/) to avoid accidental conflicts with other finalizer writers"
            )
    return warnings


def validate_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """``ValidateObjectMetaUpdate``: immutable identity, no new finalizers while deleting."""
    causes = []
    for key in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
        if new.get(key) != old.get(key):
            causes.append(
                Cause(
                    f"metadata.{key}",
                    "FieldValueInvalid",
                    f"Invalid value: {_quoted(new.get(key))}: field is immutable",
                )
            )
    if old.get("deletionTimestamp"):
        added = set(new.get("finalizers") or []) - set(old.get("finalizers") or [])
        if added:
            causes.append(
                Cause(
                    "metadata.finalizers",
                    "FieldValueForbidden",
                    f"Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)}",
                )
            )
    return causes


# ---------------------------------------------------------------------------------------------
# managedFields: who last set which field (operation "Update" only; server-side apply is not
# emulated). Fields are tracked down to leaves; lists are atomic, as the fake does not know every
# list's merge keys. Coarser than the real field manager, but present and plausible.

_SYSTEM_META = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "name",
    "namespace",
)


def _leaves(value: Any, prefix: tuple[str, ...]) -> set[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        found: set[tuple[str, ...]] = set()
        for key, sub in value.items():
            found |= _leaves(sub, (*prefix, key))
        return found
    return {prefix} if prefix else set()


def _owned_view(obj: dict[str, Any], subresource: str | None) -> dict[str, Any]:
    if subresource == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    view = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SYSTEM_META}
    if meta:
        view["metadata"] = meta
    else:
        view.pop("metadata", None)
    return view


def _value_at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


_MISSING = object()


def _to_fields_v1(paths: set[tuple[str, ...]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def _from_fields_v1(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    for key, sub in tree.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        paths |= _from_fields_v1(sub, path) if sub else {path}
    return paths


def update_managed_fields(
    new: dict[str, Any],
    old: dict[str, Any] | None,
    *,
    manager: str,
    api_version: str,
    subresource: str | None,
) -> None:
    """Give ``manager`` the fields this write set or changed, taking them from other managers."""
    new_view = _owned_view(new, subresource)
    old_view = _owned_view(old, subresource) if old is not None else {}
    present = _leaves(new_view, ())
    changed = {p for p in present if _value_at(old_view, p) != _value_at(new_view, p)}
    entries = list((old or {}).get("metadata", {}).get("managedFields") or [])
    stamp = now()
    result = []
    mine = None
    for entry in entries:
        owned = _from_fields_v1(entry.get("fieldsV1") or {})
        same_scope = entry.get("subresource") == subresource
        if entry.get("manager") == manager and entry.get("operation") == "Update" and same_scope:
            mine = entry
            continue
        if same_scope:
            kept = {p for p in owned if p in present} - changed
            if not kept:
                continue
            if kept != owned:
                entry = {**entry, "fieldsV1": _to_fields_v1(kept)}
        result.append(entry)
    owned_by_me = (_from_fields_v1(mine.get("fieldsV1") or {}) if mine else set()) & present
    owned_by_me |= changed
    if owned_by_me:
        entry = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": stamp if (mine is None or changed) else mine.get("time", stamp),
            "fieldsType": "FieldsV1",
            "fieldsV1": _to_fields_v1(owned_by_me),
        }
        if subresource:
            entry["subresource"] = subresource
        result.append(entry)
    new.setdefault("metadata", {})["managedFields"] = result
