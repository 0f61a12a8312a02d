"""Why a step changes, replaces or deletes its resource, from what the preview gives.

Providers say it three ways: ``replaceReasons`` (the properties that force a replacement),
``detailedDiff`` (every changed path and its kind) and ``diffReasons`` (changed top-level keys).
Dynamic providers, this package's included, give none of the detailed diff: then the changed
inputs are found by comparing old and new inputs, which is what a reviewer would do by hand.
"""

from __future__ import annotations

from .digest import Step
from .values import changed_paths

__all__ = ["INTERNAL_INPUTS", "changed_inputs", "reason_of"]

INTERNAL_INPUTS = frozenset({"__provider", "secret_paths", "owner"})
"""Inputs that change without the resource changing (the pickled provider is rewritten whenever
the package is)."""
PATHS_SHOWN = 8
PATH_LIMIT = 120


def changed_inputs(step: Step) -> list[str]:
    """Input paths that differ between the old and the new state (internal inputs left out)."""
    old = {k: v for k, v in step.old_inputs.items() if k not in INTERNAL_INPUTS}
    new = {k: v for k, v in step.new_inputs.items() if k not in INTERNAL_INPUTS}
    return changed_paths(old, new)


def _quoted(path: str) -> str:
    """A path as inline code on one line; a backtick in a key cannot end the code span."""
    flat = " ".join(path.split()).replace("`", "'")
    return f"`{flat[:PATH_LIMIT]}`"


def _listed(paths: list[str]) -> str:
    shown = ", ".join(_quoted(p) for p in paths[:PATHS_SHOWN])
    more = len(paths) - PATHS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def reason_of(step: Step) -> str:
    """One line: why this step does what it does."""
    if step.op in ("delete", "delete-replaced"):
        return "no longer declared by the program (or the stack is destroyed)"
    if step.op in ("discard", "discard-replaced"):
        return "no longer read by the program: Pulumi forgets it, the resource itself stays"
    if step.op in ("create", "create-replacement") and not step.old_inputs:
        return "new resource"
    if step.op in ("read", "refresh", "import"):
        return f"{step.op} of an existing resource"
    if step.replace_reasons:
        text = "replaced because " + _listed(list(step.replace_reasons)) + " changed"
        if step.detailed_diff:
            others = [p for p in step.detailed_diff if p not in step.replace_reasons]
            if others:
                text += "; also changed: " + _listed(others)
        return text
    if step.detailed_diff:
        return "changed: " + _listed([f"{p} ({k})" for p, k in step.detailed_diff.items()])
    paths = changed_inputs(step)
    if paths:
        prefix = "replaced; changed inputs: " if step.destructive else "changed inputs: "
        return prefix + _listed(paths)
    if step.diff_reasons:
        return "changed: " + _listed(list(step.diff_reasons))
    if step.op == "same":
        return "unchanged"
    return "the provider gave no reason"
