"""The public constructors read as Pulumi's SDKs write them, and keep the names users call.

Pulumi's generated SDKs (and pulumi-kubernetes' own components) take the resource name and the
main inputs positionally and everything else, ``opts`` included, by keyword: a call that passes an
option by position is refused instead of landing in the wrong parameter. The names are a contract
(DESIGN.md): programs and acceptance tests call them by keyword.
"""

from __future__ import annotations

import inspect

import pytest

import pulumi_rayservice as rs

POSITIONAL = {
    rs.ServeApplication: ["resource_name", "app", "dashboard"],
    rs.RayCluster: ["resource_name", "spec"],
    rs.RayService: ["resource_name", "cluster", "applications"],
}
CONTRACT = {
    rs.ServeApplication: ["app", "dashboard", "timeout_s", "opts"],
    rs.RayCluster: ["spec", "namespace", "name", "kube", "timeout_s", "opts"],
    rs.RayService: ["cluster", "applications", "namespace", "kube", "upgrade", "opts"],
}


@pytest.mark.parametrize("resource", list(POSITIONAL), ids=lambda r: r.__name__)
def test_only_the_name_and_main_inputs_are_positional(resource: type) -> None:
    parameters = list(inspect.signature(resource.__init__).parameters.values())[1:]

    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    keyword_only = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]

    assert positional == POSITIONAL[resource]
    assert "opts" in keyword_only
    assert all(p.default is not p.empty for p in parameters if p.kind is p.KEYWORD_ONLY)


@pytest.mark.parametrize("resource", list(CONTRACT), ids=lambda r: r.__name__)
def test_the_documented_keywords_are_still_accepted(resource: type) -> None:
    names = set(inspect.signature(resource.__init__).parameters)

    assert set(CONTRACT[resource]) <= names


def test_an_option_passed_by_position_is_refused() -> None:
    with pytest.raises(TypeError):
        rs.ServeApplication("fruit", {"name": "a"}, {"url": "http://127.0.0.1:8265"}, 600)
