"""FruitStand and the math app as Serve applications on a local Ray: no Kubernetes at all.

Start a local Ray (``ray start --head``) and ``pulumi up``: both apps are deployed through the
dashboard's Serve REST API and waited for until RUNNING. Change ``mangoPrice`` and ``pulumi up``
again: a lightweight in-place update, no replica restarts. ``scripts/deploy-local`` does it all.
"""

from pathlib import Path

import pulumi

import pulumi_rayservice as rs

EXAMPLES = Path(__file__).resolve().parent.parent
config = pulumi.Config()
dashboard = rs.Dashboard(url=config.get("dashboardUrl") or "http://127.0.0.1:8265")
mango_price = config.get_int("mangoPrice") or 3


def local_app(example: str, name: str) -> rs.ServeApp:
    """The example's Serve config, with its code zipped for the local Ray (a file:// URI)."""
    app = rs.ServeApp.from_yaml(EXAMPLES / example / "serve_config.yaml", name=name)
    working_dir = rs.zip_working_dir(EXAMPLES / example / "app")
    return app.model_copy(update={"runtime_env": {"working_dir": working_dir}})


fruit = local_app("fruit_stand", "fruit_app")
deployments = [
    d.model_copy(update={"user_config": {"price": mango_price}}) if d.name == "MangoStand" else d
    for d in fruit.deployments or []
]
fruit = fruit.model_copy(update={"deployments": deployments})

fruit_app = rs.ServeApplication("fruit", app=fruit, dashboard=dashboard, timeout_s=300)
math_app = rs.ServeApplication(
    "math", app=local_app("math_app", "math_app"), dashboard=dashboard, timeout_s=300
)

pulumi.export("fruit_status", fruit_app.status)
pulumi.export("fruit_deployments", fruit_app.deployments)
pulumi.export("math_status", math_app.status)
pulumi.export("fruit_route", fruit_app.route_prefix)
