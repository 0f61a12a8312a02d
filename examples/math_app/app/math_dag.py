"""The math application: a Router that sends a number through an Adder or a Multiplier.

POST ``["ADD", 1]`` answers ``1 + increment``; ``["MUL", 2]`` answers ``2 * factor``. ``increment``
and ``factor`` come from ``user_config``, like the seed's ``conditional_dag`` app, rewritten with
current Ray Serve deployment handles instead of the removed DAG API.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request


def _responses(handle: DeploymentHandle) -> DeploymentHandle:
    """``handle`` as a DeploymentHandle: Ray 2.8 passes its older RayServeHandle unless asked."""
    if isinstance(handle, DeploymentHandle):
        return handle
    return handle.options(use_new_handle_api=True)


@serve.deployment(user_config={"increment": 1})
class Adder:
    """Adds ``increment`` to its input."""

    def __init__(self) -> None:
        self.increment: float = 1

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.increment = config.get("increment", self.increment)

    def add(self, value: float) -> float:
        return value + self.increment


@serve.deployment(user_config={"factor": 2})
class Multiplier:
    """Multiplies its input by ``factor``."""

    def __init__(self) -> None:
        self.factor: float = 2

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.factor = config.get("factor", self.factor)

    def multiply(self, value: float) -> float:
        return value * self.factor


@serve.deployment
class Router:
    """Routes ``[operation, value]`` to the Adder ("ADD") or the Multiplier ("MUL")."""

    def __init__(self, adder: DeploymentHandle, multiplier: DeploymentHandle) -> None:
        self.adder = _responses(adder)
        self.multiplier = _responses(multiplier)

    async def __call__(self, request: Request) -> float | str:
        operation, value = await request.json()
        if operation == "ADD":
            return await self.adder.add.remote(value)
        if operation == "MUL":
            return await self.multiplier.multiply.remote(value)
        return f"unknown operation {operation!r}; use ADD or MUL"


serve_dag = Router.bind(Adder.bind(), Multiplier.bind())
