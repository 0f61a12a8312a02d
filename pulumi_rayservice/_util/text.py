"""Cutting text down to what a message can hold: the one clipper of the package.

Server answers, Serve's tracebacks, Kubernetes Status messages and events, reprs of user values:
anything quoted in an error is flattened to one line and cut at a limit, with an ellipsis that
shows it was cut (and that ``_util.secrets`` recognizes when it redacts a secret cut short).
"""

from __future__ import annotations

from typing import Any

ELLIPSIS = "…"


def one_line(text: Any) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(str(text).split())


def clip(text: Any, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters; a cut one ends with an ellipsis."""
    flat = one_line(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + ELLIPSIS
