"""The status the stand-in Gateway controller writes, built from what it decided.

Gateway: conditions ``Accepted`` and ``Programmed`` (``observedGeneration`` set, as the spec
requires of an implementation), one ``listeners[]`` entry per listener (``supportedKinds``,
``attachedRoutes``, conditions ``Accepted``, ``Programmed``, ``ResolvedRefs``, ``Conflicted``) and
the address it listens on. HTTPRoute: one ``status.parents[]`` entry per parentRef naming one of
its Gateways, with ``controllerName`` and the conditions ``Accepted`` and ``ResolvedRefs``; entries
of other controllers are kept as they are. ``lastTransitionTime`` changes only when a
condition's status does (``meta.SetStatusCondition``), so an unchanged decision builds an equal
status and the controller writes nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .gateway_routing import Attachment
from .meta import set_condition

Obj = dict[str, Any]

CONTROLLER_NAME = "fake-kube.test/gateway-controller"
LISTEN_ADDRESS = "127.0.0.1"


@dataclass(frozen=True)
class ListenerState:
    """What the controller knows of one listener of a Gateway.

    Attributes:
        name: The listener's name.
        problem: Why it is not accepted (an unsupported protocol), or None.
        supported_kinds: Route kinds it takes (``allowedRoutes.kinds`` this controller supports).
        unsupported_kinds: Kinds named in ``allowedRoutes.kinds`` that it does not support.
        attached_routes: How many routes are attached to it.
        programmed: Whether its socket is listening.

    """

    name: str
    problem: str | None
    supported_kinds: list[Obj] = field(default_factory=list)
    unsupported_kinds: list[Obj] = field(default_factory=list)
    attached_routes: int = 0
    programmed: bool = False


def _generation(obj: Obj) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 1)


def _listener_status(old: Obj | None, state: ListenerState, generation: int) -> Obj:
    conditions = copy.deepcopy((old or {}).get("conditions") or [])

    def condition(kind: str, ok: bool, reason: str, message: str) -> None:
        set_condition(
            conditions,
            kind,
            "True" if ok else "False",
            reason,
            message,
            observed_generation=generation,
        )

    if state.problem is None:
        condition("Accepted", True, "Accepted", "Listener is accepted")
    else:
        condition("Accepted", False, "UnsupportedProtocol", state.problem)
    if state.problem is not None:
        condition("Programmed", False, "Invalid", state.problem)
    elif state.programmed:
        condition("Programmed", True, "Programmed", f"Listening on {LISTEN_ADDRESS}")
    else:
        condition("Programmed", False, "Pending", "Listener is being started")
    if state.unsupported_kinds:
        kinds = ", ".join(str(k.get("kind")) for k in state.unsupported_kinds)
        condition("ResolvedRefs", False, "InvalidRouteKinds", f"Unsupported route kinds: {kinds}")
    else:
        condition("ResolvedRefs", True, "ResolvedRefs", "All references resolved")
    condition("Conflicted", False, "NoConflicts", "No conflicts")
    return {
        "name": state.name,
        "supportedKinds": copy.deepcopy(state.supported_kinds),
        "attachedRoutes": state.attached_routes,
        "conditions": conditions,
    }


def gateway_status(gateway: Obj, listeners: list[ListenerState]) -> Obj:
    """The Gateway's status for these listener states (its old status as the base)."""
    generation = _generation(gateway)
    old: Obj = gateway.get("status") or {}
    conditions = copy.deepcopy(old.get("conditions") or [])
    valid = [state for state in listeners if state.problem is None]
    invalid = [state for state in listeners if state.problem is not None]
    if not valid:
        accepted = ("False", "ListenersNotValid", "No listener is valid")
    elif invalid:
        names = ", ".join(state.name for state in invalid)
        accepted = ("True", "ListenersNotValid", f"Listeners not accepted: {names}")
    else:
        accepted = ("True", "Accepted", f"Gateway is accepted by {CONTROLLER_NAME}")
    set_condition(conditions, "Accepted", *accepted, observed_generation=generation)
    programmed = [state for state in valid if state.programmed]
    if programmed:
        set_condition(
            conditions,
            "Programmed",
            "True",
            "Programmed",
            f"Listening on {LISTEN_ADDRESS}",
            observed_generation=generation,
        )
    else:
        set_condition(
            conditions,
            "Programmed",
            "False",
            "Invalid" if not valid else "Pending",
            "No listener is listening",
            observed_generation=generation,
        )
    old_listeners = {entry.get("name"): entry for entry in old.get("listeners") or []}
    status: Obj = {
        **{k: v for k, v in old.items() if k not in ("conditions", "listeners", "addresses")},
        "conditions": conditions,
        "listeners": [
            _listener_status(old_listeners.get(state.name), state, generation)
            for state in listeners
        ],
    }
    if programmed:
        status["addresses"] = [{"type": "IPAddress", "value": LISTEN_ADDRESS}]
    return status


def route_status(
    route: Obj, attached: list[Attachment], unresolved: tuple[str, str] | None
) -> Obj | None:
    """The route's status with this controller's ``parents[]`` entries rebuilt.

    ``unresolved`` is the (reason, message) of its first invalid backendRef, or None. Returns
    None when the route has nothing of this controller's and gets nothing (no write needed).
    """
    generation = _generation(route)
    old: Obj = route.get("status") or {}
    old_parents: list[Obj] = old.get("parents") or []
    others = [p for p in old_parents if p.get("controllerName") != CONTROLLER_NAME]
    mine_before = [p for p in old_parents if p.get("controllerName") == CONTROLLER_NAME]
    if not attached and not mine_before:
        return None
    mine = []
    for attachment in attached:
        previous = next(
            (p for p in mine_before if p.get("parentRef") == attachment.parent_ref), None
        )
        conditions = copy.deepcopy((previous or {}).get("conditions") or [])
        set_condition(
            conditions,
            "Accepted",
            "True" if attachment.accepted else "False",
            attachment.reason,
            attachment.message,
            observed_generation=generation,
        )
        if unresolved is None:
            resolved = ("True", "ResolvedRefs", "All references resolved")
        else:
            resolved = ("False", *unresolved)
        set_condition(conditions, "ResolvedRefs", *resolved, observed_generation=generation)
        mine.append(
            {
                "parentRef": copy.deepcopy(attachment.parent_ref),
                "controllerName": CONTROLLER_NAME,
                "conditions": conditions,
            }
        )
    return {**old, "parents": others + mine}
