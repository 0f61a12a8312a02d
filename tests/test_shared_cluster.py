"""One real Ray cluster shared with other owners: their apps are never altered, dropped or raced.

Against the session's REAL Ray head. Another team's app is deployed straight through Serve's REST
API (as ``serve deploy`` would), with what a careless merge loses: ``route_prefix: null``, null and
float values in ``user_config``. Apps deployed from Python (``serve.run``) run beside it. Faults are
injected by a proxy in front of the real dashboard (``rayservice_testbed.harness.fault_proxy``):
Serve's empty schema on reads, answers lost after a PUT that Serve applied, stalls, and a writer
that takes no lock landing between our PUT and our read-back.
"""

from __future__ import annotations

import copy
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rayservice_testbed.harness.fault_proxy import EMPTY_SERVE_SCHEMA, Fault, FaultProxy
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    urn_of,
)
from rayservice_testbed.harness.ray_head import RAY_PYTHON, loopback_env
from rayservice_testbed.harness.serve_apps import (
    answer,
    app_details,
    change_out_of_band,
    deployment,
    fruit_app,
    math_app,
    put_raw,
    replica_ids,
    serve_details,
    wait_for,
)

from pulumi_rayservice._util.polling import Backoff, Deadline
from pulumi_rayservice.errors import (
    ConcurrentWriterError,
    RayServiceError,
    ServeStateUnknownError,
)
from pulumi_rayservice.serve.client import DashboardClient, RetryPolicy
from pulumi_rayservice.serve.dashboard import DashboardTarget
from pulumi_rayservice.serve.deployer import ServeDeployer
from pulumi_rayservice.serve.provider import ServeApplicationProvider
from pulumi_rayservice.serve.ray_versions import KEEPS_IMPERATIVE_APPS_SINCE, show
from pulumi_rayservice.serve.writer_lock import writer_lock

pytestmark = pytest.mark.ray
TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"


def inputs(app: dict[str, Any], url: str, **extra: Any) -> dict[str, Any]:
    return {
        "app": app,
        "dashboard": {"url": url},
        "timeout_s": 120,
        "owner": "tests/shared",
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        **extra,
    }


def their_app(uri: str, name: str = "their_math") -> dict[str, Any]:
    """Another team's app, with everything a normalizing merge would change."""
    app = math_app(uri, name=name)
    app["route_prefix"] = None  # not exposed over HTTP: must not become "/"
    deployment(app, "Adder")["user_config"] = {"increment": 3, "note": None}
    deployment(app, "Multiplier")["user_config"] = {"factor": 1.5, "scale": 1.0}
    return app


def exact(config: Any) -> str:
    """Byte for byte: 1.0 stays 1.0, null stays null, every key is kept."""
    return json.dumps(config, sort_keys=True)


def deployed_config(dashboard_url: str, name: str) -> Any:
    details = app_details(dashboard_url, name)
    return None if details is None else details["deployed_app_config"]


def running(dashboard_url: str, name: str) -> bool:
    return (app_details(dashboard_url, name) or {}).get("status") == "RUNNING"


@pytest.fixture
def theirs(ray_head: Any, app_uris: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Their app, deployed out of band and RUNNING; removed again after the test."""
    app = their_app(app_uris["math_app"])
    change_out_of_band(ray_head.dashboard_url, add=app)
    wait_for(lambda: running(ray_head.dashboard_url, app["name"]), 120, "their app")
    try:
        yield {
            "name": app["name"],
            "config": exact(deployed_config(ray_head.dashboard_url, app["name"])),
            "replicas": replica_ids(ray_head.dashboard_url, app["name"]),
        }
    finally:
        change_out_of_band(ray_head.dashboard_url, remove=app["name"])
        wait_for(lambda: app_details(ray_head.dashboard_url, app["name"]) is None, 60, "removal")


def assert_untouched(dashboard_url: str, theirs: dict[str, Any]) -> None:
    assert exact(deployed_config(dashboard_url, theirs["name"])) == theirs["config"]
    assert replica_ids(dashboard_url, theirs["name"]) == theirs["replicas"]  # none restarted


@pytest.mark.ray_matrix
def test_their_app_survives_our_create_update_rollback_and_delete_byte_for_byte(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], theirs: dict[str, Any]
) -> None:
    config = json.loads(theirs["config"])
    assert config["route_prefix"] is None
    assert deployment(config, "Adder")["user_config"] == {"increment": 3, "note": None}
    assert exact(deployment(config, "Multiplier")["user_config"]) == '{"factor": 1.5, "scale": 1.0}'

    urn = urn_of(TYPE, "ours")
    app = fruit_app(app_uris["fruit_stand"], name="our_fruit", route_prefix="/ours")
    engine.up(urn, inputs(app, ray_head.dashboard_url))
    assert_untouched(ray_head.dashboard_url, theirs)

    changed = copy.deepcopy(app)
    deployment(changed, "MangoStand")["user_config"] = {"price": 4}
    assert engine.up(urn, inputs(changed, ray_head.dashboard_url)).op == "update"
    assert answer(ray_head.serve_url, "/ours", ["MANGO", 2]) == "8"
    assert_untouched(ray_head.dashboard_url, theirs)

    broken = copy.deepcopy(app)
    deployment(broken, "MangoStand")["user_config"] = {"price": "free"}  # reconfigure raises
    with pytest.raises(ProviderError) as failure:
        engine.up(urn, inputs(broken, ray_head.dashboard_url))
    assert "Rolled back to the previous config" in failure.value.message
    assert_untouched(ray_head.dashboard_url, theirs)

    engine.destroy(urn)
    assert app_details(ray_head.dashboard_url, "our_fruit") is None
    assert_untouched(ray_head.dashboard_url, theirs)


@pytest.mark.ray_matrix
def test_an_adopted_app_whose_new_config_fails_is_put_back_as_it_ran(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], theirs: dict[str, Any]
) -> None:
    adopted = copy.deepcopy(json.loads(theirs["config"]))
    deployment(adopted, "Adder")["user_config"] = {"increment": 3}
    adopted["import_path"] = "math_dag:no_such_dag"  # fails to deploy
    with pytest.raises(ProviderError) as failure:
        engine.up(
            urn_of(TYPE, "adopter"),
            inputs(adopted, ray_head.dashboard_url, adopt=True, timeout_s=60),
        )
    message = failure.value.message
    assert "DEPLOY_FAILED" in message
    assert "was put back and is RUNNING again" in message
    assert running(ray_head.dashboard_url, theirs["name"])
    # The config it ran before, exactly (nulls and 1.0 kept), not ours normalized.
    assert exact(deployed_config(ray_head.dashboard_url, theirs["name"])) == theirs["config"]


SERVE_RUN = """
import ray, sys
from ray import serve
ray.init(address=sys.argv[1])

@serve.deployment(ray_actor_options={"num_cpus": 0.05})
def hello(request):
    return "hello from python"

serve.run(hello.bind(), name="py_app", route_prefix="/py")
"""
SERVE_DELETE = """
import ray, sys
from ray import serve
ray.init(address=sys.argv[1])
serve.delete("py_app")
"""


@pytest.fixture
def python_app(ray_head: Any) -> Iterator[str]:
    """An app deployed from Python code with ``serve.run`` (no declarative config), by the Ray
    beside the head (a client must run the cluster's own Ray version)."""
    subprocess.run(
        [str(RAY_PYTHON), "-c", SERVE_RUN, ray_head.address],
        env=loopback_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    try:
        yield "py_app"
    finally:
        subprocess.run(
            [str(RAY_PYTHON), "-c", SERVE_DELETE, ray_head.address],
            env=loopback_env(),
            capture_output=True,
            timeout=300,
        )


@pytest.mark.ray_matrix
def test_apps_deployed_from_python_are_kept_or_the_write_is_refused_by_the_rays_own_rule(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], python_app: str
) -> None:
    # Ray 2.11 and later keep serve.run apps on a declarative PUT; older ones delete them. Each
    # side of that boundary runs here against a real head of its own (the Ray matrix).
    before = app_details(ray_head.dashboard_url, python_app)
    assert before is not None and before["deployed_app_config"] is None
    assert before.get("source", "imperative") == "imperative"  # reported from Ray 2.39
    replicas = replica_ids(ray_head.dashboard_url, python_app)
    urn = urn_of(TYPE, "beside-python")
    app = fruit_app(app_uris["fruit_stand"], name="beside_py", route_prefix="/beside")

    if ray_head.ray_version() >= KEEPS_IMPERATIVE_APPS_SINCE:
        engine.up(urn, inputs(app, ray_head.dashboard_url))
        engine.destroy(urn)
    else:
        with FaultProxy(ray_head.dashboard_url) as proxy:
            with pytest.raises(ProviderError) as failure:
                engine.up(urn, inputs(app, proxy.url))
            assert proxy.count("PUT") == 0
        message = failure.value.message
        assert "'py_app'" in message and "nothing was written" in message
        assert f"Ray {show(ray_head.ray_version())}" in message
        assert "Ray 2.11.0 and later keep them" in message
        assert app_details(ray_head.dashboard_url, "beside_py") is None
    assert running(ray_head.dashboard_url, python_app)
    assert replica_ids(ray_head.dashboard_url, python_app) == replicas


@pytest.mark.ray_matrix
def test_an_empty_answer_while_the_controller_lives_writes_nothing(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], theirs: dict[str, Any]
) -> None:
    # The dashboard answers Serve's empty schema when it cannot reach the controller; the state
    # API (forwarded to the real Ray) shows the controller ALIVE: that is no proof of an empty
    # Serve, and a PUT of only our app would delete theirs.
    with FaultProxy(ray_head.dashboard_url) as proxy:
        proxy.add(
            Fault("GET", "/api/serve/applications/", "reply", body=EMPTY_SERVE_SCHEMA, count=None)
        )
        app = fruit_app(app_uris["fruit_stand"], name="blind_app", route_prefix="/blind")
        with pytest.raises(ProviderError) as failure:
            engine.up(urn_of(TYPE, "blind"), inputs(app, proxy.url, timeout_s=3))
        assert proxy.count("PUT") == 0
        assert proxy.count("GET", "/api/v0/actors") >= 1
    message = failure.value.message
    assert "controller actor is ALIVE" in message and "Nothing was written" in message
    assert_untouched(ray_head.dashboard_url, theirs)


# the deployer under faults between a request and its answer ----------------------------------

FAST_RETRY = RetryPolicy(attempts=3, initial_s=0.05, max_s=0.2, connect_s=1.0, request_s=2.0)


def deployer_for(url: str, warnings: list[str]) -> ServeDeployer:
    target = DashboardTarget.from_input({"url": url})
    client = DashboardClient(base_url=url, retry=FAST_RETRY, description=url)
    return ServeDeployer(
        client,
        lock=lambda deadline: writer_lock(target, "tests/faults", deadline),
        backoff=Backoff(initial_s=0.05, max_s=0.5),
        warn=warnings.append,
    )


def ours(app_uris: dict[str, str], name: str) -> dict[str, Any]:
    app = fruit_app(app_uris["fruit_stand"], name=name, route_prefix=f"/{name}")
    deployment(app, "MangoStand")["num_replicas"] = 1
    return app


@pytest.mark.parametrize(
    ("fault", "puts"),
    [
        (Fault("PUT", "/api/serve/applications/", "lose", status=502), 1),
        (Fault("PUT", "/api/serve/applications/", "lose", status=0), 1),
        (Fault("PUT", "/api/serve/applications/", "late", seconds=3.0), 1),
        (Fault("PUT", "/api/serve/applications/", "drop"), 2),
    ],
    ids=["502-after-applied", "dropped-after-applied", "stalled-answer", "dropped-before"],
)
def test_a_lost_answer_is_settled_by_reading_and_a_retry_merges_again(
    ray_head: Any, app_uris: dict[str, str], theirs: dict[str, Any], fault: Fault, puts: int
) -> None:
    warnings: list[str] = []
    name = f"lost_{fault.action}_{fault.status}"
    app = ours(app_uris, name)
    with FaultProxy(ray_head.dashboard_url) as proxy:
        proxy.add(fault)
        with deployer_for(proxy.url, warnings) as deployer:
            applied = deployer.apply(name, app, deadline=Deadline(60))
            assert applied.put and deployer.wrote
            deployer.wait_applied(name, applied, Deadline(120), app)
            # Applied and answered lost: read back, never sent again. Never reached Serve: the
            # second PUT was merged from a fresh read.
            assert len(proxy.puts()) == puts
            for sent in proxy.puts():
                names = [a["name"] for a in json.loads(sent.body)["applications"]]
                assert theirs["name"] in names and name in names
            deployer.apply(name, None, deadline=Deadline(60))
            deployer.wait_gone(name, deadline=Deadline(60))
    assert warnings == []
    assert_untouched(ray_head.dashboard_url, theirs)


def test_an_app_dropped_by_a_writer_without_lock_is_put_back_with_a_warning(
    ray_head: Any, app_uris: dict[str, str], theirs: dict[str, Any]
) -> None:
    warnings: list[str] = []
    stale = [
        a["deployed_app_config"]
        for n, a in serve_details(ray_head.dashboard_url)["applications"].items()
        if n != theirs["name"] and a.get("deployed_app_config") and a["status"] != "DELETING"
    ]

    def lockless_writer() -> None:
        # A read-merge-write made from a read older than our PUT: neither theirs nor ours.
        put_raw(ray_head.dashboard_url, stale)

    app = ours(app_uris, "raced")
    with FaultProxy(ray_head.dashboard_url) as proxy:
        proxy.add(Fault("PUT", "/api/serve/applications/", "after", effect=lockless_writer))
        with deployer_for(proxy.url, warnings) as deployer:
            applied = deployer.apply("raced", app, deadline=Deadline(60))
            deployer.wait_applied("raced", applied, Deadline(120), app)
            assert len(proxy.puts()) == 2
            deployer.apply("raced", None, deadline=Deadline(60))
    assert len(warnings) == 1 and f"'{theirs['name']}'" in warnings[0]
    assert "putting it back as it was" in warnings[0]
    wait_for(lambda: running(ray_head.dashboard_url, theirs["name"]), 120, "their app back")
    assert exact(deployed_config(ray_head.dashboard_url, theirs["name"])) == theirs["config"]


def test_an_incomplete_state_answer_is_no_proof_and_writes_nothing(
    ray_head: Any, app_uris: dict[str, str]
) -> None:
    partial = {
        "result": True,
        "msg": "",
        "data": {"result": {"result": [], "partial_failure_warning": "GCS timed out"}},
    }
    with FaultProxy(ray_head.dashboard_url) as proxy:
        proxy.add(Fault("GET", "/api/serve/applications/", "reply", body=EMPTY_SERVE_SCHEMA))
        proxy.add(Fault("GET", "/api/v0/actors", "reply", body=partial))
        with (
            deployer_for(proxy.url, []) as deployer,
            pytest.raises(ServeStateUnknownError) as caught,
        ):
            deployer.apply("x", ours(app_uris, "x"), deadline=Deadline(10))
        assert "GCS timed out" in str(caught.value) and "nothing was written" in str(caught.value)
        assert proxy.count("PUT") == 0


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (404, {}, "HTTP 404"),  # no version at all: not a dashboard of a supported Ray
        (200, {"version": "4"}, "a Ray of unknown version"),
    ],
)
def test_a_ray_of_unknown_version_is_refused_before_anything_is_written(
    ray_head: Any, app_uris: dict[str, str], python_app: str, status: int, body: Any, said: str
) -> None:
    with FaultProxy(ray_head.dashboard_url) as proxy:
        proxy.add(Fault("GET", "/api/version", "reply", status=status, body=body, count=None))
        with deployer_for(proxy.url, []) as deployer, pytest.raises(RayServiceError) as caught:
            deployer.apply("y", ours(app_uris, "y"), deadline=Deadline(10))
        assert said in str(caught.value)
        assert proxy.count("PUT") == 0
        assert proxy.count("GET", "/api/serve/applications/") == 0  # refused before reading


# two stacks (two provider host processes) and a writer that takes no lock -----------------------


def light_app(uri: str, name: str, increment: int) -> dict[str, Any]:
    app = math_app(uri, name=name, route_prefix=f"/{name}")
    deployment(app, "Adder")["user_config"] = {"increment": increment}
    return app


def test_two_stacks_and_a_lockless_writer_lose_nothing_and_a_rerun_converges(
    ray_head: Any, app_uris: dict[str, str]
) -> None:
    uri = app_uris["math_app"]
    url = ray_head.dashboard_url
    hosts = [ProviderHost(), ProviderHost()]  # two processes, as two stacks' `pulumi up`
    engines = [Engine(host) for host in hosts]
    final: dict[tuple[int, str], dict[str, Any]] = {}  # (stack, urn) -> the app it wants
    problems: list[str] = []
    durations: list[float] = []
    done = threading.Event()
    raw_config: dict[str, Any] = {}

    def stack(index: int) -> None:
        engine = engines[index]
        names = [f"s{index}_a", f"s{index}_b"]
        try:
            for round_ in range(3):
                for name in names:
                    app = light_app(uri, name, increment=10 * index + round_)
                    urn = urn_of(TYPE, name)
                    started = time.monotonic()
                    try:
                        engine.up(urn, inputs(app, url, timeout_s=90))
                    except ProviderError as error:
                        problems.append(error.message)
                    durations.append(time.monotonic() - started)
                    final[(index, urn)] = app
            gone = urn_of(TYPE, names[1])
            engine.destroy(gone)
            final.pop((index, gone))
        except BaseException as error:  # surfaced below
            problems.append(f"stack {index}: {error!r}")

    def settled() -> bool:
        return all(a["status"] != "DEPLOYING" for a in serve_details(url)["applications"].values())

    def lockless_writer() -> None:
        # `serve deploy` of a merged file, in a loop: read, keep the others as read, PUT. It waits
        # for the cluster to settle between writes: every PUT restarts the build of an app still
        # deploying its first version (Serve's rule), so a writer in a tight loop starves them.
        increment = 0
        while not done.is_set():
            increment += 1
            details = serve_details(url)["applications"]
            others = [
                a["deployed_app_config"]
                for n, a in details.items()
                if n != "raw_app" and a.get("deployed_app_config") and a["status"] != "DELETING"
            ]
            mine = light_app(uri, "raw_app", increment=100 + increment)
            put_raw(url, [*others, mine])
            raw_config.update(mine)
            wait_for(lambda: running(url, "raw_app"), 90, "raw_app")
            wait_for(settled, 90, "the cluster to settle")

    threads = [threading.Thread(target=stack, args=(i,)) for i in range(2)]
    writer = threading.Thread(target=lockless_writer)
    try:
        writer.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        writer.join()

        # A failure is allowed only when it names the other writer; no operation waited for its
        # timeout, and none hung.
        for message in problems:
            assert "another writer" in message or "other writers" in message, message
        assert max(durations) < 80

        # A re-run converges: every app that should exist exists with exactly its config.
        for (index, urn), app in final.items():
            engines[index].up(urn, inputs(app, url, timeout_s=90))
        apps = {
            name: a
            for name, a in serve_details(url)["applications"].items()
            if name.startswith(("s0_", "s1_", "raw_app")) and a["status"] != "DELETING"
        }
        expected = {app["name"]: app for app in final.values()}
        expected["raw_app"] = raw_config
        assert sorted(apps) == sorted(expected)
        for name, app in expected.items():
            assert exact(apps[name]["deployed_app_config"]) == exact(app), name
    finally:
        done.set()
        for engine in engines:
            for _ in engine.destroy_all():
                pass
        for host in hosts:
            host.close()
        change_out_of_band(url, remove="raw_app")
        wait_for(lambda: app_details(url, "raw_app") is None, 60, "raw_app removal")


@pytest.mark.ray_matrix
def test_a_write_waits_for_another_apps_first_build_instead_of_restarting_it(
    ray_head: Any, app_uris: dict[str, str]
) -> None:
    # Serve restarts the first build of every app in a PUT: writing while their app still builds
    # would set their deploy back to the start. Ours is written once their build is done.
    url = ray_head.dashboard_url
    seen_at_our_put: list[dict[str, Any]] = []
    theirs = their_app(app_uris["math_app"], name="building_math")
    change_out_of_band(url, add=theirs)
    assert (app_details(url, "building_math") or {}).get("deployments") in ({}, None)

    def look() -> None:
        seen_at_our_put.append(app_details(url, "building_math") or {})

    try:
        with FaultProxy(url) as proxy:
            proxy.add(Fault("PUT", "/api/serve/applications/", "after", effect=look))
            with deployer_for(proxy.url, []) as deployer:
                app = ours(app_uris, "patient")
                applied = deployer.apply("patient", app, deadline=Deadline(120))
                deployer.wait_applied("patient", applied, Deadline(120), app)
                deployer.apply("patient", None, deadline=Deadline(60))
        [at_put, *_] = seen_at_our_put
        assert at_put["deployments"], "our PUT landed while their first build was running"
        wait_for(lambda: running(url, "building_math"), 120, "their app")
    finally:
        change_out_of_band(url, remove="building_math")
        wait_for(lambda: app_details(url, "building_math") is None, 60, "removal")


def test_our_app_removed_by_another_writer_while_it_deploys_fails_at_once(
    ray_head: Any, app_uris: dict[str, str]
) -> None:
    url = ray_head.dashboard_url
    app = ours(app_uris, "vanishing")
    with FaultProxy(url) as proxy, deployer_for(proxy.url, []) as deployer:
        applied = deployer.apply("vanishing", app, deadline=Deadline(60))
        # The first look of the wait lets another writer drop our app right after it.
        proxy.add(
            Fault(
                "GET",
                "/api/serve/applications/",
                "after",
                effect=lambda: change_out_of_band(url, remove="vanishing"),
            )
        )
        started = time.monotonic()
        with pytest.raises(ConcurrentWriterError) as caught:
            deployer.wait_applied("vanishing", applied, Deadline(120), app)
        assert time.monotonic() - started < 10  # not the 120 s deadline
    assert "another writer replaced the Serve config" in str(caught.value)
    assert "'vanishing'" in str(caught.value)
    wait_for(lambda: app_details(url, "vanishing") is None, 60, "removal")
