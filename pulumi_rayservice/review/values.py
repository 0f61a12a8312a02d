"""How a value from a preview may appear in a pull-request comment: secrets never, the rest short.

A preview document holds secrets as ``"[secret]"`` (the CLI blinds them), but a document can come
from elsewhere (engine events, a state file, a hand-written digest) where a secret is still the
engine's signed object ``{"4dabf18193072939515e22adb298388d": "1b47...", "value": ...}``, or sits
at a key that is always secret for this package's resources (a dashboard token, kubeconfig
content, the Redis password, the pickled provider). Every value that reaches text goes through
``redact`` first, so that whatever the source, a secret's value never reaches a comment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi.runtime.rpc import UNKNOWN, is_rpc_secret

from .._util.secrets import PLACEHOLDER
from .._util.text import clip

__all__ = [
    "SECRET",
    "UNKNOWN",
    "UNKNOWN_TEXT",
    "changed_paths",
    "changed_values",
    "is_unknown",
    "redact",
    "shown",
]

SECRET = PLACEHOLDER
"""What the CLI writes for every secret value; kept as is. ``UNKNOWN`` is Pulumi's sentinel for a
value not known until the update runs."""
UNKNOWN_TEXT = "known after apply"
SECRET_KEYS = frozenset({"__provider", "token", "redis_password", "password", "content"})
"""Keys whose values are secret wherever they appear in this package's inputs (``content`` is a
kubeconfig's text, ``token`` the dashboard's bearer token). Other providers' secrets arrive
blinded already; blinding these too costs a reader nothing."""
VALUE_LIMIT = 120
"""Longest value quoted inline: a comment is for reading, the full value is in the program."""


def is_unknown(value: Any) -> bool:
    """Whether ``value`` is Pulumi's not-yet-known sentinel."""
    return isinstance(value, str) and value == UNKNOWN


def redact(value: Any, secret_paths: Iterable[Sequence[str]] = ()) -> Any:
    """``value`` with every secret replaced by ``"[secret]"``.

    Secrets are: engine-signed secret objects, values under ``SECRET_KEYS``, and the paths a
    resource declares secret itself (its ``secret_paths`` input, as ``ServeApplication`` has).
    """
    paths = [tuple(str(p) for p in path) for path in secret_paths]
    return _redact(value, (), paths)


def _redact(value: Any, at: tuple[str, ...], paths: list[tuple[str, ...]]) -> Any:
    if is_rpc_secret(value) or (at and at[-1] in SECRET_KEYS and value is not None):
        return SECRET
    if any(at[: len(p)] == p for p in paths if p):
        return SECRET
    if isinstance(value, Mapping):
        return {str(k): _redact(v, (*at, str(k)), paths) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, (*at, str(i)), paths) for i, v in enumerate(value)]
    return value


def shown(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A redacted value as short inline text: unknowns say so, long values are cut."""
    if is_unknown(value):
        return UNKNOWN_TEXT
    if value is None:
        return "(none)"
    if isinstance(value, str):
        text = value
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = json.dumps(_unknowns_named(value), sort_keys=True, default=str)
    return clip(text, limit)


def _unknowns_named(value: Any) -> Any:
    """Unknowns as words, and the engine's whole floats (``3.0`` for ``3``) as ints."""
    if is_unknown(value):
        return UNKNOWN_TEXT
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _unknowns_named(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unknowns_named(v) for v in value]
    return value


def changed_values(
    old: Any, new: Any, *, depth: int = 4, prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """Where ``old`` and ``new`` differ: (path like ``a.b[0]``, old value, new value).

    Dynamic providers give no detailed diff, so this is how a reader learns what changed. Below
    ``depth`` levels a whole subtree is one entry: a comment names where, not every leaf.
    """
    if old == new:
        return []
    if depth > 0 and isinstance(old, Mapping) and isinstance(new, Mapping):
        found: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{prefix}.{key}" if prefix else str(key)
            found += changed_values(old.get(key), new.get(key), depth=depth - 1, prefix=sub)
        return found
    if depth > 0 and isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found += changed_values(a, b, depth=depth - 1, prefix=f"{prefix}[{i}]")
        return found
    return [(prefix or "(value)", old, new)]


def changed_paths(old: Any, new: Any, *, depth: int = 4, prefix: str = "") -> list[str]:
    """Only the paths of ``changed_values``."""
    return [path for path, _, _ in changed_values(old, new, depth=depth, prefix=prefix)]
