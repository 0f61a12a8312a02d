"""``SplitInputs``: the checked inputs of one ``TrafficSplit``, and the names they derive.

Like :mod:`..cluster.inputs` and :mod:`..serve.inputs`: one typed view of the dict the engine
sends in every call, the input names and defaults beside it, the secrets to keep out of errors.
Nothing here talks to a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._util.normalize import canonical
from .._util.secrets import text_leaves, values_at
from ..cluster.inputs import label_value
from ..kube.config import kube_secrets
from ..serve.dashboard import DashboardTarget
from .gateway_api import GatewayRef, gateway_name, route_name, serve_service_name
from .kube_route import Owner
from .options import ClusterUpgradeOptions
from .runner import ClusterBackend

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "INPUT_DEFAULTS",
    "INPUT_KEYS",
    "SECRET_PATHS",
    "SplitInputs",
    "secrets_in",
]

DEFAULT_TIMEOUT_S = 300.0
"""How long the Gateway and each route change may take to be in force."""
INPUT_KEYS = (
    "name", "namespace", "kube", "cluster", "dashboard", "serve_port", "apps", "options",
    "owner", "resource_name", "timeout_s",
)  # fmt: skip
INPUT_DEFAULTS: dict[str, Any] = {"serve_port": 8000, "timeout_s": DEFAULT_TIMEOUT_S}
SECRET_PATHS = (
    ("kube", "content"),
    ("dashboard", "kube", "content"),
    ("dashboard", "api_server", "token"),
)


def secrets_in(props: Mapping[str, Any]) -> list[str]:
    """Every secret value in inputs or outputs of a TrafficSplit (never raises)."""
    found = text_leaves(values_at(props, SECRET_PATHS))
    for kube in values_at(props, (("kube",), ("dashboard", "kube"))):
        found.extend(kube_secrets(kube))
    return found


@dataclass(frozen=True)
class SplitInputs:
    """The checked inputs of one TrafficSplit (or its previous outputs: same keys)."""

    name: str
    namespace: str
    kube: dict[str, Any] | None = field(repr=False)
    cluster: str
    dashboard: DashboardTarget
    serve_port: int
    apps: tuple[str, ...]
    options: ClusterUpgradeOptions
    owner: str
    resource_name: str
    timeout_s: float
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> SplitInputs:
        """Read checked inputs (Check found nothing) or previous outputs."""
        port = props.get("serve_port", INPUT_DEFAULTS["serve_port"])
        return cls(
            name=str(props["name"]),
            namespace=str(props.get("namespace") or "default"),
            kube=dict(props["kube"]) if props.get("kube") else None,
            cluster=str(props["cluster"]),
            dashboard=DashboardTarget.from_input(props["dashboard"]),
            serve_port=int(port),
            apps=tuple(str(a) for a in props.get("apps") or ()),
            # The engine sends 10 as 10.0; the options' percents are strict ints.
            options=ClusterUpgradeOptions.model_validate(canonical(props["options"])),
            owner=str(props.get("owner") or ""),
            resource_name=str(props.get("resource_name") or props["name"]),
            timeout_s=float(props.get("timeout_s", DEFAULT_TIMEOUT_S)),
            raw=props,
        )

    @property
    def gateway(self) -> GatewayRef:
        """The Gateway the route attaches to: ``<name>-gateway`` (ours) or the existing one."""
        existing = self.options.gateway
        if existing is None:
            return GatewayRef(gateway_name(self.name), self.namespace)
        return GatewayRef(existing.name, existing.namespace or self.namespace, existing.listener)

    @property
    def route_name(self) -> str:
        """``<name>-httproute``."""
        return route_name(self.name)

    @property
    def backend(self) -> ClusterBackend:
        """The cluster behind the route: its own serve Service at the serve port."""
        return ClusterBackend(self.cluster, serve_service_name(self.cluster), self.serve_port)

    @property
    def owner_labels(self) -> Owner:
        """Whose the Gateway and route are."""
        return Owner(label_value(self.resource_name), self.owner)

    def serve_target(self) -> DashboardTarget:
        """The cluster's serve Service through the API server's proxy (where probes go)."""
        return DashboardTarget(
            url=None,
            service=serve_service_name(self.cluster),
            namespace=self.namespace,
            port="serve",
            kube=self.kube,
            token=None,
        )

    def secrets(self) -> list[str]:
        """Secret values of this call, blanked out of any error."""
        return secrets_in(self.raw)
