"""``ServeApplicationProvider``: the Pulumi dynamic provider behind ``ServeApplication``.

Runs inside the Pulumi dynamic provider host (``python -m pulumi.dynamic``), which unpickles one
instance and calls it from four threads: the provider keeps no state and builds a client per call.

- check: validates the app against Serve's schema (and what Serve accepts but then fails on or
  silently drops) and the dashboard target; failures name the field. Nothing is contacted.
- diff: pure. Replace only when the identity changes (app name, target dashboard); everything else
  is an in-place update and Serve decides what restarts.
- create/update: read-merge-write, then wait for RUNNING. A failed create removes the app again; a
  failed update puts the previous config back (``rollback_on_failure``) and says so.
- read: what the cluster actually runs, so ``pulumi refresh`` shows drift; '' when gone.
- delete: a PUT without the app; success when the app or the whole cluster is already gone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from .._util.inputs import changed_inputs, check_seconds, unknown_inputs
from .._util.normalize import canonical, contains_unknown, strip_provider
from .._util.polling import Deadline
from .._util.secrets import SecretsRedacted, wrap_secret_paths
from ..errors import (
    AppOwnershipError,
    DashboardGoneError,
    DashboardUnreachableError,
    RayServiceError,
    ServeDeployError,
)
from .client import DashboardClient
from .dashboard import DashboardTarget, check_dashboard, dashboard_identity
from .deployer import ServeDeployer
from .models import check_app, check_serve_options
from .status import AppState, ServeSnapshot

DEFAULT_TIMEOUT_S = 600.0
CLEANUP_TIMEOUT_S = 120.0
INPUT_KEYS = (
    "app", "dashboard", "token", "timeout_s", "adopt", "rollback_on_failure", "serve_options",
    "drain_s", "cluster_revision", "wait_for_removal",
)  # fmt: skip
INPUT_DEFAULTS: dict[str, Any] = {
    "timeout_s": 600,
    "adopt": False,
    "rollback_on_failure": True,
    "drain_s": 0,
    "wait_for_removal": True,
}
SECRET_PATHS = (("token",), ("dashboard", "token"), ("dashboard", "kube", "content"))


@dataclass(frozen=True)
class AppInputs:
    """The checked inputs of one ServeApplication, as the provider uses them."""

    app: dict[str, Any]
    target: DashboardTarget
    timeout_s: float
    adopt: bool
    rollback_on_failure: bool
    serve_options: dict[str, Any] | None
    drain_s: float
    wait_for_removal: bool
    raw: dict[str, Any]

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> AppInputs:
        """Read checked inputs (or previous outputs, which carry the same keys)."""
        raw = {k: props[k] for k in INPUT_KEYS if k in props}
        return cls(
            app=canonical(dict(props["app"])),
            target=DashboardTarget.from_input(props["dashboard"], props.get("token")),
            timeout_s=float(props.get("timeout_s") or DEFAULT_TIMEOUT_S),
            adopt=bool(props.get("adopt", False)),
            rollback_on_failure=bool(props.get("rollback_on_failure", True)),
            serve_options=canonical(dict(props["serve_options"]))
            if props.get("serve_options")
            else None,
            drain_s=float(props.get("drain_s") or 0),
            wait_for_removal=bool(props.get("wait_for_removal", True)),
            raw=raw,
        )

    @property
    def name(self) -> str:
        """The Serve application name (part of the identity)."""
        return str(self.app["name"])

    @property
    def resource_id(self) -> str:
        """The Pulumi id: app name and dashboard identity, no secrets."""
        return f"{self.name}@{self.target.key}"

    def secrets(self) -> list[Any]:
        """The secret values of this call, to blank out of any error message."""
        kube = self.target.kube or {}
        return [self.target.token, kube.get("content")]


class ServeApplicationProvider(ResourceProvider):
    """Deploys one Ray Serve application through the dashboard's Serve REST API."""

    # The pickled provider carries no secret (it is stateless), but Pulumi's default of always
    # marking it secret is kept: state readers see "[secret]" either way.

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate inputs; failures name the field (``app.deployments[0].num_replicas``)."""
        inputs = strip_provider(news)
        failures = unknown_inputs(inputs, INPUT_KEYS)

        app = inputs.get("app")
        if app is None:
            failures.append(("app", "required: one entry of Serve's applications list"))
        elif contains_unknown(app):
            name = app.get("name") if isinstance(app, Mapping) else None
            if name is not None and not contains_unknown(name) and not isinstance(name, str):
                failures.append(("app.name", "must be a string"))
        else:
            normalized, problems = check_app(app, "app")
            failures.extend(problems)
            if normalized is not None:
                inputs["app"] = normalized

        dashboard = inputs.get("dashboard")
        if dashboard is None:
            failures.append(
                ("dashboard", "required: rs.Dashboard(url=...) or a RayCluster's dashboard")
            )
        elif not contains_unknown(dashboard):
            failures.extend(check_dashboard(dashboard, "dashboard"))

        serve_options = inputs.get("serve_options")
        if serve_options is not None:
            options, problems = check_serve_options(serve_options, "serve_options")
            failures.extend(problems)
            if options is not None:
                inputs["serve_options"] = options
        failures.extend(check_seconds(inputs, "drain_s", 0, allow_zero=True))

        token = inputs.get("token")
        if token is not None and not contains_unknown(token) and not isinstance(token, str):
            failures.append(("token", f"got {type(token).__name__}; must be a string"))

        failures.extend(check_seconds(inputs, "timeout_s", DEFAULT_TIMEOUT_S))
        for flag in ("adopt", "rollback_on_failure"):
            value = inputs.get(flag)
            if value is not None and not contains_unknown(value) and not isinstance(value, bool):
                failures.append((flag, f"got {value!r}; must be true or false"))

        return CheckResult(
            wrap_secret_paths(inputs, SECRET_PATHS),
            [CheckFailure(prop, reason) for prop, reason in failures],
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: compare previous outputs with new inputs; never contacts the dashboard."""
        olds, news = strip_provider(olds), strip_provider(news)
        changed = changed_inputs(olds, news, INPUT_KEYS, INPUT_DEFAULTS)
        replaces: list[str] = []
        old_app, new_app = olds.get("app") or {}, news.get("app")
        new_name = new_app.get("name") if isinstance(new_app, Mapping) else new_app
        if contains_unknown(new_name) or new_name != old_app.get("name"):
            replaces.append("app")
        same_target = False
        new_dashboard = news.get("dashboard")
        old_target = dashboard_identity(olds.get("dashboard") or {})
        if (
            contains_unknown(new_dashboard)
            or not isinstance(new_dashboard, Mapping)
            or dashboard_identity(new_dashboard) != old_target
        ):
            replaces.append("dashboard")
        else:
            same_target = True
        # A renamed app on the same cluster with the same route prefix cannot run beside the old
        # one (Serve refuses duplicate route prefixes): delete the old one first.
        delete_first = (
            same_target
            and "app" in replaces
            and isinstance(new_app, Mapping)
            and not contains_unknown(new_app.get("route_prefix"))
            and route_prefix_of(new_app) == route_prefix_of(old_app)
        )
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=delete_first,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Deploy the app and wait until RUNNING; on failure remove it again."""
        inputs = AppInputs.parse(props)
        with SecretsRedacted(inputs.secrets()), _deployer(inputs.target) as deployer:
            applied = deployer.apply(
                inputs.name,
                inputs.app,
                guard=_ownership_guard(inputs),
                serve_options=inputs.serve_options,
            )
            try:
                state = deployer.wait_applied(inputs.name, applied, Deadline(inputs.timeout_s))
            except ServeDeployError as error:
                raise ServeDeployError(
                    f"{error}. {_remove_after_failure(deployer, inputs)}"
                ) from None
            return CreateResult(inputs.resource_id, _outputs(inputs, state))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Apply the new config in place; on failure put the previous one back (rollback)."""
        inputs = AppInputs.parse(news)
        previous = canonical(olds.get("app"))
        with SecretsRedacted(inputs.secrets()), _deployer(inputs.target) as deployer:
            applied = deployer.apply(inputs.name, inputs.app, serve_options=inputs.serve_options)
            try:
                state = deployer.wait_applied(inputs.name, applied, Deadline(inputs.timeout_s))
            except ServeDeployError as error:
                if not inputs.rollback_on_failure or not isinstance(previous, Mapping):
                    raise ServeDeployError(
                        f"{error}. The new config was left on the cluster "
                        "(rollback_on_failure=False); the next `pulumi up` applies it again."
                    ) from None
                raise ServeDeployError(
                    f"{error}. {_roll_back(deployer, inputs, previous)}"
                ) from None
            return UpdateResult(_outputs(inputs, state))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Report what runs on the cluster (``deployed_app_config``) so refresh shows drift."""
        inputs = AppInputs.parse(props)
        with SecretsRedacted(inputs.secrets()):
            try:
                with _deployer(inputs.target) as deployer:
                    snapshot = deployer.snapshot()
            except DashboardGoneError:
                return ReadResult("", {})
            except DashboardUnreachableError as error:
                if error.refused:
                    return ReadResult("", {})
                raise
            state = snapshot.apps.get(inputs.name)
            if state is None or state.deployed_app_config is None or state.status == "DELETING":
                return ReadResult("", {})
            live = AppInputs(**{**inputs.__dict__, "app": state.deployed_app_config})
            outputs = _outputs(live, state)
            outputs["app"] = state.deployed_app_config
            return ReadResult(id_ or inputs.resource_id, outputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Remove the app with a PUT of everything else; gone app or gone cluster is success."""
        inputs = AppInputs.parse(props)
        with SecretsRedacted(inputs.secrets()), _deployer(inputs.target) as deployer:
            if inputs.drain_s > 0:
                # In-flight requests (routed here before a Service switched away) finish first.
                pulumi.log.info(f"draining {inputs.name!r} for {inputs.drain_s:g}s before removal")
                time.sleep(inputs.drain_s)
            try:
                applied = deployer.apply(inputs.name, None)
            except DashboardGoneError:
                return
            except DashboardUnreachableError as error:
                if not error.refused:
                    raise
                pulumi.log.warn(
                    f"{inputs.target.describe()} refuses connections; taking the cluster and "
                    f"{inputs.name!r} as already gone"
                )
                return
            if applied.before is not None and inputs.wait_for_removal:
                deployer.wait_gone(inputs.name, deadline=Deadline(inputs.timeout_s))


def route_prefix_of(app: Mapping[str, Any]) -> str | None:
    """Serve's route prefix of an app config (Serve's default is "/")."""
    prefix = app.get("route_prefix", "/")
    return None if prefix is None else str(prefix)


def _deployer(target: DashboardTarget) -> ServeDeployer:
    return ServeDeployer(DashboardClient.for_target(target), target.key)


def _ownership_guard(inputs: AppInputs) -> Any:
    """Refuse to take over an app of that name that differs from ours, unless ``adopt=True``."""

    def guard(snapshot: ServeSnapshot, before: AppState | None) -> None:
        prefix = route_prefix_of(inputs.app)
        for other in snapshot.apps.values():
            taken = other.route_prefix == prefix and other.status != "DELETING"
            if other.name != inputs.name and prefix is not None and taken:
                raise AppOwnershipError(
                    f"route_prefix {prefix} is already served by app {other.name!r} on "
                    f"{inputs.target.describe()}; choose another route_prefix"
                )
        if before is None or inputs.adopt:
            return
        if before.deployed_app_config == inputs.app and before.status != "DELETING":
            return  # exactly what we want runs already: a re-run after an interrupted create
        if before.deployed_app_config is None:
            origin = "from Python code (serve.run)"
        else:
            origin = "with a different config"
        raise AppOwnershipError(
            f"an application named {inputs.name!r} already runs on {inputs.target.describe()} "
            f"(deployed {origin}) and was not created by this resource; set adopt=True to take it "
            "over, or choose another name"
        )

    return guard


def _remove_after_failure(deployer: ServeDeployer, inputs: AppInputs) -> str:
    """Take a failed new app off the cluster again; say what was left."""
    try:
        applied = deployer.apply(inputs.name, None)
        if applied.before is not None:
            deployer.wait_gone(inputs.name, deadline=Deadline(CLEANUP_TIMEOUT_S))
    except RayServiceError as cleanup_error:
        return f"Removing it again failed ({cleanup_error}); it may still be on the cluster"
    return "It was removed again; nothing was left on the cluster"


def _roll_back(deployer: ServeDeployer, inputs: AppInputs, previous: Mapping[str, Any]) -> str:
    """Put the previous config back after a failed update; say whether it runs again."""
    try:
        applied = deployer.apply(inputs.name, previous)
        deployer.wait_applied(
            inputs.name, applied, Deadline(min(inputs.timeout_s, CLEANUP_TIMEOUT_S))
        )
    except RayServiceError as rollback_error:
        return f"Rolling back to the previous config failed too: {rollback_error}"
    return "Rolled back to the previous config, which is RUNNING again"


def _outputs(inputs: AppInputs, state: AppState) -> dict[str, Any]:
    """Every output (the engine stores exactly what is returned), secrets wrapped."""
    outputs: dict[str, Any] = {
        **inputs.raw,
        "app": inputs.app,
        "timeout_s": canonical(inputs.timeout_s),
        "adopt": inputs.adopt,
        "rollback_on_failure": inputs.rollback_on_failure,
        "app_name": inputs.name,
        "target": inputs.target.key,
        "status": state.status,
        "message": state.message,
        "deployments": state.deployment_statuses(),
        "route_prefix": state.route_prefix,
        "deployed_app": state.deployed_app_config,
    }
    return wrap_secret_paths(outputs, SECRET_PATHS)
