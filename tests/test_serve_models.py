"""Valid and invalid Serve applications as tables (the style of Ray's unit/test_schema.py).

Each invalid case names the field path the user reads and a fragment of the reason, and records
whether Ray's own PUT schema (ServeDeploySchema) refuses it too ("ray_rejects") or would take it
and then drop it or fail later: the differential tests check both columns against the installed Ray.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.output import Unknown
from pydantic import ValidationError as PydanticValidationError
from rayservice_testbed.paths import KUBERAY_SAMPLES

from pulumi_rayservice.errors import ValidationError
from pulumi_rayservice.serve.models import (
    AutoscalingConfig,
    LoggingConfig,
    RayActorOptions,
    ServeApp,
    ServeConfig,
    ServeDeployment,
    check_app,
)

# serveConfigV2 of KubeRay's ray-service.sample.yaml (the seed's fruit_app and math_app).
SAMPLE_SERVE_CONFIG = """\
applications:
  - name: fruit_app
    import_path: fruit.deployment_graph
    route_prefix: /fruit
    runtime_env:
      working_dir: "https://github.com/ray-project/test_dag/archive/78b4a5da38796123d9f9ffff59bab2792a043e95.zip"
    deployments:
      - name: MangoStand
        num_replicas: 2
        max_replicas_per_node: 1
        user_config:
          price: 3
        ray_actor_options:
          num_cpus: 0.1
      - name: OrangeStand
        num_replicas: 1
        user_config:
          price: 2
        ray_actor_options:
          num_cpus: 0.1
      - name: PearStand
        num_replicas: 1
        user_config:
          price: 1
        ray_actor_options:
          num_cpus: 0.1
      - name: FruitMarket
        num_replicas: 1
        ray_actor_options:
          num_cpus: 0.1
  - name: math_app
    import_path: conditional_dag.serve_dag
    route_prefix: /calc
    runtime_env:
      working_dir: "https://github.com/ray-project/test_dag/archive/78b4a5da38796123d9f9ffff59bab2792a043e95.zip"
    deployments:
      - name: Adder
        num_replicas: 1
        user_config:
          increment: 3
        ray_actor_options:
          num_cpus: 0.1
      - name: Multiplier
        num_replicas: 1
        user_config:
          factor: 5
        ray_actor_options:
          num_cpus: 0.1
      - name: Router
        num_replicas: 1
"""
_SAMPLE_APPS = yaml.safe_load(SAMPLE_SERVE_CONFIG)["applications"]
FRUIT_APP: dict[str, Any] = _SAMPLE_APPS[0]
MATH_APP: dict[str, Any] = _SAMPLE_APPS[1]

SAMPLES_DIR = KUBERAY_SAMPLES


# Ray's schema imports a custom autoscaling policy or request router while it validates a PUT (in
# the dashboard process), so the differential tests name classes that Ray itself ships.
RAY_DEFAULT_POLICY = "ray.serve.autoscaling_policy:default_autoscaling_policy"
RAY_DEFAULT_ROUTER = "ray.serve._private.request_router:PowerOfTwoChoicesRequestRouter"


def app(**fields: Any) -> dict[str, Any]:
    return {"name": "app1", "import_path": "pkg.module:app", **fields}


def dep(**fields: Any) -> dict[str, Any]:
    return app(deployments=[{"name": "D", **fields}])


def actor(**options: Any) -> dict[str, Any]:
    return dep(ray_actor_options=options)


# Valid ---------------------------------------------------------------------------------------

VALID: list[tuple[str, dict[str, Any]]] = [
    ("fruit_app", FRUIT_APP),
    ("math_app", MATH_APP),
    ("minimal", app()),
    ("import_path_dotted", app(import_path="fruit.deployment_graph")),
    ("route_prefix_root", app(route_prefix="/")),
    ("route_prefix_nested", app(route_prefix="/api/v1")),
    ("working_dir_https", app(runtime_env={"working_dir": "https://example.com/a/app.zip"})),
    ("working_dir_s3", app(runtime_env={"working_dir": "s3://bucket/app.zip"})),
    ("working_dir_gs", app(runtime_env={"working_dir": "gs://bucket/app.zip"})),
    ("working_dir_file_zip", app(runtime_env={"working_dir": "file:///tmp/app.zip"})),
    ("working_dir_local_dir", app(runtime_env={"working_dir": "local:///opt/app"})),
    (
        "py_modules_uris",
        app(runtime_env={"py_modules": ["s3://b/m.zip", "https://h/m.whl"], "pip": ["requests"]}),
    ),
    ("env_vars_strings", app(runtime_env={"env_vars": {"A": "1", "B": "x"}})),
    ("num_replicas_int", dep(num_replicas=3)),
    ("num_replicas_float_from_engine", dep(num_replicas=2.0)),
    ("num_replicas_auto", dep(num_replicas="auto")),
    (
        "auto_with_autoscaling",
        dep(num_replicas="auto", autoscaling_config={"min_replicas": 2, "max_replicas": 5}),
    ),
    # With "auto" Serve's default max_replicas is 100, so min_replicas 5 alone is fine.
    ("auto_min_only", dep(num_replicas="auto", autoscaling_config={"min_replicas": 5})),
    (
        "autoscaling_full",
        dep(
            max_ongoing_requests=100,
            autoscaling_config={
                "min_replicas": 0,
                "initial_replicas": 1,
                "max_replicas": 3.0,
                "target_ongoing_requests": 2,
                "upscale_delay_s": 10,
                "downscale_delay_s": 60.0,
                "downscale_to_zero_delay_s": 300,
                "look_back_period_s": 30,
                "upscaling_factor": 1.5,
                "aggregation_function": "MAX",
                "policy": {"policy_function": RAY_DEFAULT_POLICY, "policy_kwargs": {"k": 1}},
            },
        ),
    ),
    ("max_ongoing_float_from_engine", dep(max_ongoing_requests=100.0)),
    ("max_queued_no_limit", dep(max_queued_requests=-1)),
    ("max_queued_float_from_engine", dep(max_queued_requests=10.0)),
    (
        "timings",
        dep(
            graceful_shutdown_wait_loop_s=2,
            graceful_shutdown_timeout_s=0,
            health_check_period_s=10.0,
            health_check_timeout_s=30,
            rolling_update_percentage=0.25,
            max_surge_percent=25.0,
        ),
    ),
    (
        "ray_actor_options_full",
        actor(
            num_cpus=0.5,
            num_gpus=1.0,
            memory=2e9,
            resources={"custom_resource": 2, "accelerator_type:A100": 0.001},
            accelerator_type="A100",
            label_selector={"ray.io/availability-zone": "us-west-2a"},
            fallback_strategy=[{"label_selector": {"zone": "b"}}],
            runtime_env={"working_dir": "s3://bucket/d.zip", "env_vars": {"X": "1"}},
        ),
    ),
    ("num_cpus_zero", actor(num_cpus=0)),
    (
        "user_config_and_args",
        app(
            args={"model": "m", "threshold": 0.5, "layers": [1, 2.0]},
            deployments=[{"name": "D", "user_config": {"price": 3.0, "nested": {"a": [1.0]}}}],
        ),
    ),
    (
        "logging_config",
        app(
            logging_config={
                "encoding": "JSON",
                "log_level": "DEBUG",
                "logs_dir": "/tmp/logs",
                "enable_access_log": False,
                "additional_log_standard_attrs": ["name", "funcName"],
            },
            deployments=[{"name": "D", "logging_config": {"log_level": 20.0}}],
        ),
    ),
    (
        "placement_group",
        dep(
            placement_group_bundles=[{"CPU": 1.0}, {"GPU": 1, "CPU": 0}],
            placement_group_strategy="STRICT_PACK",
            placement_group_bundle_label_selector=[{"zone": "a"}],
        ),
    ),
    ("placement_group_strategy_only", dep(placement_group_strategy="SPREAD")),
    ("max_replicas_per_node", dep(num_replicas=2, max_replicas_per_node=1.0)),
    (
        "gang",
        dep(
            num_replicas=4,
            gang_scheduling_config={"gang_size": 2, "gang_placement_strategy": "SPREAD"},
        ),
    ),
    (
        "gang_auto",
        dep(
            num_replicas="auto",
            autoscaling_config={"min_replicas": 2, "max_replicas": 8},
            gang_scheduling_config={"gang_size": 2.0, "runtime_failure_policy": "RESTART_GANG"},
        ),
    ),
    (
        "backpressure",
        dep(max_queued_requests=64, backpressure_config={"status_code": 429.0, "retry_after_s": 5}),
    ),
    (
        "request_router",
        dep(
            request_router_config={
                "request_router_class": RAY_DEFAULT_ROUTER,
                "request_router_kwargs": {"imbalanced_threshold": 20},
                "request_routing_stats_period_s": 5,
                "initial_backoff_s": 0.05,
            }
        ),
    ),
    (
        "deployment_actors",
        dep(
            deployment_actors=[
                {
                    "name": "tree",
                    "actor_class": "pkg.actors:PrefixTree",
                    "init_args": [1],
                    "init_kwargs": {"max_depth": 100},
                    "actor_options": {"num_cpus": 0.1},
                }
            ]
        ),
    ),
    (
        "external_scaler",
        app(external_scaler_enabled=True, deployments=[{"name": "D", "num_replicas": 2}]),
    ),
    ("autoscaling_policy", app(autoscaling_policy={"policy_function": RAY_DEFAULT_POLICY})),
    ("several_deployments", app(deployments=[{"name": "A"}, {"name": "B", "num_replicas": 1}])),
]


@pytest.mark.parametrize(("case", "raw"), VALID, ids=[case for case, _ in VALID])
def test_valid(case: str, raw: dict[str, Any]) -> None:
    serve_dict, failures = check_app(copy.deepcopy(raw))
    assert failures == []
    assert serve_dict is not None
    # Round trip: validating what would be sent gives it back unchanged.
    again = ServeApp.model_validate(serve_dict).to_serve_dict()
    assert again == serve_dict
    assert ServeApp.model_validate(raw).to_serve_dict() == serve_dict


# Invalid -------------------------------------------------------------------------------------

# (id, raw app, path, reason fragment, whether Ray's PUT schema refuses it too)
INVALID: list[tuple[str, dict[str, Any], str, str, bool]] = [
    # Unknown keys: Serve drops them without a word.
    ("typo_app", app(route_prefx="/x"), "app.route_prefx", "did you mean 'route_prefix'", False),
    (
        "typo_deployment",
        dep(num_replica=2),
        "app.deployments[0].num_replica",
        "did you mean 'num_replicas'",
        False,
    ),
    (
        "typo_ray_actor_options",
        actor(num_cpu=1),
        "app.deployments[0].ray_actor_options.num_cpu",
        "did you mean 'num_cpus'",
        False,
    ),
    (
        "ray_actor_option_at_deployment_level",
        dep(num_cpus=1),
        "app.deployments[0].num_cpus",
        "unknown key 'num_cpus'",
        False,
    ),
    (
        "typo_autoscaling",
        dep(autoscaling_config={"max_replica": 3}),
        "app.deployments[0].autoscaling_config.max_replica",
        "did you mean 'max_replicas'",
        False,
    ),
    (
        "typo_logging",
        app(logging_config={"enable_acess_log": False}),
        "app.logging_config.enable_acess_log",
        "did you mean 'enable_access_log'",
        True,
    ),
    (
        "typo_request_router",
        dep(request_router_config={"request_router_cls": "a.b"}),
        "app.deployments[0].request_router_config.request_router_cls",
        "unknown key",
        False,
    ),
    (
        "unknown_key_lists_known",
        dep(autoscaling_config={"zzz": 1}),
        "app.deployments[0].autoscaling_config.zzz",
        "known keys: min_replicas",
        False,
    ),
    # Identity and import path.
    ("name_missing", {"import_path": "a.b"}, "app.name", "required", False),
    ("name_empty", app(name=""), "app.name", "must not be empty", True),
    ("name_not_string", app(name=3), "app.name", "must be a string", True),
    ("import_path_missing", {"name": "x"}, "app.import_path", "required", True),
    ("import_path_no_separator", app(import_path="fruit"), "app.import_path", 'a "." or ":"', True),
    (
        "import_path_two_colons",
        app(import_path="a:b:c"),
        "app.import_path",
        "at most one colon",
        True,
    ),
    (
        "import_path_leading_dot",
        app(import_path=".fruit"),
        "app.import_path",
        "start or end with a dot",
        True,
    ),
    ("import_path_trailing_colon", app(import_path="fruit:"), "app.import_path", "colon", True),
    # Route prefix: Serve accepts these, then the deploy fails.
    (
        "route_prefix_no_slash",
        app(route_prefix="fruit"),
        "app.route_prefix",
        'must start with "/"',
        False,
    ),
    (
        "route_prefix_trailing_slash",
        app(route_prefix="/fruit/"),
        "app.route_prefix",
        'cannot end with "/"',
        False,
    ),
    ("route_prefix_wildcard", app(route_prefix="/a/{id}"), "app.route_prefix", "wildcards", False),
    # runtime_env.
    (
        "working_dir_relative",
        app(runtime_env={"working_dir": "./app"}),
        "app.runtime_env.working_dir",
        "Serve cannot upload a local directory",
        True,
    ),
    (
        "working_dir_absolute_path",
        app(runtime_env={"working_dir": "/home/me/app"}),
        "app.runtime_env.working_dir",
        "got '/home/me/app'",
        True,
    ),
    (
        "working_dir_unknown_scheme",
        app(runtime_env={"working_dir": "ftp://host/app.zip"}),
        "app.runtime_env.working_dir",
        "must be a URI",
        True,
    ),
    (
        "local_uri_relative",
        app(runtime_env={"working_dir": "local://opt/app"}),
        "app.runtime_env.working_dir",
        "absolute path",
        True,
    ),
    (
        "py_modules_local",
        app(runtime_env={"py_modules": ["s3://b/ok.zip", "./mymodule"]}),
        "app.runtime_env.py_modules[1]",
        "got './mymodule'",
        True,
    ),
    (
        "actor_working_dir_local",
        actor(runtime_env={"working_dir": "app"}),
        "app.deployments[0].ray_actor_options.runtime_env.working_dir",
        "must be a URI",
        True,
    ),
    (
        "env_var_not_string",
        app(runtime_env={"env_vars": {"WORKERS": 2}}),
        "app.runtime_env.env_vars.WORKERS",
        "must be strings",
        False,
    ),
    (
        "runtime_env_not_mapping",
        app(runtime_env=["x"]),
        "app.runtime_env",
        "must be a mapping",
        True,
    ),
    # num_replicas.
    (
        "num_replicas_word",
        dep(num_replicas="three"),
        "app.deployments[0].num_replicas",
        "got 'three'; must be a positive integer or \"auto\"",
        True,
    ),
    ("num_replicas_zero", dep(num_replicas=0), "app.deployments[0].num_replicas", "got 0;", True),
    (
        "num_replicas_negative",
        dep(num_replicas=-1),
        "app.deployments[0].num_replicas",
        "positive integer",
        True,
    ),
    (
        "num_replicas_fraction",
        dep(num_replicas=2.5),
        "app.deployments[0].num_replicas",
        "got 2.5;",
        True,
    ),
    (
        "num_replicas_numeric_string",
        dep(num_replicas="2"),
        "app.deployments[0].num_replicas",
        "got '2';",
        True,
    ),
    (
        "num_replicas_bool",
        dep(num_replicas=True),
        "app.deployments[0].num_replicas",
        "got True;",
        False,
    ),
    (
        "num_replicas_auto_caps",
        dep(num_replicas="AUTO"),
        "app.deployments[0].num_replicas",
        "got 'AUTO'",
        True,
    ),
    (
        "num_replicas_with_autoscaling",
        dep(num_replicas=2, autoscaling_config={"max_replicas": 3}),
        "app.deployments[0].num_replicas",
        "together with autoscaling_config",
        True,
    ),
    (
        "num_replicas_float_with_autoscaling",
        dep(num_replicas=2.0, autoscaling_config={"max_replicas": 3.0}),
        "app.deployments[0].num_replicas",
        "together with autoscaling_config",
        True,
    ),
    # Other limits.
    (
        "max_ongoing_zero",
        dep(max_ongoing_requests=0),
        "app.deployments[0].max_ongoing_requests",
        "greater than 0",
        True,
    ),
    (
        "max_ongoing_fraction",
        dep(max_ongoing_requests=2.5),
        "app.deployments[0].max_ongoing_requests",
        "got 2.5; must be an integer",
        True,
    ),
    (
        "max_queued_zero",
        dep(max_queued_requests=0),
        "app.deployments[0].max_queued_requests",
        "-1 (no limit)",
        True,
    ),
    (
        "max_queued_minus_two",
        dep(max_queued_requests=-2),
        "app.deployments[0].max_queued_requests",
        "-1 (no limit)",
        True,
    ),
    (
        "health_period_zero",
        dep(health_check_period_s=0),
        "app.deployments[0].health_check_period_s",
        "greater than 0",
        True,
    ),
    (
        "graceful_negative",
        dep(graceful_shutdown_timeout_s=-1),
        "app.deployments[0].graceful_shutdown_timeout_s",
        "greater than or equal to 0",
        True,
    ),
    (
        "timeout_infinite",
        dep(health_check_timeout_s=float("inf")),
        "app.deployments[0].health_check_timeout_s",
        "finite",
        False,
    ),
    (
        "rolling_update_above_one",
        dep(rolling_update_percentage=1.5),
        "app.deployments[0].rolling_update_percentage",
        "less than or equal to 1",
        True,
    ),
    (
        "max_surge_above_100",
        dep(max_surge_percent=101),
        "app.deployments[0].max_surge_percent",
        "less than or equal to 100",
        True,
    ),
    (
        "max_replicas_per_node_zero",
        dep(max_replicas_per_node=0),
        "app.deployments[0].max_replicas_per_node",
        "greater than or equal to 1",
        False,
    ),
    (
        "max_replicas_per_node_101",
        dep(max_replicas_per_node=101),
        "app.deployments[0].max_replicas_per_node",
        "less than or equal to 100",
        False,
    ),
    (
        "user_config_list",
        dep(user_config=[1, 2]),
        "app.deployments[0].user_config",
        "must be a mapping",
        True,
    ),
    (
        "deployment_name_missing",
        app(deployments=[{"num_replicas": 1}]),
        "app.deployments[0].name",
        "required",
        True,
    ),
    (
        "deployments_not_list",
        app(deployments={"name": "D"}),
        "app.deployments",
        "must be a list",
        True,
    ),
    (
        "duplicate_deployments",
        app(deployments=[{"name": "A"}, {"name": "B"}, {"name": "A"}]),
        "app.deployments[2].name",
        "also deployments[0]",
        False,
    ),
    # ray_actor_options.
    (
        "num_cpus_negative",
        actor(num_cpus=-1),
        "app.deployments[0].ray_actor_options.num_cpus",
        "greater than or equal to 0",
        True,
    ),
    (
        "num_cpus_string",
        actor(num_cpus="1"),
        "app.deployments[0].ray_actor_options.num_cpus",
        "got '1'; must be a number",
        False,
    ),
    (
        "num_cpus_too_fine",
        actor(num_cpus=0.00001),
        "app.deployments[0].ray_actor_options.num_cpus",
        "0.0001",
        False,
    ),
    (
        "num_gpus_bool",
        actor(num_gpus=True),
        "app.deployments[0].ray_actor_options.num_gpus",
        "must be a number",
        False,
    ),
    (
        "resources_cpu",
        actor(resources={"CPU": 1}),
        "app.deployments[0].ray_actor_options.resources.CPU",
        "num_cpus",
        False,
    ),
    (
        "resources_negative",
        actor(resources={"accelerator_type:A100": -1}),
        'app.deployments[0].ray_actor_options.resources["accelerator_type:A100"]',
        "greater than or equal to 0",
        False,
    ),
    # Autoscaling bounds, with Serve's defaults (min 1, max 1; max 100 with "auto").
    (
        "autoscaling_min_above_default_max",
        dep(autoscaling_config={"min_replicas": 3}),
        "app.deployments[0].autoscaling_config.min_replicas",
        "max_replicas 1 (Serve's default)",
        False,
    ),
    (
        "autoscaling_max_below_min",
        dep(autoscaling_config={"min_replicas": 5, "max_replicas": 2}),
        "app.deployments[0].autoscaling_config.max_replicas",
        "max must be >= min",
        False,
    ),
    (
        "autoscaling_initial_above_max",
        dep(num_replicas="auto", autoscaling_config={"initial_replicas": 200}),
        "app.deployments[0].autoscaling_config.initial_replicas",
        "max_replicas 100 (Serve's default)",
        False,
    ),
    (
        "autoscaling_max_zero",
        dep(autoscaling_config={"max_replicas": 0}),
        "app.deployments[0].autoscaling_config.max_replicas",
        "greater than 0",
        False,
    ),
    (
        "autoscaling_aggregation",
        dep(autoscaling_config={"aggregation_function": "median"}),
        "app.deployments[0].autoscaling_config.aggregation_function",
        "'mean', 'max' or 'min'",
        False,
    ),
    # Placement and gang scheduling.
    (
        "placement_strategy_unknown",
        dep(placement_group_strategy="BEST"),
        "app.deployments[0].placement_group_strategy",
        "'PACK', 'SPREAD', 'STRICT_PACK' or 'STRICT_SPREAD'",
        False,
    ),
    (
        "bundles_empty",
        dep(placement_group_bundles=[]),
        "app.deployments[0].placement_group_bundles",
        "at least 1",
        False,
    ),
    (
        "bundle_all_zero",
        dep(placement_group_bundles=[{"CPU": 0}]),
        "app.deployments[0].placement_group_bundles[0]",
        "at least one resource above 0",
        False,
    ),
    (
        "max_replicas_per_node_with_bundles",
        dep(max_replicas_per_node=1, placement_group_bundles=[{"CPU": 1}]),
        "app.deployments[0].max_replicas_per_node",
        "placement_group_bundles",
        True,
    ),
    (
        "label_selector_without_bundles",
        dep(placement_group_bundle_label_selector=[{"zone": "a"}]),
        "app.deployments[0].placement_group_bundle_label_selector",
        "needs bundles",
        True,
    ),
    (
        "label_selectors_count",
        dep(
            placement_group_bundles=[{"CPU": 1}, {"CPU": 1}, {"CPU": 1}],
            placement_group_bundle_label_selector=[{"a": "b"}, {"a": "c"}],
        ),
        "app.deployments[0].placement_group_bundle_label_selector",
        "2 selectors for 3 bundles",
        True,
    ),
    (
        "gang_not_multiple",
        dep(num_replicas=3, gang_scheduling_config={"gang_size": 2}),
        "app.deployments[0].num_replicas",
        "multiple of gang_size (2)",
        True,
    ),
    (
        "gang_auto_not_multiple",
        dep(
            num_replicas="auto",
            autoscaling_config={"max_replicas": 5},
            gang_scheduling_config={"gang_size": 2},
        ),
        "app.deployments[0].autoscaling_config.max_replicas",
        "multiple of gang_size",
        True,
    ),
    (
        "gang_with_max_per_node",
        dep(num_replicas=2, max_replicas_per_node=1, gang_scheduling_config={"gang_size": 2}),
        "app.deployments[0].max_replicas_per_node",
        "gang_scheduling_config",
        True,
    ),
    (
        "gang_restart_replica",
        dep(gang_scheduling_config={"gang_size": 2, "runtime_failure_policy": "RESTART_REPLICA"}),
        "app.deployments[0].gang_scheduling_config.runtime_failure_policy",
        "not implemented",
        True,
    ),
    (
        "gang_size_missing",
        dep(gang_scheduling_config={}),
        "app.deployments[0].gang_scheduling_config.gang_size",
        "required",
        True,
    ),
    (
        "backpressure_status",
        dep(backpressure_config={"status_code": 500}),
        "app.deployments[0].backpressure_config.status_code",
        "503 or 429",
        True,
    ),
    # Logging.
    (
        "log_encoding_lowercase",
        app(logging_config={"encoding": "text"}),
        "app.logging_config.encoding",
        "'TEXT' or 'JSON'",
        True,
    ),
    (
        "log_level_lowercase",
        app(logging_config={"log_level": "debug"}),
        "app.logging_config.log_level",
        "got 'debug'",
        True,
    ),
    (
        "log_level_number",
        app(logging_config={"log_level": 15}),
        "app.logging_config.log_level",
        "got 15",
        True,
    ),
    (
        "log_attr_unknown",
        app(logging_config={"additional_log_standard_attrs": ["name", "hostname"]}),
        "app.logging_config.additional_log_standard_attrs[1]",
        "got 'hostname'",
        True,
    ),
    # Per-application host/port: refused by Serve's multi-application config (400).
    ("host_per_app", app(host="0.0.0.0"), "app.host", "http_options", True),
    ("port_per_app", app(port=8001.0), "app.port", "http_options", True),
    (
        "external_scaler_with_autoscaling",
        app(external_scaler_enabled=True, deployments=[{"name": "D", "num_replicas": "auto"}]),
        "app.deployments[0]",
        "external_scaler_enabled",
        True,
    ),
    (
        "external_scaler_string",
        app(external_scaler_enabled="yes"),
        "app.external_scaler_enabled",
        "true or false",
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "raw", "path", "fragment", "ray_rejects"), INVALID, ids=[c[0] for c in INVALID]
)
def test_invalid(
    case: str, raw: dict[str, Any], path: str, fragment: str, ray_rejects: bool
) -> None:
    serve_dict, failures = check_app(copy.deepcopy(raw))
    assert serve_dict is None
    assert any(p == path and fragment in reason for p, reason in failures), failures
    with pytest.raises(PydanticValidationError):
        ServeApp.model_validate(raw)


def test_invalid_reports_every_field() -> None:
    raw = dep(num_replicas="three", max_ongoing_requests=0, num_replica=2)
    _, failures = check_app(raw)
    assert {p for p, _ in failures} == {
        "app.deployments[0].num_replicas",
        "app.deployments[0].max_ongoing_requests",
        "app.deployments[0].num_replica",
    }


# Differential: Ray's own PUT schema --------------------------------------------------------------


def _ray_accepts(app_dict: dict[str, Any]) -> bool:
    schema = pytest.importorskip("ray.serve.schema")
    try:
        schema.ServeDeploySchema.model_validate({"applications": [app_dict]})
    except Exception:  # ValidationError, or NotImplementedError from one of Ray's validators
        return False
    return True


@pytest.mark.parametrize(("case", "raw"), VALID, ids=[case for case, _ in VALID])
def test_ray_accepts_every_valid_case(case: str, raw: dict[str, Any]) -> None:
    pytest.importorskip("ray.serve")
    serve_dict, _ = check_app(copy.deepcopy(raw))
    assert serve_dict is not None
    assert _ray_accepts(serve_dict)


@pytest.mark.parametrize(
    ("case", "raw", "path", "fragment", "ray_rejects"), INVALID, ids=[c[0] for c in INVALID]
)
def test_ray_column_of_invalid_cases(
    case: str, raw: dict[str, Any], path: str, fragment: str, ray_rejects: bool
) -> None:
    """Where Ray's PUT schema takes a case we refuse, Serve would drop it or fail later."""
    pytest.importorskip("ray.serve")
    # name_missing: Ray names the app "default"; we require the name (it is the identity).
    assert _ray_accepts(copy.deepcopy(raw)) is not ray_rejects


_FIELD_PAIRS = [
    ("ServeApp", "ray.serve.schema", "ServeApplicationSchema"),
    ("ServeDeployment", "ray.serve.schema", "DeploymentSchema"),
    ("RayActorOptions", "ray.serve.schema", "RayActorOptionsSchema"),
    ("LoggingConfig", "ray.serve.schema", "LoggingConfig"),
    ("ServeConfig", "ray.serve.schema", "ServeDeploySchema"),
    ("HTTPOptions", "ray.serve.schema", "HTTPOptionsSchema"),
    ("GRPCOptions", "ray.serve.schema", "gRPCOptionsSchema"),
    ("TracingConfig", "ray.serve.schema", "TracingConfig"),
    ("AutoscalingConfig", "ray.serve.config", "AutoscalingConfig"),
    ("AutoscalingPolicy", "ray.serve.config", "AutoscalingPolicy"),
    ("BackpressureConfig", "ray.serve.config", "BackpressureConfig"),
    ("RequestRouterConfig", "ray.serve.config", "RequestRouterConfig"),
    ("GangSchedulingConfig", "ray.serve.config", "GangSchedulingConfig"),
    ("DeploymentActorConfig", "ray.serve.config", "DeploymentActorConfig"),
    ("ControllerOptions", "ray.serve.config", "ControllerOptions"),
]


@pytest.mark.parametrize(
    ("ours", "module", "theirs"), _FIELD_PAIRS, ids=[p[0] for p in _FIELD_PAIRS]
)
def test_fields_match_ray(ours: str, module: str, theirs: str) -> None:
    """Same fields, same order as the installed Ray's model (catches a Ray upgrade)."""
    from pulumi_rayservice.serve import models

    ray_model = getattr(pytest.importorskip(module), theirs)
    assert list(getattr(models, ours).model_fields) == list(ray_model.model_fields)


# Numbers as the engine sends them ------------------------------------------------------------


def test_engine_floats_become_ints() -> None:
    raw = dep(num_replicas=2.0, max_ongoing_requests=5.0, user_config={"price": 3.0, "ratio": 0.5})
    serve_dict, failures = check_app(raw)
    assert failures == []
    assert serve_dict is not None
    deployment = serve_dict["deployments"][0]
    assert deployment == {
        "name": "D",
        "num_replicas": 2,
        "max_ongoing_requests": 5,
        "user_config": {"price": 3, "ratio": 0.5},
    }
    assert type(deployment["num_replicas"]) is int
    assert type(deployment["user_config"]["price"]) is int


def test_integral_float_accepted_by_constructor() -> None:
    deployment = ServeDeployment(name="D", num_replicas=2.0, max_replicas_per_node=1.0)
    assert deployment.num_replicas == 2
    assert type(deployment.num_replicas) is int
    with pytest.raises(PydanticValidationError, match=r"got 2\.5"):
        ServeDeployment(name="D", max_ongoing_requests=2.5)


# to_serve_dict -------------------------------------------------------------------------------


def test_to_serve_dict_drops_unset_and_none() -> None:
    model = ServeApp(
        name="a",
        import_path="m.app",
        route_prefix=None,
        args=None,
        deployments=[
            ServeDeployment(
                name="D",
                user_config={"price": 3.0, "unused": None},
                ray_actor_options=RayActorOptions(num_cpus=0.1, num_gpus=None),
                autoscaling_config=None,
                logging_config=LoggingConfig(log_level="INFO"),
            )
        ],
    )
    assert model.to_serve_dict() == {
        "name": "a",
        "import_path": "m.app",
        "deployments": [
            {
                "name": "D",
                "user_config": {"price": 3},
                "ray_actor_options": {"num_cpus": 0.1},
                "logging_config": {"log_level": "INFO"},
            }
        ],
    }


def test_to_serve_dict_round_trip_of_models() -> None:
    model = ServeApp(
        name="a",
        import_path="m.app",
        deployments=[
            ServeDeployment(
                name="D",
                num_replicas="auto",
                autoscaling_config=AutoscalingConfig(min_replicas=1, max_replicas=4.0),
            )
        ],
    )
    sent = model.to_serve_dict()
    assert sent["deployments"][0]["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 4}
    assert ServeApp.model_validate(sent).to_serve_dict() == sent


# check_app on what the engine may send -------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [None, [], 3, "x", {}, {1: 2}, {"name": None}, {"deployments": [None]}, {"name": object()}],
    ids=["none", "list", "int", "str", "empty", "int_key", "none_value", "none_item", "object"],
)
def test_check_app_never_raises(raw: Any) -> None:
    serve_dict, failures = check_app(raw)
    assert serve_dict is None
    assert failures


def test_check_app_field_prefix() -> None:
    _, failures = check_app(dep(num_replicas=0), field="applications[1]")
    assert failures[0][0] == "applications[1].deployments[0].num_replicas"


def test_check_app_unknown_during_preview() -> None:
    assert check_app(app(route_prefix=Unknown())) == (None, [])


def test_check_app_accepts_model() -> None:
    serve_dict, failures = check_app(ServeApp(name="a", import_path="m.app"))
    assert (serve_dict, failures) == ({"name": "a", "import_path": "m.app"}, [])


def test_check_app_none_values_mean_unset() -> None:
    serve_dict, failures = check_app(
        app(route_prefix=None, deployments=[{"name": "D", "num_replicas": None}])
    )
    assert failures == []
    assert serve_dict == {
        "name": "app1",
        "import_path": "pkg.module:app",
        "deployments": [{"name": "D"}],
    }


# ServeConfig ---------------------------------------------------------------------------------


def test_sample_config_parses() -> None:
    config = ServeConfig.from_yaml_text(SAMPLE_SERVE_CONFIG)
    assert [a.name for a in config.applications] == ["fruit_app", "math_app"]
    fruit = config.applications[0].to_serve_dict()
    assert fruit["deployments"][0] == {
        "name": "MangoStand",
        "num_replicas": 2,
        "max_replicas_per_node": 1,
        "user_config": {"price": 3},
        "ray_actor_options": {"num_cpus": 0.1},
    }
    assert config.to_serve_dict() == yaml.safe_load(SAMPLE_SERVE_CONFIG)


def _kuberay_samples() -> list[Path]:
    found = []
    for path in sorted(SAMPLES_DIR.glob("ray-service.*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and (doc.get("spec") or {}).get("serveConfigV2"):
                found.append(path)
                break
    return found


def test_the_kuberay_samples_with_serve_configs_are_all_found() -> None:
    assert len(_kuberay_samples()) == 5


@pytest.mark.parametrize("path", _kuberay_samples(), ids=lambda p: p.name)
def test_every_kuberay_sample_parses(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        text = (doc.get("spec") or {}).get("serveConfigV2") if isinstance(doc, dict) else None
        if text:
            config = ServeConfig.from_yaml_text(text)
            assert config.applications
            for application in config.applications:
                assert check_app(application.to_serve_dict())[1] == []


def test_sample_math_app_matches() -> None:
    config = ServeConfig.from_yaml_text(SAMPLE_SERVE_CONFIG)
    assert config.applications[1].to_serve_dict() == MATH_APP


CONFIG_INVALID: list[tuple[str, str, str]] = [
    (
        "applications:\n- {name: a, import_path: m.a, route_prefix: /a}\n"
        "- {name: a, import_path: m.b, route_prefix: /b}\n",
        "applications[1].name",
        "application names must be unique",
    ),
    (
        "applications:\n- {name: a, import_path: m.a, route_prefix: /x}\n"
        "- {name: b, import_path: m.b, route_prefix: /x}\n",
        "applications[1].route_prefix",
        "route prefixes must be unique",
    ),
    (
        "applications:\n- {name: a, import_path: m.a}\n- {name: b, import_path: m.b}\n",
        "applications[1].route_prefix",
        'where unset means "/"',
    ),
    ("aplications: []\n", "aplications", "did you mean 'applications'"),
    ("proxy_location: Everywhere\napplications: []\n", "proxy_location", "'EveryNode'"),
    ("http_options: {prot: 8000}\napplications: []\n", "http_options.prot", "did you mean 'port'"),
    ("target_capacity: 150\napplications: []\n", "target_capacity", "less than or equal to 100"),
    (
        "applications:\n- {name: a, import_path: m.a, deployments: [{name: D, num_replica: 2}]}\n",
        "applications[0].deployments[0].num_replica",
        "did you mean 'num_replicas'",
    ),
]


@pytest.mark.parametrize(("text", "path", "fragment"), CONFIG_INVALID)
def test_config_invalid(text: str, path: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        ServeConfig.from_yaml_text(text)
    assert f"{path}: " in str(info.value)
    assert fragment in str(info.value)


def test_config_cluster_level_keys() -> None:
    text = (
        "proxy_location: HeadOnly\nhttp_options: {host: 0.0.0.0, port: 9000}\n"
        "grpc_options: {port: 9001, grpc_servicer_functions: [a.b:add]}\n"
        "logging_config: {encoding: JSON}\ntarget_capacity: 50\n"
        "tracing_config: {enabled: true, sampling_ratio: 0.5}\n"
        "controller_options: {runtime_env: {env_vars: {A: '1'}}}\n"
        "applications:\n- {name: a, import_path: m.a}\n"
    )
    config = ServeConfig.from_yaml_text(text)
    assert config.http_options is not None and config.http_options.port == 9000
    assert _ray_accepts_config(config.to_serve_dict())


def _ray_accepts_config(config: dict[str, Any]) -> bool:
    schema = pytest.importorskip("ray.serve.schema")
    schema.ServeDeploySchema.model_validate(config)
    return True


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("applications: [\n", "not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
        ("", "must hold a mapping"),
    ],
)
def test_config_not_a_config(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        ServeConfig.from_yaml_text(text)


# from_yaml -----------------------------------------------------------------------------------


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "serve.yaml"
    path.write_text(
        "proxy_location: EveryNode\nhttp_options:\n  port: 8000\n" + SAMPLE_SERVE_CONFIG
    )
    return path


def test_from_yaml_by_name(sample_file: Path) -> None:
    math = ServeApp.from_yaml(sample_file, name="math_app")
    assert math.to_serve_dict() == MATH_APP
    assert ServeConfig.from_yaml(sample_file).applications[1] == math


def test_from_yaml_several_without_name(sample_file: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"holds 2 applications \('fruit_app', 'math_app'\); pass name="
    ):
        ServeApp.from_yaml(sample_file)


def test_from_yaml_name_absent(sample_file: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"no application named 'nope'; found: 'fruit_app', 'math_app'"
    ):
        ServeApp.from_yaml(sample_file, name="nope")


def test_from_yaml_only_app(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("applications:\n- name: only\n  import_path: m.app\n  route_prefix: /only\n")
    assert ServeApp.from_yaml(path).name == "only"
    assert ServeApp.from_yaml(str(path), name="only").route_prefix == "/only"


def test_from_yaml_single_app_mapping(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        "import_path: fruit.deployment_graph\ndeployments:\n- {name: MangoStand, num_replicas: 2}\n"
    )
    loaded = ServeApp.from_yaml(path, name="fruit")
    assert loaded.to_serve_dict() == {
        "name": "fruit",
        "import_path": "fruit.deployment_graph",
        "deployments": [{"name": "MangoStand", "num_replicas": 2}],
    }
    with pytest.raises(
        ValidationError, match=r"app\.yaml: invalid Serve application:\n  name: required"
    ):
        ServeApp.from_yaml(path)


def test_from_yaml_single_app_other_name(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text("name: fruit\nimport_path: fruit.deployment_graph\n")
    assert ServeApp.from_yaml(path).name == "fruit"
    with pytest.raises(ValidationError, match="holds application 'fruit', not 'math'"):
        ServeApp.from_yaml(path, name="math")


def test_from_yaml_invalid_app_names_fields(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "applications:\n- name: ok\n  import_path: m.a\n- name: bad\n  import_path: m.b\n"
        "  route_prefix: bad/\n  deployments:\n  - {name: D, num_replica: 2}\n"
    )
    assert ServeApp.from_yaml(path, name="ok").name == "ok"  # the other app is not checked
    with pytest.raises(ValidationError) as info:
        ServeApp.from_yaml(path, name="bad")
    message = str(info.value)
    assert "applications[1].route_prefix: got 'bad/'" in message
    assert "applications[1].deployments[0].num_replica: unknown key" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("http_options: {port: 8000}\n", "not a Serve config"),
        ("applications: [\n", "not valid YAML"),
        ("- import_path: m.a\n", "must hold a mapping"),
        ("applications:\n- just-a-string\n", "applications[0] must be a mapping"),
    ],
)
def test_from_yaml_not_an_app(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        ServeApp.from_yaml(path)
    assert fragment in str(info.value)


def test_from_yaml_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        ServeApp.from_yaml(tmp_path / "missing.yaml")


def test_public_names() -> None:
    from pulumi_rayservice.serve import models

    assert set(models.__all__) == {
        "ServeApp",
        "ServeDeployment",
        "RayActorOptions",
        "AutoscalingConfig",
        "LoggingConfig",
        "ServeConfig",
        "check_app",
        "check_serve_options",
    }
