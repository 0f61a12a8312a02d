"""``RayService``: what KubeRay's RayService custom resource does, as a Pulumi component.

Children, in dependency order:

1. ``RayCluster`` (``<name>-<5 random>``): the cluster.
2. one ``ServeApplication`` per app, targeting that cluster's dashboard (through the API server's
   service proxy), each deployed and RUNNING before anything that depends on it;
3. the serve ``Service`` (pulumi-kubernetes), ``<name>-serve-svc``, port ``serve``, selecting the
   active cluster's pods (``ray.io/cluster``), depending on every app.

So a cluster-level change runs as Pulumi's default create-before-delete: the new cluster comes up,
every app is deployed and RUNNING on it, the Service's selector moves, and only then (after
``drain_s``) are the old apps and the old cluster deleted. If the new cluster or an app on it
fails, ``pulumi up`` fails with the reason and the Service still points at the old cluster:
traffic never moved. An app-level change is an in-place update of one ``ServeApplication``.

With ``Upgrade(strategy="NewClusterWithIncrementalUpgrade")`` the third child is a
``TrafficSplit`` instead of the Service: KubeRay's Gateway ``<name>-gateway`` and HTTPRoute
``<name>-httproute`` to each cluster's own serve Service (``<cluster>-serve-svc``, made by
KubeRay for a cluster annotated ``ray.io/enable-serve-service``). A cluster-level change still
brings the new cluster and its apps up beside the old ones; the ``TrafficSplit`` update then
moves traffic and Serve capacity to it step by step, each step gated, and rolls back on a
failed gate; the old apps and cluster are deleted after it, as before.

Through the KubeRay API server (``api_server=``) there is no third child: its V2 proxy serves
ray.io objects only, so no Service (and no Gateway) can be made there. The cluster is annotated
``ray.io/enable-serve-service`` so KubeRay makes its own ``<cluster>-serve-svc``, and
``serve_service`` names that Service: it changes when a cluster-level change makes a new
cluster (the preview says so). Clients that must not follow it need a Service of their own,
made with a kubeconfig.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

from .._util.versions import parse_version
from ..cluster.resource import RayCluster
from ..cluster.spec import ENABLE_SERVE_SERVICE_ANNOTATION, ClusterSpec
from ..errors import InvalidInputError, UnsupportedRayError
from ..kube.apiserver import API_V1, KubeRayApiServer
from ..kube.config import Kube, kube_to_input
from ..rollout.gateway_api import serve_service_name
from ..rollout.resource import TrafficSplit
from ..serve.models import ServeApp
from ..serve.ray_versions import RayRelease
from ..serve.resource import ServeApplication
from .manifest import load_manifest
from .upgrade import Upgrade

SERVE_PORT_NAME = "serve"
DEFAULT_SERVE_PORT = 8000
SERVE_OPTIONS_ANNOTATION = "rayservice.pulumi.com/serve-options"
SERVICE_LABEL = "rayservice.pulumi.com/rayservice"


class RayService(pulumi.ComponentResource):
    """A Ray cluster, its Serve applications and a stable serve Service, upgraded safely.

    Args:
        resource_name: the component's name; the serve Service is ``<name>-serve-svc``.
        cluster: the RayCluster spec: a ``ClusterSpec`` or KubeRay's spec dict.
        applications: Serve apps (``ServeApp`` or dicts in Serve's schema), one
            ``ServeApplication`` each.
        namespace: the Kubernetes namespace of the cluster and the Service.
        kube: Kubernetes credentials; default: the ambient kubeconfig.
        upgrade: how cluster-level changes roll out (``Upgrade(strategy=..., drain_s=...)``).
        opts: Pulumi resource options.
        serve_options: Serve's cluster-level ``http_options``/``grpc_options``/``proxy_location``;
            a change makes a new cluster (Serve applies them only when it starts).
        serve_service: a Service template (``metadata``: name/labels/annotations; ``spec``: type,
            ports, ...) for the serve Service; the selector is always the component's.
        exclude_head_from_serve_service: the serve Service selects worker pods only.
        cluster_timeout_s: how long a cluster may take to become ready.
        app_timeout_s: how long an app may take to become RUNNING.
        cluster_labels: extra labels on the RayCluster object.
        cluster_annotations: extra annotations on the RayCluster object.
        api_server: instead of ``kube``, a ``KubeRayApiServer``: the cluster and the apps go
            through it, and ``serve_service`` is the active cluster's own serve Service.

    """

    cluster: RayCluster
    """The active RayCluster."""
    apps: dict[str, ServeApplication]
    """App name -> its ServeApplication."""
    cluster_name: pulumi.Output[str]
    """The active cluster's Kubernetes name (it changes with every new cluster)."""
    dashboard: pulumi.Output[dict[str, Any]]
    """The active cluster's dashboard target."""
    head_service: pulumi.Output[str]
    """The active cluster's head Service."""
    serve_service: pulumi.Output[str]
    """The stable serve Service's name: point clients (or an Ingress) here. With the incremental
    strategy: the active cluster's own serve Service (clients go through ``gateway``)."""
    gateway: pulumi.Output[dict[str, str] | None]
    """With the incremental strategy, the Gateway's ``name`` and ``namespace`` (clients go
    there); None otherwise."""
    app_statuses: pulumi.Output[dict[str, str]]
    """App name -> Serve status after the last ``up``."""

    def __init__(
        self,
        resource_name: str,
        cluster: ClusterSpec | Mapping[str, Any],
        applications: Sequence[ServeApp | Mapping[str, Any]],
        *,
        namespace: str = "default",
        kube: Kube | Mapping[str, Any] | None = None,
        upgrade: Upgrade | None = None,
        opts: pulumi.ResourceOptions | None = None,
        serve_options: Mapping[str, Any] | None = None,
        serve_service: Mapping[str, Any] | None = None,
        exclude_head_from_serve_service: bool = False,
        cluster_timeout_s: float = 900,
        app_timeout_s: float = 600,
        cluster_labels: Mapping[str, str] | None = None,
        cluster_annotations: Mapping[str, str] | None = None,
        api_server: KubeRayApiServer | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__("rayservice:index:RayService", resource_name, None, opts)
        upgrade = upgrade or Upgrade()
        apps = [a.to_serve_dict() if isinstance(a, ServeApp) else dict(a) for a in applications]
        _require_unique_names(apps)
        annotations = dict(cluster_annotations or {})
        if isinstance(cluster, ClusterSpec):
            annotations = {**cluster.annotations(), **annotations}
            spec = cluster.to_spec()
        else:
            spec = copy.deepcopy(dict(cluster))
        spec = cluster_spec_for(spec, upgrade, serve_options)
        require_declared_ray(spec, apps, serve_options, incremental=upgrade.incremental)
        child = pulumi.ResourceOptions(parent=self)
        if upgrade.incremental:
            if serve_service is not None or exclude_head_from_serve_service:
                raise InvalidInputError(
                    "serve_service= and exclude_head_from_serve_service= do not apply to "
                    "NewClusterWithIncrementalUpgrade: clients go through the Gateway to each "
                    "cluster's own serve Service (KubeRay ignores spec.serveService there too)"
                )
            annotations[ENABLE_SERVE_SERVICE_ANNOTATION] = "true"
        if api_server is not None:
            _require_api_server_fits(kube, upgrade, serve_service, exclude_head_from_serve_service)
            annotations[ENABLE_SERVE_SERVICE_ANNOTATION] = "true"
            pulumi.log.warn(
                f"RayService {resource_name} goes through the KubeRay API server, which can "
                "make no Service: serve_service is the active cluster's own <cluster>-serve-svc, "
                "and a cluster-level change moves it to the new cluster's (clients that must "
                "not follow need a Service of their own, made with a kubeconfig)",
                resource=self,
            )

        self.cluster = RayCluster(
            resource_name,
            spec=spec,
            namespace=namespace,
            kube=kube,
            timeout_s=cluster_timeout_s,
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(ignore_changes=["spec"])
                if upgrade.strategy == "None"
                else None,
            ),
            labels=_cluster_labels(resource_name, cluster_labels, api_server),
            annotations=annotations,
            api_server=api_server,
        )
        self.apps = {
            app["name"]: ServeApplication(
                f"{resource_name}-{app['name']}",
                app=app,
                dashboard=self.cluster.dashboard,
                timeout_s=app_timeout_s,
                opts=child,
                serve_options=serve_options,
                drain_s=upgrade.drain_s,
                cluster_revision=self.cluster.revision,
                wait_for_removal=False,
                # A new cluster's apps start with no replica; the rollout raises its capacity.
                initial_target_capacity=0 if upgrade.incremental else None,
            )
            for app in apps
        }
        self.cluster_name = self.cluster.name
        self.dashboard = self.cluster.dashboard
        self.head_service = self.cluster.head_service
        self.traffic: TrafficSplit | None = None
        if api_server is not None:
            self.serve_service = self.cluster.name.apply(serve_service_name)
            self.gateway = pulumi.Output.from_input(None)
        elif upgrade.cluster_upgrade_options is not None:
            self.traffic = TrafficSplit(
                f"{resource_name}-traffic",
                resource_name,
                cluster=self.cluster.name,
                dashboard=self.cluster.dashboard,
                apps=list(self.apps),
                options=upgrade.cluster_upgrade_options,
                namespace=namespace,
                kube=kube,
                serve_port=serve_port(serve_options),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.apps.values())),
            )
            self.serve_service = self.cluster.name.apply(serve_service_name)
            self.gateway = self.traffic.gateway
        else:
            self._service = self._serve_service(
                resource_name, namespace, kube, serve_options, serve_service,
                exclude_head_from_serve_service,
            )  # fmt: skip
            self.serve_service = self._service.metadata.apply(
                lambda meta: str(getattr(meta, "name", None) or self._service_name)
            )
            self.gateway = pulumi.Output.from_input(None)
        self.app_statuses = pulumi.Output.all(*[app.status for app in self.apps.values()]).apply(
            lambda statuses: dict(zip(self.apps, statuses, strict=True))
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "dashboard": self.dashboard,
                "head_service": self.head_service,
                "serve_service": self.serve_service,
                "gateway": self.gateway,
                "app_statuses": self.app_statuses,
            }
        )

    @classmethod
    def from_manifest(
        cls,
        manifest: str | Path | Mapping[str, Any],
        resource_name: str | None = None,
        *,
        namespace: str | None = None,
        kube: Kube | Mapping[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        cluster_timeout_s: float = 900,
        app_timeout_s: float = 600,
        api_server: KubeRayApiServer | Mapping[str, Any] | None = None,
    ) -> RayService:
        """A RayService from a KubeRay ``ray.io/v1`` RayService manifest (path, YAML or dict).

        Every field is honoured or refused by name (``InvalidInputError``); see
        ``pulumi_rayservice.service.manifest`` for the mapping.
        """
        parsed = load_manifest(manifest)
        if parsed.other_documents:
            pulumi.log.warn(
                "RayService.from_manifest deploys only the RayService; also in the file: "
                + ", ".join(parsed.other_documents)
                + " (deploy them with pulumi_kubernetes.yaml.v2.ConfigFile)"
            )
        return cls(
            resource_name or parsed.name,
            cluster=parsed.cluster_spec,
            applications=parsed.applications,
            namespace=namespace or parsed.namespace or "default",
            kube=kube,
            upgrade=parsed.upgrade,
            opts=opts,
            serve_options=parsed.serve_options,
            serve_service=parsed.serve_service,
            exclude_head_from_serve_service=parsed.exclude_head_from_serve_service,
            cluster_timeout_s=cluster_timeout_s,
            app_timeout_s=app_timeout_s,
            cluster_labels=parsed.labels,
            cluster_annotations=parsed.annotations,
            api_server=api_server,
        )

    def _serve_service(
        self,
        resource_name: str,
        namespace: str,
        kube: Kube | Mapping[str, Any] | None,
        serve_options: Mapping[str, Any] | None,
        template: Mapping[str, Any] | None,
        workers_only: bool,
    ) -> Any:
        import pulumi_kubernetes as k8s

        template = template or {}
        metadata = dict(template.get("metadata") or {})
        self._service_name = str(metadata.get("name") or f"{resource_name}-serve-svc")
        service_spec = copy.deepcopy(dict(template.get("spec") or {}))
        port = serve_port(serve_options)
        service_spec.setdefault(
            "ports", [{"name": SERVE_PORT_NAME, "port": port, "targetPort": port}]
        )
        selector_extra = {"ray.io/node-type": "worker"} if workers_only else {}
        service_spec["selector"] = self.cluster.name.apply(
            lambda name: {"ray.io/cluster": name, **selector_extra}
        )
        provider = kubernetes_provider(f"{resource_name}-kubernetes", kube, self)
        service_class: Any = k8s.core.v1.Service  # its overloads do not type plain dict inputs
        return service_class(
            f"{resource_name}-serve-svc",
            metadata={
                "name": self._service_name,
                "namespace": namespace,
                "labels": {**(metadata.get("labels") or {}), SERVICE_LABEL: resource_name[:63]},
                "annotations": dict(metadata.get("annotations") or {}),
            },
            spec=service_spec,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(self.apps.values()), provider=provider
            ),
        )


def _require_api_server_fits(
    kube: Any, upgrade: Upgrade, serve_service: Any, workers_only: bool
) -> None:
    """Refuse what cannot be built through the KubeRay API server, before anything is made."""
    if kube is not None:
        raise InvalidInputError(
            "give either kube= (the Kubernetes API) or api_server= (the KubeRay API server), "
            "not both"
        )
    if upgrade.incremental:
        raise InvalidInputError(
            "NewClusterWithIncrementalUpgrade needs a Gateway and an HTTPRoute, and the KubeRay "
            "API server serves neither (only ray.io objects): use kube= for it, or "
            "Upgrade(strategy='NewCluster')"
        )
    if serve_service is not None or workers_only:
        raise InvalidInputError(
            "serve_service= and exclude_head_from_serve_service= need a Service of the "
            "component's own, which the KubeRay API server cannot make; its serve_service is "
            "the active cluster's own <cluster>-serve-svc"
        )


def _cluster_labels(
    resource_name: str, labels: Mapping[str, str] | None, api_server: Any
) -> dict[str, str]:
    """The RayCluster's labels (none of the component's own through V1, which takes none)."""
    if api_server is not None and _api_of(api_server) == API_V1:
        return dict(labels or {})
    return {**(labels or {}), SERVICE_LABEL: resource_name[:63]}


def _api_of(api_server: Any) -> Any:
    if isinstance(api_server, KubeRayApiServer):
        return api_server.api
    return api_server.get("api") if isinstance(api_server, Mapping) else None


def require_declared_ray(
    spec: Mapping[str, Any],
    apps: Sequence[Mapping[str, Any]],
    serve_options: Mapping[str, Any] | None,
    *,
    incremental: bool,
) -> None:
    """Refuse at preview what the cluster's declared ``rayVersion`` cannot do.

    The same rules as every write's (:mod:`..serve.ray_versions`), against the version the spec
    declares: a Ray older than the oldest supported, app fields its Serve would silently drop,
    and an incremental upgrade, which needs ``target_capacity``. Each write checks again against
    the version the cluster's dashboard reports (the image decides it, not ``rayVersion``).

    Raises:
        InvalidInputError: naming ``rayVersion`` and what it cannot do.

    """
    declared = spec.get("rayVersion")
    if not isinstance(declared, str) or parse_version(declared) is None:
        return  # KubeRay's own default applies; the writes check what runs
    release = RayRelease(declared)
    where = "the cluster's rayVersion says it"
    try:
        release.require_supported(where)
        for app in apps:
            release.require_known(where, app=app, serve_options=serve_options)
        if incremental:
            release.require_target_capacity(where)
    except UnsupportedRayError as error:
        raise InvalidInputError(str(error)) from None


def cluster_spec_for(
    spec: Mapping[str, Any], upgrade: Upgrade, serve_options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The RayCluster spec the component writes, from the user's spec and settings.

    ``InPlace`` sets KubeRay's ``upgradeStrategy: Recreate`` (unless the spec says otherwise).
    Serve options are recorded in an annotation of the head pod template, so changing them
    makes a new cluster: Serve applies them only when it starts.
    """
    result = copy.deepcopy(dict(spec))
    if upgrade.strategy == "InPlace":
        result.setdefault("upgradeStrategy", {"type": "Recreate"})
    if serve_options:
        template = result.setdefault("headGroupSpec", {}).setdefault("template", {})
        annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[SERVE_OPTIONS_ANNOTATION] = json.dumps(dict(serve_options), sort_keys=True)
    return result


def serve_port(serve_options: Mapping[str, Any] | None) -> int:
    """Serve's HTTP port: ``http_options.port`` or Serve's default 8000."""
    http = (serve_options or {}).get("http_options") or {}
    port = http.get("port", DEFAULT_SERVE_PORT) if isinstance(http, Mapping) else None
    return int(port) if isinstance(port, int | float) else DEFAULT_SERVE_PORT


def kubernetes_provider(
    name: str, kube: Kube | Mapping[str, Any] | None, parent: pulumi.Resource
) -> Any:
    """A pulumi-kubernetes provider with the same credentials as the RayCluster (None: default)."""
    import pulumi_kubernetes as k8s

    kube_input = kube_to_input(kube)
    if not kube_input:
        return None
    kubeconfig = kube_input.get("content")
    if kubeconfig is None and kube_input.get("path"):
        kubeconfig = str(Path(str(kube_input["path"])).expanduser())
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        context=kube_input.get("context"),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _require_unique_names(apps: Sequence[Mapping[str, Any]]) -> None:
    names = [str(app.get("name")) for app in apps]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"applications: duplicate app names {duplicates}; names must be unique")
