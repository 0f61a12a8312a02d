"""The ``TrafficSplit`` provider: a service's Gateway and HTTPRoute, and the incremental upgrade.

- Check validates the options as KubeRay's ``clusterUpgradeOptions`` (and ours), naming the field.
- Diff contacts nothing (it only logs the plan): a new cluster is an update (the upgrade runs
  in it); another Gateway or another service name is a replacement; stored weights that are not
  all on the wanted cluster (an interrupted upgrade, read back by ``pulumi refresh``) are an
  update that puts them right.
- Create makes (or finds) the Gateway, raises the cluster's Serve capacity to 100, waits for its
  apps, and routes all traffic to it.
- Update with another cluster runs :class:`~.runner.Rollout` from the previous cluster to the new
  one; with the same cluster it moves any traffic left elsewhere back to it at once.
- Delete removes the route and our Gateway (an existing Gateway is never touched).
- Read reports the route's live weights.

A failed gate rolls traffic back to the old cluster (Pulumi keeps the old cluster, pending its
deletion after the next successful ``up``) and deletes the new one (it is this stack's, checked),
unless ``keep_pending_cluster`` keeps it for inspection. Pulumi's state still lists the deleted
cluster: the next ``up`` says so before touching anything, and ``pulumi up --refresh`` makes a new
one and tries again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
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
from pydantic import ValidationError

from .._util.inputs import (
    check_seconds,
    check_text,
    kube_problems,
    unknown_inputs,
)
from .._util.k8s_names import dns1035_label_problem, dns1123_label_problem, port_problem
from .._util.normalize import canonical, contains_unknown, strip_provider
from .._util.polling import Deadline
from .._util.secrets import SecretsRedacted, check_result, log_info, redacting
from ..cluster.inputs import MANAGED_BY, MANAGED_BY_LABEL, STACK_ANNOTATION
from ..errors import (
    ClusterGoneError,
    ClusterOwnershipError,
    RolloutError,
    RolloutRolledBackError,
)
from ..kube.client import RAY_CLUSTER, KubeClient
from ..kube.objects import meta
from ..serve.client import DashboardClient
from ..serve.dashboard import DashboardTarget, check_dashboard
from ..serve.deployer import ServeDeployer
from ..serve.status import ServeSnapshot
from ..serve.writer_lock import writer_lock
from .gates import GateResult
from .gateway_api import route_weights, serve_service_name
from .health import ServeCapacities, ServeHealth, ServiceProbe, prometheus_query
from .inputs import (
    DEFAULT_TIMEOUT_S,
    INPUT_DEFAULTS,
    INPUT_KEYS,
    SECRET_PATHS,
    SplitInputs,
    secrets_in,
)
from .kube_route import KubeGateway, KubeRoute
from .options import ClusterUpgradeOptions
from .plan import FULL
from .runner import Rollout

MAX_TIMEOUT_S = 3600.0
REPLACING_KEYS = ("name", "namespace")


class TrafficSplitProvider(ResourceProvider):
    """Routes a service's traffic through the Gateway API and runs its incremental upgrades."""

    @redacting(secrets_in)
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate inputs; failures name the field (``options.step_size_percent``)."""
        inputs = strip_provider(news)
        failures = unknown_inputs(inputs, INPUT_KEYS)
        for key, rule in (("name", dns1035_label_problem), ("namespace", dns1123_label_problem)):
            value = inputs.get(key)
            if value is None:
                failures.append((key, "required"))
            elif not isinstance(value, Unknown) and rule(value):
                failures.append((key, str(rule(value))))
        cluster = inputs.get("cluster")
        if cluster is None:
            failures.append(("cluster", "required: the RayCluster's name"))
        elif not isinstance(cluster, str | Unknown):
            failures.append(("cluster", f"must be a string, got {type(cluster).__name__}"))
        dashboard = inputs.get("dashboard")
        if dashboard is None:
            failures.append(("dashboard", "required: the RayCluster's dashboard"))
        elif not isinstance(dashboard, Unknown):
            failures.extend(check_dashboard(dashboard, "dashboard"))
        port = inputs.get("serve_port", INPUT_DEFAULTS["serve_port"])
        if not isinstance(port, Unknown) and (port_problem(port) or isinstance(port, str)):
            failures.append(("serve_port", "must be a port number 1..65535"))
        apps = inputs.get("apps")
        if not isinstance(apps, Unknown) and (
            not isinstance(apps, list) or not all(isinstance(a, str | Unknown) for a in apps)
        ):
            failures.append(("apps", "must be a list of Serve application names"))
        failures.extend(_option_failures(inputs.get("options")))
        failures.extend(kube_problems(inputs.get("kube")))
        for key in ("owner", "resource_name"):
            failures.extend(check_text(inputs, key))
        failures.extend(
            check_seconds(inputs, "timeout_s", DEFAULT_TIMEOUT_S, maximum=MAX_TIMEOUT_S)
        )
        return check_result(inputs, failures, secret_paths=SECRET_PATHS, user_secrets_in="options")

    @redacting(secrets_in)
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: which changes replace (name, namespace, the Gateway) and which update."""
        olds, news = strip_provider(olds), strip_provider(news)
        changed = [
            key
            for key in INPUT_KEYS
            if olds.get(key, INPUT_DEFAULTS.get(key)) != news.get(key, INPUT_DEFAULTS.get(key))
        ]
        replaces = [key for key in REPLACING_KEYS if key in changed]
        if "options" in changed and _gateway_of(olds) != _gateway_of(news):
            replaces.append("options")
        cluster = news.get("cluster")
        if "cluster" in changed and olds.get("cluster") is not None:
            _log_plan(olds, news)
        if isinstance(cluster, str) and not contains_unknown(cluster):
            wanted = serve_service_name(cluster)
            weights = olds.get("weights")
            if isinstance(weights, Mapping) and dict(weights) != {wanted: FULL}:
                changed.append("weights")  # traffic left elsewhere (read back by a refresh)
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=True,  # fixed names: the old route must go first
        )

    @redacting(secrets_in)
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Make (or find) the Gateway, bring the cluster to full capacity, route all to it."""
        inputs = SplitInputs.parse(props)
        deadline = Deadline(inputs.timeout_s + inputs.options.health_gates.ready_timeout_s)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube, deadline=deadline) as kube:
            _gateway(kube, inputs).ensure()
            capacities = _capacities(inputs, None, deadline)
            capacities.set_capacity(inputs.cluster, FULL)
            with _health(inputs) as health:
                _require_healthy(health.check(inputs.cluster, 0), inputs)
            route = _route(kube, inputs)
            route.set_weights([(inputs.backend, FULL)])
            log_info(f"{route.what}: all traffic to {inputs.cluster}")
            return CreateResult(
                f"{inputs.namespace}/{inputs.route_name}", _outputs(inputs, route.weights())
            )

    @redacting(secrets_in)
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Run the incremental upgrade to a new cluster, or put stray traffic back."""
        inputs = SplitInputs.parse(news)
        previous = SplitInputs.parse(olds)
        options = inputs.options
        steps = len(options.plan())
        budget = inputs.timeout_s + steps * (
            options.interval_seconds + options.health_gates.ready_timeout_s + inputs.timeout_s
        )
        deadline = Deadline(budget)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube, deadline=deadline) as kube:
            _gateway(kube, inputs).ensure()
            route = _route(kube, inputs)
            if previous.cluster == inputs.cluster:
                if route.weights() != {inputs.backend.service: FULL}:
                    _capacities(inputs, None, deadline).set_capacity(inputs.cluster, FULL)
                    route.set_weights([(inputs.backend, FULL)])
                    log_info(f"{route.what}: all traffic back on {inputs.cluster}")
                return UpdateResult(_outputs(inputs, route.weights()))
            _require_cluster(kube, inputs)
            capacities = _capacities(inputs, previous, deadline)
            with _health(inputs) as health:
                rollout = Rollout(
                    previous.backend,
                    inputs.backend,
                    options,
                    route=route,
                    capacity=capacities,
                    health=health,
                    log=log_info,
                )
                try:
                    rollout.run()
                except RolloutRolledBackError as error:
                    left = _after_rollback(kube, inputs)
                    raise RolloutRolledBackError(f"{error}. {left}") from None
            return UpdateResult(_outputs(inputs, route.weights()))

    @redacting(secrets_in)
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Delete the route, then our Gateway (an existing Gateway is left as it is)."""
        inputs = SplitInputs.parse(props)
        deadline = Deadline(inputs.timeout_s)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube, deadline=deadline) as kube:
            _route(kube, inputs).delete()
            _gateway(kube, inputs).delete()

    @redacting(secrets_in)
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The stored outputs with the route's live weights (how ``pulumi refresh`` sees it)."""
        inputs = SplitInputs.parse(props)
        deadline = Deadline(inputs.timeout_s)
        with SecretsRedacted(inputs.secrets()), KubeClient(inputs.kube, deadline=deadline) as kube:
            live = _route(kube, inputs).live()
        if live is None:
            return ReadResult(None, {})  # the route is gone: so is this resource
        return ReadResult(id_, _outputs(inputs, route_weights(live)))


def _log_plan(olds: Mapping[str, Any], news: Mapping[str, Any]) -> None:
    """Say in the preview what the update will do: the steps, the capacity, the gates."""
    options = news.get("options")
    if not isinstance(options, Mapping) or contains_unknown(options) or _option_failures(options):
        return
    plan = ClusterUpgradeOptions.model_validate(canonical(options)).describe_plan()
    cluster = news.get("cluster")
    new = cluster if isinstance(cluster, str) else "a new cluster"
    log_info(f"incremental upgrade from {olds.get('cluster')} to {new}: " + "; ".join(plan))


def _option_failures(options: Any) -> list[tuple[str, str]]:
    if options is None:
        return [("options", "required: rs.ClusterUpgradeOptions(...)")]
    if isinstance(options, Unknown) or contains_unknown(options):
        return []
    try:
        ClusterUpgradeOptions.model_validate(canonical(options))
    except ValidationError as error:
        return [
            (".".join(["options", *map(str, e["loc"])]), e["msg"])
            for e in error.errors(include_url=False)
        ]
    return []


def _gateway_of(props: Mapping[str, Any]) -> Any:
    options = props.get("options") or {}
    if not isinstance(options, Mapping):
        return None
    return options.get("gateway_class_name"), options.get("gateway")


def _gateway(kube: KubeClient, inputs: SplitInputs) -> KubeGateway:
    return KubeGateway(
        kube,
        inputs.gateway,
        inputs.owner_labels,
        inputs.timeout_s,
        inputs.options.gateway_class_name,
    )


def _route(kube: KubeClient, inputs: SplitInputs) -> KubeRoute:
    return KubeRoute(
        kube,
        inputs.namespace,
        inputs.route_name,
        inputs.gateway,
        inputs.owner_labels,
        inputs.timeout_s,
    )


def _deployer(
    target: DashboardTarget, owner: str, deadline: Deadline
) -> Callable[[], ServeDeployer]:
    def make() -> ServeDeployer:
        return ServeDeployer(
            DashboardClient.for_target(target, deadline=deadline),
            lock=lambda d: writer_lock(target, owner or None, d),
        )

    return make


def _capacities(
    inputs: SplitInputs, previous: SplitInputs | None, deadline: Deadline
) -> ServeCapacities:
    deployers = {inputs.cluster: _deployer(inputs.dashboard, inputs.owner, deadline)}
    if previous is not None:
        deployers[previous.cluster] = _deployer(previous.dashboard, inputs.owner, deadline)
    return ServeCapacities(deployers, set(inputs.apps), deadline)


@contextlib.contextmanager
def _health(inputs: SplitInputs) -> Iterator[ServeHealth]:
    """The gates on ``inputs.cluster``; the probes' connection pool is closed afterwards."""
    gates = inputs.options.health_gates

    def read_apps() -> Mapping[str, Any]:
        with DashboardClient.for_target(inputs.dashboard, deadline=Deadline(30)) as client:
            return ServeSnapshot.from_details(client.get_applications()).apps

    prometheus = gates.prometheus
    with DashboardClient.for_target(inputs.serve_target()) as probe_client:
        yield ServeHealth(
            inputs.apps,
            gates,
            read_apps=read_apps,
            send=ServiceProbe(probe_client),
            query=prometheus_query(prometheus.url) if prometheus is not None else None,
        )


def _require_healthy(results: list[GateResult], inputs: SplitInputs) -> None:
    failed = [r for r in results if not r.passed]
    if failed:
        raise RolloutError(
            f"{inputs.cluster} is not ready for traffic, so no route was made to it: "
            + "; ".join(r.line() for r in failed)
        )


def _after_rollback(kube: KubeClient, inputs: SplitInputs) -> str:
    """Delete the new cluster (unless kept for inspection), and say what was left."""
    if inputs.options.keep_pending_cluster:
        return (
            f"The new cluster {inputs.cluster} was kept for inspection (keep_pending_cluster), "
            "serving nothing; the next `pulumi up` tries the upgrade again on it"
        )
    try:
        deleted = _delete_our_cluster(kube, inputs)
    except Exception as error:  # the rollback itself is done; say what could not be removed
        return f"Deleting the new cluster {inputs.cluster} failed ({error}); it may still exist"
    if not deleted:
        return f"The new cluster {inputs.cluster} was already gone"
    return (
        f"The new cluster {inputs.cluster} was deleted; `pulumi up --refresh` makes a new one "
        "and tries the upgrade again"
    )


def _delete_our_cluster(kube: KubeClient, inputs: SplitInputs) -> bool:
    """Delete the pending RayCluster if this stack's RayService made it (False: it was gone)."""
    live = kube.get(RAY_CLUSTER, inputs.namespace, inputs.cluster)
    if live is None:
        return False
    metadata = meta(live)
    labels = metadata.get("labels") or {}
    stack = (metadata.get("annotations") or {}).get(STACK_ANNOTATION)
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY or stack != inputs.owner:
        raise ClusterOwnershipError(
            f"RayCluster {inputs.namespace}/{inputs.cluster} is not this stack's; it was left as is"
        )
    kube.delete(RAY_CLUSTER, inputs.namespace, inputs.cluster, uid=metadata.get("uid"))
    return True


def _require_cluster(kube: KubeClient, inputs: SplitInputs) -> None:
    """Refuse to upgrade to a cluster that is gone (deleted after a rolled-back upgrade)."""
    if kube.get(RAY_CLUSTER, inputs.namespace, inputs.cluster) is None:
        raise ClusterGoneError(
            f"RayCluster {inputs.namespace}/{inputs.cluster} no longer exists (a rolled-back "
            "upgrade deletes its new cluster); nothing was changed. Run `pulumi up --refresh` to "
            "make a new one and try the upgrade again"
        )


def _outputs(inputs: SplitInputs, weights: Mapping[str, int]) -> dict[str, Any]:
    gateway = inputs.gateway
    return {
        **dict(inputs.raw),
        "gateway": {"name": gateway.name, "namespace": gateway.namespace},
        "route": inputs.route_name,
        "active_cluster": inputs.cluster,
        "weights": dict(weights),
    }
