"""Normalise values that cross the Pulumi engine so that equal things compare equal.

The engine sends every number as a float (``2`` arrives as ``2.0``) and drops keys whose value is
None. Serve and Kubernetes both care about ints (``price: 3`` must stay ``3``, or a replica computes
``6.0``), and a diff must not see ``2.0`` vs ``2`` as a change. A value goes through
:func:`canonical` once, where it enters: a provider's Check and the parsing of its inputs on every
later call (the engine floats them again between calls), and the parsing of what a server
reports. Code past that point trusts the value and does not normalize it again (for Serve:
``serve/inputs.py`` and ``serve/status.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown


def canonical(value: Any) -> Any:
    """Return ``value`` with integral floats turned into ints and None-valued keys removed.

    Lists keep their order; tuples become lists (what JSON and the engine give back).
    ``True``/``False`` are left alone (``bool`` is an ``int`` subclass, not a float).
    """
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def contains_unknown(value: Any) -> bool:
    """Whether ``value`` holds a not-yet-known value anywhere (preview of a dependent resource)."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False


def strip_provider(props: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the engine's ``__provider`` key (the pickled provider), which is never a user change."""
    return {k: v for k, v in props.items() if k != "__provider"}
