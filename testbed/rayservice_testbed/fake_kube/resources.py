"""The resource types the fake API server serves, each one small frozen value.

One value per type (group, version, kind, plural, scope, subresources, field labels) builds every
URL and error detail, so that no code path spells ``rayclusters.ray.io`` by hand and the discovery
documents, error messages and routing cannot disagree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Fields every type can be filtered on (apiserver's DefaultClusterScopedAttr / namespaced attrs).
_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ResourceType:
    """One served resource type, e.g. ``rayclusters.ray.io/v1``.

    Attributes:
        group: API group, ``""`` for the core group.
        version: API version inside the group.
        kind: The object kind (``RayCluster``).
        plural: The resource name in URLs (``rayclusters``).
        singular: Singular resource name, for discovery.
        namespaced: Whether objects live in a namespace.
        status_subresource: Whether ``/status`` is split from the main resource: writes to the main
            resource keep the stored status, writes to ``/status`` keep everything but status.
        has_generation: Whether ``metadata.generation`` is tracked (custom resources always do).
        custom: Custom resource semantics: ``kind``/``apiVersion`` required in bodies, strategic
            merge patch refused with 415, PUT without ``resourceVersion`` refused, list items
            carry ``kind``/``apiVersion``.
        name_rule: How ``metadata.name`` is validated: ``subdomain`` (DNS-1123 subdomain),
            ``label`` (DNS-1123 label) or ``dns1035`` (DNS-1035 label, services).
        field_labels: Field selector keys the real server supports for this type.
        short_names: Discovery short names.
        categories: Discovery categories.
        verbs: Discovery verbs of the main resource.
        extra_subresources: Subresources besides ``status`` (``proxy`` for services).
        crd: File name, in ``crds/``, of the CustomResourceDefinition whose ``openAPIV3Schema``
            (of this ``version``) admits the type's objects; None for built-in types.

    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    status_subresource: bool = False
    has_generation: bool = False
    custom: bool = False
    name_rule: str = "subdomain"
    field_labels: frozenset[str] = _META_FIELDS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    extra_subresources: tuple[str, ...] = field(default=())
    crd: str | None = None

    @property
    def api_version(self) -> str:
        """``ray.io/v1`` or ``v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """``RayClusterList``."""
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """``rayclusters.ray.io`` or ``services``, as the real server names types in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``RayCluster.ray.io`` or ``Service``, as used in 422 ``Invalid`` messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def prefix(self) -> str:
        """``/apis/ray.io/v1`` or ``/api/v1``."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection_path(self, namespace: str | None) -> str:
        """URL of the collection, in ``namespace`` or across all namespaces when None."""
        if self.namespaced and namespace is not None:
            return f"{self.prefix()}/namespaces/{namespace}/{self.plural}"
        return f"{self.prefix()}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        """URL of one object."""
        return f"{self.collection_path(namespace)}/{name}"


RAYCLUSTERS = ResourceType(
    group="ray.io",
    version="v1",
    kind="RayCluster",
    plural="rayclusters",
    singular="raycluster",
    status_subresource=True,
    has_generation=True,
    custom=True,
    name_rule="subdomain",
    categories=("all",),
    crd="ray.io_rayclusters.yaml",
)

GATEWAYS = ResourceType(
    group="gateway.networking.k8s.io",
    version="v1",
    kind="Gateway",
    plural="gateways",
    singular="gateway",
    status_subresource=True,
    has_generation=True,
    custom=True,
    short_names=("gtw",),
    categories=("gateway-api",),
    crd="gateway.networking.k8s.io_gateways.yaml",
)

HTTPROUTES = ResourceType(
    group="gateway.networking.k8s.io",
    version="v1",
    kind="HTTPRoute",
    plural="httproutes",
    singular="httproute",
    status_subresource=True,
    has_generation=True,
    custom=True,
    categories=("gateway-api",),
    crd="gateway.networking.k8s.io_httproutes.yaml",
)

SERVICES = ResourceType(
    group="",
    version="v1",
    kind="Service",
    plural="services",
    singular="service",
    status_subresource=True,
    name_rule="dns1035",
    short_names=("svc",),
    categories=("all",),
    extra_subresources=("proxy",),
)

PODS = ResourceType(
    group="",
    version="v1",
    kind="Pod",
    plural="pods",
    singular="pod",
    status_subresource=True,
    name_rule="subdomain",
    short_names=("po",),
    categories=("all",),
    field_labels=_META_FIELDS
    | {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
)

EVENTS = ResourceType(
    group="",
    version="v1",
    kind="Event",
    plural="events",
    singular="event",
    name_rule="subdomain",
    short_names=("ev",),
    field_labels=_META_FIELDS
    | {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
)

NAMESPACES = ResourceType(
    group="",
    version="v1",
    kind="Namespace",
    plural="namespaces",
    singular="namespace",
    namespaced=False,
    status_subresource=True,
    name_rule="label",
    short_names=("ns",),
    field_labels=frozenset({"metadata.name", "status.phase"}),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
)

CONFIGMAPS = ResourceType(
    group="",
    version="v1",
    kind="ConfigMap",
    plural="configmaps",
    singular="configmap",
    name_rule="subdomain",
    short_names=("cm",),
)

# The same Events as ``EVENTS``, served as events.k8s.io/v1: one store, two shapes (``regarding``
# for ``involvedObject``, ``note`` for ``message``...). Field selectors take the events.k8s.io
# spellings, mapped to the core ones (pkg/apis/events/v1/conversion.go); the core spellings
# (``involvedObject.name``) are refused there as on a real server.
EVENTS_V1_FIELD_LABELS: dict[str, str] = {
    "metadata.name": "metadata.name",
    "metadata.namespace": "metadata.namespace",
    "reason": "reason",
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
    "source": "source",
    "type": "type",
}

EVENTS_V1 = ResourceType(
    group="events.k8s.io",
    version="v1",
    kind="Event",
    plural="events",
    singular="event",
    name_rule="subdomain",
    field_labels=frozenset(EVENTS_V1_FIELD_LABELS),
    short_names=("ev",),
)

LEASES = ResourceType(
    group="coordination.k8s.io",
    version="v1",
    kind="Lease",
    plural="leases",
    singular="lease",
    name_rule="subdomain",
)

ALL_TYPES: tuple[ResourceType, ...] = (
    RAYCLUSTERS,
    GATEWAYS,
    HTTPROUTES,
    SERVICES,
    PODS,
    EVENTS,
    NAMESPACES,
    LEASES,
    CONFIGMAPS,
)
"""Every type with a store of its own (``EVENTS_V1`` is a view of ``EVENTS``, not listed)."""


def custom_groups() -> tuple[tuple[str, str], ...]:
    """``(group, version)`` of every custom resource type, in serving order, each once.

    Discovery lists these groups (the built-in ``coordination.k8s.io`` of Leases is served but
    not listed, as before).
    """
    seen: dict[tuple[str, str], None] = {}
    for rt in ALL_TYPES:
        if rt.custom:
            seen.setdefault((rt.group, rt.version), None)
    return tuple(seen)


def find_type(group: str, version: str, plural: str) -> ResourceType | None:
    """The served type at ``/api[s]/<group>/<version>/.../<plural>``, or None."""
    for rt in ALL_TYPES:
        if (rt.group, rt.version, rt.plural) == (group, version, plural):
            return rt
    return None
