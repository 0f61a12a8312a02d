"""The GCS Redis password: taken out of a RayCluster spec, and put back in, here and nowhere else.

A literal ``gcsFaultToleranceOptions.redisPassword.value`` would sit in plain state and previews
inside the ``spec`` input. So the resource moves it into its own secret input (``redis_password``)
with :func:`split`, the provider validates and sends the spec with it put back (:func:`join`), and
the spec read from the cluster is split again before it is compared or stored. A
``valueFrom.secretKeyRef`` reference is no secret and stays in the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["GCS_OPTIONS", "PASSWORD", "join", "split"]

GCS_OPTIONS = "gcsFaultToleranceOptions"
PASSWORD = "redisPassword"


def split(spec: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """The spec without a literal Redis password, and that password (None when there is none).

    ``spec`` is not changed. The password is returned as found: in a program it may be an Output.
    """
    gcs = spec.get(GCS_OPTIONS)
    if not isinstance(gcs, Mapping):
        return dict(spec), None
    password = gcs.get(PASSWORD)
    if not isinstance(password, Mapping) or "value" not in password:
        return dict(spec), None
    rest = {key: value for key, value in gcs.items() if key != PASSWORD}
    return {**spec, GCS_OPTIONS: rest}, password["value"]


def join(spec: Mapping[str, Any], password: str | None) -> dict[str, Any]:
    """The spec as it is sent to Kubernetes: with ``password`` as the literal Redis password.

    Without a password, or with a ``gcsFaultToleranceOptions`` that is not a mapping (the CRD
    schema's to report), the spec is returned as given. ``spec`` is not changed.
    """
    gcs = spec.get(GCS_OPTIONS)
    if not password or (gcs is not None and not isinstance(gcs, Mapping)):
        return dict(spec)
    return {**spec, GCS_OPTIONS: {**(gcs or {}), PASSWORD: {"value": str(password)}}}
