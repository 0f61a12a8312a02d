"""Run Pulumi programs under ``pulumi.runtime.set_mocks`` without leaking global settings.

The runtime keeps its settings in ContextVars behind class-level properties of ``Settings`` (so
``configure(old_settings)`` alone restores nothing): save and restore each value, and the root
resource, around every program run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pulumi
from pulumi.runtime import settings

SETTING_NAMES = [
    name
    for name, attr in vars(settings.Settings).items()
    if type(attr).__name__ == "ContextProperty"
]


@contextmanager
def mocked_runtime(
    mocks: pulumi.runtime.Mocks,
    *,
    preview: bool = False,
    monitor: pulumi.runtime.mocks.MockMonitor | None = None,
) -> Iterator[None]:
    """Install ``mocks`` as the engine for the duration of the block, then restore everything."""
    saved = {name: getattr(settings.SETTINGS, name) for name in SETTING_NAMES}
    saved_root = settings.get_root_resource()
    settings.ROOT.set(None)  # so set_mocks makes a fresh Stack registered with OUR monitor
    pulumi.runtime.set_mocks(mocks, preview=preview, monitor=monitor)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(settings.SETTINGS, name, value)
        settings.ROOT.set(saved_root)
