"""``ServeApplication``: one Ray Serve application as a Pulumi resource, on any Ray cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .._util.owner import stack_owner
from .._util.secrets import secret_paths_of
from .dashboard import Dashboard, dashboard_to_inputs
from .inputs import DEFAULT_TIMEOUT_S
from .models import ServeApp
from .provider import ServeApplicationProvider


class ServeApplication(Resource, module="rayservice", name="ServeApplication"):
    """One entry of Ray Serve's ``applications:`` list, deployed and kept RUNNING on a cluster.

    Works on any Ray cluster whose dashboard it can reach: one made by ``RayCluster``, one made by
    someone else, a local ``ray start --head``. Apps that belong to others on that cluster are left
    exactly as they are.

    Args:
        resource_name: the Pulumi resource name.
        app: the app in Serve's own schema (snake_case, as ``serve build`` writes it): a dict or a
            ``ServeApp``, e.g. ``ServeApp.from_yaml("serve_config.yaml", name="fruit_app")``.
        dashboard: where the cluster's dashboard is: ``Dashboard(url=...)``,
            ``Dashboard.kube_proxy(...)``, or ``RayCluster.dashboard``.
        timeout_s: how long create/update wait for RUNNING before failing.
        opts: Pulumi resource options.
        adopt: take over an app of the same name that already runs with another config.
        rollback_on_failure: after a failed update, put the previous config back.
        serve_options: cluster-level Serve settings (``http_options``, ``grpc_options``,
            ``proxy_location``) sent with the PUT that starts Serve on the cluster. Serve ignores
            them once it runs, so a different value on a running Serve is an error.
        drain_s: on delete, wait this long before removing the app, so requests routed to it
            before a Service switched away can finish.
        cluster_revision: an opaque value (``RayCluster.revision``); when it changes the app is
            deployed again, e.g. after KubeRay recreated the cluster's pods in place.
        wait_for_removal: on delete, wait until Serve no longer lists the app (its replicas shut
            down gracefully, a few seconds). ``RayService`` turns it off for its apps: their
            cluster is deleted right after them, or Serve finishes the removal on its own.
        initial_target_capacity: Serve's ``target_capacity`` (percent of every deployment's
            replicas) sent with the PUT that starts Serve on the cluster; a running Serve keeps
            its own. ``RayService`` sets 0 for an incremental upgrade's new cluster.
        token: the Ray token of a cluster with token auth, e.g. with ``dashboard=cluster.dashboard``
            (a ``Dashboard(token=...)`` carries its own); always a secret.

    """

    app: pulumi.Output[dict[str, Any]]
    """The app config this resource manages (after refresh: what the cluster runs)."""
    dashboard: pulumi.Output[dict[str, Any]]
    """The dashboard target (kubeconfig content is a secret; the token is a separate secret)."""
    app_name: pulumi.Output[str]
    """The Serve application name."""
    target: pulumi.Output[str]
    """Which dashboard the app lives on (no secrets)."""
    status: pulumi.Output[str]
    """Serve's application status after the last operation (RUNNING after a successful up)."""
    message: pulumi.Output[str]
    """Serve's status message for the application."""
    deployments: pulumi.Output[dict[str, str]]
    """Deployment name -> Serve deployment status."""
    route_prefix: pulumi.Output[str | None]
    """The HTTP route prefix the app is served under (None: not exposed over HTTP)."""
    deployed_app: pulumi.Output[dict[str, Any]]
    """The app exactly as Serve reports it deployed (``deployed_app_config``).

    Secret where ``app`` holds a secret (a secret ``runtime_env.env_vars`` value stays secret
    here, at the same path; a secret inside a list makes that whole list secret)."""

    def __init__(
        self,
        resource_name: str,
        app: pulumi.Input[ServeApp | Mapping[str, Any]],
        dashboard: pulumi.Input[Dashboard | Mapping[str, Any]],
        *,
        timeout_s: pulumi.Input[float] = DEFAULT_TIMEOUT_S,
        opts: pulumi.ResourceOptions | None = None,
        adopt: bool = False,
        rollback_on_failure: bool = True,
        serve_options: pulumi.Input[Mapping[str, Any]] | None = None,
        drain_s: pulumi.Input[float] = 0,
        cluster_revision: pulumi.Input[str] | None = None,
        wait_for_removal: bool = True,
        token: pulumi.Input[str] | None = None,
        initial_target_capacity: int | None = None,
    ) -> None:
        target, dashboard_token = dashboard_to_inputs(dashboard)
        if token is not None:
            dashboard_token = pulumi.Output.secret(token)
        app_value = app.to_serve_dict() if isinstance(app, ServeApp) else app
        props: dict[str, Any] = {
            "app": app_value,
            # Where the program's app holds secrets: ``app`` and ``deployed_app`` stay secret there.
            "secret_paths": secret_paths_of(app_value),
            "dashboard": target,
            "token": dashboard_token,
            "timeout_s": timeout_s,
            "adopt": adopt,
            "rollback_on_failure": rollback_on_failure,
            "serve_options": serve_options,
            "drain_s": drain_s,
            "cluster_revision": cluster_revision,
            "wait_for_removal": wait_for_removal,
            "initial_target_capacity": initial_target_capacity,
            "owner": stack_owner(),
            "app_name": None,
            "target": None,
            "status": None,
            "message": None,
            "deployments": None,
            "route_prefix": None,
            "deployed_app": None,
        }
        super().__init__(ServeApplicationProvider(), resource_name, props, opts)
