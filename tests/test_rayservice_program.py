"""The RayService component's wiring, run under Pulumi mocks (no engine, no cluster).

Checks what the engine would receive: the children, their types, parents and names, the serve
Service's selector and ports, the order of registration (a dependent registers only after what it
depends on has been created), and the mapping of KubeRay RayService manifests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml
from rayservice_testbed.harness.pulumi_mocks import (
    APP_TYPE,
    CLUSTER_TYPE,
    ResourceMocks,
    mocked_runtime,
)
from rayservice_testbed.paths import KUBERAY_SAMPLES

import pulumi_rayservice as rs
from pulumi_rayservice.errors import ValidationError

SAMPLES = KUBERAY_SAMPLES
SAMPLE = SAMPLES / "ray-service.sample.yaml"
SERVICE_TYPE = "kubernetes:core/v1:Service"


def run(program: Callable[[], rs.RayService]) -> tuple[ResourceMocks, dict[str, Any]]:
    """Run ``program`` under mocks; return the registrations and the component's outputs."""
    mocks = ResourceMocks()
    resolved: dict[str, Any] = {}
    with mocked_runtime(mocks):

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def check() -> pulumi.Output[Any]:
            service = program()
            return pulumi.Output.all(
                service.cluster_name, service.serve_service, service.app_statuses, service.urn
            ).apply(
                lambda v: resolved.update(
                    cluster_name=v[0], serve_service=v[1], app_statuses=v[2], urn=v[3]
                )
            )

        check()
    return mocks, resolved


def sample_service() -> rs.RayService:
    return rs.RayService.from_manifest(SAMPLE, namespace="ray")


def test_children_names_and_outputs() -> None:
    mocks, outputs = run(sample_service)
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    apps = mocks.of_type(APP_TYPE)
    [service] = mocks.of_type(SERVICE_TYPE)
    assert cluster.name == "rayservice-sample"
    assert sorted(a.name for a in apps) == [
        "rayservice-sample-fruit_app",
        "rayservice-sample-math_app",
    ]
    assert service.name == "rayservice-sample-serve-svc"
    assert outputs["urn"].endswith("rayservice:index:RayService::rayservice-sample")
    assert outputs["cluster_name"] == "rayservice-sample-abcde"
    assert outputs["serve_service"] == "rayservice-sample-serve-svc"
    assert outputs["app_statuses"] == {"fruit_app": "RUNNING", "math_app": "RUNNING"}


def test_children_are_parented_by_the_component() -> None:
    urns: list[str] = []

    def program() -> rs.RayService:
        service = sample_service()
        children = [service.cluster, *service.apps.values(), service._service]
        pulumi.Output.all(*[c.urn for c in children]).apply(urns.extend)
        return service

    run(program)
    assert len(urns) == 4
    for urn in urns:
        # A child's URN names its parent's type: stack::project::<parent type>$<type>::<name>
        assert "::rayservice:index:RayService$" in urn, urn


def test_apps_target_the_clusters_dashboard_and_revision() -> None:
    mocks, _ = run(sample_service)
    for app in mocks.of_type(APP_TYPE):
        assert app.inputs["dashboard"] == {
            "service": "rayservice-sample-abcde-head-svc",
            "namespace": "ray",
            "port": "dashboard",
        }
        assert app.inputs["cluster_revision"] == "rev-1"
        assert app.inputs["drain_s"] == 60
        assert app.inputs["wait_for_removal"] is False


def test_serve_service_selects_the_active_cluster_and_registers_after_every_app() -> None:
    mocks, _ = run(sample_service)
    [service] = mocks.of_type(SERVICE_TYPE)
    spec = service.inputs["spec"]
    assert spec["selector"] == {"ray.io/cluster": "rayservice-sample-abcde"}
    assert spec["ports"] == [{"name": "serve", "port": 8000, "targetPort": 8000}]
    assert service.inputs["metadata"]["namespace"] == "ray"
    order = [r.typ for r in mocks.created]
    assert order.index(SERVICE_TYPE) > max(i for i, t in enumerate(order) if t == APP_TYPE)
    assert order.index(CLUSTER_TYPE) < min(i for i, t in enumerate(order) if t == APP_TYPE)


def test_from_manifest_maps_the_serve_config_and_the_cluster() -> None:
    mocks, _ = run(sample_service)
    manifest = yaml.safe_load(SAMPLE.read_text())
    serve_config = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    apps = {a.inputs["app"]["name"]: a.inputs["app"] for a in mocks.of_type(APP_TYPE)}
    assert apps == {a["name"]: a for a in serve_config["applications"]}
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    assert cluster.inputs["spec"] == manifest["spec"]["rayClusterConfig"]
    assert cluster.inputs["namespace"] == "ray"


def test_different_port_sample_moves_the_serve_port_and_pins_it_to_the_cluster() -> None:
    mocks, _ = run(lambda: rs.RayService.from_manifest(SAMPLES / "ray-service.different-port.yaml"))
    [service] = mocks.of_type(SERVICE_TYPE)
    assert service.inputs["spec"]["ports"] == [{"name": "serve", "port": 9000, "targetPort": 9000}]
    for app in mocks.of_type(APP_TYPE):
        assert app.inputs["serve_options"] == {"http_options": {"port": 9000}}
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    annotations = cluster.inputs["spec"]["headGroupSpec"]["template"]["metadata"]["annotations"]
    assert "rayservice.pulumi.com/serve-options" in annotations


def test_custom_serve_service_sample_keeps_name_type_ports_and_labels() -> None:
    mocks, outputs = run(
        lambda: rs.RayService.from_manifest(SAMPLES / "ray-service.custom-serve-service.yaml")
    )
    [service] = mocks.of_type(SERVICE_TYPE)
    assert service.inputs["metadata"]["name"] == "custom-ray-serve-service-name"
    assert service.inputs["metadata"]["labels"]["custom-label"] == "custom-ray-serve-service-label"
    assert service.inputs["spec"]["type"] == "LoadBalancer"
    assert service.inputs["spec"]["ports"][0]["port"] == 12345
    assert outputs["serve_service"] == "custom-ray-serve-service-name"


def test_high_availability_sample_deploys_its_rayservice() -> None:
    mocks, _ = run(
        lambda: rs.RayService.from_manifest(SAMPLES / "ray-service.high-availability.yaml")
    )
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    assert "gcsFaultToleranceOptions" in cluster.inputs["spec"]


def test_in_place_strategy_asks_kuberay_to_recreate_pods() -> None:
    spec = yaml.safe_load(SAMPLE.read_text())["spec"]["rayClusterConfig"]
    mocks, _ = run(
        lambda: rs.RayService(
            "fruit", cluster=spec, applications=[], upgrade=rs.Upgrade(strategy="InPlace")
        )
    )
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    assert cluster.inputs["spec"]["upgradeStrategy"] == {"type": "Recreate"}


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.update(apiVersion="ray.io/v1alpha1"), "apiVersion"),
        (
            lambda d: d["spec"].update(serviceUnhealthySecondThreshold=900),
            "spec.serviceUnhealthySecondThreshold",
        ),
        (lambda d: d["spec"].update(rayClusterConfg={}), "spec.rayClusterConfg"),
        (lambda d: d["spec"].update(upgradeStrategy={"type": "Blue"}), "spec.upgradeStrategy.type"),
        (
            lambda d: d["spec"].update(serveService={"spec": {"selector": {"a": "b"}}}),
            "spec.serveService.spec.selector",
        ),
        (lambda d: d["spec"].pop("rayClusterConfig"), "spec.rayClusterConfig"),
    ],
    ids=["v1alpha1", "deprecated-threshold", "typo", "strategy", "selector", "no-cluster"],
)
def test_manifest_fields_that_cannot_be_honoured_are_errors_naming_them(
    edit: Callable[[dict[str, Any]], None], field: str
) -> None:
    doc = yaml.safe_load(SAMPLE.read_text())
    edit(doc)
    with pytest.raises(ValidationError) as error:
        rs.RayService.from_manifest(doc)
    assert field in str(error.value)


TRAFFIC_TYPE = "pulumi-python:dynamic/rayservice:TrafficSplit"
INCREMENTAL_SAMPLE = SAMPLES / "ray-service.incremental-upgrade.yaml"


def test_incremental_upgrade_sample_deploys_behind_a_gateway() -> None:
    mocks, outputs = run(lambda: rs.RayService.from_manifest(INCREMENTAL_SAMPLE))
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    assert cluster.inputs["annotations"]["ray.io/enable-serve-service"] == "true"
    assert mocks.of_type(SERVICE_TYPE) == []  # clients go through the Gateway
    [traffic] = mocks.of_type(TRAFFIC_TYPE)
    assert traffic.inputs["name"] == "rayservice-incremental-upgrade"
    assert traffic.inputs["apps"] == ["fruit_app"]
    options = traffic.inputs["options"]
    assert (
        options["gateway_class_name"],
        options["step_size_percent"],
        options["interval_seconds"],
        options["max_surge_percent"],
    ) == ("istio", 10, 30, 10)
    assert outputs["serve_service"].endswith("-serve-svc")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda o: o.pop("gatewayClassName"), "gateway_class_name= .* or gateway="),
        (lambda o: o.update(stepSizePercent=50), "must not exceed max_surge_percent"),
        (lambda o: o.update(intervalSeconds=0), "clusterUpgradeOptions.intervalSeconds"),
        (lambda o: o.update(maxSurge=5), "clusterUpgradeOptions.maxSurge: not a field"),
    ],
)
def test_incremental_upgrade_options_are_checked_by_kuberays_rules(
    edit: Callable[[dict[str, Any]], None], field: str
) -> None:
    doc = yaml.safe_load(INCREMENTAL_SAMPLE.read_text())
    edit(doc["spec"]["upgradeStrategy"]["clusterUpgradeOptions"])
    with pytest.raises(ValidationError, match=field):
        rs.RayService.from_manifest(doc)


def test_incremental_upgrade_needs_the_autoscaler_as_kuberay_does() -> None:
    doc = yaml.safe_load(INCREMENTAL_SAMPLE.read_text())
    doc["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = False
    with pytest.raises(
        ValidationError, match=r"enableInTreeAutoscaling: .* needs the Ray autoscaler"
    ):
        rs.RayService.from_manifest(doc)
    doc = yaml.safe_load(SAMPLE.read_text())
    doc["spec"]["upgradeStrategy"] = {"type": "NewCluster", "clusterUpgradeOptions": {}}
    with pytest.raises(ValidationError, match="only used by NewClusterWithIncrementalUpgrade"):
        rs.RayService.from_manifest(doc)


def test_upgrade_rejects_negative_drain_and_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="drain_s"):
        rs.Upgrade(drain_s=-1)
    with pytest.raises(ValueError, match="strategy"):
        rs.Upgrade(strategy="BlueGreen")  # type: ignore[arg-type]


def _with_first_deployment(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        config = yaml.safe_load(doc["spec"]["serveConfigV2"])
        config["applications"][0]["deployments"][0].update(fields)
        doc["spec"]["serveConfigV2"] = yaml.safe_dump(config)

    return edit


def _without_ongoing_limits(doc: dict[str, Any]) -> None:
    config = yaml.safe_load(doc["spec"]["serveConfigV2"])
    for app in config["applications"]:
        for dep in app["deployments"]:
            dep.pop("max_ongoing_requests", None)
    doc["spec"]["serveConfigV2"] = yaml.safe_dump(config)


@pytest.mark.parametrize(
    ("sample", "ray_version", "edit", "said"),
    [
        (SAMPLE, "2.7.2", None, "runs Ray 2.7.2; pulumi-rayservice drives Ray 2.8.0 and later"),
        # The incremental upgrade holds the new cluster's capacity with target_capacity.
        (INCREMENTAL_SAMPLE, "2.8.0", _without_ongoing_limits, "has no target_capacity (Ray 2.9.0"),
        (
            SAMPLE,
            "2.9.3",
            _with_first_deployment(max_ongoing_requests=5),
            "app.deployments[0].max_ongoing_requests (Ray 2.10.0)",
        ),
    ],
)
def test_what_the_declared_ray_version_cannot_do_fails_at_preview(
    sample: Any, ray_version: str, edit: Callable[[dict[str, Any]], None] | None, said: str
) -> None:
    doc = yaml.safe_load(sample.read_text())
    doc["spec"]["rayClusterConfig"]["rayVersion"] = ray_version
    if edit is not None:
        edit(doc)
    with pytest.raises(ValidationError) as caught:
        rs.RayService.from_manifest(doc)
    assert said in str(caught.value)
    assert "the cluster's rayVersion says it runs" in str(caught.value)


def test_a_declared_ray_that_can_do_it_all_passes() -> None:
    doc = yaml.safe_load(INCREMENTAL_SAMPLE.read_text())
    doc["spec"]["rayClusterConfig"]["rayVersion"] = "2.10.0"  # max_ongoing_requests: 2.10
    mocks, _ = run(lambda: rs.RayService.from_manifest(doc))
    assert mocks.of_type(TRAFFIC_TYPE)


API_SERVER = rs.KubeRayApiServer(url="http://127.0.0.1:31888")


def test_through_the_api_server_there_is_no_service_and_serve_service_is_the_clusters() -> None:
    def program() -> rs.RayService:
        return rs.RayService.from_manifest(SAMPLE, namespace="ray", api_server=API_SERVER)

    mocks, outputs = run(program)
    [cluster] = mocks.of_type(CLUSTER_TYPE)
    assert mocks.of_type(SERVICE_TYPE) == []
    assert cluster.inputs["api_server"] == {"url": "http://127.0.0.1:31888", "api": "v2"}
    assert "kube" not in cluster.inputs
    assert cluster.inputs["annotations"]["ray.io/enable-serve-service"] == "true"
    assert outputs["serve_service"] == f"{outputs['cluster_name']}-serve-svc"
    for app in mocks.of_type(APP_TYPE):
        assert app.inputs["dashboard"]["api_server"]["url"] == "http://127.0.0.1:31888"


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"kube": rs.Kube(kubeconfig="/x")}, "not both"),
        (
            {
                "upgrade": rs.Upgrade(
                    strategy="NewClusterWithIncrementalUpgrade",
                    cluster_upgrade_options=rs.ClusterUpgradeOptions(
                        gateway_class_name="istio", step_size_percent=25, interval_seconds=30
                    ),
                )
            },
            "Gateway",
        ),
        ({"serve_service": {"metadata": {"name": "mine"}}}, "cannot make"),
        ({"exclude_head_from_serve_service": True}, "cannot make"),
    ],
)
def test_what_the_api_server_cannot_build_is_refused_before_anything(
    kwargs: dict[str, Any], says: str
) -> None:
    spec = rs.ClusterSpec(
        ray_version="2.52.0", head=rs.HeadGroup(compute=rs.ComputeTemplate(cpu=1, memory=2))
    )
    with pytest.raises(ValidationError, match=says):
        run(lambda: rs.RayService("svc", spec, [], api_server=API_SERVER, **kwargs))
