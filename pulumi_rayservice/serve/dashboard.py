"""Where a Ray dashboard is and how to reach it: a direct URL or the Kubernetes service proxy.

A ``Dashboard`` is the target of a ``ServeApplication``. It is a value, not a connection: it travels
to the provider host as a ``DashboardInput`` (the token and any kubeconfig content are Pulumi
secrets), and ``DashboardTarget`` turns that input back into a client inside each provider call.
``DashboardInput`` is the one definition of that shape: ``Dashboard.to_input`` writes it,
``check_dashboard`` checks it at Check with the same rules the ``Dashboard`` model applies, and
``DashboardTarget.from_input`` reads it.

Three ways in:
- ``Dashboard(url="http://127.0.0.1:8265")``: a dashboard you can reach (local Ray, port-forward,
  an ingress).
- ``Dashboard.kube_proxy(service="fruit-head-svc", namespace="ray", kube=Kube(...))``: through the
  API server's service proxy (``/api/v1/namespaces/{ns}/services/{svc}:dashboard/proxy/``), so
  ``pulumi up`` works from a laptop or CI with only a kubeconfig. ``RayCluster.dashboard`` is one.
- ``Dashboard.api_server_proxy(cluster="test-cluster", api_server=KubeRayApiServer(...))``: through
  the KubeRay API server's V2 service proxy (the same path, served for a RayCluster's own head
  Service only), with no kubeconfig at all.

The identity of a target (what decides replace-vs-update and which lock serializes PUTs) is built
in :mod:`.identity`: the normalized URL, or the API server the kubeconfig resolves to plus
namespace, Service and port; the token is a credential, not identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypedDict

import pulumi
from pulumi.output import Unknown
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .._util.inputs import check_secret_text, kube_problems, secret_text_problem
from .._util.k8s_names import dns1035_label_problem, dns1123_label_problem, port_problem
from .._util.urls import http_url_problem
from ..kube.apiserver import (
    ApiServerInput,
    ApiServerTarget,
    KubeRayApiServer,
    api_server_problems,
    api_server_to_input,
)
from ..kube.config import Kube, api_server_of, kube_to_input
from .identity import proxy_identity, proxy_port, same_cluster, url_identity

DEFAULT_PROXY_PORT = "dashboard"
"""The head Service's dashboard port, as KubeRay names it."""
DEFAULT_NAMESPACE = "default"
HEAD_SERVICE_SUFFIX = "-head-svc"
"""KubeRay names a RayCluster's head Service ``<cluster>-head-svc``."""


class DashboardInput(TypedDict, total=False):
    """A dashboard target as it crosses to the provider host (the ``dashboard`` input).

    Either ``url`` or ``service`` (with ``namespace``, ``port``, and ``kube`` or ``api_server``;
    ``cluster`` names the RayCluster behind the Service when it is reached through the KubeRay API
    server, whose lock lives on that object). ``token`` is here only when a user wrote the dict by
    hand; ``Dashboard`` sends it as its own secret input, so the target stays readable in previews.
    """

    url: str
    service: str
    namespace: str
    port: str
    kube: dict[str, Any]
    api_server: ApiServerInput
    cluster: str
    token: str


DASHBOARD_KEYS: tuple[str, ...] = tuple(DashboardInput.__annotations__)


def url_problem(url: Any) -> str | None:
    """Why ``url`` cannot be a dashboard URL, or None. Never raises; never shows credentials."""
    return http_url_problem(url, example="http://127.0.0.1:8265")


VALUE_PROBLEMS: dict[str, Callable[[Any], str | None]] = {
    "url": url_problem,
    "service": dns1035_label_problem,
    "namespace": dns1123_label_problem,
    "port": port_problem,
    "cluster": dns1035_label_problem,
}
"""Each plain key's rule: why a value cannot be it, or None. Namespace, Service and port are
checked as Kubernetes checks them: they become segments of the API server's proxy path, where
``ray/../kube-system`` would be another path."""


def target_problems(
    *, url: bool, service: bool, kube: bool, api_server: bool = False, cluster: bool = False
) -> list[str]:
    """What is wrong with which keys are given (``True``: given): one target, one way to it."""
    problems = []
    if url == service:
        problems.append(
            "give exactly one of url= (a dashboard URL) or service= (a head Service for the "
            "Kubernetes service proxy)"
        )
    if url and kube:
        problems.append("kube= only applies to a service proxy target (service=)")
    if url and api_server:
        problems.append("api_server= only applies to a service proxy target (service=)")
    if kube and api_server:
        problems.append(
            "give either kube= (the Kubernetes API) or api_server= (the KubeRay API server), "
            "not both"
        )
    if cluster and not api_server:
        problems.append("cluster= only applies to a KubeRay API server target (api_server=)")
    return problems


class Dashboard(BaseModel):
    """How to reach a Ray dashboard (the Serve REST API lives there).

    Args:
        url: the dashboard's base URL, e.g. ``http://127.0.0.1:8265``.
        token: Ray token auth (``RAY_AUTH_MODE=token``), sent as ``x-ray-authorization: Bearer``.
            Sent to the provider as a secret; never in plain state, logs or errors.
        service: instead of ``url``, the head Service to reach through the API server proxy.
        namespace: the Service's namespace (with ``service``).
        port: the Service port name or number of the dashboard (with ``service``).
        kube: credentials for the API server (with ``service``); default: the ambient kubeconfig.
        api_server: instead of ``kube``, the KubeRay API server whose V2 service proxy leads to
            the head Service (with ``service``); no kubeconfig is read.
        cluster: the RayCluster behind ``service`` (with ``api_server``); default: ``service``
            without KubeRay's ``-head-svc``.

    """

    # The token is a credential: never in a repr or a validation error (which quotes inputs).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str | None = Field(default=None, description="dashboard base URL")
    token: str | None = Field(default=None, description="Ray auth token (secret)", repr=False)
    service: str | None = Field(default=None, description="head Service name (proxy target)")
    namespace: str = Field(default=DEFAULT_NAMESPACE, description="Service namespace (proxy)")
    port: str = Field(default=DEFAULT_PROXY_PORT, description="Service port name or number")
    kube: Kube | None = Field(default=None, description="API server credentials (proxy target)")
    api_server: KubeRayApiServer | None = Field(
        default=None, description="the KubeRay API server (V2 service proxy target)"
    )
    cluster: str | None = Field(default=None, description="RayCluster behind the Service")

    @field_validator("url", "service", "namespace", "port", "cluster", mode="before")
    @classmethod
    def _valid_value(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in ("url", "service", "cluster"):
            return None
        problem = VALUE_PROBLEMS[str(info.field_name)](value)
        if problem:
            raise ValueError(problem)
        if info.field_name == "url":
            return value.rstrip("/")
        return str(value) if info.field_name == "port" else value

    @field_validator("token")
    @classmethod
    def _valid_token(cls, value: str | None) -> str | None:
        problem = None if value is None else secret_text_problem(value, header=True)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Dashboard:
        problems = target_problems(
            url=self.url is not None,
            service=self.service is not None,
            kube=self.kube is not None,
            api_server=self.api_server is not None,
            cluster=self.cluster is not None,
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def kube_proxy(
        cls,
        service: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        port: str | int = DEFAULT_PROXY_PORT,
        kube: Kube | None = None,
        token: str | None = None,
    ) -> Dashboard:
        """A dashboard reached through the Kubernetes API server's service proxy."""
        return cls(service=service, namespace=namespace, port=str(port), kube=kube, token=token)

    @classmethod
    def api_server_proxy(
        cls,
        cluster: str,
        *,
        api_server: KubeRayApiServer,
        namespace: str = DEFAULT_NAMESPACE,
        port: str | int = DEFAULT_PROXY_PORT,
        token: str | None = None,
    ) -> Dashboard:
        """The dashboard of RayCluster ``cluster``, through the KubeRay API server's V2 proxy."""
        return cls(
            service=f"{cluster}{HEAD_SERVICE_SUFFIX}",
            cluster=cluster,
            namespace=namespace,
            port=str(port),
            api_server=api_server,
            token=token,
        )

    def to_input(self, *, with_token: bool = True) -> DashboardInput:
        """The input sent to the provider host (token and kubeconfig content as secrets)."""
        data = DashboardInput()
        if self.url is not None:
            data["url"] = self.url
        else:
            data["service"] = str(self.service)
            data["namespace"] = self.namespace
            data["port"] = self.port
            kube = kube_to_input(self.kube)
            if kube:
                data["kube"] = kube
            if self.api_server is not None:
                data["api_server"] = api_server_to_input(self.api_server)
                data["cluster"] = self.cluster or _cluster_of(str(self.service))
        if with_token and self.token is not None:
            # A secret Output where the provider receives the plain string.
            data["token"] = pulumi.Output.secret(self.token)  # type: ignore[typeddict-item]
        return data


def dashboard_to_inputs(dashboard: Any) -> tuple[Any, Any]:
    """Split a dashboard into the target input and the token input (None when there is none).

    Accepts a ``Dashboard``, a URL string, a dict of the same shape, or an Output of one (such as
    ``RayCluster.dashboard``). The token travels as its own secret input so that the target stays
    readable in previews (a dict holding a secret is shown as secret as a whole).
    """
    if isinstance(dashboard, str):
        dashboard = Dashboard(url=dashboard)
    if isinstance(dashboard, Dashboard):
        token = pulumi.Output.secret(dashboard.token) if dashboard.token is not None else None
        return dashboard.to_input(with_token=False), token
    if isinstance(dashboard, Mapping) and "token" in dashboard:
        target = {k: v for k, v in dashboard.items() if k != "token"}
        return target, pulumi.Output.secret(dashboard["token"])
    return dashboard, None


@dataclass(frozen=True)
class DashboardTarget:
    """A dashboard target as received by the provider (plain values; secrets unwrapped)."""

    url: str | None
    service: str | None
    namespace: str
    port: str
    kube: Mapping[str, Any] | None = field(repr=False)
    token: str | None = field(repr=False)
    api_server: Mapping[str, Any] | None = field(default=None, repr=False)
    cluster: str | None = None

    @classmethod
    def from_input(
        cls, data: DashboardInput | Mapping[str, Any], token: str | None = None
    ) -> DashboardTarget:
        """Read a checked ``DashboardInput`` (``check_dashboard`` found nothing); ``token`` wins.

        Values arrive as the engine sends them: a port number as a float.
        """
        url = data.get("url")
        port = data.get("port", DEFAULT_PROXY_PORT)
        if isinstance(port, float):
            port = int(port)
        return cls(
            url=str(url).rstrip("/") if url else None,
            service=data.get("service"),
            namespace=str(data.get("namespace") or DEFAULT_NAMESPACE),
            port=str(port),
            kube=data.get("kube") or None,
            token=token or data.get("token") or None,
            api_server=data.get("api_server") or None,
            cluster=str(data["cluster"]) if data.get("cluster") else None,
        )

    def to_input(self) -> DashboardInput:
        """The target as a ``dashboard`` input (no token: it travels as its own secret input)."""
        if self.url is not None:
            return DashboardInput(url=self.url)
        data = DashboardInput(service=str(self.service), namespace=self.namespace, port=self.port)
        if self.kube:
            data["kube"] = dict(self.kube)
        if self.api_server:
            data["api_server"] = ApiServerInput(**self.api_server)  # type: ignore[typeddict-item]
            data["cluster"] = self.cluster_name
        return data

    @property
    def api_server_target(self) -> ApiServerTarget | None:
        """The KubeRay API server this target is reached through, or None."""
        return ApiServerTarget.from_input(self.api_server) if self.api_server else None

    @property
    def cluster_name(self) -> str:
        """The RayCluster behind the head Service (named, or KubeRay's ``-head-svc`` removed)."""
        return self.cluster or _cluster_of(str(self.service))

    @cached_property
    def key(self) -> str:
        """Identity: which cluster's dashboard this is (:mod:`.identity`). Never holds a secret.

        For the service proxy: the API server the kubeconfig resolves to, namespace, Service and
        port; not the kubeconfig's path, content or context name, which differ between a laptop
        and CI that reach the same cluster (a different path must not replace every app).
        """
        if self.url is not None:
            return url_identity(self.url)
        server = str(self.api_server["url"]) if self.api_server else api_server_of(self.kube)
        return proxy_identity(server, self.namespace, str(self.service), self.port)

    @property
    def legacy_key(self) -> str:
        """The ``target`` earlier releases stored (the context name stood for the cluster)."""
        if self.url is not None:
            return self.url
        context = (self.kube or {}).get("context") or "current-context"
        return f"k8s:{context}/{self.namespace}/services/{self.service}:{self.port}"

    def is_cluster_of(self, stored_target: Any) -> bool:
        """Whether ``stored_target`` (a previous ``target`` output) names this target's cluster."""
        if not isinstance(stored_target, str) or not stored_target:
            return False
        if stored_target.startswith("k8s:"):
            return stored_target == self.legacy_key
        if self.url is not None:
            return url_identity(stored_target) == self.key  # earlier releases stored it raw
        return same_cluster(stored_target, self.key)

    def describe(self) -> str:
        """Short human form for messages."""
        if self.url is not None:
            return self.url
        if self.api_server:
            return (
                f"service {self.namespace}/{self.service}:{self.port} via the KubeRay API server "
                f"at {self.api_server.get('url')}"
            )
        return f"service {self.namespace}/{self.service}:{self.port} via the Kubernetes API proxy"


def dashboard_identity(data: Mapping[str, Any]) -> str:
    """The identity of a dashboard input dict, for diff (pure, no network, no secrets)."""
    return DashboardTarget.from_input(data).key


def same_target(old_outputs: Mapping[str, Any], new_dashboard: Mapping[str, Any]) -> bool:
    """Whether new dashboard inputs reach the cluster the previous outputs were deployed on.

    The previous ``target`` output records the identity as resolved then (so a kubeconfig that now
    points at another API server is another cluster); states without it fall back to the
    previous ``dashboard`` input.
    """
    new = DashboardTarget.from_input(new_dashboard)
    stored = old_outputs.get("target")
    if isinstance(stored, str) and stored:
        return new.is_cluster_of(stored)
    old_dashboard = old_outputs.get("dashboard")
    if not isinstance(old_dashboard, Mapping) or check_dashboard(old_dashboard):
        return False  # unreadable: count it as another cluster
    return same_cluster(dashboard_identity(old_dashboard), new.key)


def same_service(old_outputs: Mapping[str, Any], new_dashboard: Mapping[str, Any]) -> bool:
    """Whether both name the same head Service (namespace, name, port) behind a proxy.

    Behind two API server URLs that is maybe one cluster, maybe two: what cannot be told apart
    must not be handled as two.
    """
    old_dashboard = old_outputs.get("dashboard")
    if not isinstance(old_dashboard, Mapping) or check_dashboard(old_dashboard):
        return False
    old, new = DashboardTarget.from_input(old_dashboard), DashboardTarget.from_input(new_dashboard)
    if old.url is not None or new.url is not None:
        return False
    return (old.namespace, old.service, proxy_port(old.port)) == (
        new.namespace,
        new.service,
        proxy_port(new.port),
    )


def check_dashboard(raw: Any, field: str = "dashboard") -> list[tuple[str, str]]:
    """Check a ``DashboardInput`` at Check by ``Dashboard``'s rules; (property, reason) failures.

    Never raises. A hand-written dict or a RayCluster's output gets the same verdict a
    ``Dashboard`` would. Values not yet known (a RayCluster being created) are checked once known.
    """
    if not isinstance(raw, Mapping):
        return [
            (field, "must be a Dashboard: rs.Dashboard(url=...) or rs.Dashboard.kube_proxy(...)")
        ]
    failures: list[tuple[str, str]] = []
    unknown = sorted(str(k) for k in raw if k not in DASHBOARD_KEYS)
    if unknown:
        failures.append((field, f"unknown keys {unknown}; allowed: {', '.join(DASHBOARD_KEYS)}"))
    given = {
        key: raw.get(key) is not None for key in ("url", "service", "kube", "api_server", "cluster")
    }
    failures.extend(
        (field, problem)
        for problem in target_problems(
            url=given["url"],
            service=given["service"],
            kube=given["kube"],
            api_server=given["api_server"],
            cluster=given["cluster"],
        )
    )
    for key, problem_of in VALUE_PROBLEMS.items():
        value = raw.get(key)
        if value is None or isinstance(value, Unknown):
            continue
        problem = problem_of(value)
        if problem:
            failures.append((f"{field}.{key}", problem))
    failures.extend(check_secret_text(raw.get("token"), f"{field}.token", header=True))
    failures.extend(kube_problems(raw.get("kube"), f"{field}.kube"))
    failures.extend(api_server_problems(raw.get("api_server"), f"{field}.api_server"))
    return failures


def _cluster_of(service: str) -> str:
    """The RayCluster whose head Service is ``service`` (KubeRay's ``<cluster>-head-svc``)."""
    return service.removesuffix(HEAD_SERVICE_SUFFIX)
