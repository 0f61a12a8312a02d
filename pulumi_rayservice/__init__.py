"""Ray Serve on Kubernetes with ``pulumi up``: KubeRay clusters and Serve apps as Pulumi resources.

- ``ServeApplication``: one Ray Serve application on ANY reachable Ray cluster (dynamic resource
  over the Ray dashboard's Serve REST API), with ``ServeApp`` (Serve's own app schema) and
  ``Dashboard`` (a direct URL, or the Kubernetes API server's service proxy).
- ``RayCluster``: a KubeRay ``ray.io/v1`` RayCluster through the Kubernetes API, awaited until
  ready, patched in place or replaced by KubeRay's own rule; its ``dashboard`` output is a target
  for ``ServeApplication``.
- ``RayService``: a component composing the two plus a stable serve Service, what KubeRay's
  RayService does, with zero-downtime cluster upgrades that fail instead of getting stuck.
- ``TrafficSplit``: a service's Gateway API route across its clusters, and the incremental
  upgrade (``ClusterUpgradeOptions``, ``ExistingGateway``, ``HealthGates``, ``HttpProbe``,
  ``PrometheusGate``) that ``Upgrade(strategy="NewClusterWithIncrementalUpgrade")`` runs.
- ``ClusterSpec``, ``HeadGroup``, ``WorkerGroup``, ``ComputeTemplate``: typed helpers that render
  KubeRay's RayCluster ``spec``; ``Kube``: Kubernetes credentials (kept secret).

Ray itself is not needed to import or use this package: only the clusters run Ray.
"""

from ._version import __version__
from .cluster.provider import RayClusterProvider
from .cluster.resource import RayCluster
from .cluster.spec import (
    AutoscalerOptions,
    ClusterSpec,
    ComputeTemplate,
    GcsFaultTolerance,
    HeadGroup,
    WorkerGroup,
)
from .cluster.template_provider import KubeRayComputeTemplateProvider
from .cluster.template_resource import KubeRayComputeTemplate
from .errors import RayServiceError
from .kube.apiserver import KubeRayApiServer
from .kube.config import Kube
from .rollout.gates import HttpProbe, PrometheusGate
from .rollout.options import ClusterUpgradeOptions, ExistingGateway, HealthGates
from .rollout.provider import TrafficSplitProvider
from .rollout.resource import TrafficSplit
from .serve.dashboard import Dashboard
from .serve.models import ServeApp, ServeConfig
from .serve.packaging import zip_working_dir
from .serve.provider import ServeApplicationProvider
from .serve.resource import ServeApplication
from .service.component import RayService
from .service.upgrade import Upgrade

__all__ = [
    "AutoscalerOptions",
    "ClusterSpec",
    "ClusterUpgradeOptions",
    "ComputeTemplate",
    "Dashboard",
    "ExistingGateway",
    "GcsFaultTolerance",
    "HeadGroup",
    "HealthGates",
    "HttpProbe",
    "Kube",
    "KubeRayApiServer",
    "KubeRayComputeTemplate",
    "KubeRayComputeTemplateProvider",
    "PrometheusGate",
    "RayCluster",
    "RayClusterProvider",
    "RayService",
    "RayServiceError",
    "ServeApp",
    "ServeApplication",
    "ServeApplicationProvider",
    "ServeConfig",
    "TrafficSplit",
    "TrafficSplitProvider",
    "Upgrade",
    "WorkerGroup",
    "__version__",
    "zip_working_dir",
]
