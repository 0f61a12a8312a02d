"""``ServeApplicationProvider``: the Pulumi dynamic provider behind ``ServeApplication``.

Runs inside the Pulumi dynamic provider host (``python -m pulumi.dynamic``), which unpickles one
instance and calls it from four threads: the provider keeps no state and builds a client per call.

- check: validates the app against Serve's schema (and what Serve accepts but then fails on or
  silently drops) and the dashboard target; failures name the field. Nothing is contacted.
- diff: pure. Replace only when the identity changes (app name, target dashboard); everything else
  is an in-place update and Serve decides what restarts.
- create/update: read-merge-write under the cluster's writer lock (:mod:`.deployer`), then wait
  for RUNNING. Whatever fails after a PUT may have landed, the cluster is put back: a failed create
  removes the app again (or, with ``adopt=True``, puts the adopted config back), a failed update
  puts the previous config back (``rollback_on_failure``); the message says what is left.
- read: what the cluster actually runs, so ``pulumi refresh`` shows drift; '' when it is proven
  gone (the API server says the head Service does not exist). A refused connection proves nothing
  (a stopped port-forward) and fails, saying what to do.
- delete: a PUT without the app; success when the app is gone or the cluster is proven gone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import (
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from .._util.inputs import (
    changed_inputs,
    check_flag,
    check_seconds,
    check_secret_text,
    check_text,
    unknown_inputs,
)
from .._util.normalize import canonical, contains_unknown, strip_provider
from .._util.polling import CLEANUP_TIMEOUT_S, Deadline
from .._util.secrets import (
    SecretsRedacted,
    check_result,
    check_secret_paths,
    log_info,
    log_warn,
    paths_under,
    redacting,
    wrap_secret_paths,
)
from ..errors import (
    DashboardGoneError,
    DashboardUnreachableError,
    RayServiceError,
)
from .client import DashboardClient
from .dashboard import check_dashboard, same_service, same_target
from .deployer import ServeDeployer
from .inputs import (
    APP_KEYS,
    CHANGE_KEYS,
    DEFAULT_TIMEOUT_S,
    FLAG_KEYS,
    INPUT_DEFAULTS,
    INPUT_KEYS,
    MAX_DRAIN_S,
    MAX_TIMEOUT_S,
    SECRET_PATHS,
    AppInputs,
    previous_app,
    route_prefix_of,
    secrets_in,
)
from .models import check_app, check_serve_options
from .models.checks import app_name_problems
from .ownership import Claim
from .status import AppState
from .writer_lock import writer_lock


class ServeApplicationProvider(ResourceProvider):
    """Deploys one Ray Serve application through the dashboard's Serve REST API."""

    # The pickled provider carries no secret (it is stateless), but Pulumi's default of always
    # marking it secret is kept: state readers see "[secret]" either way.

    @redacting(secrets_in)
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate inputs; failures name the field (``app.deployments[0].num_replicas``).

        Never raises, whatever the inputs hold: every wrong type or value is a failure.
        """
        inputs = strip_provider(news)
        failures = unknown_inputs(inputs, INPUT_KEYS)

        app = inputs.get("app")
        if app is None:
            failures.append(("app", "required: one entry of Serve's applications list"))
        elif isinstance(app, Mapping) and contains_unknown(app):
            name = app.get("name")
            if name is not None and not isinstance(name, Unknown):
                failures.extend(("app.name", reason) for reason in app_name_problems(name))
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
        elif not isinstance(dashboard, Unknown):
            failures.extend(check_dashboard(dashboard, "dashboard"))

        serve_options = inputs.get("serve_options")
        if serve_options is not None:
            options, problems = check_serve_options(serve_options, "serve_options")
            failures.extend(problems)
            if options is not None:
                inputs["serve_options"] = options

        failures.extend(check_secret_text(inputs.get("token"), "token", header=True))
        capacity = inputs.get("initial_target_capacity")
        if (
            capacity is not None
            and not isinstance(capacity, Unknown)
            and (
                isinstance(capacity, bool)
                or not isinstance(capacity, int | float)
                or not 0 <= capacity <= 100  # NaN fails this too
                or (isinstance(capacity, float) and not capacity.is_integer())
            )
        ):
            failures.append(("initial_target_capacity", "must be a whole percent 0..100"))
        for key in ("owner", "cluster_revision"):
            failures.extend(check_text(inputs, key))
        failures.extend(
            check_seconds(inputs, "timeout_s", DEFAULT_TIMEOUT_S, maximum=MAX_TIMEOUT_S)
        )
        failures.extend(check_seconds(inputs, "drain_s", 0, maximum=MAX_DRAIN_S, allow_zero=True))
        failures.extend(check_secret_paths(inputs.get("secret_paths"), "app"))
        for flag in FLAG_KEYS:
            failures.extend(check_flag(inputs, flag))

        return check_result(inputs, failures, secret_paths=SECRET_PATHS, user_secrets_in="app")

    @redacting(secrets_in)
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: compare previous outputs with new inputs; never contacts the dashboard.

        Never raises on malformed olds or news: what cannot be compared counts as a replacement.
        """
        olds, news = strip_provider(olds), strip_provider(news)
        changed = changed_inputs(olds, news, CHANGE_KEYS, INPUT_DEFAULTS)
        replaces: list[str] = []
        old_app: Mapping[str, Any] = olds["app"] if isinstance(olds.get("app"), Mapping) else {}
        new_app = news.get("app")
        new_name = new_app.get("name") if isinstance(new_app, Mapping) else new_app
        if contains_unknown(new_name) or new_name != old_app.get("name"):
            replaces.append("app")
        new_dashboard = news.get("dashboard")
        # Another cluster (a kubeconfig context that now points at another API server included)
        # is a new app there and a removal here, never an in-place update.
        same_cluster = (
            isinstance(new_dashboard, Mapping)
            and not contains_unknown(new_dashboard)
            and not check_dashboard(new_dashboard)
            and same_target(olds, new_dashboard)
        )
        if not same_cluster:
            replaces.append("dashboard")
            if "dashboard" not in changed:
                changed.append("dashboard")
        # A renamed app on the same cluster with the same route prefix cannot run beside the old
        # one (Serve refuses duplicate route prefixes): delete the old one first.
        delete_first = (
            same_cluster
            and "app" in replaces
            and isinstance(new_app, Mapping)
            and not contains_unknown(new_app.get("route_prefix"))
            and route_prefix_of(new_app) == route_prefix_of(old_app)
        )
        # The same Service behind another API server URL (an ingress, a new address) may be the
        # same cluster: created first, the new app would meet itself and write nothing, and the
        # old one's delete would then remove it. Deleted first, it is deployed again either way.
        delete_first = delete_first or (
            not same_cluster
            and isinstance(new_dashboard, Mapping)
            and not contains_unknown(new_dashboard)
            and same_service(olds, new_dashboard)
        )
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=delete_first,
        )

    @redacting(secrets_in)
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Deploy the app and wait until RUNNING; on failure put the cluster back as it was."""
        inputs = AppInputs.parse(props)
        deadline = Deadline(inputs.timeout_s)
        with SecretsRedacted(inputs.secrets()), _deployer(inputs, deadline) as deployer:
            try:
                applied = deployer.apply(
                    inputs.name,
                    inputs.app,
                    deadline=deadline,
                    claim=Claim(adopt=inputs.adopt),
                    serve_options=inputs.serve_options,
                    initial_target_capacity=inputs.initial_target_capacity,
                )
                state = deployer.wait_applied(inputs.name, applied, deadline, inputs.app)
            except RayServiceError as error:
                if not deployer.wrote:
                    raise
                adopted = deployer.replaced if inputs.adopt else None
                raise type(error)(f"{error}. {_undo_create(deployer, inputs, adopted)}") from None
            return CreateResult(inputs.resource_id, _outputs(inputs, state))

    @redacting(secrets_in)
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Apply the new config in place; on failure put the previous one back (rollback)."""
        inputs = AppInputs.parse(news)
        previous = previous_app(olds)
        deadline = Deadline(inputs.timeout_s)
        with SecretsRedacted(inputs.secrets()), _deployer(inputs, deadline) as deployer:
            try:
                applied = deployer.apply(
                    inputs.name, inputs.app, deadline=deadline, serve_options=inputs.serve_options
                )
                state = deployer.wait_applied(inputs.name, applied, deadline, inputs.app)
            except RayServiceError as error:
                if not deployer.wrote:
                    raise
                if not inputs.rollback_on_failure or previous is None:
                    raise type(error)(
                        f"{error}. The new config was left on the cluster "
                        "(rollback_on_failure=False); the next `pulumi up` applies it again."
                    ) from None
                raise type(error)(f"{error}. {_roll_back(deployer, inputs, previous)}") from None
            return UpdateResult(_outputs(inputs, state))

    @redacting(secrets_in)
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Report what runs on the cluster (``deployed_app_config``) so refresh shows drift."""
        inputs = AppInputs.parse(props)
        with SecretsRedacted(inputs.secrets()):
            try:
                deadline = Deadline(inputs.timeout_s)
                with _deployer(inputs, deadline) as deployer:
                    snapshot = deployer.proven_snapshot(deadline)
            except DashboardGoneError:
                return ReadResult("", {})  # the API server says the head Service is gone
            except DashboardUnreachableError as error:
                if error.refused:
                    raise DashboardUnreachableError(
                        _not_proven_gone(inputs, error, "refresh"), refused=True
                    ) from None
                raise
            state = snapshot.apps.get(inputs.name)
            if state is None or state.deployed_app_config is None or state.is_deleting:
                return ReadResult("", {})
            live = AppInputs(**{**inputs.__dict__, "app": state.deployed_app_config})
            outputs = _outputs(live, state)
            return ReadResult(id_ or inputs.resource_id, outputs)

    @redacting(secrets_in)
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Remove the app with a PUT of everything else; gone app or gone cluster is success."""
        inputs = AppInputs.parse(props)
        with SecretsRedacted(inputs.secrets()), _deployer(inputs) as deployer:
            if inputs.drain_s > 0:
                # In-flight requests (routed here before a Service switched away) finish first.
                log_info(f"draining {inputs.name!r} for {inputs.drain_s:g}s before removal")
                time.sleep(inputs.drain_s)
            deadline = Deadline(inputs.timeout_s)
            try:
                applied = deployer.apply(inputs.name, None, deadline=deadline)
            except DashboardGoneError:
                return  # the API server says the head Service is gone: so are its apps
            except DashboardUnreachableError as error:
                if not error.refused:
                    raise
                raise DashboardUnreachableError(
                    _not_proven_gone(inputs, error, "destroy"), refused=True
                ) from None
            if applied.put and inputs.wait_for_removal:
                deployer.wait_gone(inputs.name, deadline=deadline)


def _deployer(inputs: AppInputs, deadline: Deadline | None = None) -> ServeDeployer:
    target = inputs.target
    return ServeDeployer(
        DashboardClient.for_target(target, deadline=deadline),
        warn=log_warn,
        lock=lambda deadline: writer_lock(target, inputs.owner, deadline),
    )


def _not_proven_gone(inputs: AppInputs, error: DashboardUnreachableError, command: str) -> str:
    """A refused connection is not proof that the cluster and the app are gone: say what to do."""
    return (
        f"{error}. A refused connection does not prove the cluster is gone (a stopped "
        f"port-forward or a restarting head refuse too), so {inputs.name!r} is not taken as "
        f"removed. Make the dashboard reachable and run `pulumi {command}` again; if the cluster "
        "is gone for good, drop the app from the stack with `pulumi state delete <urn>`"
    )


def _undo_create(deployer: ServeDeployer, inputs: AppInputs, adopted: AppState | None) -> str:
    """Put the cluster back as it was before a failed create; say what was left."""
    deadline = Deadline(min(inputs.timeout_s, CLEANUP_TIMEOUT_S))
    if adopted is not None and adopted.config is not None and not adopted.is_deleting:
        try:
            applied = deployer.put_back(inputs.name, adopted, deadline=deadline)
            deployer.wait_applied(inputs.name, applied, deadline, adopted.deployed_app_config)
        except RayServiceError as restore_error:
            return (
                f"Putting the adopted config of {inputs.name!r} back failed ({restore_error}); "
                f"{inputs.name!r} may run the new config or the adopted one"
            )
        return (
            f"The config {inputs.name!r} ran before it was adopted was put back and is RUNNING "
            "again; nothing else was changed"
        )
    try:
        applied = deployer.apply(inputs.name, None, deadline=deadline)
        if applied.put:
            deployer.wait_gone(inputs.name, deadline=deadline)
    except RayServiceError as cleanup_error:
        return f"Removing it again failed ({cleanup_error}); {inputs.name!r} may still be there"
    return "It was removed again; nothing was left on the cluster"


def _roll_back(deployer: ServeDeployer, inputs: AppInputs, previous: Mapping[str, Any]) -> str:
    """Put the previous config back after a failed update; say whether it runs again."""
    deadline = Deadline(min(inputs.timeout_s, CLEANUP_TIMEOUT_S))
    try:
        applied = deployer.apply(inputs.name, previous, deadline=deadline)
        deployer.wait_applied(inputs.name, applied, deadline, previous)
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
    derived = paths_under(inputs.raw, APP_KEYS)
    return wrap_secret_paths(outputs, [*SECRET_PATHS, *derived])
