"""A stand-in KubeRay API server (V1 and V2, releases v1.4 to v1.7) for tests.

It serves on one loopback port in front of :class:`~rayservice_testbed.fake_kube.FakeKubeServer`
and its stand-in operator, so code that talks to a KubeRay API server can be tested without a
kubeconfig: V1's compute templates and clusters (stored as ConfigMaps and RayClusters in the fake
Kubernetes, read back as the real converter does, refused with the real errors), and V2's proxy
to Kubernetes with the release's retries, buffering, compute-template middleware and Events route.
"""

from .releases import RELEASES, Release, parse_release
from .server import FakeKubeRayApiServer, RequestDetail, RequestRecord
from .v2_proxy import ALL_PROXY_VERBS, HELM_PROXY_VERBS

__all__ = [
    "ALL_PROXY_VERBS",
    "HELM_PROXY_VERBS",
    "RELEASES",
    "FakeKubeRayApiServer",
    "Release",
    "RequestDetail",
    "RequestRecord",
    "parse_release",
]
