"""The checks the providers run on their inputs as the Pulumi engine sends them.

Check must answer for any input: numbers arrive as floats, keys may hold None, values may be
unknown during a preview. These functions normalise that, validate with the models and return
``(normalized, failures)`` instead of raising, each failure a ``(property_path, reason)`` pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown
from pydantic import ValidationError

from pulumi_rayservice._util.normalize import canonical, contains_unknown

from ._base import brief_repr, name_problems
from .application import ServeApp
from .config import ServeConfig
from .errors import failures_of


def app_name_problems(value: Any) -> list[str]:
    """Why ``value`` cannot be a Serve application name (empty when it can)."""
    return name_problems(value, "a name")


def check_app(raw: Any, field: str = "app") -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """Validate one application as the provider's Check receives it from the Pulumi engine.

    Numbers may arrive as floats (``2.0`` for ``2``) and keys may hold None (meaning unset): both
    are normalised first. Never raises for bad input.

    Args:
        raw: The application: a mapping (or a :class:`ServeApp`).
        field: The input property holding it, the first part of every failure path.

    Returns:
        ``(serve_dict, failures)``. On success ``serve_dict`` is :meth:`ServeApp.to_serve_dict`
        and ``failures`` is empty. Otherwise ``serve_dict`` is None and each failure is
        ``(path, reason)``, e.g. path ``app.deployments[0].num_replicas`` with reason
        ``got 'three'; must be a positive integer or "auto"``. When ``raw`` still holds values
        unknown during a preview, nothing can be checked: ``(None, [])``.

    """
    if isinstance(raw, ServeApp):
        raw = raw.to_serve_dict()
    if isinstance(raw, Unknown):
        return None, []
    if not isinstance(raw, Mapping):
        return None, [
            (
                field,
                f"got {brief_repr(raw)}; must be a mapping (one entry of Serve's applications:)",
            )
        ]
    if contains_unknown(raw):
        return None, []
    try:
        app = ServeApp.model_validate(canonical(raw))
        return app.to_serve_dict(), []
    except ValidationError as exc:
        return None, failures_of(exc, ServeApp, field)
    except Exception as exc:  # Check must answer, whatever the input holds.
        return None, [(field, f"could not be validated: {type(exc).__name__}: {exc}")]


SERVE_OPTION_KEYS = ("proxy_location", "http_options", "grpc_options")
"""Cluster-level Serve settings a ServeApplication may carry: applied when Serve starts."""


def check_serve_options(
    raw: Any, field: str = "serve_options"
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """Validate cluster-level Serve settings (http_options, grpc_options, proxy_location).

    Serve applies them only when it starts on a cluster and silently ignores them afterwards, so
    the provider sends them only with the PUT that starts Serve, and refuses to pretend it changed
    them on a running Serve.

    Returns:
        ``(normalized, failures)`` in the shape of :func:`check_app`.

    """
    if isinstance(raw, Unknown):
        return None, []
    if not isinstance(raw, Mapping):
        return None, [(field, f"got {brief_repr(raw)}; must be a mapping")]
    if contains_unknown(raw):
        return None, []
    failures = [
        (f"{field}.{key}", f"unknown key {key!r}; allowed: {', '.join(SERVE_OPTION_KEYS)}")
        for key in raw
        if key not in SERVE_OPTION_KEYS
    ]
    if failures:
        return None, failures
    try:
        config = ServeConfig.model_validate({**canonical(raw), "applications": []})
    except ValidationError as exc:
        return None, failures_of(exc, ServeConfig, field)
    options = config.to_serve_dict()
    options.pop("applications", None)
    return options, []
