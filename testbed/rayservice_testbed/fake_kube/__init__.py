"""An HTTP-level fake Kubernetes API server with a stand-in KubeRay operator, for tests.

Reached like a real cluster (a kubeconfig and the official ``kubernetes`` client, from any
process); admits RayClusters against KubeRay's real CRD schema; starts a real local Ray head per
RayCluster and proxies ``services/<name>-head-svc:dashboard/proxy/...`` to it; serves the Gateway
API's Gateways and HTTPRoutes, optionally with a stand-in controller routing real requests by
weight; injects faults.
"""

from .faults import RequestInfo
from .gateway import FakeGatewayController, GatewayRequest
from .operator import FakeKubeRay, Scenario
from .registry import Registry, WriteOptions
from .resources import (
    CONFIGMAPS,
    EVENTS,
    EVENTS_V1,
    GATEWAYS,
    HTTPROUTES,
    LEASES,
    NAMESPACES,
    PODS,
    RAYCLUSTERS,
    SERVICES,
    ResourceType,
)
from .server import FakeKubeServer, RequestDetail, RequestRecord
from .status import ApiError

__all__ = [
    "CONFIGMAPS",
    "EVENTS",
    "EVENTS_V1",
    "GATEWAYS",
    "HTTPROUTES",
    "LEASES",
    "NAMESPACES",
    "PODS",
    "RAYCLUSTERS",
    "SERVICES",
    "ApiError",
    "FakeGatewayController",
    "FakeKubeRay",
    "FakeKubeServer",
    "GatewayRequest",
    "Registry",
    "RequestDetail",
    "RequestInfo",
    "RequestRecord",
    "ResourceType",
    "Scenario",
    "WriteOptions",
]
