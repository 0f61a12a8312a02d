"""A whole Serve config file (Ray's ``ServeDeploySchema``): applications plus cluster settings.

The cluster-level options (HTTP and gRPC proxies, controller, tracing) are set once per Serve
instance and only take effect when Serve starts, unlike the applications; they are modelled here,
with the rules across applications (unique names and route prefixes) and the reading of a config
file or of KubeRay's ``serveConfigV2`` text.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from pulumi_rayservice._util.normalize import canonical
from pulumi_rayservice.errors import InvalidInputError

from ._base import Integer, JSONDict, Number, ServeModel, rule_error
from ._yaml import load_config_yaml, read_config_file
from .application import ServeApp
from .errors import failure_message, failures_of
from .logging_config import LoggingConfig
from .runtime_env import check_runtime_env


class HTTPOptions(ServeModel):
    """Options of Serve's HTTP proxies (Ray's ``HTTPOptionsSchema``); set once per cluster."""

    # ssl_keyfile_password is a credential: validation errors never echo the input.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    host: str | None = Field(default=None, description="Listen address (default 0.0.0.0).")
    port: Integer | None = Field(
        default=None, ge=1, le=65535, description="Listen port 1..65535 (default 8000)."
    )
    root_path: str | None = Field(default=None, description="ASGI root path behind a proxy.")
    request_timeout_s: Number | None = Field(default=None, description="HTTP request timeout.")
    keep_alive_timeout_s: Integer | None = Field(
        default=None, description="Idle keep-alive timeout of connections."
    )
    ssl_keyfile: str | None = Field(default=None, description="SSL key file (with ssl_certfile).")
    ssl_certfile: str | None = Field(default=None, description="SSL certificate file.")
    ssl_keyfile_password: str | None = Field(
        default=None, description="SSL key password.", repr=False
    )
    ssl_ca_certs: str | None = Field(default=None, description="CA certificates of clients.")

    @model_validator(mode="after")
    def _ssl_pair(self) -> HTTPOptions:
        if bool(self.ssl_keyfile) != bool(self.ssl_certfile):
            raise rule_error(
                "got only one of ssl_keyfile and ssl_certfile; HTTPS needs both",
                "ssl_certfile" if self.ssl_keyfile else "ssl_keyfile",
            )
        return self


class GRPCOptions(ServeModel):
    """Options of Serve's gRPC proxies (Ray's ``gRPCOptionsSchema``); set once per cluster."""

    port: Integer | None = Field(
        default=None, ge=1, le=65535, description="Listen port 1..65535 (default 9000)."
    )
    grpc_servicer_functions: list[str] | None = Field(
        default=None, description="Import paths of add_servicer_to_server functions."
    )
    request_timeout_s: Number | None = Field(default=None, description="gRPC request timeout.")
    enable_reflection: StrictBool | None = Field(
        default=None, description="Serve the gRPC reflection protocol (default true)."
    )


class ControllerOptions(ServeModel):
    """Options of the Serve controller actor (Ray's ControllerOptions); only env_vars."""

    runtime_env: JSONDict | None = Field(
        default=None, description="Only env_vars (strings) is supported."
    )

    @field_validator("runtime_env")
    @classmethod
    def _env_vars_only(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            if key != "env_vars":
                raise rule_error(f"got {key!r}; only env_vars is supported here", key)
        return check_runtime_env(value)


class TracingConfig(ServeModel):
    """Distributed tracing of Serve components (Ray's ``TracingConfig``)."""

    enabled: StrictBool | None = Field(default=None, description="Whether tracing is on.")
    exporter_import_path: str | None = Field(
        default=None, description="Import path of a custom span exporter."
    )
    sampling_ratio: Number | None = Field(
        default=None, ge=0, le=1, description="Fraction of traces sampled, 0.0 to 1.0."
    )


class ServeConfig(ServeModel):
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
    target_capacity: Number | None = Field(
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
                raise rule_error(
                    f"got {app.name!r} again (also applications[{names[app.name]}]); "
                    "application names must be unique",
                    index,
                    "name",
                )
            names[app.name] = index
            # Serve gives an application without route_prefix the prefix "/".
            route = app.route_prefix or "/"
            if route in routes:
                raise rule_error(
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
            pulumi_rayservice.errors.InvalidInputError: Not YAML, not a mapping, or invalid (every
                failing field is named).

        """
        return cls._parse(read_config_file(path, os.fspath(path)), os.fspath(path))

    @classmethod
    def from_yaml_text(cls, text: str) -> ServeConfig:
        """Validate a Serve config given as YAML text, such as KubeRay's ``serveConfigV2``.

        Raises:
            pulumi_rayservice.errors.InvalidInputError: Not YAML, not a mapping, or invalid (every
                failing field is named).

        """
        return cls._parse(text, "serve config")

    @classmethod
    def _parse(cls, text: str, source: str) -> ServeConfig:
        data = load_config_yaml(text, source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInputError(
                failure_message(f"{source}: invalid Serve config", failures_of(exc, cls, ""))
            ) from exc
