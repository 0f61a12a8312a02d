"""Label and field selectors, parsed and matched as ``k8s.io/apimachinery`` does.

A list or watch that ignores its selector returns objects the client did not ask for, and code
that "works" against such a fake breaks on a real cluster; so both grammars are implemented in
full (``=``, ``==``, ``!=``, ``in``, ``notin``, ``exists``, ``!``, ``>``, ``<``), and a selector the
real server would refuse is refused here with 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import status
from .validation import label_key_errors, label_value_errors

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


@dataclass(frozen=True)
class Requirement:
    """``key op values``; ``op`` is one of in, notin, exists, !, =, !=, gt, lt."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return has and value in self.values
        if self.op in ("!=", "notin"):
            return not has or value not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("gt", "lt"):
            if not has or value is None:
                return False
            try:
                number = int(value)
            except ValueError:
                return False
            bound = int(self.values[0])
            return number > bound if self.op == "gt" else number < bound
        raise AssertionError(self.op)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise status.bad_request(f"unable to parse requirement: {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _check_key(key: str, selector: str) -> None:
    errors = label_key_errors(key)
    if errors:
        raise status.bad_request(
            f'unable to parse requirement: <nil>: Invalid value: "{key}": {errors[0]}'
        )


def _check_value(value: str) -> None:
    errors = label_value_errors(value)
    if errors:
        raise status.bad_request(
            f'unable to parse requirement: values[0][{value}]: Invalid value: "{value}": '
            f"{errors[0]}"
        )


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse a label selector; an empty one matches everything. Raise 400 when malformed."""
    if not text or not text.strip():
        return []
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise status.bad_request(f"unable to parse requirement: unexpected end in {text!r}")
        token = tokens[i]
        i += 1
        return token

    while i < len(tokens):
        token = take()
        if token == "!":
            key = take()
            _check_key(key, text)
            requirements.append(Requirement(key, "!"))
        else:
            key = token
            _check_key(key, text)
            if i >= len(tokens) or tokens[i] == ",":
                requirements.append(Requirement(key, "exists"))
            else:
                op = take()
                if op in ("=", "=="):
                    value = take() if i < len(tokens) and tokens[i] != "," else ""
                    _check_value(value)
                    requirements.append(Requirement(key, "=", (value,)))
                elif op == "!=":
                    value = take() if i < len(tokens) and tokens[i] != "," else ""
                    _check_value(value)
                    requirements.append(Requirement(key, "!=", (value,)))
                elif op in ("in", "notin"):
                    if take() != "(":
                        raise status.bad_request(
                            f"unable to parse requirement: found '{tokens[i - 1]}', expected: '('"
                        )
                    values: list[str] = []
                    while True:
                        item = take()
                        if item == ")":
                            break
                        if item == ",":
                            continue
                        _check_value(item)
                        values.append(item)
                    if not values and op == "in":
                        raise status.bad_request(
                            "unable to parse requirement: for 'in', 'notin' operators, "
                            "values set can't be empty"
                        )
                    requirements.append(Requirement(key, op, tuple(values)))
                elif op in (">", "<"):
                    value = take()
                    if not re.fullmatch(r"-?\d+", value):
                        raise status.bad_request(
                            f"unable to parse requirement: for 'Gt', 'Lt' operators, the value "
                            f"must be an integer: {value!r}"
                        )
                    requirements.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
                else:
                    raise status.bad_request(
                        f"unable to parse requirement: found '{op}', expected: "
                        "in, notin, =, ==, !=, gt, lt"
                    )
        if i < len(tokens):
            if tokens[i] != ",":
                raise status.bad_request(
                    f"unable to parse requirement: found '{tokens[i]}', expected: ',' or "
                    "'end of string'"
                )
            i += 1
    return requirements


def labels_match(requirements: list[Requirement], labels: Mapping[str, str] | None) -> bool:
    """Whether ``labels`` satisfy every requirement."""
    labels = labels or {}
    return all(r.matches(labels) for r in requirements)


@dataclass(frozen=True)
class FieldRequirement:
    """``field=value`` or ``field!=value``."""

    field: str
    value: str
    negate: bool


def split_unescaped(text: str, sep: str) -> list[str]:
    """``text`` split at each ``sep`` not escaped by a backslash, escapes removed."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_field_selector(text: str | None, supported: frozenset[str]) -> list[FieldRequirement]:
    """Parse a field selector; 400 ``field label not supported`` for fields the type lacks."""
    if not text or not text.strip():
        return []
    requirements = []
    for part in split_unescaped(text, ","):
        if not part.strip():
            continue  # fields.ParseSelector skips empty terms (``a=b,`` and ``,a=b`` are fine)
        match = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", part)
        if match is None:
            raise status.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field_name, op, value = match.groups()
        if field_name not in supported:
            raise status.bad_request(f"field label not supported: {field_name}")
        requirements.append(FieldRequirement(field_name, value, op == "!="))
    return requirements


def _field_value(obj: Mapping[str, Any], name: str) -> str:
    if name == "source":  # events: ``source`` selects on the reporting component
        name = "source.component"
    current: Any = obj
    for part in name.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def fields_match(requirements: list[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` satisfies every field requirement."""
    for req in requirements:
        equal = _field_value(obj, req.field) == req.value
        if equal == req.negate:
            return False
    return True


def compile_selectors(
    label_selector: str | None, field_selector: str | None, supported: frozenset[str]
) -> Callable[[Mapping[str, Any]], bool]:
    """One predicate for both selectors (raising 400 now if either is malformed)."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, supported)

    def predicate(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return labels_match(labels, meta.get("labels")) and fields_match(fields, obj)

    return predicate
