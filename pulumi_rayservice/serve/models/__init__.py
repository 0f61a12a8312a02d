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

The modules, each depending only on those listed before it: ``_base`` (base model, rule errors,
number types), ``runtime_env``, ``logging_config``, ``autoscaling``, ``deployment_options``,
``deployment`` (:class:`ServeDeployment`), ``_yaml``, ``errors`` (pydantic errors as
``(path, reason)``), ``application`` (:class:`ServeApp`), ``config`` (:class:`ServeConfig` and the
cluster-level options) and ``checks`` (what the providers' Check calls).
"""

from .application import ServeApp
from .autoscaling import AutoscalingConfig
from .autoscaling import AutoscalingPolicy as AutoscalingPolicy
from .checks import SERVE_OPTION_KEYS as SERVE_OPTION_KEYS
from .checks import check_app, check_serve_options
from .config import ControllerOptions as ControllerOptions
from .config import GRPCOptions as GRPCOptions
from .config import HTTPOptions as HTTPOptions
from .config import ServeConfig
from .config import TracingConfig as TracingConfig
from .deployment import ServeDeployment
from .deployment_options import BackpressureConfig as BackpressureConfig
from .deployment_options import DeploymentActorConfig as DeploymentActorConfig
from .deployment_options import GangSchedulingConfig as GangSchedulingConfig
from .deployment_options import RayActorOptions
from .deployment_options import RequestRouterConfig as RequestRouterConfig
from .logging_config import LoggingConfig

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
