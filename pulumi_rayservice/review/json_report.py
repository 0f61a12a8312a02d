"""The review as JSON, for bots and policy checks that want fields rather than prose.

Same content as the Markdown (both read one ``Review``), secrets already blinded; values are not
included, only paths and verdicts, so the document stays small whatever the stack holds.
"""

from __future__ import annotations

import json
from typing import Any

from .digest import Step
from .reasons import reason_of
from .report import Review

__all__ = ["render_json", "to_json"]

SCHEMA_VERSION = 1


def _step(step: Step) -> dict[str, Any]:
    return {
        "op": step.op,
        "type": step.type,
        "name": step.name,
        "urn": step.urn,
        "reason": reason_of(step),
    }


def to_json(review: Review) -> dict[str, Any]:
    """The review as plain JSON values."""
    return {
        "version": SCHEMA_VERSION,
        "counts": review.preview.counts(),
        "replaced_or_deleted": [_step(s) for s in review.destructive],
        "exit_status": review.exit_status,
        "services": [
            {
                "name": story.name,
                "kind": story.kind,
                "phases": [{"what": p.what, "if_it_fails": p.if_it_fails} for p in story.phases],
                "plan": list(story.plan),
            }
            for story in review.services
        ],
        "clusters": [
            {
                **_step(c.step),
                "change": c.change.change.value,
                "new_capacity": None
                if c.change.new_capacity is None
                else {
                    "cpus": c.change.new_capacity.cpus,
                    "gpus": c.change.new_capacity.gpus,
                    "memory_bytes": c.change.new_capacity.memory_bytes,
                    "pods": c.change.new_capacity.pods,
                    "lower_bound": c.change.new_capacity.unknown,
                },
            }
            for c in review.clusters
        ],
        "apps": [
            {
                **_step(a.step),
                "app": a.change.app,
                "effect": a.change.effect.name.lower(),
                "moved": a.moved,
                "drain_s": a.drain_s,
                "deployments": [
                    {"name": d.name, "effect": d.effect.name.lower(), "paths": list(d.paths)}
                    for d in a.change.deployments
                ],
            }
            for a in review.apps
        ],
        "others": [_step(s) for s in review.others],
        "unchanged": review.unchanged,
    }


def render_json(review: Review) -> str:
    """``to_json`` as indented text."""
    return json.dumps(to_json(review), indent=2, sort_keys=True) + "\n"
