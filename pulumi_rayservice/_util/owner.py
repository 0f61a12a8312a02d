"""Which Pulumi stack a resource belongs to, as the program knows it.

The dynamic provider host is not told the stack (its settings say ``stack``), so the program sends
``<project>/<stack>`` as an input: it names the holder of a cluster's writer lock, and marks the
clusters a stack owns, so that another stack with the same resource names is never taken for it.
"""

from __future__ import annotations

import pulumi


def stack_owner() -> str:
    """``<project>/<stack>`` of the running program."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"
