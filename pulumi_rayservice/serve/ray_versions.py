"""What the cluster's Ray can do, decided once from the version its dashboard reports.

Serve's REST API changed across the releases KubeRay users run (the seed's ``rayproject/ray:2.8.0``,
KubeRay's samples 2.46 to 2.52, today's 2.60). Each boundary below is read from that release's own
source (``ray/serve/schema.py``, ``ray/serve/_private/controller.py`` and
``application_state.py``, ``ray/dashboard/modules/serve/``), and the package branches on it:

- **2.8.0, the oldest supported.** From 2.8 the dashboard head itself serves
  ``/api/serve/applications/`` (2.4 to 2.7 served it on the dashboard agent only, beside no state
  API and no ``/api/version``, so Serve's stop could not be proven there; 2.3 had no
  multi-application API at all). Below it nothing is written, and the error names both versions.
- **2.9.0: ``target_capacity``.** Older Serve drops the key silently: an incremental upgrade's
  capacity control needs 2.9.
- **2.10.0: proxies can be disabled.** On 2.8 and 2.9 a Serve started with ``proxy_location:
  Disabled`` fails every read of its applications (the GET validates a ``DeploymentMode`` as a
  ``ProxyLocation``): such a start is refused.
- **2.11.0: ``serve.run`` apps survive a declarative PUT** (ray-project/ray#44476 is in 2.11.0):
  below it a PUT deletes them, and a write beside them is refused.
- **Config keys.** Serve ignores a key it does not know (from 2.7 its schemas drop extra keys): on
  an older Ray a newer option would be accepted, do nothing, and then be missing from what Serve
  reports. :data:`KEYS_SINCE` says from which release each key of this package's models exists;
  a write of a key the cluster's Ray does not know is refused, naming the field and the release.

Statuses need no branch: the app statuses the package waits on exist in every supported release,
and deployment statuses it does not know (``UPSCALING`` from 2.9, ``DEPLOY_FAILED`` from 2.41) are
kept as the strings Serve sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._util.versions import at_least, parse_version
from ..errors import UnsupportedRayError

Version = tuple[int, ...]

OLDEST_SUPPORTED: Version = (2, 8, 0)
"""The oldest Ray whose dashboard serves Serve's REST API beside the state API."""
TARGET_CAPACITY_SINCE: Version = (2, 9, 0)
PROXIES_DISABLED_SINCE: Version = (2, 10, 0)
KEEPS_IMPERATIVE_APPS_SINCE: Version = (2, 11, 0)

ANY = "*"
"""Any name at this step of a path: every deployment of an app."""

KEYS_SINCE: dict[tuple[str, ...], Version] = {
    # The application (ServeApplicationSchema).
    ("logging_config",): (2, 9, 0),
    ("autoscaling_policy",): (2, 51, 0),
    ("autoscaling_policy", "policy_kwargs"): (2, 55, 0),
    ("external_scaler_enabled",): (2, 53, 0),
    # Each deployment (DeploymentSchema).
    ("deployments", ANY, "logging_config"): (2, 9, 0),
    ("deployments", ANY, "max_ongoing_requests"): (2, 10, 0),
    ("deployments", ANY, "max_queued_requests"): (2, 10, 0),
    ("deployments", ANY, "request_router_config"): (2, 48, 0),
    ("deployments", ANY, "request_router_config", "initial_backoff_s"): (2, 55, 0),
    ("deployments", ANY, "request_router_config", "backoff_multiplier"): (2, 55, 0),
    ("deployments", ANY, "request_router_config", "max_backoff_s"): (2, 55, 0),
    ("deployments", ANY, "placement_group_bundle_label_selector"): (2, 54, 0),
    ("deployments", ANY, "gang_scheduling_config"): (2, 55, 0),
    ("deployments", ANY, "deployment_actors"): (2, 55, 0),
    ("deployments", ANY, "rolling_update_percentage"): (2, 56, 0),
    ("deployments", ANY, "backpressure_config"): (2, 58, 0),
    ("deployments", ANY, "max_surge_percent"): (2, 60, 0),
    # A deployment's ray_actor_options (RayActorOptionsSchema).
    ("deployments", ANY, "ray_actor_options", "label_selector"): (2, 54, 0),
    ("deployments", ANY, "ray_actor_options", "fallback_strategy"): (2, 54, 0),
    # A deployment's autoscaling_config (AutoscalingConfig).
    ("deployments", ANY, "autoscaling_config", "target_ongoing_requests"): (2, 10, 0),
    ("deployments", ANY, "autoscaling_config", "upscaling_factor"): (2, 10, 0),
    ("deployments", ANY, "autoscaling_config", "downscaling_factor"): (2, 10, 0),
    ("deployments", ANY, "autoscaling_config", "downscale_to_zero_delay_s"): (2, 50, 0),
    ("deployments", ANY, "autoscaling_config", "policy"): (2, 50, 0),
    ("deployments", ANY, "autoscaling_config", "aggregation_function"): (2, 51, 0),
    # LoggingConfig, wherever it is given.
    ("logging_config", "additional_log_standard_attrs"): (2, 44, 0),
    ("deployments", ANY, "logging_config", "additional_log_standard_attrs"): (2, 44, 0),
}
"""Keys of an application (one entry of ``applications:``) and the first Ray that knows each."""

OPTION_KEYS_SINCE: dict[tuple[str, ...], Version] = {
    ("logging_config",): (2, 9, 0),
    ("logging_config", "additional_log_standard_attrs"): (2, 44, 0),
    ("controller_options",): (2, 56, 0),
    ("tracing_config",): (2, 59, 0),
    ("http_options", "ssl_keyfile"): (2, 50, 0),
    ("http_options", "ssl_certfile"): (2, 50, 0),
    ("http_options", "ssl_keyfile_password"): (2, 50, 0),
    ("http_options", "ssl_ca_certs"): (2, 50, 0),
    ("grpc_options", "request_timeout_s"): (2, 45, 0),
    ("grpc_options", "enable_reflection"): (2, 60, 0),
}
"""Keys of the Serve options sent when Serve starts (the top level of Serve's config)."""

VALUES_SINCE: dict[tuple[tuple[str, ...], object], Version] = {
    (("deployments", ANY, "num_replicas"), "auto"): (2, 10, 0),
}
"""Values an older Serve refuses or reads otherwise (at a path), and the first Ray to take them."""


def show(version: Version) -> str:
    """``(2, 8, 0)`` -> ``2.8.0``."""
    return ".".join(str(part) for part in version)


@dataclass(frozen=True)
class RayRelease:
    """The Ray a dashboard reports (``GET /api/version``), and what follows from it."""

    reported: str
    """``ray_version`` as the dashboard sent it (``""`` when it sent none)."""

    @property
    def number(self) -> Version | None:
        """The release as numbers, or None when it cannot be read."""
        return parse_version(self.reported)

    def at_least(self, minimum: Version) -> bool:
        """Whether this release is ``minimum`` or later (an unreadable one is not)."""
        number = self.number
        return number is not None and at_least(number, minimum)

    @property
    def keeps_imperative_apps(self) -> bool:
        """A declarative PUT leaves ``serve.run`` apps running (2.11 and later)."""
        return self.at_least(KEEPS_IMPERATIVE_APPS_SINCE)

    def describe(self) -> str:
        """``Ray 2.8.1``, or what was seen when no version could be read."""
        if self.number is not None:
            return f"Ray {self.reported}"
        return f"a Ray of unknown version (reported {self.reported!r})"

    def require_supported(self, where: str) -> None:
        """Refuse a cluster whose Ray is older than the oldest supported (or unreadable).

        Raises:
            UnsupportedRayError: nothing may be written there.

        """
        if self.at_least(OLDEST_SUPPORTED):
            return
        raise UnsupportedRayError(
            f"{where} runs {self.describe()}; pulumi-rayservice drives Ray "
            f"{show(OLDEST_SUPPORTED)} and later (older releases serve no Serve REST API on the "
            "dashboard beside Ray's state API). Nothing was written; upgrade the cluster's Ray"
        )

    def require_target_capacity(self, where: str) -> None:
        """Refuse a write of ``target_capacity`` to a Ray that would silently drop it.

        Raises:
            UnsupportedRayError: the Ray is older than 2.9.

        """
        if not self.at_least(TARGET_CAPACITY_SINCE):
            raise UnsupportedRayError(
                f"{where} runs {self.describe()}, whose Serve has no target_capacity (Ray "
                f"{show(TARGET_CAPACITY_SINCE)} and later): an incremental upgrade cannot hold "
                "the new cluster's capacity there. Nothing was written"
            )

    def require_known(
        self,
        where: str,
        *,
        app: Mapping[str, Any] | None = None,
        serve_options: Mapping[str, Any] | None = None,
        initial_target_capacity: int | None = None,
    ) -> None:
        """Refuse fields and values this Ray's Serve would silently ignore (or read otherwise).

        Raises:
            UnsupportedRayError: naming each such field and the Ray it needs; nothing written.

        """
        number = self.number
        if number is None:
            return  # require_supported refused it already
        missing = [
            f"{field} (Ray {show(since)})"
            for field, since in _needs(app, serve_options, initial_target_capacity)
            if not at_least(number, since)
        ]
        if missing:
            raise UnsupportedRayError(
                f"{where} runs {self.describe()}, whose Serve does not know "
                + ", ".join(missing)
                + ": it would accept the config and silently ignore them. Nothing was written; "
                "remove them or upgrade the cluster's Ray"
            )


def _needs(
    app: Mapping[str, Any] | None,
    serve_options: Mapping[str, Any] | None,
    initial_target_capacity: int | None,
) -> Iterator[tuple[str, Version]]:
    """Every field given that some supported Ray does not know: (its path, the release needed)."""
    if app is not None:
        for path, since in KEYS_SINCE.items():
            for found in _find(app, path):
                yield "app." + found, since
        for (path, value), since in VALUES_SINCE.items():
            for found in _find(app, path, value=value):
                yield f"app.{found}={value!r}", since
    if serve_options is not None:
        for path, since in OPTION_KEYS_SINCE.items():
            for found in _find(serve_options, path):
                yield "serve_options." + found, since
        if serve_options.get("proxy_location") == "Disabled":
            yield "serve_options.proxy_location='Disabled'", PROXIES_DISABLED_SINCE
    if initial_target_capacity is not None:
        yield "initial_target_capacity", TARGET_CAPACITY_SINCE


def _find(
    data: object, path: tuple[str, ...], *, value: object = None, at: str = ""
) -> Iterator[str]:
    """The dotted paths (``deployments[1].max_ongoing_requests``) where ``path`` is set.

    ``ANY`` steps into every entry of a list of named objects; with ``value``, only where the
    key holds it. A key set to null is no key: Serve reads it as unset.
    """
    if not path:
        return
    step, rest = path[0], path[1:]
    if step == ANY:
        if isinstance(data, list):
            for index, item in enumerate(data):
                yield from _find(item, rest, value=value, at=f"{at}[{index}]")
        return
    if not isinstance(data, Mapping) or data.get(step) is None:
        return
    here = f"{at}.{step}" if at else step
    if rest:
        yield from _find(data[step], rest, value=value, at=here)
    elif value is None or data[step] == value:
        yield here
