"""Read a KubeRay ``RayService`` manifest into what the ``RayService`` component takes.

Everything the manifest says is either honoured or refused with the field's name: a setting that
is silently dropped is a setting the user believes applies and does not.

- ``spec.serveConfigV2``: the Serve config (YAML text). Its ``applications`` become the apps; its
  cluster-level ``http_options``/``grpc_options``/``proxy_location`` become ``serve_options``; a
  top-level ``logging_config`` is copied into every app that has none (what Serve does itself).
- ``spec.rayClusterConfig``: the RayCluster spec, as is.
- ``spec.upgradeStrategy.type``: ``NewCluster``, ``NewClusterWithIncrementalUpgrade`` and
  ``None`` map to ``Upgrade``; ``clusterUpgradeOptions`` (``gatewayClassName``,
  ``stepSizePercent``, ``intervalSeconds``, ``maxSurgePercent``) to ``ClusterUpgradeOptions``,
  checked by KubeRay's rules (the Ray autoscaler must be on, as KubeRay requires).
- ``spec.rayClusterDeletionDelaySeconds``: ``Upgrade.drain_s``.
- ``spec.serveService``: the serve Service's name, labels, annotations, type and ports.
- ``spec.excludeHeadPodFromServeSvc``: the serve Service selects worker pods only.
- ``metadata.name``/``namespace``/``labels``/``annotations``: the component's name and namespace,
  labels and annotations on the RayCluster.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from .._util.yaml_loader import load_yaml_all, looks_like_text, read_text_file
from ..errors import InvalidInputError
from ..rollout.options import ClusterUpgradeOptions
from ..serve.models import SERVE_OPTION_KEYS, ServeConfig
from .upgrade import INCREMENTAL, Upgrade

SUPPORTED_SPEC = (
    "serveConfigV2", "rayClusterConfig", "upgradeStrategy", "rayClusterDeletionDelaySeconds",
    "serveService", "excludeHeadPodFromServeSvc",
)  # fmt: skip
REFUSED_SPEC = {
    "serveConfig": "the single-application serveConfig was removed from KubeRay; use serveConfigV2",
    "serviceUnhealthySecondThreshold": (
        "no controller watches the service after `pulumi up`; remove it (deprecated in KubeRay)"
    ),
    "deploymentUnhealthySecondThreshold": (
        "no controller watches deployments after `pulumi up`; remove it (deprecated in KubeRay)"
    ),
    "suspend": "a suspended RayService has no cluster to deploy Serve apps on; remove it",
    "managedBy": "the component is managed by Pulumi, not by an external controller; remove it",
}
SERVICE_TEMPLATE_METADATA = ("name", "labels", "annotations")
SERVICE_TEMPLATE_SPEC = ("type", "ports", "loadBalancerClass", "externalTrafficPolicy",
                         "internalTrafficPolicy", "sessionAffinity", "loadBalancerSourceRanges",
                         "ipFamilyPolicy", "ipFamilies")  # fmt: skip


@dataclass
class RayServiceManifest:
    """A RayService manifest, read and checked."""

    name: str
    namespace: str | None
    cluster_spec: dict[str, Any]
    applications: list[dict[str, Any]]
    serve_options: dict[str, Any] | None = None
    upgrade: Upgrade = field(default_factory=Upgrade)
    serve_service: dict[str, Any] | None = None
    exclude_head_from_serve_service: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    other_documents: list[str] = field(default_factory=list)


def load_manifest(source: str | Path | Mapping[str, Any]) -> RayServiceManifest:
    """Read a RayService manifest from a path, YAML text or a dict.

    A file may hold other documents beside the RayService (the HA sample carries a Redis);
    they are listed in ``other_documents`` for the caller to warn about, never deployed here.

    Raises:
        InvalidInputError: not a ``ray.io/v1`` RayService, or a field that cannot be honoured
            (named, with what to do instead).

    """
    documents = _documents(source)
    services = [d for d in documents if d.get("kind") == "RayService"]
    others = [f"{d.get('kind')}/{_name_of(d)}" for d in documents if d.get("kind") != "RayService"]
    if len(services) != 1:
        raise InvalidInputError(
            f"expected exactly one kind: RayService document, found {len(services)}"
            + (f" (other documents: {', '.join(others)})" if others else "")
        )
    manifest = parse_manifest(services[0])
    manifest.other_documents = others
    return manifest


def parse_manifest(doc: Mapping[str, Any]) -> RayServiceManifest:
    """Map one RayService object onto the component's inputs (see the module docstring)."""
    api_version = doc.get("apiVersion")
    if api_version != "ray.io/v1":
        raise InvalidInputError(
            f"apiVersion: got {api_version!r}; only ray.io/v1 is supported "
            "(v1alpha1 is deprecated in KubeRay: convert the manifest to ray.io/v1)"
        )
    metadata = _mapping(doc.get("metadata"), "metadata")
    name = metadata.get("name")
    if not name:
        raise InvalidInputError("metadata.name: required (the component takes its name from it)")
    if not isinstance(name, str):
        raise InvalidInputError(f"metadata.name: got {type(name).__name__}; must be a string")
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InvalidInputError(
            f"metadata.namespace: got {type(namespace).__name__}; must be a string"
        )
    labels = _mapping(metadata.get("labels"), "metadata.labels")
    annotations = _mapping(metadata.get("annotations"), "metadata.annotations")
    spec = _mapping(doc.get("spec"), "spec")
    problems = [f"spec.{key}: {REFUSED_SPEC[key]}" for key in spec if key in REFUSED_SPEC]
    problems += [
        f"spec.{key}: unknown RayService field; supported: {', '.join(SUPPORTED_SPEC)}"
        for key in spec
        if key not in SUPPORTED_SPEC and key not in REFUSED_SPEC
    ]
    if "rayClusterConfig" not in spec:
        problems.append("spec.rayClusterConfig: required (the cluster to run Serve on)")
    elif not isinstance(spec["rayClusterConfig"], Mapping):
        problems.append(_not_mapping(spec["rayClusterConfig"], "spec.rayClusterConfig"))
    exclude_head = spec.get("excludeHeadPodFromServeSvc", False)
    if not isinstance(exclude_head, bool):
        problems.append(
            f"spec.excludeHeadPodFromServeSvc: got {type(exclude_head).__name__}; "
            "must be true or false"
        )
    upgrade, upgrade_problems = _upgrade(spec)
    problems += upgrade_problems
    service, service_problems = _serve_service(spec.get("serveService"))
    problems += service_problems
    if problems:
        raise InvalidInputError(
            "RayService manifest cannot be honoured:\n  " + "\n  ".join(problems)
        )
    applications, serve_options = _serve_config(spec.get("serveConfigV2"))
    return RayServiceManifest(
        name=name,
        namespace=namespace,
        cluster_spec=copy.deepcopy(dict(spec["rayClusterConfig"])),
        applications=applications,
        serve_options=serve_options,
        upgrade=upgrade,
        serve_service=service,
        exclude_head_from_serve_service=exclude_head,
        labels={str(k): str(v) for k, v in labels.items()},
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


def _documents(source: str | Path | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The documents of a manifest given as a dict, YAML/JSON text or a file path.

    Text or path is decided by the package's one rule (``looks_like_text``): a one-line JSON
    object is text, not a file name.
    """
    if isinstance(source, Mapping):
        return [dict(source)]
    if not isinstance(source, str | Path):
        raise InvalidInputError(
            f"manifest: got {type(source).__name__}; must be a path, YAML text or a dict"
        )
    if isinstance(source, Path) or not looks_like_text(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise InvalidInputError(f"{source}: no such manifest file")
        try:
            text = read_text_file(path, str(source))
        except OSError as error:
            raise InvalidInputError(f"{source}: cannot be read ({error.strerror})") from None
        docs = load_yaml_all(text, str(source))
    else:
        docs = load_yaml_all(source, "manifest")
    return [d for d in docs if isinstance(d, dict)]


def _name_of(doc: Mapping[str, Any]) -> Any:
    metadata = doc.get("metadata")
    return metadata.get("name") if isinstance(metadata, Mapping) else None


def _not_mapping(value: Any, name: str) -> str:
    return f"{name}: got {type(value).__name__}; must be a mapping"


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping, {} if absent; anything else names the field."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(_not_mapping(value, name))
    return value


def _upgrade(spec: Mapping[str, Any]) -> tuple[Upgrade, list[str]]:
    problems: list[str] = []
    strategy = spec.get("upgradeStrategy") or {}
    if not isinstance(strategy, Mapping):
        problems.append(_not_mapping(strategy, "spec.upgradeStrategy"))
        strategy = {}
    kind = strategy.get("type", "NewCluster")
    mapped = {
        "NewCluster": "NewCluster",
        INCREMENTAL: INCREMENTAL,
        "None": "None",
    }.get(str(kind))
    if mapped is None:
        problems.append(
            f"spec.upgradeStrategy.type: got {kind!r}; supported: NewCluster, {INCREMENTAL}, None"
        )
    options = None
    for key in strategy:
        if key not in ("type", "clusterUpgradeOptions"):
            problems.append(f"spec.upgradeStrategy.{key}: not a field of upgradeStrategy")
    raw_options = strategy.get("clusterUpgradeOptions")
    if mapped == INCREMENTAL:
        options, found = _cluster_upgrade_options(raw_options, spec)
        problems.extend(found)
    elif raw_options is not None:
        problems.append(
            f"spec.upgradeStrategy.clusterUpgradeOptions: only used by {INCREMENTAL}, not by {kind}"
        )
    delay = spec.get("rayClusterDeletionDelaySeconds", 60)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not math.isfinite(delay)
        or delay < 0
    ):
        problems.append(
            f"spec.rayClusterDeletionDelaySeconds: got {delay!r}; must be a number of seconds >= 0"
        )
        delay = 60
    if mapped == INCREMENTAL and options is None:
        return Upgrade(drain_s=float(delay)), problems  # refused above: the reason is listed
    return (
        Upgrade(
            strategy=mapped or "NewCluster",  # type: ignore[arg-type]
            drain_s=float(delay),
            cluster_upgrade_options=options,
        ),
        problems,
    )


OPTION_FIELDS = {
    "gatewayClassName": "gateway_class_name",
    "stepSizePercent": "step_size_percent",
    "intervalSeconds": "interval_seconds",
    "maxSurgePercent": "max_surge_percent",
}


def _cluster_upgrade_options(
    raw: Any, spec: Mapping[str, Any]
) -> tuple[ClusterUpgradeOptions | None, list[str]]:
    """KubeRay's ``clusterUpgradeOptions``, checked by its rules (``utils/validation.go``)."""
    where = "spec.upgradeStrategy.clusterUpgradeOptions"
    if raw is None:
        return None, [f"{where}: required by {INCREMENTAL} (gatewayClassName, stepSizePercent, "
                      "intervalSeconds)"]  # fmt: skip
    if not isinstance(raw, Mapping):
        return None, [_not_mapping(raw, where)]
    problems = [
        f"{where}.{key}: not a field; known: {', '.join(OPTION_FIELDS)}"
        for key in raw
        if key not in OPTION_FIELDS
    ]
    cluster = spec.get("rayClusterConfig")
    if isinstance(cluster, Mapping) and cluster.get("enableInTreeAutoscaling") is not True:
        problems.append(
            f"spec.rayClusterConfig.enableInTreeAutoscaling: {INCREMENTAL} needs the Ray "
            "autoscaler (KubeRay refuses it without), so that capacity follows target_capacity"
        )
    try:
        options = ClusterUpgradeOptions(
            **{OPTION_FIELDS[k]: v for k, v in raw.items() if k in OPTION_FIELDS}
        )
    except PydanticValidationError as error:
        for e in error.errors(include_url=False):
            loc = [str(part) for part in e["loc"]]
            camel = {v: k for k, v in OPTION_FIELDS.items()}
            field = ".".join(camel.get(part, part) for part in loc)
            problems.append(f"{where}{'.' + field if field else ''}: {e['msg']}")
        return None, problems
    return (options if not problems else None), problems


def _serve_service(template: Any) -> tuple[dict[str, Any] | None, list[str]]:
    if template is None:
        return None, []
    if not isinstance(template, Mapping):
        return None, ["spec.serveService: must be a Service object"]
    problems = [
        f"spec.serveService.{key}: not supported; set metadata and spec only"
        for key in template
        if key not in ("metadata", "spec", "apiVersion", "kind")
    ]
    metadata = template.get("metadata") or {}
    service_spec = template.get("spec") or {}
    if not isinstance(metadata, Mapping):
        return None, [*problems, _not_mapping(metadata, "spec.serveService.metadata")]
    if not isinstance(service_spec, Mapping):
        return None, [*problems, _not_mapping(service_spec, "spec.serveService.spec")]
    for key in ("labels", "annotations"):
        if not isinstance(metadata.get(key) or {}, Mapping):
            problems.append(_not_mapping(metadata[key], f"spec.serveService.metadata.{key}"))
    problems += [
        f"spec.serveService.metadata.{key}: not supported; allowed: "
        + ", ".join(SERVICE_TEMPLATE_METADATA)
        for key in metadata
        if key not in SERVICE_TEMPLATE_METADATA
    ]
    for key in service_spec:
        if key == "selector":
            problems.append(
                "spec.serveService.spec.selector: the selector is the component's (it points at "
                "the active cluster); remove it"
            )
        elif key not in SERVICE_TEMPLATE_SPEC:
            problems.append(
                f"spec.serveService.spec.{key}: not supported; allowed: "
                + ", ".join(SERVICE_TEMPLATE_SPEC)
            )
    return {"metadata": dict(metadata), "spec": dict(service_spec)}, problems


def _serve_config(text: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if text is None:
        return [], None
    if not isinstance(text, str):
        raise InvalidInputError("spec.serveConfigV2: must be a YAML string (a multi-line scalar)")
    try:
        config = ServeConfig.from_yaml_text(text)
    except InvalidInputError as error:
        raise InvalidInputError(f"spec.serveConfigV2: {error}") from None
    full = config.to_serve_dict()
    refused = [k for k in full if k not in (*SERVE_OPTION_KEYS, "applications", "logging_config")]
    if refused:
        raise InvalidInputError(
            "spec.serveConfigV2: "
            + ", ".join(refused)
            + " not supported (target_capacity belongs to incremental upgrades; controller and "
            "tracing options need a Serve restart that a running cluster never gets)"
        )
    options = {k: full[k] for k in SERVE_OPTION_KEYS if k in full} or None
    logging_config = full.get("logging_config")
    applications = []
    for app in full.get("applications", []):
        if logging_config is not None and "logging_config" not in app:
            app = {**app, "logging_config": logging_config}
        applications.append(app)
    return applications, options
