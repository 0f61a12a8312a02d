"""The V1 API's protobuf messages, as descriptors the JSON codec walks.

Copied by hand from ``proto/config.proto`` and ``proto/cluster.proto`` (identical from v1.4.2 to
v1.7.0 except ``ComputeTemplate.memory_unit``, field 9, added in v1.5.0 by #3956). Field numbers
matter: protojson writes fields in number order. JSON names are protoc's (``worker_group_spec`` is
``workerGroupSpec``; ``enableInTreeAutoscaling`` stays as written).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["string", "bool", "int32", "uint32", "int64", "enum", "message", "timestamp"]


def json_name(proto_name: str) -> str:
    """protoc's ``ToJsonName``: drop each underscore and upper-case the letter after it."""
    out: list[str] = []
    upper = False
    for ch in proto_name:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class FieldDesc:
    """One field of a message.

    Attributes:
        name: The proto (text) name, also the key in decoded dicts.
        number: The field number (protojson's output order).
        kind: Scalar kind, ``message`` or ``timestamp`` (``google.protobuf.Timestamp``).
        message: The message type's name, for ``message`` fields and message-valued maps.
        repeated: A list.
        map_value: For ``map<string, V>`` fields: the value's descriptor (named ``value``).
        enum: For ``enum`` fields: value names to numbers.
        optional: Explicit presence (``optional bool``): written even when false.

    """

    name: str
    number: int
    kind: Kind
    message: str | None = None
    repeated: bool = False
    map_value: FieldDesc | None = None
    enum: dict[str, int] | None = None
    optional: bool = False

    @property
    def json_name(self) -> str:
        return json_name(self.name)

    @property
    def is_map(self) -> bool:
        return self.map_value is not None


@dataclass(frozen=True)
class MessageDesc:
    """A message type: its full name (for error texts) and fields."""

    full_name: str
    fields: tuple[FieldDesc, ...] = field(default=())

    def by_json_name(self, name: str) -> FieldDesc | None:
        return next((f for f in self.fields if f.json_name == name), None)

    def by_text_name(self, name: str) -> FieldDesc | None:
        return next((f for f in self.fields if f.name == name), None)

    def ordered(self) -> tuple[FieldDesc, ...]:
        return tuple(sorted(self.fields, key=lambda f: f.number))


def _s(name: str, number: int) -> FieldDesc:
    return FieldDesc(name, number, "string")


def _map(name: str, number: int, value: FieldDesc | None = None) -> FieldDesc:
    return FieldDesc(name, number, "message", map_value=value or FieldDesc("value", 2, "string"))


def _msg(name: str, number: int, message: str, *, repeated: bool = False) -> FieldDesc:
    return FieldDesc(name, number, "message", message=message, repeated=repeated)


ENVIRONMENTS = {"DEV": 0, "TESTING": 1, "STAGING": 2, "PRODUCTION": 3}
ENV_SOURCES = {"CONFIGMAP": 0, "SECRET": 1, "RESOURCEFIELD": 2, "FIELD": 3}
VOLUME_TYPES = {
    "PERSISTENT_VOLUME_CLAIM": 0,
    "HOST_PATH": 1,
    "EPHEMERAL": 2,
    "CONFIGMAP": 3,
    "SECRET": 4,
    "EMPTY_DIR": 5,
}
HOST_PATH_TYPES = {"DIRECTORY": 0, "FILE": 1}
PROPAGATION_MODES = {"NONE": 0, "HOSTTOCONTAINER": 1, "BIDIRECTIONAL": 2}
ACCESS_MODES = {"RWO": 0, "ROX": 1, "RWX": 2}

_MESSAGES: dict[str, MessageDesc] = {}


def _register(desc: MessageDesc) -> MessageDesc:
    _MESSAGES[desc.full_name] = desc
    return desc


POD_TOLERATION = _register(
    MessageDesc(
        "proto.PodToleration", (_s("key", 1), _s("operator", 2), _s("value", 3), _s("effect", 4))
    )
)

_TEMPLATE_FIELDS = (
    _s("name", 1),
    _s("namespace", 2),
    FieldDesc("cpu", 3, "uint32"),
    FieldDesc("memory", 4, "uint32"),
    FieldDesc("gpu", 5, "uint32"),
    _s("gpu_accelerator", 6),
    _msg("tolerations", 7, "proto.PodToleration", repeated=True),
    _map("extended_resources", 8, FieldDesc("value", 2, "uint32")),
)
COMPUTE_TEMPLATE_V1_4 = MessageDesc("proto.ComputeTemplate", _TEMPLATE_FIELDS)
COMPUTE_TEMPLATE = MessageDesc("proto.ComputeTemplate", (*_TEMPLATE_FIELDS, _s("memory_unit", 9)))


def compute_template(memory_unit: bool) -> MessageDesc:
    """The ComputeTemplate of a release: with ``memory_unit`` from v1.5.0."""
    return COMPUTE_TEMPLATE if memory_unit else COMPUTE_TEMPLATE_V1_4


_register(
    MessageDesc(
        "proto.EnvValueFrom",
        (FieldDesc("source", 1, "enum", enum=ENV_SOURCES), _s("name", 2), _s("key", 3)),
    )
)
_register(
    MessageDesc(
        "proto.EnvironmentVariables",
        (
            _map("values", 1),
            _map("valuesFrom", 2, FieldDesc("value", 2, "message", message="proto.EnvValueFrom")),
        ),
    )
)
_register(
    MessageDesc(
        "proto.Volume",
        (
            _s("mount_path", 1),
            FieldDesc("volume_type", 2, "enum", enum=VOLUME_TYPES),
            _s("name", 3),
            _s("source", 4),
            FieldDesc("read_only", 5, "bool"),
            FieldDesc("host_path_type", 6, "enum", enum=HOST_PATH_TYPES),
            FieldDesc("mount_propagation_mode", 7, "enum", enum=PROPAGATION_MODES),
            _s("storageClassName", 8),
            FieldDesc("accessMode", 9, "enum", enum=ACCESS_MODES),
            _s("storage", 10),
            _map("items", 11),
        ),
    )
)
_register(
    MessageDesc(
        "proto.AutoscalerOptions",
        (
            FieldDesc("idleTimeoutSeconds", 1, "int32"),
            _s("upscalingMode", 2),
            _s("image", 3),
            _s("imagePullPolicy", 4),
            _s("cpu", 5),
            _s("memory", 6),
            _msg("envs", 7, "proto.EnvironmentVariables"),
            _msg("volumes", 8, "proto.Volume", repeated=True),
        ),
    )
)
_register(
    MessageDesc(
        "proto.Capabilities",
        (
            FieldDesc("add", 1, "string", repeated=True),
            FieldDesc("drop", 2, "string", repeated=True),
        ),
    )
)
_register(
    MessageDesc(
        "proto.SecurityContext",
        (
            _msg("capabilities", 1, "proto.Capabilities"),
            FieldDesc("privileged", 2, "bool", optional=True),
        ),
    )
)
_register(
    MessageDesc(
        "proto.HeadGroupSpec",
        (
            _s("compute_template", 1),
            _s("image", 2),
            _s("service_type", 3),
            FieldDesc("enableIngress", 4, "bool"),
            _map("ray_start_params", 5),
            _msg("volumes", 6, "proto.Volume", repeated=True),
            _s("service_account", 7),
            _s("image_pull_secret", 8),
            _msg("environment", 9, "proto.EnvironmentVariables"),
            _map("annotations", 10),
            _map("labels", 11),
            _s("imagePullPolicy", 12),
            _msg("security_context", 13, "proto.SecurityContext"),
        ),
    )
)
_register(
    MessageDesc(
        "proto.WorkerGroupSpec",
        (
            _s("group_name", 1),
            _s("compute_template", 2),
            _s("image", 3),
            FieldDesc("replicas", 4, "int32"),
            FieldDesc("min_replicas", 5, "int32"),
            FieldDesc("max_replicas", 6, "int32"),
            _map("ray_start_params", 7),
            _msg("volumes", 8, "proto.Volume", repeated=True),
            _s("service_account", 9),
            _s("image_pull_secret", 10),
            _msg("environment", 11, "proto.EnvironmentVariables"),
            _map("annotations", 12),
            _map("labels", 13),
            _s("imagePullPolicy", 14),
            _msg("security_context", 15, "proto.SecurityContext"),
        ),
    )
)
_register(
    MessageDesc(
        "proto.ClusterSpec",
        (
            _msg("head_group_spec", 1, "proto.HeadGroupSpec"),
            _msg("worker_group_spec", 2, "proto.WorkerGroupSpec", repeated=True),
            FieldDesc("enableInTreeAutoscaling", 3, "bool"),
            _msg("autoscalerOptions", 4, "proto.AutoscalerOptions"),
            _map("headServiceAnnotations", 5),
        ),
    )
)
_register(
    MessageDesc(
        "proto.ClusterEvent",
        (
            _s("id", 1),
            _s("name", 2),
            FieldDesc("created_at", 3, "timestamp"),
            FieldDesc("first_timestamp", 4, "timestamp"),
            FieldDesc("last_timestamp", 5, "timestamp"),
            _s("reason", 6),
            _s("message", 7),
            _s("type", 8),
            FieldDesc("count", 9, "int32"),
        ),
    )
)
CLUSTER = _register(
    MessageDesc(
        "proto.Cluster",
        (
            _s("name", 1),
            _s("namespace", 2),
            _s("user", 3),
            _s("version", 4),
            FieldDesc("environment", 5, "enum", enum=ENVIRONMENTS),
            _msg("cluster_spec", 6, "proto.ClusterSpec"),
            _map("annotations", 7),
            _msg("envs", 8, "proto.EnvironmentVariables"),
            FieldDesc("created_at", 9, "timestamp"),
            FieldDesc("deleted_at", 10, "timestamp"),
            _s("cluster_state", 11),
            _msg("events", 12, "proto.ClusterEvent", repeated=True),
            _map("service_endpoint", 13),
        ),
    )
)
LIST_CLUSTERS = MessageDesc(
    "proto.ListClustersResponse",
    (_msg("clusters", 1, "proto.Cluster", repeated=True), _s("continue", 2)),
)
LIST_TEMPLATES = MessageDesc(
    "proto.ListComputeTemplatesResponse",
    (_msg("compute_templates", 1, "proto.ComputeTemplate", repeated=True),),
)
EMPTY = MessageDesc("google.protobuf.Empty")
STATUS = MessageDesc("google.rpc.Status", (FieldDesc("code", 1, "int32"), _s("message", 2)))


def message(full_name: str, *, memory_unit: bool = True) -> MessageDesc:
    """A registered message by full name (``proto.ComputeTemplate`` of the release asked)."""
    if full_name == "proto.ComputeTemplate":
        return compute_template(memory_unit)
    return _MESSAGES[full_name]
