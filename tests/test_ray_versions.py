"""What the package decides from the Ray version a dashboard reports, without a head.

The same decisions run against real heads of each side of every boundary in
``tests/test_ray_matrix.py``; here every boundary and every key of the table is walked through
with the version strings real dashboards send (``GET /api/version``).
"""

from __future__ import annotations

from typing import Any

import pytest
from rayservice_testbed.harness.serve_apps import fruit_app

from pulumi_rayservice.errors import UnsupportedRayError
from pulumi_rayservice.serve.models import ServeApp
from pulumi_rayservice.serve.ray_versions import (
    KEEPS_IMPERATIVE_APPS_SINCE,
    KEYS_SINCE,
    OLDEST_SUPPORTED,
    OPTION_KEYS_SINCE,
    RayRelease,
    show,
)
from pulumi_rayservice.serve.status import AppState

WHERE = "http://127.0.0.1:8265"


@pytest.mark.parametrize("reported", ["2.8.0", "2.8.1", "2.9.3", "2.46.0", "2.60.0", "3.0.0.dev0"])
def test_supported_releases_are_driven(reported: str) -> None:
    RayRelease(reported).require_supported(WHERE)


@pytest.mark.parametrize(
    ("reported", "named"),
    [
        ("2.7.2", "runs Ray 2.7.2;"),
        ("2.4.0", "runs Ray 2.4.0;"),
        ("1.13.1", "runs Ray 1.13.1;"),
        ("", "a Ray of unknown version (reported '')"),
        ("nightly", "a Ray of unknown version (reported 'nightly')"),
        ("2", "a Ray of unknown version (reported '2')"),
    ],
)
def test_older_or_unreadable_releases_are_refused_naming_both_versions(
    reported: str, named: str
) -> None:
    with pytest.raises(UnsupportedRayError) as caught:
        RayRelease(reported).require_supported(WHERE)
    message = str(caught.value)
    assert WHERE in message
    assert named in message
    assert f"Ray {show(OLDEST_SUPPORTED)} and later" in message
    assert "Nothing was written" in message


def test_serve_run_apps_are_kept_from_2_11() -> None:
    assert KEEPS_IMPERATIVE_APPS_SINCE == (2, 11, 0)
    assert not RayRelease("2.10.0").keeps_imperative_apps
    assert RayRelease("2.11.0").keeps_imperative_apps
    assert not RayRelease("").keeps_imperative_apps  # unknown: assume the worst


def test_target_capacity_needs_2_9() -> None:
    with pytest.raises(UnsupportedRayError, match="target_capacity"):
        RayRelease("2.8.1").require_target_capacity(WHERE)
    RayRelease("2.9.0").require_target_capacity(WHERE)
    with pytest.raises(UnsupportedRayError, match=r"initial_target_capacity \(Ray 2\.9\.0\)"):
        RayRelease("2.8.1").require_known(WHERE, initial_target_capacity=0)


def app_with(**deployment: Any) -> dict[str, Any]:
    app = fruit_app("file:///tmp/fruit.zip")
    app["deployments"][1].update(deployment)
    return ServeApp.model_validate(app).to_serve_dict()


def test_a_field_the_cluster_ray_does_not_know_is_refused_by_name_and_release() -> None:
    app = app_with(max_ongoing_requests=8, max_queued_requests=20)
    with pytest.raises(UnsupportedRayError) as caught:
        RayRelease("2.9.3").require_known(WHERE, app=app)
    message = str(caught.value)
    assert "app.deployments[1].max_ongoing_requests (Ray 2.10.0)" in message
    assert "app.deployments[1].max_queued_requests (Ray 2.10.0)" in message
    assert "silently ignore" in message
    RayRelease("2.10.0").require_known(WHERE, app=app)


def test_nested_keys_and_values_are_found_where_they_are_set() -> None:
    app = app_with(
        num_replicas="auto",
        ray_actor_options={"num_cpus": 0.1, "label_selector": {"zone": "a"}},
    )
    with pytest.raises(UnsupportedRayError) as caught:
        RayRelease("2.46.0").require_known(WHERE, app=app)
    assert "app.deployments[1].ray_actor_options.label_selector (Ray 2.54.0)" in str(caught.value)
    assert "num_replicas" not in str(caught.value)  # "auto" is known since 2.10
    with pytest.raises(UnsupportedRayError, match=r"num_replicas='auto' \(Ray 2\.10\.0\)"):
        RayRelease("2.9.3").require_known(WHERE, app=app)


def test_serve_options_are_checked_too() -> None:
    options = {"proxy_location": "Disabled", "http_options": {"ssl_keyfile": "/k"}}
    with pytest.raises(UnsupportedRayError) as caught:
        RayRelease("2.9.3").require_known(WHERE, serve_options=options)
    assert "serve_options.proxy_location='Disabled' (Ray 2.10.0)" in str(caught.value)
    assert "serve_options.http_options.ssl_keyfile (Ray 2.50.0)" in str(caught.value)
    RayRelease("2.50.0").require_known(WHERE, serve_options=options)


def test_a_key_set_to_null_is_no_key() -> None:
    app = app_with()
    app["deployments"][0]["max_ongoing_requests"] = None
    RayRelease("2.8.0").require_known(WHERE, app=app)


def test_every_key_of_the_table_is_a_key_of_the_models() -> None:
    # A path in the table that the models do not have would never match: a typo there would let
    # a field through silently. Every path must name a field the models accept.
    from pulumi_rayservice.serve.models.application import ServeApp as App

    def fields_at(model: Any, path: tuple[str, ...]) -> bool:
        for step in path:
            if step == "*":
                continue
            found = model.model_fields.get(step)
            if found is None:
                return False
            annotation = found.annotation
            inner = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not None]
            model = next((a for a in _flatten(inner) if hasattr(a, "model_fields")), None)
            if model is None:
                return step == path[-1]
        return True

    for path in KEYS_SINCE:
        assert fields_at(App, path), path
    from pulumi_rayservice.serve.models.config import ServeConfig

    for path in OPTION_KEYS_SINCE:
        assert fields_at(ServeConfig, path), path


def _flatten(types: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in types:
        args = getattr(item, "__args__", None)
        out.extend(_flatten(list(args)) if args else [item])
    return out


def test_autoscaled_deployments_count_as_serving_config_resizes_do_not() -> None:
    def app(status: str, trigger: str) -> AppState:
        return AppState.from_details(
            "a",
            {
                "status": "RUNNING",
                "deployments": {
                    "A": {"status": "HEALTHY"},
                    "B": {"status": status, "status_trigger": trigger},
                },
            },
        )

    assert app("UPSCALING", "AUTOSCALING").is_running
    assert app("DOWNSCALING", "AUTOSCALING").is_running
    assert not app("UPSCALING", "CONFIG_UPDATE_STARTED").is_running
    assert not app("UNHEALTHY", "HEALTH_CHECK_FAILED").is_running
    assert "B UPSCALING" in app("UPSCALING", "CONFIG_UPDATE_STARTED").explain()
