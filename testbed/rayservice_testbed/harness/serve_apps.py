"""The example Serve apps as test configs, and direct looks at a real Serve (not via our code)."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any

import requests
import yaml

from ..paths import EXAMPLES


def zip_app(source: Path, target: Path) -> str:
    """Zip an example's app directory; return the ``file://`` URI Serve's working_dir accepts."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(source.rglob("*.py")):
            archive.write(path, path.relative_to(source).as_posix())
    return target.resolve().as_uri()


def zip_examples(folder: Path) -> dict[str, str]:
    """``{"fruit_stand": "file:///.../fruit_stand.zip", ...}``: every example with an ``app/``."""
    uris = {}
    for example in sorted(EXAMPLES.iterdir()):
        if (example / "app").is_dir():
            uris[example.name] = zip_app(example / "app", folder / f"{example.name}.zip")
    return uris


def example_app(example: str, uri: str, **overrides: Any) -> dict[str, Any]:
    """The first app of ``examples/<example>/serve_config.yaml``, ``working_dir`` set to ``uri``."""
    config = yaml.safe_load((EXAMPLES / example / "serve_config.yaml").read_text())
    app: dict[str, Any] = config["applications"][0]
    app["runtime_env"] = {"working_dir": uri}
    app.update(overrides)
    return app


def fruit_app(
    uri: str, *, name: str = "fruit_app", route_prefix: str = "/fruit", mango: float = 3
) -> dict[str, Any]:
    app = example_app("fruit_stand", uri, name=name, route_prefix=route_prefix)
    deployment(app, "MangoStand")["user_config"] = {"price": mango}
    return app


def math_app(uri: str, *, name: str = "math_app", route_prefix: str = "/calc") -> dict[str, Any]:
    return example_app("math_app", uri, name=name, route_prefix=route_prefix)


def deployment(app: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in app["deployments"] if d["name"] == name)


def ask(serve_url: str, route_prefix: str, body: Any, timeout: float = 10) -> requests.Response:
    return requests.post(f"{serve_url}{route_prefix}", json=body, timeout=timeout)


def answer(serve_url: str, route_prefix: str, body: Any) -> str:
    reply = ask(serve_url, route_prefix, body)
    reply.raise_for_status()
    return reply.text


def serve_details(dashboard_url: str) -> dict[str, Any]:
    reply = requests.get(f"{dashboard_url}/api/serve/applications/", timeout=30)
    reply.raise_for_status()
    return dict(reply.json())


def app_details(dashboard_url: str, name: str) -> dict[str, Any] | None:
    return serve_details(dashboard_url)["applications"].get(name)


def replica_ids(dashboard_url: str, name: str) -> dict[str, list[str]]:
    """Deployment -> its replicas' ids: unchanged ids mean no replica was restarted."""
    app = app_details(dashboard_url, name) or {}
    return {
        dep: sorted(r["replica_id"] for r in info.get("replicas", []))
        for dep, info in app.get("deployments", {}).items()
    }


def put_raw(dashboard_url: str, applications: list[dict[str, Any]]) -> None:
    """A PUT made by someone else (out of band), straight to the REST API."""
    reply = requests.put(
        f"{dashboard_url}/api/serve/applications/", json={"applications": applications}, timeout=30
    )
    reply.raise_for_status()


def change_out_of_band(
    dashboard_url: str, *, remove: str | None = None, add: dict[str, Any] | None = None
) -> None:
    """Someone else's read-merge-write: drop app ``remove`` and/or put ``add``, keep the rest."""
    apps = [
        app["deployed_app_config"]
        for name, app in serve_details(dashboard_url)["applications"].items()
        if name not in (remove, (add or {}).get("name"))
        and app.get("deployed_app_config") is not None
        and app.get("status") != "DELETING"
    ]
    put_raw(dashboard_url, [*apps, add] if add is not None else apps)


def wait_for(predicate: Any, timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``predicate`` with backoff until it returns something truthy."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(1.0, delay * 1.5)
