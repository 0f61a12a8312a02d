"""``SpecViolation``: one reason a RayCluster would be refused, and how its field is written.

Both validation layers (the CRD schema in :mod:`.crd_schema`, KubeRay's operator rules in
:mod:`.operator_rules`) report through this one value, with field paths written the way the API
server writes them, so a ``check`` failure reads the same whichever layer found it. It lives apart
from both so that neither layer imports the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .._util.text import clip

__all__ = ["SpecViolation", "join_path", "short_repr"]

# A path segment that can be written as ``.name``; anything else (``nvidia.com/gpu``) as ``[key]``.
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_MAX_REPR = 120


@dataclass(frozen=True)
class SpecViolation:
    """One reason a RayCluster spec (or name) would be refused.

    Attributes:
        path: Where, as the API server writes field paths: ``spec.workerGroupSpecs[0].replicas``,
            ``spec.headGroupSpec.template.spec.containers[0].resources.limits.cpu``,
            ``metadata.name``.
        message: What is wrong, with the value received and what is allowed, e.g.
            ``'three' is not of type 'integer'``.

    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def join_path(path: str, part: str | int) -> str:
    """Append one segment to a field path: ``[0]`` for an index, else ``.name`` or ``[key]``."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    if _IDENT_RE.match(part):
        return f"{path}.{part}"
    return f"{path}[{part}]"


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to 120 characters so a huge value cannot flood a message."""
    return clip(repr(value), _MAX_REPR)
