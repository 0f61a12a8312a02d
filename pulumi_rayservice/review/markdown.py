"""The review as Markdown for a pull-request comment, always under GitHub's size limit.

GitHub refuses a comment over 65,536 characters. Every line is written through ``Budget``: the
counts and the replaced/deleted list come first, then the RayServices, clusters and apps, then
every other resource inside ``<details>``; what does not fit is counted in a closing line instead
of breaking the comment. Names and values are quoted as inline code with backticks removed, so
nothing in a resource name can open HTML or end a ``<details>`` early.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..cluster.changes import Change
from .digest import Step
from .reasons import INTERNAL_INPUTS, reason_of
from .report import Review
from .resources import AppReview, ClusterReview
from .rollout_story import ServiceStory
from .serve_changes import Effect
from .values import changed_values, shown

__all__ = ["COMMENT_LIMIT", "render_markdown"]

COMMENT_LIMIT = 65_536
"""GitHub's limit on a comment's body, in characters."""
BUDGET = 60_000
"""What the body may use: the rest is margin (characters GitHub counts twice, the closing
lines written after the budget is spent)."""
LINE_LIMIT = 1_500
"""Longest single line: one resource with a huge reason must not crowd out all the others."""
VALUES_SHOWN = 12
OP_WORDS = {
    "create": "to create",
    "update": "to update",
    "replace": "to replace",
    "delete": "to delete",
    "create-replacement": "to create as replacement",
    "delete-replaced": "to delete as replaced",
    "same": "unchanged",
    "read": "to read",
    "refresh": "to refresh",
    "import": "to import",
}


def code(text: object) -> str:
    """``text`` as inline code on one line (backticks and angle brackets cannot escape it)."""
    flat = " ".join(str(text).split()).replace("`", "'")
    return f"`{flat}`" if flat else "``"


def short_type(type_: str) -> str:
    """``pulumi-python:dynamic/rayservice:RayCluster`` -> ``RayCluster``; others as given."""
    return type_.rsplit(":", 1)[-1] if type_.startswith("pulumi-python:dynamic/") else type_


class Budget:
    """Lines of the comment, each taken only while the total stays under the budget."""

    def __init__(self, limit: int = BUDGET) -> None:
        self.lines: list[str] = []
        self.used = 0
        self.limit = limit
        self.dropped = 0

    def add(self, line: str) -> bool:
        """Take ``line`` (cut to ``LINE_LIMIT``) if it fits; count it as dropped if not."""
        if len(line) > LINE_LIMIT:
            line = line[: LINE_LIMIT - 1] + "…"
        if self.dropped or self.used + len(line) + 1 > self.limit:
            self.dropped += 1
            return False
        self.lines.append(line)
        self.used += len(line) + 1
        return True

    def close(self, line: str) -> None:
        """The end of a block whose opening line was taken, whatever the budget says.

        The margin below the comment limit holds these: at most one block is open when the
        budget runs out.
        """
        self.lines.append(line)
        self.used += len(line) + 1

    def text(self) -> str:
        """The comment; a last line says how much was left out."""
        lines = list(self.lines)
        if self.dropped:
            lines += [
                "",
                f"_{self.dropped} more line(s) left out to stay under GitHub's comment limit; "
                "run `pulumi preview` for the whole plan._",
            ]
        return "\n".join(lines) + "\n"


def render_markdown(review: Review, *, title: str = "Pulumi preview") -> str:
    """The comment body for ``review``."""
    out = Budget()
    _counts(out, review, title)
    _destructive(out, review.destructive)
    for story in review.services:
        _service(out, story)
    for cluster in review.clusters:
        _cluster(out, cluster, review)
    for app in review.apps:
        _app(out, app)
    _others(out, review.others)
    return out.text()


def _counts(out: Budget, review: Review, title: str) -> None:
    counts = review.preview.counts()
    changing = {op: n for op, n in counts.items() if op != "same" and n}
    words = ", ".join(f"{n} {OP_WORDS.get(op, op)}" for op, n in sorted(changing.items()))
    out.add(f"## {title}")
    out.add("")
    out.add(
        f"**{words or 'no changes'}**"
        + (f" ({counts['same']} unchanged)" if counts.get("same") else "")
    )
    out.add("")
    if review.destructive:
        out.add(f"> [!WARNING]\n> {len(review.destructive)} resource(s) replaced or deleted.")
        out.add("")


def _destructive(out: Budget, steps: Iterable[Step]) -> None:
    listed = list(steps)
    if not listed:
        return
    out.add("### Replaced or deleted")
    out.add("")
    for step in listed:
        out.add(
            f"- **{step.op}** {code(short_type(step.type))} {code(step.name)}: {reason_of(step)}"
        )
    out.add("")


def _service(out: Budget, story: ServiceStory) -> None:
    out.add(f"### RayService {code(story.name)}: {story.kind}")
    out.add("")
    out.add("| # | what happens | if it fails here |")
    out.add("|---|---|---|")
    for i, phase in enumerate(story.phases, 1):
        out.add(f"| {i} | {_cell(phase.what)} | {_cell(phase.if_it_fails)} |")
    out.add("")
    if story.plan:
        opened = out.add("<details><summary>Rollout plan</summary>")
        out.add("")
        for line in story.plan:
            out.add(f"- {_cell(line)}")
        out.add("")
        if opened:
            out.close("</details>")
        out.add("")


def _cell(text: str) -> str:
    """Text inside a table cell or list item: one line, no pipe breaking the table."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def _drain_of(cluster: ClusterReview, review: Review) -> float:
    """The drain time of the apps on this cluster (same RayService: name prefix)."""
    name = cluster.step.name
    return max((a.drain_s for a in review.apps if a.step.name.startswith(name + "-")), default=0.0)


def _cluster(out: Budget, cluster: ClusterReview, review: Review) -> None:
    step, change = cluster.step, cluster.change
    if step.op in ("delete", "delete-replaced"):
        verdict = "deleted"
    elif step.op == "create":
        verdict = "created"
    elif change.change is Change.NEW_CLUSTER:
        verdict = "a new cluster"
    elif change.change is Change.RECREATE:
        verdict = "pods recreated in place (downtime)"
    else:
        verdict = "patched in place"
    out.add(f"### RayCluster {code(step.name)}: {verdict}")
    out.add("")
    out.add(f"- {_cell(reason_of(step))}")
    if change.new_capacity is not None and step.op not in ("delete", "delete-replaced"):
        if change.new_cluster and step.op != "create":
            drain = _drain_of(cluster, review)
            out.add(
                f"- the new cluster needs {change.new_capacity.describe()} while the old one "
                "still runs"
                + (f" ({change.old_capacity.describe()})" if change.old_capacity else "")
            )
            out.add(
                "- both run from the new cluster's creation until the old one is deleted: the "
                f"time to start the new cluster and its apps, any rollout steps, then {drain:g} s "
                "of drain (drain_s, KubeRay's rayClusterDeletionDelaySeconds) and the old "
                "cluster's deletion"
            )
        else:
            out.add(f"- the cluster then asks for {change.new_capacity.describe()}")
    for path, old, new in _values(step)[:VALUES_SHOWN]:
        out.add(f"  - {code(path)}: {code(shown(old))} → {code(shown(new))}")
    out.add("")


def _values(step: Step) -> list[tuple[str, object, object]]:
    old = {k: v for k, v in step.old_inputs.items() if k not in INTERNAL_INPUTS}
    new = {k: v for k, v in step.new_inputs.items() if k not in INTERNAL_INPUTS}
    if not old or not new:
        return []
    return changed_values(old, new, depth=8)


def _app(out: Budget, app: AppReview) -> None:
    step = app.step
    if step.op in ("delete", "delete-replaced"):
        out.add(f"### ServeApplication {code(step.name)}: removed from its cluster")
        out.add("")
        return
    if step.op == "create" or not step.old_inputs:
        out.add(f"### ServeApplication {code(step.name)}: deployed ({code(app.change.app)})")
        out.add("")
        return
    if app.moved or step.op == "replace":
        verdict = "deployed anew on another cluster, every replica started there"
        if app.change.effect is not Effect.NONE:
            verdict += f" (app change: {app.change.effect.value})"
    else:
        verdict = app.change.effect.value
    out.add(f"### ServeApplication {code(step.name)}: {verdict}")
    out.add("")
    if app.change.app_paths:
        out.add(f"- app: {', '.join(code(p) for p in app.change.app_paths[:VALUES_SHOWN])}")
        out.add("")
    changed = [d for d in app.change.deployments if d.effect is not Effect.NONE]
    if changed:
        out.add("| deployment | what Serve does | changed |")
        out.add("|---|---|---|")
        for d in changed:
            paths = ", ".join(code(p) for p in d.paths[:VALUES_SHOWN]) or "-"
            out.add(f"| {code(d.name)} | {d.effect.value} | {_cell(paths)} |")
        out.add("")
    values = _values(step)
    if values:
        opened = out.add("<details><summary>Changed inputs</summary>")
        out.add("")
        for path, old, new in values[:VALUES_SHOWN]:
            out.add(f"- {code(path)}: {code(shown(old))} → {code(shown(new))}")
        if len(values) > VALUES_SHOWN:
            out.add(f"- and {len(values) - VALUES_SHOWN} more")
        out.add("")
        if opened:
            out.close("</details>")
        out.add("")


def _others(out: Budget, steps: Iterable[Step]) -> None:
    listed = list(steps)
    if not listed:
        return
    opened = out.add(f"<details><summary>Every other change ({len(listed)})</summary>")
    out.add("")
    for step in listed:
        out.add(
            f"- **{step.op}** {code(short_type(step.type))} {code(step.name)}: {reason_of(step)}"
        )
        if step.detailed_diff is None:
            for path, old, new in _values(step)[:VALUES_SHOWN]:
                out.add(f"  - {code(path)}: {code(shown(old))} → {code(shown(new))}")
    out.add("")
    if opened:
        out.close("</details>")
