"""PATCH bodies, applied by their Content-Type as the real server does.

- ``application/merge-patch+json``: RFC 7386 (nulls delete, lists replace). A body that is not a
  JSON object is a 400, as in the real server (a JSON-patch list sent with the wrong type).
- ``application/json-patch+json``: RFC 6902 operations; a malformed patch is a 400, one that
  cannot be applied (failed ``test``, missing path) a 422.
- ``application/strategic-merge-patch+json``: only for built-in types (a custom resource answers
  415). Implemented for the few list fields the fake's built-in types carry (merge keys below)
  plus the ``$patch`` directives; every other list is replaced, as in strategic merge.
"""

from __future__ import annotations

import copy
from typing import Any

from . import status

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Strategic-merge list semantics of the built-in types served here (path -> merge key; "" merges
# a list of scalars as a set). Lists not named are replaced, as their patchStrategy is unset.
STRATEGIC_MERGE_KEYS: dict[tuple[str, ...], str] = {
    ("metadata", "finalizers"): "",
    ("metadata", "ownerReferences"): "uid",
    ("spec", "ports"): "port",
    ("spec", "containers"): "name",
    ("spec", "initContainers"): "name",
    ("spec", "volumes"): "name",
    ("spec", "containers", "*", "ports"): "containerPort",
    ("spec", "containers", "*", "env"): "name",
    ("spec", "containers", "*", "volumeMounts"): "mountPath",
    ("status", "conditions"): "type",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: apply ``patch`` to ``target`` (neither is modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Merge-patch a stored object; 400 unless the patch is a JSON object."""
    if not isinstance(patch, dict):
        raise status.bad_request(
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
            if isinstance(patch, list)
            else "Invalid JSON Patch"
        )
    result = merge_patch(doc, patch)
    assert isinstance(result, dict)
    return result


class _PatchFailed(Exception):
    pass


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailed(f'JSON pointer must start with "/": {path!r}')
    return [_unescape(t) for t in path[1:].split("/")]


def _container(doc: Any, tokens: list[str], path: str) -> Any:
    current = doc
    for token in tokens:
        if isinstance(current, dict):
            if token not in current:
                raise _PatchFailed(f"doc is missing path: {path!r}")
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit() or int(token) >= len(current):
                raise _PatchFailed(f"doc is missing path: {path!r}")
            current = current[int(token)]
        else:
            raise _PatchFailed(f"doc is missing path: {path!r}")
    return current


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    return _container(doc, tokens, path)


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise _PatchFailed("cannot remove the whole document")
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailed(f"Unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        if not last.isdigit() or int(last) >= len(parent):
            raise _PatchFailed(f"Unable to access invalid index: {last}: invalid index referenced")
        return parent.pop(int(last))
    raise _PatchFailed(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _PatchFailed(f"replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise _PatchFailed(f"Unable to access invalid index: {last}: invalid index referenced")
    else:
        raise _PatchFailed(f"doc is missing path: {path!r}")
    return doc


def apply_json_patch(doc: dict[str, Any], operations: Any) -> dict[str, Any]:
    """RFC 6902 on a copy of ``doc``: 400 for a malformed patch, 422 when it does not apply."""
    if not isinstance(operations, list):
        raise status.bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise status.bad_request(f"invalid JSON patch operation: {op!r}")
        if op["op"] not in ("add", "remove", "replace", "move", "copy", "test"):
            raise status.bad_request(f"Unexpected kind: {op['op']}")
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise status.bad_request(f"missing value in operation {op['op']} {op['path']}")
        if op["op"] in ("move", "copy") and "from" not in op:
            raise status.bad_request(f"missing from in operation {op['op']} {op['path']}")
    result: Any = copy.deepcopy(doc)
    try:
        for op in operations:
            kind, path = op["op"], op["path"]
            if kind == "add":
                result = _add(result, path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(result, path)
            elif kind == "replace":
                result = _add(result, path, copy.deepcopy(op["value"]), replace=True)
            elif kind == "move":
                value = _remove(result, op["from"])
                result = _add(result, path, value)
            elif kind == "copy":
                value = copy.deepcopy(_get(result, op["from"]))
                result = _add(result, path, value)
            elif kind == "test" and _get(result, path) != op["value"]:
                raise _PatchFailed(f"testing value {path} failed: test failed")
    except _PatchFailed as exc:
        raise status.unprocessable(str(exc)) from exc
    if not isinstance(result, dict):
        raise status.bad_request("the patched document is not a JSON object")
    return result


def _merge_key(path: tuple[str, ...]) -> str | None:
    for pattern, key in STRATEGIC_MERGE_KEYS.items():
        if len(pattern) == len(path) and all(
            p in ("*", q) for p, q in zip(pattern, path, strict=True)
        ):
            return key
    return None


def _strategic(target: Any, patch: Any, path: tuple[str, ...]) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key == "$retainKeys":
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        sub = (*path, key)
        merge_key = _merge_key(sub)
        if isinstance(value, list) and merge_key is not None and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, merge_key, sub)
        else:
            merged = _strategic(result.get(key), value, sub)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str, path: tuple[str, ...]) -> list[Any]:
    if not key:  # a set of scalars
        merged = list(current)
        merged.extend(v for v in patch if v not in merged)
        return merged
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    merged = [copy.deepcopy(i) for i in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise status.bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        index = next(
            (
                n
                for n, old in enumerate(merged)
                if isinstance(old, dict) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                merged.pop(index)
        elif index is None:
            merged.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            merged[index] = _strategic(merged[index], item, (*path, "*"))
    return merged


def apply_strategic_merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Strategic merge for the built-in types served here; 400 unless a JSON object."""
    if not isinstance(patch, dict):
        raise status.bad_request(
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
    result = _strategic(doc, patch, ())
    assert isinstance(result, dict)
    return result
