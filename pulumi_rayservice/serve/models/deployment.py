"""One deployment's overrides (Ray's ``DeploymentSchema``) and the rules across its options.

The rules across its options (a replica count together with autoscaling, replica bounds against
Serve's defaults, gang sizes that do not divide the replica count, placement options that exclude
each other) follow Ray's schema and the checks Serve runs when it builds the replicas, so they
fail at preview, naming the option to change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ._base import (
    DeploymentName,
    Integer,
    JSONDict,
    Number,
    ServeModel,
    brief_repr,
    plain_number,
    rule_error,
)
from .autoscaling import AutoscalingConfig, check_autoscaling_bounds
from .deployment_options import (
    BackpressureConfig,
    DeploymentActorConfig,
    GangSchedulingConfig,
    RayActorOptions,
    RequestRouterConfig,
)
from .logging_config import LoggingConfig


def _num_replicas(value: Any) -> Any:
    if isinstance(value, str) and value == "auto":
        return value
    value = plain_number(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise rule_error(f'got {brief_repr(value)}; must be a positive integer or "auto"')


_NumReplicas = Annotated[int | Literal["auto"], BeforeValidator(_num_replicas)]


class ServeDeployment(ServeModel):
    """Overrides for one deployment of an application (Ray's ``DeploymentSchema``).

    An entry of the application's ``deployments:`` list: only ``name`` is required; every other
    option overrides the value set in the application's code. Cross-field rules follow Ray's
    schema and the checks Serve runs when it builds the replicas.
    """

    name: DeploymentName = Field(
        description="Name of the deployment in the application's code (Serve refuses '#')."
    )
    num_replicas: _NumReplicas | None = Field(
        default=None,
        description='Number of replicas, or "auto" for Serve\'s default autoscaling. Cannot be a '
        "number together with autoscaling_config.",
    )
    max_ongoing_requests: Integer | None = Field(
        default=None, gt=0, description="Most requests sent in parallel to each replica."
    )
    max_queued_requests: Integer | None = Field(
        default=None,
        description="Most requests queued at each caller; -1 (Serve's default) for no limit.",
    )
    backpressure_config: BackpressureConfig | None = Field(
        default=None, description="HTTP answer to requests refused by max_queued_requests."
    )
    user_config: JSONDict | None = Field(
        default=None,
        description="Passed to the deployment's reconfigure(); updated without restarting.",
    )
    autoscaling_config: AutoscalingConfig | None = Field(
        default=None,
        description="Autoscaling parameters; replaces num_replicas (or use num_replicas: auto).",
    )
    graceful_shutdown_wait_loop_s: Number | None = Field(
        default=None, ge=0, description="How long a stopping replica waits for work to drain."
    )
    graceful_shutdown_timeout_s: Number | None = Field(
        default=None, ge=0, description="How long before a stopping replica is killed."
    )
    health_check_period_s: Number | None = Field(
        default=None, gt=0, description="Interval between health checks of each replica."
    )
    health_check_timeout_s: Number | None = Field(
        default=None, gt=0, description="Time a health check may take before it fails."
    )
    ray_actor_options: RayActorOptions | None = Field(
        default=None, description="Options each replica actor starts with."
    )
    placement_group_bundles: list[dict[str, Annotated[Number, Field(ge=0)]]] | None = Field(
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
    max_replicas_per_node: Integer | None = Field(
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
    rolling_update_percentage: Number | None = Field(
        default=None, gt=0, le=1, description="Fraction of replicas updated at a time, in (0, 1]."
    )
    max_surge_percent: Integer | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Extra replicas allowed during a rolling restart, percent of the target.",
    )

    @field_validator("max_queued_requests")
    @classmethod
    def _queue_limit(cls, value: int | None) -> int | None:
        if value is not None and value < 1 and value != -1:
            raise rule_error(f"got {value}; must be -1 (no limit) or a positive integer")
        return value

    @field_validator("placement_group_bundles")
    @classmethod
    def _bundles(cls, value: list[dict[str, float]] | None) -> list[dict[str, float]] | None:
        for index, bundle in enumerate(value or []):
            if not any(bundle.values()):
                raise rule_error(
                    f"got {brief_repr(bundle)}; a bundle needs at least one resource above 0", index
                )
        return value

    @model_validator(mode="after")
    def _replicas(self) -> ServeDeployment:
        autoscaling = self.autoscaling_config
        if isinstance(self.num_replicas, int) and autoscaling is not None:
            raise rule_error(
                f"got num_replicas {self.num_replicas} together with autoscaling_config; set "
                'one of them (or num_replicas: "auto" with autoscaling_config)',
                "num_replicas",
            )
        if autoscaling is not None:
            # Serve builds AutoscalingConfig from these values alone, over its defaults.
            auto = self.num_replicas == "auto"
            check_autoscaling_bounds(autoscaling, 1, 100 if auto else 1, "autoscaling_config")
        return self

    @model_validator(mode="after")
    def _placement(self) -> ServeDeployment:
        bundles = self.placement_group_bundles
        if self.max_replicas_per_node is not None and bundles is not None:
            raise rule_error(
                f"got max_replicas_per_node {self.max_replicas_per_node} together with "
                "placement_group_bundles; Serve allows only one of them",
                "max_replicas_per_node",
            )
        selectors = self.placement_group_bundle_label_selector
        if selectors is not None:
            if bundles is None:
                raise rule_error(
                    "got placement_group_bundle_label_selector without placement_group_bundles; "
                    "a selector needs bundles",
                    "placement_group_bundle_label_selector",
                )
            if len(selectors) not in (1, len(bundles)):
                raise rule_error(
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
                    raise rule_error(
                        f"got {field} {value}; must be a multiple of gang_size ({size})",
                        "autoscaling_config",
                        field,
                    )
        if isinstance(self.num_replicas, int) and self.num_replicas % size:
            raise rule_error(
                f"got num_replicas {self.num_replicas}; must be a multiple of gang_size ({size})",
                "num_replicas",
            )
        if self.max_replicas_per_node is not None:
            raise rule_error(
                "got max_replicas_per_node together with gang_scheduling_config; Serve "
                "allows only one of them",
                "max_replicas_per_node",
            )
        if self.placement_group_strategy is not None:
            raise rule_error(
                "got placement_group_strategy together with gang_scheduling_config; use "
                "gang_scheduling_config.gang_placement_strategy instead",
                "placement_group_strategy",
            )
        return self

    def _autoscaling(self) -> bool:
        return self.num_replicas == "auto" or self.autoscaling_config is not None
