"""Malformed documents: summarized where the rest is readable, else exit 1 with one line.

A preview document can hold anything anywhere (a hand edit, another tool's output): a pod template
that is a string, replicas of ``1e999``, a ``changeSummary`` count of infinity, nesting deeper than
Python recurses. None of them may end the command with a traceback, nor pass the gate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pulumi_rayservice.review import __main__ as command
from pulumi_rayservice.review import summarize
from pulumi_rayservice.review.__main__ import main

CLUSTER_URN = "urn:pulumi:dev::proj::pulumi-python:dynamic/rayservice:RayCluster::c"


def cluster_update(new_spec: str) -> str:
    old = '{"headGroupSpec": {}, "workerGroupSpecs": []}'
    state = '{"type": "pulumi-python:dynamic/rayservice:RayCluster", "inputs": {"spec": %s}}'
    return (
        f'{{"steps": [{{"op": "replace", "urn": "{CLUSTER_URN}", "oldState": {state % old}, '
        f'"newState": {state % new_spec}}}]}}'
    )


READABLE = {
    "template is text": cluster_update('{"headGroupSpec": {"template": "x"}}'),
    "resources is a list": cluster_update(
        '{"headGroupSpec": {"template": {"spec": {"containers": [{"resources": [1]}]}}}}'
    ),
    "limits is text": cluster_update(
        '{"headGroupSpec": {"template": {"spec": {"containers": '
        '[{"resources": {"limits": "4", "requests": 3}}]}}}}'
    ),
    "replicas 1e999": cluster_update('{"workerGroupSpecs": [{"replicas": 1e999}]}'),
    "replicas NaN": cluster_update(
        '{"workerGroupSpecs": [{"replicas": NaN, "numOfHosts": "1e999"}]}'
    ),
    "changeSummary infinity": '{"steps": [], "changeSummary": {"update": 1e999, "delete": NaN}}',
}


@pytest.mark.parametrize("name", sorted(READABLE))
def test_what_can_be_read_is_summarized(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / "preview.json"
    path.write_text(READABLE[name])
    expected = 0 if name.startswith("changeSummary") else 2
    assert main([str(path)]) == expected
    assert capsys.readouterr().out.startswith("## Pulumi preview")


def test_nesting_deeper_than_python_recurses_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "preview.json"
    path.write_text('{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main([str(path)]) == 1
    err = capsys.readouterr().err
    assert "nested too deeply" in err and len(err.splitlines()) == 1


def test_a_deep_state_in_a_parsed_document_is_a_read_error() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    state = {"type": "t", "inputs": {"x": deep}}
    with pytest.raises(command.PreviewReadError, match="nested too deeply"):
        summarize({"steps": [{"op": "update", "urn": "u", "newState": state}]})


def test_any_other_failure_is_one_line_and_status_1_without_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> tuple[str, int]:
        raise ValueError("could not read 'SeCrEt-value'")

    monkeypatch.setattr(command, "summarize", broken)
    assert main([str(tmp_path / "preview.json")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "ValueError" in err and "SeCrEt" not in err
