"""Version strings as numbers: ``2.60.0`` -> ``(2, 60, 0)``, ``v2.5rc1`` -> ``(2, 5)``."""

from __future__ import annotations

import re

_VERSION_RE = re.compile(r"^v?(\d+(?:\.\d+)*)")


def parse_version(text: object) -> tuple[int, ...] | None:
    """The leading dotted numbers of a version string, or None when there are none."""
    if not isinstance(text, str):
        return None
    match = _VERSION_RE.match(text.strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def at_least(version: tuple[int, ...], minimum: tuple[int, ...]) -> bool:
    """``version >= minimum``, missing parts counted as 0 (``2.12`` is ``2.12.0``)."""
    width = max(len(version), len(minimum))
    return version + (0,) * (width - len(version)) >= minimum + (0,) * (width - len(minimum))
