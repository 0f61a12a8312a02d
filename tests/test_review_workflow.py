"""The GitHub Actions example runs the preview, the summary and posts it, gating on exit 2."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_rayservice.review import EXIT_DESTRUCTIVE

WORKFLOW = Path(__file__).resolve().parents[1] / "examples/github-actions/pulumi-preview-review.yml"


def steps() -> list[dict[str, Any]]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert document["permissions"]["pull-requests"] == "write"
    return list(document["jobs"]["preview"]["steps"])


def test_preview_summary_comment_and_gate_in_that_order() -> None:
    listed = steps()
    runs = [str(s.get("run", "")) for s in listed]
    uses = [str(s.get("uses", "")) for s in listed]

    def first(found: list[bool]) -> int:
        return found.index(True)

    order = [
        first([u.startswith("pulumi/actions@") for u in uses]),
        first(["pulumi preview" in r and "--json > preview.json" in r for r in runs]),
        first(
            ["-m pulumi_rayservice.review preview.json" in r and "> summary.md" in r for r in runs]
        ),
        first([u.startswith("marocchino/sticky-pull-request-comment") for u in uses]),
    ]
    assert order == sorted(order)
    post = listed[order[3]]
    assert post["with"]["path"] == "summary.md"
    assert listed[order[2]].get("id") == "review"
    gate = listed[-1]
    assert f"steps.review.outputs.status == '{EXIT_DESTRUCTIVE}'" in gate["if"]


def test_adding_or_removing_a_label_reruns_the_gate() -> None:
    document = yaml.safe_load(WORKFLOW.read_text())
    trigger = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(trigger["pull_request"]["types"]) == {
        "opened", "synchronize", "reopened", "labeled", "unlabeled"
    }  # fmt: skip


@pytest.mark.skipif(shutil.which("bash") is None, reason="the step's script is bash")
@pytest.mark.parametrize(("status", "fails"), [(0, False), (2, False), (1, True), (3, True),
                                               (127, True), (137, True)])  # fmt: skip
def test_the_summarize_step_fails_on_every_status_but_0_and_2(
    tmp_path: Path, status: int, fails: bool
) -> None:
    summarize = next(s for s in steps() if s.get("id") == "review")
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nexit {status}\n")
    fake.chmod(0o755)
    output = tmp_path / "output"
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "STACK": "prod",
           "GITHUB_OUTPUT": str(output)}  # fmt: skip
    ran = subprocess.run(
        ["bash", "-e", "-c", summarize["run"]], cwd=tmp_path, env=env, check=False, timeout=30
    )
    assert (ran.returncode != 0) is fails
    assert output.read_text() == f"status={status}\n"
