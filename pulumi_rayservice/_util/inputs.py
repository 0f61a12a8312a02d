"""Checks and comparisons of provider inputs that every provider here makes the same way.

Both providers refuse unknown input keys, check durations, flags, secret strings and the ``kube``
credentials input, and decide which inputs changed between the previous outputs and the new
inputs (tolerating the engine's float numbers, dropped None values and not-yet-known values). One
implementation keeps them behaving alike.

Every check returns ``(field, reason)`` failures and never raises, whatever the input holds: a
Check that throws shows the user a stack trace instead of the field to fix. A value not yet known
(a preview of a dependent resource) passes and is checked once known; a list or mapping holding
one where a scalar belongs is already wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi.output import Unknown

from .normalize import canonical, contains_unknown

Failure = tuple[str, str]

HOUR_S = 3600.0
DAY_S = 24 * HOUR_S
KUBE_KEYS = ("path", "content", "context", "in_cluster")
"""The keys of a ``kube`` input (``Kube.to_input``): kubeconfig path or content, context, flag."""


def unknown_inputs(inputs: Mapping[str, Any], allowed: Iterable[str]) -> list[Failure]:
    """A failure for every input key the provider does not know."""
    known = list(allowed)
    return [
        (str(key), f"unknown input; allowed: {', '.join(known)}")
        for key in sorted(str(k) for k in inputs)
        if key not in known
    ]


def seconds_problem(value: Any, *, maximum: float, allow_zero: bool = False) -> str | None:
    """Why ``value`` is not a duration in seconds within ``(0 or >= 0) .. maximum``, or None.

    NaN would make a wait poll in a tight loop, infinity would wait for ever (and overflow a
    sleep), a bool is a mistake rather than 1 second: all are refused.
    """
    lower = ">= 0" if allow_zero else "> 0"
    allowed = f"a finite number of seconds {lower} and <= {maximum:g} ({_span(maximum)})"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"got {_kind(value)}; must be {allowed}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"got {value!r}; must be {allowed}"
    if value < 0 or (value == 0 and not allow_zero) or value > maximum:
        return f"got {value!r}; must be {allowed}"
    return None


def check_seconds(
    inputs: dict[str, Any],
    key: str,
    default: float,
    *,
    maximum: float,
    allow_zero: bool = False,
) -> list[Failure]:
    """Check a duration input (seconds) and normalize it in place (2.0 -> 2).

    Unknown values pass: they are checked again once known, before anything is done.
    """
    value = inputs.get(key, default)
    if isinstance(value, Unknown):
        return []
    problem = seconds_problem(value, maximum=maximum, allow_zero=allow_zero)
    if problem:
        return [(key, problem)]
    if key in inputs:
        inputs[key] = canonical(value)
    return []


def check_flag(inputs: Mapping[str, Any], key: str) -> list[Failure]:
    """A flag is true or false: ``"false"``, ``"no"``, ``0`` or ``1`` are mistakes, not flags.

    ``bool("false")`` is True, so a string taken as a flag would do the opposite of what it says.
    """
    value = inputs.get(key)
    if value is None or isinstance(value, bool | Unknown):
        return []
    return [(key, f"got {_kind(value)}; must be true or false (a boolean, not a string or number)")]


def check_text(inputs: Mapping[str, Any], key: str) -> list[Failure]:
    """An optional plain string input (its value may be quoted: it is not secret)."""
    value = inputs.get(key)
    if value is None or isinstance(value, str | Unknown):
        return []
    return [(key, f"got {type(value).__name__}; must be a string")]


def secret_text_problem(value: Any, *, header: bool = False) -> str | None:
    """Why a secret string (token, password) cannot be used, or None. Never quotes the value.

    An empty string means unset, as it always has.

    Whitespace or a control character is most often the trailing newline of
    ``open(path).read()``; in an HTTP header it fails with an error that quotes the header, token
    included. A ``header`` value (a token) must also be ASCII, as header values are.
    """
    if not isinstance(value, str):
        return f"got {type(value).__name__}; must be a string"
    if any(c.isspace() or not c.isprintable() for c in value):
        return (
            "holds whitespace or control characters (such as the trailing newline of a file read "
            "with open(path).read()); strip it, e.g. open(path).read().strip()"
        )
    if header and not value.isascii():
        return "holds non-ASCII characters; an HTTP header value must be ASCII"
    return None


def check_secret_text(value: Any, field: str, *, header: bool = False) -> list[Failure]:
    """The failure of an optional secret string input; unknown values pass."""
    if value is None or isinstance(value, Unknown):
        return []
    problem = secret_text_problem(value, header=header)
    return [(field, problem)] if problem else []


def kube_problems(value: Any, field: str = "kube") -> list[Failure]:
    """Failures of a ``kube`` credentials input: a mapping of its known keys, right types.

    ``path``, ``content`` and ``context`` are strings (content is secret: never quoted),
    ``in_cluster`` a boolean, and ``in_cluster`` excludes a kubeconfig.
    """
    if value is None or isinstance(value, Unknown):
        return []
    if not isinstance(value, Mapping):
        return [
            (
                field,
                f"got {type(value).__name__}; must be rs.Kube(...) or a mapping with keys "
                f"{', '.join(KUBE_KEYS)}",
            )
        ]
    failures: list[Failure] = []
    unknown = sorted(str(k) for k in value if k not in KUBE_KEYS)
    if unknown:
        failures.append((field, f"unknown keys {unknown}; allowed: {', '.join(KUBE_KEYS)}"))
    for key in ("path", "content", "context"):
        item = value.get(key)
        if item is None or isinstance(item, Unknown):
            continue
        if not isinstance(item, str) or not item.strip():
            failures.append((f"{field}.{key}", f"got {_kind(item)}; must be a non-empty string"))
        elif key != "content" and not item.isprintable():
            failures.append((f"{field}.{key}", "must not hold control characters or newlines"))
    in_cluster = value.get("in_cluster")
    failures.extend((f"{field}.{k}", r) for k, r in check_flag(value, "in_cluster"))
    if in_cluster is True and (value.get("path") is not None or value.get("content") is not None):
        failures.append(
            (field, "give either a kubeconfig (path or content) or in_cluster, not both")
        )
    if value.get("path") is not None and value.get("content") is not None:
        failures.append((field, "give either a kubeconfig path or its content, not both"))
    return failures


def changed_inputs(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    keys: Iterable[str],
    defaults: Mapping[str, Any],
) -> list[str]:
    """The keys whose value differs between previous outputs and new inputs, or is unknown.

    A key missing on one side counts as its default (programs and older states may omit it).
    """
    return [
        key
        for key in keys
        if contains_unknown(news.get(key))
        or canonical(olds.get(key, defaults.get(key)))
        != canonical(news.get(key, defaults.get(key)))
    ]


def _kind(value: Any) -> str:
    """A short description of a wrong value: strings and numbers shown, containers by type."""
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a string of {len(value)} characters"
    return f"a {type(value).__name__}"


def _span(seconds: float) -> str:
    hours = seconds / HOUR_S
    if hours >= 1:
        return f"{hours:g} hour" + ("" if hours == 1 else "s")
    return f"{seconds / 60:g} minutes"
