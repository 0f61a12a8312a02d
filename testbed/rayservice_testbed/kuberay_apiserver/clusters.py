"""V1 clusters: validation, the resource manager's steps, the answers and their events.

Follows ``apiserver/pkg/server/cluster_server.go``, ``validations.go`` and
``apiserver/pkg/manager/resource_manager.go``: the checks in their order and wording, every
Kubernetes failure wrapped as the real code wraps it (a duplicate name is a 500, not a 409: the
create error is wrapped as an internal error; a RayCluster without
``app.kubernetes.io/managed-by=kuberay-apiserver`` is a plain error, code 2, 500), and the answer
built by ``model.FromCrdToAPICluster``: ``user``, ``version`` and ``environment`` from the labels,
``clusterState`` from ``status.state``, ``serviceEndpoint`` from ``status.endpoints``, and the
cluster's Events (fetched after one more GET of the cluster; none is no ``events`` field).

Events are core/v1 (``involvedObject.name=<cluster>``) up to v1.6 and events.k8s.io/v1
(``regarding.name=<cluster>``, timestamps from ``eventTime``/``series`` or the deprecated core
fields, #5008) from v1.7.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from .cluster_convert import COMPONENT, MANAGED_BY, cluster_spec_back, new_ray_cluster
from .errors import (
    GoError,
    errorf,
    internal_server_error,
    invalid_input_error,
    invalid_input_error_with_details,
    not_found_error,
    wrap,
)
from .kube import KubeClient, KubeError
from .messages import ENVIRONMENTS
from .releases import Release
from .templates import from_config_map, get_config_map

_ZERO_TIME = -62135596800  # time.Time{}.Unix(): 0001-01-01T00:00:00Z


def raycluster_path(namespace: str, name: str | None = None) -> str:
    base = (
        f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
        if namespace
        else "/apis/ray.io/v1/rayclusters"
    )
    return base if name is None else f"{base}/{name}"


def go_time_string(unix_ns: int, monotonic_s: float) -> str:
    """``time.Now().String()`` in UTC, monotonic reading included.

    E.g. ``2025-01-02 03:04:05.123456789 +0000 UTC m=+1.000000001``.
    """
    moment = datetime.fromtimestamp(unix_ns // 10**9, tz=timezone.utc)
    fraction = f"{unix_ns % 10**9:09d}".rstrip("0")
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{fraction}" if fraction else "")
    return f"{stamp} +0000 UTC m=+{monotonic_s:.9f}"


def _unix(stamp: str | None) -> int:
    """A ``metav1.Time``/``MicroTime`` as Unix seconds; unset is Go's zero time."""
    if not stamp:
        return _ZERO_TIME
    moment = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


# -- validation -----------------------------------------------------------------------------------


def validate_cluster_spec(spec: dict[str, Any] | None) -> None:
    """``ValidateClusterSpec``, in its order."""
    if spec is None:
        raise invalid_input_error("A ClusterSpec object is required. Please specify one.")
    head = spec.get("head_group_spec")
    if head is None:
        raise invalid_input_error(
            "Cluster Spec Object requires HeadGroupSpec to be populated. Please specify one."
        )
    if not head.get("compute_template"):
        raise invalid_input_error(
            "HeadGroupSpec compute template is empty. Please specify a valid value."
        )
    if not head.get("ray_start_params"):
        raise invalid_input_error("HeadGroupSpec RayStartParams is empty. Please specify values.")
    if head.get("imagePullPolicy") and head["imagePullPolicy"] not in ("Always", "IfNotPresent"):
        raise invalid_input_error(
            "HeadGroupSpec unsupported value for Image pull policy. Please specify Always or "
            "IfNotPresent"
        )
    for index, worker in enumerate(spec.get("worker_group_spec") or []):
        if not worker.get("group_name"):
            raise invalid_input_error(
                f"WorkerNodeSpec {index} group name is empty. Please specify a valid value."
            )
        if not worker.get("compute_template"):
            raise invalid_input_error(
                f"WorkerNodeSpec {index} compute template is empty. Please specify a valid value."
            )
        if not worker.get("max_replicas"):
            raise invalid_input_error(
                f"WorkerNodeSpec {index} MaxReplicas can not be 0. Please specify a valid value."
            )
        if worker.get("min_replicas", 0) > worker.get("max_replicas", 0):
            raise invalid_input_error(
                f"WorkerNodeSpec {index} MinReplica > MaxReplicas. Please specify a valid value."
            )
        policy = worker.get("imagePullPolicy", "")
        if policy and policy not in ("Always", "IfNotPresent"):
            raise invalid_input_error(
                "Worker GroupSpec unsupported value for Image pull policy. Please specify "
                "Always or IfNotPresent"
            )


def validate_create(namespace: str, cluster: dict[str, Any]) -> None:
    """``ValidateCreateClusterRequest``, in its order."""
    if not namespace:
        raise invalid_input_error("Namespace is empty. Please specify a valid value.")
    if namespace != cluster.get("namespace", ""):
        raise invalid_input_error(
            "The namespace in the request is different from the namespace in the cluster "
            "definition."
        )
    if not cluster.get("name"):
        raise invalid_input_error("Cluster name is empty. Please specify a valid value.")
    if not cluster.get("user"):
        raise invalid_input_error(
            "User who create the cluster is empty. Please specify a valid value."
        )
    validate_cluster_spec(cluster.get("cluster_spec"))


# -- the resource manager's steps ----------------------------------------------------------------


class Clusters:
    """The V1 cluster RPCs over one Kubernetes client, for one release."""

    def __init__(self, kube: KubeClient, release: Release, started: float) -> None:
        self.kube = kube
        self.release = release
        self.started = started  # the monotonic instant the server started (``m=+...``)

    def _templates(
        self, spec: dict[str, Any], namespace: str, deadline: float
    ) -> dict[str, dict[str, Any]]:
        """``PopulateComputeTemplate``: the head's template, then each worker's not yet read."""
        names = [spec["head_group_spec"].get("compute_template", "")]
        names += [w.get("compute_template", "") for w in spec.get("worker_group_spec") or []]
        found: dict[str, dict[str, Any]] = {}
        for name in names:
            if name in found:
                continue
            try:
                config_map = get_config_map(self.kube, namespace, name, deadline)
            except GoError as exc:
                if not self.release.wraps_template_lookup:
                    raise
                raise errorf(
                    f"Cannot get compute template for name '{name}' in namespace '{namespace}', "
                    "error",
                    exc,
                ) from exc
            found[name] = from_config_map(config_map, self.release)
        return found

    def create(self, namespace: str, cluster: dict[str, Any], deadline: float) -> dict[str, Any]:
        """``CreateCluster``: validate, templates, convert, create, answer."""
        try:
            validate_create(namespace, cluster)
        except GoError as exc:
            raise wrap(exc, "Validate create cluster request failed.") from exc
        cluster = {**cluster, "namespace": namespace}
        name = cluster.get("name", "")
        try:
            try:
                templates = self._templates(cluster["cluster_spec"], namespace, deadline)
            except GoError as exc:
                raise internal_server_error(
                    exc, f"Failed to populate compute template for ({namespace}/{name})"
                ) from exc
            try:
                ray_cluster = new_ray_cluster(
                    cluster, templates, memory_unit=self.release.memory_unit
                )
            except GoError as exc:
                raise invalid_input_error_with_details(
                    exc, "Failed to create a Ray cluster"
                ) from exc
            ray_cluster["metadata"]["annotations"]["ray.io/creation-timestamp"] = go_time_string(
                time.time_ns(), time.monotonic() - self.started
            )
            try:
                created = self.kube.create(
                    raycluster_path(namespace), ray_cluster, deadline=deadline
                )
            except KubeError as exc:
                raise internal_server_error(
                    exc, f"Failed to create a cluster for ({namespace}/{name})"
                ) from exc
        except GoError as exc:
            raise wrap(exc, "Create Cluster failed.") from exc
        return self.answer(created, self._events(created, deadline))

    def _get(self, namespace: str, name: str, deadline: float) -> dict[str, Any]:
        """``getClusterByName``: only clusters managed by the API server."""
        try:
            cluster = self.kube.get(raycluster_path(namespace, name), deadline=deadline)
        except KubeError as exc:
            if exc.not_found:
                raise not_found_error(exc, f"Cluster {name} not found") from exc
            raise wrap(exc, "Get Cluster failed") from exc
        labels = (cluster.get("metadata") or {}).get("labels") or {}
        if labels.get(MANAGED_BY) != COMPONENT:
            raise errorf(f"RayCluster with name {name} not managed by {COMPONENT}")
        return cluster

    def _events(self, cluster: dict[str, Any], deadline: float) -> list[dict[str, Any]]:
        """``GetClusterEvents``; a failure (none found included) is only logged: no events."""
        meta = cluster.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        try:
            self._get(namespace, name, deadline)
            if self.release.events_v1_api:
                listed = self.kube.list(
                    f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
                    fieldSelector=f"regarding.name={name}",
                    deadline=deadline,
                )
            else:
                listed = self.kube.list(
                    f"/api/v1/namespaces/{namespace}/events",
                    fieldSelector=f"involvedObject.name={name}",
                    deadline=deadline,
                )
        except GoError:
            return []
        return list(listed.get("items") or [])

    def _event(self, cluster_name: str, event: dict[str, Any]) -> dict[str, Any]:
        meta = event.get("metadata") or {}
        entry: dict[str, Any] = {
            "id": meta.get("name", ""),
            "name": f"{cluster_name}-{meta.get('name', '')}",
            "created_at": _unix(meta.get("creationTimestamp")),
            "reason": event.get("reason", ""),
            "type": event.get("type", ""),
        }
        if self.release.events_v1_api:
            series = event.get("series")
            entry["first_timestamp"] = _unix(
                event.get("eventTime") or event.get("deprecatedFirstTimestamp")
            )
            if series is not None:
                entry["last_timestamp"] = _unix(series.get("lastObservedTime"))
                entry["count"] = int(series.get("count") or 0)
            else:
                entry["last_timestamp"] = _unix(
                    event.get("deprecatedLastTimestamp") or event.get("eventTime")
                )
                entry["count"] = int(event.get("deprecatedCount") or 0)
            entry["message"] = event.get("note", "")
        else:
            entry["first_timestamp"] = _unix(event.get("firstTimestamp"))
            entry["last_timestamp"] = _unix(event.get("lastTimestamp"))
            entry["count"] = int(event.get("count") or 0)
            entry["message"] = event.get("message", "")
        return entry

    def answer(self, cluster: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        """``model.FromCrdToAPICluster``."""
        meta = cluster.get("metadata") or {}
        labels = meta.get("labels") or {}
        status = cluster.get("status") or {}
        out: dict[str, Any] = {
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "version": labels.get("ray.io/version", ""),
            "user": labels.get("ray.io/user", ""),
            "environment": ENVIRONMENTS.get(labels.get("ray.io/environment", ""), 0),
            "created_at": _unix(meta.get("creationTimestamp")),
            "cluster_state": status.get("state", ""),
        }
        if meta.get("annotations"):
            out["annotations"] = dict(meta["annotations"])
        out["cluster_spec"] = cluster_spec_back(cluster.get("spec") or {})
        cluster_name = labels.get("ray.io/cluster-name", "")
        out["events"] = [self._event(cluster_name, e) for e in events]
        out["service_endpoint"] = dict(status.get("endpoints") or {})
        return out

    def get(self, namespace: str, name: str, deadline: float) -> dict[str, Any]:
        """``GetCluster``."""
        if not name:
            raise invalid_input_error("Cluster name is empty. Please specify a valid value.")
        if not namespace:
            raise invalid_input_error("Namespace is empty. Please specify a valid value.")
        try:
            cluster = self._get(namespace, name, deadline)
        except GoError as exc:
            raise wrap(exc, "Get cluster failed.") from exc
        return self.answer(cluster, self._events(cluster, deadline))

    def list(
        self, namespace: str, continue_token: str, limit: int, deadline: float, *, everywhere: bool
    ) -> dict[str, Any]:
        """``ListCluster`` (one namespace) or ``ListAllClusters``: managed clusters only."""
        if not everywhere and not namespace:
            raise invalid_input_error("Namespace is empty. Please specify a valid value.")
        query = {"labelSelector": f"{MANAGED_BY}={COMPONENT}"}
        if limit:
            query["limit"] = str(limit)
        if continue_token:
            query["continue"] = continue_token
        try:
            try:
                listed = self.kube.list(
                    raycluster_path("" if everywhere else namespace), deadline=deadline, **query
                )
            except KubeError as exc:
                raise wrap(
                    exc, f"List RayCluster failed in {'' if everywhere else namespace}"
                ) from exc
        except GoError as exc:
            failed = (
                "List clusters from all namespaces failed."
                if everywhere
                else "List clusters failed."
            )
            raise wrap(exc, failed) from exc
        clusters = [
            self.answer(item, self._events(item, deadline)) for item in listed.get("items") or []
        ]
        return {
            "clusters": clusters,
            "continue": (listed.get("metadata") or {}).get("continue", ""),
        }

    def delete(self, namespace: str, name: str, deadline: float) -> dict[str, Any]:
        """``DeleteCluster``: the same managed-by check as a GET, then the delete."""
        if not name:
            raise invalid_input_error("Cluster name is empty. Please specify a valid value.")
        if not namespace:
            raise invalid_input_error("Namespace is empty. Please specify a valid value.")
        try:
            cluster = self._get(namespace, name, deadline)
        except GoError as exc:
            raise wrap(exc, "Get cluster failure") from exc
        try:
            self.kube.delete(
                raycluster_path(namespace, cluster["metadata"]["name"]), deadline=deadline
            )
        except KubeError as exc:
            raise internal_server_error(exc, f"Failed to delete cluster {name}.") from exc
        return {}
