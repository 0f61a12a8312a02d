"""Drive the REAL Pulumi dynamic provider host over gRPC, the way the engine does.

The engine starts ``python -u -m pulumi.dynamic`` in the program's virtualenv, reads the port from
its first stdout line and calls Configure, Check, Diff, Create, Update, Read, Delete. This module
does the same: inputs are serialized with the SDK's own
``rpc.serialize_properties``, the ``__provider`` input is built as ``Resource.__init__`` builds it,
secret wrappers are stripped before sending (the engine sends plain values to a provider that does
not accept secrets), and unknowns are sent as the engine's UNKNOWN sentinel in preview.

``Engine`` on top keeps per-resource state (id, inputs, outputs) and plays one ``pulumi up`` step
for a resource: check, then create, or diff and update/replace/same; and destroy and refresh.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import ResourceProvider, serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from ..paths import REPO_ROOT
from .processes import end_session

PROVIDER_KEY = "__provider"
UNKNOWN = Unknown()  # put this anywhere in inputs to send the engine's "not known yet" value


class ProviderError(Exception):
    """A provider call failed; ``message`` is the last line, what the Pulumi CLI shows a user."""

    def __init__(self, method: str, details: str) -> None:
        self.method = method
        self.details = details
        lines = [line for line in details.strip().splitlines() if line.strip()]
        self.message = lines[-1] if lines else details
        super().__init__(f"{method}: {self.message}")


@dataclass
class CheckOutcome:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]


@dataclass
class DiffOutcome:
    changes: int  # provider_pb2.DiffResponse.DIFF_*
    replaces: list[str]
    delete_before_replace: bool

    @property
    def has_changes(self) -> bool:
        return self.changes == provider_pb2.DiffResponse.DIFF_SOME


def strip_secrets(value: Any) -> Any:
    """Plain values, as the engine sends them to a provider with acceptSecrets=False."""
    if rpc.is_rpc_secret(value):
        return strip_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, Mapping):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def secret_paths(value: Any, prefix: str = "") -> list[str]:
    """Where ``value`` holds secret-wrapped leaves (as returned by the provider)."""
    if rpc.is_rpc_secret(value):
        return [prefix or "."]
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, child in value.items():
            found += secret_paths(child, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += secret_paths(child, f"{prefix}[{index}]")
    return found


def _to_wire(value: Any) -> Any:
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, Mapping):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    return value


def _serialize(props: Mapping[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(_to_wire(strip_secrets(props)), {}))
    finally:
        loop.close()


def _deserialize(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Properties as the engine holds them: secrets stay wrapped WHERE they are (nested too).

    The SDK's ``deserialize_properties`` lifts a nested secret to its top-level property; the
    engine does not, so tests that ask "which leaves are secret" read the wire form directly.
    """
    return {k: _from_wire(v) for k, v in json_format.MessageToDict(struct).items()}


def _from_wire(value: Any) -> Any:
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_wire(v) for v in value]
    return value


class ProviderHost:
    """One ``python -m pulumi.dynamic`` process and a gRPC stub to it."""

    def __init__(self, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        host_env = dict(os.environ)
        host_env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [host_env.get("PYTHONPATH")])]
        )
        host_env.setdefault("PULUMI_PROJECT", "rayservice-tests")
        host_env.update(env or {})
        self.log_lines: list[str] = []
        self.log_times: list[tuple[float, str]] = []
        """Each output line with the monotonic time it was read (for the benchmarks)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
            cwd=str(cwd or REPO_ROOT),
            env=host_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        port_line = self.proc.stdout.readline().decode().strip()
        if not port_line.isdigit():
            err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
            raise RuntimeError(f"provider host did not print its port: {port_line!r} {err}")
        self.port = int(port_line)
        # The engine shows the host's stdout/stderr lines as diagnostics: keep them to inspect.
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.stub.Configure(provider_pb2.ConfigureRequest(acceptSecrets=True))

    def _pump(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            self.log_times.append((time.monotonic(), line))
            self.log_lines.append(line)

    @property
    def log(self) -> str:
        return "\n".join(self.log_lines)

    def wait_for_log(self, text: str, timeout: float = 10.0) -> bool:
        """Whether ``text`` shows up in the host's output within ``timeout`` (read by a thread)."""
        end = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() >= end:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        self.channel.close()
        end_session(self.proc, grace_s=2.0)

    def __enter__(self) -> ProviderHost:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as error:
            raise ProviderError(method, error.details() or str(error)) from None

    # the engine's calls ---------------------------------------------------------------------

    def check(self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> CheckOutcome:
        reply = self._call(
            "Check",
            provider_pb2.CheckRequest(urn=urn, olds=_serialize(olds), news=_serialize(news)),
        )
        return CheckOutcome(
            inputs=_deserialize(reply.inputs),
            failures=[(f.property, f.reason) for f in reply.failures],
        )

    def diff(
        self, urn: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> DiffOutcome:
        reply = self._call(
            "Diff",
            provider_pb2.DiffRequest(id=id_, urn=urn, olds=_serialize(olds), news=_serialize(news)),
        )
        return DiffOutcome(
            changes=reply.changes,
            replaces=list(reply.replaces),
            delete_before_replace=reply.deleteBeforeReplace,
        )

    def create(
        self, urn: str, props: Mapping[str, Any], timeout: float = 600
    ) -> tuple[str, dict[str, Any]]:
        reply = self._call(
            "Create",
            provider_pb2.CreateRequest(urn=urn, properties=_serialize(props), timeout=timeout),
        )
        return reply.id, _deserialize(reply.properties)

    def update(
        self,
        urn: str,
        id_: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        timeout: float = 600,
    ) -> dict[str, Any]:
        reply = self._call(
            "Update",
            provider_pb2.UpdateRequest(
                id=id_, urn=urn, olds=_serialize(olds), news=_serialize(news), timeout=timeout
            ),
        )
        return _deserialize(reply.properties)

    def read(
        self, urn: str, id_: str, props: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        reply = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=id_, urn=urn, properties=_serialize(props), inputs=_serialize(inputs or {})
            ),
        )
        return reply.id, _deserialize(reply.properties)

    def delete(self, urn: str, id_: str, props: Mapping[str, Any], timeout: float = 600) -> None:
        self._call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=id_, urn=urn, properties=_serialize(props), timeout=timeout
            ),
        )


def provider_input(provider: ResourceProvider) -> str:
    """The ``__provider`` input exactly as ``pulumi.dynamic.Resource.__init__`` builds it."""
    return serialize_provider(provider)


def urn_of(type_token: str, name: str) -> str:
    return f"urn:pulumi:test::rayservice-tests::{type_token}::{name}"


class CheckFailed(Exception):
    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{p}: {r}" for p, r in failures))


@dataclass
class ResourceState:
    urn: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class Step:
    """What one ``up`` did to one resource: create, update, replace or same."""

    op: str
    diff: DiffOutcome | None = None


@dataclass
class Engine:
    """Per-resource state and the engine's step logic, for tests that play ``pulumi up``."""

    host: ProviderHost
    state: dict[str, ResourceState] = field(default_factory=dict)

    def check(self, urn: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        old = self.state.get(urn)
        outcome = self.host.check(urn, old.inputs if old else {}, inputs)
        if outcome.failures:
            raise CheckFailed(outcome.failures)
        return outcome.inputs

    def preview(self, urn: str, inputs: Mapping[str, Any]) -> Step:
        """Check and Diff only, as ``pulumi preview`` does."""
        checked = self.check(urn, inputs)
        old = self.state.get(urn)
        if old is None:
            return Step("create")
        diff = self.host.diff(urn, old.id, old.outputs, checked)
        return Step(self._op(diff), diff)

    def up(self, urn: str, inputs: Mapping[str, Any]) -> Step:
        checked = self.check(urn, inputs)
        old = self.state.get(urn)
        if old is None:
            id_, outputs = self.host.create(urn, checked)
            self.state[urn] = ResourceState(urn, id_, checked, outputs)
            return Step("create")
        diff = self.host.diff(urn, old.id, old.outputs, checked)
        op = self._op(diff)
        if op == "same":
            return Step("same", diff)
        if op == "update":
            outputs = self.host.update(urn, old.id, old.outputs, checked)
            self.state[urn] = ResourceState(urn, old.id, checked, outputs)
            return Step("update", diff)
        # The engine checks again without olds when it replaces (so a new name is drawn).
        fresh = self.host.check(urn, {}, inputs)
        if fresh.failures:
            raise CheckFailed(fresh.failures)
        checked = fresh.inputs
        if diff.delete_before_replace:
            self.host.delete(urn, old.id, old.outputs)
            del self.state[urn]
            id_, outputs = self.host.create(urn, checked)
        else:
            id_, outputs = self.host.create(urn, checked)
            self.host.delete(urn, old.id, old.outputs)
        self.state[urn] = ResourceState(urn, id_, checked, outputs)
        return Step("replace", diff)

    def refresh(self, urn: str) -> ResourceState | None:
        old = self.state[urn]
        id_, outputs = self.host.read(urn, old.id, old.outputs, old.inputs)
        if not id_:
            del self.state[urn]
            return None
        self.state[urn] = ResourceState(urn, id_, old.inputs, outputs)
        return self.state[urn]

    def destroy(self, urn: str) -> None:
        old = self.state.pop(urn, None)
        if old is not None:
            self.host.delete(urn, old.id, old.outputs)

    def destroy_all(self) -> Iterator[str]:
        for urn in reversed(list(self.state)):
            self.destroy(urn)
            yield urn

    @staticmethod
    def _op(diff: DiffOutcome) -> str:
        if not diff.has_changes:
            return "same"
        return "replace" if diff.replaces else "update"
