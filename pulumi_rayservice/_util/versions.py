"""Version strings as numbers, parsed one way for every check that compares versions.

As k8s.io/apimachinery's ``version.ParseGeneric`` (which KubeRay's checks use): two or more
dot-separated numbers, an optional leading ``v``, anything after ignored: ``2.60.0`` ->
``(2, 60, 0)``, ``2.53`` -> ``(2, 53)``, ``v2.5rc1`` -> ``(2, 5)``.
"""

from __future__ import annotations

import re

_GENERIC_VERSION_RE = re.compile(r"^\s*v?([0-9]+(?:\.[0-9]+)+)")


def parse_version(text: object) -> tuple[int, ...] | None:
    """The leading dotted numbers of a version string, or None when there are not two."""
    if not isinstance(text, str):
        return None
    match = _GENERIC_VERSION_RE.match(text)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def at_least(version: tuple[int, ...], minimum: tuple[int, ...]) -> bool:
    """``version >= minimum``, missing parts counted as 0 (``2.12`` is ``2.12.0``)."""
    width = max(len(version), len(minimum))
    return version + (0,) * (width - len(version)) >= minimum + (0,) * (width - len(minimum))
