"""The FruitStand Serve application: three fruit stands and a market that routes to them.

POST ``["MANGO", 2]`` to the app's route and the market asks the mango stand, which answers
``price * amount``. Prices come from each stand's ``user_config``, so changing a price in the
Serve config is a lightweight in-place update (``reconfigure``): no replica restarts.
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


class _Stand:
    """A fruit stand whose price per fruit is set through ``user_config``."""

    def __init__(self) -> None:
        self.price: float = 0

    def reconfigure(self, config: dict[str, Any]) -> None:
        price = config.get("price", self.price)
        if not isinstance(price, int | float) or price < 0:
            raise ValueError(f"price must be a non-negative number, got {price!r}")
        self.price = price

    def check_price(self, amount: float) -> float:
        return self.price * amount


@serve.deployment(user_config={"price": 3})
class MangoStand(_Stand):
    """Sells mangoes."""


@serve.deployment(user_config={"price": 2})
class OrangeStand(_Stand):
    """Sells oranges."""


@serve.deployment(user_config={"price": 4})
class PearStand(_Stand):
    """Sells pears."""


@serve.deployment
class FruitMarket:
    """Routes ``[fruit, amount]`` requests to the right stand; -1 for an unknown fruit."""

    def __init__(
        self,
        mango_stand: DeploymentHandle,
        orange_stand: DeploymentHandle,
        pear_stand: DeploymentHandle,
    ) -> None:
        self.stands = {
            "MANGO": _responses(mango_stand),
            "ORANGE": _responses(orange_stand),
            "PEAR": _responses(pear_stand),
        }

    async def __call__(self, request: Request) -> float:
        fruit, amount = await request.json()
        stand = self.stands.get(str(fruit).upper())
        if stand is None:
            return -1
        return await stand.check_price.remote(amount)


deployment_graph = FruitMarket.bind(MangoStand.bind(), OrangeStand.bind(), PearStand.bind())
