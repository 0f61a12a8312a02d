"""ServeApplicationProvider through the REAL Pulumi provider host, against a REAL local Ray head.

Each test plays what ``pulumi up`` / ``refresh`` / ``destroy`` do to one or more ServeApplication
resources (rayservice_testbed.harness.provider_host.Engine) and then looks at Serve directly, not
through our code: answers on the Serve HTTP port, replica ids, deploy times.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    Engine,
    ProviderError,
    ProviderHost,
    provider_input,
    secret_paths,
    urn_of,
)
from rayservice_testbed.harness.serve_apps import (
    answer,
    app_details,
    change_out_of_band,
    deployment,
    fruit_app,
    math_app,
    replica_ids,
    serve_details,
    wait_for,
)

from pulumi_rayservice.serve.provider import ServeApplicationProvider

pytestmark = pytest.mark.ray
TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"


def inputs(app: dict[str, Any], dashboard: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "app": app,
        "dashboard": dashboard,
        "timeout_s": 180,
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        **extra,
    }


@pytest.fixture
def dashboard(ray_head: Any) -> dict[str, Any]:
    return {"url": ray_head.dashboard_url}


@pytest.mark.ray_matrix
def test_fruit_stand_deploys_updates_in_place_and_is_removed(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    urn = urn_of(TYPE, "fruit")
    app = fruit_app(app_uris["fruit_stand"])

    step = engine.up(urn, inputs(app, dashboard))
    assert step.op == "create"
    outputs = engine.state[urn].outputs
    assert outputs["status"] == "RUNNING"
    assert set(outputs["deployments"].values()) == {"HEALTHY"}
    assert outputs["route_prefix"] == "/fruit"
    assert outputs["deployed_app"] == app
    assert answer(ray_head.serve_url, "/fruit", ["MANGO", 2]) == "6"

    replicas_before = replica_ids(ray_head.dashboard_url, "fruit_app")
    changed = copy.deepcopy(app)
    deployment(changed, "MangoStand")["user_config"] = {"price": 4}
    step = engine.up(urn, inputs(changed, dashboard))
    assert step.op == "update" and step.diff is not None and not step.diff.replaces
    assert answer(ray_head.serve_url, "/fruit", ["MANGO", 2]) == "8"
    assert replica_ids(ray_head.dashboard_url, "fruit_app") == replicas_before

    engine.destroy(urn)
    assert app_details(ray_head.dashboard_url, "fruit_app") is None


@pytest.mark.ray_matrix
def test_identical_up_is_no_change_and_sends_no_put(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    urn = urn_of(TYPE, "same")
    app = fruit_app(app_uris["fruit_stand"], name="same_app", route_prefix="/same")
    engine.up(urn, inputs(app, dashboard))
    deployed_at = app_details(ray_head.dashboard_url, "same_app")["last_deployed_time_s"]

    # Exactly what the engine would send on the next `pulumi up` of an unchanged program.
    step = engine.up(urn, inputs(copy.deepcopy(app), dashboard))
    assert step.op == "same"
    assert app_details(ray_head.dashboard_url, "same_app")["last_deployed_time_s"] == deployed_at


@pytest.mark.ray_matrix
def test_two_apps_created_concurrently_both_survive_and_delete_keeps_the_other(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    fruit_urn, math_urn = urn_of(TYPE, "fruit2"), urn_of(TYPE, "math")
    fruit = fruit_app(app_uris["fruit_stand"], name="fruit_two", route_prefix="/fruit2")
    maths = math_app(app_uris["math_app"])
    errors: list[BaseException] = []

    def up(urn: str, app: dict[str, Any]) -> None:
        try:
            engine.up(urn, inputs(app, dashboard))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [
        threading.Thread(target=up, args=(fruit_urn, fruit)),
        threading.Thread(target=up, args=(math_urn, maths)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    apps = serve_details(ray_head.dashboard_url)["applications"]
    assert apps["fruit_two"]["status"] == "RUNNING" and apps["math_app"]["status"] == "RUNNING"
    assert answer(ray_head.serve_url, "/fruit2", ["MANGO", 1]) == "3"
    assert answer(ray_head.serve_url, "/calc", ["ADD", 1]) == "4"

    engine.destroy(fruit_urn)
    assert app_details(ray_head.dashboard_url, "fruit_two") is None
    assert answer(ray_head.serve_url, "/calc", ["MUL", 2]) == "10"


@pytest.mark.ray_matrix
def test_bad_import_path_fails_with_serves_message_and_leaves_nothing(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    app = fruit_app(app_uris["fruit_stand"], name="broken_app", route_prefix="/broken")
    app["import_path"] = "fruit:no_such_graph"
    with pytest.raises(ProviderError) as failure:
        engine.up(urn_of(TYPE, "broken"), inputs(app, dashboard))
    message = failure.value.message
    assert "DEPLOY_FAILED" in message and "no_such_graph" in message
    assert "removed again" in message
    assert app_details(ray_head.dashboard_url, "broken_app") is None


def test_unschedulable_app_times_out_quoting_the_scheduling_message(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    app = fruit_app(app_uris["fruit_stand"], name="gpu_app", route_prefix="/gpu")
    deployment(app, "MangoStand")["ray_actor_options"] = {"num_cpus": 0.1, "num_gpus": 1}
    with pytest.raises(ProviderError) as failure:
        engine.up(urn_of(TYPE, "gpu"), {**inputs(app, dashboard), "timeout_s": 40})
    message = failure.value.message
    assert "not RUNNING within 40s" in message
    assert "to be scheduled" in message and "MangoStand" in message
    assert app_details(ray_head.dashboard_url, "gpu_app") is None


@pytest.mark.ray_matrix
def test_failed_update_rolls_back_and_the_old_config_keeps_serving(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    urn = urn_of(TYPE, "rollback")
    app = fruit_app(app_uris["fruit_stand"], name="rollback_app", route_prefix="/rollback")
    engine.up(urn, inputs(app, dashboard))
    before = engine.state[urn]

    bad = copy.deepcopy(app)
    deployment(bad, "MangoStand")["user_config"] = {"price": "free"}  # reconfigure() raises
    with pytest.raises(ProviderError) as failure:
        engine.up(urn, inputs(bad, dashboard))
    message = failure.value.message
    assert "price must be a non-negative number" in message
    assert "Rolled back to the previous config, which is RUNNING again" in message
    assert engine.state[urn] is before  # a failed update leaves the old state
    details = app_details(ray_head.dashboard_url, "rollback_app")
    assert details["status"] == "RUNNING"
    assert deployment(details["deployed_app_config"], "MangoStand")["user_config"] == {"price": 3}
    assert answer(ray_head.serve_url, "/rollback", ["MANGO", 2]) == "6"


def test_refresh_sees_an_out_of_band_change_and_up_converges(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    urn = urn_of(TYPE, "drift")
    app = fruit_app(app_uris["fruit_stand"], name="drift_app", route_prefix="/drift")
    engine.up(urn, inputs(app, dashboard))

    drifted = copy.deepcopy(app)
    deployment(drifted, "MangoStand")["user_config"] = {"price": 5}
    change_out_of_band(ray_head.dashboard_url, add=drifted)
    wait_for(lambda: answer(ray_head.serve_url, "/drift", ["MANGO", 1]) == "5", what="drift")

    refreshed = engine.refresh(urn)
    assert refreshed is not None
    assert deployment(refreshed.outputs["app"], "MangoStand")["user_config"] == {"price": 5}
    step = engine.up(urn, inputs(app, dashboard))
    assert step.op == "update"
    assert answer(ray_head.serve_url, "/drift", ["MANGO", 1]) == "3"


def test_refresh_of_an_app_removed_out_of_band_reports_it_gone(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    urn = urn_of(TYPE, "vanish")
    app = fruit_app(app_uris["fruit_stand"], name="vanish_app", route_prefix="/vanish")
    engine.up(urn, inputs(app, dashboard))
    change_out_of_band(ray_head.dashboard_url, remove="vanish_app")
    wait_for(lambda: app_details(ray_head.dashboard_url, "vanish_app") is None, what="removal")
    assert engine.refresh(urn) is None


@pytest.mark.ray_matrix
def test_existing_app_of_another_owner_is_refused_unless_adopted(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    theirs = fruit_app(app_uris["fruit_stand"], name="their_app", route_prefix="/theirs")
    change_out_of_band(ray_head.dashboard_url, add=theirs)
    wait_for(
        lambda: (app_details(ray_head.dashboard_url, "their_app") or {}).get("status") == "RUNNING"
    )
    deployed_at = app_details(ray_head.dashboard_url, "their_app")["last_deployed_time_s"]

    ours = copy.deepcopy(theirs)
    deployment(ours, "MangoStand")["user_config"] = {"price": 7}
    urn = urn_of(TYPE, "adopt")
    with pytest.raises(ProviderError) as failure:
        engine.up(urn, inputs(ours, dashboard))
    assert "already runs" in failure.value.message and "adopt=True" in failure.value.message
    assert app_details(ray_head.dashboard_url, "their_app")["last_deployed_time_s"] == deployed_at

    engine.up(urn, inputs(ours, dashboard, adopt=True))
    assert answer(ray_head.serve_url, "/theirs", ["MANGO", 1]) == "7"


def test_a_refused_connection_does_not_prove_the_cluster_gone(
    provider_host: ProviderHost, app_uris: dict[str, str]
) -> None:
    # A forgotten port-forward refuses connections too: destroy and refresh must not drop an app
    # that may still run; they fail and say what to do.
    from rayservice_testbed.harness.processes import free_port

    engine = Engine(provider_host)
    urn = urn_of(TYPE, "gone")
    props = engine.check(
        urn, inputs(fruit_app(app_uris["fruit_stand"]), {"url": f"http://127.0.0.1:{free_port()}"})
    )
    state = {**props, "app_name": "fruit_app", "target": props["dashboard"]["url"]}
    with pytest.raises(ProviderError) as failure:
        provider_host.delete(urn, "fruit_app@gone", state)
    assert "does not prove the cluster is gone" in failure.value.message
    assert "pulumi state delete" in failure.value.message
    with pytest.raises(ProviderError) as failure:
        provider_host.read(urn, "fruit_app@gone", state, props)
    assert "pulumi refresh" in failure.value.message


def test_secret_token_stays_out_of_outputs_errors_and_logs(
    engine: Engine, ray_head: Any, app_uris: dict[str, str]
) -> None:
    token = "tok-3f9a1c77e5b24d08"
    urn = urn_of(TYPE, "tokened")
    app = fruit_app(app_uris["fruit_stand"], name="token_app", route_prefix="/token")
    engine.up(urn, inputs(app, {"url": ray_head.dashboard_url}, token=token))
    outputs = engine.state[urn].outputs
    assert secret_paths(outputs) == ["token"]
    assert token not in repr({k: v for k, v in outputs.items() if k != "token"})

    from rayservice_testbed.harness.processes import free_port

    with pytest.raises(ProviderError) as failure:
        engine.up(
            urn_of(TYPE, "tokened-dead"),
            inputs(app, {"url": f"http://127.0.0.1:{free_port()}"}, token=token, timeout_s=5),
        )
    assert token not in failure.value.details
    assert token not in engine.host.log


def test_serve_options_start_serve_on_a_fresh_cluster_and_are_refused_on_a_running_one(
    provider_host: ProviderHost, app_uris: dict[str, str]
) -> None:
    from rayservice_testbed.harness.ray_head import RayHead

    head = RayHead.start(num_cpus=2, start_serve=False)
    engine = Engine(provider_host)
    try:
        options = {"http_options": {"host": "127.0.0.1", "port": head.serve_port}}
        app = fruit_app(app_uris["fruit_stand"], name="fresh_app", route_prefix="/fresh")
        engine.up(
            urn_of(TYPE, "fresh"),
            inputs(app, {"url": head.dashboard_url}, serve_options=options),
        )
        # Serve was started by our PUT, on the port the options asked for.
        assert answer(head.serve_url, "/fresh", ["MANGO", 2]) == "6"

        other = fruit_app(app_uris["fruit_stand"], name="other_app", route_prefix="/other")
        moved = {"http_options": {"host": "127.0.0.1", "port": head.serve_port + 1}}
        with pytest.raises(ProviderError) as failure:
            engine.up(
                urn_of(TYPE, "other"),
                inputs(other, {"url": head.dashboard_url}, serve_options=moved),
            )
        assert "already runs on this cluster with http_options.port" in failure.value.message
        assert app_details(head.dashboard_url, "other_app") is None
    finally:
        for _ in engine.destroy_all():
            pass
        head.stop()


def test_a_new_cluster_revision_deploys_the_app_again(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    urn = urn_of(TYPE, "revision")
    app = fruit_app(app_uris["fruit_stand"], name="revision_app", route_prefix="/revision")
    engine.up(urn, inputs(app, dashboard, cluster_revision="rev-a"))
    # KubeRay recreated the cluster's pods in place: Serve's state is gone.
    change_out_of_band(ray_head.dashboard_url, remove="revision_app")
    wait_for(lambda: app_details(ray_head.dashboard_url, "revision_app") is None, what="removal")

    step = engine.up(urn, inputs(app, dashboard, cluster_revision="rev-b"))
    assert step.op == "update"
    assert answer(ray_head.serve_url, "/revision", ["MANGO", 2]) == "6"


def test_delete_without_waiting_for_removal_returns_while_serve_shuts_the_app_down(
    engine: Engine, ray_head: Any, app_uris: dict[str, str], dashboard: dict[str, Any]
) -> None:
    urn = urn_of(TYPE, "nowait")
    app = fruit_app(app_uris["fruit_stand"], name="nowait_app", route_prefix="/nowait")
    engine.up(urn, inputs(app, dashboard, wait_for_removal=False))
    engine.destroy(urn)
    # The PUT without the app was sent: Serve is removing it (or has removed it already).
    details = app_details(ray_head.dashboard_url, "nowait_app")
    assert details is None or details["status"] == "DELETING"
    wait_for(lambda: app_details(ray_head.dashboard_url, "nowait_app") is None, what="removal")
