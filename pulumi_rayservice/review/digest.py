"""Reading a ``pulumi preview --json`` document (the CLI's PreviewDigest) into typed steps.

The document is read once, here: every other module of the review works on ``Step`` values, with
secrets already blinded (``values.redact``), so no renderer can quote a secret by mistake. Real
documents vary (Pulumi 1.x has no ``duration``, ``detailedDiff`` is ``null`` for dynamic
providers, ``same`` steps appear only with ``--show-sames``): every field is optional.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RayServiceError
from .values import redact

__all__ = [
    "CHANGING_OPS",
    "DESTRUCTIVE_OPS",
    "Preview",
    "PreviewReadError",
    "Step",
    "load",
    "parse",
]

DESTRUCTIVE_OPS = frozenset(
    {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}
)
"""Ops after which something that exists now is gone or is a new object: what a policy gate
stops on."""
CHANGING_OPS = frozenset({"create", "update", "import", "import-replacement"}) | DESTRUCTIVE_OPS


class PreviewReadError(RayServiceError):
    """The file is not a ``pulumi preview --json`` document (the message says what was wrong)."""


@dataclass(frozen=True)
class Step:
    """One step of the preview, secrets blinded.

    ``old_inputs``/``new_inputs`` are empty when there is no old (create) or new (delete) state.
    """

    op: str
    urn: str
    type: str
    name: str
    parent_type: str
    old_inputs: Mapping[str, Any] = field(default_factory=dict)
    new_inputs: Mapping[str, Any] = field(default_factory=dict)
    old_outputs: Mapping[str, Any] = field(default_factory=dict)
    replace_reasons: tuple[str, ...] = ()
    diff_reasons: tuple[str, ...] = ()
    detailed_diff: Mapping[str, str] | None = None
    """Property path -> kind (``update-replace``, ``add``, ...), or None when the provider gave
    none, as dynamic providers do."""

    @property
    def destructive(self) -> bool:
        """Whether this step deletes or replaces what exists."""
        return self.op in DESTRUCTIVE_OPS


@dataclass(frozen=True)
class Preview:
    """The steps of one preview and the CLI's own counts."""

    steps: tuple[Step, ...]
    change_summary: Mapping[str, int]

    def counts(self) -> dict[str, int]:
        """Steps per op: the CLI's ``changeSummary`` where given, else counted from the steps."""
        if self.change_summary:
            return dict(self.change_summary)
        counted: dict[str, int] = {}
        for step in self.steps:
            counted[step.op] = counted.get(step.op, 0) + 1
        return counted

    @property
    def destructive(self) -> list[Step]:
        """The steps that delete or replace something, in the document's order."""
        return [s for s in self.steps if s.destructive]


def load(path: str | Path) -> Preview:
    """Read the document at ``path`` (``-`` is not special: pass the file the CLI wrote)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PreviewReadError(f"cannot read {path}: {error}") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PreviewReadError(
            f"{path} is not JSON ({error}); write it with `pulumi preview --json > {path}`"
        ) from error
    return parse(document)


def parse(document: Any) -> Preview:
    """Typed steps from a parsed document; ``PreviewReadError`` names what is malformed."""
    if not isinstance(document, Mapping):
        raise PreviewReadError(
            f"a preview document is a JSON object; got {type(document).__name__}"
        )
    raw_steps = document.get("steps")
    raw_steps = [] if raw_steps is None else raw_steps
    if not isinstance(raw_steps, list):
        raise PreviewReadError("steps: must be a list of steps")
    summary = document.get("changeSummary")
    summary = {} if summary is None else summary
    if not isinstance(summary, Mapping):
        raise PreviewReadError("changeSummary: must be an object of op -> count")
    counts = {str(k): int(v) for k, v in summary.items() if isinstance(v, int | float)}
    return Preview(tuple(_step(i, raw) for i, raw in enumerate(raw_steps)), counts)


def _step(index: int, raw: Any) -> Step:
    if not isinstance(raw, Mapping):
        raise PreviewReadError(f"steps[{index}]: must be an object")
    old = _state(raw.get("oldState"))
    new = _state(raw.get("newState"))
    urn = str(raw.get("urn") or new.get("urn") or old.get("urn") or "")
    type_, name, parent = split_urn(urn)
    type_ = str(new.get("type") or old.get("type") or type_)
    return Step(
        op=str(raw.get("op") or "same"),
        urn=urn,
        type=type_,
        name=name,
        parent_type=parent,
        old_inputs=_inputs(old),
        new_inputs=_inputs(new),
        old_outputs=_outputs(old),
        replace_reasons=_names(raw.get("replaceReasons")),
        diff_reasons=_names(raw.get("diffReasons")),
        detailed_diff=_detailed(raw.get("detailedDiff")),
    )


def _state(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def split_urn(urn: str) -> tuple[str, str, str]:
    """``urn:pulumi:stack::project::parent$type::name`` -> (type, name, parent type or "")."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn, ""
    types = parts[2].split("$")
    return types[-1], "::".join(parts[3:]), types[-2] if len(types) > 1 else ""


def _secret_paths(state: Mapping[str, Any]) -> list[list[str]]:
    """The paths a resource declares secret, at every place they can appear.

    ``ServeApplication``'s ``secret_paths`` are relative to its ``app``; blinding a path too many
    costs nothing.
    """
    declared = (state.get("inputs") or {}).get("secret_paths")
    if not isinstance(declared, list):
        return []
    paths = [[str(p) for p in path] for path in declared if isinstance(path, list)]
    return [*paths, *(["app", *p] for p in paths), *(["deployed_app", *p] for p in paths)]


def _inputs(state: Mapping[str, Any]) -> dict[str, Any]:
    inputs = state.get("inputs")
    if not isinstance(inputs, Mapping):
        return {}
    return dict(redact(inputs, _secret_paths(state)))


def _outputs(state: Mapping[str, Any]) -> dict[str, Any]:
    outputs = state.get("outputs")
    if not isinstance(outputs, Mapping):
        return {}
    return dict(redact(outputs, _secret_paths(state)))


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _detailed(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return {
        str(path): str(diff.get("kind", "update")) if isinstance(diff, Mapping) else "update"
        for path, diff in value.items()
    }
