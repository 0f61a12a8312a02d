"""The events.k8s.io/v1 view of the core/v1 Events the stand-in operator and kubelet write.

A real API server keeps one Event store and serves it in both shapes, converting on the way out
(``Convert_core_Event_To_v1_Event``, k8s.io/kubernetes/pkg/apis/events/v1/conversion.go):
``involvedObject`` is ``regarding``, ``message`` is ``note``, ``source`` is ``deprecatedSource``,
``firstTimestamp``/``lastTimestamp``/``count`` are the ``deprecated*`` fields, and
``reportingComponent`` is ``reportingController``. Clients that moved to events.k8s.io/v1 (the
KubeRay API server from v1.7) must find the operator's Events there, so this module converts each
stored Event when it is read, and translates field selectors from the events.k8s.io spellings to
the core ones (``regarding.name`` -> ``involvedObject.name``).
"""

from __future__ import annotations

import copy
from typing import Any

from . import status
from .resources import EVENTS_V1, EVENTS_V1_FIELD_LABELS
from .selectors import split_unescaped


def to_events_v1(core: dict[str, Any]) -> dict[str, Any]:
    """A stored core/v1 Event in the events.k8s.io/v1 shape, fields in the Go struct's order.

    Zero values follow encoding/json on ``eventsv1.Event``: ``eventTime`` and the deprecated
    timestamps are ``null`` when unset (a ``metav1.Time`` struct is never omitted), ``regarding``
    and ``deprecatedSource`` are always objects, the rest is omitted when empty.
    """
    out: dict[str, Any] = {
        "kind": EVENTS_V1.kind,
        "apiVersion": EVENTS_V1.api_version,
        "metadata": copy.deepcopy(core.get("metadata") or {}),
        "eventTime": core.get("eventTime"),
    }
    series = core.get("series")
    if series:
        out["series"] = {
            "count": series.get("count", 0),
            "lastObservedTime": series.get("lastObservedTime"),
        }
    for core_key, key in (
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("action", "action"),
        ("reason", "reason"),
    ):
        if core.get(core_key):
            out[key] = core[core_key]
    out["regarding"] = copy.deepcopy(core.get("involvedObject") or {})
    if core.get("related"):
        out["related"] = copy.deepcopy(core["related"])
    if core.get("message"):
        out["note"] = core["message"]
    if core.get("type"):
        out["type"] = core["type"]
    out["deprecatedSource"] = copy.deepcopy(core.get("source") or {})
    out["deprecatedFirstTimestamp"] = core.get("firstTimestamp")
    out["deprecatedLastTimestamp"] = core.get("lastTimestamp")
    if core.get("count"):
        out["deprecatedCount"] = core["count"]
    return out


def from_events_v1(event: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event as the core/v1 Event it is stored as (for creates)."""
    if not isinstance(event, dict):
        raise status.bad_request('Event in version "v1" cannot be handled as an Event')
    if event.get("apiVersion") not in (None, EVENTS_V1.api_version):
        raise status.bad_request(
            f"the API version in the data ({event.get('apiVersion')}) does not match the "
            f"expected API version ({EVENTS_V1.api_version})"
        )
    core: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": copy.deepcopy(event.get("metadata") or {}),
        "involvedObject": copy.deepcopy(event.get("regarding") or {}),
        "reason": event.get("reason", ""),
        "message": event.get("note", ""),
        "source": copy.deepcopy(event.get("deprecatedSource") or {}),
        "type": event.get("type", ""),
        "reportingComponent": event.get("reportingController", ""),
        "reportingInstance": event.get("reportingInstance", ""),
    }
    for key, core_key in (
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("action", "action"),
        ("related", "related"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
    ):
        if event.get(key) is not None:
            core[core_key] = copy.deepcopy(event[key])
    return core


def core_field_selector(selector: str | None) -> str | None:
    """An events.k8s.io/v1 field selector in the core spellings; 400 for a label it lacks.

    Empty terms are skipped, as ``fields.ParseSelector`` does; the operator and the value of each
    term are kept as written.
    """
    if not selector or not selector.strip():
        return selector
    terms = []
    for term in split_unescaped(selector, ","):
        if not term.strip():
            continue
        for op in ("!=", "==", "="):
            if op in term:
                field, value = term.split(op, 1)
                break
        else:
            raise status.bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        mapped = EVENTS_V1_FIELD_LABELS.get(field.strip())
        if mapped is None:
            raise status.bad_request(f"field label not supported: {field.strip()}")
        escaped = value.replace("\\", "\\\\").replace(",", "\\,")
        terms.append(f"{mapped}{op}{escaped}")
    return ",".join(terms)
