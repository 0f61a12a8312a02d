"""The review of one preview: every step sorted into what a reviewer reads about it.

Built once from the typed steps; the Markdown and JSON renderers only format it, so both say the
same thing. ``exit_status`` is the policy gate's answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .digest import Preview, Step
from .resources import (
    CLUSTER_TYPE,
    SERVE_APP_TYPE,
    AppReview,
    ClusterReview,
    review_app,
    review_cluster,
)
from .rollout_story import ServiceStory, service_stories

__all__ = ["EXIT_CHANGES_SAFE", "EXIT_DESTRUCTIVE", "EXIT_ERROR", "Review", "review"]

EXIT_CHANGES_SAFE = 0
"""Nothing is replaced or deleted (creates and in-place updates only, or no change)."""
EXIT_ERROR = 1
"""The document could not be read, or the command was used wrongly."""
EXIT_DESTRUCTIVE = 2
"""At least one resource is replaced or deleted: a policy gate asks for a second look."""
QUIET_OPS = frozenset({"same", "read", "refresh"})


@dataclass(frozen=True)
class Review:
    """What the comment says, in order."""

    preview: Preview
    destructive: tuple[Step, ...]
    services: tuple[ServiceStory, ...]
    clusters: tuple[ClusterReview, ...]
    apps: tuple[AppReview, ...]
    others: tuple[Step, ...]
    """Changes of every other resource (any provider), replaces and deletes left out: they are
    listed first."""
    unchanged: int

    @property
    def exit_status(self) -> int:
        """``EXIT_DESTRUCTIVE`` when anything is replaced or deleted, else ``EXIT_CHANGES_SAFE``."""
        return EXIT_DESTRUCTIVE if self.destructive else EXIT_CHANGES_SAFE


def review(preview: Preview) -> Review:
    """Sort the preview's steps; ``same`` steps are only counted."""
    changing = [s for s in preview.steps if s.op not in QUIET_OPS]
    return Review(
        preview=preview,
        destructive=tuple(preview.destructive),
        services=tuple(service_stories(preview.steps)),
        clusters=tuple(review_cluster(s) for s in changing if s.type == CLUSTER_TYPE),
        apps=tuple(review_app(s) for s in changing if s.type == SERVE_APP_TYPE),
        others=tuple(
            s
            for s in changing
            if s.type not in (SERVE_APP_TYPE, CLUSTER_TYPE) and not s.destructive
        ),
        unchanged=sum(1 for s in preview.steps if s.op in QUIET_OPS),
    )
