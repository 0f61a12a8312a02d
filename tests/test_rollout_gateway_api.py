"""The Gateway and HTTPRoute as KubeRay builds them, and how their status is read (pure)."""

from __future__ import annotations

from typing import Any

from pulumi_rayservice.rollout.gateway_api import (
    Backend,
    GatewayRef,
    gateway_manifest,
    gateway_name,
    gateway_problem,
    route_manifest,
    route_name,
    route_problem,
    route_weights,
    serve_service_name,
)

OURS = GatewayRef("fruit-gateway", "ray")


def test_names_are_kuberays() -> None:
    assert gateway_name("fruit") == "fruit-gateway"
    assert route_name("fruit") == "fruit-httproute"
    assert serve_service_name("fruit-abcde") == "fruit-abcde-serve-svc"


def test_the_gateway_has_one_http_listener_on_port_80() -> None:
    gateway = gateway_manifest("fruit-gateway", "ray", "istio", labels={"a": "b"})
    assert gateway["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert gateway["spec"] == {
        "gatewayClassName": "istio",
        "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
    }
    assert gateway["metadata"] == {
        "name": "fruit-gateway",
        "namespace": "ray",
        "labels": {"a": "b"},
    }


def test_the_route_splits_path_prefix_slash_over_each_clusters_serve_service() -> None:
    route = route_manifest(
        "fruit-httproute",
        "ray",
        OURS,
        [Backend("old-serve-svc", 8000, 80), Backend("new-serve-svc", 8000, 20)],
    )
    spec = route["spec"]
    assert spec["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "fruit-gateway",
         "namespace": "ray"}
    ]  # fmt: skip
    (rule,) = spec["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert [(b["name"], b["port"], b["weight"]) for b in rule["backendRefs"]] == [
        ("old-serve-svc", 8000, 80),
        ("new-serve-svc", 8000, 20),
    ]
    assert route_weights(route) == {"old-serve-svc": 80, "new-serve-svc": 20}


def test_an_existing_gateways_listener_is_named_in_the_parent_ref() -> None:
    ref = GatewayRef("shared", "infra", section_name="https").parent_ref()
    assert ref["sectionName"] == "https"
    assert ref["namespace"] == "infra"


def test_weights_read_from_a_live_route_default_to_one_and_skip_garbage() -> None:
    route: dict[str, Any] = {
        "spec": {
            "rules": [
                {"backendRefs": [{"name": "a"}, {"name": "b", "weight": 3}, {"weight": 9}, "x"]}
            ]
        }
    }
    assert route_weights(route) == {"a": 1, "b": 3}
    assert route_weights(None) == {}
    assert route_weights({"spec": {"rules": "nope"}}) == {}


def _condition(kind: str, status: str = "True", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": kind, **extra}


def test_a_gateway_carries_traffic_once_accepted_and_programmed() -> None:
    gateway: dict[str, Any] = {"metadata": {"generation": 2}, "status": {"conditions": []}}
    assert gateway_problem(None) == "the Gateway does not exist"
    assert gateway_problem(gateway) == "the Gateway is not accepted: no Accepted condition yet"
    gateway["status"]["conditions"] = [
        _condition("Accepted", observedGeneration=2),
        _condition("Programmed", "False", reason="AddressNotAssigned", message="no address",
                   observedGeneration=2),
    ]  # fmt: skip
    assert gateway_problem(gateway) == (
        "the Gateway is not programmed: Programmed=False (AddressNotAssigned: no address)"
    )
    gateway["status"]["conditions"][1] = _condition("Programmed", observedGeneration=1)
    assert "earlier generation (1 < 2)" in str(gateway_problem(gateway))
    gateway["status"]["conditions"][1] = _condition("Programmed", observedGeneration=2)
    assert gateway_problem(gateway) is None


def test_a_route_is_in_force_once_our_gateway_accepted_it_and_resolved_its_backends() -> None:
    route: dict[str, Any] = {"status": {"parents": []}}
    assert "no controller has reported" in str(route_problem(route, OURS))
    other = {"parentRef": {"name": "another"}, "conditions": [_condition("Accepted")]}
    ours = {
        "parentRef": {"name": "fruit-gateway", "namespace": "ray"},
        "conditions": [
            _condition("Accepted"),
            _condition("ResolvedRefs", "False", reason="BackendNotFound", message="svc x"),
        ],
    }
    route["status"]["parents"] = [other, ours]
    assert route_problem(route, OURS) == (
        "the HTTPRoute is not resolved (its backends): ResolvedRefs=False (BackendNotFound: svc x)"
    )
    ours["conditions"][1] = _condition("ResolvedRefs")
    assert route_problem(route, OURS) is None
    assert route_problem(None, OURS) == "the HTTPRoute does not exist"
