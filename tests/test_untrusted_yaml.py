"""YAML and manifests from users: bounded to read, and every shape error names its field.

Alias bombs are refused before anything is built (memory measured with tracemalloc, no timing),
benign anchors still work, and hostile RayService manifests, Serve config files and kubeconfig
contents fail with a ``ValidationError`` (or ``KubeConfigError``) naming what is wrong, never an
AttributeError, TypeError or UnicodeDecodeError.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from rayservice_testbed.paths import KUBERAY_SAMPLES

import pulumi_rayservice as rs
from pulumi_rayservice._util.yaml_loader import (
    MAX_ALIAS_EXPANSION,
    MAX_BYTES,
    load_yaml,
    load_yaml_all,
    looks_like_text,
)
from pulumi_rayservice.errors import KubeConfigError, ValidationError
from pulumi_rayservice.kube.config import Kube, api_server_of, load_client_configuration
from pulumi_rayservice.service.manifest import load_manifest

SAMPLE = KUBERAY_SAMPLES / "ray-service.sample.yaml"
MEMORY_BUDGET = 20 * 1024 * 1024  # bytes: far below the 300 MB the 415-byte bomb cost


def laughs(levels: int) -> str:
    """The classic billion-laughs document: ``levels`` levels of nine aliases each."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        name, previous = names[level], names[level - 1]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMB_415 = laughs(9)
BOMB_600 = laughs(13)
# The bomb as a Serve app: the expansion sits where validation would walk it.
APP_BOMB = laughs(9) + "name: app\nimport_path: m:app\nargs: {lol: *i}\n"


def peak_bytes(call: Any) -> tuple[BaseException | None, int]:
    """Run ``call``; return what it raised and the peak of memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        call()
        raised: BaseException | None = None
    except Exception as error:  # the caller asserts which one
        raised = error
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return raised, peak


# the loader --------------------------------------------------------------------------------------


def expanded_leaves(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many scalars the document holds with every alias written out (counted, not built)."""
    if id(node) not in memo:
        if isinstance(node, yaml.ScalarNode):
            memo[id(node)] = 1
        elif isinstance(node, yaml.SequenceNode):
            memo[id(node)] = sum(expanded_leaves(child, memo) for child in node.value)
        else:
            memo[id(node)] = sum(expanded_leaves(v, memo) for _, v in node.value)
    return memo[id(node)]


def test_the_bombs_are_as_small_and_as_large_as_reported() -> None:
    assert len(BOMB_415.encode()) <= 415
    assert len(BOMB_600.encode()) <= 600
    # What a plain safe_load hands to the code that walks it (validation, canonical, JSON).
    assert expanded_leaves(yaml.compose(BOMB_415, Loader=yaml.SafeLoader), {}) > 400_000_000
    assert expanded_leaves(yaml.compose(BOMB_600, Loader=yaml.SafeLoader), {}) > 10**12


@pytest.mark.parametrize("bomb", [BOMB_415, BOMB_600], ids=["415-bytes", "600-bytes"])
def test_alias_bomb_is_refused_with_bounded_memory(bomb: str) -> None:
    raised, peak = peak_bytes(lambda: load_yaml(bomb, "bomb.yaml"))

    assert isinstance(raised, ValidationError)
    assert "bomb.yaml" in str(raised) and "alias" in str(raised)
    assert str(MAX_ALIAS_EXPANSION) in str(raised)
    assert peak < MEMORY_BUDGET


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (lambda p: rs.ServeApp.from_yaml(p), "alias"),
        (lambda p: rs.ServeConfig.from_yaml(p), "alias"),
        (lambda p: load_manifest(p), "alias"),
    ],
    ids=["ServeApp.from_yaml", "ServeConfig.from_yaml", "RayService manifest"],
)
def test_every_user_facing_reader_refuses_the_bomb(tmp_path: Path, read: Any, message: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(APP_BOMB)
    raised, peak = peak_bytes(lambda: read(path))
    assert isinstance(raised, ValidationError), raised
    assert message in str(raised) and str(path) in str(raised)
    assert peak < MEMORY_BUDGET


def test_serve_config_v2_bomb_inside_a_manifest_is_refused() -> None:
    manifest = yaml.safe_load(SAMPLE.read_text())
    manifest["spec"]["serveConfigV2"] = BOMB_600
    raised, peak = peak_bytes(lambda: load_manifest(manifest))
    assert isinstance(raised, ValidationError)
    assert "spec.serveConfigV2" in str(raised) and "alias" in str(raised)
    assert peak < MEMORY_BUDGET


def test_kubeconfig_content_bomb_is_a_kubeconfig_error() -> None:
    raised, peak = peak_bytes(lambda: load_client_configuration({"content": BOMB_600}))
    assert isinstance(raised, KubeConfigError)
    assert "kubeconfig" in str(raised) and "alias" in str(raised)
    assert peak < MEMORY_BUDGET
    assert api_server_of({"content": BOMB_600}) is None


def test_merge_keys_and_a_few_aliases_still_work() -> None:
    text = (
        "defaults: &defaults {num_cpus: 1, max_ongoing_requests: 5}\n"
        "deployments:\n"
        "  - {name: A, <<: *defaults}\n"
        "  - {name: B, <<: *defaults, num_cpus: 2}\n"
    )
    data = load_yaml(text, "serve.yaml")
    assert data["deployments"][0] == {"name": "A", "num_cpus": 1, "max_ongoing_requests": 5}
    assert data["deployments"][1]["num_cpus"] == 2


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ValidationError, match="refers to a node that contains it"):
        load_yaml("a: &a [1, *a]\n", "loop.yaml")


def test_text_over_the_size_limit_is_refused_before_parsing() -> None:
    text = "a: " + "x" * MAX_BYTES + "\n"
    with pytest.raises(ValidationError, match=r"big\.yaml: .* at most 5242880 bytes"):
        load_yaml(text, "big.yaml")


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(ValidationError, match="larger than 5242880 bytes"):
        rs.ServeConfig.from_yaml(path)


def test_syntax_errors_give_the_position_but_never_quote_the_text() -> None:
    with pytest.raises(ValidationError) as caught:
        load_yaml("users:\n- user: {token: s3cret-token-value\n", "the kubeconfig content")
    message = str(caught.value)
    assert "line" in message and "column" in message
    assert "s3cret-token-value" not in message


def test_several_documents_where_one_is_expected() -> None:
    with pytest.raises(ValidationError, match="holds 2 YAML documents"):
        load_yaml("a: 1\n---\nb: 2\n", "one.yaml")
    assert load_yaml_all("a: 1\n---\nb: 2\n", "many.yaml") == [{"a": 1}, {"b": 2}]


def test_nesting_too_deep_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match=r"nested too deeply|not valid YAML"):
        load_yaml("[" * 100_000, "deep.yaml")


@pytest.mark.parametrize(
    ("value", "is_text"),
    [
        ('{"apiVersion": "ray.io/v1", "kind": "RayService"}', True),
        ("[1, 2]", True),
        ("apiVersion: v1", True),
        ("---", True),
        ("a: 1\nb: 2", True),
        ("  apiVersion: ray.io/v1\n", True),
        ("manifest.yaml", False),
        ("~/.kube/config", False),
        ("/etc/rancher/k3s/k3s.yaml", False),
        ("C:\\Users\\me\\.kube\\config", False),
        ("./with space/config", False),
    ],
)
def test_one_rule_decides_path_or_text(value: str, is_text: bool) -> None:
    assert looks_like_text(value) is is_text
    assert Kube(kubeconfig=value).is_content is is_text


def test_one_line_json_manifest_is_read_as_text() -> None:
    manifest = yaml.safe_load(SAMPLE.read_text())
    parsed = load_manifest(json.dumps(manifest))
    assert parsed.name == manifest["metadata"]["name"]


# files -------------------------------------------------------------------------------------------

NOT_UTF8 = "name: caf\xe9\nimport_path: m:app\n".encode("latin-1")


@pytest.mark.parametrize(
    "read",
    [rs.ServeApp.from_yaml, rs.ServeConfig.from_yaml, load_manifest],
    ids=["ServeApp.from_yaml", "ServeConfig.from_yaml", "RayService manifest"],
)
def test_a_file_that_is_not_utf8_is_a_validation_error(tmp_path: Path, read: Any) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(NOT_UTF8)
    with pytest.raises(ValidationError, match=r"not UTF-8 text \(byte 0xe9 at offset 9\)"):
        read(path)


def test_a_kubeconfig_file_that_is_not_utf8_resolves_no_server(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_bytes(NOT_UTF8)
    assert api_server_of({"path": str(path)}) is None


def test_missing_serve_config_file_is_still_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        rs.ServeApp.from_yaml(tmp_path / "missing.yaml")


def test_missing_manifest_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such manifest file"):
        load_manifest(tmp_path / "missing.yaml")


# hostile manifests -------------------------------------------------------------------------------


def sample() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    return loaded


def edit(path: str, value: Any) -> dict[str, Any]:
    """The sample manifest with the value at a dotted ``path`` replaced."""
    manifest = sample()
    *parents, last = path.split(".")
    node = manifest
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return manifest


HOSTILE = [
    (
        "metadata-list",
        edit("metadata", ["rayservice-sample"]),
        "metadata: got list; must be a mapping",
    ),
    ("metadata-string", edit("metadata", "x"), "metadata: got str; must be a mapping"),
    ("name-list", edit("metadata.name", ["a"]), "metadata.name: got list; must be a string"),
    ("namespace-int", edit("metadata.namespace", 3), "metadata.namespace: got int"),
    ("labels-list", edit("metadata.labels", ["a"]), "metadata.labels: got list; must be a mapping"),
    ("annotations-str", edit("metadata.annotations", "a=b"), "metadata.annotations: got str"),
    ("spec-list", edit("spec", [1, 2]), "spec: got list; must be a mapping"),
    ("spec-string", edit("spec", "serveConfigV2"), "spec: got str; must be a mapping"),
    (
        "rayClusterConfig-string",
        edit("spec.rayClusterConfig", "headGroupSpec"),
        "spec.rayClusterConfig: got str; must be a mapping",
    ),
    (
        "rayClusterConfig-list",
        edit("spec.rayClusterConfig", []),
        "spec.rayClusterConfig: got list; must be a mapping",
    ),
    (
        "upgradeStrategy-list",
        edit("spec.upgradeStrategy", ["NewCluster"]),
        "spec.upgradeStrategy: got list; must be a mapping",
    ),
    (
        "deletion-delay-nan",
        edit("spec.rayClusterDeletionDelaySeconds", float("nan")),
        "spec.rayClusterDeletionDelaySeconds: got nan",
    ),
    (
        "deletion-delay-string",
        edit("spec.rayClusterDeletionDelaySeconds", "60"),
        "spec.rayClusterDeletionDelaySeconds: got '60'",
    ),
    (
        "exclude-head-string",
        edit("spec.excludeHeadPodFromServeSvc", "yes"),
        "spec.excludeHeadPodFromServeSvc: got str; must be true or false",
    ),
    ("serveService-list", edit("spec.serveService", []), "spec.serveService: must be a Service"),
    (
        "serveService-metadata-list",
        edit("spec.serveService", {"metadata": ["x"]}),
        "spec.serveService.metadata: got list; must be a mapping",
    ),
    (
        "serveService-spec-string",
        edit("spec.serveService", {"spec": "ClusterIP"}),
        "spec.serveService.spec: got str; must be a mapping",
    ),
    (
        "serveService-labels-list",
        edit("spec.serveService", {"metadata": {"labels": ["a"]}}),
        "spec.serveService.metadata.labels: got list; must be a mapping",
    ),
    (
        "serveConfigV2-list-text",
        edit("spec.serveConfigV2", "- a\n- b\n"),
        "spec.serveConfigV2: serve config: must hold a mapping, got list",
    ),
    (
        "serveConfigV2-scalar-text",
        edit("spec.serveConfigV2", "just words"),
        "spec.serveConfigV2: serve config: must hold a mapping, got str",
    ),
    (
        "serveConfigV2-mapping",
        edit("spec.serveConfigV2", {"applications": []}),
        "spec.serveConfigV2: must be a YAML string",
    ),
    (
        "serveConfigV2-bad-yaml",
        edit("spec.serveConfigV2", "applications: [\n"),
        "spec.serveConfigV2: serve config: not valid YAML",
    ),
    (
        "apiVersion-alpha",
        edit("apiVersion", "ray.io/v1alpha1"),
        "apiVersion: got 'ray.io/v1alpha1'",
    ),
]


@pytest.mark.parametrize(
    ("manifest", "message"), [(m, msg) for _, m, msg in HOSTILE], ids=[i for i, _, _ in HOSTILE]
)
def test_hostile_manifest_is_a_validation_error_naming_the_field(
    manifest: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError) as as_dict:
        load_manifest(manifest)
    assert message in str(as_dict.value)

    # The same manifest as a file and as YAML text fails the same way.
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest))
    with pytest.raises(ValidationError) as as_file:
        load_manifest(path)
    assert message in str(as_file.value)
    with pytest.raises(ValidationError) as as_text:
        load_manifest(yaml.safe_dump(manifest))
    assert message in str(as_text.value)


@pytest.mark.parametrize(
    "text",
    ["", "- 1\n- 2\n", "just a string", "kind: RayService\n", "{}", "[]", "null"],
    ids=["empty", "list", "scalar", "no-apiVersion", "empty-json", "json-list", "null"],
)
def test_documents_that_are_no_rayservice_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        load_manifest(text if looks_like_text(text) else text + "\n---\n")


def test_other_documents_with_a_list_metadata_do_not_break_the_listing() -> None:
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ["odd"]}
    text = yaml.safe_dump_all([sample(), other])
    assert load_manifest(text).other_documents == ["ConfigMap/None"]
