"""Each Ray version boundary the package uses, against a REAL head of the Ray of this run.

The whole suite runs with heads of the newest Ray; ``./scripts/test --ray VERSION`` runs every
``ray_matrix`` test (these, and the Serve tests marked so in test_serve_provider.py and
test_shared_cluster.py) with heads of an older Ray from a virtualenv of its own, with that
release's own pinned libraries. So each side of each boundary is seen on a real Serve:

| boundary | below it (a head of) | from it on |
|---|---|---|
| 2.8.0, oldest supported | 2.7.2: refused, nothing written | 2.8.0, 2.46.0, newest |
| 2.9.0, ``target_capacity`` | 2.8.0: refused (Serve would drop it) | 2.46.0, newest |
| 2.10.0 / 2.44.0 / 2.60.0, config keys | 2.8.0 / 2.8.0 / 2.46.0: refused | the others |
| 2.11.0, ``serve.run`` apps kept | 2.8.0: refused (test_shared_cluster) | 2.46.0, newest |

Where the package refuses, the test also shows why: the same key sent by a raw PUT is accepted by
that Serve and missing from what it then reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from rayservice_testbed.harness.fault_proxy import FaultProxy
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.ray_head import RayHead
from rayservice_testbed.harness.serve_apps import (
    answer,
    app_details,
    change_out_of_band,
    math_app,
    serve_details,
    wait_for,
)

from pulumi_rayservice.serve.provider import ServeApplicationProvider
from pulumi_rayservice.serve.ray_versions import OLDEST_SUPPORTED, TARGET_CAPACITY_SINCE, show

pytestmark = [pytest.mark.ray, pytest.mark.ray_matrix]
TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"


def inputs(app: dict[str, Any], url: str, **extra: Any) -> dict[str, Any]:
    return {
        "app": app,
        "dashboard": {"url": url},
        "timeout_s": 180,
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        **extra,
    }


@pytest.mark.any_ray
def test_a_ray_older_than_the_oldest_supported_is_refused_before_anything_is_written(
    engine: Engine, ray_head: Any, app_uris: dict[str, str]
) -> None:
    app = math_app(app_uris["math_app"], name="oldest_app", route_prefix="/oldest")
    with FaultProxy(ray_head.dashboard_url) as proxy:
        if ray_head.ray_version() >= OLDEST_SUPPORTED:
            engine.up(urn_of(TYPE, "oldest"), inputs(app, proxy.url))
            assert app_details(ray_head.dashboard_url, "oldest_app")["status"] == "RUNNING"
            engine.destroy(urn_of(TYPE, "oldest"))
            return
        with pytest.raises(ProviderError) as failure:
            engine.up(urn_of(TYPE, "oldest"), inputs(app, proxy.url))
        # Asked its version, and nothing else: no read of Serve, no write.
        assert {(seen.method, seen.path) for seen in proxy.seen} == {("GET", "/api/version")}
    message = failure.value.message
    assert f"runs Ray {show(ray_head.ray_version())};" in message
    assert f"drives Ray {show(OLDEST_SUPPORTED)} and later" in message
    assert "Nothing was written" in message
    assert urn_of(TYPE, "oldest") not in engine.state


# Config keys a Serve of this Ray knows, or would silently drop --------------------------------


def on_adder(app: dict[str, Any], key: str, value: Any) -> tuple[str, Any]:
    """Set ``key`` on the app's Adder deployment; its dotted path as the package names it."""
    index = next(i for i, dep in enumerate(app["deployments"]) if dep["name"] == "Adder")
    app["deployments"][index][key] = value
    return f"deployments[{index}].{key}", value


def with_max_ongoing_requests(app: dict[str, Any]) -> tuple[str, Any]:
    return on_adder(app, "max_ongoing_requests", 7)


def with_log_attrs(app: dict[str, Any]) -> tuple[str, Any]:
    app["logging_config"] = {"additional_log_standard_attrs": ["name"]}
    return "logging_config.additional_log_standard_attrs", ["name"]


def with_max_surge(app: dict[str, Any]) -> tuple[str, Any]:
    return on_adder(app, "max_surge_percent", 50)


def read_at(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for step in path.replace("[", ".").replace("]", "").split("."):
        value = value[int(step)] if step.isdigit() else value.get(step)
        if value is None:
            return None
    return value


@pytest.mark.parametrize(
    ("add", "since"),
    [(with_max_ongoing_requests, (2, 10)), (with_log_attrs, (2, 44)), (with_max_surge, (2, 60))],
    ids=["max_ongoing_requests", "additional_log_standard_attrs", "max_surge_percent"],
)
def test_a_key_this_rays_serve_does_not_know_is_refused_where_it_would_be_dropped(
    engine: Engine,
    ray_head: Any,
    app_uris: dict[str, str],
    add: Callable[[dict[str, Any]], tuple[str, Any]],
    since: tuple[int, ...],
) -> None:
    name = f"key_{add.__name__}"
    app = math_app(app_uris["math_app"], name=name, route_prefix=f"/{name}")
    path, value = add(app)
    urn = urn_of(TYPE, name)
    if ray_head.ray_version() >= since:
        engine.up(urn, inputs(app, ray_head.dashboard_url))
        deployed = app_details(ray_head.dashboard_url, name)["deployed_app_config"]
        assert read_at(deployed, path) == value  # this Serve knows the key and keeps it
        engine.destroy(urn)
        return

    with FaultProxy(ray_head.dashboard_url) as proxy:
        with pytest.raises(ProviderError) as failure:
            engine.up(urn, inputs(app, proxy.url))
        assert proxy.count("PUT") == 0
    message = failure.value.message
    assert f"app.{path} (Ray {show((*since, 0))})" in message and "silently ignore" in message
    assert app_details(ray_head.dashboard_url, name) is None

    # Why: this Serve takes the key and drops it (2.8 has no logging_config at all; 2.46 no
    # max_surge_percent), so the config would be accepted and the option silently lost. Only
    # the logging config of 2.9 to 2.43 forbids unknown keys: there Serve refuses it itself.
    if add is with_log_attrs and ray_head.ray_version() >= (2, 9):
        with pytest.raises(requests.HTTPError, match="400"):
            change_out_of_band(ray_head.dashboard_url, add=app)
        return
    change_out_of_band(ray_head.dashboard_url, add=app)  # someone else's PUT, keeping the rest
    try:
        deployed = wait_for(lambda: app_details(ray_head.dashboard_url, name), what=name)
        assert read_at(deployed["deployed_app_config"], path) is None
    finally:
        change_out_of_band(ray_head.dashboard_url, remove=name)
        wait_for(lambda: app_details(ray_head.dashboard_url, name) is None, 60, "removal")


# A fresh cluster: Serve proven stopped, started by our PUT, at a target_capacity ---------------


@pytest.fixture
def fresh_head(ray_head: Any) -> Iterator[RayHead]:
    """A head of the same Ray on which Serve was never started (as on a new KubeRay cluster)."""
    head = RayHead.start(num_cpus=2, start_serve=False)
    try:
        yield head
    finally:
        head.stop()


def test_on_a_fresh_cluster_serve_is_proven_stopped_and_started_at_its_target_capacity(
    provider_host: ProviderHost, fresh_head: RayHead, app_uris: dict[str, str]
) -> None:
    engine = Engine(provider_host)
    url = fresh_head.dashboard_url
    # Serve never started: the dashboard answers the empty schema and the state API lists no
    # controller, which is the proof that lets the first write through.
    assert serve_details(url)["applications"] == {}
    options = {"http_options": {"host": "127.0.0.1", "port": fresh_head.serve_port}}
    app = math_app(app_uris["math_app"], name="fresh_math", route_prefix="/fresh")
    urn = urn_of(TYPE, "fresh")
    try:
        if fresh_head.ray_version() < TARGET_CAPACITY_SINCE:
            with FaultProxy(url) as proxy:
                with pytest.raises(ProviderError) as failure:
                    engine.up(
                        urn,
                        inputs(app, proxy.url, serve_options=options, initial_target_capacity=0),
                    )
                assert proxy.count("PUT") == 0
            assert "initial_target_capacity (Ray 2.9.0)" in failure.value.message
            assert serve_details(url)["applications"] == {}
            # Without it the same app starts Serve on the options' port and answers there.
            engine.up(urn, inputs(app, url, serve_options=options))
            assert answer(fresh_head.serve_url, "/fresh", ["ADD", 1]) == "4"  # increment 3
            return

        engine.up(urn, inputs(app, url, serve_options=options, initial_target_capacity=0))
        details = serve_details(url)
        assert details["target_capacity"] == 0
        assert details["applications"]["fresh_math"]["status"] == "RUNNING"
        running = [
            replica
            for dep in details["applications"]["fresh_math"]["deployments"].values()
            for replica in dep.get("replicas", [])
            if replica.get("state") == "RUNNING"
        ]
        assert running == []  # at capacity 0 no replica runs
    finally:
        for _ in engine.destroy_all():
            pass
