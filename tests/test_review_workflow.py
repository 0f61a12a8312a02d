"""The GitHub Actions example runs the preview, the summary and posts it, gating on exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pulumi_rayservice.review import EXIT_DESTRUCTIVE, EXIT_ERROR

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
    summarize = listed[order[2]]
    assert f'"$status" = {EXIT_ERROR}' in summarize["run"]
    gate = listed[-1]
    assert f"steps.review.outputs.status == '{EXIT_DESTRUCTIVE}'" in gate["if"]
