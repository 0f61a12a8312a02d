"""Two Serve apps on ONE existing KubeRay cluster: the infrastructure and the apps kept apart.

``RayCluster`` makes the cluster; each ``ServeApplication`` deploys one app onto it through the
API server's service proxy, independently: changing the math app never touches FruitStand. This
is what KubeRay's RayService cannot do (its users' most repeated request).
"""

from pathlib import Path

import pulumi

import pulumi_rayservice as rs

EXAMPLES = Path(__file__).resolve().parent.parent
config = pulumi.Config()
namespace = config.get("namespace") or "ray"
kube = rs.Kube(kubeconfig=config.get("kubeconfig"), context=config.get("context"))

cluster = rs.RayCluster(
    "shared",
    namespace=namespace,
    spec=rs.ClusterSpec(
        ray_version="2.52.0",
        image="rayproject/ray:2.52.0",
        head=rs.HeadGroup(compute=rs.ComputeTemplate(cpu=2, memory="4Gi")),
        workers=[
            rs.WorkerGroup(
                name="small-wg",
                replicas=1,
                min_replicas=0,
                max_replicas=5,
                compute=rs.ComputeTemplate(cpu=1, memory="2Gi"),
            )
        ],
        enable_serve_service=True,
    ),
    kube=kube,
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
pulumi.export("serve_service", cluster.serve_service)
pulumi.export("statuses", {"fruit_app": fruit_app.status, "math_app": math_app.status})
