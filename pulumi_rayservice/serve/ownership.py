"""Whose app is it: what a new ``ServeApplication`` may not take over on a cluster others share.

A create writes an app into a config that other owners also write. Before anything is written,
under the cluster's writer lock, it is refused when it would take what belongs to someone else:
another app's route prefix, or an app of the same name that runs something else (unless the
program says ``adopt=True``). An update or a delete concerns an app this stack already owns and
claims nothing. The deployer applies the rule (it holds the lock and the snapshot it is judged
on); the rule itself lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import AppOwnershipError
from .inputs import route_prefix_of
from .status import AppState, ServeSnapshot

__all__ = ["Claim"]


@dataclass(frozen=True)
class Claim:
    """A create's claim on an app name and its route prefix.

    ``adopt`` takes over an app of that name that already runs with another config (or was
    deployed from Python code); a route prefix served by another app is never taken.
    """

    adopt: bool = False

    def check(
        self,
        snapshot: ServeSnapshot,
        name: str,
        wanted: Mapping[str, Any],
        where: str,
    ) -> None:
        """Refuse to write ``wanted`` as app ``name`` over what another owner runs.

        Args:
            snapshot: what runs on the cluster now, read under the writer lock.
            name: the app name claimed.
            wanted: the app config to write, normalized as our own app is.
            where: the dashboard, for messages.

        Raises:
            AppOwnershipError: the route prefix is served by another app, or an app of that
                name runs something else and ``adopt`` is off.

        """
        prefix = route_prefix_of(wanted)
        for other in snapshot.apps.values():
            taken = other.route_prefix == prefix and not other.is_deleting
            if other.name != name and prefix is not None and taken:
                raise AppOwnershipError(
                    f"route_prefix {prefix} is already served by app {other.name!r} on "
                    f"{where}; choose another route_prefix"
                )
        before: AppState | None = snapshot.apps.get(name)
        if before is None or self.adopt:
            return
        if before.deployed_app_config == wanted and not before.is_deleting:
            return  # exactly what we want runs already: a re-run after an interrupted create
        if before.deployed_app_config is None:
            origin = "from Python code (serve.run)"
        else:
            origin = "with a different config"
        raise AppOwnershipError(
            f"an application named {name!r} already runs on {where} (deployed {origin}) and was "
            "not created by this resource; set adopt=True to take it over, or choose another name"
        )
