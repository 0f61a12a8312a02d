"""Reading a ``pulumi preview --json`` document (the CLI's PreviewDigest) into typed steps.

The document is read once, here: every other module of the review works on ``Step`` values, with
secrets already blinded (``values.redact``), so no renderer can quote a secret by mistake. Real
documents vary (Pulumi 1.x has no ``duration``, ``detailedDiff`` is ``null`` for dynamic
providers, ``same`` steps appear only with ``--show-sames``): every field is optional.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._util.secrets import paths_under
from ..cluster.provider import SECRET_PATHS as CLUSTER_SECRET_PATHS
from ..errors import RayServiceError
from ..rollout.inputs import SECRET_PATHS as SPLIT_SECRET_PATHS
from ..serve.inputs import APP_KEYS, SERVE_OPTION_SECRETS
from ..serve.inputs import SECRET_PATHS as APP_SECRET_PATHS
from .values import redact

__all__ = [
    "CLUSTER_TYPE",
    "DESTRUCTIVE_OPS",
    "SERVE_APP_TYPE",
    "TRAFFIC_SPLIT_TYPE",
    "Preview",
    "PreviewReadError",
    "Step",
    "load",
    "parse",
]

DESTRUCTIVE_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced"})
"""Ops after which something that exists now is gone or is a new object: what a policy gate
stops on. ``discard`` (and ``discard-replaced``) only has Pulumi forget a resource the program
read and no longer reads: the resource itself stays."""


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
    except RecursionError as error:
        raise PreviewReadError(f"{path} is nested too deeply to be a preview") from error
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
    counts = {
        str(k): int(v)
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
    try:
        steps = tuple(_step(i, raw) for i, raw in enumerate(raw_steps))
    except RecursionError as error:
        raise PreviewReadError("a step's state is nested too deeply to be a preview") from error
    return Preview(steps, counts)


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
        old_inputs=_inputs(str(old.get("type") or type_), old),
        new_inputs=_inputs(str(new.get("type") or type_), new),
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


SERVE_APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
TRAFFIC_SPLIT_TYPE = "pulumi-python:dynamic/rayservice:TrafficSplit"
SECRETS_BY_TYPE: Mapping[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    SERVE_APP_TYPE: (APP_KEYS, (*APP_SECRET_PATHS, *SERVE_OPTION_SECRETS)),
    CLUSTER_TYPE: (("spec",), CLUSTER_SECRET_PATHS),
    TRAFFIC_SPLIT_TYPE: (("options",), SPLIT_SECRET_PATHS),
}
"""Per resource type: the inputs/outputs under which its ``secret_paths`` input points (the
program's own secrets), and the paths its provider always keeps secret. The same the providers
wrap again themselves, so the review blinds what the state holds as secret."""
ALL_ROOTS = ("", *(root for roots, _ in SECRETS_BY_TYPE.values() for root in roots))


def _secret_paths(type_: str, state: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """The paths of ``state`` that are secret: the provider's own and the declared ones.

    A type not known here (a document edited by hand, a renamed resource) has the declared paths
    blinded under every root any of this package's resources uses: blinding a path too many costs
    a reader nothing.
    """
    roots, fixed = SECRETS_BY_TYPE.get(type_, (ALL_ROOTS, ()))
    found: list[tuple[str, ...]] = list(fixed)
    for part in ("inputs", "outputs"):
        props = state.get(part)
        if isinstance(props, Mapping):
            found += [path[1:] if path[0] == "" else path for path in paths_under(props, roots)]
    return found


def _inputs(type_: str, state: Mapping[str, Any]) -> dict[str, Any]:
    inputs = state.get("inputs")
    if not isinstance(inputs, Mapping):
        return {}
    return dict(redact(inputs, _secret_paths(type_, state)))


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _detailed(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return {
        str(path): str(diff.get("kind", "update")) if isinstance(diff, Mapping) else "update"
        for path, diff in value.items()
    }
