"""The review of real ``pulumi preview --json`` documents (written by the Pulumi CLI, any provider).

Every sample in ``tests/data/pulumi-preview-json`` (see its README for where each comes from) is
summarized without error, its replaces and deletes listed first with their reasons, and the exit
status says whether anything is replaced or deleted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pulumi_rayservice.review import (
    COMMENT_LIMIT,
    EXIT_CHANGES_SAFE,
    EXIT_DESTRUCTIVE,
    EXIT_ERROR,
    PreviewReadError,
    load,
    summarize,
)
from pulumi_rayservice.review.__main__ import main

SAMPLES = Path(__file__).parent / "data" / "pulumi-preview-json"
ALL = sorted(SAMPLES.glob("*.json"))


EXPECTED_STATUS = {
    "aws_tags_and_sets.json": EXIT_DESTRUCTIVE,  # replaces a security group
    "preview.json": EXIT_CHANGES_SAFE,
    "sample-preview-creates.json": EXIT_CHANGES_SAFE,
    "sample-preview-deletes.json": EXIT_DESTRUCTIVE,  # deletes 14 resources
    "sample-preview-update.json": EXIT_CHANGES_SAFE,
}
"""Each sample's exit status, read off its ops by hand (a replace or delete is 2)."""


def test_every_sample_is_there() -> None:
    assert {p.name for p in ALL} == set(EXPECTED_STATUS)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_sample_is_summarized_with_its_replaces_and_deletes(path: Path) -> None:
    text, status = summarize(path)
    preview = load(path)
    assert len(text) < COMMENT_LIMIT
    assert text.startswith("## Pulumi preview")
    assert status == EXPECTED_STATUS[path.name]
    destructive = preview.destructive
    assert bool(destructive) is (status == EXIT_DESTRUCTIVE)
    if destructive:
        listed = text.split("### Replaced or deleted", 1)[1]
        for step in destructive:
            assert f"**{step.op}** `{step.type}` `{step.name}`:" in listed
    # Every changing resource of any provider is named somewhere.
    for step in preview.steps:
        if step.op != "same":
            assert f"`{step.name}`" in text, step.urn


def test_a_replace_gives_its_replace_reasons_and_the_detailed_diff() -> None:
    text, status = summarize(SAMPLES / "aws_tags_and_sets.json")
    assert status == EXIT_DESTRUCTIVE
    assert (
        "- **replace** `aws:ec2/securityGroup:SecurityGroup` `test-sg`: replaced because "
        "`description` changed; also changed: `ingress[0]`, `ingress[1]`"
    ) in text
    assert "`tags.CostCenter (add)`" in text and "`tags.Team (delete)`" in text


def test_deletes_are_listed_with_their_reason() -> None:
    text, status = summarize(SAMPLES / "sample-preview-deletes.json")
    assert status == EXIT_DESTRUCTIVE
    assert text.count("- **delete** ") == 14
    assert "**14 to delete** (2 unchanged)" in text


def test_an_update_with_a_detailed_diff_and_sames() -> None:
    text, status = summarize(SAMPLES / "sample-preview-update.json")
    assert status == EXIT_CHANGES_SAFE
    assert "**1 to update** (15 unchanged)" in text
    assert "`code (update)`" in text


def test_an_old_document_without_duration_keeps_its_secrets_blinded() -> None:
    raw = json.loads((SAMPLES / "preview.json").read_text())
    assert "[secret]" in json.dumps(raw)
    text, status = summarize(raw)
    assert status == EXIT_CHANGES_SAFE and "`tags.BillingProject (update)`" in text


def test_json_format_for_bots() -> None:
    text, status = summarize(SAMPLES / "aws_tags_and_sets.json", output="json")
    document = json.loads(text)
    assert status == EXIT_DESTRUCTIVE == document["exit_status"]
    assert document["counts"] == {"replace": 1, "same": 2, "update": 3}
    [replaced] = document["replaced_or_deleted"]
    assert replaced["name"] == "test-sg" and "description" in replaced["reason"]
    assert len(document["others"]) == 3


def test_the_command_prints_the_summary_and_exits_with_the_policy_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(SAMPLES / "sample-preview-creates.json")]) == EXIT_CHANGES_SAFE
    assert "**16 to create**" in capsys.readouterr().out
    assert main([str(SAMPLES / "sample-preview-deletes.json"), "--format", "json"]) == 2
    assert json.loads(capsys.readouterr().out)["counts"]["delete"] == 14


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json", "is not JSON"),
        ("[1, 2]", "a preview document is a JSON object"),
        ('{"steps": {}}', "steps: must be a list"),
        ('{"steps": [3]}', "steps[0]: must be an object"),
        ('{"changeSummary": []}', "changeSummary: must be an object"),
    ],
)
def test_what_is_no_preview_fails_with_status_1_saying_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragment: str
) -> None:
    path = tmp_path / "preview.json"
    path.write_text(content)
    with pytest.raises(PreviewReadError, match=fragment.replace("[", r"\[")):
        summarize(path)
    assert main([str(path)]) == EXIT_ERROR
    assert fragment in capsys.readouterr().err


def test_usage_errors_exit_1_never_2(tmp_path: Path) -> None:
    # argparse exits 2 on its own errors; 2 means "replaces or deletes" here.
    with pytest.raises(SystemExit) as raised:
        main(["--format", "yaml", str(tmp_path / "x.json")])
    assert raised.value.code == EXIT_ERROR
    assert main([str(tmp_path / "missing.json")]) == EXIT_ERROR
