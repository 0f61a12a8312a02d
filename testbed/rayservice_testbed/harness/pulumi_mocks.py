"""Run Pulumi programs under ``pulumi.runtime.set_mocks`` without leaking global settings.

The runtime keeps its settings in ContextVars behind class-level properties of ``Settings`` (so
``configure(old_settings)`` alone restores nothing): save and restore each value, and the root
resource, around every program run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pulumi
from pulumi.runtime import settings

CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"

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
    project: str | None = None,
) -> Iterator[None]:
    """Install ``mocks`` as the engine for the duration of the block, then restore everything."""
    saved = {name: getattr(settings.SETTINGS, name) for name in SETTING_NAMES}
    saved_root = settings.get_root_resource()
    settings.ROOT.set(None)  # so set_mocks makes a fresh Stack registered with OUR monitor
    pulumi.runtime.set_mocks(mocks, preview=preview, monitor=monitor, project=project)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(settings.SETTINGS, name, value)
        settings.ROOT.set(saved_root)


class ResourceMocks(pulumi.runtime.Mocks):
    """Answers as successful creates of our resources would; records registrations in order."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        outputs = dict(args.inputs)
        if args.typ == CLUSTER_TYPE:
            name = outputs.get("name") or f"{args.name}-abcde"
            namespace = outputs.get("namespace", "default")
            dashboard: dict[str, Any] = {
                "service": f"{name}-head-svc",
                "namespace": namespace,
                "port": "dashboard",
            }
            if outputs.get("api_server"):  # as the provider's: through the API server's V2
                dashboard.update(api_server=outputs["api_server"], cluster=name)
            outputs.update(
                name=name,
                head_service=f"{name}-head-svc",
                dashboard=dashboard,
                revision="rev-1",
            )
        elif args.typ == APP_TYPE:
            outputs.update(status="RUNNING", app_name=outputs["app"]["name"])
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.created if r.typ == typ]
