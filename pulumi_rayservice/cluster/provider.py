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
  object again unless ``keep_on_failure``. An existing object of that name: made by this package
  for this resource of this stack (labels and the stack annotation) -> adopted; anyone else's,
  another stack's included -> error, nothing touched.
- update: a merge patch of what may change in place, conditional on the resourceVersion of the
  object read, which must be the one this resource created (its uid); then wait until ready again.
- read: the live object in the program's shape (server defaults and autoscaler counts normalized);
  an object of that name with another uid is not ours: ours is gone.
- delete: DELETE with the uid as precondition, then wait until the object is gone (finalizers);
  already gone (or replaced by someone else's object, left untouched) is success.

This module holds the engine calls; the inputs are parsed in :mod:`.inputs`, the spec is
validated by :mod:`.crd_schema` and :mod:`.operator_rules`, and the waits live in :mod:`.waiting`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from .._util.inputs import (
    DAY_S,
    changed_inputs,
    check_flag,
    check_seconds,
    check_secret_text,
    check_text,
    kube_problems,
    unknown_inputs,
)
from .._util.k8s_names import annotations_problems, dns1123_label_problem, labels_problems
from .._util.normalize import canonical, contains_unknown, strip_provider
from .._util.polling import Deadline
from .._util.secrets import (
    SecretsRedacted,
    check_result,
    check_secret_paths,
    log_warn,
    paths_under,
    redacting,
    touches,
    wrap_secret_paths,
)
from ..errors import (
    ClusterGoneError,
    ClusterNotReadyError,
    ClusterOwnershipError,
    ComputeTemplateConflictError,
    ComputeTemplateMissingError,
    KubeConflictError,
    KubeError,
    KubeTemporaryError,
)
from ..kube.apiserver import API_V1, API_V2, api_server_problems
from ..kube.apiserver_v1 import ApiServerV1Client
from ..kube.client import RAY_CLUSTER, KubeClient
from ..kube.objects import RawObject, meta
from . import readiness, redis_password, v1_cluster
from .changes import Change, as_written, classify, patch_spec, revision
from .compute_template import (
    changed_since,
    contract,
    template_names,
    template_problems,
    without_template_keys,
)
from .crd_schema import validate_cluster_spec
from .inputs import (
    DEFAULT_TIMEOUT_S,
    INPUT_DEFAULTS,
    INPUT_KEYS,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    RESOURCE_LABEL,
    STACK_ANNOTATION,
    ClusterInputs,
    cluster_secrets,
    label_value,
)
from .naming import generate_name
from .operator_rules import validate_cluster_name
from .spec import ENABLE_SERVE_SERVICE_ANNOTATION
from .waiting import after_failed_create, wait_gone, wait_ready

CONFLICT_RETRIES = 4
SECRET_PATHS = (
    ("kube", "content"),
    ("redis_password",),
    ("dashboard", "kube", "content"),
    ("api_server", "token"),
    ("dashboard", "api_server", "token"),
)
FLAG_KEYS = ("keep_on_failure", "wait_for_dashboard", "auto_named")
MAX_TIMEOUT_S = DAY_S
"""Longest ``timeout_s``: a cluster not ready in a day is stuck, and a bound keeps waits finite."""
_UNKNOWN_MARK = "\x00unknown"
HEAD_CONTAINERS = ("headGroupSpec", "template", "spec", "containers")


class RayClusterProvider(ResourceProvider):
    """Creates, waits for, patches and deletes one KubeRay RayCluster."""

    @redacting(cluster_secrets)
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the spec against KubeRay's CRD and rules; draw or keep the name.

        Never raises, whatever the inputs hold: every wrong type or value is a failure.
        """
        inputs = strip_provider(news)
        olds = olds if isinstance(olds, Mapping) else {}
        failures = unknown_inputs(inputs, INPUT_KEYS)

        namespace = inputs.get("namespace", "default")
        if not isinstance(namespace, Unknown):
            problem = dns1123_label_problem(namespace)
            if problem:
                failures.append(("namespace", problem))

        for key in ("resource_name", "owner"):
            failures.extend(check_text(inputs, key))
        for flag in FLAG_KEYS:  # before the name draw sets auto_named
            failures.extend(check_flag(inputs, flag))
        failures.extend(_check_name(inputs, olds))

        labels, annotations = inputs.get("labels"), inputs.get("annotations")
        if labels is not None and not contains_unknown(labels):
            failures.extend(labels_problems(labels, "labels"))
        if annotations is not None and not contains_unknown(annotations):
            failures.extend(annotations_problems(annotations, "annotations"))
        failures.extend(kube_problems(inputs.get("kube"), "kube"))
        failures.extend(_target_problems(inputs))
        password = inputs.get("redis_password")
        failures.extend(check_secret_text(password, "redis_password"))

        spec = inputs.get("spec")
        if spec is None:
            failures.append(("spec", "required: a KubeRay RayCluster spec (or rs.ClusterSpec)"))
        elif not isinstance(spec, Mapping | Unknown):
            failures.append(("spec", f"got {type(spec).__name__}; must be a mapping"))
        elif isinstance(spec, Mapping) and not contains_unknown(spec):
            inputs["spec"] = canonical(dict(spec))
            known_annotations = (
                annotations
                if isinstance(annotations, Mapping) and not contains_unknown(annotations)
                else None
            )
            known_password = password if isinstance(password, str) else None
            failures.extend(_template_use_problems(inputs))
            for violation in validate_cluster_spec(
                redis_password.join(without_template_keys(inputs["spec"]), known_password),
                annotations=known_annotations,
            ):
                failures.append((violation.path, violation.message))

        failures.extend(
            check_seconds(inputs, "timeout_s", DEFAULT_TIMEOUT_S, maximum=MAX_TIMEOUT_S)
        )
        failures.extend(check_secret_paths(inputs.get("secret_paths"), "spec"))
        return check_result(inputs, failures, secret_paths=SECRET_PATHS, user_secrets_in="spec")

    @redacting(cluster_secrets)
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: KubeRay's rule decides in-place vs new cluster; nothing is contacted.

        Never raises on malformed olds or news: what cannot be compared counts as a replacement.
        """
        olds, news = strip_provider(olds), strip_provider(news)
        changed = changed_inputs(olds, news, [k for k in INPUT_KEYS if k != "spec"], INPUT_DEFAULTS)
        replaces: list[str] = []
        for key in ("namespace", "name", "redis_password"):
            if key in changed:
                replaces.append(key)
        new_spec = news.get("spec")
        old_spec: Mapping[str, Any] = olds["spec"] if isinstance(olds.get("spec"), Mapping) else {}
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
        if _api_of(news) == API_V1 or _api_of(olds) == API_V1:
            # V1 has no update, and a V1 cluster is another object than a V2 one: anything
            # that reaches the cluster is a new one.
            if _api_of(news) != _api_of(olds):
                replaces.append("api_server")
            replaces.extend(k for k in ("spec", "labels", "annotations") if k in changed)
        # Credentials, the name draw and the stack's name are not changes to the cluster.
        changed = [
            key
            for key in changed
            if key
            not in ("kube", "api_server", "auto_named", "resource_name", "owner", "secret_paths")
        ]
        if _kube_changed(olds, news):
            changed.append("kube")
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=olds.get("auto_named") is not True,
        )

    @redacting(cluster_secrets)
    def create(self, props: dict[str, Any]) -> CreateResult:
        """POST (or adopt our own), then wait until ready; delete again on failure."""
        inputs = ClusterInputs.parse(props)
        deadline = Deadline(inputs.timeout_s)
        if inputs.via_v1:
            with SecretsRedacted(inputs.secrets()):
                answer = v1_cluster.create(inputs, deadline)
            return CreateResult(inputs.resource_id, _v1_outputs(inputs, answer))
        with (
            SecretsRedacted(inputs.secrets()),
            inputs.client(deadline) as kube,
        ):
            inputs = _with_templates(inputs, deadline)
            try:
                obj = kube.create(RAY_CLUSTER, inputs.namespace, inputs.manifest())
            except KubeTemporaryError as error:
                # The POST got no answer: it may have landed. The next `pulumi up` POSTs again,
                # meets 409 and adopts the object (ours: labels, annotation, stack).
                raise error.told(
                    "The RayCluster may have been created; the next `pulumi up` adopts it if so"
                ) from None
            except KubeConflictError:
                # The name is taken: by a retried POST of ours that had reached the server, an
                # interrupted earlier `up`, or someone else. Only the first two are adopted.
                existing = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
                if existing is None:
                    raise
                obj = _adopt(kube, inputs, existing)
            try:
                obj = wait_ready(kube, inputs, deadline, obj)
            except ClusterNotReadyError as error:
                raise ClusterNotReadyError(f"{error} {after_failed_create(kube, inputs)}") from None
            except KubeError as error:  # the API server failed us while we waited
                raise error.told(after_failed_create(kube, inputs)) from None
            return CreateResult(inputs.resource_id, _outputs(inputs, obj))

    @redacting(cluster_secrets)
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Patch what may change in place (never the autoscaler's replicas); wait until ready."""
        inputs = ClusterInputs.parse(news)
        previous = ClusterInputs.parse(olds)
        deadline = Deadline(inputs.timeout_s)
        if inputs.via_v1:  # only what does not reach the cluster changed (diff replaces the rest)
            with SecretsRedacted(inputs.secrets()):
                answer = v1_cluster.read(inputs, deadline)
            if answer is None:
                raise ClusterGoneError(
                    f"RayCluster {inputs.resource_id} no longer exists; run `pulumi refresh` "
                    "and `pulumi up` to create it again"
                )
            return UpdateResult(_v1_outputs(inputs, answer))
        with (
            SecretsRedacted(inputs.secrets()),
            inputs.client(deadline) as kube,
        ):
            inputs = _with_templates(inputs, deadline)
            for attempt in range(1, CONFLICT_RETRIES + 1):
                live = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
                if live is None:
                    raise ClusterGoneError(
                        f"RayCluster {inputs.resource_id} no longer exists; run `pulumi refresh` "
                        "and `pulumi up` to create it again"
                    )
                _require_same_object(inputs, olds, live)
                _require_same_templates(inputs, live)
                try:
                    patched = kube.merge_patch(
                        RAY_CLUSTER, inputs.namespace, inputs.name,
                        _update_patch(inputs, previous, live),
                    )  # fmt: skip
                    break
                except KubeConflictError:
                    if attempt == CONFLICT_RETRIES:
                        raise
            obj = wait_ready(kube, inputs, deadline, patched)
            return UpdateResult(_outputs(inputs, obj))

    @redacting(cluster_secrets)
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live object, in the program's shape; '' when it is gone."""
        inputs = ClusterInputs.parse(props)
        if inputs.via_v1:
            with SecretsRedacted(inputs.secrets()):
                answer = v1_cluster.read(inputs, Deadline(inputs.timeout_s))
            if answer is None:
                return ReadResult("", {})
            return ReadResult(id_ or inputs.resource_id, _v1_outputs(inputs, answer))
        with (
            SecretsRedacted(inputs.secrets()),
            inputs.client(Deadline(inputs.timeout_s)) as kube,
        ):
            obj = kube.get(RAY_CLUSTER, inputs.namespace, inputs.name)
            if obj is None or meta(obj).get("deletionTimestamp"):
                return ReadResult("", {})
            if _other_object(props, obj):
                return ReadResult("", {})  # ours was deleted; the name is someone else's now
            live_spec, _ = redis_password.split(canonical(obj.get("spec") or {}))
            if template_names(inputs.spec):
                templates = _with_templates(inputs, Deadline(inputs.timeout_s), missing_ok=True)
                live_spec = contract(live_spec, inputs.spec, templates.templates)
            metadata = meta(obj)
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

    @redacting(cluster_secrets)
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """DELETE and wait until gone (KubeRay's finalizers may take a while)."""
        inputs = ClusterInputs.parse(props)
        uid = props.get("uid") or None
        deadline = Deadline(inputs.timeout_s)
        if inputs.via_v1:
            with SecretsRedacted(inputs.secrets()):
                v1_cluster.delete(inputs, deadline)
            return
        with (
            SecretsRedacted(inputs.secrets()),
            inputs.client(deadline) as kube,
        ):
            try:
                deleted = kube.delete(RAY_CLUSTER, inputs.namespace, inputs.name, uid=uid)
            except KubeConflictError:
                log_warn(
                    f"RayCluster {inputs.resource_id} is no longer the one this stack created "
                    f"(uid {uid}): someone else's object took the name and was left untouched"
                )
                return
            if deleted:
                wait_gone(kube, inputs, deadline)


def _check_name(inputs: dict[str, Any], olds: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Fill ``name``/``auto_named``: the given name, the old drawn one, or a new draw."""
    name = inputs.get("name")
    resource_name = inputs.get("resource_name")
    if isinstance(name, Unknown) or isinstance(resource_name, Unknown):
        return []
    if name is not None and name != "":
        if not isinstance(name, str):
            return [("name", f"got {type(name).__name__}; must be a string")]
        inputs["auto_named"] = False
        return [("name", v.message) for v in validate_cluster_name(name)]
    old_name = olds.get("name")
    reuse = (
        olds.get("auto_named") is True
        and isinstance(old_name, str)
        and not validate_cluster_name(old_name)
        and olds.get("resource_name") == resource_name
    )
    if reuse:
        inputs["name"] = old_name
    else:
        base = resource_name if isinstance(resource_name, str) else "raycluster"
        inputs["name"] = generate_name(base or "raycluster")
    inputs["auto_named"] = True
    return []


def _mark_unknowns(value: Any) -> Any:
    """Unknown leaves become a marker that equals nothing real: they count as changed."""
    if isinstance(value, Unknown):
        return _UNKNOWN_MARK
    if isinstance(value, Mapping):
        return {k: _mark_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_unknowns(v) for v in value]
    return value


def _api_of(props: Mapping[str, Any]) -> str | None:
    """``v1`` or ``v2`` for a cluster through the KubeRay API server, None through Kubernetes."""
    server = props.get("api_server")
    if not isinstance(server, Mapping):
        return None
    api = server.get("api", API_V2)
    return str(api) if isinstance(api, str) else None


def _kube_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether the way to the cluster changed: the kubeconfig, or the KubeRay API server.

    An update, never a replacement: the cluster is the same. A new API server token counts too,
    so that the outputs (the ``dashboard`` the apps use) carry the new one, not a revoked one.
    """
    new, new_server = news.get("kube"), news.get("api_server")
    if contains_unknown(new) or contains_unknown(new_server):
        return True
    kube_changed: bool = canonical(olds.get("kube") or None) != canonical(new or None)
    return kube_changed or canonical(olds.get("api_server") or None) != canonical(
        new_server or None
    )


def _require_same_templates(inputs: ClusterInputs, live: RawObject) -> None:
    """Refuse to patch groups whose template now writes other resources than their pods hold."""
    if not inputs.templates:
        return
    changed = changed_since(live.get("spec") or {}, inputs.spec, inputs.templates)
    if changed:
        raise ComputeTemplateConflictError(
            f"RayCluster {inputs.resource_id}: compute template(s) {', '.join(changed)} now hold "
            "other resources than the cluster's pods were made with (replaced on the server "
            "under the same name?); a patch would give them to new pods only. Nothing was "
            "changed: put the template back, or make a new cluster (a change KubeRay makes one "
            "for, such as the image)"
        )


def _with_templates(
    inputs: ClusterInputs, deadline: Deadline, *, missing_ok: bool = False
) -> ClusterInputs:
    """The inputs with the compute templates their groups name, read from the API server (V1).

    Raises:
        ComputeTemplateMissingError: a template does not exist (unless ``missing_ok``: a
            refresh then shows the live resources as they are).

    """
    names = template_names(inputs.spec)
    target = inputs.api_server_target
    if not names or target is None:
        return inputs
    found: dict[str, dict[str, Any]] = {}
    with ApiServerV1Client(target, deadline=deadline) as v1:
        for name in names:
            template = v1.get_template(inputs.namespace, name)
            if template is not None:
                found[name] = template
            elif not missing_ok:
                raise ComputeTemplateMissingError(
                    f"RayCluster {inputs.resource_id}: compute template {name!r} does not exist "
                    f"in namespace {inputs.namespace} on {target.describe()}; nothing was "
                    "written. Create it first (rs.KubeRayComputeTemplate, and pass its `name` "
                    "output so Pulumi creates it before the cluster and deletes it after)"
                )
    return dataclasses.replace(inputs, templates=found)


def _template_use_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Groups that name a compute template: valid names, and a KubeRay API server to read them."""
    spec = inputs["spec"]
    failures = template_problems(spec)
    if template_names(spec) and inputs.get("api_server") is None:
        failures.append(
            (
                "spec",
                "a group names a compute template (computeTemplate / compute_template=): "
                "templates live on the KubeRay API server; give api_server=rs.KubeRayApiServer("
                "...), or inline compute= on the group",
            )
        )
    return failures


def _target_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One way to the cluster: ``kube`` or ``api_server``; the API server checked by its rules."""
    server = inputs.get("api_server")
    failures = api_server_problems(server, "api_server")
    if server is not None and inputs.get("kube") is not None:
        failures.append(
            (
                "api_server",
                "give either kube= (the Kubernetes API) or api_server= (the KubeRay API server), "
                "not both",
            )
        )
    spec = inputs.get("spec")
    if (
        isinstance(server, Mapping)
        and server.get("api") == API_V1
        and isinstance(spec, Mapping)
        and not contains_unknown(inputs)
        and not failures
    ):
        try:
            parsed = ClusterInputs.parse({**inputs, "name": inputs.get("name") or "x"})
            failures.extend(v1_cluster.message(parsed)[1])
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            # Values of the wrong type: the schema check names them; V1 cannot read them.
            failures.append(("spec", f"V1's Cluster message cannot be built from it ({error})"))
    return failures


def _kept(live: Any, desired: Mapping[str, str]) -> dict[str, str]:
    """Live values of the keys the program manages (others belong to KubeRay or other tools)."""
    live_map = live if isinstance(live, Mapping) else {}
    return {k: str(live_map[k]) for k in desired if k in live_map}


def _other_object(props: Mapping[str, Any], live: RawObject) -> bool:
    """Whether ``live`` is not the object these outputs were written for (another uid)."""
    recorded = props.get("uid")
    current = meta(live).get("uid")
    return bool(recorded) and bool(current) and recorded != current


def _require_same_object(inputs: ClusterInputs, olds: Mapping[str, Any], live: RawObject) -> None:
    """Refuse to patch an object of our name that is not the one this resource created."""
    if _other_object(olds, live):
        raise ClusterOwnershipError(
            f"RayCluster {inputs.resource_id} is not the object this stack created (uid "
            f"{olds.get('uid')}, now {meta(live).get('uid')}): it was deleted "
            "and someone else's took the name. Nothing was changed; run `pulumi refresh`"
        )
    stack = (meta(live).get("annotations") or {}).get(STACK_ANNOTATION)
    if stack is not None and stack != inputs.stack:
        raise ClusterOwnershipError(
            f"RayCluster {inputs.resource_id} belongs to stack {stack!r}, not {inputs.stack!r}; "
            "nothing was changed"
        )


def _adopt(kube: KubeClient, inputs: ClusterInputs, existing: RawObject) -> RawObject:
    """Take over an object of our name only if this package made it for this resource and stack."""
    metadata = meta(existing)
    labels = metadata.get("labels") or {}
    stack = (metadata.get("annotations") or {}).get(STACK_ANNOTATION)
    ours = labels.get(MANAGED_BY_LABEL) == MANAGED_BY and (
        labels.get(RESOURCE_LABEL) == label_value(inputs.resource_name)
    )
    if not ours:
        raise ClusterOwnershipError(
            f"a RayCluster named {inputs.resource_id} already exists and is not managed by "
            f"pulumi-rayservice for resource {inputs.resource_name!r} (label {MANAGED_BY_LABEL}); "
            "nothing was changed. Choose another name, or delete that cluster first"
        )
    if stack != inputs.stack:
        made_by = (
            f"for stack {stack!r}"
            if stack
            else "by a version that did not record the stack (to take it over, run `kubectl "
            f"-n {inputs.namespace} annotate raycluster {inputs.name} "
            f"{STACK_ANNOTATION}={inputs.stack}`)"
        )
        raise ClusterOwnershipError(
            f"a RayCluster named {inputs.resource_id} was made by pulumi-rayservice {made_by}, "
            f"not for this stack ({inputs.stack!r}); nothing was changed. Two stacks cannot "
            "share a fixed name= in one namespace"
        )
    previous = ClusterInputs.parse(
        {**inputs.raw, "spec": existing.get("spec") or {}, "labels": {}, "annotations": {}}
    )
    return kube.merge_patch(
        RAY_CLUSTER, inputs.namespace, inputs.name, _update_patch(inputs, previous, existing)
    )


def _update_patch(
    inputs: ClusterInputs, previous: ClusterInputs, live: RawObject
) -> dict[str, Any]:
    """A conditional merge patch from the live object to the desired one (in-place fields)."""
    metadata = meta(live)
    desired_spec = patch_spec(inputs.spec_to_send(), live.get("spec") or {})
    labels: dict[str, Any] = {k: None for k in previous.labels if k not in inputs.labels}
    labels.update(inputs.all_labels())
    annotations: dict[str, Any] = {
        k: None for k in previous.annotations if k not in inputs.annotations
    }
    annotations.update(inputs.all_annotations())
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


def _outputs(inputs: ClusterInputs, obj: RawObject) -> dict[str, Any]:
    """Every output: the inputs, the identity, the services, the dashboard target, a summary."""
    metadata = meta(obj)
    annotations = {**(metadata.get("annotations") or {}), **inputs.annotations}
    serve_enabled = str(annotations.get(ENABLE_SERVE_SERVICE_ANNOTATION, "")).lower() == "true"
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
    return wrap_secret_paths(outputs, [*SECRET_PATHS, *_derived_secrets(inputs.raw)])


def _v1_outputs(inputs: ClusterInputs, answer: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of a cluster made through V1, from V1's view of it."""
    shown = {"metadata": {"annotations": dict(answer.get("annotations") or {})}}
    outputs = _outputs(inputs, shown)  # type: ignore[arg-type]
    return {**outputs, "readiness": v1_cluster.summary(answer)}


def _derived_secrets(props: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Outputs secret because the program's spec is secret where they come from."""
    spec_paths = [path[1:] for path in paths_under(props, ("spec",))]
    derived = [("spec", *path) for path in spec_paths]
    for output, source in (("ray_version", ("rayVersion",)), ("image", HEAD_CONTAINERS)):
        if touches(spec_paths, source):
            derived.append((output,))
    return derived
