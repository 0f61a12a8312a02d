"""``ClusterInputs``: the checked inputs of one ``RayCluster``, and what is derived from them alone.

The provider receives its inputs (or the previous outputs, which carry the same keys) as a plain
dict in every engine call. Parsing them in one place gives every call, and the waits in
:mod:`.waiting`, the same typed view: the object to POST, the labels that mark it as ours, the
dashboard target, the secrets to keep out of errors. Nothing here talks to Kubernetes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._util.k8s_names import to_label_value
from .._util.normalize import canonical
from .._util.polling import Deadline
from .._util.secrets import paths_under, text_leaves, values_at
from ..kube.apiserver import API_V1, ApiServerTarget
from ..kube.client import RAY_CLUSTER, KubeClient
from ..kube.config import kube_secrets
from ..serve.dashboard import DEFAULT_PROXY_PORT, DashboardInput, DashboardTarget
from . import redis_password
from .compute_template import expand, template_names

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "INPUT_DEFAULTS",
    "INPUT_KEYS",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "RESOURCE_LABEL",
    "STACK_ANNOTATION",
    "ClusterInputs",
    "cluster_secrets",
    "label_value",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "pulumi-rayservice"
RESOURCE_LABEL = "rayservice.pulumi.com/resource"
STACK_ANNOTATION = "rayservice.pulumi.com/stack"
"""``<project>/<stack>`` that made the object: another stack's cluster of the same name is never
taken for ours (an annotation: label values cannot hold every project and stack name)."""
DEFAULT_TIMEOUT_S = 900.0
INPUT_KEYS = (
    "spec", "namespace", "name", "auto_named", "resource_name", "kube", "api_server",
    "timeout_s", "keep_on_failure", "labels", "annotations", "redis_password",
    "wait_for_dashboard", "owner", "secret_paths",
)  # fmt: skip
INPUT_DEFAULTS: dict[str, Any] = {
    "namespace": "default",
    "timeout_s": DEFAULT_TIMEOUT_S,
    "keep_on_failure": False,
    "labels": {},
    "annotations": {},
    "wait_for_dashboard": True,
}


@dataclass(frozen=True)
class ClusterInputs:
    """The checked inputs of one RayCluster."""

    spec: dict[str, Any] = field(repr=False)
    namespace: str
    name: str
    auto_named: bool
    resource_name: str
    kube: dict[str, Any] | None = field(repr=False)
    api_server: dict[str, Any] | None = field(repr=False)
    timeout_s: float
    keep_on_failure: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    redis_password: str | None = field(repr=False)
    wait_for_dashboard: bool
    owner: str | None
    raw: dict[str, Any] = field(repr=False)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """The compute templates the spec's groups name, as the API server answered for them
    (filled by the provider before a write: :func:`.compute_template.expand` needs them)."""

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> ClusterInputs:
        """Read checked inputs (or previous outputs, which carry the same keys)."""
        return cls(
            spec=canonical(dict(props["spec"])),
            namespace=str(props.get("namespace") or "default"),
            name=str(props["name"]),
            auto_named=bool(props.get("auto_named", False)),
            resource_name=str(props.get("resource_name") or props["name"]),
            kube=dict(props["kube"]) if props.get("kube") else None,
            api_server=dict(props["api_server"]) if props.get("api_server") else None,
            timeout_s=float(props.get("timeout_s") or DEFAULT_TIMEOUT_S),
            keep_on_failure=bool(props.get("keep_on_failure", False)),
            labels={str(k): str(v) for k, v in (props.get("labels") or {}).items()},
            annotations={str(k): str(v) for k, v in (props.get("annotations") or {}).items()},
            redis_password=props.get("redis_password") or None,
            wait_for_dashboard=bool(props.get("wait_for_dashboard", True)),
            owner=str(props["owner"]) if props.get("owner") else None,
            raw={k: props[k] for k in INPUT_KEYS if k in props},
        )

    @property
    def resource_id(self) -> str:
        """The Pulumi id: ``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def head_service(self) -> str:
        """KubeRay's head Service name."""
        return f"{self.name}-head-svc"

    def all_labels(self) -> dict[str, str]:
        """The user's labels plus ours, which mark the object as managed by this package."""
        return {
            **self.labels,
            MANAGED_BY_LABEL: MANAGED_BY,
            RESOURCE_LABEL: label_value(self.resource_name),
        }

    @property
    def stack(self) -> str:
        """``<project>/<stack>`` owning the cluster (sent by the program: the host is not told)."""
        if self.owner:
            return self.owner
        return f"{os.environ.get('PULUMI_PROJECT') or 'unknown-project'}/unknown-stack"

    def all_annotations(self) -> dict[str, str]:
        """The user's annotations plus ours, which name the stack that owns the object."""
        return {**self.annotations, STACK_ANNOTATION: self.stack}

    def spec_to_send(self) -> dict[str, Any]:
        """The spec to write: the Redis password back in, compute templates written in.

        The password is kept out of state; the templates are those of :attr:`templates`.
        """
        spec = redis_password.join(self.spec, self.redis_password)
        return expand(spec, self.templates) if template_names(spec) else spec

    def manifest(self) -> dict[str, Any]:
        """The whole object to POST."""
        return {
            "apiVersion": RAY_CLUSTER.api_version,
            "kind": RAY_CLUSTER.kind,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": self.all_labels(),
                "annotations": self.all_annotations(),
            },
            "spec": self.spec_to_send(),
        }

    @property
    def api_server_target(self) -> ApiServerTarget | None:
        """The KubeRay API server the cluster is reached through, or None (Kubernetes' API)."""
        return ApiServerTarget.from_input(self.api_server) if self.api_server else None

    @property
    def via_v1(self) -> bool:
        """Whether the cluster goes through the KubeRay API server's V1 cluster API."""
        target = self.api_server_target
        return target is not None and target.api == API_V1

    def client(self, deadline: Deadline) -> KubeClient:
        """A client of the API this cluster is reached through, bounded by ``deadline``."""
        return KubeClient(self.kube, deadline=deadline, api_server=self.api_server_target)

    def dashboard(self) -> DashboardInput:
        """The ``dashboard`` output: :meth:`dashboard_target` as a ``ServeApplication`` input."""
        return self.dashboard_target().to_input()

    def dashboard_target(self) -> DashboardTarget:
        """The head Service's dashboard through the API server proxy, for the readiness probe.

        Through the KubeRay API server its V2 service proxy leads there (the head Service is the
        one Service it proxies), and the RayCluster's name goes along: the Serve writer lock
        lives on that object there.
        """
        return DashboardTarget(
            url=None,
            service=self.head_service,
            namespace=self.namespace,
            port=DEFAULT_PROXY_PORT,
            kube=dict(self.kube) if self.kube else None,
            token=None,
            api_server=dict(self.api_server) if self.api_server else None,
            cluster=self.name if self.api_server else None,
        )

    def secrets(self) -> list[str]:
        """Secret values of this call, blanked out of any error."""
        return cluster_secrets(self.raw)


def label_value(text: str) -> str:
    """A valid label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends)."""
    return to_label_value(text) or "raycluster"


def cluster_secrets(props: Mapping[str, Any]) -> list[str]:
    """Every secret value in inputs or outputs of a RayCluster (never raises).

    The Redis password, the kubeconfig content with the credentials inside it (the
    ``dashboard`` output carries the same kube input), the secret parts of the spec.
    """
    found = text_leaves(
        values_at(
            props,
            (
                ("redis_password",),
                ("api_server", "token"),
                ("dashboard", "api_server", "token"),
                *paths_under(props, ("spec",)),
            ),
        )
    )
    for kube in values_at(props, (("kube",), ("dashboard", "kube"))):
        found.extend(kube_secrets(kube))
    return found
