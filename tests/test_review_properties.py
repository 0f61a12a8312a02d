"""Properties of the review over any PreviewDigest-shaped document hypothesis can make.

Random ops, URNs (any characters in names and types), inputs with ``"[secret]"``, the unknown
sentinel, huge values and secrets in every form a document can carry them (the engine's signed
secret object, a key that is always secret): the Markdown stays under GitHub's comment limit and
neither output ever holds a secret's value.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.runtime.rpc import UNKNOWN, wrap_rpc_secret

from pulumi_rayservice.review import COMMENT_LIMIT, summarize

OPS = ["same", "create", "update", "delete", "replace", "create-replacement", "delete-replaced",
       "read", "refresh", "import", "discard"]  # fmt: skip
TYPES = [
    "pulumi-python:dynamic/rayservice:ServeApplication",
    "pulumi-python:dynamic/rayservice:RayCluster",
    "pulumi-python:dynamic/rayservice:TrafficSplit",
    "rayservice:index:RayService",
    "kubernetes:core/v1:Service",
    "aws:s3/bucket:Bucket",
]
SECRET_KEYS = ["token", "redis_password", "content", "__provider", "password"]

secrets = st.from_regex(r"SeCrEt[0-9a-f]{10}", fullmatch=True)
huge = st.integers(min_value=1_000, max_value=150_000).map(lambda n: "v" * n)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.just("[secret]"),
    st.just(UNKNOWN),
    huge,
)


@st.composite
def secret_holder(draw: st.DrawFn) -> tuple[Any, str]:
    """A value that holds a secret (returned beside it) in one of the forms a document has."""
    secret = draw(secrets)
    if draw(st.booleans()):
        return wrap_rpc_secret(secret), secret
    return {draw(st.sampled_from(SECRET_KEYS)): secret}, secret


values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


SECRET_ROOTS = {
    "pulumi-python:dynamic/rayservice:ServeApplication": {
        "inputs": "app",
        "outputs": "deployed_app",
    },
    "pulumi-python:dynamic/rayservice:RayCluster": {"inputs": "spec", "outputs": "spec"},
}
"""Where each type's ``secret_paths`` point, in its inputs and in its outputs."""
DECLARED_KEYS = st.lists(st.sampled_from(["env_vars", "auth", "x", "0", "deployments"]),
                         min_size=1, max_size=3)  # fmt: skip


def nested(path: list[str], value: Any) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


@st.composite
def inputs(draw: st.DrawFn, found: list[str], type_: str, part: str) -> dict[str, Any]:
    result: dict[str, Any] = draw(st.dictionaries(st.text(max_size=10), values, max_size=5))
    for _ in range(draw(st.integers(0, 2))):
        holder, secret = draw(secret_holder())
        found.append(secret)
        result[draw(st.sampled_from(["app", "spec", "dashboard", "kube", "x"]))] = holder
    if draw(st.booleans()):
        result["app"] = {
            "name": draw(st.text(max_size=8)),
            "deployments": draw(st.lists(st.dictionaries(st.sampled_from(
                ["name", "user_config", "num_replicas", "ray_actor_options"]), values, max_size=4),
                max_size=3)),
        }  # fmt: skip
    # Planted last, so nothing drawn above overwrites them.
    root = SECRET_ROOTS.get(type_, {}).get(part)
    if root is not None and draw(st.booleans()):
        path, secret = draw(DECLARED_KEYS), draw(secrets)
        found.append(secret)
        result[root] = {**draw(st.dictionaries(st.text(max_size=10), values, max_size=3)),
                        **nested(path, secret)}  # fmt: skip
        result["secret_paths"] = [path]
    if type_.endswith(":ServeApplication") and draw(st.booleans()):
        secret = draw(secrets)
        found.append(secret)
        result["serve_options"] = {"http_options": {"ssl_keyfile_password": secret}}
    return result


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    found: list[str] = []
    steps = []
    for _ in range(draw(st.integers(0, 40))):
        type_ = draw(st.sampled_from(TYPES))
        parent = draw(st.sampled_from(["", "rayservice:index:RayService$"]))
        name = draw(st.text(min_size=1, max_size=draw(st.sampled_from([20, 3000]))))
        step: dict[str, Any] = {
            "op": draw(st.sampled_from(OPS)),
            "urn": f"urn:pulumi:dev::proj::{parent}{type_}::{name}",
            "detailedDiff": draw(st.one_of(st.none(), st.dictionaries(
                st.text(max_size=200), st.fixed_dictionaries({"kind": st.sampled_from(
                    ["add", "update", "delete", "update-replace"])}), max_size=5))),
        }  # fmt: skip
        for key in ("oldState", "newState"):
            if draw(st.booleans()):
                step[key] = {"type": type_, "inputs": draw(inputs(found, type_, "inputs")),
                             "outputs": draw(inputs(found, type_, "outputs"))}  # fmt: skip
        if draw(st.booleans()):
            step["replaceReasons"] = draw(st.lists(st.text(max_size=300), max_size=20))
        steps.append(step)
    return {"steps": steps, "changeSummary": draw(st.dictionaries(
        st.sampled_from(OPS), st.integers(0, 10**6)))}, found  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(documents())
def test_under_the_comment_limit_and_no_secret_in_either_output(
    drawn: tuple[dict[str, Any], list[str]],
) -> None:
    document, secret_values = drawn
    markdown, status = summarize(document)
    as_json, json_status = summarize(document, output="json")
    assert len(markdown) < COMMENT_LIMIT
    # The HTML of the comment balances; a key named "<details>" quoted as inline code is text.
    html = re.sub(r"`[^`\n]*`", "``", markdown)
    assert html.count("<details>") == html.count("</details>")
    destructive = {"delete", "replace", "create-replacement", "delete-replaced"}
    expected = 2 if any(step["op"] in destructive for step in document["steps"]) else 0
    assert status == expected
    assert json_status == expected
    for secret in secret_values:
        assert secret not in markdown
        assert secret not in as_json
