"""JSON and YAML as Go's ``encoding/json`` and ``sigs.k8s.io/yaml`` read and write them.

V2's compute-template middleware decodes a body into ``map[string]any`` and encodes it again, so
the body Kubernetes receives is Go's rendering of it, not the client's bytes: keys sorted, no
spaces, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, every number a float64 (``1.0`` is sent as
``1``, integers beyond 2^53 lose digits, ``1e21`` stays in exponent form, ``0.0000001`` becomes
``1e-7``). YAML bodies are read the way ``sigs.k8s.io/yaml`` reads them: the first document,
through JSON (timestamps stay strings, keys become strings).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import yaml

_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


class GoDecodeError(ValueError):
    """Go would refuse to decode this body into ``map[string]any``."""


def loads(body: bytes) -> Any:
    """``json.Unmarshal`` into ``any``: numbers as floats; trailing data or nothing is an error."""

    def constant(name: str) -> Any:
        raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")

    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text, parse_int=float, parse_constant=constant)
    except ValueError as exc:
        raise GoDecodeError(str(exc)) from exc


class _NoTimestamps(yaml.SafeLoader):
    """YAML 1.1 as go-yaml v2 resolves it into ``interface{}``: timestamps stay strings."""


_NoTimestamps.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def loads_yaml(body: bytes) -> Any:
    """``yaml.Unmarshal`` (YAML to JSON, then JSON into ``any``) of the first document."""
    try:
        documents = yaml.load_all(body.decode("utf-8", errors="replace"), Loader=_NoTimestamps)
        first = next(iter(documents), None)
        return loads(json.dumps(first, default=str).encode())
    except yaml.YAMLError as exc:
        raise GoDecodeError(str(exc)) from exc


def _float(value: float) -> str:
    """``encoding/json``'s float64: fixed notation between 1e-6 and 1e21, else exponent."""
    if value != value or value in (float("inf"), float("-inf")):
        raise GoDecodeError(f"json: unsupported value: {value}")
    if value == 0:
        return "0" if str(value)[0] != "-" else "-0"
    if 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(repr(value)), "f")
        return text[:-2] if text.endswith(".0") else text
    mantissa, exponent = repr(value).split("e") if "e" in repr(value) else (repr(value), "0")
    sign = "-" if exponent.startswith("-") else "+"
    mantissa = mantissa[:-2] if mantissa.endswith(".0") else mantissa
    return f"{mantissa}e{sign}{int(exponent.lstrip('+-'))}"


def _string(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text


def dumps(value: Any) -> str:
    """``json.Marshal`` of a decoded ``map[string]any`` (ints are exact uint32s from templates)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k))}:{dumps(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    raise TypeError(f"not JSON: {type(value).__name__}")
