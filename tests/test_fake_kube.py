"""The fake Kubernetes API server behaves as a real one, checked through the official client.

Everything goes through a kubeconfig file and ``kubernetes.client``, as the code under test does.
Only the last test starts a real Ray head (marked ``ray``); the others take well under a second.
"""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
import requests
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from rayservice_testbed.fake_kube import PODS, RAYCLUSTERS, SERVICES, FakeKubeServer, Scenario
from rayservice_testbed.fake_kube.fixtures import (
    SAMPLES,
    fake_kube,
    fake_kube_operator,
    fake_kube_ray,
    kube_client,
    kubeconfig,
    raycluster,
    sample_cluster_spec,
    unique_name,
)

__all__ = ["fake_kube", "fake_kube_operator", "fake_kube_ray", "kube_client", "kubeconfig"]

GROUP, VERSION, PLURAL, NS = "ray.io", "v1", "rayclusters", "default"
Obj = dict[str, Any]


class RayClusters:
    """``CustomObjectsApi`` for rayclusters in one namespace, answering plain dicts."""

    def __init__(self, api: client.ApiClient, namespace: str = NS) -> None:
        self.api = client.CustomObjectsApi(api)
        self.namespace = namespace

    def create(self, body: Obj, **kwargs: Any) -> Obj:
        return cast(
            Obj,
            self.api.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, body, **kwargs
            ),
        )

    def read(self, name: str) -> Obj:
        return cast(
            Obj, self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        )

    def list(self, **kwargs: Any) -> Obj:
        return cast(
            Obj,
            self.api.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, **kwargs
            ),
        )

    def names(self, **kwargs: Any) -> builtins.list[str]:
        return [item["metadata"]["name"] for item in self.list(**kwargs)["items"]]

    def patch(self, name: str, body: Any, **kwargs: Any) -> Obj:
        return cast(
            Obj,
            self.api.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, body, **kwargs
            ),
        )

    def patch_status(self, name: str, body: Any) -> Obj:
        return cast(
            Obj,
            self.api.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, PLURAL, name, body
            ),
        )

    def replace(self, name: str, body: Obj) -> Obj:
        return cast(
            Obj,
            self.api.replace_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, body
            ),
        )

    def delete(self, name: str, **kwargs: Any) -> Obj:
        return cast(
            Obj,
            self.api.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, **kwargs
            ),
        )


@pytest.fixture
def rc(kube_client: client.ApiClient) -> RayClusters:
    return RayClusters(kube_client)


@pytest.fixture
def core(kube_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_client)


def failure(exc: ApiException) -> Obj:
    """The ``Status`` body of a refused request."""
    return cast(Obj, json.loads(exc.body or "{}"))


def refused(call: Any, *args: Any, **kwargs: Any) -> ApiException:
    """The ApiException ``call`` raises (failing the test if it does not)."""
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value


def conditions(obj: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def event_messages(core: client.CoreV1Api, **kwargs: Any) -> list[tuple[str, str]]:
    return [
        (e.reason or "", e.message or "") for e in core.list_namespaced_event(NS, **kwargs).items
    ]


def minimal_spec(**worker: Any) -> Obj:
    container = {"name": "ray-head", "image": "rayproject/ray:2.52.0"}
    group = {
        "groupName": "wg",
        "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray"}]}},
        **worker,
    }
    return {
        "headGroupSpec": {"template": {"spec": {"containers": [container]}}},
        "workerGroupSpecs": [group],
    }


def worker_container(**resources: Any) -> Obj:
    return {
        "template": {"spec": {"containers": [{"name": "w", "image": "i", "resources": resources}]}}
    }


# ---------------------------------------------------------------------------------------------
# CRUD, concurrency and the status subresource


def test_create_answers_201_with_server_filled_metadata(
    fake_kube: FakeKubeServer, rc: RayClusters
) -> None:
    created = rc.create(raycluster("alpha"))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1 and int(meta["resourceVersion"]) > 0
    assert meta["managedFields"][0]["manager"] == "OpenAPI-Generator"
    assert "status" not in created
    assert fake_kube.matching("POST", r"/rayclusters$")[0].status == 201

    generated = rc.create({**raycluster(""), "metadata": {"generateName": "gen-"}})
    assert generated["metadata"]["name"].startswith("gen-")
    assert len(generated["metadata"]["name"]) == len("gen-") + 5


def test_duplicate_create_is_409_already_exists(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    rc.create(raycluster("dup"))
    error = refused(rc.create, raycluster("dup"))
    body = failure(error)
    assert error.status == 409
    assert body["kind"] == "Status" and body["reason"] == "AlreadyExists"
    assert body["message"] == 'rayclusters.ray.io "dup" already exists'
    assert body["details"] == {"name": "dup", "group": "ray.io", "kind": "rayclusters"}


def test_missing_object_is_404_status(fake_kube: FakeKubeServer, kube_client: Any) -> None:
    error = refused(RayClusters(kube_client).read, "nope")
    body = failure(error)
    assert (error.status, body["reason"], body["status"]) == (404, "NotFound", "Failure")
    assert body["message"] == 'rayclusters.ray.io "nope" not found'
    error = refused(RayClusters(kube_client, "ghost").create, raycluster("x"))
    assert error.status == 404 and failure(error)["message"] == 'namespaces "ghost" not found'


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", {"a", "b"}),
        ("tier!=web", {"c", "d"}),
        ("tier", {"a", "b", "c"}),
        ("!tier", {"d"}),
        ("tier in (db, cache)", {"c"}),
        ("tier notin (web)", {"c", "d"}),
        ("tier=web,env=prod", {"a"}),
    ],
)
def test_list_filters_by_label_selector(
    fake_kube: FakeKubeServer, rc: RayClusters, selector: str, expected: set[str]
) -> None:
    labels = {
        "a": {"tier": "web", "env": "prod"},
        "b": {"tier": "web"},
        "c": {"tier": "db"},
        "d": {"env": "dev"},
    }
    for name, these in labels.items():
        rc.create(raycluster(name, labels=these))
    listed = rc.list(label_selector=selector)
    assert {item["metadata"]["name"] for item in listed["items"]} == expected
    assert listed["kind"] == "RayClusterList" and int(listed["metadata"]["resourceVersion"]) >= 4


def test_field_selectors_namespaces_and_bad_selectors(
    fake_kube: FakeKubeServer, kube_client: Any, rc: RayClusters
) -> None:
    fake_kube.create_namespace("other")
    rc.create(raycluster("one"))
    RayClusters(kube_client, "other").create(raycluster("two"))
    assert rc.names(field_selector="metadata.name=one") == ["one"]
    everywhere = client.CustomObjectsApi(kube_client).list_cluster_custom_object(
        GROUP, VERSION, PLURAL
    )
    assert sorted(i["metadata"]["name"] for i in cast(Obj, everywhere)["items"]) == ["one", "two"]
    assert refused(rc.list, label_selector="tier in web").status == 400
    error = refused(rc.list, field_selector="spec.rayVersion=1")
    assert (
        error.status == 400
        and failure(error)["message"] == "field label not supported: spec.rayVersion"
    )


def test_list_pages_and_dry_run(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    for name in ("p1", "p2", "p3"):
        rc.create(raycluster(name))
    assert rc.create(raycluster("dry"), dry_run="All")["metadata"]["name"] == "dry"
    assert fake_kube.get(RAYCLUSTERS, NS, "dry") is None
    first = rc.list(limit=2)
    assert [i["metadata"]["name"] for i in first["items"]] == ["p1", "p2"]
    assert first["metadata"]["remainingItemCount"] == 1
    rest = rc.list(limit=2, _continue=first["metadata"]["continue"])
    assert [i["metadata"]["name"] for i in rest["items"]] == ["p3"]
    assert "continue" not in rest["metadata"]


def test_merge_patch_bumps_generation_only_on_spec_change(
    fake_kube: FakeKubeServer, rc: RayClusters
) -> None:
    created = rc.create(raycluster("gen"))
    labelled = rc.patch("gen", {"metadata": {"labels": {"team": "ml"}}})
    assert labelled["metadata"]["generation"] == 1
    assert int(labelled["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
    changed = rc.patch("gen", {"spec": {"rayVersion": "2.53.0"}})
    assert changed["metadata"]["generation"] == 2
    unchanged = rc.patch("gen", {"spec": {"rayVersion": "2.53.0"}})  # a no-op is not a write
    assert unchanged["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]
    assert {r.content_type for r in fake_kube.matching("PATCH")} == {"application/merge-patch+json"}


def test_status_subresource_is_split_from_the_main_resource(
    fake_kube: FakeKubeServer, rc: RayClusters
) -> None:
    rc.create(raycluster("split"))
    ignored = rc.patch("split", {"status": {"state": "ready"}})
    assert "status" not in ignored and ignored["metadata"]["generation"] == 1
    written = rc.patch_status(
        "split",
        {
            "status": {"state": "ready"},
            "spec": {"rayVersion": "9.9.9"},
            "metadata": {"labels": {"x": "y"}},
        },
    )
    assert written["status"] == {"state": "ready"}
    assert written["spec"]["rayVersion"] == "2.52.0" and "labels" not in written["metadata"]
    assert written["metadata"]["generation"] == 1
    after = rc.patch("split", {"spec": {"rayVersion": "2.53.0"}})
    assert after["status"] == {"state": "ready"} and after["metadata"]["generation"] == 2


def test_json_patch_and_patch_content_types(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    rc.create(raycluster("jp"))
    operations = [
        {"op": "test", "path": "/spec/workerGroupSpecs/0/replicas", "value": 1},
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
        {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}},
    ]
    patched = rc.patch("jp", operations, _content_type="application/json-patch+json")
    assert patched["spec"]["workerGroupSpecs"][0]["replicas"] == 2
    assert patched["metadata"]["generation"] == 2
    # a failed ``test`` operation does not apply: 422
    assert (
        refused(rc.patch, "jp", operations[:1], _content_type="application/json-patch+json").status
        == 422
    )
    # the client's default for a custom object is merge-patch, also for a list body: 400
    assert refused(rc.patch, "jp", operations).status == 400
    error = refused(
        rc.patch, "jp", {"spec": {}}, _content_type="application/strategic-merge-patch+json"
    )
    assert error.status == 415 and failure(error)["reason"] == "UnsupportedMediaType"


def test_put_needs_the_current_resource_version(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    current = rc.create(raycluster("put"))
    fresh = rc.replace("put", {**current, "spec": {**current["spec"], "rayVersion": "2.53.0"}})
    assert fresh["metadata"]["generation"] == 2
    error = refused(rc.replace, "put", current)  # its resourceVersion is stale now
    assert error.status == 409 and failure(error)["reason"] == "Conflict"
    unversioned = {
        **fresh,
        "metadata": {k: v for k, v in fresh["metadata"].items() if k != "resourceVersion"},
    }
    error = refused(rc.replace, "put", unversioned)
    assert error.status == 422 and "must be specified for an update" in failure(error)["message"]
    error = refused(rc.replace, "other", fresh)
    assert error.status == 400 and "does not match the name on the URL" in failure(error)["message"]


def test_delete_waits_for_finalizers(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    rc.create(raycluster("fin", finalizers=["example.com/hold"]))
    deleting = rc.delete("fin", propagation_policy="Background")
    assert deleting["metadata"]["deletionTimestamp"] and deleting["metadata"]["generation"] == 2
    assert rc.read("fin")["metadata"]["finalizers"] == ["example.com/hold"]
    more = {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}
    assert refused(rc.patch, "fin", more).status == 422  # no new finalizers while deleting
    rc.patch("fin", {"metadata": {"finalizers": None}})
    assert refused(rc.read, "fin").status == 404
    rc.create(raycluster("plain"))
    gone = rc.delete("plain")
    assert gone["kind"] == "Status" and gone["status"] == "Success"


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_dependents_follow_the_propagation_policy(
    fake_kube: FakeKubeServer, rc: RayClusters, policy: str
) -> None:
    owner = rc.create(raycluster("owner"))
    reference = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    service = {
        "metadata": {"name": "dep", "ownerReferences": [reference]},
        "spec": {"ports": [{"port": 80}]},
    }
    fake_kube.registry.create(SERVICES, NS, service)
    rc.delete("owner", propagation_policy=policy)
    assert fake_kube.wait_for(lambda: fake_kube.get(RAYCLUSTERS, NS, "owner") is None, timeout=5)
    if policy == "Orphan":
        kept = fake_kube.get(SERVICES, NS, "dep")
        assert kept is not None and "ownerReferences" not in kept["metadata"]
    else:
        assert fake_kube.wait_for(lambda: fake_kube.get(SERVICES, NS, "dep") is None, timeout=5)


def test_watch_streams_added_modified_deleted(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    since = rc.list()["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []
    watcher = watch.Watch()  # type: ignore[no-untyped-call]

    def consume() -> None:
        stream = watcher.stream(  # type: ignore[no-untyped-call]
            rc.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            PLURAL,
            resource_version=since,
            timeout_seconds=5,
        )
        for event in stream:
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "DELETED":
                watcher.stop()  # type: ignore[no-untyped-call]

    thread = threading.Thread(target=consume)
    thread.start()
    rc.create(raycluster("w"))
    rc.patch("w", {"spec": {"rayVersion": "2.53.0"}})
    rc.delete("w")
    thread.join(timeout=10)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_from_a_compacted_version_is_410(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    rc.create(raycluster("old"))
    fake_kube.registry.store.compact()

    def consume() -> None:
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            rc.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            PLURAL,
            resource_version="1",
            timeout_seconds=2,
        )
        for _ in stream:
            pass

    assert refused(consume).status == 410


# ---------------------------------------------------------------------------------------------
# Admission against KubeRay's real CRD schema


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.yaml")))
def test_every_kuberay_sample_is_admitted(
    fake_kube: FakeKubeServer, rc: RayClusters, sample: str
) -> None:
    created = rc.create(raycluster("sample", sample_cluster_spec(sample)))
    assert created["spec"]["headGroupSpec"]["template"]["spec"]["containers"]


def test_schema_defaults_are_applied(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    group = rc.create(raycluster("defaults", minimal_spec()))["spec"]["workerGroupSpecs"][0]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"], group["numOfHosts"]) == (
        0,
        0,
        2147483647,
        1,
    )


CONTAINER = "spec.workerGroupSpecs[0].template.spec.containers"


@pytest.mark.parametrize(
    ("worker", "field", "fragment"),
    [
        ({"replicas": "three"}, "spec.workerGroupSpecs[0].replicas", "must be of type integer"),
        ({"minReplicas": True}, "spec.workerGroupSpecs[0].minReplicas", "must be of type integer"),
        (
            worker_container(limits={"cpu": 1.5}),
            f"{CONTAINER}[0].resources.limits.cpu",
            "integer,string",
        ),
        (
            worker_container(limits={"cpu": "1.5 cores"}),
            f"{CONTAINER}[0].resources.limits.cpu",
            "should match",
        ),
        (
            {"template": {"spec": {"containers": [{"image": "i"}]}}},
            f"{CONTAINER}[0].name",
            "Required value",
        ),
        (
            {"template": {"spec": {"containers": [{"name": "w"}, {"name": "w"}]}}},
            f"{CONTAINER}[1]",
            "Duplicate value",
        ),
    ],
)
def test_schema_violations_are_422_with_field_paths(
    fake_kube: FakeKubeServer, rc: RayClusters, worker: Obj, field: str, fragment: str
) -> None:
    error = refused(rc.create, raycluster("bad", minimal_spec(**worker)))
    body = failure(error)
    assert error.status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('RayCluster.ray.io "bad" is invalid: ')
    assert field in body["message"] and fragment in body["message"]
    assert field in [cause["field"] for cause in body["details"]["causes"]]


def test_quantities_as_the_real_server_reads_them(
    fake_kube: FakeKubeServer, rc: RayClusters
) -> None:
    worker = worker_container(limits={"cpu": 2.0, "memory": "1.5Gi"}, requests={"cpu": "500m"})
    created = rc.create(raycluster("qty", minimal_spec(**worker)))
    container = created["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": 2, "memory": "1.5Gi"}  # 2.0 reads as 2


def test_unknown_fields_are_pruned_with_a_warning_or_refused_when_strict(
    fake_kube: FakeKubeServer, rc: RayClusters
) -> None:
    body = raycluster("typo")
    body["spec"]["workerGroupSpecs"][0]["replica"] = 3
    body["spec"]["foo"] = 1
    created = rc.create(body)
    assert "foo" not in created["spec"] and "replica" not in created["spec"]["workerGroupSpecs"][0]
    raw = requests.post(
        f"{fake_kube.url}/apis/ray.io/v1/namespaces/default/rayclusters",
        json={**body, "metadata": {"name": "typo2"}},
        headers={"Authorization": f"Bearer {fake_kube.token}"},
        timeout=5,
    )
    assert raw.status_code == 201
    assert 'unknown field \\"spec.foo\\"' in raw.headers["Warning"]
    assert 'unknown field \\"spec.workerGroupSpecs[0].replica\\"' in raw.headers["Warning"]
    error = refused(rc.create, {**body, "metadata": {"name": "typo3"}}, field_validation="Strict")
    message = failure(error)["message"]
    assert error.status == 400
    assert "strict decoding error" in message and 'unknown field "spec.foo"' in message


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"name": "Upper_Case"}, "metadata.name"),
        ({"name": "ok", "labels": {"app": "has space"}}, "metadata.labels"),
        ({"name": "ok", "labels": {"bad key!": "v"}}, "metadata.labels"),
        ({}, "metadata.name"),
    ],
)
def test_metadata_is_validated(
    fake_kube: FakeKubeServer, rc: RayClusters, metadata: Obj, field: str
) -> None:
    error = refused(rc.create, {**raycluster("x"), "metadata": metadata})
    assert error.status == 422
    assert field in [c["field"] for c in failure(error)["details"]["causes"]]


# ---------------------------------------------------------------------------------------------
# Authentication, discovery and faults


def test_requests_without_the_token_are_401(fake_kube: FakeKubeServer, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kc", token="wrong")
    wrong = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    try:
        error = refused(RayClusters(wrong).list)
    finally:
        wrong.close()
    assert error.status == 401 and failure(error)["reason"] == "Unauthorized"
    assert requests.get(f"{fake_kube.url}/apis", timeout=5).status_code == 401


def test_discovery_documents(fake_kube: FakeKubeServer, kube_client: client.ApiClient) -> None:
    groups = client.ApisApi(kube_client).get_api_versions().groups
    assert [g.name for g in groups] == ["ray.io", "gateway.networking.k8s.io"]
    auth = {"Authorization": f"Bearer {fake_kube.token}"}
    ray_io = requests.get(f"{fake_kube.url}/apis/ray.io/v1", headers=auth, timeout=5).json()
    resources = {r["name"]: r for r in ray_io["resources"]}
    assert resources["rayclusters"]["namespaced"] and "watch" in resources["rayclusters"]["verbs"]
    assert "rayclusters/status" in resources
    gateway_api = requests.get(
        f"{fake_kube.url}/apis/gateway.networking.k8s.io/v1", headers=auth, timeout=5
    ).json()
    served = {r["name"]: r for r in gateway_api["resources"]}
    assert set(served) == {"gateways", "gateways/status", "httproutes", "httproutes/status"}
    assert served["gateways"]["kind"] == "Gateway" and served["gateways"]["shortNames"] == ["gtw"]
    assert served["httproutes"]["namespaced"] and "watch" in served["httproutes"]["verbs"]
    assert client.CoreApi(kube_client).get_api_versions().versions == ["v1"]
    assert client.VersionApi(kube_client).get_code().major == "1"


def test_injected_errors_then_success(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    rc.create(raycluster("flaky"))
    fake_kube.inject(status=500, count=2, match=("GET", r"/rayclusters/flaky$"))
    outcomes = []
    for _ in range(3):
        try:
            rc.read("flaky")
            outcomes.append(200)
        except ApiException as exc:
            outcomes.append(exc.status)
    assert outcomes == [500, 500, 200]
    # 429 on a POST: urllib3 retries only idempotent methods on Retry-After, so the client sees it
    fake_kube.inject(status=429, retry_after=3, match=("POST", r"/rayclusters$"))
    error = refused(rc.create, raycluster("throttled"))
    assert error.status == 429 and error.headers is not None and error.headers["Retry-After"] == "3"
    assert failure(error)["details"]["retryAfterSeconds"] == 3
    assert fake_kube.get(RAYCLUSTERS, NS, "throttled") is None
    # after_handling: the create happened, the client only saw a conflict
    fake_kube.inject(status=409, after_handling=True, match=("POST", r"/rayclusters$"))
    assert refused(rc.create, raycluster("raced")).status == 409
    assert fake_kube.get(RAYCLUSTERS, NS, "raced") is not None
    assert fake_kube.faults.pending == 0


def test_dropped_connections(fake_kube: FakeKubeServer, rc: RayClusters) -> None:
    fake_kube.drop_connections(count=1, match=("POST", r"/rayclusters$"))
    with pytest.raises(urllib3.exceptions.HTTPError):
        rc.create(raycluster("dropped"))
    assert fake_kube.get(RAYCLUSTERS, NS, "dropped") is None
    fake_kube.drop_connections(count=1, match=("POST", r"/rayclusters$"), after_handling=True)
    with pytest.raises(urllib3.exceptions.HTTPError):
        rc.create(raycluster("dropped"))
    assert fake_kube.get(RAYCLUSTERS, NS, "dropped") is not None  # done, but the answer was lost
    assert [r.status for r in fake_kube.matching("POST")] == [0, 0]
    assert fake_kube.write_count() == 2


def test_hung_request_times_out_the_client_but_still_happens(
    fake_kube: FakeKubeServer, rc: RayClusters
) -> None:
    fake_kube.hang(0.5, match=("POST", r"/rayclusters$"))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        rc.create(raycluster("slow"), _request_timeout=0.2)
    assert fake_kube.wait_for(lambda: fake_kube.get(RAYCLUSTERS, NS, "slow") is not None, timeout=3)


class _Echo(BaseHTTPRequestHandler):
    """An upstream that answers 418 with what it received."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = json.dumps(
            {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode(),
            }
        ).encode()
        self.send_response(418)
        self.send_header("X-Upstream", "echo")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_service_proxy_forwards_everything_but_the_kubernetes_token(
    fake_kube: FakeKubeServer,
) -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        service = {"metadata": {"name": "dash"}, "spec": {"ports": [{"name": "web", "port": 80}]}}
        fake_kube.registry.create(SERVICES, NS, service)
        fake_kube.set_endpoints(NS, "dash", {"web": f"http://127.0.0.1:{upstream.server_port}"})
        answer = requests.post(
            f"{fake_kube.url}/api/v1/namespaces/{NS}/services/dash:web/proxy/api/x/?a=1",
            headers={
                "Authorization": f"Bearer {fake_kube.token}",
                "x-ray-authorization": "Bearer ray",
            },
            data=b"payload",
            timeout=5,
        )
        echoed = answer.json()
        assert answer.status_code == 418 and answer.headers["X-Upstream"] == "echo"
        assert echoed["path"] == "/api/x/?a=1" and echoed["body"] == "payload"
        assert echoed["headers"]["x-ray-authorization"] == "Bearer ray"
        assert "authorization" not in echoed["headers"]
        assert fake_kube.requests[-1].status == 418
        port_80 = requests.get(
            f"{fake_kube.url}/api/v1/namespaces/{NS}/services/dash:81/proxy/",
            headers={"Authorization": f"Bearer {fake_kube.token}"},
            timeout=5,
        )
        assert port_80.status_code == 503  # no such service port
    finally:
        upstream.shutdown()
        upstream.server_close()


@pytest.mark.testbed_process
def test_kubeconfig_works_from_another_process(fake_kube: FakeKubeServer, kubeconfig: Path) -> None:
    fake_kube.registry.create(RAYCLUSTERS, NS, raycluster("remote"))
    script = (
        "import sys; from kubernetes import client, config\n"
        "api = client.CustomObjectsApi(config.new_client_from_config(config_file=sys.argv[1]))\n"
        "items = api.list_namespaced_custom_object('ray.io', 'v1', 'default', 'rayclusters')\n"
        "print([i['metadata']['name'] for i in items['items']])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "['remote']"


# ---------------------------------------------------------------------------------------------
# The stand-in operator (status flows, no Ray processes)


def test_operator_writes_kuberay_status_services_and_events(
    fake_kube_operator: FakeKubeServer, rc: RayClusters, core: client.CoreV1Api
) -> None:
    fake = fake_kube_operator
    name = unique_name()
    rc.create(raycluster(name, annotations={"ray.io/enable-serve-service": "true"}))
    assert fake.wait_for(
        lambda: conditions(rc.read(name)).get("HeadPodReady", {}).get("status") == "True", timeout=5
    )
    status = rc.read(name)["status"]
    assert status["state"] == "ready" and status["observedGeneration"] == 1
    assert conditions(rc.read(name))["RayClusterProvisioned"]["status"] == "True"
    assert (
        status["head"]["serviceName"] == f"{name}-head-svc"
        and status["head"]["podIP"] == "127.0.0.1"
    )
    assert (
        status["endpoints"]["dashboard"] == "8265" and status["endpoints"]["gcs-server"] == "6379"
    )
    counts = (
        status["desiredWorkerReplicas"],
        status["readyWorkerReplicas"],
        status["maxWorkerReplicas"],
    )
    assert counts == (1, 1, 5)
    head_svc = core.read_namespaced_service(f"{name}-head-svc", NS).to_dict()
    assert head_svc["metadata"]["labels"]["ray.io/node-type"] == "head"
    assert head_svc["metadata"]["owner_references"][0]["name"] == name
    assert (
        core.read_namespaced_service(f"{name}-serve-svc", NS).to_dict()["spec"]["ports"][0]["name"]
        == "serve"
    )
    reasons = {
        reason for reason, _ in event_messages(core, field_selector=f"involvedObject.name={name}")
    }
    assert {"CreatedService", "CreatedHeadPod", "CreatedWorkerPod"} <= reasons

    group = {**rc.read(name)["spec"]["workerGroupSpecs"][0], "replicas": 2}
    rc.patch(name, {"spec": {"workerGroupSpecs": [group]}})
    assert fake.wait_for(lambda: rc.read(name)["status"].get("readyWorkerReplicas") == 2, timeout=5)
    assert rc.read(name)["status"]["observedGeneration"] == 2
    workers = core.list_namespaced_pod(
        NS, label_selector=f"ray.io/cluster={name},ray.io/node-type=worker"
    )
    assert len(workers.items) == 2

    rc.delete(name)  # dependents go by garbage collection, asynchronously
    assert fake.wait_for(lambda: fake.get(SERVICES, NS, f"{name}-head-svc") is None, timeout=5)
    selector = f"ray.io/cluster={name}"
    assert fake.wait_for(
        lambda: not fake.registry.list(PODS, NS, label_selector=selector)["items"], timeout=5
    )
    assert fake.operator is not None and fake.operator.errors == []


@pytest.mark.parametrize(
    ("scenario", "event"),
    [("never_ready", "Readiness probe failed"), ("image_pull_error", "Failed to pull image")],
)
def test_operator_failure_scenarios(
    fake_kube_operator: FakeKubeServer,
    rc: RayClusters,
    core: client.CoreV1Api,
    scenario: str,
    event: str,
) -> None:
    name = unique_name(scenario.replace("_", "-"))
    rc.create(raycluster(name, annotations={"fake-kube.test/scenario": scenario}))
    assert fake_kube_operator.wait_for(
        lambda: "HeadPodReady" in conditions(rc.read(name)), timeout=5
    )
    time.sleep(0.2)  # let the pod settle in its failing state
    head = conditions(rc.read(name))["HeadPodReady"]
    assert (head["status"], head["reason"]) == ("False", "ContainersNotReady")
    assert "state" not in rc.read(name)["status"]
    messages = [message for _, message in event_messages(core)]
    assert any(event in m for m in messages)
    if scenario == "image_pull_error":
        assert any("ImagePullBackOff" in m for m in messages)
    proxy = core.connect_get_namespaced_service_proxy_with_path
    error = refused(proxy, f"{name}-head-svc:dashboard", NS, "api/version")
    # a pod without IP has no endpoint; a running unready one is published (KubeRay's head
    # service sets publishNotReadyAddresses) but nothing answers there
    expected = "no endpoints available" if scenario == "image_pull_error" else "connection refused"
    assert error.status == 503 and expected in failure(error)["message"]
    assert refused(proxy, "missing:dashboard", NS, "api/version").status == 404


def test_a_long_name_is_admitted_and_refused_by_the_operator_only(
    fake_kube_operator: FakeKubeServer, rc: RayClusters, core: client.CoreV1Api
) -> None:
    name = "n" * 60
    rc.create(raycluster(name))  # the API server has no such rule; KubeRay has
    assert fake_kube_operator.wait_for(
        lambda: any(reason == "InvalidRayClusterMetadata" for reason, _ in event_messages(core)),
        timeout=5,
    )
    assert fake_kube_operator.get(SERVICES, NS, f"{name}-head-svc") is None


def test_observed_generation_lags_a_spec_change(
    fake_kube_operator: FakeKubeServer, rc: RayClusters
) -> None:
    assert fake_kube_operator.operator is not None
    fake_kube_operator.operator.set_scenario(r"lag-.*", Scenario(reconcile_delay_s=0.3))
    name = unique_name("lag")
    rc.create(raycluster(name))
    assert fake_kube_operator.wait_for(
        lambda: rc.read(name).get("status", {}).get("state") == "ready", timeout=5
    )
    rc.patch(name, {"spec": {"rayVersion": "2.53.0"}})
    stale = rc.read(name)
    assert stale["metadata"]["generation"] == 2 and stale["status"]["observedGeneration"] == 1
    assert conditions(stale)["HeadPodReady"]["status"] == "True"  # stale, as on a real cluster
    assert fake_kube_operator.wait_for(
        lambda: rc.read(name)["status"]["observedGeneration"] == 2, timeout=5
    )


def test_recreate_upgrade_strategy_replaces_the_pods(
    fake_kube_operator: FakeKubeServer, rc: RayClusters
) -> None:
    name = unique_name("recreate")
    spec = sample_cluster_spec()
    spec["upgradeStrategy"] = {"type": "Recreate"}
    rc.create(raycluster(name, spec, annotations={"fake-kube.test/ready-delay-s": "0.3"}))

    def head_ready() -> str:
        return str(conditions(rc.read(name)).get("HeadPodReady", {}).get("status"))

    assert fake_kube_operator.wait_for(lambda: head_ready() == "True", timeout=5)
    first_pod = rc.read(name)["status"]["head"]["podName"]
    env = [
        {
            "op": "add",
            "path": "/spec/headGroupSpec/template/spec/containers/0/env",
            "value": [{"name": "X", "value": "1"}],
        }
    ]
    rc.patch(name, env, _content_type="application/json-patch+json")
    assert fake_kube_operator.wait_for(lambda: head_ready() == "False", timeout=5)
    assert fake_kube_operator.wait_for(lambda: head_ready() == "True", timeout=5)
    status = rc.read(name)["status"]
    assert status["observedGeneration"] == 2 and status["head"]["podName"] != first_pod


def test_gcs_ft_finalizer_holds_deletion(
    fake_kube_operator: FakeKubeServer, rc: RayClusters
) -> None:
    name = unique_name("ft")
    spec = sample_cluster_spec()
    spec["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    rc.create(raycluster(name, spec, annotations={"fake-kube.test/finalizer-delay-s": "0.5"}))
    finalizer = "ray.io/gcs-ft-redis-cleanup-finalizer"
    assert fake_kube_operator.wait_for(
        lambda: finalizer in (rc.read(name)["metadata"].get("finalizers") or []), timeout=5
    )
    started = time.monotonic()
    rc.delete(name)
    assert rc.read(name)["metadata"]["deletionTimestamp"]
    assert fake_kube_operator.wait_for(
        lambda: fake_kube_operator.get(RAYCLUSTERS, NS, name) is None, timeout=5
    )
    assert time.monotonic() - started >= 0.45


# ---------------------------------------------------------------------------------------------
# The stand-in operator with a real Ray head


@pytest.mark.ray
def test_operator_runs_a_real_ray_head_behind_the_service_proxy(
    fake_kube_ray: FakeKubeServer, rc: RayClusters, core: client.CoreV1Api
) -> None:
    from rayservice_testbed.harness.processes import session_pids

    fake = fake_kube_ray
    assert fake.operator is not None
    name = unique_name("real")
    rc.create(raycluster(name))
    ready = fake.wait_for(
        lambda: conditions(rc.read(name)).get("HeadPodReady", {}).get("status") == "True",
        timeout=90,
        interval=0.5,
    )
    assert ready, fake.operator.errors
    assert (
        core.read_namespaced_service(f"{name}-head-svc", NS).to_dict()["spec"]["cluster_ip"]
        == "None"
    )
    answer: Any = core.connect_get_namespaced_service_proxy_with_path(
        f"{name}-head-svc:dashboard", NS, "api/version", _preload_content=False
    )
    assert answer.status == 200 and "ray_version" in json.loads(answer.data)
    by_number = requests.get(
        f"{fake.url}/api/v1/namespaces/{NS}/services/{name}-head-svc:8265/proxy/api/serve/applications/",
        headers={"Authorization": f"Bearer {fake.token}"},
        timeout=30,
    )
    assert by_number.status_code == 200 and "applications" in by_number.json()
    head = fake.operator.head(NS, name)
    assert head is not None and head.proc is not None
    sid = head.proc.pid
    assert session_pids(sid)

    rc.delete(name)
    assert fake.wait_for(lambda: not session_pids(sid), timeout=30, interval=0.2)
    assert fake.wait_for(lambda: fake.get(SERVICES, NS, f"{name}-head-svc") is None, timeout=5)
    assert fake.operator.errors == []
