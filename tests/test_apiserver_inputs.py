"""The KubeRay API server target and compute templates: what is refused at preview, and why.

Tables of bad inputs through the public models and the providers' ``check`` (a failure naming
the field, the token never quoted), the V1 message a ``ComputeTemplate`` becomes, the expansion of
a template into a group as KubeRay's V2 middleware writes it (``apiserversdk/util/template.go``)
and its inverse, and the API server's own refusals told apart from Kubernetes' answers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pulumi_rayservice import (
    ClusterSpec,
    ComputeTemplate,
    Dashboard,
    HeadGroup,
    KubeRayApiServer,
    WorkerGroup,
)
from pulumi_rayservice.cluster.compute_template import (
    COMPUTE_TEMPLATE_ANNOTATION,
    contract,
    expand,
    v1_message,
)
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.cluster.template_provider import KubeRayComputeTemplateProvider
from pulumi_rayservice.kube.apiserver import (
    ApiServerTarget,
    api_server_configuration,
    apiserver_refusal,
)
from pulumi_rayservice.kube.config import auth_headers
from pulumi_rayservice.serve.provider import ServeApplicationProvider

TOKEN = "sec-9d2e71aa"
SERVER = {"url": "http://127.0.0.1:31888", "api": "v2"}


def failures_of(provider: Any, news: dict[str, Any]) -> list[tuple[str, str]]:
    result = provider.check({}, news)
    return [(f.property, f.reason) for f in result.failures or []]


# the target ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "localhost:31888"},
        {"url": "ftp://localhost:31888"},
        {"url": "http://user:pw@localhost:31888"},
        {"url": "http://localhost:31888?x=1"},
        {"url": "http://local host:31888"},
        {"url": "http://localhost:31888", "api": "v3"},
        {"url": "http://localhost:31888", "token": f"{TOKEN}\n"},
        {"url": "http://localhost:31888", "token": f"Bearer {TOKEN}"},
        {"url": "http://localhost:31888", "token": "tøken-with-non-ascii"},
    ],
)
def test_the_target_refuses_bad_input_without_echoing_the_token(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        KubeRayApiServer(**kwargs)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("server", "field"),
    [
        ({"api": "v2"}, "api_server.url"),
        ({"url": "localhost:1"}, "api_server.url"),
        ({**SERVER, "api": "v9"}, "api_server.api"),
        ({**SERVER, "token": f"{TOKEN} "}, "api_server.token"),
        ({**SERVER, "token": 7}, "api_server.token"),
        ({**SERVER, "insecure_skip_tls_verify": "yes"}, "api_server.insecure_skip_tls_verify"),
        ({**SERVER, "bearer": "x"}, "api_server"),
    ],
)
def test_every_provider_names_the_bad_api_server_field(server: dict[str, Any], field: str) -> None:
    cluster = {"spec": _spec_naming("default-template"), "api_server": server, "timeout_s": 60}
    serve = {
        "app": {"name": "a", "import_path": "m:app"},
        "dashboard": {"service": "c-head-svc", "api_server": server},
    }
    template = {"template": {"cpu": 2, "memory": 4}, "name": "t", "api_server": server}
    for provider, news in (
        (RayClusterProvider(), cluster),
        (ServeApplicationProvider(), serve),
        (KubeRayComputeTemplateProvider(), template),
    ):
        failures = failures_of(provider, {**news, "resource_name": "r"})
        prefix = "dashboard." if isinstance(provider, ServeApplicationProvider) else ""
        assert any(f == f"{prefix}{field}" for f, _ in failures), (provider, failures)
        assert not any(TOKEN in reason for _, reason in failures)


def test_the_token_goes_out_as_the_security_proxy_compares_it() -> None:
    configuration = api_server_configuration(ApiServerTarget.from_input({**SERVER, "token": TOKEN}))
    assert auth_headers(configuration) == {"Authorization": TOKEN}
    assert configuration.host == SERVER["url"]


def test_a_missing_ca_file_is_named_before_any_request(tmp_path: Any) -> None:
    target = ApiServerTarget.from_input({**SERVER, "ca_file": str(tmp_path / "none.pem")})
    with pytest.raises(Exception, match="certificate authority") as caught:
        api_server_configuration(target)
    assert "none.pem" in str(caught.value)


_STATUS_401 = json.dumps(
    {"kind": "Status", "status": "Failure", "code": 401, "reason": "Unauthorized"}
)


@pytest.mark.parametrize(
    ("status", "body", "token", "says"),
    [
        (401, "Unauthorized\n", None, "security proxy: no token was given"),
        (401, "Unauthorized\n", TOKEN, "security proxy: the token given was refused"),
        (401, _STATUS_401, TOKEN, "V2 passed the security proxy's token on to Kubernetes"),
        (404, '{"code":5,"message":"Not Found"}', None, "does not serve V2"),
        (404, json.dumps({"kind": "Status", "reason": "NotFound"}), None, None),
        (401, _STATUS_401, None, None),
        (500, '{"code":13,"message":"x"}', None, None),
    ],
)
def test_the_api_servers_own_refusals_are_told_apart(
    status: int, body: str, token: str | None, says: str | None
) -> None:
    target = ApiServerTarget.from_input({**SERVER, **({"token": token} if token else {})})
    found = apiserver_refusal(status, body, target)
    if says is None:
        assert found is None
    else:
        assert found is not None and says in found
        assert TOKEN not in found


def test_a_404_that_is_not_kubernetes_is_never_taken_for_gone() -> None:
    """An ingress's 404 page in front of V2, or the V1 gateway's bare Not Found: a refresh must
    not drop a resource from state because a route is not served."""
    from pulumi_rayservice.errors import KubeNotFoundError
    from pulumi_rayservice.kube.apiserver_v1 import _convert

    target = ApiServerTarget.from_input(SERVER)
    assert apiserver_refusal(404, "404 page not found", target, kubernetes_path=True)
    assert apiserver_refusal(404, "404 page not found", target) is None  # a dashboard's own 404
    not_served = _convert("GET x", 404, '{"code":5,"message":"Not Found"}', target)
    assert not isinstance(not_served, KubeNotFoundError)
    gone = _convert("GET x", 404, '{"code":5,"message":"cluster x not found"}', target)
    assert isinstance(gone, KubeNotFoundError)


def test_a_dashboard_through_the_api_server_names_its_cluster() -> None:
    server = KubeRayApiServer(url="http://127.0.0.1:31888")
    dashboard = Dashboard.api_server_proxy("test-cluster", api_server=server)
    data = dashboard.to_input()
    assert data["service"] == "test-cluster-head-svc"
    assert data["cluster"] == "test-cluster"
    with pytest.raises(ValidationError, match="not both"):
        Dashboard(service="s", api_server=server, kube={"kubeconfig": "/x"})
    with pytest.raises(ValidationError, match="cluster= only applies"):
        Dashboard(service="s", cluster="c")


# compute templates: V1's message --------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (ComputeTemplate(cpu=2, memory=4), {"cpu": 2, "memory": 4, "memory_unit": "Gi"}),
        (ComputeTemplate(cpu="2", memory="512Mi"), {"cpu": 2, "memory": 512, "memory_unit": "Mi"}),
        (
            ComputeTemplate(
                cpu=8,
                memory="16Gi",
                gpu=1,
                gpu_accelerator="amd.com/gpu",
                extended_resources={"vpc.amazonaws.com/efa": 2},
                tolerations=[{"key": "ray", "operator": "Exists", "effect": "NoSchedule"}],
            ),
            {
                "cpu": 8,
                "memory": 16,
                "memory_unit": "Gi",
                "gpu": 1,
                "gpu_accelerator": "amd.com/gpu",
                "extended_resources": {"vpc.amazonaws.com/efa": 2},
                "tolerations": [{"key": "ray", "operator": "Exists", "effect": "NoSchedule"}],
            },
        ),
    ],
)
def test_a_template_becomes_the_v1_message(
    template: ComputeTemplate, message: dict[str, Any]
) -> None:
    built, failures = v1_message(template, name="t", namespace="ns")
    assert failures == []
    assert built == {"name": "t", "namespace": "ns", **message}


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ({"cpu": 1.5, "memory": 4}, "template.cpu"),
        ({"cpu": "500m", "memory": 4}, "template.cpu"),
        ({"cpu": 2, "memory": "1.5Gi"}, "template.memory"),
        ({"cpu": 2, "memory": "4096"}, "template.memory"),
        ({"cpu": 2, "memory": "4e9"}, "template.memory"),
        ({"cpu": 2, "memory": 4, "tolerations": [{"key": "k", "tolerationSeconds": 5}]},
         "template.tolerations[0]"),
        ({"cpu": 0, "memory": 4}, "template.cpu"),
        ({"cpu": 2}, "template.memory"),
    ],
)  # fmt: skip
def test_what_v1_cannot_carry_is_refused_at_check(template: dict[str, Any], field: str) -> None:
    news = {"template": template, "api_server": SERVER, "resource_name": "t", "name": "t"}
    failures = failures_of(KubeRayComputeTemplateProvider(), news)
    assert [f for f, _ in failures] == [field], failures


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Not_DNS"}, "name"),
        ({"name": "x" * 254}, "name"),
        ({"namespace": "a.b"}, "namespace"),
        ({"api_server": None}, "api_server"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_template_resource_names_its_bad_field(changes: dict[str, Any], field: str) -> None:
    news = {"template": {"cpu": 2, "memory": 4}, "api_server": SERVER, "name": "t", **changes}
    failures = failures_of(
        KubeRayComputeTemplateProvider(), {k: v for k, v in news.items() if v is not None}
    )
    assert field in [f for f, _ in failures], failures


def test_a_template_change_is_a_replacement_and_a_new_way_to_it_an_update() -> None:
    provider = KubeRayComputeTemplateProvider()
    olds = {
        "template": {"cpu": 2, "memory": 4},
        "name": "t",
        "api_server": {**SERVER, "token": "a"},
    }
    token = provider.diff("t", olds, {**olds, "api_server": {**SERVER, "token": "b"}})
    assert token.changes and not token.replaces  # the outputs must carry the new token
    moved = provider.diff("t", olds, {**olds, "api_server": {"url": "https://kuberay.example"}})
    assert moved.changes and not moved.replaces  # a replacement would delete its clusters first
    bigger = provider.diff("t", olds, {**olds, "template": {"cpu": 4, "memory": 4}})
    assert bigger.replaces == ["template"] and bigger.delete_before_replace


def test_a_new_api_server_token_updates_a_cluster_in_place() -> None:
    olds = {"spec": _spec_naming("t"), "name": "c-abcde", "auto_named": True,
            "resource_name": "c", "api_server": {**SERVER, "token": "old"}}  # fmt: skip
    diff = RayClusterProvider().diff("id", olds, {**olds, "api_server": {**SERVER, "token": "new"}})
    assert diff.changes and not diff.replaces


# compute templates: into a group and back -----------------------------------------------------

TEMPLATE = {
    "name": "default-template",
    "namespace": "default",
    "cpu": 2,
    "memory": 4,
    "memoryUnit": "Gi",
    "gpu": 1,
    "extendedResources": {"example.com/fpga": 2},
    "tolerations": [{"key": "ray", "operator": "Exists", "effect": "NoSchedule"}],
}


def _spec_naming(template: str) -> dict[str, Any]:
    return ClusterSpec(
        ray_version="2.52.0",
        enable_serve_service=True,
        head=HeadGroup(compute_template=template, container={"env": [{"name": "A", "value": "1"}]}),
        workers=[
            WorkerGroup(name="small-wg", compute_template=template, replicas=1, max_replicas=5)
        ],
    ).to_spec()


def test_a_template_is_written_into_a_group_as_the_v2_middleware_writes_it() -> None:
    spec = _spec_naming("default-template")
    spec["headGroupSpec"]["template"]["spec"]["containers"].append(
        {"name": "sidecar", "image": "s"}
    )
    spec["headGroupSpec"]["template"]["spec"]["tolerations"] = [
        {"key": "mine", "operator": "Exists"}
    ]
    expanded = expand(spec, {"default-template": TEMPLATE})
    head = expanded["headGroupSpec"]
    assert "computeTemplate" not in head
    assert head["template"]["metadata"]["annotations"] == {
        COMPUTE_TEMPLATE_ANNOTATION: "default-template"
    }
    ray_head, sidecar = head["template"]["spec"]["containers"]
    everything = {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1", "example.com/fpga": "2"}
    assert ray_head["resources"] == {"limits": everything, "requests": everything}
    # cpu and memory go into every container; GPUs and extended resources into the Ray one only
    assert sidecar["resources"] == {"limits": {"cpu": "2", "memory": "4Gi"},
                                    "requests": {"cpu": "2", "memory": "4Gi"}}  # fmt: skip
    assert head["template"]["spec"]["tolerations"] == [
        {"key": "mine", "operator": "Exists"},
        {"key": "ray", "operator": "Exists", "value": "", "effect": "NoSchedule"},
    ]
    worker = expanded["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_a_template_of_a_server_before_v1_5_is_in_gi() -> None:
    legacy = {k: v for k, v in TEMPLATE.items() if k != "memoryUnit"}
    expanded = expand(_spec_naming("t"), {"t": legacy})
    limits = expanded["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "4Gi"


@given(
    cpu=st.integers(1, 64),
    memory=st.integers(1, 512),
    unit=st.sampled_from(["Gi", "Mi"]),
    gpu=st.integers(0, 4),
    tolerations=st.lists(
        st.fixed_dictionaries(
            {"key": st.sampled_from(["a", "b"]), "operator": st.just("Exists"),
             "effect": st.sampled_from(["NoSchedule", "NoExecute"])}
        ),
        max_size=2,
    ),
)  # fmt: skip
def test_contract_undoes_expand(
    cpu: int, memory: int, unit: str, gpu: int, tolerations: list[dict[str, str]]
) -> None:
    template = {"cpu": cpu, "memory": memory, "memoryUnit": unit, "gpu": gpu,
                "tolerations": tolerations}  # fmt: skip
    spec = _spec_naming("t")
    assert contract(expand(spec, {"t": template}), spec, {"t": template}) == spec


def test_contract_leaves_a_changed_resource_as_drift() -> None:
    spec = _spec_naming("t")
    live = expand(spec, {"t": TEMPLATE})
    changed = copy.deepcopy(live)
    changed["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"][
        "memory"
    ] = "8Gi"
    contracted = contract(changed, spec, {"t": TEMPLATE})
    worker = contracted["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"] == {"memory": "8Gi"}
    assert contracted["headGroupSpec"] == spec["headGroupSpec"]


# RayCluster check -------------------------------------------------------------------------------


def test_a_cluster_naming_a_template_needs_the_api_server() -> None:
    news = {"spec": _spec_naming("default-template"), "resource_name": "c", "timeout_s": 60}
    failures = failures_of(RayClusterProvider(), news)
    assert [f for f, _ in failures] == ["spec"], failures
    assert "KubeRay API server" in failures[0][1]
    assert failures_of(RayClusterProvider(), {**news, "api_server": SERVER}) == []


def test_a_cluster_naming_a_template_badly_is_refused_at_the_group() -> None:
    spec = _spec_naming("default-template")
    spec["workerGroupSpecs"][0]["computeTemplate"] = "Bad_Name"
    news = {"spec": spec, "resource_name": "c", "api_server": SERVER}
    failures = failures_of(RayClusterProvider(), news)
    assert [f for f, _ in failures] == ["spec.workerGroupSpecs[0].computeTemplate"], failures


def test_a_group_takes_inline_compute_or_a_template_not_both() -> None:
    with pytest.raises(ValidationError, match="exactly one of compute="):
        HeadGroup(compute=ComputeTemplate(cpu=1, memory=2), compute_template="t")
    with pytest.raises(ValidationError, match="exactly one of compute="):
        HeadGroup()
    with pytest.raises(ValidationError, match="compute_template"):
        WorkerGroup(name="w", compute_template="No Spaces")


def test_a_cluster_through_both_kube_and_the_api_server_is_refused() -> None:
    news = {
        "spec": _spec_naming("t"),
        "resource_name": "c",
        "api_server": SERVER,
        "kube": {"path": "/tmp/kubeconfig"},
    }
    assert "api_server" in [f for f, _ in failures_of(RayClusterProvider(), news)]


# V1 clusters ------------------------------------------------------------------------------------

V1_SERVER = {**SERVER, "api": "v1"}


def _v1_spec(**worker: Any) -> dict[str, Any]:
    return ClusterSpec(
        ray_version="2.52.0",
        enable_serve_service=True,
        head=HeadGroup(
            compute_template="default-template", ray_start_params={"dashboard-host": "0.0.0.0"}
        ),
        workers=[WorkerGroup(name="small-wg", compute_template="default-template",
                             **{"replicas": 1, "min_replicas": 1, "max_replicas": 5, **worker})],
    ).to_spec()  # fmt: skip


def v1_cluster(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "spec": spec,
        "resource_name": "test-cluster",
        "api_server": V1_SERVER,
        "annotations": {"ray.io/enable-serve-service": "true"},
        **changes,
    }


def test_the_seeds_cluster_without_min_zero_passes_as_v1() -> None:
    assert failures_of(RayClusterProvider(), v1_cluster(_v1_spec())) == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s["workerGroupSpecs"][0].update(minReplicas=0),
         "spec.workerGroupSpecs[0].minReplicas"),
        (lambda s: s["headGroupSpec"].update(rayStartParams={}),
         "spec.headGroupSpec.rayStartParams"),
        (lambda s: s["headGroupSpec"]["template"]["spec"].update(nodeSelector={"a": "b"}),
         "spec.headGroupSpec.template.spec.nodeSelector"),
        (lambda s: s["workerGroupSpecs"][0].update(numOfHosts=2),
         "spec.workerGroupSpecs[0].numOfHosts"),
        (lambda s: s["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"].append(
            {"containerPort": 9999}), "spec.headGroupSpec.template.spec.containers[0].ports[4]"),
        (lambda s: s["headGroupSpec"]["template"]["spec"]["containers"][0].update(
            env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]),
         "spec.headGroupSpec.template.spec.containers[0].env[0]"),
        (lambda s: s.update(suspend=True), "spec.suspend"),
    ],
)  # fmt: skip
def test_what_v1_cannot_carry_of_a_cluster_is_refused_naming_the_field(
    mutate: Any, field: str
) -> None:
    spec = _v1_spec()
    mutate(spec)
    failures = failures_of(RayClusterProvider(), v1_cluster(spec))
    assert field in [f for f, _ in failures], failures


def test_a_v1_cluster_needs_templates_not_inline_compute() -> None:
    spec = ClusterSpec(
        ray_version="2.52.0",
        head=HeadGroup(compute=ComputeTemplate(cpu=1, memory=2), ray_start_params={"a": "b"}),
    ).to_spec()
    failures = failures_of(RayClusterProvider(), v1_cluster(spec))
    assert "spec.headGroupSpec.computeTemplate" in [f for f, _ in failures]
    assert "spec.headGroupSpec.template.spec.containers[0].resources" in [f for f, _ in failures]


def test_a_v1_cluster_takes_no_labels() -> None:
    failures = failures_of(RayClusterProvider(), v1_cluster(_v1_spec(), labels={"team": "a"}))
    assert [f for f, _ in failures] == ["labels"]


def test_every_change_of_a_v1_cluster_is_a_replacement() -> None:
    provider = RayClusterProvider()
    olds = {**v1_cluster(_v1_spec()), "name": "test-cluster-abcde", "auto_named": True}
    scaled = {**olds, "spec": _v1_spec(replicas=2, min_replicas=2)}
    diff = provider.diff("id", olds, scaled)
    assert diff.replaces == ["spec"] and not diff.delete_before_replace
    to_v2 = provider.diff("id", olds, {**olds, "api_server": SERVER})
    assert "api_server" in to_v2.replaces
    same = provider.diff("id", olds, {**olds, "timeout_s": 30})
    assert same.changes and not same.replaces
