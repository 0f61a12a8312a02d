"""Review summaries of ``pulumi preview --json`` for pull requests.

A preview of a Ray Serve stack says "update ServeApplication" where a reviewer needs "restarts
every replica of FruitMarket" or "a second cluster with 8 GPUs for ten minutes". This package
reads the document the CLI writes and says that, for this package's resources, and lists every
other provider's resources plainly. Pure: no network, no Ray; secrets never reach the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .digest import Preview, PreviewReadError, load, parse
from .json_report import render_json, to_json
from .markdown import COMMENT_LIMIT, render_markdown
from .report import EXIT_CHANGES_SAFE, EXIT_DESTRUCTIVE, EXIT_ERROR, Review, review

__all__ = [
    "COMMENT_LIMIT",
    "EXIT_CHANGES_SAFE",
    "EXIT_DESTRUCTIVE",
    "EXIT_ERROR",
    "Preview",
    "PreviewReadError",
    "Review",
    "load",
    "parse",
    "render_json",
    "render_markdown",
    "review",
    "summarize",
    "to_json",
]


def summarize(
    document: str | Path | dict[str, Any],
    *,
    output: Literal["markdown", "json"] = "markdown",
    title: str = "Pulumi preview",
) -> tuple[str, int]:
    """The summary of a preview (a path to the file, or the parsed document) and its exit status.

    Raises ``PreviewReadError`` when the document cannot be read.
    """
    preview = parse(document) if isinstance(document, dict) else load(document)
    result = review(preview)
    text = render_json(result) if output == "json" else render_markdown(result, title=title)
    return text, result.exit_status
