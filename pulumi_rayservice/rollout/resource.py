"""``TrafficSplit``: a service's traffic through the Gateway API, moved by incremental upgrades."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .._util.owner import stack_owner
from ..kube.config import Kube, kube_to_input
from .inputs import DEFAULT_TIMEOUT_S
from .options import ClusterUpgradeOptions
from .provider import TrafficSplitProvider


class TrafficSplit(Resource, module="rayservice", name="TrafficSplit"):
    """The Gateway and HTTPRoute in front of a service's clusters, as KubeRay builds them.

    Created, it routes all traffic to ``cluster``. When ``cluster`` changes (a new cluster came
    up beside the old one), the update is the incremental upgrade: capacity and traffic move
    step by step as ``options`` say, every step gated; a failed gate rolls back and fails
    ``pulumi up`` with the evidence. ``RayService`` makes one when its upgrade strategy is
    ``NewClusterWithIncrementalUpgrade``.

    Args:
        resource_name: the Pulumi resource name.
        name: the service's name: the Gateway is ``<name>-gateway``, the route
            ``<name>-httproute``.
        cluster: the RayCluster that should get all traffic (``RayCluster.name``).
        dashboard: its dashboard (``RayCluster.dashboard``): capacities and app status.
        apps: the names of the service's Serve apps (the gates wait for them; only they may be
            scaled by ``target_capacity``).
        options: the Gateway, steps and gates (``ClusterUpgradeOptions``).
        namespace: the namespace of the route (and of our Gateway).
        kube: Kubernetes credentials; default: the ambient kubeconfig.
        serve_port: the port of each cluster's serve Service (KubeRay's ``serve``, 8000).
        timeout_s: how long the Gateway and each route change may take to be in force.
        opts: Pulumi resource options.

    """

    gateway: pulumi.Output[dict[str, str]]
    """The Gateway's ``name`` and ``namespace``: point clients at its address."""
    route: pulumi.Output[str]
    """The HTTPRoute's name."""
    active_cluster: pulumi.Output[str]
    """The cluster all traffic goes to after the last ``up``."""
    weights: pulumi.Output[dict[str, int]]
    """The route's weights by serve Service, as last written or read."""

    def __init__(
        self,
        resource_name: str,
        name: str,
        cluster: pulumi.Input[str],
        dashboard: pulumi.Input[Mapping[str, Any]],
        apps: Sequence[str],
        options: ClusterUpgradeOptions,
        *,
        namespace: str = "default",
        kube: Kube | Mapping[str, Any] | None = None,
        serve_port: int = 8000,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "kube": kube_to_input(kube),
            "cluster": cluster,
            "dashboard": dashboard,
            "serve_port": serve_port,
            "apps": list(apps),
            "options": options.model_dump(mode="json", exclude_none=True),
            "owner": stack_owner(),
            "resource_name": resource_name,
            "timeout_s": timeout_s,
            "gateway": None,
            "route": None,
            "active_cluster": None,
            "weights": None,
        }
        super().__init__(TrafficSplitProvider(), resource_name, props, opts)
