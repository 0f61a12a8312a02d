"""The KubeRay API server walkthrough as one Pulumi program: no kubeconfig anywhere.

What KubeRay's "Ray Serve through the API server" document does with curl, as resources:

1. the compute template ``default-template`` (2 CPUs, 4 GiB), a V1 template;
2. the cluster ``test-cluster`` with Serve support (``ray.io/enable-serve-service``) and a
   ``small-wg`` worker group, both groups naming the template; through V2 by default
   (patched in place), or V1 as the document does (``pulumi config set api v1``);
3. the fruit and math apps, deployed onto it through V2's service proxy to the head Service
   (the document's ``serveapplication`` endpoints were never released).

Stack config: ``apiServerUrl`` (default ``http://localhost:31888``), ``apiServerToken`` (a
secret, when the API server runs behind its security proxy), ``api`` (``v2`` or ``v1``),
``namespace``, ``fruitWorkingDir`` and ``mathWorkingDir`` (where the apps' code is, e.g. an
``s3://`` or ``https://`` zip), ``workers`` (the worker group's replicas, default 1).
"""

from pathlib import Path

import pulumi

import pulumi_rayservice as rs

EXAMPLES = Path(__file__).resolve().parent.parent
config = pulumi.Config()
api = config.get("api") or "v2"
namespace = config.get("namespace") or "default"
workers = config.get_int("workers") or 1

api_server = rs.KubeRayApiServer(
    url=config.get("apiServerUrl") or "http://localhost:31888",
    token=config.get_secret("apiServerToken"),
    api=api,
)

template = rs.KubeRayComputeTemplate(
    "default-template",
    namespace=namespace,
    template=rs.ComputeTemplate(cpu=2, memory=4),
    api_server=api_server,
)

cluster = rs.RayCluster(
    "test-cluster",
    namespace=namespace,
    spec=rs.ClusterSpec(
        ray_version="2.52.0",
        enable_serve_service=True,
        head=rs.HeadGroup(
            compute_template=template.name,
            service_type="ClusterIP",
            ray_start_params={
                "dashboard-host": "0.0.0.0",
                "metrics-export-port": 8080,
                "dashboard-agent-listen-port": 52365,
            },
        ),
        workers=[
            rs.WorkerGroup(
                name="small-wg",
                compute_template=template.name,
                replicas=workers,
                # The document asks for minReplicas 0; V1 stores replicas as the minimum then,
                # so through V1 the minimum is said as it will be.
                min_replicas=0 if api == "v2" else workers,
                max_replicas=5,
                ray_start_params={"node-ip-address": "$MY_POD_IP"},
            )
        ],
    ),
    api_server=api_server,
)


def app(example: str, name: str, working_dir_key: str) -> rs.ServeApp:
    """An example's Serve app with its code at the URI given in the stack config."""
    loaded = rs.ServeApp.from_yaml(EXAMPLES / example / "serve_config.yaml", name=name)
    return loaded.model_copy(
        update={"runtime_env": {"working_dir": config.require(working_dir_key)}}
    )


fruit_app = rs.ServeApplication(
    "fruit", app=app("fruit_stand", "fruit_app", "fruitWorkingDir"), dashboard=cluster.dashboard
)
math_app = rs.ServeApplication(
    "math", app=app("math_app", "math_app", "mathWorkingDir"), dashboard=cluster.dashboard
)

pulumi.export("cluster", cluster.name)
# Inside the cluster (V2 proxies no serve Service): KubeRay's <cluster>-serve-svc, port 8000.
pulumi.export(
    "serve_endpoint",
    cluster.serve_service.apply(lambda svc: f"http://{svc}.{namespace}.svc:8000" if svc else None),
)
# From anywhere the API server is reachable: V2's proxy to the head Service's dashboard.
pulumi.export(
    "dashboard_endpoint",
    cluster.head_service.apply(
        lambda svc: (
            f"{api_server.url}/api/v1/namespaces/{namespace}/services/{svc}:dashboard/proxy/"
            if svc
            else None
        )
    ),
)
pulumi.export("statuses", {"fruit_app": fruit_app.status, "math_app": math_app.status})
