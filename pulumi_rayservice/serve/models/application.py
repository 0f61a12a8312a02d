"""One Serve application (Ray's ``ServeApplicationSchema``): the unit a ServeApplication deploys.

Holds the application-level rules (route prefix, import path, unique deployment names, no
per-application host or port, no autoscaling under an external scaler), its conversion to what
Serve's REST API takes, and the reading of one application out of a Serve config file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import Field, StrictBool, ValidationError, field_validator, model_validator

from pulumi_rayservice._util.normalize import canonical
from pulumi_rayservice.errors import InvalidInputError

from ._base import AppName, Integer, JSONDict, NonEmptyStr, ServeModel, brief_repr, rule_error
from ._yaml import load_config_yaml, read_config_file
from .autoscaling import AutoscalingPolicy
from .deployment import ServeDeployment
from .errors import failure_message, failures_of
from .logging_config import LoggingConfig
from .runtime_env import check_runtime_env


def _check_route_prefix(value: str | None) -> str | None:
    if value is None:
        return value
    if not value.startswith("/"):
        raise rule_error(f'got {brief_repr(value)}; a route prefix must start with "/"')
    if len(value) > 1 and value.endswith("/"):
        raise rule_error(
            f'got {brief_repr(value)}; a route prefix cannot end with "/" unless it is just "/"'
        )
    if "{" in value or "}" in value:
        raise rule_error(
            f'got {brief_repr(value)}; a route prefix cannot contain wildcards ("{{" or "}}")'
        )
    return value


def _check_import_path(value: str) -> str:
    # ServeApplicationSchema.import_path_format_valid
    if ":" in value:
        if value.count(":") > 1:
            raise rule_error(f"got {brief_repr(value)}; an import path may have at most one colon")
        if value.startswith(":") or value.endswith(":"):
            raise rule_error(
                f"got {brief_repr(value)}; an import path may not start or end with a colon"
            )
        return value
    if "." not in value:
        raise rule_error(
            f"got {brief_repr(value)}; must be module.attribute or module:attribute (a "
            '"." or ":" separating the module from the application), e.g. "fruit.deployment_graph"'
        )
    if value.startswith(".") or value.endswith("."):
        raise rule_error(f"got {brief_repr(value)}; an import path may not start or end with a dot")
    return value


class ServeApp(ServeModel):
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

    name: AppName = Field(
        description="Application name, unique on the cluster (Ray Serve's default 'default' is "
        "not assumed: the name is the application's identity)."
    )
    route_prefix: str | None = Field(
        default=None,
        description='HTTP route prefix: starts with "/", no trailing "/" (except "/" itself), no '
        "wildcards. Unset: Serve's default \"/\". (Serve's route_prefix: null, no HTTP route, "
        "cannot be expressed: null values are dropped.)",
    )
    import_path: NonEmptyStr = Field(
        description='Import path of the bound application: "module.submodule.app" or '
        '"module.submodule:app".'
    )
    runtime_env: JSONDict | None = Field(
        default=None,
        description="The application's runtime_env; deployments inherit it. working_dir and "
        "py_modules must be remote URIs (https://, s3://, gs://, file:///x.zip) or local:// URIs.",
    )
    host: str | None = Field(
        default=None,
        description="Accepted by Ray's single-application schema only; refused in the "
        "multi-application config Serve's REST API takes. Set http_options.host instead.",
    )
    port: Integer | None = Field(
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
    args: JSONDict | None = Field(
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
        return check_runtime_env(value)

    @field_validator("host", "port")
    @classmethod
    def _not_per_app(cls, value: Any) -> Any:
        if value is not None:
            raise rule_error(
                f"got {brief_repr(value)}; Serve's multi-application config refuses a "
                "per-application "
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
                raise rule_error(
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
                    raise rule_error(
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
            pulumi_rayservice.errors.InvalidInputError: The file is not a Serve config, the
                application is absent or ambiguous (the names found are listed), or invalid (every
                failing field is named).

        """
        source = os.fspath(path)
        data = load_config_yaml(read_config_file(path, source), source)
        if "import_path" in data and "applications" not in data:
            raw = dict(data)
            if name is not None:
                found = raw.get("name")
                if found is None:
                    raw["name"] = name
                elif found != name:
                    raise InvalidInputError(
                        f"{source}: holds application {found!r}, not {name!r}; found: {found!r}"
                    )
            return _validate_app(raw, source, "")
        apps = data.get("applications")
        if not isinstance(apps, list):
            raise InvalidInputError(
                f"{source}: not a Serve config: no 'applications:' list and no 'import_path:' "
                "at top level"
            )
        names = [app.get("name") if isinstance(app, Mapping) else None for app in apps]
        found_text = ", ".join(repr(n) for n in names) or "none"
        if name is None:
            if len(apps) != 1:
                raise InvalidInputError(
                    f"{source}: holds {len(apps)} applications ({found_text}); "
                    "pass name= to choose one"
                )
            index = 0
        else:
            matches = [i for i, found in enumerate(names) if found == name]
            if not matches:
                raise InvalidInputError(
                    f"{source}: no application named {name!r}; found: {found_text}"
                )
            if len(matches) > 1:
                raise InvalidInputError(
                    f"{source}: application {name!r} appears {len(matches)} times; "
                    "names must be unique"
                )
            index = matches[0]
        return _validate_app(apps[index], source, f"applications[{index}]")


def _validate_app(raw: Any, source: str, prefix: str) -> ServeApp:
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{source}: {prefix or 'the file'} must be a mapping")
    try:
        return ServeApp.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInputError(
            failure_message(
                f"{source}: invalid Serve application", failures_of(exc, ServeApp, prefix)
            )
        ) from exc
