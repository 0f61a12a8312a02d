"""Pydantic models of one Ray Serve application, checked before anything reaches a cluster.

Serve's REST API (``PUT /api/serve/applications/``) silently drops keys it does not know (a typo
such as ``num_replica: 2`` is a 200 that changes nothing), and it accepts several configs that only
fail seconds into the deploy (a route prefix without a leading ``/``, a local ``working_dir``,
resources Ray refuses when it builds a replica). These models mirror Ray Serve's own schema
(``ray.serve.schema.ServeApplicationSchema``, ``DeploymentSchema`` and the configs they hold, as of
Ray 2.60), field for field and in Serve's snake_case names, but forbid unknown keys everywhere and
reject those late failures up front, so ``pulumi preview`` names the field that is wrong.

Every optional field defaults to None and only what the user set is sent
(:meth:`ServeApp.to_serve_dict`): Serve applies its own defaults, and the ``deployed_app_config``
read back for drift detection holds only what was sent. Ray itself is not imported: a user's Pulumi
virtualenv must not need it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from pulumi_rayservice._util.normalize import canonical, contains_unknown
from pulumi_rayservice.errors import ValidationError

__all__ = [
    "AutoscalingConfig",
    "LoggingConfig",
    "RayActorOptions",
    "ServeApp",
    "ServeConfig",
    "ServeDeployment",
    "check_app",
    "check_serve_options",
]

# Error type of the failures raised by our own rules. Their context carries the full reason and,
# under "loc", the sub-field they concern (a model validator can only fail on the whole model).
_RULE = "serve_config"


def _rule(reason: str, *loc: str | int) -> PydanticCustomError:
    return PydanticCustomError(_RULE, "{reason}", {"reason": reason, "loc": loc})


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _num(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Types ---------------------------------------------------------------------------------------


def _integral(value: Any) -> Any:
    # The Pulumi engine sends every number as a float: 2 arrives as 2.0. A fractional part, a bool
    # or a string is a mistake, not something to coerce.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _rule(f"got {_show(value)}; must be an integer")
    return value


_Int = Annotated[int, BeforeValidator(_integral)]
# Strict: "0.5" (a string) or true is refused instead of read as a number. Infinity and NaN cannot
# be sent as JSON at all.
_Float = Annotated[float, Strict(), AllowInfNan(False)]
_NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


def _num_replicas(value: Any) -> Any:
    if isinstance(value, str) and value == "auto":
        return value
    value = _num(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _rule(f'got {_show(value)}; must be a positive integer or "auto"')


_NumReplicas = Annotated[int | Literal["auto"], BeforeValidator(_num_replicas)]

# Ray's LoggingConfig checks levels against the logging module's private tables; these are their
# contents (the standard levels, which never change).
_LOG_LEVELS: dict[int, str] = {
    50: "CRITICAL",
    40: "ERROR",
    30: "WARNING",
    20: "INFO",
    10: "DEBUG",
    0: "NOTSET",
}
_LOG_LEVEL_NAMES = ("CRITICAL", "FATAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "NOTSET")
# ray._common.logging_constants.LOGRECORD_STANDARD_ATTRS
_LOGRECORD_STANDARD_ATTRS = frozenset(
    {
        "args",
        "asctime",
        "created",
        "exc_info",
        "exc_text",
        "filename",
        "funcName",
        "levelname",
        "levelno",
        "lineno",
        "message",
        "module",
        "msecs",
        "msg",
        "name",
        "pathname",
        "process",
        "processName",
        "relativeCreated",
        "stack_info",
        "thread",
        "threadName",
        "taskName",
    }
)


def _log_level(value: Any) -> Any:
    value = _num(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value in _LOG_LEVELS:
            return value
        raise _rule(f"got {_show(value)}; must be one of {sorted(_LOG_LEVELS)}")
    if isinstance(value, str) and value in _LOG_LEVEL_NAMES:
        return value
    raise _rule(f"got {_show(value)}; must be one of {', '.join(_LOG_LEVEL_NAMES)}")


_LogLevel = Annotated[int | str, BeforeValidator(_log_level)]

# What ray._common.runtime_env_uri.parse_uri accepts in working_dir and py_modules.
_URI_SCHEMES = frozenset(
    {"gcs", "conda", "pip", "uv", "http", "https", "s3", "gs", "azure", "abfss", "file", "local"}
)
_WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")
_URI_RULE = (
    "must be a URI Ray can fetch on every node, e.g. https://host/app.zip, s3://bucket/app.zip, "
    "gs://bucket/app.zip or file:///path/app.zip (Serve cannot upload a local directory), or "
    "local:///abs/path for a directory already present on every node"
)


def _uri_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string URI"
    scheme, sep, rest = value.partition("://")
    if not sep or not rest or scheme.lower() not in _URI_SCHEMES:
        return _URI_RULE
    if scheme.lower() == "local":
        path = rest[1:] if rest.startswith("/") and _WINDOWS_DRIVE.match(rest[1:]) else rest
        if not (path.startswith("/") or _WINDOWS_DRIVE.match(path)):
            return "a local:// URI must hold an absolute path, e.g. local:///path/in/image"
    return None


def _check_runtime_env(env: dict[str, Any] | None) -> dict[str, Any] | None:
    """Apply Serve's rule on working_dir and py_modules, and Ray's on env_vars."""
    if env is None:
        return env
    working_dir = env.get("working_dir")
    if working_dir is not None:
        problem = _uri_problem(working_dir)
        if problem:
            raise _rule(f"got {_show(working_dir)}; {problem}", "working_dir")
    modules = env.get("py_modules")
    if modules is not None:
        if not isinstance(modules, list):
            raise _rule(f"got {_show(modules)}; must be a list of URIs", "py_modules")
        for index, module in enumerate(modules):
            problem = _uri_problem(module)
            if problem:
                raise _rule(f"got {_show(module)}; {problem}", "py_modules", index)
    env_vars = env.get("env_vars")
    if env_vars is not None:
        if not isinstance(env_vars, dict):
            raise _rule(f"got {_show(env_vars)}; must be a mapping of strings", "env_vars")
        for key, val in env_vars.items():
            if not isinstance(val, str):
                raise _rule(
                    f"got {_show(val)}; environment variable values must be strings (quote it)",
                    "env_vars",
                    key,
                )
    return env


def _quantity_problem(value: float) -> str | None:
    # ray._common.ray_option_utils._validate_resource_quantity: Ray counts in 1/10000 units.
    if value != 0 and int(value * 10000) == 0:
        return f"got {_show(value)}; a fractional resource quantity cannot go below 0.0001"
    return None


def _check_route_prefix(value: str | None) -> str | None:
    if value is None:
        return value
    if not value.startswith("/"):
        raise _rule(f'got {_show(value)}; a route prefix must start with "/"')
    if len(value) > 1 and value.endswith("/"):
        raise _rule(f'got {_show(value)}; a route prefix cannot end with "/" unless it is just "/"')
    if "{" in value or "}" in value:
        raise _rule(f'got {_show(value)}; a route prefix cannot contain wildcards ("{{" or "}}")')
    return value


def _check_import_path(value: str) -> str:
    # ServeApplicationSchema.import_path_format_valid
    if ":" in value:
        if value.count(":") > 1:
            raise _rule(f"got {_show(value)}; an import path may have at most one colon")
        if value.startswith(":") or value.endswith(":"):
            raise _rule(f"got {_show(value)}; an import path may not start or end with a colon")
        return value
    if "." not in value:
        raise _rule(
            f"got {_show(value)}; must be module.attribute or module:attribute (a "
            '"." or ":" separating the module from the application), e.g. "fruit.deployment_graph"'
        )
    if value.startswith(".") or value.endswith("."):
        raise _rule(f"got {_show(value)}; an import path may not start or end with a dot")
    return value


class _Model(BaseModel):
    # Serve drops unknown keys without a word: refuse them so a typo fails at preview.
    model_config = ConfigDict(extra="forbid")


# Sub-models ----------------------------------------------------------------------------------


class LoggingConfig(_Model):
    """Logging of an application or deployment (Ray's ``ray.serve.schema.LoggingConfig``).

    Unset fields keep Serve's defaults (``TEXT`` encoding, ``INFO`` level, access log on).
    """

    encoding: Literal["TEXT", "JSON"] | None = Field(
        default=None, description="Encoding of the Serve logs: 'TEXT' (Serve's default) or 'JSON'."
    )
    log_level: _LogLevel | None = Field(
        default=None,
        description="Log level: a name such as 'INFO' or 'DEBUG', or its number (20, 10, ...).",
    )
    logs_dir: str | None = Field(
        default=None,
        description="Directory for the logs (Serve's default: /tmp/ray/session_latest/logs/serve).",
    )
    enable_access_log: StrictBool | None = Field(
        default=None, description="Whether to log each request (Serve's default: true)."
    )
    additional_log_standard_attrs: list[str] | None = Field(
        default=None,
        description="Standard Python LogRecord attributes added to every record (e.g. 'name').",
    )

    @field_validator("additional_log_standard_attrs")
    @classmethod
    def _known_attrs(cls, value: list[str] | None) -> list[str] | None:
        for index, attr in enumerate(value or []):
            if attr not in _LOGRECORD_STANDARD_ATTRS:
                raise _rule(
                    f"got {_show(attr)}; must be a standard LogRecord attribute: "
                    f"{', '.join(sorted(_LOGRECORD_STANDARD_ATTRS))}",
                    index,
                )
        return value


class AutoscalingPolicy(_Model):
    """A custom autoscaling policy (Ray's ``ray.serve.config.AutoscalingPolicy``)."""

    policy_function: _NonEmptyStr | None = Field(
        default=None,
        description="Import path of the policy, 'module.path:function_name'; Serve's default is "
        "its request-based policy.",
    )
    policy_kwargs: dict[str, Any] | None = Field(
        default=None,
        description="Keyword arguments passed to the policy class constructor (JSON values).",
    )


class AutoscalingConfig(_Model):
    """Autoscaling of one deployment (Ray's ``ray.serve.config.AutoscalingConfig``).

    Serve fills unset fields with its defaults: ``min_replicas`` 1 and ``max_replicas`` 1 (100 when
    the deployment sets ``num_replicas: auto``); the bounds are checked against those defaults by
    :class:`ServeDeployment`.
    """

    min_replicas: _Int | None = Field(
        default=None, ge=0, description="Fewest replicas; 0 allows scaling to zero (default 1)."
    )
    initial_replicas: _Int | None = Field(
        default=None,
        ge=0,
        description="Replicas started on first deploy; defaults to min_replicas.",
    )
    max_replicas: _Int | None = Field(
        default=None, gt=0, description="Most replicas; must be >= min_replicas (default 1)."
    )
    target_ongoing_requests: _Float | None = Field(
        default=None,
        gt=0,
        description="Target of requests processed and queued per replica (default 2).",
    )
    metrics_interval_s: _Float | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] How often to scrape for metrics."
    )
    look_back_period_s: _Float | None = Field(
        default=None, gt=0, description="Time window to average metrics over (default 30 s)."
    )
    smoothing_factor: _Float | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] Smoothing of scaling decisions."
    )
    upscale_smoothing_factor: _Float | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] Use upscaling_factor."
    )
    downscale_smoothing_factor: _Float | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] Use downscaling_factor."
    )
    upscaling_factor: _Float | None = Field(
        default=None, gt=0, description='Multiplicative "gain" limiting upscaling decisions.'
    )
    downscaling_factor: _Float | None = Field(
        default=None, gt=0, description='Multiplicative "gain" limiting downscaling decisions.'
    )
    downscale_delay_s: _Float | None = Field(
        default=None, ge=0, description="Wait before scaling down to a value above 0 (600 s)."
    )
    downscale_to_zero_delay_s: _Float | None = Field(
        default=None,
        ge=0,
        description="Wait before scaling down from 1 to 0; defaults to downscale_delay_s.",
    )
    upscale_delay_s: _Float | None = Field(
        default=None, ge=0, description="Wait before scaling up (default 30 s)."
    )
    aggregation_function: str | None = Field(
        default=None,
        description="How metrics are aggregated over the window: 'mean' (default), 'max', 'min'.",
    )
    policy: AutoscalingPolicy | None = Field(
        default=None, description="The deployment's autoscaling policy."
    )

    @field_validator("aggregation_function")
    @classmethod
    def _aggregation(cls, value: str | None) -> str | None:
        # Ray lower-cases the name before matching it.
        if value is not None and value.lower() not in ("mean", "max", "min"):
            raise _rule(f"got {_show(value)}; must be 'mean', 'max' or 'min'")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        # Only what is set here; the defaults depend on num_replicas (see ServeDeployment).
        _check_bounds(self, None, None)
        return self


def _check_bounds(
    config: AutoscalingConfig,
    default_min: int | None,
    default_max: int | None,
    *loc: str,
) -> None:
    """Check min_replicas <= initial_replicas <= max_replicas, unset ones at their defaults.

    A default of None skips the comparisons that involve that unset bound.
    """

    def bound(field: str, default: int | None) -> tuple[int | None, str]:
        value = getattr(config, field)
        if value is None and default is not None:
            return default, f"{field} {default} (Serve's default)"
        return value, f"{field} {value}"

    low, low_text = bound("min_replicas", default_min)
    high, high_text = bound("max_replicas", default_max)
    initial = config.initial_replicas
    if low is not None and high is not None and high < low:
        field = "max_replicas" if config.max_replicas is not None else "min_replicas"
        raise _rule(f"got {high_text} and {low_text}; max must be >= min", *loc, field)
    if initial is not None and low is not None and initial < low:
        raise _rule(
            f"got initial_replicas {initial}; must be >= {low_text}", *loc, "initial_replicas"
        )
    if initial is not None and high is not None and initial > high:
        raise _rule(
            f"got initial_replicas {initial}; must be <= {high_text}", *loc, "initial_replicas"
        )


class RayActorOptions(_Model):
    """Options each replica actor starts with (Ray's ``RayActorOptionsSchema``).

    Ray's schema silently drops keys it does not know here (``num_cpu: 1`` would run with the
    default one CPU); this model refuses them.
    """

    runtime_env: dict[str, Any] | None = Field(
        default=None,
        description="The replica's runtime_env, merged over the application's. working_dir and "
        "py_modules must be remote URIs or local:// URIs.",
    )
    num_cpus: _Float | None = Field(
        default=None, ge=0, description="CPUs reserved per replica (Serve's default: 1)."
    )
    num_gpus: _Float | None = Field(default=None, ge=0, description="GPUs reserved per replica.")
    memory: _Float | None = Field(
        default=None, ge=0, description="Heap memory reserved per replica, in bytes."
    )
    resources: dict[str, Annotated[_Float, Field(ge=0)]] | None = Field(
        default=None,
        description="Custom resources per replica; CPU and GPU go in num_cpus and num_gpus.",
    )
    accelerator_type: str | None = Field(
        default=None, description="Run replicas only on nodes with this accelerator type."
    )
    label_selector: dict[str, str] | None = Field(
        default=None, description="Run replicas only on nodes with these labels."
    )
    fallback_strategy: list[dict[str, Any]] | None = Field(
        default=None,
        description="Soft constraints: decorator options to fall back on when scheduling.",
    )

    @field_validator("runtime_env")
    @classmethod
    def _runtime_env(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_runtime_env(value)

    @field_validator("num_cpus", "num_gpus", "memory")
    @classmethod
    def _precision(cls, value: float | None) -> float | None:
        problem = None if value is None else _quantity_problem(value)
        if problem:
            raise _rule(problem)
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name, quantity in (value or {}).items():
            if name in ("CPU", "GPU"):
                raise _rule(
                    f"got resource {name!r}; set num_cpus / num_gpus instead of CPU / GPU in "
                    "resources",
                    name,
                )
            problem = _quantity_problem(quantity)
            if problem:
                raise _rule(problem, name)
        return value


class BackpressureConfig(_Model):
    """The HTTP answer to requests refused by ``max_queued_requests`` (Ray's BackpressureConfig)."""

    status_code: Annotated[Literal[503, 429], BeforeValidator(_num)] | None = Field(
        default=None, description="503 (Serve's default) or 429."
    )
    retry_after_s: _Float | None = Field(
        default=None, ge=0, description="If set, a Retry-After header with this many seconds."
    )


class RequestRouterConfig(_Model):
    """How requests are routed to replicas (Ray's ``ray.serve.config.RequestRouterConfig``)."""

    request_router_class: _NonEmptyStr | None = Field(
        default=None,
        description="Import path of the request router class; Serve's default is its "
        "power-of-two-choices router.",
    )
    request_router_kwargs: dict[str, Any] | None = Field(
        default=None, description="Keyword arguments for the router's initialize_state."
    )
    request_routing_stats_period_s: _Float | None = Field(
        default=None, gt=0, description="Interval between routing-stats calls (default 10 s)."
    )
    request_routing_stats_timeout_s: _Float | None = Field(
        default=None, gt=0, description="Timeout of a routing-stats call (default 30 s)."
    )
    initial_backoff_s: _Float | None = Field(
        default=None, gt=0, description="First backoff before retrying to route (0.025 s)."
    )
    backoff_multiplier: _Float | None = Field(
        default=None, gt=0, description="Backoff growth per retry (default 2)."
    )
    max_backoff_s: _Float | None = Field(
        default=None, gt=0, description="Longest backoff between retries (default 0.5 s)."
    )


class GangSchedulingConfig(_Model):
    """Groups of replicas scheduled together (Ray's ``ray.serve.config.GangSchedulingConfig``)."""

    gang_size: _Int = Field(ge=1, description="Replicas per gang; num_replicas must be a multiple.")
    gang_placement_strategy: Literal["PACK", "SPREAD"] | None = Field(
        default=None, description="Placement within a gang: 'PACK' (default) or 'SPREAD'."
    )
    runtime_failure_policy: Literal["RESTART_GANG", "RESTART_REPLICA"] | None = Field(
        default=None,
        description="On a replica failure: 'RESTART_GANG' (the only one Ray 2.60 implements).",
    )

    @field_validator("runtime_failure_policy")
    @classmethod
    def _implemented(cls, value: str | None) -> str | None:
        if value == "RESTART_REPLICA":
            raise _rule(
                "got 'RESTART_REPLICA'; not implemented by Ray Serve, only 'RESTART_GANG' is"
            )
        return value


class DeploymentActorConfig(_Model):
    """A deployment-scoped actor shared by all replicas (Ray's DeploymentActorConfig)."""

    name: _NonEmptyStr = Field(description="Name of the actor, unique within the deployment.")
    actor_class: _NonEmptyStr = Field(
        description="Import path of the actor class, e.g. 'my_module:PrefixTreeActor'."
    )
    init_args: list[Any] | None = Field(
        default=None, description="Positional arguments of the constructor."
    )
    init_kwargs: dict[str, Any] | None = Field(
        default=None, description="Keyword arguments of the constructor."
    )
    actor_options: dict[str, Any] | None = Field(
        default=None, description="Ray actor options (num_cpus, runtime_env, ...)."
    )


# Deployment ----------------------------------------------------------------------------------


class ServeDeployment(_Model):
    """Overrides for one deployment of an application (Ray's ``DeploymentSchema``).

    An entry of the application's ``deployments:`` list: only ``name`` is required; every other
    option overrides the value set in the application's code. Cross-field rules follow Ray's
    schema and the checks Serve runs when it builds the replicas.
    """

    name: _NonEmptyStr = Field(description="Name of the deployment in the application's code.")
    num_replicas: _NumReplicas | None = Field(
        default=None,
        description='Number of replicas, or "auto" for Serve\'s default autoscaling. Cannot be a '
        "number together with autoscaling_config.",
    )
    max_ongoing_requests: _Int | None = Field(
        default=None, gt=0, description="Most requests sent in parallel to each replica."
    )
    max_queued_requests: _Int | None = Field(
        default=None,
        description="Most requests queued at each caller; -1 (Serve's default) for no limit.",
    )
    backpressure_config: BackpressureConfig | None = Field(
        default=None, description="HTTP answer to requests refused by max_queued_requests."
    )
    user_config: dict[str, Any] | None = Field(
        default=None,
        description="Passed to the deployment's reconfigure(); updated without restarting.",
    )
    autoscaling_config: AutoscalingConfig | None = Field(
        default=None,
        description="Autoscaling parameters; replaces num_replicas (or use num_replicas: auto).",
    )
    graceful_shutdown_wait_loop_s: _Float | None = Field(
        default=None, ge=0, description="How long a stopping replica waits for work to drain."
    )
    graceful_shutdown_timeout_s: _Float | None = Field(
        default=None, ge=0, description="How long before a stopping replica is killed."
    )
    health_check_period_s: _Float | None = Field(
        default=None, gt=0, description="Interval between health checks of each replica."
    )
    health_check_timeout_s: _Float | None = Field(
        default=None, gt=0, description="Time a health check may take before it fails."
    )
    ray_actor_options: RayActorOptions | None = Field(
        default=None, description="Options each replica actor starts with."
    )
    placement_group_bundles: list[dict[str, Annotated[_Float, Field(ge=0)]]] | None = Field(
        default=None,
        min_length=1,
        description="Placement group bundles reserved for each replica; the replica runs in the "
        "first, so ray_actor_options resources must fit in it.",
    )
    placement_group_strategy: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] | None = (
        Field(default=None, description="Strategy of the replica placement group (default PACK).")
    )
    placement_group_bundle_label_selector: list[dict[str, str]] | None = Field(
        default=None,
        description="Label selectors per bundle: one for all bundles, or one per bundle.",
    )
    max_replicas_per_node: _Int | None = Field(
        default=None, ge=1, le=100, description="Most replicas of this deployment on one node."
    )
    logging_config: LoggingConfig | None = Field(
        default=None, description="Logging of this deployment."
    )
    request_router_config: RequestRouterConfig | None = Field(
        default=None, description="How requests are routed to the replicas."
    )
    gang_scheduling_config: GangSchedulingConfig | None = Field(
        default=None, description="Schedule groups of replicas together."
    )
    deployment_actors: list[DeploymentActorConfig] | None = Field(
        default=None, description="Actors shared by all replicas, managed by the controller."
    )
    rolling_update_percentage: _Float | None = Field(
        default=None, gt=0, le=1, description="Fraction of replicas updated at a time, in (0, 1]."
    )
    max_surge_percent: _Int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Extra replicas allowed during a rolling restart, percent of the target.",
    )

    @field_validator("max_queued_requests")
    @classmethod
    def _queue_limit(cls, value: int | None) -> int | None:
        if value is not None and value < 1 and value != -1:
            raise _rule(f"got {value}; must be -1 (no limit) or a positive integer")
        return value

    @field_validator("placement_group_bundles")
    @classmethod
    def _bundles(cls, value: list[dict[str, float]] | None) -> list[dict[str, float]] | None:
        for index, bundle in enumerate(value or []):
            if not any(bundle.values()):
                raise _rule(
                    f"got {_show(bundle)}; a bundle needs at least one resource above 0", index
                )
        return value

    @model_validator(mode="after")
    def _replicas(self) -> ServeDeployment:
        autoscaling = self.autoscaling_config
        if isinstance(self.num_replicas, int) and autoscaling is not None:
            raise _rule(
                f"got num_replicas {self.num_replicas} together with autoscaling_config; set "
                'one of them (or num_replicas: "auto" with autoscaling_config)',
                "num_replicas",
            )
        if autoscaling is not None:
            # Serve builds AutoscalingConfig from these values alone, over its defaults.
            auto = self.num_replicas == "auto"
            _check_bounds(autoscaling, 1, 100 if auto else 1, "autoscaling_config")
        return self

    @model_validator(mode="after")
    def _placement(self) -> ServeDeployment:
        bundles = self.placement_group_bundles
        if self.max_replicas_per_node is not None and bundles is not None:
            raise _rule(
                f"got max_replicas_per_node {self.max_replicas_per_node} together with "
                "placement_group_bundles; Serve allows only one of them",
                "max_replicas_per_node",
            )
        selectors = self.placement_group_bundle_label_selector
        if selectors is not None:
            if bundles is None:
                raise _rule(
                    "got placement_group_bundle_label_selector without placement_group_bundles; "
                    "a selector needs bundles",
                    "placement_group_bundle_label_selector",
                )
            if len(selectors) not in (1, len(bundles)):
                raise _rule(
                    f"got {len(selectors)} selectors for {len(bundles)} bundles; give one "
                    "selector for all bundles or one per bundle",
                    "placement_group_bundle_label_selector",
                )
        return self

    @model_validator(mode="after")
    def _gang(self) -> ServeDeployment:
        gang = self.gang_scheduling_config
        if gang is None:
            return self
        size = gang.gang_size
        if self.num_replicas == "auto" and self.autoscaling_config is not None:
            for field in ("min_replicas", "max_replicas", "initial_replicas"):
                value = getattr(self.autoscaling_config, field)
                if value is not None and value % size:
                    raise _rule(
                        f"got {field} {value}; must be a multiple of gang_size ({size})",
                        "autoscaling_config",
                        field,
                    )
        if isinstance(self.num_replicas, int) and self.num_replicas % size:
            raise _rule(
                f"got num_replicas {self.num_replicas}; must be a multiple of gang_size ({size})",
                "num_replicas",
            )
        if self.max_replicas_per_node is not None:
            raise _rule(
                "got max_replicas_per_node together with gang_scheduling_config; Serve "
                "allows only one of them",
                "max_replicas_per_node",
            )
        if self.placement_group_strategy is not None:
            raise _rule(
                "got placement_group_strategy together with gang_scheduling_config; use "
                "gang_scheduling_config.gang_placement_strategy instead",
                "placement_group_strategy",
            )
        return self

    def _autoscaling(self) -> bool:
        return self.num_replicas == "auto" or self.autoscaling_config is not None


# Application ---------------------------------------------------------------------------------


class ServeApp(_Model):
    """One Serve application: an entry of the ``applications:`` list of a Serve config file.

    The schema of ``serve build`` output and of KubeRay's ``serveConfigV2`` (Ray's
    ``ServeApplicationSchema``), snake_case. ``name`` and ``import_path`` are required; every other
    field is optional and, when unset, left to Serve's defaults (it is not sent).

    Example:
        >>> app = ServeApp(name="fruit_app", import_path="fruit.deployment_graph",
        ...                route_prefix="/fruit",
        ...                deployments=[ServeDeployment(name="MangoStand", num_replicas=2)])
        >>> app.to_serve_dict()["deployments"]
        [{'name': 'MangoStand', 'num_replicas': 2}]

    """

    name: _NonEmptyStr = Field(
        description="Application name, unique on the cluster (Ray Serve's default 'default' is "
        "not assumed: the name is the application's identity)."
    )
    route_prefix: str | None = Field(
        default=None,
        description='HTTP route prefix: starts with "/", no trailing "/" (except "/" itself), no '
        "wildcards. Unset: Serve's default \"/\". (Serve's route_prefix: null, no HTTP route, "
        "cannot be expressed: null values are dropped.)",
    )
    import_path: _NonEmptyStr = Field(
        description='Import path of the bound application: "module.submodule.app" or '
        '"module.submodule:app".'
    )
    runtime_env: dict[str, Any] | None = Field(
        default=None,
        description="The application's runtime_env; deployments inherit it. working_dir and "
        "py_modules must be remote URIs (https://, s3://, gs://, file:///x.zip) or local:// URIs.",
    )
    host: str | None = Field(
        default=None,
        description="Accepted by Ray's single-application schema only; refused in the "
        "multi-application config Serve's REST API takes. Set http_options.host instead.",
    )
    port: _Int | None = Field(
        default=None,
        description="Accepted by Ray's single-application schema only; refused in the "
        "multi-application config Serve's REST API takes. Set http_options.port instead.",
    )
    deployments: list[ServeDeployment] | None = Field(
        default=None, description="Overrides of options set in the application's code."
    )
    autoscaling_policy: AutoscalingPolicy | None = Field(
        default=None,
        description="Application-level autoscaling policy (under development in Ray).",
    )
    args: dict[str, Any] | None = Field(
        default=None, description="Arguments passed to the application builder."
    )
    logging_config: LoggingConfig | None = Field(
        default=None, description="Logging of the application's deployments."
    )
    external_scaler_enabled: StrictBool | None = Field(
        default=None,
        description="An external autoscaler manages replicas: no deployment may autoscale.",
    )

    @field_validator("route_prefix")
    @classmethod
    def _route_prefix(cls, value: str | None) -> str | None:
        return _check_route_prefix(value)

    @field_validator("import_path")
    @classmethod
    def _import_path(cls, value: str) -> str:
        return _check_import_path(value)

    @field_validator("runtime_env")
    @classmethod
    def _runtime_env(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_runtime_env(value)

    @field_validator("host", "port")
    @classmethod
    def _not_per_app(cls, value: Any) -> Any:
        if value is not None:
            raise _rule(
                f"got {_show(value)}; Serve's multi-application config refuses a per-application "
                "host or port (400): set it in the cluster's http_options"
            )
        return value

    @field_validator("deployments")
    @classmethod
    def _unique_deployments(
        cls, value: list[ServeDeployment] | None
    ) -> list[ServeDeployment] | None:
        seen: dict[str, int] = {}
        for index, deployment in enumerate(value or []):
            if deployment.name in seen:
                raise _rule(
                    f"got {deployment.name!r} again (also deployments[{seen[deployment.name]}]); "
                    "deployment names must be unique within the application",
                    index,
                    "name",
                )
            seen[deployment.name] = index
        return value

    @model_validator(mode="after")
    def _external_scaler(self) -> ServeApp:
        if self.external_scaler_enabled:
            for index, deployment in enumerate(self.deployments or []):
                if deployment._autoscaling():
                    raise _rule(
                        f"deployment {deployment.name!r} autoscales while external_scaler_enabled "
                        "is true; with an external autoscaler no deployment may autoscale",
                        "deployments",
                        index,
                    )
        return self

    def to_serve_dict(self) -> dict[str, Any]:
        """Return the application as Serve's REST API takes it: only the fields that were set.

        Unset and None fields are left out, integral floats become ints everywhere (also inside
        ``user_config`` and ``args``: the Pulumi engine sends ``3`` as ``3.0``), keys are Serve's
        own names. Validating the result again gives the same dict.
        """
        dumped = self.model_dump(exclude_unset=True, exclude_none=True)
        result: dict[str, Any] = canonical(dumped)
        return result

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str], name: str | None = None) -> ServeApp:
        """Read one application from a Serve config file.

        The file is either the multi-application format (a top-level ``applications:`` list, as
        ``serve build`` writes; cluster-level keys such as ``http_options`` are ignored here and
        other applications are not checked) or a single application mapping (``import_path`` at
        top level).

        Args:
            path: The YAML file.
            name: Which application to take. Without it, the file must hold exactly one. For a
                single-application file without ``name:``, this becomes the name.

        Returns:
            The validated application.

        Raises:
            OSError: The file cannot be read.
            pulumi_rayservice.errors.ValidationError: The file is not a Serve config, the
                application is absent or ambiguous (the names found are listed), or invalid (every
                failing field is named).

        """
        source = os.fspath(path)
        data = _load_yaml(Path(path).read_text(encoding="utf-8"), source)
        if "import_path" in data and "applications" not in data:
            raw = dict(data)
            if name is not None:
                found = raw.get("name")
                if found is None:
                    raw["name"] = name
                elif found != name:
                    raise ValidationError(
                        f"{source}: holds application {found!r}, not {name!r}; found: {found!r}"
                    )
            return _validate_app(raw, source, "")
        apps = data.get("applications")
        if not isinstance(apps, list):
            raise ValidationError(
                f"{source}: not a Serve config: no 'applications:' list and no 'import_path:' "
                "at top level"
            )
        names = [app.get("name") if isinstance(app, Mapping) else None for app in apps]
        found_text = ", ".join(repr(n) for n in names) or "none"
        if name is None:
            if len(apps) != 1:
                raise ValidationError(
                    f"{source}: holds {len(apps)} applications ({found_text}); "
                    "pass name= to choose one"
                )
            index = 0
        else:
            matches = [i for i, found in enumerate(names) if found == name]
            if not matches:
                raise ValidationError(
                    f"{source}: no application named {name!r}; found: {found_text}"
                )
            if len(matches) > 1:
                raise ValidationError(
                    f"{source}: application {name!r} appears {len(matches)} times; "
                    "names must be unique"
                )
            index = matches[0]
        return _validate_app(apps[index], source, f"applications[{index}]")


def _validate_app(raw: Any, source: str, prefix: str) -> ServeApp:
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{source}: {prefix or 'the file'} must be a mapping")
    try:
        return ServeApp.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationError(
            _message(f"{source}: invalid Serve application", _failures(exc, ServeApp, prefix))
        ) from exc


# Whole config file (cluster-level settings) --------------------------------------------------


class HTTPOptions(_Model):
    """Options of Serve's HTTP proxies (Ray's ``HTTPOptionsSchema``); set once per cluster."""

    host: str | None = Field(default=None, description="Listen address (default 0.0.0.0).")
    port: _Int | None = Field(default=None, description="Listen port (default 8000).")
    root_path: str | None = Field(default=None, description="ASGI root path behind a proxy.")
    request_timeout_s: _Float | None = Field(default=None, description="HTTP request timeout.")
    keep_alive_timeout_s: _Int | None = Field(
        default=None, description="Idle keep-alive timeout of connections."
    )
    ssl_keyfile: str | None = Field(default=None, description="SSL key file (with ssl_certfile).")
    ssl_certfile: str | None = Field(default=None, description="SSL certificate file.")
    ssl_keyfile_password: str | None = Field(default=None, description="SSL key password.")
    ssl_ca_certs: str | None = Field(default=None, description="CA certificates of clients.")

    @model_validator(mode="after")
    def _ssl_pair(self) -> HTTPOptions:
        if bool(self.ssl_keyfile) != bool(self.ssl_certfile):
            raise _rule(
                "got only one of ssl_keyfile and ssl_certfile; HTTPS needs both",
                "ssl_certfile" if self.ssl_keyfile else "ssl_keyfile",
            )
        return self


class GRPCOptions(_Model):
    """Options of Serve's gRPC proxies (Ray's ``gRPCOptionsSchema``); set once per cluster."""

    port: _Int | None = Field(default=None, description="Listen port (default 9000).")
    grpc_servicer_functions: list[str] | None = Field(
        default=None, description="Import paths of add_servicer_to_server functions."
    )
    request_timeout_s: _Float | None = Field(default=None, description="gRPC request timeout.")
    enable_reflection: StrictBool | None = Field(
        default=None, description="Serve the gRPC reflection protocol (default true)."
    )


class ControllerOptions(_Model):
    """Options of the Serve controller actor (Ray's ControllerOptions); only env_vars."""

    runtime_env: dict[str, Any] | None = Field(
        default=None, description="Only env_vars (strings) is supported."
    )

    @field_validator("runtime_env")
    @classmethod
    def _env_vars_only(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            if key != "env_vars":
                raise _rule(f"got {key!r}; only env_vars is supported here", key)
        return _check_runtime_env(value)


class TracingConfig(_Model):
    """Distributed tracing of Serve components (Ray's ``TracingConfig``)."""

    enabled: StrictBool | None = Field(default=None, description="Whether tracing is on.")
    exporter_import_path: str | None = Field(
        default=None, description="Import path of a custom span exporter."
    )
    sampling_ratio: _Float | None = Field(
        default=None, ge=0, le=1, description="Fraction of traces sampled, 0.0 to 1.0."
    )


class ServeConfig(_Model):
    """A whole Serve config file (Ray's ``ServeDeploySchema``): applications plus cluster settings.

    What ``serve build`` writes and what KubeRay's ``serveConfigV2`` holds. ``http_options``,
    ``grpc_options`` and ``proxy_location`` only take effect when Serve starts (Serve ignores them
    on a running cluster); a ``ServeApplication`` sends only its own application.
    """

    proxy_location: Literal["Disabled", "HeadOnly", "EveryNode"] | None = Field(
        default=None, description="Where proxies run: EveryNode (default), HeadOnly, Disabled."
    )
    http_options: HTTPOptions | None = Field(default=None, description="HTTP proxy options.")
    grpc_options: GRPCOptions | None = Field(default=None, description="gRPC proxy options.")
    controller_options: ControllerOptions | None = Field(
        default=None, description="[EXPERIMENTAL in Ray] Serve controller options."
    )
    logging_config: LoggingConfig | None = Field(
        default=None, description="Logging of all Serve components."
    )
    tracing_config: TracingConfig | None = Field(
        default=None, description="Tracing of Serve components."
    )
    applications: list[ServeApp] = Field(description="The applications to run.")
    target_capacity: _Float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Percentage of every deployment's replica counts to run, 0 to 100.",
    )

    @field_validator("applications")
    @classmethod
    def _unique(cls, value: list[ServeApp]) -> list[ServeApp]:
        names: dict[str, int] = {}
        routes: dict[str, int] = {}
        for index, app in enumerate(value):
            if app.name in names:
                raise _rule(
                    f"got {app.name!r} again (also applications[{names[app.name]}]); "
                    "application names must be unique",
                    index,
                    "name",
                )
            names[app.name] = index
            # Serve gives an application without route_prefix the prefix "/".
            route = app.route_prefix or "/"
            if route in routes:
                raise _rule(
                    f"got {route!r} again (also applications[{routes[route]}]"
                    + ("" if app.route_prefix else ', where unset means "/"')
                    + "); route prefixes must be unique",
                    index,
                    "route_prefix",
                )
            routes[route] = index
        return value

    def to_serve_dict(self) -> dict[str, Any]:
        """Return the config as Serve's REST API takes it (see :meth:`ServeApp.to_serve_dict`)."""
        result: dict[str, Any] = canonical(self.model_dump(exclude_unset=True, exclude_none=True))
        return result

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> ServeConfig:
        """Read and validate a multi-application Serve config file.

        Raises:
            OSError: The file cannot be read.
            pulumi_rayservice.errors.ValidationError: Not YAML, not a mapping, or invalid (every
                failing field is named).

        """
        return cls._parse(Path(path).read_text(encoding="utf-8"), os.fspath(path))

    @classmethod
    def from_yaml_text(cls, text: str) -> ServeConfig:
        """Validate a Serve config given as YAML text, such as KubeRay's ``serveConfigV2``.

        Raises:
            pulumi_rayservice.errors.ValidationError: Not YAML, not a mapping, or invalid (every
                failing field is named).

        """
        return cls._parse(text, "serve config")

    @classmethod
    def _parse(cls, text: str, source: str) -> ServeConfig:
        data = _load_yaml(text, source)
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            raise ValidationError(
                _message(f"{source}: invalid Serve config", _failures(exc, cls, ""))
            ) from exc


def _load_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: must hold a mapping, got {type(data).__name__}")
    return data


# Provider check ------------------------------------------------------------------------------


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
    if contains_unknown(raw):
        return None, []
    if not isinstance(raw, Mapping):
        return None, [
            (field, f"got {_show(raw)}; must be a mapping (one entry of Serve's applications:)")
        ]
    try:
        app = ServeApp.model_validate(canonical(raw))
        return app.to_serve_dict(), []
    except PydanticValidationError as exc:
        return None, _failures(exc, ServeApp, field)
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
    if contains_unknown(raw):
        return None, []
    if not isinstance(raw, Mapping):
        return None, [(field, f"got {_show(raw)}; must be a mapping")]
    failures = [
        (f"{field}.{key}", f"unknown key {key!r}; allowed: {', '.join(SERVE_OPTION_KEYS)}")
        for key in raw
        if key not in SERVE_OPTION_KEYS
    ]
    if failures:
        return None, failures
    try:
        config = ServeConfig.model_validate({**canonical(raw), "applications": []})
    except PydanticValidationError as exc:
        return None, _failures(exc, ServeConfig, field)
    options = config.to_serve_dict()
    options.pop("applications", None)
    return options, []


# Pydantic errors -> (path, reason) -----------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_PHRASES = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be greater than or equal to {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be less than or equal to {le}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "too_short": "must have at least {min_length} item(s)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "literal_error": "must be {expected}",
}


def _path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _as_model(annotation: Any) -> Any:
    """Strip Annotated/Optional from an annotation (keeps list/dict and model classes)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _fields_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` under ``root`` (empty if none is)."""
    current: Any = root
    for part in loc:
        current = _as_model(current)
        origin = typing.get_origin(current)
        if isinstance(part, int) and origin is list:
            current = typing.get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = info.annotation
        else:
            return []
    current = _as_model(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _reason(error: Any, root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required, not set"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        known = _fields_at(root, loc[:-1])
        close = difflib.get_close_matches(key, known, n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        elif known:
            hint = f"; known keys: {', '.join(known)}"
        else:
            hint = ""
        return f"unknown key {key!r}{hint} (Serve would silently ignore it)"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        phrase = str(ctx["error"])
    elif kind in _PHRASES:
        phrase = _PHRASES[kind].format(**{k: _num(v) for k, v in ctx.items()})
    else:
        msg = str(error["msg"])
        phrase = msg[:1].lower() + msg[1:]
    return f"got {_show(error.get('input'))}; {phrase}"


def _failures(
    exc: PydanticValidationError, root: type[BaseModel], prefix: str
) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == _RULE:
            loc += tuple(ctx.get("loc", ()))
            reason = str(ctx.get("reason", error["msg"]))
        else:
            reason = _reason(error, root, loc)
        failures.append((_path(prefix, loc), reason))
    return failures


def _message(title: str, failures: list[tuple[str, str]]) -> str:
    lines = [f"  {path or '(top level)'}: {reason}" for path, reason in failures]
    return "\n".join([f"{title}:", *lines])
