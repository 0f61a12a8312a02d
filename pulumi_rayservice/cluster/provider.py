"""``RayClusterProvider``: the Pulumi dynamic provider behind ``RayCluster``.

It writes a ``ray.io/v1`` RayCluster object through the Kubernetes API and waits for the KubeRay
operator to make it ready. It keeps no state (it is pickled into the stack) and builds a Kubernetes
client from the ``kube`` input inside each call.

- check: KubeRay's CRD schema and the operator's own rules, failures naming the field; the name is
  drawn here (and kept on later runs; drawn anew when the engine replaces the resource).
- diff: pure, KubeRay's rule of what is a new cluster (``changes.classify``); a fixed name forces
  delete-before-replace. With ``upgradeStrategy: Recreate`` in the spec, a new-cluster change is
  an in-place update instead (KubeRay recreates the pods) and the preview warns of the downtime.
- create: POST, then wait until ready; on timeout say why (conditions, events) and delete the
  object again unless ``keep_on_failure``. An existing object of that name: ours -> adopted,
  someone else's -> error, nothing touched.
- update: a conditional merge patch of what may change in place, then wait until ready again.
- read: the live object in the program's shape (server defaults and autoscaler counts normalized).
- delete: DELETE, then wait until the object is gone (finalizers); already gone is success.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from .._util.inputs import changed_inputs, check_seconds, unknown_inputs
from .._util.normalize import canonical, contains_unknown, strip_provider
from .._util.polling import Backoff, Deadline
from .._util.secrets import SecretsRedacted, wrap_secret_paths
from ..errors import ClusterNotReadyError, KubeConflictError, KubeError, RayServiceError
from ..kube.client import GONE, RAY_CLUSTER, KubeClient, WatchUnavailable
from ..serve.client import DashboardClient, RetryPolicy
from ..serve.dashboard import DashboardTarget
from . import readiness
from .changes import Change, as_written, classify, patch_spec, revision
from .crd_schema import validate_cluster_name, validate_cluster_spec
from .naming import generate_name

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "pulumi-rayservice"
RESOURCE_LABEL = "rayservice.pulumi.com/resource"
SERVE_SERVICE_ANNOTATION = "ray.io/enable-serve-service"
DEFAULT_TIMEOUT_S = 900.0
CLEANUP_TIMEOUT_S = 120.0
CONFLICT_RETRIES = 4
INPUT_KEYS = (
    "spec", "namespace", "name", "auto_named", "resource_name", "kube", "timeout_s",
    "keep_on_failure", "labels", "annotations", "redis_password", "wait_for_dashboard",
)  # fmt: skip
INPUT_DEFAULTS: dict[str, Any] = {
    "namespace": "default",
    "timeout_s": DEFAULT_TIMEOUT_S,
    "keep_on_failure": False,
    "labels": {},
    "annotations": {},
    "wait_for_dashboard": True,
}
SECRET_PATHS = (("kube", "content"), ("redis_password",), ("dashboard", "kube", "content"))
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_UNKNOWN_MARK = "\x00unknown"


@dataclass(frozen=True)
class ClusterInputs:
    """The checked inputs of one RayCluster."""

    spec: dict[str, Any]
    namespace: str
    name: str
    auto_named: bool
    resource_name: str
    kube: dict[str, Any] | None
    timeout_s: float
    keep_on_failure: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    redis_password: str | None
    wait_for_dashboard: bool
    raw: dict[str, Any]

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
            timeout_s=float(props.get("timeout_s") or DEFAULT_TIMEOUT_S),
            keep_on_failure=bool(props.get("keep_on_failure", False)),
            labels={str(k): str(v) for k, v in (props.get("labels") or {}).items()},
            annotations={str(k): str(v) for k, v in (props.get("annotations") or {}).items()},
            redis_password=props.get("redis_password") or None,
            wait_for_dashboard=bool(props.get("wait_for_dashboard", True)),
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
            RESOURCE_LABEL: _label_value(self.resource_name),
        }

    def spec_to_send(self) -> dict[str, Any]:
        """The spec with the secret Redis password put back in (it is kept out of state)."""
        spec = dict(self.spec)
        if self.redis_password:
            gcs = dict(spec.get("gcsFaultToleranceOptions") or {})
            gcs["redisPassword"] = {"value": self.redis_password}
            spec["gcsFaultToleranceOptions"] = gcs
        return spec

    def manifest(self) -> dict[str, Any]:
        """The whole object to POST."""
        return {
            "apiVersion": RAY_CLUSTER.api_version,
            "kind": RAY_CLUSTER.kind,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": self.all_labels(),
                "annotations": dict(self.annotations),
            },
            "spec": self.spec_to_send(),
        }

    def dashboard(self) -> dict[str, Any]:
        """The ``Dashboard`` input that reaches this cluster through the API server proxy."""
        target: dict[str, Any] = {
            "service": self.head_service,
            "namespace": self.namespace,
            "port": "dashboard",
        }
        if self.kube:
            target["kube"] = dict(self.kube)
        return target

    def secrets(self) -> list[Any]:
        """Secret values of this call, blanked out of any error."""
        return [(self.kube or {}).get("content"), self.redis_password]


class RayClusterProvider(ResourceProvider):
    """Creates, waits for, patches and deletes one KubeRay RayCluster."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the spec against KubeRay's CRD and rules; draw or keep the name."""
        inputs = strip_provider(news)
        failures = unknown_inputs(inputs, INPUT_KEYS)

        namespace = inputs.get("namespace", "default")
        if not contains_unknown(namespace) and (
            not isinstance(namespace, str) or not _DNS1123_LABEL.match(namespace)
        ):
            failures.append(
                ("namespace", f"got {namespace!r}; must be a DNS-1123 label like 'ray'")
            )

        failures.extend(_check_name(inputs, olds))

        spec = inputs.get("spec")
        if spec is None:
            failures.append(("spec", "required: a KubeRay RayCluster spec (or rs.ClusterSpec)"))
        elif not isinstance(spec, Mapping) and not contains_unknown(spec):
            failures.append(("spec", f"got {type(spec).__name__}; must be a mapping"))
        elif not contains_unknown(spec):
            inputs["spec"] = canonical(dict(spec))
            annotations = inputs.get("annotations")
            known_annotations = None if contains_unknown(annotations) else annotations
            for violation in validate_cluster_spec(
                _with_password(inputs["spec"], inputs.get("redis_password")),
                annotations=known_annotations,
            ):
                failures.append((violation.path, violation.message))

        failures.extend(check_seconds(inputs, "timeout_s", DEFAULT_TIMEOUT_S))
        return CheckResult(
            wrap_secret_paths(inputs, SECRET_PATHS),
            [CheckFailure(prop, reason) for prop, reason in failures],
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: KubeRay's rule decides in-place vs new cluster; nothing is contacted."""
        olds, news = strip_provider(olds), strip_provider(news)
        changed = changed_inputs(olds, news, [k for k in INPUT_KEYS if k != "spec"], INPUT_DEFAULTS)
        replaces: list[str] = []
        for key in ("namespace", "name", "redis_password"):
            if key in changed:
                replaces.append(key)
        new_spec = news.get("spec")
        old_spec = olds.get("spec") or {}
        if not isinstance(new_spec, Mapping):
            changed.append("spec")
            replaces.append("spec")
        else:
            change = classify(old_spec, _mark_unknowns(new_spec))
            if change is not Change.NONE:
                changed.append("spec")
            if change is Change.NEW_CLUSTER:
                replaces.append("spec")
            if change is Change.RECREATE:
                pulumi.log.warn(
                    f"RayCluster {olds.get('namespace')}/{olds.get('name')}: this change makes "
                    "KubeRay recreate every Ray pod in place (upgradeStrategy: Recreate). Serve "
                    "is down until the new pods are ready and the apps are deployed again."
                )
        # Credentials and the name draw are not changes to the cluster.
        changed = [key for key in changed if key not in ("kube", "auto_named", "resource_name")]
        if _kube_changed(olds, news):
            changed.append("kube")
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=not bool(olds.get("auto_named", False)),
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """POST (or adopt our own), then wait until ready; delete again on failure."""
        inputs = ClusterInputs.parse(props)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube) as kube:
            try:
                obj = kube.create(RAY_CLUSTER, inputs.namespace, inputs.manifest())
            except KubeConflictError:
                # The name is taken: by a retried POST of ours that had reached the server, an
                # interrupted earlier `up`, or someone else. Only the first two are adopted.
                existing = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
                if existing is None:
                    raise
                obj = _adopt(kube, inputs, existing)
            try:
                obj = _wait_ready(kube, inputs, Deadline(inputs.timeout_s), obj)
            except ClusterNotReadyError as error:
                raise ClusterNotReadyError(
                    f"{error} {_after_failed_create(kube, inputs)}"
                ) from None
            return CreateResult(inputs.resource_id, _outputs(inputs, obj))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Patch what may change in place (never the autoscaler's replicas); wait until ready."""
        inputs = ClusterInputs.parse(news)
        previous = ClusterInputs.parse(olds)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube) as kube:
            for attempt in range(1, CONFLICT_RETRIES + 1):
                live = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
                if live is None:
                    raise KubeError(
                        f"RayCluster {inputs.resource_id} no longer exists; run `pulumi refresh` "
                        "and `pulumi up` to create it again"
                    )
                try:
                    patched = kube.merge_patch(
                        RAY_CLUSTER, inputs.namespace, inputs.name,
                        _update_patch(inputs, previous, live),
                    )  # fmt: skip
                    break
                except KubeConflictError:
                    if attempt == CONFLICT_RETRIES:
                        raise
            obj = _wait_ready(kube, inputs, Deadline(inputs.timeout_s), patched)
            return UpdateResult(_outputs(inputs, obj))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live object, in the program's shape; '' when it is gone."""
        inputs = ClusterInputs.parse(props)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube) as kube:
            obj = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
            if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
                return ReadResult("", {})
            live_spec = _without_password(canonical(obj.get("spec") or {}))
            metadata = obj.get("metadata") or {}
            live = ClusterInputs(
                **{
                    **inputs.__dict__,
                    "spec": as_written(live_spec, inputs.spec),
                    "labels": _kept(metadata.get("labels"), inputs.labels),
                    "annotations": _kept(metadata.get("annotations"), inputs.annotations),
                }
            )
            outputs = _outputs(live, obj)
            return ReadResult(id_ or inputs.resource_id, outputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """DELETE and wait until gone (KubeRay's finalizers may take a while)."""
        inputs = ClusterInputs.parse(props)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube) as kube:
            if kube.delete(RAY_CLUSTER, inputs.namespace, inputs.name):
                _wait_gone(kube, inputs, Deadline(inputs.timeout_s))


def _check_name(inputs: dict[str, Any], olds: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Fill ``name``/``auto_named``: the given name, the old drawn one, or a new draw."""
    name = inputs.get("name")
    resource_name = inputs.get("resource_name")
    if isinstance(name, Unknown) or isinstance(resource_name, Unknown):
        return []
    if name:
        inputs["auto_named"] = False
        return [("name", v.message) for v in validate_cluster_name(str(name))]
    old_name = olds.get("name")
    if olds.get("auto_named") and old_name and olds.get("resource_name") == resource_name:
        inputs["name"] = old_name
    else:
        inputs["name"] = generate_name(str(resource_name or "raycluster"))
    inputs["auto_named"] = True
    return []


def _with_password(spec: Mapping[str, Any], password: Any) -> dict[str, Any]:
    """Validate the spec as it will be sent (the password lives in its own secret input)."""
    if not password or contains_unknown(password):
        return dict(spec)
    gcs = dict(spec.get("gcsFaultToleranceOptions") or {})
    gcs["redisPassword"] = {"value": str(password)}
    return {**spec, "gcsFaultToleranceOptions": gcs}


def _without_password(spec: dict[str, Any]) -> dict[str, Any]:
    gcs = spec.get("gcsFaultToleranceOptions")
    if isinstance(gcs, dict) and "value" in (gcs.get("redisPassword") or {}):
        gcs = {k: v for k, v in gcs.items() if k != "redisPassword"}
        return {**spec, "gcsFaultToleranceOptions": gcs}
    return spec


def _mark_unknowns(value: Any) -> Any:
    """Unknown leaves become a marker that equals nothing real: they count as changed."""
    if isinstance(value, Unknown):
        return _UNKNOWN_MARK
    if isinstance(value, Mapping):
        return {k: _mark_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_unknowns(v) for v in value]
    return value


def _kube_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    new = news.get("kube")
    return contains_unknown(new) or canonical(olds.get("kube") or None) != canonical(new or None)


def _label_value(text: str) -> str:
    """A valid label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63].strip("-._")
    return value or "raycluster"


def _kept(live: Any, desired: Mapping[str, str]) -> dict[str, str]:
    """Live values of the keys the program manages (others belong to KubeRay or other tools)."""
    live_map = live if isinstance(live, Mapping) else {}
    return {k: str(live_map[k]) for k in desired if k in live_map}


def _adopt(kube: KubeClient, inputs: ClusterInputs, existing: Mapping[str, Any]) -> dict[str, Any]:
    """Take over an object of our name only if this package made it for this resource."""
    labels = (existing.get("metadata") or {}).get("labels") or {}
    ours = labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(
        RESOURCE_LABEL
    ) == _label_value(inputs.resource_name)
    if not ours:
        raise KubeError(
            f"a RayCluster named {inputs.resource_id} already exists and is not managed by "
            f"pulumi-rayservice for resource {inputs.resource_name!r} (label {MANAGED_BY_LABEL}); "
            "nothing was changed. Choose another name, or delete that cluster first"
        )
    previous = ClusterInputs.parse(
        {**inputs.raw, "spec": existing.get("spec") or {}, "labels": {}, "annotations": {}}
    )
    return kube.merge_patch(
        RAY_CLUSTER, inputs.namespace, inputs.name, _update_patch(inputs, previous, existing)
    )


def _update_patch(
    inputs: ClusterInputs, previous: ClusterInputs, live: Mapping[str, Any]
) -> dict[str, Any]:
    """A conditional merge patch from the live object to the desired one (in-place fields)."""
    metadata = live.get("metadata") or {}
    desired_spec = patch_spec(inputs.spec_to_send(), live.get("spec") or {})
    labels: dict[str, Any] = {k: None for k in previous.labels if k not in inputs.labels}
    labels.update(inputs.all_labels())
    annotations: dict[str, Any] = {
        k: None for k in previous.annotations if k not in inputs.annotations
    }
    annotations.update(inputs.annotations)
    return {
        "metadata": {
            "resourceVersion": metadata.get("resourceVersion"),
            "labels": labels,
            "annotations": annotations,
        },
        "spec": merge_patch_between(live.get("spec") or {}, desired_spec),
    }


def merge_patch_between(current: Any, desired: Any) -> Any:
    """The RFC 7386 merge patch that turns ``current`` into ``desired`` (lists replaced whole)."""
    if not isinstance(current, Mapping) or not isinstance(desired, Mapping):
        return desired
    patch: dict[str, Any] = {k: None for k in current if k not in desired}
    for key, value in desired.items():
        if key in current and current[key] == value:
            continue
        patch[key] = merge_patch_between(current.get(key), value)
    return patch


def _wait_ready(
    kube: KubeClient, inputs: ClusterInputs, deadline: Deadline, obj: dict[str, Any]
) -> dict[str, Any]:
    """Wait until KubeRay reports the head ready AND the dashboard answers through the proxy.

    ``obj`` is the object as the last write returned it; changes are awaited with a watch from
    its resourceVersion (polling once the operator's part is done and only the dashboard is
    awaited, or when watching is not allowed).
    """
    waiter = _ChangeWaiter(kube, inputs)
    dashboard = DashboardTarget.from_input(inputs.dashboard())
    last_reason = ""
    while True:
        state = readiness.Readiness.of(obj)
        reason = state.reason
        if state.ready and not inputs.wait_for_dashboard:
            return obj
        if state.ready:
            try:
                with DashboardClient.for_target(dashboard, retry=RetryPolicy(attempts=1)) as probe:
                    probe.version()
                return obj
            except RayServiceError as error:
                reason = f"head pod ready, dashboard not answering through the proxy yet ({error})"
        if reason != last_reason:
            pulumi.log.info(f"RayCluster {inputs.resource_id}: {reason}")
            last_reason = reason
        if deadline.expired():
            events = readiness.describe_events(kube.events_for(inputs.namespace, inputs.name))
            raise ClusterNotReadyError(
                f"RayCluster {inputs.resource_id} was not ready within {deadline.timeout_s:g}s: "
                f"{reason}. Conditions: {readiness.describe_conditions(obj)}."
                + (f" Recent events: {events}." if events else "")
            )
        changed = waiter.next(obj, deadline, poll=state.ready)
        if changed is GONE:
            raise ClusterNotReadyError(
                f"RayCluster {inputs.resource_id} disappeared while waiting for it to be ready"
            )
        obj = changed


def _wait_gone(kube: KubeClient, inputs: ClusterInputs, deadline: Deadline) -> None:
    """Wait until the object is gone (KubeRay's finalizers run first)."""
    obj = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
    waiter = _ChangeWaiter(kube, inputs)
    while obj is not None and obj is not GONE:
        if deadline.expired():
            finalizers = (obj.get("metadata") or {}).get("finalizers") or []
            raise KubeError(
                f"RayCluster {inputs.resource_id} was still terminating after "
                f"{deadline.timeout_s:g}s (finalizers: {', '.join(finalizers) or 'none'}); "
                "run `pulumi destroy` again to keep waiting"
            )
        obj = waiter.next(obj, deadline, poll=False)


class _ChangeWaiter:
    """The next state of one RayCluster: by watch while it works, else by polling with backoff."""

    def __init__(self, kube: KubeClient, inputs: ClusterInputs) -> None:
        self._kube = kube
        self._inputs = inputs
        self._watch = True
        self._delays = Backoff(initial_s=0.2, max_s=3.0, fast_s=30.0, fast_max_s=0.5).delays()

    def next(self, obj: Mapping[str, Any], deadline: Deadline, *, poll: bool) -> dict[str, Any]:
        """The object after its next change (or a fresh read), or ``GONE``."""
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if self._watch and not poll and version:
            try:
                changed = self._kube.next_change(
                    RAY_CLUSTER, self._inputs.namespace, self._inputs.name, str(version),
                    timeout_s=min(deadline.remaining(), 60.0),
                )  # fmt: skip
                if changed is not None:
                    return changed
            except WatchUnavailable as error:
                self._watch = False
                pulumi.log.info(f"RayCluster {self._inputs.resource_id}: {error}; polling")
        else:
            deadline.sleep(next(self._delays))
        fresh = self._kube.get(RAY_CLUSTER, self._inputs.namespace, self._inputs.name)
        return GONE if fresh is None else fresh


def _after_failed_create(kube: KubeClient, inputs: ClusterInputs) -> str:
    """Delete the failed cluster again (unless kept); say what was left."""
    if inputs.keep_on_failure:
        return (
            f"The RayCluster was kept for inspection (keep_on_failure=True): "
            f"kubectl -n {inputs.namespace} describe raycluster {inputs.name}"
        )
    try:
        if kube.delete(RAY_CLUSTER, inputs.namespace, inputs.name):
            _wait_gone(kube, inputs, Deadline(min(inputs.timeout_s, CLEANUP_TIMEOUT_S)))
    except RayServiceError as error:
        return f"Deleting it again failed ({error}); it may still exist"
    return "It was deleted again; nothing was left in the cluster"


def _outputs(inputs: ClusterInputs, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Every output: the inputs, the identity, the services, the dashboard target, a summary."""
    metadata = obj.get("metadata") or {}
    annotations = {**(metadata.get("annotations") or {}), **inputs.annotations}
    serve_enabled = str(annotations.get(SERVE_SERVICE_ANNOTATION, "")).lower() == "true"
    head_containers = (
        ((inputs.spec.get("headGroupSpec") or {}).get("template") or {}).get("spec") or {}
    ).get("containers") or [{}]
    outputs: dict[str, Any] = {
        **inputs.raw,
        "spec": inputs.spec,
        "name": inputs.name,
        "namespace": inputs.namespace,
        "labels": inputs.labels,
        "annotations": inputs.annotations,
        "timeout_s": canonical(inputs.timeout_s),
        "keep_on_failure": inputs.keep_on_failure,
        "uid": metadata.get("uid"),
        "head_service": inputs.head_service,
        "serve_service": f"{inputs.name}-serve-svc" if serve_enabled else None,
        "dashboard": inputs.dashboard(),
        "ray_version": inputs.spec.get("rayVersion"),
        "image": head_containers[0].get("image"),
        "readiness": readiness.summary(obj),
        "revision": revision(inputs.spec),
    }
    return wrap_secret_paths(outputs, SECRET_PATHS)
