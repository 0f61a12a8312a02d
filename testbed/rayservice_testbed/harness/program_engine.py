"""Play the Pulumi engine for a whole program: ``pulumi preview``, ``up`` and ``destroy``.

No Pulumi CLI can run on these machines, so this is the engine's step logic, driven by the
program itself: the program runs under Pulumi's mock runtime with a monitor that, for every
resource registration, does what the engine does:

- dynamic resources (``RayCluster``, ``ServeApplication``): Check, then Create, or Diff and then
  Update / replace / nothing, through the REAL provider host (``ProviderHost``) over gRPC.
  Replacements are create-before-delete (Check again without olds, as the engine does, so a new
  name is drawn) unless the provider asks for delete-before-replace; the old resources are
  deleted after the whole program, dependents first, as the engine defers them.
- ``ignore_changes`` takes the old input values before Check, as the engine does.
- ``kubernetes:core/v1:Service`` (what pulumi-kubernetes would apply): created or updated in the
  Kubernetes API the test talks to (the fake API server), with the official client.
- A failed step fails the run: its dependents never register (their inputs never resolve), and
  nothing is deleted at the end: old resources stay, as after a failed ``pulumi up``.

Every step is recorded in ``events`` with a timestamp, so tests can check the order of what
happened (apps RUNNING before the Service switched, old cluster deleted last).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2

from pulumi_rayservice._util.normalize import canonical

from .provider_host import CheckFailed, ProviderHost, ResourceState, strip_secrets
from .pulumi_mocks import mocked_runtime

DYNAMIC_PREFIX = "pulumi-python:dynamic"


def _expected_failure(record: logging.LogRecord) -> bool:
    """Keep asyncio's log free of the failed steps a test provokes on purpose.

    When a step fails, the outputs of its dependents stay failed futures that nobody awaits (as
    in a real failed `pulumi up`); asyncio reports each one at garbage collection. The failure
    itself is in ``Run.failure``, where tests assert on it.
    """
    message = record.getMessage()
    return not (
        message.startswith("Future exception was never retrieved")
        and ("ProviderError(" in message or "CheckFailed(" in message)
    )


logging.getLogger("asyncio").addFilter(_expected_failure)
SERVICE_TYPE = "kubernetes:core/v1:Service"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


@dataclass(frozen=True)
class Event:
    """One step the engine took."""

    at: float
    op: str  # create, update, replace-create, delete, same, failed
    urn: str
    detail: str = ""

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        return self.urn.split("::")[2].rsplit("$", 1)[-1]


@dataclass
class Run:
    """What one ``up``/``preview`` did, per URN, and the first failure if any."""

    steps: dict[str, str] = field(default_factory=dict)
    failure: BaseException | None = None


class ServiceApplier:
    """Applies ``kubernetes:core/v1:Service`` resources with the official client."""

    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config

        self._api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))

    def apply(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        # pulumi-kubernetes types values by the Kubernetes schema; the wire gives floats.
        body = {"apiVersion": "v1", "kind": "Service", **canonical(strip_secrets(dict(inputs)))}
        meta = body["metadata"]
        try:
            current = self._api.read_namespaced_service(meta["name"], meta["namespace"])
        except ApiException as error:
            if error.status != 404:
                raise
            created = self._api.create_namespaced_service(meta["namespace"], body)
            return dict(self._api.api_client.sanitize_for_serialization(created))
        body["metadata"]["resourceVersion"] = current.metadata.resource_version
        replaced = self._api.replace_namespaced_service(meta["name"], meta["namespace"], body)
        return dict(self._api.api_client.sanitize_for_serialization(replaced))

    def delete(self, outputs: Mapping[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        meta = outputs["metadata"]
        try:
            self._api.delete_namespaced_service(meta["name"], meta["namespace"])
        except ApiException as error:
            if error.status != 404:
                raise


class ProgramEngine:
    """Engine state for one stack, and the steps of preview / up / destroy."""

    def __init__(
        self,
        host: ProviderHost,
        services: ServiceApplier | None = None,
        *,
        project: str | None = None,
    ) -> None:
        self.host = host
        self.project = project
        self.services = services
        self.state: dict[str, ResourceState] = {}
        self.types: dict[str, str] = {}
        self.pending_deletes: list[ResourceState] = []
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self._run: Run = Run()
        self._registered: set[str] = set()
        self._preview = False

    # the commands -------------------------------------------------------------------------

    def up(self, program: Callable[[], Any]) -> Run:
        """``pulumi up``: run the program, apply every step, then the deferred deletes."""
        return self._execute(program, preview=False)

    def preview(self, program: Callable[[], Any]) -> Run:
        """``pulumi preview``: Check and Diff only; nothing is written anywhere."""
        return self._execute(program, preview=True)

    def refresh(self) -> None:
        """``pulumi refresh``: Read every dynamic resource; one that is gone leaves the state.

        The program does not run; the outputs read become the next Diff's olds (the inputs kept
        are the stored ones, as the engine keeps them).
        """
        for urn in list(self.state):
            typ = self.types[urn]
            if not typ.startswith(DYNAMIC_PREFIX):
                continue
            old = self.state[urn]
            id_, outputs = self.host.read(urn, old.id, old.outputs, old.inputs)
            with self._lock:
                if not id_:
                    self.state.pop(urn)
                    self.types.pop(urn)
                    self._record("refresh-gone", urn, old.id)
                else:
                    self.state[urn] = ResourceState(urn, id_, old.inputs, outputs)
                    self._record("refresh", urn, id_)

    def destroy(self) -> None:
        """``pulumi destroy``: delete everything, dependents first."""
        self._delete_pending()
        for urn in reversed(list(self.state)):
            self._delete(self.state.pop(urn), self.types.pop(urn))

    # the monitor calls this for every registration --------------------------------------

    def register(
        self, urn: str, typ: str, inputs: dict[str, Any], ignore_changes: list[str]
    ) -> tuple[str, dict[str, Any]]:
        self._registered.add(urn)
        try:
            if typ.startswith(DYNAMIC_PREFIX):
                return self._dynamic(urn, typ, inputs, ignore_changes)
            if typ == SERVICE_TYPE:
                return self._service(urn, inputs)
            if typ == KUBERNETES_PROVIDER or typ.startswith("pulumi:providers:"):
                return f"{urn}-id", dict(inputs)
            raise NotImplementedError(f"the test engine does not apply {typ}")
        except BaseException as error:
            with self._lock:
                self._run.steps[urn] = "failed"
                self._record("failed", urn, str(error)[-300:])
                if self._run.failure is None:
                    self._run.failure = error
            raise

    # steps ---------------------------------------------------------------------------------

    def _dynamic(
        self, urn: str, typ: str, inputs: dict[str, Any], ignore_changes: list[str]
    ) -> tuple[str, dict[str, Any]]:
        old = self.state.get(urn)
        news = dict(inputs)
        if old is not None:
            for key in ignore_changes:
                if key in old.inputs:
                    news[key] = old.inputs[key]
                else:
                    news.pop(key, None)
        checked = self._check(urn, old.inputs if old else {}, news)
        if old is None:
            if self._preview:
                return self._step(urn, "create", "", checked)
            id_, outputs = self.host.create(urn, checked)
            self._commit(urn, typ, ResourceState(urn, id_, checked, outputs), "create")
            return id_, plain(outputs)
        diff = self.host.diff(urn, old.id, old.outputs, checked)
        if not diff.has_changes:
            return self._step(urn, "same", old.id, old.outputs)
        if not diff.replaces:
            if self._preview:
                return self._step(urn, "update", old.id, {**old.outputs, **checked})
            outputs = self.host.update(urn, old.id, old.outputs, checked)
            self._commit(urn, typ, ResourceState(urn, old.id, checked, outputs), "update")
            return old.id, plain(outputs)
        # The engine re-checks without olds on replace (so a new name is drawn), in preview too;
        # a preview then shows the checked inputs as the new resource's outputs.
        if self._preview:
            return self._step(urn, "replace", "", self._check(urn, {}, news))
        if diff.delete_before_replace:
            self._delete(old, typ)
            with self._lock:
                self.state.pop(urn, None)
        fresh = self._check(urn, {}, news)
        id_, outputs = self.host.create(urn, fresh)
        if not diff.delete_before_replace:
            with self._lock:
                self.pending_deletes.append(old)
                self.types[f"{urn}#old{len(self.pending_deletes)}"] = typ
        self._commit(urn, typ, ResourceState(urn, id_, fresh, outputs), "replace-create")
        return id_, plain(outputs)

    def _service(self, urn: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        assert self.services is not None, "this program needs a Kubernetes API (ServiceApplier)"
        old = self.state.get(urn)
        wanted = strip_secrets(inputs)
        if old is not None and old.inputs == wanted:
            return self._step(urn, "same", old.id, old.outputs)
        if self._preview:
            return self._step(urn, "update" if old else "create", old.id if old else "", wanted)
        applied = self.services.apply(wanted)
        outputs = {**wanted, "metadata": {**wanted["metadata"], "uid": applied["metadata"]["uid"]}}
        op = "update" if old else "create"
        selector = (wanted.get("spec") or {}).get("selector")
        self._commit(
            urn, SERVICE_TYPE, ResourceState(urn, applied["metadata"]["uid"], wanted, outputs), op,
            detail=f"selector={selector}",
        )  # fmt: skip
        return applied["metadata"]["uid"], outputs

    def _check(self, urn: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        outcome = self.host.check(urn, olds, news)
        if outcome.failures:
            raise CheckFailed(outcome.failures)
        return outcome.inputs

    def _commit(self, urn: str, typ: str, state: ResourceState, op: str, detail: str = "") -> None:
        with self._lock:
            self.state[urn] = state
            self.types[urn] = typ
            self._run.steps[urn] = op
            self._record(op, urn, detail or state.id)

    def _step(
        self, urn: str, op: str, id_: str, outputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self._run.steps[urn] = op
        return id_, plain(outputs)

    def _delete(self, state: ResourceState, typ: str) -> None:
        if typ == SERVICE_TYPE:
            assert self.services is not None
            self.services.delete(state.outputs)
        elif typ.startswith(DYNAMIC_PREFIX):
            self.host.delete(state.urn, state.id, state.outputs)
        self._record("delete", state.urn, state.id)

    def _delete_pending(self) -> None:
        while self.pending_deletes:
            old = self.pending_deletes.pop()
            typ = self.types.pop(f"{old.urn}#old{len(self.pending_deletes) + 1}")
            self._delete(old, typ)

    def _record(self, op: str, urn: str, detail: str) -> None:
        self.events.append(Event(time.monotonic(), op, urn, detail))

    # a run ---------------------------------------------------------------------------------

    def _execute(self, program: Callable[[], Any], *, preview: bool) -> Run:
        self._run, self._registered, self._preview = Run(), set(), preview
        monitor = EngineMonitor(self)

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def run_program() -> Any:
            program()

        try:
            with mocked_runtime(
                monitor.mocks, preview=preview, monitor=monitor, project=self.project
            ):
                run_program()
        except BaseException as error:
            if self._run.failure is None:
                self._run.failure = error
        run = self._run
        if preview or run.failure is not None:
            return run
        # Deferred deletes: replaced resources, then what the program no longer declares.
        self._delete_pending()
        for urn in reversed(list(self.state)):
            if urn not in self._registered:
                self._delete(self.state.pop(urn), self.types.pop(urn))
                run.steps[urn] = "delete"
        return run


class _NoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        raise AssertionError("EngineMonitor handles registrations itself")

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class EngineMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that hands every registration, with its options, to ``ProgramEngine``."""

    def __init__(self, engine: ProgramEngine) -> None:
        self.mocks = _NoMocks()
        super().__init__(self.mocks)
        self.engine = engine

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack" or not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        pulumi_mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        id_, state = self.engine.register(
            urn, request.type, dict(inputs), list(request.ignoreChanges)
        )
        obj = pulumi_mocks._sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)


def plain(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs with the wire's secret wrappers kept as SDK secrets (what the program sees)."""
    return {k: _sdk_value(v) for k, v in outputs.items()}


def _sdk_value(value: Any) -> Any:
    if isinstance(value, Mapping) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return rpc.wrap_rpc_secret(_sdk_value(value.get("value")))
    if isinstance(value, Mapping):
        return {k: _sdk_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sdk_value(v) for v in value]
    return value
