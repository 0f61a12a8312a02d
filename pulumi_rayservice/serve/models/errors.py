"""Pydantic validation errors turned into ``(property_path, reason)`` pairs a user can act on.

The provider's Check reports each failure against a property path such as
``app.deployments[0].num_replicas``, and the YAML readers list the same pairs in their
:class:`~pulumi_rayservice.errors.InvalidInputError`. Pydantic's own messages are replaced by short
phrases that say what was received and what is allowed; an unknown key gets the closest known one
("did you mean ...?"), since Serve itself would drop it silently. The only module of these
models that reads pydantic's error structure.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from ._base import RULE_ERROR, brief_repr, plain_number

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_PHRASES = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be greater than or equal to {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be less than or equal to {le}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "too_short": "must have at least {min_length} item(s)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "literal_error": "must be {expected}",
}


def _path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _as_model(annotation: Any) -> Any:
    """Strip Annotated/Optional from an annotation (keeps list/dict and model classes)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _fields_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` under ``root`` (empty if none is)."""
    current: Any = root
    for part in loc:
        current = _as_model(current)
        origin = typing.get_origin(current)
        if isinstance(part, int) and origin is list:
            current = typing.get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = info.annotation
        else:
            return []
    current = _as_model(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _reason(error: Any, root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required, not set"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        known = _fields_at(root, loc[:-1])
        close = difflib.get_close_matches(key, known, n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        elif known:
            hint = f"; known keys: {', '.join(known)}"
        else:
            hint = ""
        return f"unknown key {key!r}{hint} (Serve would silently ignore it)"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        phrase = str(ctx["error"])
    elif kind in _PHRASES:
        phrase = _PHRASES[kind].format(**{k: plain_number(v) for k, v in ctx.items()})
    else:
        msg = str(error["msg"])
        phrase = msg[:1].lower() + msg[1:]
    return f"got {brief_repr(error.get('input'))}; {phrase}"


def failures_of(exc: ValidationError, root: type[BaseModel], prefix: str) -> list[tuple[str, str]]:
    """Pydantic's errors as ``(field path, reason)`` pairs under ``prefix``, as Check gives them."""
    failures: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == RULE_ERROR:
            loc += tuple(ctx.get("loc", ()))
            reason = str(ctx.get("reason", error["msg"]))
        else:
            reason = _reason(error, root, loc)
        failures.append((_path(prefix, loc), reason))
    return failures


def failure_message(title: str, failures: list[tuple[str, str]]) -> str:
    """One message listing every failure, one per line under ``title``."""
    lines = [f"  {path or '(top level)'}: {reason}" for path, reason in failures]
    return "\n".join([f"{title}:", *lines])
