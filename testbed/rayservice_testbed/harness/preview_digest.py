"""What the engine stand-in planned, written as ``pulumi preview --json`` writes it.

The review summary (``pulumi_rayservice.review``) reads the CLI's PreviewDigest. No Pulumi CLI
runs here, so the tests make that document from the engine stand-in's steps: Check and Diff
through the real provider host, the old state as an ``up`` left it. The shape follows
``pkg/display/json.go``: ``{steps: [{op, urn, provider, oldState, newState, replaceReasons,
diffReasons, detailedDiff: null}], changeSummary}``; secrets are ``"[secret]"`` and values not
known yet are Pulumi's sentinel, as the CLI writes them. ``detailedDiff`` is ``null`` because
dynamic providers give none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

from pulumi_rayservice._util.secrets import PLACEHOLDER
from pulumi_rayservice.cluster.changes import revision
from pulumi_rayservice.cluster.inputs import ClusterInputs
from pulumi_rayservice.cluster.spec import ENABLE_SERVE_SERVICE_ANNOTATION

from .program_engine import ProgramEngine, Run
from .provider_host import CheckOutcome, DiffOutcome, ProviderHost, ResourceState

__all__ = [
    "SECRET",
    "UNKNOWN_SENTINEL",
    "NoServiceWrites",
    "PlannedStep",
    "RecordingEngine",
    "applied_outputs",
    "cli_value",
    "destroy_plan",
    "digest",
    "stable_cluster_names",
]

SECRET = PLACEHOLDER
UNKNOWN_SENTINEL = rpc.UNKNOWN
DYNAMIC_PROVIDER = "urn:pulumi:test::rayservice-tests::pulumi:providers:pulumi-python::default"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
SPLIT_TYPE = "pulumi-python:dynamic/rayservice:TrafficSplit"
SECRET_KEYS = frozenset({"__provider"})
"""Always secret in the CLI's output: the pickled provider."""


@dataclass(frozen=True)
class PlannedStep:
    """One step as the engine plans it: the old state (if any) and the new inputs (if any)."""

    op: str
    urn: str
    type: str
    old: ResourceState | None = None
    new_inputs: Mapping[str, Any] | None = None
    new_outputs: Mapping[str, Any] | None = None
    replace_reasons: Sequence[str] = ()
    diff_reasons: Sequence[str] = ()


def cli_value(value: Any, *, show_secrets: bool = False) -> Any:
    """``value`` as the CLI prints it: secrets blinded, unknowns as the sentinel.

    ``show_secrets`` leaves secrets plain, as a state exported with ``--show-secrets`` holds them:
    a document the review must blind by itself.
    """
    if rpc.is_rpc_secret(value):
        return (
            cli_value(rpc.unwrap_rpc_secret(value), show_secrets=True) if show_secrets else SECRET
        )
    if isinstance(value, Unknown):
        return UNKNOWN_SENTINEL
    if isinstance(value, Mapping):
        return {
            str(k): SECRET if k in SECRET_KEYS else cli_value(v, show_secrets=show_secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [cli_value(v, show_secrets=show_secrets) for v in value]
    return value


def _state(
    urn: str,
    type_: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    show_secrets: bool,
) -> dict[str, Any]:
    return {
        "urn": urn,
        "custom": True,
        "type": type_,
        "inputs": cli_value(dict(inputs), show_secrets=show_secrets),
        "outputs": cli_value(dict(outputs), show_secrets=show_secrets),
        "provider": DYNAMIC_PROVIDER if type_.startswith("pulumi-python:") else "",
    }


def _step(planned: PlannedStep, show_secrets: bool) -> dict[str, Any]:
    step: dict[str, Any] = {"op": planned.op, "urn": planned.urn, "provider": DYNAMIC_PROVIDER}
    if planned.old is not None:
        step["oldState"] = _state(
            planned.urn, planned.type, planned.old.inputs, planned.old.outputs, show_secrets
        )
    if planned.new_inputs is not None:
        outputs = planned.new_outputs if planned.new_outputs is not None else planned.new_inputs
        step["newState"] = _state(
            planned.urn, planned.type, planned.new_inputs, outputs, show_secrets
        )
    if planned.replace_reasons:
        step["replaceReasons"] = list(planned.replace_reasons)
    if planned.diff_reasons:
        step["diffReasons"] = list(planned.diff_reasons)
    step["detailedDiff"] = None
    return step


def digest(steps: Iterable[PlannedStep], *, show_secrets: bool = False) -> dict[str, Any]:
    """The PreviewDigest of ``steps`` (``changeSummary`` counted from them).

    ``show_secrets`` leaves secret values plain (see :func:`cli_value`).
    """
    written = [_step(s, show_secrets) for s in steps]
    summary: dict[str, int] = {}
    for step in written:
        summary[step["op"]] = summary.get(step["op"], 0) + 1
    return {"steps": written, "changeSummary": summary}


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if k != "__provider" and old.get(k) != new.get(k))


class _RecordingHost:
    """The provider host, remembering each resource's last Check and Diff answer."""

    def __init__(self, host: ProviderHost) -> None:
        self._host = host
        self.checked: dict[str, dict[str, Any]] = {}
        self.diffs: dict[str, DiffOutcome] = {}

    def check(self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> CheckOutcome:
        outcome = self._host.check(urn, olds, news)
        self.checked[urn] = outcome.inputs
        return outcome

    def diff(
        self, urn: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> DiffOutcome:
        outcome = self._host.diff(urn, id_, olds, news)
        self.diffs[urn] = outcome
        return outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)


class RecordingEngine(ProgramEngine):
    """The engine stand-in, keeping what a preview planned for ``preview_steps``."""

    def __init__(self, host: ProviderHost, *args: Any, **kwargs: Any) -> None:
        self._recorder = _RecordingHost(host)
        super().__init__(self._recorder, *args, **kwargs)  # type: ignore[arg-type]
        self.planned: list[PlannedStep] = []
        self._types_seen: dict[str, str] = {}

    def preview_steps(self, program: Callable[[], Any]) -> tuple[Run, list[PlannedStep]]:
        """``pulumi preview``: the run and its planned steps, deletes of what is gone last."""
        self.planned = []
        run = self.preview(program)
        registered = set(self._types_seen)
        gone = [
            PlannedStep("delete", urn, self.types[urn], old=state)
            for urn, state in reversed(list(self.state.items()))
            if urn not in registered
        ]
        return run, [*self.planned, *gone]

    def assume_applied(self, program: Callable[[], Any], *, rounds: int = 4) -> None:
        """Fill the state as ``up`` of ``program`` would leave it, without running anything.

        Each round previews and writes every planned create or update with
        ``applied_outputs``; a resource whose inputs depend on another's outputs is planned
        with known values only once that one is in the state, hence the rounds.
        """
        for _ in range(rounds):
            run, planned = self.preview_steps(program)
            if run.failure is not None:
                raise run.failure
            pending = [p for p in planned if p.op in ("create", "update", "replace")]
            if not pending:
                return
            for step in pending:
                inputs = dict(step.new_inputs or {})
                old_id = step.old.id if step.old is not None else ""
                self.state[step.urn] = ResourceState(
                    step.urn, old_id or f"{step.urn.rsplit('::', 1)[-1]}-id", inputs,
                    applied_outputs(step.type, inputs),
                )  # fmt: skip
                self.types[step.urn] = step.type
        raise AssertionError(f"the program still plans changes after {rounds} rounds")

    def register(
        self, urn: str, typ: str, inputs: dict[str, Any], ignore_changes: list[str]
    ) -> tuple[str, dict[str, Any]]:
        self._types_seen[urn] = typ
        return super().register(urn, typ, inputs, ignore_changes)

    def _step(
        self, urn: str, op: str, id_: str, outputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        if self._preview:
            old = self.state.get(urn)
            news = outputs if op == "same" else self._recorder.checked.get(urn, outputs)
            if op == "same" and old is not None:
                news = old.inputs
            diff = self._recorder.diffs.get(urn)
            self.planned.append(
                PlannedStep(
                    op=op,
                    urn=urn,
                    type=self._types_seen.get(urn, ""),
                    old=old,
                    new_inputs=news,
                    new_outputs=outputs,
                    replace_reasons=tuple(diff.replaces) if diff and op == "replace" else (),
                    diff_reasons=_changed_keys(old.inputs, news) if old and op != "same" else (),
                )
            )
        return super()._step(urn, op, id_, outputs)


def applied_outputs(type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs an ``up`` would leave for a resource created from checked ``inputs``.

    Only what the programs read back is filled in (a cluster's name, services, dashboard and
    revision; an app's status; a split's weights), from the same functions the providers use,
    so a preview after it sees the values a real ``up`` would have written.
    """
    if type_ == CLUSTER_TYPE:
        parsed = ClusterInputs.parse(inputs)
        annotations = parsed.annotations
        serve = str(annotations.get(ENABLE_SERVE_SERVICE_ANNOTATION, "")).lower() == "true"
        return {
            **inputs,
            "uid": f"uid-{parsed.name}",
            "head_service": parsed.head_service,
            "serve_service": f"{parsed.name}-serve-svc" if serve else None,
            "dashboard": parsed.dashboard(),
            "ray_version": parsed.spec.get("rayVersion"),
            "revision": revision(parsed.spec),
            "readiness": {"state": "ready", "head_pod_ready": True},
        }
    if type_ == APP_TYPE:
        app = inputs.get("app") or {}
        return {**inputs, "status": "RUNNING", "app_name": app.get("name"), "deployed_app": app}
    if type_ == SPLIT_TYPE:
        cluster = inputs.get("cluster")
        return {
            **inputs,
            "weights": {f"{cluster}-serve-svc": 100},
            "gateway": f"{inputs.get('name')}-gateway",
        }
    return dict(inputs)


def destroy_plan(engine: ProgramEngine) -> list[PlannedStep]:
    """``pulumi preview --destroy``: every resource in the state deleted, dependents first."""
    return [
        PlannedStep("delete", urn, engine.types[urn], old=state)
        for urn, state in reversed(list(engine.state.items()))
    ]


class NoServiceWrites:
    """The Service applier of a preview-only engine: a preview writes nothing, so any call fails."""

    def apply(self, inputs: Any) -> Any:
        raise AssertionError("a preview applied a Service")

    def delete(self, outputs: Any) -> None:
        raise AssertionError("a preview deleted a Service")


def stable_cluster_names(text: str, engine: ProgramEngine, planned: Iterable[PlannedStep]) -> str:
    """``text`` with each drawn cluster name (``fruit-x7k2p``) as ``fruit-cluster-1``, ``-2``, ...

    Check draws a cluster's name at random; numbered in order of appearance (the state's first,
    then the preview's), two summaries of the same change compare equal.
    """
    names: list[str] = []
    inputs: list[Mapping[str, Any]] = [
        s.inputs for u, s in engine.state.items() if engine.types.get(u) == CLUSTER_TYPE
    ]
    inputs += [p.new_inputs or {} for p in planned if p.type == CLUSTER_TYPE]
    for props in inputs:
        name = props.get("name")
        if props.get("auto_named") and isinstance(name, str) and name not in names:
            names.append(name)
    for i, name in enumerate(names, 1):
        text = re.sub(rf"\b{re.escape(name)}\b", f"{name.rsplit('-', 1)[0]}-cluster-{i}", text)
    return text
