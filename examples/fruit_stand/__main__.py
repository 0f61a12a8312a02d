"""FruitStand on Kubernetes with ``RayService``: the seed's walkthrough, redone for Pulumi.

A KubeRay RayCluster, the FruitStand Serve app on it, and a stable serve Service. ``pulumi up``
deploys it; change ``mangoPrice`` for an in-place update; change ``image`` for a zero-downtime
upgrade onto a new cluster. See README.md in this directory.
"""

from pathlib import Path

import pulumi

import pulumi_rayservice as rs

HERE = Path(__file__).resolve().parent
config = pulumi.Config()
namespace = config.get("namespace") or "ray"
image = config.get("image") or "rayproject/ray:2.52.0"
ray_version = image.rsplit(":", 1)[-1].split("-")[0]
mango_price = config.get_int("mangoPrice") or 3
# The zipped ./app directory, uploaded where every Ray pod can fetch it (https, s3, gs).
working_dir = config.require("workingDir")
kube = rs.Kube(kubeconfig=config.get("kubeconfig"), context=config.get("context"))

fruit = rs.ServeApp.from_yaml(HERE / "serve_config.yaml", name="fruit_app")
fruit = fruit.model_copy(
    update={
        "runtime_env": {"working_dir": working_dir},
        "deployments": [
            d.model_copy(update={"user_config": {"price": mango_price}})
            if d.name == "MangoStand"
            else d
            for d in fruit.deployments or []
        ],
    }
)

service = rs.RayService(
    "fruit",
    namespace=namespace,
    cluster=rs.ClusterSpec(
        ray_version=ray_version,
        image=image,
        head=rs.HeadGroup(compute=rs.ComputeTemplate(cpu=2, memory="4Gi")),
        workers=[
            rs.WorkerGroup(
                name="small-group",
                replicas=1,
                min_replicas=1,
                max_replicas=5,
                compute=rs.ComputeTemplate(cpu=1, memory="2Gi"),
            )
        ],
    ),
    applications=[fruit],
    kube=kube,
    upgrade=rs.Upgrade(strategy="NewCluster", drain_s=30),
)

pulumi.export("serve_service", service.serve_service)
pulumi.export("cluster_name", service.cluster_name)
pulumi.export("app_statuses", service.app_statuses)
