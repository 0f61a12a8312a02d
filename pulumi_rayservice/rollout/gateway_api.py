"""The Gateway API objects an incremental upgrade uses, built and read as KubeRay builds them.

KubeRay (``createGateway``, ``createHTTPRoute`` in ``ray-operator/controllers/ray/``
``rayservice_controller.go``; names in ``utils/constant.go``) makes, for a RayService ``<name>``:

- Gateway ``<name>-gateway`` in the RayService's namespace: the given ``gatewayClassName``, one
  listener named ``http``, protocol HTTP, port 80;
- HTTPRoute ``<name>-httproute`` attached to it (``parentRefs`` name and namespace), one rule
  matching ``PathPrefix /``, whose ``backendRefs`` are each cluster's own serve Service
  (``<cluster>-serve-svc``, namespace given, at the serve port's number) with its weight.

Here the Gateway may also be an existing one (kuberay#5018), named by ``GatewayRef``: then the
route attaches to it (and to one listener, when ``section_name`` is given) and nothing else
about it is written. Readiness is read as a client of the Gateway API reads it: the Gateway's
``Accepted`` and ``Programmed`` conditions, and the route's ``Accepted`` and ``ResolvedRefs``
in the ``status.parents`` entry of our Gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._util.text import clip
from ..kube.client import CustomResourceKind

GATEWAY = CustomResourceKind("gateway.networking.k8s.io", "v1", "gateways", "Gateway")
HTTP_ROUTE = CustomResourceKind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")
LISTENER_NAME = "http"
LISTENER_PORT = 80
SERVE_SERVICE_SUFFIX = "-serve-svc"


def gateway_name(service_name: str) -> str:
    """KubeRay's name for the Gateway it creates: ``<rayservice>-gateway``."""
    return f"{service_name}-gateway"


def route_name(service_name: str) -> str:
    """KubeRay's name for the HTTPRoute: ``<rayservice>-httproute``."""
    return f"{service_name}-httproute"


def serve_service_name(cluster_name: str) -> str:
    """The serve Service KubeRay makes for each cluster in this mode: ``<cluster>-serve-svc``."""
    return f"{cluster_name}{SERVE_SERVICE_SUFFIX}"


@dataclass(frozen=True)
class GatewayRef:
    """The Gateway the route attaches to (ours, or an existing one).

    Attributes:
        name: the Gateway's name.
        namespace: its namespace (the route's, when it is ours).
        section_name: one listener of it to attach to; None attaches to all (the Gateway API's
            default).

    """

    name: str
    namespace: str
    section_name: str | None = None

    def parent_ref(self) -> dict[str, Any]:
        """The route's ``parentRefs`` entry for this Gateway."""
        ref: dict[str, Any] = {
            "group": GATEWAY.group,
            "kind": GATEWAY.kind,
            "name": self.name,
            "namespace": self.namespace,
        }
        if self.section_name is not None:
            ref["sectionName"] = self.section_name
        return ref


@dataclass(frozen=True)
class Backend:
    """One cluster behind the route: its serve Service, the port number, the weight (percent)."""

    service: str
    port: int
    weight: int


def gateway_manifest(
    name: str,
    namespace: str,
    class_name: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Gateway KubeRay creates: one HTTP listener ``http`` on port 80."""
    return {
        "apiVersion": GATEWAY.api_version,
        "kind": GATEWAY.kind,
        "metadata": _metadata(name, namespace, labels, annotations),
        "spec": {
            "gatewayClassName": class_name,
            "listeners": [{"name": LISTENER_NAME, "protocol": "HTTP", "port": LISTENER_PORT}],
        },
    }


def route_spec(gateway: GatewayRef, backends: Sequence[Backend]) -> dict[str, Any]:
    """The HTTPRoute's spec: one ``PathPrefix /`` rule splitting traffic over ``backends``."""
    return {
        "parentRefs": [gateway.parent_ref()],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {
                        "group": "",
                        "kind": "Service",
                        "name": backend.service,
                        "namespace": gateway.namespace,
                        "port": backend.port,
                        "weight": backend.weight,
                    }
                    for backend in backends
                ],
            }
        ],
    }


def route_manifest(
    name: str,
    namespace: str,
    gateway: GatewayRef,
    backends: Sequence[Backend],
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole HTTPRoute to create."""
    return {
        "apiVersion": HTTP_ROUTE.api_version,
        "kind": HTTP_ROUTE.kind,
        "metadata": _metadata(name, namespace, labels, annotations),
        "spec": route_spec(gateway, backends),
    }


def route_weights(route: Mapping[str, Any] | None) -> dict[str, int]:
    """Service name -> weight of the route's first rule, as it stands (for a resumed rollout).

    A backend with no weight counts 1, as the Gateway API defaults it. Anything unreadable
    reads as no backends: the caller then starts from the active cluster alone.
    """
    rules = ((route or {}).get("spec") or {}).get("rules") or []
    if not isinstance(rules, list) or not rules or not isinstance(rules[0], Mapping):
        return {}
    weights: dict[str, int] = {}
    for ref in rules[0].get("backendRefs") or []:
        if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
            continue
        weight = ref.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            continue
        weights[ref["name"]] = int(weight)
    return weights


def gateway_problem(gateway: Mapping[str, Any] | None) -> str | None:
    """Why the Gateway does not carry traffic yet (conditions ``Accepted``, ``Programmed``)."""
    if gateway is None:
        return "the Gateway does not exist"
    conditions = _conditions((gateway.get("status") or {}).get("conditions"))
    for kind in ("Accepted", "Programmed"):
        problem = _condition_problem(conditions, kind, gateway)
        if problem:
            return f"the Gateway is not {kind.lower()}: {problem}"
    return None


def route_problem(route: Mapping[str, Any] | None, gateway: GatewayRef) -> str | None:
    """Why the route is not in force on ``gateway`` (its ``Accepted`` and ``ResolvedRefs``)."""
    if route is None:
        return "the HTTPRoute does not exist"
    parents = (route.get("status") or {}).get("parents") or []
    for parent in parents if isinstance(parents, list) else []:
        ref = parent.get("parentRef") if isinstance(parent, Mapping) else None
        if not isinstance(ref, Mapping) or ref.get("name") != gateway.name:
            continue
        if (ref.get("namespace") or gateway.namespace) != gateway.namespace:
            continue
        conditions = _conditions(parent.get("conditions"))
        for kind in ("Accepted", "ResolvedRefs"):
            problem = _condition_problem(conditions, kind, route)
            if problem:
                return f"the HTTPRoute is not {_adjective(kind)}: {problem}"
        return None
    return f"no controller has reported on the HTTPRoute for Gateway {gateway.name} yet"


def _adjective(kind: str) -> str:
    return "accepted" if kind == "Accepted" else "resolved (its backends)"


def _conditions(value: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, list):
        return {}
    return {
        str(c.get("type")): c for c in value if isinstance(c, Mapping) and c.get("type") is not None
    }


def _condition_problem(
    conditions: Mapping[str, Mapping[str, Any]], kind: str, obj: Mapping[str, Any]
) -> str | None:
    condition = conditions.get(kind)
    if condition is None:
        return f"no {kind} condition yet"
    generation = (obj.get("metadata") or {}).get("generation")
    observed = condition.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return f"{kind} is for an earlier generation ({observed} < {generation})"
    if condition.get("status") != "True":
        reason = condition.get("reason") or "no reason"
        message = clip(condition.get("message") or "", 200)
        return f"{kind}={condition.get('status')} ({reason}{': ' + message if message else ''})"
    return None


def _metadata(
    name: str,
    namespace: str,
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, str] | None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return metadata
