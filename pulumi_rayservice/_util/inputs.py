"""Checks and comparisons of provider inputs that every provider here makes the same way.

Both providers refuse unknown input keys, check durations, and decide which inputs changed
between the previous outputs and the new inputs (tolerating the engine's float numbers, dropped
None values and not-yet-known values). One implementation keeps them behaving alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .normalize import canonical, contains_unknown

Failure = tuple[str, str]


def unknown_inputs(inputs: Mapping[str, Any], allowed: Iterable[str]) -> list[Failure]:
    """A failure for every input key the provider does not know."""
    known = list(allowed)
    return [
        (key, f"unknown input; allowed: {', '.join(known)}")
        for key in sorted(set(inputs) - set(known))
    ]


def check_seconds(
    inputs: dict[str, Any], key: str, default: float, *, allow_zero: bool = False
) -> list[Failure]:
    """Check a duration input (seconds) and normalize it in place (2.0 -> 2).

    Unknown values pass: they are checked again once known, before anything is done.
    """
    value = inputs.get(key, default)
    if contains_unknown(value):
        return []
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        return [(key, f"got {value!r}; must be a number of seconds {bound}")]
    if key in inputs:
        inputs[key] = canonical(value)
    return []


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
