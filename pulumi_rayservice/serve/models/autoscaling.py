"""How one deployment scales (Ray's ``AutoscalingConfig`` and ``AutoscalingPolicy``).

The replica bounds rule lives here too: the config checks the bounds it sets, and
:class:`~.deployment.ServeDeployment` checks them again against Serve's defaults, which depend on
its ``num_replicas``. An application's own autoscaling policy reuses :class:`AutoscalingPolicy`.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from ._base import Integer, JSONDict, NonEmptyStr, Number, ServeModel, brief_repr, rule_error


class AutoscalingPolicy(ServeModel):
    """A custom autoscaling policy (Ray's ``ray.serve.config.AutoscalingPolicy``)."""

    policy_function: NonEmptyStr | None = Field(
        default=None,
        description="Import path of the policy, 'module.path:function_name'; Serve's default is "
        "its request-based policy.",
    )
    policy_kwargs: JSONDict | None = Field(
        default=None,
        description="Keyword arguments passed to the policy class constructor (JSON values).",
    )


class AutoscalingConfig(ServeModel):
    """Autoscaling of one deployment (Ray's ``ray.serve.config.AutoscalingConfig``).

    Serve fills unset fields with its defaults: ``min_replicas`` 1 and ``max_replicas`` 1 (100 when
    the deployment sets ``num_replicas: auto``); the bounds are checked against those defaults by
    :class:`ServeDeployment`.
    """

    min_replicas: Integer | None = Field(
        default=None, ge=0, description="Fewest replicas; 0 allows scaling to zero (default 1)."
    )
    initial_replicas: Integer | None = Field(
        default=None,
        ge=0,
        description="Replicas started on first deploy; defaults to min_replicas.",
    )
    max_replicas: Integer | None = Field(
        default=None, gt=0, description="Most replicas; must be >= min_replicas (default 1)."
    )
    target_ongoing_requests: Number | None = Field(
        default=None,
        gt=0,
        description="Target of requests processed and queued per replica (default 2).",
    )
    metrics_interval_s: Number | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] How often to scrape for metrics."
    )
    look_back_period_s: Number | None = Field(
        default=None, gt=0, description="Time window to average metrics over (default 30 s)."
    )
    smoothing_factor: Number | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] Smoothing of scaling decisions."
    )
    upscale_smoothing_factor: Number | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] Use upscaling_factor."
    )
    downscale_smoothing_factor: Number | None = Field(
        default=None, gt=0, description="[DEPRECATED in Ray] Use downscaling_factor."
    )
    upscaling_factor: Number | None = Field(
        default=None, gt=0, description='Multiplicative "gain" limiting upscaling decisions.'
    )
    downscaling_factor: Number | None = Field(
        default=None, gt=0, description='Multiplicative "gain" limiting downscaling decisions.'
    )
    downscale_delay_s: Number | None = Field(
        default=None, ge=0, description="Wait before scaling down to a value above 0 (600 s)."
    )
    downscale_to_zero_delay_s: Number | None = Field(
        default=None,
        ge=0,
        description="Wait before scaling down from 1 to 0; defaults to downscale_delay_s.",
    )
    upscale_delay_s: Number | None = Field(
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
            raise rule_error(f"got {brief_repr(value)}; must be 'mean', 'max' or 'min'")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        # Only what is set here; the defaults depend on num_replicas (see ServeDeployment).
        check_autoscaling_bounds(self, None, None)
        return self


def check_autoscaling_bounds(
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
        raise rule_error(f"got {high_text} and {low_text}; max must be >= min", *loc, field)
    if initial is not None and low is not None and initial < low:
        raise rule_error(
            f"got initial_replicas {initial}; must be >= {low_text}", *loc, "initial_replicas"
        )
    if initial is not None and high is not None and initial > high:
        raise rule_error(
            f"got initial_replicas {initial}; must be <= {high_text}", *loc, "initial_replicas"
        )
