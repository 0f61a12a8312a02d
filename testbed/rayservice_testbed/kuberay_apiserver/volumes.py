"""V1 volumes: ``buildVols``/``buildVolumeMounts`` on the way in, ``PopulateVolumes`` back.

From ``apiserver/pkg/util/cluster.go`` and ``apiserver/pkg/model/volumes.go``, quirks kept: a host
path volume reads back with ``volume_type`` 1 (the propagation enum's ``HOSTTOCONTAINER``,
which happens to equal ``HOST_PATH``); a Secret volume with items reads back through the ConfigMap
source it does not have (a nil dereference: the real server panics, :class:`GoPanic`); a volume
without a mount panics the same way.
"""

from __future__ import annotations

from typing import Any

from . import quantity
from .errors import GoPanic, errorf
from .messages import ACCESS_MODES, HOST_PATH_TYPES, PROPAGATION_MODES, VOLUME_TYPES

_PROPAGATION = {1: "HostToContainer", 2: "Bidirectional"}
_ACCESS = {0: "ReadWriteOnce", 1: "ReadOnlyMany", 2: "ReadWriteMany"}


def mounts(volumes: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """``buildVolumeMounts``: one mount per volume, whatever its type (None when none)."""
    out = []
    for volume in volumes:
        mount: dict[str, Any] = {"name": volume.get("name", "")}
        if volume.get("read_only"):
            mount["readOnly"] = True
        mount["mountPath"] = volume.get("mount_path", "")
        propagation = _PROPAGATION.get(volume.get("mount_propagation_mode", 0))
        if propagation:
            mount["mountPropagation"] = propagation
        out.append(mount)
    return out or None


def _items(volume: dict[str, Any]) -> list[dict[str, str]] | None:
    items = volume.get("items") or {}
    return [{"key": k, "path": items[k]} for k in sorted(items)] or None


def pod_volumes(volumes: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """``buildVols``: the pod's volumes (None when none).

    Raises:
        GoError: A missing or unparsable storage size (V1 answers 400 with it).

    """
    out: list[dict[str, Any]] = []
    for volume in volumes:
        kind = volume.get("volume_type", 0)
        name = volume.get("name", "")
        source = volume.get("source", "")
        if kind == VOLUME_TYPES["CONFIGMAP"]:
            config_map: dict[str, Any] = {"name": source}
            if _items(volume):
                config_map["items"] = _items(volume)
            out.append({"name": name, "configMap": config_map})
        elif kind == VOLUME_TYPES["SECRET"]:
            secret: dict[str, Any] = {"secretName": source}
            if _items(volume):
                secret["items"] = _items(volume)
            out.append({"name": name, "secret": secret})
        elif kind == VOLUME_TYPES["EMPTY_DIR"]:
            empty_dir: dict[str, Any] = {}
            storage = volume.get("storage", "")
            if storage:
                if quantity.parse(storage) is None:
                    raise errorf("storage for empty dir volume is not specified correctly")
                empty_dir["sizeLimit"] = quantity.canonical(storage)
            out.append({"name": name, "emptyDir": empty_dir})
        elif kind == VOLUME_TYPES["HOST_PATH"]:
            file = volume.get("host_path_type", 0) == HOST_PATH_TYPES["FILE"]
            path = {"path": source, "type": "File" if file else "Directory"}
            out.append({"name": name, "hostPath": path})
        elif kind == VOLUME_TYPES["PERSISTENT_VOLUME_CLAIM"]:
            claim: dict[str, Any] = {"claimName": source}
            if volume.get("read_only"):
                claim["readOnly"] = True
            out.append({"name": name, "persistentVolumeClaim": claim})
        elif kind == VOLUME_TYPES["EPHEMERAL"]:
            out.append({"name": name, "ephemeral": _ephemeral(volume)})
    return out or None


def _ephemeral(volume: dict[str, Any]) -> dict[str, Any]:
    storage = volume.get("storage", "")
    if not storage:
        raise errorf("storage for ephemeral volume is empty")
    if quantity.parse(storage) is None:
        raise errorf("storage for ephemeral volume is not specified correctly")
    spec: dict[str, Any] = {
        "accessModes": [_ACCESS.get(volume.get("accessMode", 0), "ReadWriteOnce")],
        "resources": {"requests": {"storage": quantity.canonical(storage)}},
    }
    if volume.get("storageClassName"):
        spec["storageClassName"] = volume["storageClassName"]
    return {
        "volumeClaimTemplate": {
            "metadata": {
                "creationTimestamp": None,
                "labels": {"app.kubernetes.io/managed-by": "kuberay-apiserver"},
            },
            "spec": spec,
        }
    }


def _mount(template: dict[str, Any], name: str) -> dict[str, Any]:
    for container in (template.get("spec") or {}).get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") == name:
                return dict(mount)
    raise GoPanic(f"volume {name} has no mount: nil pointer dereference in PopulateVolumes")


def _propagation(mount: dict[str, Any]) -> int:
    value = mount.get("mountPropagation")
    if value == "HostToContainer":
        return PROPAGATION_MODES["HOSTTOCONTAINER"]
    if value == "Bidirectional":
        return PROPAGATION_MODES["BIDIRECTIONAL"]
    return PROPAGATION_MODES["NONE"]


def read_back(template: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``PopulateVolumes``: a pod template's volumes as V1 ``Volume`` messages.

    Raises:
        GoPanic: Where the real converter dereferences nil.

    """
    out: list[dict[str, Any]] = []
    for volume in (template.get("spec") or {}).get("volumes") or []:
        name = volume.get("name", "")
        if volume.get("configMap") is not None:
            mount = _mount(template, name)
            entry = {
                "name": name,
                "mount_path": mount.get("mountPath", ""),
                "volume_type": VOLUME_TYPES["CONFIGMAP"],
                "source": volume["configMap"].get("name", ""),
            }
            items = volume["configMap"].get("items") or []
            if items:
                entry["items"] = {i.get("key", ""): i.get("path", "") for i in items}
            out.append(entry)
        elif volume.get("secret") is not None:
            mount = _mount(template, name)
            if volume["secret"].get("items"):
                raise GoPanic("Secret volume with items: nil pointer dereference (vol.ConfigMap)")
            out.append(
                {
                    "name": name,
                    "mount_path": mount.get("mountPath", ""),
                    "volume_type": VOLUME_TYPES["SECRET"],
                    "source": volume["secret"].get("secretName", ""),
                }
            )
        elif volume.get("emptyDir") is not None:
            mount = _mount(template, name)
            entry = {
                "name": name,
                "mount_path": mount.get("mountPath", ""),
                "volume_type": VOLUME_TYPES["EMPTY_DIR"],
            }
            if volume["emptyDir"].get("sizeLimit") is not None:
                entry["storage"] = quantity.canonical(str(volume["emptyDir"]["sizeLimit"]))
            out.append(entry)
        elif volume.get("hostPath") is not None:
            mount = _mount(template, name)
            host_type = volume["hostPath"].get("type")
            out.append(
                {
                    "name": name,
                    "mount_path": mount.get("mountPath", ""),
                    "source": volume["hostPath"].get("path", ""),
                    "mount_propagation_mode": _propagation(mount),
                    "volume_type": PROPAGATION_MODES["HOSTTOCONTAINER"],
                    "host_path_type": HOST_PATH_TYPES[
                        "FILE" if host_type == "File" else "DIRECTORY"
                    ],
                }
            )
        elif volume.get("persistentVolumeClaim") is not None:
            mount = _mount(template, name)
            claim = volume["persistentVolumeClaim"]
            out.append(
                {
                    "name": name,
                    "mount_path": mount.get("mountPath", ""),
                    "mount_propagation_mode": _propagation(mount),
                    "volume_type": VOLUME_TYPES["PERSISTENT_VOLUME_CLAIM"],
                    "source": claim.get("claimName", ""),
                    "read_only": bool(claim.get("readOnly")),
                }
            )
        elif volume.get("ephemeral") is not None:
            mount = _mount(template, name)
            claim_template = volume["ephemeral"].get("volumeClaimTemplate") or {}
            spec = claim_template.get("spec") or {}
            modes = spec.get("accessModes") or []
            access = {"ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}.get(
                modes[0] if modes else "", "RWO"
            )
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
            entry = {
                "name": name,
                "mount_path": mount.get("mountPath", ""),
                "mount_propagation_mode": _propagation(mount),
                "volume_type": VOLUME_TYPES["EPHEMERAL"],
                "accessMode": ACCESS_MODES[access],
                "storage": quantity.canonical(str(storage)),
            }
            if spec.get("storageClassName") is not None:
                entry["storageClassName"] = spec["storageClassName"]
            out.append(entry)
    return out or None
