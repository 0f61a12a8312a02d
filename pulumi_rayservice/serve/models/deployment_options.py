"""The option blocks nested in one deployment, apart from autoscaling and logging.

Replica actor options (``ray_actor_options``), backpressure, request routing, gang scheduling and
deployment-scoped actors: each mirrors its Ray model and checks only its own fields; the rules
that relate them to the deployment's other options live in :mod:`.deployment`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from ._base import (
    Integer,
    JSONDict,
    JSONList,
    NonEmptyStr,
    Number,
    ServeModel,
    brief_repr,
    plain_number,
    rule_error,
)
from .runtime_env import check_runtime_env


def _quantity_problem(value: float) -> str | None:
    # ray._common.ray_option_utils._validate_resource_quantity: Ray counts in 1/10000 units.
    if value != 0 and int(value * 10000) == 0:
        return f"got {brief_repr(value)}; a fractional resource quantity cannot go below 0.0001"
    return None


class RayActorOptions(ServeModel):
    """Options each replica actor starts with (Ray's ``RayActorOptionsSchema``).

    Ray's schema silently drops keys it does not know here (``num_cpu: 1`` would run with the
    default one CPU); this model refuses them.
    """

    runtime_env: JSONDict | None = Field(
        default=None,
        description="The replica's runtime_env, merged over the application's. working_dir and "
        "py_modules must be remote URIs or local:// URIs.",
    )
    num_cpus: Number | None = Field(
        default=None, ge=0, description="CPUs reserved per replica (Serve's default: 1)."
    )
    num_gpus: Number | None = Field(default=None, ge=0, description="GPUs reserved per replica.")
    memory: Number | None = Field(
        default=None, ge=0, description="Heap memory reserved per replica, in bytes."
    )
    resources: dict[str, Annotated[Number, Field(ge=0)]] | None = Field(
        default=None,
        description="Custom resources per replica; CPU and GPU go in num_cpus and num_gpus.",
    )
    accelerator_type: str | None = Field(
        default=None, description="Run replicas only on nodes with this accelerator type."
    )
    label_selector: dict[str, str] | None = Field(
        default=None, description="Run replicas only on nodes with these labels."
    )
    fallback_strategy: list[JSONDict] | None = Field(
        default=None,
        description="Soft constraints: decorator options to fall back on when scheduling.",
    )

    @field_validator("runtime_env")
    @classmethod
    def _runtime_env(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_runtime_env(value)

    @field_validator("num_cpus", "num_gpus", "memory")
    @classmethod
    def _precision(cls, value: float | None) -> float | None:
        problem = None if value is None else _quantity_problem(value)
        if problem:
            raise rule_error(problem)
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name, quantity in (value or {}).items():
            if name in ("CPU", "GPU"):
                raise rule_error(
                    f"got resource {name!r}; set num_cpus / num_gpus instead of CPU / GPU in "
                    "resources",
                    name,
                )
            problem = _quantity_problem(quantity)
            if problem:
                raise rule_error(problem, name)
        return value


class BackpressureConfig(ServeModel):
    """The HTTP answer to requests refused by ``max_queued_requests`` (Ray's BackpressureConfig)."""

    status_code: Annotated[Literal[503, 429], BeforeValidator(plain_number)] | None = Field(
        default=None, description="503 (Serve's default) or 429."
    )
    retry_after_s: Number | None = Field(
        default=None, ge=0, description="If set, a Retry-After header with this many seconds."
    )


class RequestRouterConfig(ServeModel):
    """How requests are routed to replicas (Ray's ``ray.serve.config.RequestRouterConfig``)."""

    request_router_class: NonEmptyStr | None = Field(
        default=None,
        description="Import path of the request router class; Serve's default is its "
        "power-of-two-choices router.",
    )
    request_router_kwargs: JSONDict | None = Field(
        default=None, description="Keyword arguments for the router's initialize_state."
    )
    request_routing_stats_period_s: Number | None = Field(
        default=None, gt=0, description="Interval between routing-stats calls (default 10 s)."
    )
    request_routing_stats_timeout_s: Number | None = Field(
        default=None, gt=0, description="Timeout of a routing-stats call (default 30 s)."
    )
    initial_backoff_s: Number | None = Field(
        default=None, gt=0, description="First backoff before retrying to route (0.025 s)."
    )
    backoff_multiplier: Number | None = Field(
        default=None, gt=0, description="Backoff growth per retry (default 2)."
    )
    max_backoff_s: Number | None = Field(
        default=None, gt=0, description="Longest backoff between retries (default 0.5 s)."
    )


class GangSchedulingConfig(ServeModel):
    """Groups of replicas scheduled together (Ray's ``ray.serve.config.GangSchedulingConfig``)."""

    gang_size: Integer = Field(
        ge=1, description="Replicas per gang; num_replicas must be a multiple."
    )
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
            raise rule_error(
                "got 'RESTART_REPLICA'; not implemented by Ray Serve, only 'RESTART_GANG' is"
            )
        return value


class DeploymentActorConfig(ServeModel):
    """A deployment-scoped actor shared by all replicas (Ray's DeploymentActorConfig)."""

    name: NonEmptyStr = Field(description="Name of the actor, unique within the deployment.")
    actor_class: NonEmptyStr = Field(
        description="Import path of the actor class, e.g. 'my_module:PrefixTreeActor'."
    )
    init_args: JSONList | None = Field(
        default=None, description="Positional arguments of the constructor."
    )
    init_kwargs: JSONDict | None = Field(
        default=None, description="Keyword arguments of the constructor."
    )
    actor_options: JSONDict | None = Field(
        default=None, description="Ray actor options (num_cpus, runtime_env, ...)."
    )
