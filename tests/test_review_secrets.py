"""Secrets each resource type keeps in its state never reach the review's text.

A resource's ``secret_paths`` input points into a different input per type (``app`` and
``deployed_app`` of a ServeApplication, ``spec`` of a RayCluster), and each provider has paths that
are always secret (the Serve options' SSL key password): a document holding any of them in plain
text, as engine events or a state file do, must come out blinded.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pulumi_rayservice.review import summarize

SERVE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER = "pulumi-python:dynamic/rayservice:RayCluster"
SECRET = "SeCrEt-value-0123456789"


def step(type_: str, op: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    state = {"type": type_, "inputs": inputs, "outputs": outputs}
    return {"op": op, "urn": f"urn:pulumi:dev::proj::{type_}::x", "oldState": state,
            "newState": json.loads(json.dumps(state).replace(SECRET, SECRET + "2"))}  # fmt: skip


CASES = {
    "cluster spec": step(
        CLUSTER,
        "update",
        {
            "spec": {"headGroupSpec": {"rayStartParams": {"auth": SECRET}}},
            "secret_paths": [["headGroupSpec", "rayStartParams", "auth"]],
        },
        {
            "spec": {"headGroupSpec": {"rayStartParams": {"auth": SECRET}}},
            "secret_paths": [["headGroupSpec", "rayStartParams", "auth"]],
        },
    ),
    "serve app": step(
        SERVE,
        "update",
        {
            "app": {"name": "a", "runtime_env": {"env_vars": {"K": SECRET}}},
            "secret_paths": [["runtime_env", "env_vars"]],
        },
        {
            "deployed_app": {"name": "a", "runtime_env": {"env_vars": {"K": SECRET}}},
            "secret_paths": [["runtime_env", "env_vars"]],
        },
    ),
    "ssl key password": step(
        SERVE,
        "replace",
        {"app": {"name": "a"}, "serve_options": {"http_options": {"ssl_keyfile_password": SECRET}}},
        {"serve_options": {"http_options": {"ssl_keyfile_password": SECRET}}},
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("output", ["markdown", "json"])
def test_declared_and_provider_secrets_are_blinded(name: str, output: str) -> None:
    text, _ = summarize({"steps": [CASES[name]]}, output=output)  # type: ignore[arg-type]
    assert SECRET not in text
