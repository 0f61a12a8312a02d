"""The stand-in KubeRay API server answers as the real one, checked by what reaches Kubernetes.

Every test talks HTTP to the stand-in (``kuberay_apiserver``: a fake Kubernetes with the stand-in
operator and no Ray process) and checks both its answer and what it sent to the fake Kubernetes
(``apiserver.kube``): the ConfigMap and RayCluster stored, the requests logged, their bodies.
Behaviour that changed between releases is parametrized over them (``indirect``). Only the last
test starts a real Ray head (marked ``ray``, as the fake Kubernetes' own Ray test).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from rayservice_testbed.fake_kube import EVENTS, RAYCLUSTERS, SERVICES, FakeKubeServer
from rayservice_testbed.fake_kube.fixtures import raycluster, sample_cluster_spec, unique_name
from rayservice_testbed.fake_kube.resources import CONFIGMAPS
from rayservice_testbed.kuberay_apiserver import FakeKubeRayApiServer
from rayservice_testbed.kuberay_apiserver.fixtures import kuberay_apiserver, kuberay_apiserver_ray

__all__ = ["kuberay_apiserver", "kuberay_apiserver_ray"]

Obj = dict[str, Any]
NS = "default"
TEMPLATES = f"/apis/v1/namespaces/{NS}/compute_templates"
CLUSTERS = f"/apis/v1/namespaces/{NS}/clusters"
RAYCLUSTERS_V2 = f"/apis/ray.io/v1/namespaces/{NS}/rayclusters"
ALL_RELEASES = ["v1.4", "v1.5", "v1.7"]
RETRYING = ["v1.5", "v1.7"]

# The seed's curl bodies (shared/seeds/rayserve-with-kuberay-apiserver.md), byte for byte.
SEED_TEMPLATE = b"""{
  "name": "default-template",
  "namespace": "default",
  "cpu": 2,
  "memory": 4
}"""
SEED_CLUSTER = b"""{
  "name": "test-cluster",
  "namespace": "default",
  "user": "boris",
  "annotations" : {
    "ray.io/enable-serve-service": "true"
  },
  "clusterSpec": {
    "headGroupSpec": {
      "computeTemplate": "default-template",
      "image": "rayproject/ray:2.8.0-py310",
      "serviceType": "ClusterIP",
      "rayStartParams": {
         "dashboard-host": "0.0.0.0",
         "metrics-export-port": "8080",
         "dashboard-agent-listen-port": "52365"
       }
    },
    "workerGroupSpec": [
      {
        "groupName": "small-wg",
        "computeTemplate": "default-template",
        "image": "rayproject/ray:2.8.0-py310",
        "replicas": 1,
        "minReplicas": 0,
        "maxReplicas": 5,
        "rayStartParams": {
           "node-ip-address": "$MY_POD_IP"
         }
      }
    ]
  }
}"""
JSON = {"Content-Type": "application/json"}


def call(
    apiserver: FakeKubeRayApiServer,
    method: str,
    path: str,
    body: bytes | Obj | None = None,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    """One request to the stand-in, as curl sends it (JSON bodies, no redirects followed)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    sent = {**(JSON if data is not None else {}), **(headers or {})}
    return requests.request(
        method,
        apiserver.url + path,
        data=data,
        headers=sent,
        params=params,
        timeout=30,
        allow_redirects=False,
    )


def grpc_error(response: requests.Response) -> tuple[int, int, str]:
    """``(HTTP status, gRPC code, message)`` of a V1 refusal; ``details`` must be absent."""
    body = response.json()
    assert set(body) == {"code", "message"}, body
    return response.status_code, body["code"], body["message"]


def seed(apiserver: FakeKubeRayApiServer) -> Obj:
    """The seed's template and cluster, created through V1; the cluster's create answer."""
    assert call(apiserver, "POST", TEMPLATES, SEED_TEMPLATE).status_code == 200
    created = call(apiserver, "POST", CLUSTERS, SEED_CLUSTER)
    assert created.status_code == 200, created.text
    return dict(created.json())


def wait_ready(kube: FakeKubeServer, name: str) -> Obj:
    """The RayCluster once ready and no longer written to (same resourceVersion three polls in a
    row), so that a read-modify-write of a test does not race the operator's status writes."""
    seen: list[str] = []

    def settled() -> bool:
        obj = kube.get(RAYCLUSTERS, NS, name)
        if obj is None or (obj.get("status") or {}).get("state") != "ready":
            return False
        seen.append(obj["metadata"]["resourceVersion"])
        return len(seen) >= 3 and len(set(seen[-3:])) == 1

    assert kube.wait_for(settled, timeout=20, interval=0.1), f"{name} never became ready"
    found = kube.get(RAYCLUSTERS, NS, name)
    assert found is not None
    return found


def kube_calls(kube: FakeKubeServer) -> list[tuple[str, str, int]]:
    """What the stand-in (not the operator) sent to the fake Kubernetes, in order."""
    return [
        (d.record.method, d.record.path, d.record.status)
        for d in kube.request_details
        if d.headers.get("User-Agent", "").startswith("kuberay-apiserver/")
    ]


def sent_bodies(kube: FakeKubeServer, method: str, path: str) -> list[Obj]:
    return [
        json.loads(d.body)
        for d in kube.request_details
        if d.record.method == method and re.search(path, d.record.path)
    ]


# ------------------------------------------------------------------------------------------------
# The fake Kubernetes' additions: ConfigMaps, the events.k8s.io/v1 view, KubeRay's Service labels


def kube_call(
    kube: FakeKubeServer, method: str, path: str, body: Obj | None = None, **params: str
) -> requests.Response:
    return requests.request(
        method,
        kube.url + path,
        json=body,
        params=params or None,
        headers={"Authorization": f"Bearer {kube.token}"},
        timeout=10,
    )


CM_PATH = f"/api/v1/namespaces/{NS}/configmaps"


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"a": "1", "b.c_d-e": ""}, 201, None),
        (
            {"a": 1},
            400,
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
            "number into Go struct field ConfigMap.data of type string",
        ),
        ({"bad key": "x"}, 422, 'data[bad key]: Invalid value: "bad key": a valid config key'),
        ({"..x": "y"}, 422, "must not start with '..'"),
    ],
)
def test_configmaps_are_served_with_the_real_checks(
    kuberay_apiserver: FakeKubeRayApiServer, data: Obj, status: int, message: str | None
) -> None:
    kube = kuberay_apiserver.kube
    name = unique_name("cm")
    answer = kube_call(kube, "POST", CM_PATH, {"metadata": {"name": name}, "data": data})
    assert answer.status_code == status, answer.text
    if message is not None:
        assert message in answer.json()["message"]
    else:
        assert kube_call(kube, "GET", f"{CM_PATH}/{name}").json()["data"] == data


def test_an_immutable_configmap_keeps_its_data(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    body = {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    stored = kube_call(kube, "POST", CM_PATH, body).json()
    stored["data"] = {"a": "2"}
    refused = kube_call(kube, "PUT", f"{CM_PATH}/frozen", stored)
    assert refused.status_code == 422
    assert (
        "data: Forbidden: field is immutable when `immutable` is set" in refused.json()["message"]
    )


def test_events_are_served_in_both_shapes(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    assert kube_call(kube, "POST", RAYCLUSTERS_V2, raycluster("ev")).status_code == 201
    wait_ready(kube, "ev")
    core = kube_call(
        kube, "GET", f"/api/v1/namespaces/{NS}/events", fieldSelector="involvedObject.name=ev"
    ).json()
    view = kube_call(
        kube,
        "GET",
        f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
        fieldSelector="regarding.name=ev",
    ).json()
    assert (
        core["items"] and view["kind"] == "EventList" and view["apiVersion"] == "events.k8s.io/v1"
    )
    assert [e["metadata"]["name"] for e in view["items"]] == [
        e["metadata"]["name"] for e in core["items"]
    ]
    first, shaped = core["items"][0], view["items"][0]
    assert shaped["regarding"] == first["involvedObject"]
    assert shaped["note"] == first["message"] and shaped["reason"] == first["reason"]
    assert shaped["type"] == first["type"] and shaped["eventTime"] is None
    assert shaped["deprecatedFirstTimestamp"] == first["firstTimestamp"]
    assert shaped["deprecatedLastTimestamp"] == first["lastTimestamp"]
    assert shaped["deprecatedCount"] == first["count"]
    assert shaped["reportingController"] == first["reportingComponent"]
    assert shaped["deprecatedSource"] == first["source"]
    assert "message" not in shaped and "involvedObject" not in shaped
    # Each shape takes its own field labels, and only those.
    ray_only = kube_call(
        kube,
        "GET",
        f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
        fieldSelector="regarding.apiVersion=ray.io/v1,",
    ).json()["items"]
    assert ray_only and {e["regarding"]["kind"] for e in ray_only} == {"RayCluster"}
    wrong_view = kube_call(
        kube,
        "GET",
        f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
        fieldSelector="involvedObject.name=ev",
    )
    assert wrong_view.status_code == 400
    assert wrong_view.json()["message"] == "field label not supported: involvedObject.name"
    wrong_core = kube_call(
        kube, "GET", f"/api/v1/namespaces/{NS}/events", fieldSelector="regarding.name=ev"
    )
    assert wrong_core.status_code == 400
    one = kube_call(
        kube, "GET", f"/apis/events.k8s.io/v1/namespaces/{NS}/events/{first['metadata']['name']}"
    )
    assert one.json()["note"] == first["message"]


def test_only_the_head_service_carries_the_kuberay_label(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    """KubeRay's HeadServiceLabels vs the serve Service's; the head Service's ports are the head
    container's (getServicePorts), so V1's ``redis``/``head`` ports replace the defaults."""
    kube = kuberay_apiserver.kube
    seed(kuberay_apiserver)
    assert kube.wait_for(lambda: kube.get(SERVICES, NS, "test-cluster-serve-svc") is not None)
    head = kube.get(SERVICES, NS, "test-cluster-head-svc")
    serve = kube.get(SERVICES, NS, "test-cluster-serve-svc")
    assert head is not None and serve is not None
    assert head["metadata"]["labels"] == {
        "ray.io/cluster": "test-cluster",
        "ray.io/node-type": "head",
        "ray.io/identifier": "test-cluster-head",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    assert "app.kubernetes.io/name" not in serve["metadata"]["labels"]
    ports = {p["name"]: p["port"] for p in head["spec"]["ports"]}
    assert ports == {
        "redis": 6379,
        "head": 10001,
        "dashboard": 8265,
        "metrics": 8080,
        "dashboard-agent": 52365,
        "serve": 8000,
    }


# ------------------------------------------------------------------------------------------------
# V1: the seed replayed


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_seed_template_is_stored_as_the_real_configmap(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    answer = call(kuberay_apiserver, "POST", TEMPLATES, SEED_TEMPLATE)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Grpc-Metadata-Content-Type"] == "application/grpc"
    with_unit = kuberay_apiserver.release.memory_unit
    expected = {"name": "default-template", "namespace": NS, "cpu": 2, "memory": 4}
    assert answer.json() == ({**expected, "memoryUnit": "Gi"} if with_unit else expected)
    stored = kuberay_apiserver.kube.get(CONFIGMAPS, NS, "default-template")
    assert stored is not None
    assert stored["metadata"]["labels"] == {
        "ray.io/config-type": "compute-template",
        "ray.io/compute-template": "default-template",
    }
    data = {
        "name": "default-template",
        "namespace": NS,
        "cpu": "2",
        "memory": "4",
        "gpu": "0",
        "gpu_accelerator": "",
        "extended_resources": "null",
    }
    assert stored["data"] == ({**data, "memory_unit": "Gi"} if with_unit else data)
    assert kube_calls(kuberay_apiserver.kube) == [
        ("GET", f"{CM_PATH}/default-template", 404),  # the duplicate check
        ("POST", CM_PATH, 201),
    ]
    assert call(kuberay_apiserver, "GET", f"{TEMPLATES}/default-template").json() == answer.json()
    listed = call(kuberay_apiserver, "GET", "/apis/v1/compute_templates").json()
    assert listed == {"computeTemplates": [answer.json()]}


def test_template_options_are_stored_as_strings(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    body = {
        "name": "gpu",
        "namespace": NS,
        "cpu": 4,
        "memory": 2048,
        "memory_unit": "Mi",
        "gpu": 1,
        "gpuAccelerator": "nvidia.com/a100",
        "extendedResources": {"vpc.amazonaws.com/efa": 2, "example.com/dongle": 1},
        "tolerations": [{"key": "ray", "operator": "Exists", "effect": "NoSchedule"}],
    }
    assert call(kuberay_apiserver, "POST", TEMPLATES, body).status_code == 200
    stored = kuberay_apiserver.kube.get(CONFIGMAPS, NS, "gpu")
    assert stored is not None
    assert (
        stored["data"]["extended_resources"] == '{"example.com/dongle":1,"vpc.amazonaws.com/efa":2}'
    )
    assert (
        stored["data"]["tolerations"] == '[{"key":"ray","operator":"Exists","effect":"NoSchedule"}]'
    )
    assert stored["data"]["memory_unit"] == "Mi" and stored["data"]["gpu"] == "1"
    answer = call(kuberay_apiserver, "GET", f"{TEMPLATES}/gpu").json()
    assert answer["tolerations"] == [
        {"key": "ray", "operator": "Exists", "effect": "NoSchedule"}
    ]  # empty ``value`` omitted, as every zero value
    assert answer["extendedResources"] == {"example.com/dongle": 1, "vpc.amazonaws.com/efa": 2}


SEED_HEAD_CONTAINER = {
    "name": "ray-head",
    "image": "rayproject/ray:2.8.0-py310",
    "ports": [
        {"name": "redis", "containerPort": 6379, "protocol": "TCP"},
        {"name": "head", "containerPort": 10001, "protocol": "TCP"},
        {"name": "dashboard", "containerPort": 8265, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 8080, "protocol": "TCP"},
        {"name": "dashboard-agent", "containerPort": 52365, "protocol": "TCP"},
        {"name": "serve", "containerPort": 8000, "protocol": "TCP"},
    ],
    "env": [{"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
    "resources": {
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "2", "memory": "4Gi"},
    },
    "imagePullPolicy": "IfNotPresent",
}
WORKER_ENV = [
    "RAY_DISABLE_DOCKER_CPU_WARNING",
    "TYPE",
    "CPU_REQUEST",
    "CPU_LIMITS",
    "MEMORY_REQUESTS",
    "MEMORY_LIMITS",
    "MY_POD_NAME",
    "MY_POD_IP",
]


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_seed_cluster_becomes_the_real_raycluster(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    created = seed(kuberay_apiserver)
    stored = kube.get(RAYCLUSTERS, NS, "test-cluster")
    assert stored is not None
    meta, spec = stored["metadata"], stored["spec"]
    assert meta["labels"] == {
        "ray.io/cluster-name": "test-cluster",
        "ray.io/user": "boris",
        "ray.io/version": "",
        "ray.io/environment": "DEV",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/managed-by": "kuberay-apiserver",
    }
    assert set(meta["annotations"]) == {"ray.io/enable-serve-service", "ray.io/creation-timestamp"}
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? \+0000 UTC m=\+\d+\.\d{9}",
        meta["annotations"]["ray.io/creation-timestamp"],
    )
    head = spec["headGroupSpec"]
    assert head["serviceType"] == "ClusterIP" and "rayVersion" not in spec
    assert (
        head["rayStartParams"]
        == json.loads(SEED_CLUSTER)["clusterSpec"]["headGroupSpec"]["rayStartParams"]
    )
    assert head["template"]["metadata"] == {
        "annotations": {
            "ray.io/compute-template": "default-template",
            "ray.io/compute-image": "rayproject/ray:2.8.0-py310",
        }
    }
    assert head["template"]["spec"]["containers"] == [SEED_HEAD_CONTAINER]
    (worker,) = spec["workerGroupSpecs"]
    assert (
        worker["groupName"],
        worker["replicas"],
        worker["minReplicas"],
        worker["maxReplicas"],
    ) == (
        "small-wg",
        1,
        1,  # the seed's minReplicas 0 is "unset": replicas takes its place
        5,
    )
    (container,) = worker["template"]["spec"]["containers"]
    assert container["name"] == "ray-worker" and container["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]
    assert [e["name"] for e in container["env"]] == WORKER_ENV
    assert container["resources"] == SEED_HEAD_CONTAINER["resources"]
    assert container["lifecycle"] == {
        "preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}
    }
    # The object as client-go sent it: Go's zero values included, pruned by the API server.
    (sent,) = sent_bodies(kube, "POST", r"/rayclusters$")
    assert sent["metadata"]["creationTimestamp"] is None
    assert sent["spec"]["headGroupSpec"]["template"]["metadata"]["creationTimestamp"] is None
    assert created["name"] == "test-cluster" and created["user"] == "boris"
    assert "clusterState" not in created  # the operator has not written a status yet
    steps = [(m, p) for m, p, _ in kube_calls(kube)]
    assert steps[:5] == [
        ("GET", f"{CM_PATH}/default-template"),
        ("POST", CM_PATH),
        ("GET", f"{CM_PATH}/default-template"),  # PopulateComputeTemplate: once per name
        ("POST", RAYCLUSTERS_V2),
        ("GET", f"{RAYCLUSTERS_V2}/test-cluster"),  # GetClusterEvents reads the cluster again
    ]
    events_path = (
        f"/apis/events.k8s.io/v1/namespaces/{NS}/events"
        if kuberay_apiserver.release.events_v1_api
        else f"/api/v1/namespaces/{NS}/events"
    )
    assert steps[5] == ("GET", events_path)


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_seed_cluster_reads_back_through_the_converter(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    kube = kuberay_apiserver.kube
    seed(kuberay_apiserver)
    wait_ready(kube, "test-cluster")
    assert kube.wait_for(
        lambda: (
            len(
                kube.registry.list(EVENTS, NS, field_selector="involvedObject.name=test-cluster")[
                    "items"
                ]
            )
            >= 4
        )
    )
    kube.reset_requests()
    answer = call(kuberay_apiserver, "GET", f"{CLUSTERS}/test-cluster")
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == [  # protojson writes fields in number order, zero values left out
        "name",
        "namespace",
        "user",
        "clusterSpec",
        "annotations",
        "createdAt",
        "clusterState",
        "events",
        "serviceEndpoint",
    ]
    assert body["clusterSpec"] == {
        "headGroupSpec": {
            "computeTemplate": "default-template",
            "image": "rayproject/ray:2.8.0-py310",
            "serviceType": "ClusterIP",
            "rayStartParams": {
                "dashboard-agent-listen-port": "52365",
                "dashboard-host": "0.0.0.0",
                "metrics-export-port": "8080",
            },
            "environment": {},  # MY_POD_IP filtered out, the message still set
        },
        "workerGroupSpec": [
            {
                "groupName": "small-wg",
                "computeTemplate": "default-template",
                "image": "rayproject/ray:2.8.0-py310",
                "replicas": 1,
                "minReplicas": 1,
                "maxReplicas": 5,
                "rayStartParams": {"node-ip-address": "$MY_POD_IP"},
                "environment": {},
            }
        ],
    }
    assert body["clusterState"] == "ready"
    assert body["serviceEndpoint"] == {
        "dashboard": "8265",
        "dashboard-agent": "52365",
        "head": "10001",
        "metrics": "8080",
        "redis": "6379",
        "serve": "8000",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["createdAt"])
    reasons = {e["reason"] for e in body["events"]}
    assert {"CreatedHeadPod", "CreatedService", "CreatedWorkerPod"} <= reasons
    event = body["events"][0]
    assert event["name"] == f"test-cluster-{event['id']}" and event["count"] == 1
    assert set(event) == {
        "id",
        "name",
        "createdAt",
        "firstTimestamp",
        "lastTimestamp",
        "reason",
        "message",
        "type",
        "count",
    }
    selector = (
        "regarding.name" if kuberay_apiserver.release.events_v1_api else "involvedObject.name"
    )
    (events_call,) = [r for r in kube.requests if r.path.endswith("/events")]
    assert events_call.query == f"fieldSelector={selector}%3Dtest-cluster"
    listed = call(kuberay_apiserver, "GET", CLUSTERS).json()
    assert [c["name"] for c in listed["clusters"]] == ["test-cluster"]
    assert (
        call(kuberay_apiserver, "GET", "/apis/v1/clusters").json()["clusters"][0]["name"]
        == "test-cluster"
    )
    assert call(kuberay_apiserver, "DELETE", f"{CLUSTERS}/test-cluster").json() == {}
    assert kube.wait_for(lambda: kube.get(RAYCLUSTERS, NS, "test-cluster") is None)
    assert call(kuberay_apiserver, "GET", CLUSTERS).json() == {}  # an empty list is {}


# ------------------------------------------------------------------------------------------------
# V1: validation and errors


def _cluster(**changes: Any) -> Obj:
    """The seed cluster with top-level keys replaced (None removes a key)."""
    body: Obj = json.loads(SEED_CLUSTER)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def _head(**changes: Any) -> Obj:
    body = _cluster()
    body["clusterSpec"]["headGroupSpec"].update(changes)
    return body


def _worker(**changes: Any) -> Obj:
    body = _cluster()
    body["clusterSpec"]["workerGroupSpec"][0].update(changes)
    return body


CLUSTER_REFUSALS = [
    pytest.param(
        _cluster(namespace="other"),
        "The namespace in the request is different from the namespace in the cluster definition.",
        id="namespace",
    ),
    pytest.param(
        _cluster(name=""), "Cluster name is empty. Please specify a valid value.", id="name"
    ),
    pytest.param(
        _cluster(user=None),
        "User who create the cluster is empty. Please specify a valid value.",
        id="user",
    ),
    pytest.param(
        _cluster(clusterSpec=None),
        "A ClusterSpec object is required. Please specify one.",
        id="spec",
    ),
    pytest.param(
        _cluster(clusterSpec={"workerGroupSpec": []}),
        "Cluster Spec Object requires HeadGroupSpec to be populated. Please specify one.",
        id="head",
    ),
    pytest.param(
        _head(computeTemplate=""),
        "HeadGroupSpec compute template is empty. Please specify a valid value.",
        id="head-template",
    ),
    pytest.param(
        _head(rayStartParams={}),
        "HeadGroupSpec RayStartParams is empty. Please specify values.",
        id="params",
    ),
    pytest.param(
        _head(imagePullPolicy="Never"),
        "HeadGroupSpec unsupported value for Image pull policy. Please specify Always or "
        "IfNotPresent",
        id="pull-policy",
    ),
    pytest.param(
        _worker(groupName=""),
        "WorkerNodeSpec 0 group name is empty. Please specify a valid value.",
        id="group",
    ),
    pytest.param(
        _worker(maxReplicas=0),
        "WorkerNodeSpec 0 MaxReplicas can not be 0. Please specify a valid value.",
        id="max",
    ),
    pytest.param(
        _worker(minReplicas=6),
        "WorkerNodeSpec 0 MinReplica > MaxReplicas. Please specify a valid value.",
        id="min-max",
    ),
]


@pytest.mark.parametrize(("body", "why"), CLUSTER_REFUSALS)
def test_cluster_validation_is_a_400_in_the_real_wording(
    kuberay_apiserver: FakeKubeRayApiServer, body: Obj, why: str
) -> None:
    answer = call(kuberay_apiserver, "POST", CLUSTERS, body)
    assert grpc_error(answer) == (
        400,
        3,
        f"{why}: Validate create cluster request failed.: Invalid input error: {why}",
    )
    assert kube_calls(kuberay_apiserver.kube) == []  # refused before Kubernetes was asked


TEMPLATE_REFUSALS = [
    pytest.param(
        {"name": "t", "namespace": "other", "cpu": 1, "memory": 1},
        "The namespace in the request is different from the namespace defined in the compute "
        "template.",
        id="namespace",
    ),
    pytest.param(
        {"namespace": NS, "cpu": 1, "memory": 1},
        "Compute template name is empty. Please specify a valid value.",
        id="name",
    ),
    pytest.param(
        {"name": "t", "namespace": NS, "memory": 1},
        "Cpu amount is zero. Please specify a valid value.",
        id="cpu",
    ),
    pytest.param(
        {"name": "t", "namespace": NS, "cpu": 1},
        "Memory amount is zero. Please specify a valid value.",
        id="memory",
    ),
]


@pytest.mark.parametrize(("body", "why"), TEMPLATE_REFUSALS)
def test_template_validation_is_a_400_in_the_real_wording(
    kuberay_apiserver: FakeKubeRayApiServer, body: Obj, why: str
) -> None:
    answer = call(kuberay_apiserver, "POST", TEMPLATES, body)
    assert grpc_error(answer) == (
        400,
        3,
        f"{why}: Validate compute template runtime request failed.: Invalid input error: {why}",
    )


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_template_errors(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    seed_body = json.loads(SEED_TEMPLATE)
    assert call(kuberay_apiserver, "POST", TEMPLATES, seed_body).status_code == 200
    duplicate = call(kuberay_apiserver, "POST", TEMPLATES, seed_body)
    why = "Compute template with name default-template already exists in namespace default"
    assert grpc_error(duplicate) == (
        409,
        6,
        f"{why}: Create compute template failed.: Already exist error: {why}",
    )
    missing = call(kuberay_apiserver, "GET", f"{TEMPLATES}/nope")
    assert grpc_error(missing) == (
        404,
        5,
        "Compute template nope not found: Get compute template failed.: NotFoundError: Compute "
        'template nope not found: configmaps "nope" not found',
    )
    assert grpc_error(call(kuberay_apiserver, "DELETE", f"{TEMPLATES}/nope"))[:2] == (404, 5)
    bad_name = call(kuberay_apiserver, "POST", TEMPLATES, {**seed_body, "name": "Bad_Name"})
    status, code, message = grpc_error(bad_name)
    assert (status, code) == (500, 13)
    assert message.startswith(
        "Internal Server Error: Create compute template failed.: InternalServerError: Failed to "
        'create a compute runtime for (default/Bad_Name): ConfigMap "Bad_Name" is invalid: '
        "metadata.name: Invalid value"
    )
    bad_unit = call(
        kuberay_apiserver, "POST", TEMPLATES, {**seed_body, "name": "u", "memoryUnit": "Gb"}
    )
    if kuberay_apiserver.release.memory_unit:
        assert grpc_error(bad_unit) == (
            500,
            13,
            "Internal Server Error: Create compute template failed.: InternalServerError: Failed "
            'to convert compute runtime (default/u): invalid memory quantity "4Gb": quantities '
            "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        )
    else:  # no such field before v1.5: dropped as unknown, memory in Gi
        assert bad_unit.status_code == 200 and "memoryUnit" not in bad_unit.json()
    # Deleting a template that clusters still name is not refused.
    assert call(kuberay_apiserver, "DELETE", f"{TEMPLATES}/default-template").json() == {}


def test_a_template_get_reads_any_configmap_of_the_name(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    """No label check on GET (the list filters by label)."""
    body = {"metadata": {"name": "plain"}, "data": {"cpu": "3", "memory": "x"}}
    assert kube_call(kuberay_apiserver.kube, "POST", CM_PATH, body).status_code == 201
    answer = call(kuberay_apiserver, "GET", f"{TEMPLATES}/plain")
    assert answer.json() == {"name": "plain", "namespace": NS, "cpu": 3}  # bad numbers are 0
    assert call(kuberay_apiserver, "GET", TEMPLATES).json() == {}


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_cluster_errors_reaching_kubernetes(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    no_template = call(kuberay_apiserver, "POST", CLUSTERS, SEED_CLUSTER)
    lookup = (
        "NotFoundError: Compute template default-template not found: configmaps "
        '"default-template" not found'
    )
    if kuberay_apiserver.release.wraps_template_lookup:
        lookup = (
            "Cannot get compute template for name 'default-template' in namespace 'default', "
            f"error: {lookup}"
        )
    assert grpc_error(no_template) == (
        500,
        13,
        "Internal Server Error: Create Cluster failed.: InternalServerError: Failed to populate "
        f"compute template for (default/test-cluster): {lookup}",
    )
    seed(kuberay_apiserver)
    duplicate = call(kuberay_apiserver, "POST", CLUSTERS, SEED_CLUSTER)
    assert grpc_error(duplicate) == (
        500,  # not 409: the create error is wrapped as an internal error
        13,
        "Internal Server Error: Create Cluster failed.: InternalServerError: Failed to create a "
        'cluster for (default/test-cluster): rayclusters.ray.io "test-cluster" already exists',
    )
    missing = call(kuberay_apiserver, "GET", f"{CLUSTERS}/nope")
    assert grpc_error(missing) == (
        404,
        5,
        "Cluster nope not found: Get cluster failed.: NotFoundError: Cluster nope not found: "
        'rayclusters.ray.io "nope" not found',
    )
    # A RayCluster made without the API server (V2, kubectl) is not V1's: a plain error, code 2.
    assert kube_call(kube, "POST", RAYCLUSTERS_V2, raycluster("foreign")).status_code == 201
    foreign = call(kuberay_apiserver, "GET", f"{CLUSTERS}/foreign")
    assert grpc_error(foreign) == (
        500,
        2,
        "Get cluster failed.: RayCluster with name foreign not managed by kuberay-apiserver",
    )
    refused_delete = call(kuberay_apiserver, "DELETE", f"{CLUSTERS}/foreign")
    assert grpc_error(refused_delete) == (
        500,
        2,
        "Get cluster failure: RayCluster with name foreign not managed by kuberay-apiserver",
    )
    assert kube.get(RAYCLUSTERS, NS, "foreign") is not None
    assert [c["name"] for c in call(kuberay_apiserver, "GET", CLUSTERS).json()["clusters"]] == [
        "test-cluster"
    ]


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "message"),
    [
        ("PUT", f"{CLUSTERS}/test-cluster", 501, 12, "Method Not Allowed"),
        ("PATCH", f"{CLUSTERS}/test-cluster", 501, 12, "Method Not Allowed"),
        ("PUT", f"{TEMPLATES}/default-template", 501, 12, "Method Not Allowed"),
        ("PATCH", f"{TEMPLATES}/default-template", 501, 12, "Method Not Allowed"),
        ("DELETE", TEMPLATES, 501, 12, "Method Not Allowed"),
        ("HEAD", CLUSTERS, 501, 12, "Method Not Allowed"),
        ("GET", "/apis/v1/namespaces/default/nonsense", 404, 5, "Not Found"),
        ("GET", "/apis/v1", 404, 5, "Not Found"),
        ("POST", f"/apis/v1/namespaces/{NS}/serveapplication/test-cluster", 404, 5, "Not Found"),
        ("GET", "/", 404, 5, "Not Found"),
        (
            "GET",
            f"{CLUSTERS}?limit=ten",
            400,
            3,
            'parsing field "limit": strconv.ParseInt: parsing "ten": invalid syntax',
        ),
        (
            "POST",
            f"/apis/v1/namespaces/{NS}/jobs",
            501,
            12,
            "RayJobService.CreateRayJob is not emulated by the KubeRay API server stand-in",
        ),
    ],
)
def test_gateway_routing_errors(
    kuberay_apiserver: FakeKubeRayApiServer,
    method: str,
    path: str,
    status: int,
    code: int,
    message: str,
) -> None:
    answer = call(
        kuberay_apiserver, method, path, {} if method in ("PUT", "PATCH", "POST") else None
    )
    assert answer.status_code == status
    if method != "HEAD":
        assert grpc_error(answer) == (status, code, message)


# ------------------------------------------------------------------------------------------------
# V1: protojson decoding


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        (b'{"name":"t","namespace":"default","cpu":2,"memory":4}', {"cpu": "2", "memory": "4"}),
        (b'{"name":"t","namespace":"default","cpu":2.0,"memory":"4"}', {"cpu": "2", "memory": "4"}),
        (b'{"name":"t","namespace":"default","cpu":"2","memory":4e0}', {"cpu": "2", "memory": "4"}),
        (
            b'{"name":"t","namespace":"default","cpu":1,"memory":512,"memory_unit":"Mi"}',
            {"memory": "512", "memory_unit": "Mi"},
        ),
        (
            b'{"name":"t","namespace":"default","cpu":1,"memory":1,"gpuAccelerator":null}',
            {"gpu_accelerator": ""},
        ),
        (
            b'{"name":"t","namespace":"default","cpu":1,"memory":1,"cpus":8,"gpu":null}',
            {"cpu": "1", "gpu": "0"},
        ),
        (b'{"name":"t","namespace":"default","cpu":1,"memory":1} trailing', {"cpu": "1"}),
    ],
    ids=[
        "numbers",
        "float-and-string",
        "exponent",
        "snake-case",
        "null-leaves-unset",
        "unknown-dropped",
        "one-value",
    ],
)
def test_protojson_accepts(
    kuberay_apiserver: FakeKubeRayApiServer, body: bytes, stored: Obj
) -> None:
    assert call(kuberay_apiserver, "POST", TEMPLATES, body).status_code == 200
    config_map = kuberay_apiserver.kube.get(CONFIGMAPS, NS, "t")
    assert config_map is not None
    assert {k: config_map["data"][k] for k in stored} == stored


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"name":"t","namespace":"default","cpu":0.5,"memory":4}',
            r"proto:\s\(line 1:41\): invalid value for uint32 field cpu: 0\.5",
        ),
        (
            b'{"name":"t","cpu":-1}',
            r"proto:\s\(line 1:19\): invalid value for uint32 field cpu: -1",
        ),
        (
            b'{"name":"t","cpu":" 2"}',
            r'proto:\s\(line 1:19\): invalid value for uint32 field cpu: " 2"',
        ),
        (
            b'{"name":"t",\n "cpu":true}',
            r"proto:\s\(line 2:8\): invalid value for uint32 field cpu: true",
        ),
        (b'{"name":2}', r"proto:\s\(line 1:9\): invalid value for string field name: 2"),
        (
            b'{"memoryUnit":"Gi","memory_unit":"Mi"}',
            r'proto:\s\(line 1:20\): duplicate field "memory_unit"',
        ),
        (
            b'{"gpu_accelerator":"a","gpuAccelerator":null}',
            r'proto:\s\(line 1:24\): duplicate field "gpuAccelerator"',
        ),
        (b'{"extendedResources":{"a":1,"a":2}}', r'proto:\s\(line 1:29\): duplicate map key "a"'),
        (b'{"tolerations":{}}', r"proto:\ssyntax error \(line 1:16\): unexpected token \{"),
        (b"[]", r"proto:\ssyntax error \(line 1:1\): unexpected token \["),
        (b'{"name":', r"unexpected EOF"),
        (b'{"name" "t"}', r"invalid character '\"' after object key"),
    ],
    ids=[
        "fraction",
        "negative",
        "padded-string",
        "bool",
        "string-field",
        "duplicate-field",
        "duplicate-null",
        "duplicate-key",
        "not-a-list",
        "not-an-object",
        "eof",
        "syntax",
    ],
)
def test_protojson_refuses_with_a_400(
    kuberay_apiserver: FakeKubeRayApiServer, body: bytes, message: str
) -> None:
    status, code, text = grpc_error(call(kuberay_apiserver, "POST", TEMPLATES, body))
    assert (status, code) == (400, 3)
    assert re.fullmatch(message, text), text
    assert kube_calls(kuberay_apiserver.kube) == []


def test_an_empty_body_is_an_empty_message(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    answer = call(kuberay_apiserver, "POST", CLUSTERS, b"")
    assert grpc_error(answer)[2].startswith(
        "The namespace in the request is different from the namespace in the cluster definition."
    )


# ------------------------------------------------------------------------------------------------
# V2: routes and passthrough


@pytest.mark.parametrize(
    "path",
    [
        f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases",
        f"/api/v1/namespaces/{NS}/configmaps",
        f"/api/v1/namespaces/{NS}/pods",
        f"/api/v1/namespaces/{NS}/services",
        f"/api/v1/namespaces/{NS}/services/test-cluster-head-svc",
        "/api",
        "/apis",
        "/version",
        "/api/v1/namespaces",
    ],
)
def test_v2_serves_only_kuberay_routes(kuberay_apiserver: FakeKubeRayApiServer, path: str) -> None:
    answer = call(kuberay_apiserver, "GET", path)
    assert grpc_error(answer) == (404, 5, "Not Found")
    assert kube_calls(kuberay_apiserver.kube) == []


def test_v2_passes_kubernetes_answers_through(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    created = call(
        kuberay_apiserver, "POST", RAYCLUSTERS_V2, raycluster("direct", labels={"team": "a"})
    )
    assert created.status_code == 201 and created.json()["metadata"]["name"] == "direct"
    listed = call(kuberay_apiserver, "GET", RAYCLUSTERS_V2, params={"labelSelector": "team=a"})
    assert [i["metadata"]["name"] for i in listed.json()["items"]] == ["direct"]
    assert kube.matching("GET", r"/rayclusters$")[-1].query == "labelSelector=team%3Da"
    missing = call(kuberay_apiserver, "GET", f"{RAYCLUSTERS_V2}/nope")
    direct = kube_call(kube, "GET", f"{RAYCLUSTERS_V2}/nope")
    assert missing.status_code == 404 and missing.json() == direct.json()
    body = raycluster("pruned")
    body["spec"]["headGroupSpec"]["bogus"] = 1
    warned = call(kuberay_apiserver, "POST", RAYCLUSTERS_V2, body)
    assert warned.status_code == 201
    assert warned.headers["Warning"] == '299 - "unknown field \\"spec.headGroupSpec.bogus\\""'
    redirect = call(kuberay_apiserver, "GET", "/apis/ray.io/v1")
    assert redirect.status_code == 301 and redirect.headers["Location"] == "/apis/ray.io/v1/"
    assert call(kuberay_apiserver, "GET", "/apis/ray.io/v1/").json()["groupVersion"] == "ray.io/v1"
    unclean = call(kuberay_apiserver, "GET", "/apis/ray.io//v1/")
    assert unclean.status_code == 301 and unclean.headers["Location"] == "/apis/ray.io/v1/"
    assert call(kuberay_apiserver, "GET", "/healthz").status_code == 200


def _template_with_everything(apiserver: FakeKubeRayApiServer) -> None:
    body = {
        "name": "big",
        "namespace": NS,
        "cpu": 4,
        "memory": 8,
        "gpu": 1,
        "extendedResources": {"vpc.amazonaws.com/efa": 2},
        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    assert call(apiserver, "POST", TEMPLATES, body).status_code == 200


def _templated_cluster(name: str) -> Obj:
    spec = sample_cluster_spec()
    head = spec["headGroupSpec"]
    head["computeTemplate"] = "big"
    head["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    for worker in spec["workerGroupSpecs"]:
        worker["computeTemplate"] = "big"
    return raycluster(name, spec)


LIMITS = {"cpu": "4", "memory": "8Gi"}
RAY_LIMITS = {**LIMITS, "nvidia.com/gpu": 1, "vpc.amazonaws.com/efa": 2}


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_v2_middleware_applies_templates_on_post_and_put_only(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    kube = kuberay_apiserver.kube
    _template_with_everything(kuberay_apiserver)
    created = call(kuberay_apiserver, "POST", RAYCLUSTERS_V2, _templated_cluster("tpl"))
    assert created.status_code == 201, created.text
    assert created.headers["Warning"].startswith(
        '299 - "unknown field \\"spec.headGroupSpec.computeTemplate\\""'
    )
    stored = kube.get(RAYCLUSTERS, NS, "tpl")
    assert stored is not None
    head = stored["spec"]["headGroupSpec"]["template"]
    ray_head, sidecar = head["spec"]["containers"]
    if not kuberay_apiserver.release.template_middleware:  # v1.4: sent on untouched
        assert "resources" not in sidecar
        assert ((head.get("metadata") or {}).get("annotations") or {}).get(
            "ray.io/compute-template"
        ) is None
        return
    assert ray_head["resources"] == {"limits": RAY_LIMITS, "requests": RAY_LIMITS}
    assert sidecar["resources"] == {"limits": LIMITS, "requests": LIMITS}  # every container
    assert head["metadata"]["annotations"]["ray.io/compute-template"] == "big"
    assert head["spec"]["tolerations"][-1] == {
        "key": "gpu",
        "operator": "Exists",
        "value": "",
        "effect": "NoSchedule",
    }
    worker = stored["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"] == RAY_LIMITS  # the sample's worker is ray-worker
    (sent,) = sent_bodies(kube, "POST", r"/rayclusters$")[-1:]
    raw = next(d.body for d in reversed(kube.request_details) if d.record.method == "POST")
    assert raw.decode() == json.dumps(sent, sort_keys=True, separators=(",", ":"))  # Go's encoding
    assert sent["spec"]["headGroupSpec"]["computeTemplate"] == "big"  # left in the body
    # PUT runs the middleware too; PATCH does not.
    wait_ready(kube, "tpl")  # no status write of the operator's between the GET and the PUT
    current = call(kuberay_apiserver, "GET", f"{RAYCLUSTERS_V2}/tpl").json()
    current["spec"]["headGroupSpec"]["computeTemplate"] = "big"
    current["spec"]["headGroupSpec"]["template"]["spec"]["containers"][1]["resources"] = {}
    assert call(kuberay_apiserver, "PUT", f"{RAYCLUSTERS_V2}/tpl", current).status_code == 200
    after_put = kube.get(RAYCLUSTERS, NS, "tpl")
    assert after_put is not None
    assert after_put["spec"]["headGroupSpec"]["template"]["spec"]["containers"][1]["resources"] == {
        "limits": LIMITS,
        "requests": LIMITS,
    }
    patch = {
        "spec": {
            "workerGroupSpecs": [
                {**stored["spec"]["workerGroupSpecs"][0], "computeTemplate": "big"}
            ]
        }
    }
    patch["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"] = {}
    patched = call(
        kuberay_apiserver,
        "PATCH",
        f"{RAYCLUSTERS_V2}/tpl",
        patch,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    assert (
        patched.json()["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0][
            "resources"
        ]
        == {}
    )


@pytest.mark.parametrize(
    ("plural", "holder"), [("rayservices", "rayClusterConfig"), ("rayjobs", "rayClusterSpec")]
)
def test_v2_middleware_finds_the_groups_of_rayservices_and_rayjobs(
    kuberay_apiserver: FakeKubeRayApiServer, plural: str, holder: str
) -> None:
    """The fake Kubernetes serves no RayService or RayJob: its 404 comes back, and the body it
    received shows what the middleware did."""
    _template_with_everything(kuberay_apiserver)
    cluster = {
        "headGroupSpec": {
            "computeTemplate": "big",
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "x"}]}},
        },
        "workerGroupSpecs": [
            {"computeTemplate": "big", "template": {"spec": {"containers": [{"name": "other"}]}}}
        ],
    }
    body = {"apiVersion": "ray.io/v1", "metadata": {"name": "x"}, "spec": {holder: cluster}}
    answer = call(kuberay_apiserver, "POST", f"/apis/ray.io/v1/namespaces/{NS}/{plural}", body)
    assert answer.status_code == 404 and answer.json()["kind"] == "Status"
    (sent,) = sent_bodies(kuberay_apiserver.kube, "POST", rf"/{plural}$")
    groups = sent["spec"][holder]
    head = groups["headGroupSpec"]["template"]["spec"]["containers"][0]
    worker = groups["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert head["resources"]["limits"] == RAY_LIMITS
    assert worker["resources"]["limits"] == LIMITS  # not named ray-worker: no GPU


@pytest.mark.parametrize("kuberay_apiserver", ["v1.5", "v1.7"], indirect=True)
def test_a_template_made_before_v1_5_is_read_in_bytes(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    """A v1.4 ConfigMap has no ``memory_unit``: v1.5+ reads its memory with no unit at all."""
    old = {
        "metadata": {
            "name": "default-template",
            "labels": {"ray.io/config-type": "compute-template"},
        },
        "data": {
            "name": "default-template",
            "namespace": NS,
            "cpu": "2",
            "memory": "4",
            "gpu": "0",
        },
    }
    assert kube_call(kuberay_apiserver.kube, "POST", CM_PATH, old).status_code == 201
    assert call(kuberay_apiserver, "POST", CLUSTERS, SEED_CLUSTER).status_code == 200
    stored = kuberay_apiserver.kube.get(RAYCLUSTERS, NS, "test-cluster")
    assert stored is not None
    resources = stored["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "2", "memory": "4"}


@pytest.mark.parametrize("kuberay_apiserver", RETRYING, indirect=True)
def test_v2_middleware_refusals(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    missing = call(kuberay_apiserver, "POST", RAYCLUSTERS_V2, _templated_cluster("m"))
    assert missing.status_code == 422
    assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert missing.text == (
        "Cannot get compute template for name 'big' in namespace 'default', error: NotFoundError: "
        'Compute template big not found: configmaps "big" not found\n'
    )
    assert not kube.matching("POST", r"/rayclusters$")
    text = call(
        kuberay_apiserver,
        "POST",
        RAYCLUSTERS_V2,
        b"kind: RayCluster",
        headers={"Content-Type": "text/plain"},
    )
    assert (text.status_code, text.text) == (
        400,
        "Failed to convert request body to Golang map object\n",
    )
    _template_with_everything(kuberay_apiserver)
    strict = call(
        kuberay_apiserver,
        "POST",
        RAYCLUSTERS_V2,
        _templated_cluster("s"),
        params={"fieldValidation": "Strict"},
    )
    assert strict.status_code == 400  # what Kubernetes answers a strict decoding error
    assert strict.json()["reason"] == "BadRequest"
    assert (
        'strict decoding error: unknown field "spec.headGroupSpec.computeTemplate"'
        in strict.json()["message"]
    )
    as_yaml = json.dumps(_templated_cluster("y")).encode()  # JSON is YAML
    answer = call(
        kuberay_apiserver,
        "POST",
        RAYCLUSTERS_V2,
        as_yaml,
        headers={"Content-Type": "application/yaml"},
    )
    assert answer.status_code == 201
    assert kube.request_details[-1].headers["Content-Type"] == "application/json"


def _head_svc_backend() -> tuple[ThreadingHTTPServer, threading.Thread]:
    """A stand-in dashboard: answers ``{"path": ...}`` with 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def dashboard() -> Iterator[str]:
    server, thread = _head_svc_backend()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_v2_service_proxy_needs_a_kuberay_service(
    kuberay_apiserver: FakeKubeRayApiServer, dashboard: str
) -> None:
    kube = kuberay_apiserver.kube
    seed(kuberay_apiserver)
    assert kube.wait_for(lambda: kube.get(SERVICES, NS, "test-cluster-serve-svc") is not None)
    kube.set_endpoints(NS, "test-cluster-head-svc", {"dashboard": dashboard})
    base = f"/api/v1/namespaces/{NS}/services"
    head = call(
        kuberay_apiserver, "GET", f"{base}/test-cluster-head-svc:dashboard/proxy/api/version"
    )
    assert head.status_code == 200 and head.json() == {"path": "/api/version"}
    label_check = kube.matching("GET", rf"/namespaces/{NS}/services$")[-1]
    assert label_check.query == (
        "fieldSelector=metadata.name%3Dtest-cluster-head-svc&"
        "labelSelector=app.kubernetes.io%2Fname%3Dkuberay"
    )
    for service, status, text in [
        ("test-cluster-serve-svc:serve", 404, "kuberay service not found\n"),
        ("nope:dashboard", 404, "kuberay service not found\n"),
        ("a:b:c:d", 400, "invalid service format: a:b:c:d\n"),
        (
            "ftp:test-cluster-head-svc:dashboard",
            400,
            "invalid service format: ftp:test-cluster-head-svc:dashboard\n",
        ),
    ]:
        answer = call(kuberay_apiserver, "GET", f"{base}/{service}/proxy/")
        assert (answer.status_code, answer.text) == (status, text), service
        assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    kube.inject(500, count=1, match=("GET", rf"/namespaces/{NS}/services$"))
    failed = call(kuberay_apiserver, "GET", f"{base}/test-cluster-head-svc:dashboard/proxy")
    assert (failed.status_code, failed.text) == (500, "failed to list kuberay services\n")


# ------------------------------------------------------------------------------------------------
# V2: retries, buffering, deadlines


def _existing(apiserver: FakeKubeRayApiServer, name: str) -> Obj:
    """A RayCluster made through V2, read once the operator is done writing its status."""
    assert call(apiserver, "POST", RAYCLUSTERS_V2, raycluster(name)).status_code == 201
    wait_ready(apiserver.kube, name)
    return dict(call(apiserver, "GET", f"{RAYCLUSTERS_V2}/{name}").json())


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_v2_retries_a_put_on_503(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    current = _existing(kuberay_apiserver, "retried")
    current["metadata"]["labels"] = {"changed": "yes"}
    kube.inject(503, count=2, match=("PUT", r"/rayclusters/retried$"))
    started = time.monotonic()
    answer = call(kuberay_apiserver, "PUT", f"{RAYCLUSTERS_V2}/retried", current)
    elapsed = time.monotonic() - started
    puts = kube.matching("PUT", r"/rayclusters/retried$")
    if kuberay_apiserver.release.retries:
        assert answer.status_code == 200
        assert [r.status for r in puts] == [503, 503, 200]
        assert elapsed >= 1.5  # backoffs of 0.5 s and 1 s
        bodies = [d.body for d in kube.request_details if d.record in puts]
        assert len(set(bodies)) == 1  # the same body re-sent on every attempt
    else:
        assert answer.status_code == 503 and answer.json()["reason"] == "ServiceUnavailable"
        assert [r.status for r in puts] == [503]
    assert kuberay_apiserver.count("PUT", r"/rayclusters/retried$") == 1


@pytest.mark.parametrize("status", [409, 501, 422])
def test_v2_does_not_retry_other_statuses(
    kuberay_apiserver: FakeKubeRayApiServer, status: int
) -> None:
    kube = kuberay_apiserver.kube
    kube.inject(status, count=3, match=("GET", r"/rayclusters/x$"))
    answer = call(kuberay_apiserver, "GET", f"{RAYCLUSTERS_V2}/x")
    assert answer.status_code == status
    assert len(kube.matching("GET", r"/rayclusters/x$")) == 1


@pytest.fixture
def short_deadline(
    request: pytest.FixtureRequest, kuberay_apiserver: FakeKubeRayApiServer
) -> Iterator[FakeKubeRayApiServer]:
    """A second stand-in over the same fake Kubernetes whose V2 gives up after 1 s."""
    release = getattr(request, "param", "v1.7")
    apiserver = FakeKubeRayApiServer(kuberay_apiserver.kube, release=release, v2_deadline_s=1.0)
    apiserver.start()
    try:
        yield apiserver
    finally:
        apiserver.stop()


@pytest.mark.parametrize("short_deadline", RETRYING, indirect=True)
@pytest.mark.parametrize("fault", ["hang", "trickle", "backoff"])
def test_v2_deadline_is_an_empty_502(short_deadline: FakeKubeRayApiServer, fault: str) -> None:
    kube = short_deadline.kube
    match = ("GET", r"/rayclusters/slow$")
    if fault == "hang":
        kube.hang(10.0, match=match)
    elif fault == "trickle":
        kube.trickle(0.1, match=match)
    else:  # 0.5 s backoff fits, the 1 s one would pass the deadline
        kube.inject(503, count=5, match=match)
    started = time.monotonic()
    answer = call(short_deadline, "GET", f"{RAYCLUSTERS_V2}/slow")
    elapsed = time.monotonic() - started
    assert answer.status_code == 502 and answer.content == b""
    assert 0.4 <= elapsed < 3.0
    # A hung request is logged by the fake Kubernetes only once it is answered.
    expected = {"hang": 0, "trickle": 1, "backoff": 2}[fault]
    assert len(kube.matching("GET", r"/rayclusters/slow$")) == expected


@pytest.mark.parametrize("kuberay_apiserver", ["v1.4", "v1.7"], indirect=True)
def test_v2_connection_errors_are_an_empty_502_without_retry(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    kube = kuberay_apiserver.kube
    kube.drop_connections(count=1, match=("GET", r"/rayclusters/gone$"))
    answer = call(kuberay_apiserver, "GET", f"{RAYCLUSTERS_V2}/gone")
    assert answer.status_code == 502 and answer.content == b""
    assert len(kube.matching("GET", r"/rayclusters/gone$")) == 1


@pytest.mark.parametrize("kuberay_apiserver", ["v1.4", "v1.7"], indirect=True)
def test_v2_watch_is_streamed_by_v1_4_and_buffered_later(
    kuberay_apiserver: FakeKubeRayApiServer,
) -> None:
    _existing(kuberay_apiserver, "watched")
    started = time.monotonic()
    with requests.get(
        kuberay_apiserver.url + RAYCLUSTERS_V2,
        params={"watch": "true", "timeoutSeconds": "2"},
        stream=True,
        timeout=10,
    ) as answer:
        first = next(answer.iter_lines())
        first_at = time.monotonic() - started
        rest = list(answer.iter_lines())
    assert json.loads(first)["object"]["metadata"]["name"] == "watched" and rest == []
    if kuberay_apiserver.release.buffers:
        assert first_at >= 1.5  # only when the watch ended
    else:
        assert first_at < 1.0


# ------------------------------------------------------------------------------------------------
# V2: Events, credentials, switches


@pytest.mark.parametrize("kuberay_apiserver", ALL_RELEASES, indirect=True)
def test_v2_events_route_of_each_release(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    seed(kuberay_apiserver)
    wait_ready(kube, "test-cluster")
    new = f"/apis/events.k8s.io/v1/namespaces/{NS}/events"
    old = f"/api/v1/namespaces/{NS}/events"
    served, gone = (new, old) if kuberay_apiserver.release.events_v1_api else (old, new)
    answer = call(kuberay_apiserver, "GET", served, params={"fieldSelector": "type=Normal"})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    field = "regarding" if kuberay_apiserver.release.events_v1_api else "involvedObject"
    assert items and {e[field]["apiVersion"] for e in items} == {"ray.io/v1"}  # no Pod events
    selector = f"{field}.apiVersion=ray.io/v1"
    assert kube.requests[-1].query == "fieldSelector=" + requests.utils.quote(
        f"type=Normal,{selector}", safe=""
    )
    assert grpc_error(call(kuberay_apiserver, "GET", gone)) == (404, 5, "Not Found")
    assert grpc_error(call(kuberay_apiserver, "POST", served, {})) == (404, 5, "Not Found")


def test_security_proxy_token(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    with FakeKubeRayApiServer(kube, token="s3cret") as secured:
        for headers in ({}, {"Authorization": "Bearer s3cret"}, {"Authorization": "S3cret"}):
            refused = call(secured, "GET", "/healthz", headers=headers)
            assert (refused.status_code, refused.text) == (401, "Unauthorized\n")
            assert refused.headers["Content-Type"] == "text/plain; charset=utf-8"
        token = {"Authorization": "s3cret"}
        assert call(secured, "GET", "/healthz", headers=token).status_code == 200
        assert call(secured, "POST", TEMPLATES, SEED_TEMPLATE, headers=token).status_code == 200
        # V2 passes the token on to Kubernetes, which does not know it (deduced, unconfirmed).
        forwarded = call(secured, "GET", RAYCLUSTERS_V2, headers=token)
        assert forwarded.status_code == 401 and forwarded.json()["reason"] == "Unauthorized"


def test_v2_keeps_the_callers_authorization(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    mine = call(
        kuberay_apiserver, "GET", RAYCLUSTERS_V2, headers={"Authorization": f"Bearer {kube.token}"}
    )
    wrong = call(
        kuberay_apiserver, "GET", RAYCLUSTERS_V2, headers={"Authorization": "Bearer wrong"}
    )
    service_account = call(kuberay_apiserver, "GET", RAYCLUSTERS_V2)
    assert (mine.status_code, wrong.status_code, service_account.status_code) == (200, 401, 200)
    assert wrong.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    (forwarded, *_) = [d for d in kube.request_details if d.record.status == 401]
    assert forwarded.headers["X-Forwarded-For"] == "127.0.0.1"


def test_without_v2_only_v1_answers(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    with FakeKubeRayApiServer(kuberay_apiserver.kube, enable_v2=False) as v1_only:
        for path in (
            RAYCLUSTERS_V2,
            "/apis/ray.io/v1",
            f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
        ):
            assert grpc_error(call(v1_only, "GET", path)) == (404, 5, "Not Found")
        head_proxy = f"/api/v1/namespaces/{NS}/services/x-head-svc:dashboard/proxy/"
        assert grpc_error(call(v1_only, "GET", head_proxy)) == (404, 5, "Not Found")
        assert call(v1_only, "POST", TEMPLATES, SEED_TEMPLATE).status_code == 200
        assert call(v1_only, "GET", "/healthz").status_code == 200


def test_stop_ends_a_request_waiting_on_kubernetes(kuberay_apiserver: FakeKubeRayApiServer) -> None:
    kube = kuberay_apiserver.kube
    kube.hang(30.0, match=("GET", r"/rayclusters/stuck$"))
    apiserver = FakeKubeRayApiServer(kube, release="v1.4").start()
    outcome: list[Any] = []

    def ask() -> None:
        try:
            outcome.append(call(apiserver, "GET", f"{RAYCLUSTERS_V2}/stuck").status_code)
        except requests.RequestException as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=ask)
    thread.start()
    assert kube.wait_for(lambda: kube.faults.pending == 0, timeout=5)
    started = time.monotonic()
    apiserver.stop()
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert outcome and outcome[0] in (502, "ConnectionError")
    kube.clear_faults()


# ------------------------------------------------------------------------------------------------
# Through to a real Ray head


@pytest.mark.ray
@pytest.mark.testbed_process  # a Ray head per cluster: not in the quick lane
def test_v2_reaches_a_real_dashboard_through_the_head_service(
    kuberay_apiserver_ray: FakeKubeRayApiServer,
) -> None:
    apiserver = kuberay_apiserver_ray
    seed(apiserver)
    wait_ready(apiserver.kube, "test-cluster")
    base = f"/api/v1/namespaces/{NS}/services"
    version = call(apiserver, "GET", f"{base}/test-cluster-head-svc:dashboard/proxy/api/version")
    assert version.status_code == 200 and "ray_version" in version.json()
    serve = call(apiserver, "GET", f"{base}/test-cluster-serve-svc:serve/proxy/")
    assert (serve.status_code, serve.text) == (404, "kuberay service not found\n")
    assert copy.deepcopy(version.json())["ray_version"]
