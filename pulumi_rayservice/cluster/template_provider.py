"""``KubeRayComputeTemplateProvider``: the dynamic provider behind ``KubeRayComputeTemplate``.

A V1 compute template of the KubeRay API server (``POST .../namespaces/{ns}/compute_templates``).
The server has no update for templates (501), so every change is a replacement, and a template has
a fixed name (clusters name it): the old one is deleted before the new one is made.

- check: the template by ``rs.ComputeTemplate``'s rules and then by what V1 can carry
  (:func:`.compute_template.v1_message`): a fraction of a CPU or memory that is not a whole number
  of one unit is refused naming the field, never rounded by the server. Nothing is sent.
- diff: pure; a change of the template, its name or namespace is a replacement. A new URL of the
  server or a new token is an update (the template is the same; a replacement would first delete
  every cluster that takes its name), as is a new ``timeout_s``.
- update: the template is read where the inputs now say; one that is missing there is created
  (the URL named another server), one with other content is refused.
- create: POST, then read the answer back: a server before v1.5 knows no ``memory_unit`` and would
  hold ``512Mi`` as 512 Gi, so such a template is deleted again and the error says so. A template
  of that name that already exists is refused: V1 templates carry no owner, so it cannot be told
  whether this stack made it. A POST is sent once; a lost answer is settled by reading back (a
  template exactly as sent is ours).
- read: the template as the server answers; gone -> ''.
- delete: refused while a RayCluster this package manages still names it (KubeRay deletes a
  template under a cluster without a word, and the cluster's next create or patch through the
  template then fails); a cluster of someone else that names it is only warned about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import (
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pydantic import ValidationError

from .._util.inputs import DAY_S, changed_inputs, check_seconds, check_text, unknown_inputs
from .._util.k8s_names import dns1123_label_problem, dns1123_subdomain_problem
from .._util.normalize import canonical, contains_unknown, strip_provider
from .._util.polling import Deadline
from .._util.secrets import SecretsRedacted, check_result, log_warn, redacting, wrap_secret_paths
from ..errors import (
    ComputeTemplateConflictError,
    KubeConflictError,
    KubeError,
    KubeTemporaryError,
    UnsupportedApiServerError,
)
from ..kube.apiserver import ApiServerTarget, api_server_problems, api_server_secrets
from ..kube.apiserver_v1 import ApiServerV1Client
from ..kube.client import RAY_CLUSTER, KubeClient
from ..kube.objects import meta
from .compute_template import COMPUTE_TEMPLATE_ANNOTATION, v1_message
from .inputs import MANAGED_BY, MANAGED_BY_LABEL, STACK_ANNOTATION
from .spec import ComputeTemplate

__all__ = ["KubeRayComputeTemplateProvider"]

INPUT_KEYS = ("template", "name", "namespace", "api_server", "timeout_s", "resource_name")
REPLACE_KEYS = ("template", "name", "namespace")
SECRET_PATHS = (("api_server", "token"),)
DEFAULT_TIMEOUT_S = 120.0


def _secrets(props: Mapping[str, Any]) -> list[str]:
    return api_server_secrets(props.get("api_server"))


class KubeRayComputeTemplateProvider(ResourceProvider):
    """Creates, reads and deletes one V1 compute template of a KubeRay API server."""

    @redacting(_secrets)
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """The template by V1's rules, the name DNS-1123, the server's URL; nothing is sent."""
        inputs = strip_provider(news)
        failures = unknown_inputs(inputs, INPUT_KEYS)
        if inputs.get("name") in (None, "") and isinstance(inputs.get("resource_name"), str):
            inputs["name"] = inputs["resource_name"]
        failures.extend(check_text(inputs, "resource_name"))
        for key, rule in (
            ("name", dns1123_subdomain_problem),
            ("namespace", dns1123_label_problem),
        ):
            value = inputs.get(key, "default")
            if not isinstance(value, Unknown):
                problem = rule(value)
                if problem:
                    failures.append((key, f"{problem} (it becomes a ConfigMap's name)"))
        server = inputs.get("api_server")
        if server is None:
            failures.append(("api_server", "required: rs.KubeRayApiServer(url=...)"))
        failures.extend(api_server_problems(server, "api_server"))
        failures.extend(check_seconds(inputs, "timeout_s", DEFAULT_TIMEOUT_S, maximum=DAY_S))
        failures.extend(_template_problems(inputs))
        return check_result(inputs, failures, secret_paths=SECRET_PATHS, user_secrets_in="template")

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: any change to the template is a replacement (V1 has no update)."""
        olds, news = strip_provider(olds), strip_provider(news)
        replaces = changed_inputs(olds, news, REPLACE_KEYS, {"namespace": "default"})
        changed = list(replaces)
        changed += changed_inputs(
            olds, news, ("api_server", "timeout_s"), {"timeout_s": DEFAULT_TIMEOUT_S}
        )
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    @redacting(_secrets)
    def create(self, props: dict[str, Any]) -> CreateResult:
        """POST the template; verify the server kept its memory unit."""
        target = ApiServerTarget.from_input(props["api_server"])
        namespace, name = str(props.get("namespace") or "default"), str(props["name"])
        message = _message(props)
        with (
            SecretsRedacted(_secrets(props)),
            ApiServerV1Client(target, deadline=Deadline(_timeout(props))) as v1,
        ):
            try:
                stored = v1.create_template(namespace, message)
            except KubeTemporaryError as error:
                # No answer: the POST may have landed. What is there now is ours only if it is
                # exactly what was sent; anything else is said as it is.
                found = v1.get_template(namespace, name)
                if found is None or not _same_template(found, message):
                    raise error.told(
                        "The template may have been created; run `pulumi up` again"
                    ) from None
                stored = found
            except KubeConflictError:
                raise ComputeTemplateConflictError(
                    f"a compute template named {name!r} already exists in namespace "
                    f"{namespace} on {target.describe()}; nothing was changed. V1 templates "
                    "carry no owner, so it cannot be told whether this stack made it: choose "
                    "another name, or delete it first"
                ) from None
            unit = str(message.get("memory_unit") or "Gi")
            if unit != "Gi" and not stored.get("memoryUnit"):
                v1.delete_template(namespace, name)
                raise UnsupportedApiServerError(
                    f"compute template {namespace}/{name}: {target.describe()} knows no "
                    f"memory_unit (KubeRay before v1.5) and would hold {message['memory']}Gi "
                    f"instead of {message['memory']}{unit}; it was deleted again. Write the "
                    "memory in whole Gi for this server"
                )
        return CreateResult(f"{namespace}/{name}", _outputs(props, stored))

    @redacting(_secrets)
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """The same template, reached anew: read where the inputs say; made there if missing."""
        target = ApiServerTarget.from_input(news["api_server"])
        namespace, name = str(news.get("namespace") or "default"), str(news["name"])
        message = _message(news)
        with (
            SecretsRedacted(_secrets(news)),
            ApiServerV1Client(target, deadline=Deadline(_timeout(news))) as v1,
        ):
            stored = v1.get_template(namespace, name)
            if stored is None:
                stored = v1.create_template(namespace, message)
            elif not _same_template(stored, message):
                raise ComputeTemplateConflictError(
                    f"compute template {namespace}/{name} on {target.describe()} holds other "
                    "resources than this one; nothing was changed (a URL that now names another "
                    "server, where a template of that name is someone else's?)"
                )
        return UpdateResult(_outputs(news, stored))

    @redacting(_secrets)
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The template as the server holds it; '' when it is gone."""
        target = ApiServerTarget.from_input(props["api_server"])
        namespace, name = str(props.get("namespace") or "default"), str(props["name"])
        with (
            SecretsRedacted(_secrets(props)),
            ApiServerV1Client(target, deadline=Deadline(_timeout(props))) as v1,
        ):
            stored = v1.get_template(namespace, name)
        if stored is None:
            return ReadResult("", {})
        written = _as_written(stored, props.get("template") or {})
        return ReadResult(id_, _outputs({**props, "template": written}, stored))

    @redacting(_secrets)
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """DELETE, unless a RayCluster of this package still names the template."""
        target = ApiServerTarget.from_input(props["api_server"])
        namespace, name = str(props.get("namespace") or "default"), str(props["name"])
        deadline = Deadline(_timeout(props))
        with SecretsRedacted(_secrets(props)):
            _refuse_while_named(target, namespace, name, deadline)
            with ApiServerV1Client(target, deadline=deadline) as v1:
                v1.delete_template(namespace, name)


def _refuse_while_named(
    target: ApiServerTarget, namespace: str, name: str, deadline: Deadline
) -> None:
    """Raise if a RayCluster of this package names the template; warn for anyone else's."""
    try:
        with KubeClient(None, deadline=deadline, api_server=target) as kube:
            clusters = kube.list_objects(RAY_CLUSTER, namespace)
    except KubeError as error:
        log_warn(
            f"compute template {namespace}/{name}: could not list the RayClusters that may name "
            f"it ({error}); deleting it anyway"
        )
        return
    ours: list[str] = []
    others: list[str] = []
    for cluster in clusters:
        if name not in _templates_named(cluster):
            continue
        labels = meta(cluster).get("labels") or {}
        annotations = meta(cluster).get("annotations") or {}
        # Ours through V2 by label; through V1 (whose clusters carry the API server's labels)
        # by the stack's annotation.
        mine = labels.get(MANAGED_BY_LABEL) == MANAGED_BY or STACK_ANNOTATION in annotations
        (ours if mine else others).append(str(meta(cluster).get("name")))
    if ours:
        raise ComputeTemplateConflictError(
            f"compute template {namespace}/{name} is still named by RayCluster(s) "
            f"{', '.join(sorted(ours))} of pulumi-rayservice; it was not deleted (the API server "
            "would delete it without a word, and those clusters' next change through it would "
            "fail). Delete or change those clusters first; in one program, pass the template's "
            "`name` output as compute_template= so Pulumi orders them"
        )
    if others:
        log_warn(
            f"compute template {namespace}/{name} is deleted while RayCluster(s) "
            f"{', '.join(sorted(others))} (not managed by pulumi-rayservice) name it: they keep "
            "their resources, but new clusters naming it will fail"
        )


def _templates_named(cluster: Mapping[str, Any]) -> set[str]:
    """The templates a RayCluster's pods came from (the pod annotation KubeRay writes)."""
    spec = cluster.get("spec") or {}
    groups = [spec.get("headGroupSpec") or {}, *(spec.get("workerGroupSpecs") or [])]
    names = set()
    for group in groups:
        annotations = ((group.get("template") or {}).get("metadata") or {}).get("annotations")
        value = (annotations or {}).get(COMPUTE_TEMPLATE_ANNOTATION)
        if value:
            names.add(str(value))
    return names


def _template_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw = inputs.get("template")
    if raw is None:
        return [("template", "required: rs.ComputeTemplate(cpu=..., memory=...)")]
    if contains_unknown(raw):
        return []
    if not isinstance(raw, Mapping):
        return [("template", f"got {type(raw).__name__}; must be rs.ComputeTemplate(...)")]
    try:
        template = ComputeTemplate.model_validate(canonical(dict(raw)))
    except ValidationError as error:
        return [
            ("template." + ".".join(str(p) for p in item["loc"]), item["msg"])
            for item in error.errors()
        ]
    _, failures = v1_message(template, name="-", namespace="-")
    return failures


def _message(props: Mapping[str, Any]) -> dict[str, Any]:
    template = ComputeTemplate.model_validate(canonical(dict(props["template"])))
    message, _ = v1_message(
        template, name=str(props["name"]), namespace=str(props.get("namespace") or "default")
    )
    return message


def _as_written(stored: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """A V1 answer in ``rs.ComputeTemplate``'s shape and the program's spelling.

    ``4`` or ``"4Gi"``, ``2`` or ``"2"`` as the program wrote them, so a refresh of an unchanged
    template shows no drift.
    """
    unit = str(stored.get("memoryUnit") or "Gi")
    memory = int(stored.get("memory") or 0)
    cpu = int(stored.get("cpu") or 0)
    as_text = isinstance(previous.get("memory"), str) or unit != "Gi"
    written: dict[str, Any] = {
        "cpu": str(cpu) if isinstance(previous.get("cpu"), str) else cpu,
        "memory": f"{memory}{unit}" if as_text else memory,
    }
    if stored.get("gpu"):
        written["gpu"] = int(stored["gpu"])
    if stored.get("gpuAccelerator"):
        written["gpu_accelerator"] = stored["gpuAccelerator"]
    if stored.get("extendedResources"):
        written["extended_resources"] = {
            str(k): int(v) for k, v in dict(stored["extendedResources"]).items()
        }
    if stored.get("tolerations"):
        written["tolerations"] = [dict(t) for t in stored["tolerations"]]
    return written


def _outputs(props: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    outputs = {
        **{key: props[key] for key in INPUT_KEYS if key in props},
        "namespace": str(props.get("namespace") or "default"),
        "stored": canonical(dict(stored)),
    }
    return wrap_secret_paths(outputs, SECRET_PATHS)


def _same_template(stored: Mapping[str, Any], message: Mapping[str, Any]) -> bool:
    """Whether a V1 answer holds the resources of ``message`` (answers leave zeros out)."""
    return _as_written(stored, {}) == _as_written(
        {
            "cpu": message.get("cpu"),
            "memory": message.get("memory"),
            "memoryUnit": message.get("memory_unit"),
            "gpu": message.get("gpu"),
            "gpuAccelerator": message.get("gpu_accelerator"),
            "extendedResources": message.get("extended_resources"),
            "tolerations": message.get("tolerations"),
        },
        {},
    )


def _timeout(props: Mapping[str, Any]) -> float:
    return float(props.get("timeout_s") or DEFAULT_TIMEOUT_S)
