"""``RayCluster``: a KubeRay ``ray.io/v1`` RayCluster as a Pulumi resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .._util.owner import stack_owner
from .._util.secrets import secret_paths_of
from ..kube.apiserver import KubeRayApiServer, api_server_to_input
from ..kube.config import Kube, kube_to_input
from . import redis_password
from .inputs import DEFAULT_TIMEOUT_S
from .provider import RayClusterProvider
from .spec import ClusterSpec


class RayCluster(Resource, module="rayservice", name="RayCluster"):
    """A Ray cluster run by the KubeRay operator, created and awaited through the Kubernetes API.

    A change to worker replicas/min/max, ``workersToDelete``, ``suspend``, tolerations, or worker
    groups appended at the end is patched in place; any other spec change (image, rayVersion, the
    head template, rayStartParams, a worker template) is a new cluster, created beside the old one
    (the name is generated, ``<resource name>-<5 random>``) before the old one is deleted. With a
    fixed ``name`` the old cluster is deleted first.

    Args:
        resource_name: the Pulumi resource name (and the base of the generated object name).
        spec: KubeRay's RayCluster ``spec`` (camelCase, what stands under ``rayClusterConfig:`` in
            a RayService manifest) as a dict, or built with ``ClusterSpec``.
        namespace: the Kubernetes namespace.
        name: a fixed object name; default: generated from ``resource_name``.
        kube: Kubernetes credentials; default: ``KUBECONFIG``, ``~/.kube/config``, in-cluster.
        api_server: instead of ``kube``, a ``KubeRayApiServer``: the cluster is written and
            awaited through its V2 proxy (no kubeconfig), and ``dashboard`` leads through it too.
        timeout_s: how long create/update wait for the cluster to be ready.
        opts: Pulumi resource options.
        keep_on_failure: keep a cluster that did not become ready (for ``kubectl describe``).
        labels: extra labels on the RayCluster object.
        annotations: extra annotations on the RayCluster object.
        wait_for_dashboard: count the cluster ready only once its dashboard answers through the
            API server's service proxy (needs RBAC for ``services/proxy``); False: KubeRay's
            ``HeadPodReady`` condition alone.

    """

    name: pulumi.Output[str]
    """The Kubernetes object name."""
    namespace: pulumi.Output[str]
    """The Kubernetes namespace."""
    uid: pulumi.Output[str]
    """The object's uid (changes when the cluster is replaced)."""
    spec: pulumi.Output[dict[str, Any]]
    """The RayCluster spec as the program wrote it (after refresh: as the cluster runs it)."""
    head_service: pulumi.Output[str]
    """KubeRay's head Service, ``<name>-head-svc``."""
    serve_service: pulumi.Output[str | None]
    """``<name>-serve-svc`` when ``ray.io/enable-serve-service`` is on, else None."""
    dashboard: pulumi.Output[dict[str, Any]]
    """A ``Dashboard`` target through the API server's service proxy (for ``ServeApplication``)."""
    ray_version: pulumi.Output[str]
    """``spec.rayVersion``."""
    image: pulumi.Output[str]
    """The head container's image."""
    readiness: pulumi.Output[dict[str, Any]]
    """What KubeRay reported when the last operation finished (state, head pod, workers)."""
    revision: pulumi.Output[str]
    """A digest of the cluster's shape; it changes exactly when KubeRay makes new Ray pods."""

    def __init__(
        self,
        resource_name: str,
        spec: pulumi.Input[ClusterSpec | Mapping[str, Any]],
        *,
        namespace: pulumi.Input[str] = "default",
        name: pulumi.Input[str] | None = None,
        kube: Kube | Mapping[str, Any] | None = None,
        timeout_s: pulumi.Input[float] = DEFAULT_TIMEOUT_S,
        opts: pulumi.ResourceOptions | None = None,
        keep_on_failure: bool = False,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        wait_for_dashboard: bool = True,
        api_server: KubeRayApiServer | Mapping[str, Any] | None = None,
    ) -> None:
        all_annotations = dict(annotations or {})
        if isinstance(spec, ClusterSpec):
            all_annotations = {**spec.annotations(), **all_annotations}
            spec = spec.to_spec()
        password = None
        if isinstance(spec, Mapping):
            spec, password = redis_password.split(spec)
        props: dict[str, Any] = {
            "spec": spec,
            # Where the program's spec holds secrets: the ``spec`` output stays secret there.
            "secret_paths": secret_paths_of(spec),
            "namespace": namespace,
            "name": name,
            "resource_name": resource_name,
            "owner": stack_owner(),
            "kube": kube_to_input(kube),
            "api_server": api_server_to_input(api_server),
            "timeout_s": timeout_s,
            "keep_on_failure": keep_on_failure,
            "labels": dict(labels or {}),
            "annotations": all_annotations,
            "redis_password": pulumi.Output.secret(password) if password else None,
            "wait_for_dashboard": wait_for_dashboard,
            "auto_named": None,
            "uid": None,
            "head_service": None,
            "serve_service": None,
            "dashboard": None,
            "ray_version": None,
            "image": None,
            "readiness": None,
            "revision": None,
        }
        super().__init__(RayClusterProvider(), resource_name, props, opts)
