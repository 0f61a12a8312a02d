"""The HTTPRoute (and the Gateway, when ours) on the API server: written, owned, waited for.

``KubeRoute`` is the rollout's :class:`~.runner.RouteControl` against a real API server. Every
write is checked against ownership first, as RayClusters are: an object of that name that this
package did not make for this resource and stack is never changed (``RouteOwnershipError``).
After each weight change it waits until the Gateway controller reports the route in force for
this generation (``Accepted`` and ``ResolvedRefs`` in ``status.parents``), so a step's traffic
share is what clients see before the next gate runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._util.polling import Deadline
from ..cluster.inputs import MANAGED_BY, MANAGED_BY_LABEL, RESOURCE_LABEL, STACK_ANNOTATION
from ..errors import RolloutError, RouteOwnershipError
from ..kube.client import KubeClient
from ..kube.objects import RawObject, meta
from .gateway_api import (
    GATEWAY,
    HTTP_ROUTE,
    Backend,
    GatewayRef,
    gateway_manifest,
    gateway_problem,
    route_manifest,
    route_problem,
    route_spec,
    route_weights,
)
from .runner import ClusterBackend

POLL_S = 0.2
READ_FLOOR_S = 5.0
"""The least time the read that ends a wait gets, so the wait fails with what it saw."""


@dataclass(frozen=True)
class Owner:
    """Who the objects belong to: the Pulumi resource (a label value) and the stack."""

    resource: str
    stack: str

    def labels(self) -> dict[str, str]:
        """The labels that mark an object as ours."""
        return {MANAGED_BY_LABEL: MANAGED_BY, RESOURCE_LABEL: self.resource}

    def annotations(self) -> dict[str, str]:
        """The annotation naming the stack."""
        return {STACK_ANNOTATION: self.stack}

    def require(self, obj: Mapping[str, Any], what: str) -> None:
        """Refuse ``obj`` unless this package made it for this resource and stack."""
        metadata = meta(obj)
        labels = metadata.get("labels") or {}
        stack = (metadata.get("annotations") or {}).get(STACK_ANNOTATION)
        if (
            labels.get(MANAGED_BY_LABEL) != MANAGED_BY
            or labels.get(RESOURCE_LABEL) != self.resource
        ):
            raise RouteOwnershipError(
                f"{what} already exists and is not managed by pulumi-rayservice for "
                f"{self.resource!r} (label {MANAGED_BY_LABEL}); nothing was changed. Give an "
                "existing Gateway with gateway=, or choose another service name"
            )
        if stack != self.stack:
            raise RouteOwnershipError(
                f"{what} belongs to stack {stack!r}, not {self.stack!r}; nothing was changed"
            )


@dataclass
class KubeRoute:
    """One service's HTTPRoute on the API server, attached to ``gateway``."""

    kube: KubeClient
    namespace: str
    name: str
    gateway: GatewayRef
    owner: Owner
    timeout_s: float
    """How long one weight change may take, its wait until in force included."""
    poll_s: float = POLL_S

    @property
    def what(self) -> str:
        """``HTTPRoute ns/name`` for messages."""
        return f"HTTPRoute {self.namespace}/{self.name}"

    def live(self) -> RawObject | None:
        """The route as the API server has it, or None."""
        return self.kube.get(HTTP_ROUTE, self.namespace, self.name)

    def weights(self) -> dict[str, int]:
        """Service name -> weight, live (empty when there is no route yet)."""
        return route_weights(self.live())

    def set_weights(self, weights: Sequence[tuple[ClusterBackend, int]]) -> None:
        """Create or patch the route with these backends, then wait until it is in force.

        Each change has ``timeout_s`` of its own, so a rollback's change gets its time even
        when the rollout's budget is spent.
        """
        deadline = Deadline(self.timeout_s)
        with self.kube.within(deadline):
            self._write(weights, deadline)

    def _write(self, weights: Sequence[tuple[ClusterBackend, int]], deadline: Deadline) -> None:
        backends = [Backend(b.service, b.port, weight) for b, weight in weights]
        live = self.live()
        if live is None:
            obj = self.kube.create(
                HTTP_ROUTE,
                self.namespace,
                route_manifest(
                    self.name,
                    self.namespace,
                    self.gateway,
                    backends,
                    labels=self.owner.labels(),
                    annotations=self.owner.annotations(),
                ),
            )
        else:
            self.owner.require(live, self.what)
            obj = self.kube.merge_patch(
                HTTP_ROUTE,
                self.namespace,
                self.name,
                {
                    "metadata": {"resourceVersion": meta(live).get("resourceVersion")},
                    "spec": route_spec(self.gateway, backends),
                },
            )
        self._wait_in_force(obj, deadline)

    def delete(self) -> None:
        """Delete the route if it is ours (nothing when it is gone)."""
        live = self.live()
        if live is None:
            return
        self.owner.require(live, self.what)
        self.kube.delete(HTTP_ROUTE, self.namespace, self.name, uid=meta(live).get("uid"))

    def _wait_in_force(self, written: RawObject, deadline: Deadline) -> None:
        generation = meta(written).get("generation")
        while True:
            with self.kube.within(deadline.at_least(READ_FLOOR_S)):
                obj = self.live()  # a read that says how the wait ended gets its time
            problem = _generation_problem(obj, generation) or route_problem(obj, self.gateway)
            if problem is None:
                return
            if not deadline.sleep(self.poll_s):
                raise RolloutError(
                    f"{self.what} was written but not in force within {self.timeout_s:g}s: "
                    f"{problem}"
                )


@dataclass
class KubeGateway:
    """The Gateway the route attaches to: created (ours) or only read (an existing one)."""

    kube: KubeClient
    ref: GatewayRef
    owner: Owner
    timeout_s: float
    """How long making the Gateway ready may take."""
    class_name: str | None = None
    """Set when the Gateway is ours to create; None for an existing Gateway."""
    poll_s: float = POLL_S

    @property
    def what(self) -> str:
        """``Gateway ns/name`` for messages."""
        return f"Gateway {self.ref.namespace}/{self.ref.name}"

    def ensure(self) -> RawObject:
        """Create our Gateway (or adopt our own), or find the existing one; wait until ready."""
        deadline = Deadline(self.timeout_s)
        with self.kube.within(deadline):
            return self._ensure(deadline)

    def _ensure(self, deadline: Deadline) -> RawObject:
        live = self.kube.get(GATEWAY, self.ref.namespace, self.ref.name)
        if self.class_name is not None:
            manifest = gateway_manifest(
                self.ref.name,
                self.ref.namespace,
                self.class_name,
                labels=self.owner.labels(),
                annotations=self.owner.annotations(),
            )
            if live is None:
                live = self.kube.create(GATEWAY, self.ref.namespace, manifest)
            else:
                self.owner.require(live, self.what)
                spec = live.get("spec") or {}
                if spec.get("gatewayClassName") != self.class_name:
                    raise RolloutError(
                        f"{self.what} is of class {spec.get('gatewayClassName')!r}, not "
                        f"{self.class_name!r}, and a Gateway's class cannot change; nothing was "
                        "changed. Delete it (it is ours) or keep its class"
                    )
                if _listeners(spec) != _listeners(manifest["spec"]):
                    live = self.kube.merge_patch(
                        GATEWAY, self.ref.namespace, self.ref.name, {"spec": manifest["spec"]}
                    )
        elif live is None:
            raise RolloutError(f"{self.what} does not exist (gateway= names an existing Gateway)")
        return self._wait_ready(deadline)

    def delete(self) -> None:
        """Delete the Gateway if we created it (an existing Gateway is never touched)."""
        if self.class_name is None:
            return
        live = self.kube.get(GATEWAY, self.ref.namespace, self.ref.name)
        if live is None:
            return
        self.owner.require(live, self.what)
        self.kube.delete(GATEWAY, self.ref.namespace, self.ref.name, uid=meta(live).get("uid"))

    def _wait_ready(self, deadline: Deadline) -> RawObject:
        while True:
            with self.kube.within(deadline.at_least(READ_FLOOR_S)):
                live = self.kube.get(GATEWAY, self.ref.namespace, self.ref.name)
            problem = gateway_problem(live)
            if problem is None and live is not None:
                return live
            if not deadline.sleep(self.poll_s):
                raise RolloutError(
                    f"{self.what} did not become ready within {self.timeout_s:g}s: "
                    f"{problem} (is a Gateway controller for its class installed?)"
                )


def _listeners(spec: Mapping[str, Any]) -> list[tuple[Any, Any, Any]]:
    """The listeners' name, protocol and port: what we set (the API server defaults the rest)."""
    return [
        (listener.get("name"), listener.get("protocol"), listener.get("port"))
        for listener in spec.get("listeners") or []
        if isinstance(listener, Mapping)
    ]


def _generation_problem(obj: Mapping[str, Any] | None, generation: int | None) -> str | None:
    """Why ``obj``'s status may not yet speak of the generation written (None: it does)."""
    if obj is None or generation is None:
        return None
    for parent in (obj.get("status") or {}).get("parents") or []:
        for condition in (parent.get("conditions") if isinstance(parent, Mapping) else []) or []:
            observed = (
                condition.get("observedGeneration") if isinstance(condition, Mapping) else None
            )
            if isinstance(observed, int) and observed < generation:
                return f"the controller has not seen generation {generation} yet ({observed})"
    return None
