"""What the stand-in Gateway controller decides, as pure functions over the stored objects.

How an HTTPRoute's ``parentRefs`` attach it to a Gateway's listeners, which of its backend
references are invalid, which rule a request matches (in the Gateway API's precedence order) and
which backend a request goes to by weight. Kept apart from the controller (``gateway.py``:
threads, sockets, status writes) so that each rule reads like the spec text it follows, and so
that the status a route gets and the way its requests are routed come from the same functions.

Followed (Gateway API v1.4, ``HTTPRoute`` and ``Gateway`` reference):

- a parentRef names a Gateway by group, kind, name and namespace (the route's by default), and
  optionally a listener by ``sectionName`` and ``port``; none left: ``NoMatchingParent``;
- ``allowedRoutes``: namespaces ``Same`` (default), ``All`` or ``Selector`` (matchLabels and
  matchExpressions), kinds (HTTPRoute when unset): none allowing the route:
  ``NotAllowedByListeners``; hostnames of the listener and the route must intersect (``*.``
  wildcards): ``NoMatchingListenerHostname``;
- matching: path ``Exact``, ``PathPrefix`` (element-wise, a trailing ``/`` ignored) and
  ``RegularExpression`` (Python ``re.fullmatch``), headers (case-insensitive names), query
  parameters and method, all ANDed within one match, ORed across matches; precedence across
  every rule of every attached route: Exact path, then regular expression (implementation
  specific: longer first), then the longest PathPrefix, then a method match, more header matches,
  more query matches, then the oldest route, then ``namespace/name``, then rule and match order;
- weights: a deterministic smooth weighted round-robin per rule (nginx's), so ``N`` requests
  over weights ``w`` go ``N * w / sum(w)`` to each backend, exactly over each full cycle; weight
  0 gets nothing; a change of the weights starts a new cycle.

Not followed: filters (a route using any is not accepted, reason ``UnsupportedValue``), timeouts,
hostname specificity in the precedence order, ReferenceGrants (a backend in another namespace is
refused with ``RefNotPermitted``), backends other than core Services, listener protocols other
than HTTP.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .selectors import Requirement, labels_match

Obj = dict[str, Any]

GATEWAY_GROUP = "gateway.networking.k8s.io"
HTTPROUTE_KIND = "HTTPRoute"
SUPPORTED_PROTOCOLS = frozenset({"HTTP"})
DEFAULT_MATCH: Obj = {"path": {"type": "PathPrefix", "value": "/"}}

# The labels of a namespace by name (None when it does not exist), for ``Selector`` listeners.
NamespaceLabels = Callable[[str], Mapping[str, str] | None]
# Whether a Service exists: (namespace, name) -> bool.
ServiceExists = Callable[[str, str], bool]


def _meta(obj: Obj) -> Obj:
    meta: Obj = obj.get("metadata") or {}
    return meta


def _spec(obj: Obj) -> Obj:
    spec: Obj = obj.get("spec") or {}
    return spec


def object_key(obj: Obj) -> str:
    """``namespace/name``, as the Gateway API orders and names routes."""
    return f"{_meta(obj).get('namespace', '')}/{_meta(obj).get('name', '')}"


# --------------------------------------------------------------------------------------------
# Listeners


def listener_problem(listener: Obj) -> str | None:
    """Why a listener cannot be served (its protocol), or None."""
    protocol = listener.get("protocol")
    if protocol not in SUPPORTED_PROTOCOLS:
        return (
            f"protocol {protocol} is not supported, only {', '.join(sorted(SUPPORTED_PROTOCOLS))}"
        )
    return None


def route_kinds(listener: Obj) -> tuple[list[Obj], list[Obj]]:
    """The listener's ``allowedRoutes.kinds`` split in (supported, unsupported).

    Unset means every kind the listener's protocol supports: HTTPRoute for HTTP.
    """
    kinds: list[Obj] = (listener.get("allowedRoutes") or {}).get("kinds") or []
    if not kinds:
        return [{"group": GATEWAY_GROUP, "kind": HTTPROUTE_KIND}], []
    supported = [
        {"group": GATEWAY_GROUP, "kind": HTTPROUTE_KIND}
        for k in kinds
        if k.get("group", GATEWAY_GROUP) == GATEWAY_GROUP and k.get("kind") == HTTPROUTE_KIND
    ][:1]
    unsupported = [
        k
        for k in kinds
        if not (k.get("group", GATEWAY_GROUP) == GATEWAY_GROUP and k.get("kind") == HTTPROUTE_KIND)
    ]
    return supported, unsupported


def _selector_requirements(selector: Obj) -> list[Requirement]:
    """A ``metav1.LabelSelector`` as the requirements the label selector grammar parses to."""
    requirements = [
        Requirement(str(key), "=", (str(value),))
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or []:
        op = operators.get(str(expression.get("operator")))
        if op is None:
            # An unknown operator selects nothing, as LabelSelectorAsSelector's error does.
            requirements.append(Requirement(str(expression.get("key")), "in", ()))
            continue
        values = tuple(str(v) for v in expression.get("values") or [])
        requirements.append(Requirement(str(expression.get("key")), op, values))
    return requirements


def namespace_allowed(
    listener: Obj, gateway_namespace: str, route_namespace: str, labels: NamespaceLabels
) -> bool:
    """``allowedRoutes.namespaces``: ``Same`` (default), ``All`` or ``Selector``."""
    namespaces: Obj = (listener.get("allowedRoutes") or {}).get("namespaces") or {}
    source = namespaces.get("from", "Same")
    if source == "All":
        return True
    if source == "Same":
        return route_namespace == gateway_namespace
    if source == "Selector":
        found = labels(route_namespace)
        selector = namespaces.get("selector")
        if found is None or not isinstance(selector, dict):
            return False
        return labels_match(_selector_requirements(selector), found)
    return False


def hostname_matches(pattern: str, host: str) -> bool:
    """``*.example.com`` matches one or more labels before ``.example.com``; else equality."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def hostnames_intersect(listener_hostname: str | None, route_hostnames: Sequence[str]) -> bool:
    """Whether a route's hostnames leave any host the listener accepts (unset: any host)."""
    if not listener_hostname or not route_hostnames:
        return True
    return any(
        hostname_matches(listener_hostname, h) or hostname_matches(h, listener_hostname)
        for h in route_hostnames
    )


# --------------------------------------------------------------------------------------------
# Attachment of a route to a Gateway


@dataclass(frozen=True)
class Attachment:
    """How one parentRef of a route attaches to a Gateway.

    Attributes:
        parent_ref: The parentRef as in the route's spec (defaults applied).
        listeners: Names of the listeners the route attaches to; empty when not accepted.
        reason: The ``Accepted`` condition's reason (``Accepted``, ``NoMatchingParent``...).
        message: The condition's message.

    """

    parent_ref: Obj
    listeners: tuple[str, ...]
    reason: str
    message: str

    @property
    def accepted(self) -> bool:
        return bool(self.listeners)


def refers_to(parent_ref: Obj, route_namespace: str, gateway: Obj) -> bool:
    """Whether ``parent_ref`` (of a route in ``route_namespace``) names ``gateway``."""
    return (
        parent_ref.get("group", GATEWAY_GROUP) == GATEWAY_GROUP
        and parent_ref.get("kind", "Gateway") == "Gateway"
        and parent_ref.get("name") == _meta(gateway).get("name")
        and (parent_ref.get("namespace") or route_namespace) == _meta(gateway).get("namespace")
    )


def unsupported_feature(route: Obj) -> str | None:
    """The first part of a route this controller cannot carry out (filters), or None."""
    for index, rule in enumerate(_spec(route).get("rules") or []):
        if rule.get("filters"):
            return f"spec.rules[{index}].filters: filters are not supported by this controller"
        for ref_index, ref in enumerate(rule.get("backendRefs") or []):
            if ref.get("filters"):
                return (
                    f"spec.rules[{index}].backendRefs[{ref_index}].filters: filters are not "
                    "supported by this controller"
                )
    return None


def attach(route: Obj, parent_ref: Obj, gateway: Obj, labels: NamespaceLabels) -> Attachment:
    """Attach ``route`` through ``parent_ref`` (which names ``gateway``) to its listeners."""
    route_namespace = str(_meta(route).get("namespace"))
    gateway_namespace = str(_meta(gateway).get("namespace"))
    section = parent_ref.get("sectionName")
    port = parent_ref.get("port")
    listeners: list[Obj] = _spec(gateway).get("listeners") or []
    named = [
        listener
        for listener in listeners
        if (section is None or listener.get("name") == section)
        and (port is None or listener.get("port") == port)
    ]
    if not named:
        wanted = " ".join(
            part
            for part in (
                f"named {section}" if section is not None else "",
                f"on port {port}" if port is not None else "",
            )
            if part
        )
        return Attachment(
            parent_ref, (), "NoMatchingParent", f"Gateway has no listener {wanted}".rstrip()
        )
    allowed = [
        listener
        for listener in named
        if listener_problem(listener) is None
        and route_kinds(listener)[0]
        and namespace_allowed(listener, gateway_namespace, route_namespace, labels)
    ]
    if not allowed:
        return Attachment(
            parent_ref,
            (),
            "NotAllowedByListeners",
            f"no listener of the Gateway allows HTTPRoutes from namespace {route_namespace}",
        )
    hostnames: list[str] = _spec(route).get("hostnames") or []
    hosted = [
        listener for listener in allowed if hostnames_intersect(listener.get("hostname"), hostnames)
    ]
    if not hosted:
        return Attachment(
            parent_ref,
            (),
            "NoMatchingListenerHostname",
            "no listener hostname matches the route's hostnames",
        )
    unsupported = unsupported_feature(route)
    if unsupported is not None:
        return Attachment(parent_ref, (), "UnsupportedValue", unsupported)
    return Attachment(
        parent_ref,
        tuple(str(listener["name"]) for listener in hosted),
        "Accepted",
        "Route is accepted",
    )


def attachments(route: Obj, gateway: Obj, labels: NamespaceLabels) -> list[Attachment]:
    """One :class:`Attachment` per parentRef of ``route`` that names ``gateway``."""
    route_namespace = str(_meta(route).get("namespace"))
    return [
        attach(route, ref, gateway, labels)
        for ref in _spec(route).get("parentRefs") or []
        if refers_to(ref, route_namespace, gateway)
    ]


# --------------------------------------------------------------------------------------------
# Backends


@dataclass(frozen=True)
class Backend:
    """One backendRef of a rule, namespace resolved; ``str()`` is ``ns/name:port``."""

    namespace: str
    name: str
    port: int | None
    group: str
    kind: str
    weight: int

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port if self.port is not None else ''}"


def rule_backends(route: Obj, rule: Obj) -> list[Backend]:
    """The rule's backendRefs (defaults as admission applied them: group "", Service, 1)."""
    route_namespace = str(_meta(route).get("namespace"))
    backends = []
    for ref in rule.get("backendRefs") or []:
        port = ref.get("port")
        weight = ref.get("weight", 1)
        backends.append(
            Backend(
                namespace=str(ref.get("namespace") or route_namespace),
                name=str(ref.get("name")),
                port=port if isinstance(port, int) else None,
                group=str(ref.get("group", "")),
                kind=str(ref.get("kind", "Service")),
                weight=weight if isinstance(weight, int) and weight > 0 else 0,
            )
        )
    return backends


def backend_problem(
    backend: Backend, route_namespace: str, exists: ServiceExists
) -> tuple[str, str] | None:
    """Why a backendRef is invalid, as a ``ResolvedRefs`` (reason, message); None if valid."""
    if (backend.group, backend.kind) != ("", "Service"):
        kind = f"{backend.kind}.{backend.group}" if backend.group else backend.kind
        return "InvalidKind", f"backendRef {backend.name}: kind {kind} is not supported"
    if backend.namespace != route_namespace:
        return (
            "RefNotPermitted",
            f"backendRef {backend}: references to namespace {backend.namespace} need a "
            "ReferenceGrant, and none is served",
        )
    if backend.port is None:
        return "BackendNotFound", f"backendRef {backend.name}: a Service backend needs a port"
    if not exists(backend.namespace, backend.name):
        return "BackendNotFound", f"Service {backend.namespace}/{backend.name} not found"
    return None


def resolved_refs(route: Obj, exists: ServiceExists) -> tuple[str, str] | None:
    """The route's first invalid backendRef as (reason, message), or None when all resolve."""
    route_namespace = str(_meta(route).get("namespace"))
    for rule in _spec(route).get("rules") or []:
        for backend in rule_backends(route, rule):
            problem = backend_problem(backend, route_namespace, exists)
            if problem is not None:
                return problem
    return None


# --------------------------------------------------------------------------------------------
# Matching a request


@dataclass(frozen=True)
class Request:
    """What matching looks at: ``headers`` keyed in lower case, ``host`` without its port."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    headers: Mapping[str, str]
    host: str


@dataclass(frozen=True)
class Choice:
    """The rule a request matched: ``route`` (the object), its ``namespace/name``, rule index."""

    route: Obj
    route_key: str
    rule_index: int
    rule: Obj


def prefix_matches(prefix: str, path: str) -> bool:
    """``PathPrefix``: element-wise, ``/abc`` matches ``/abc``, ``/abc/`` and ``/abc/d``."""
    trimmed = prefix.rstrip("/")
    return not trimmed or path == trimmed or path.startswith(trimmed + "/")


def _full_match(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def _value_matches(spec: Obj, value: str | None) -> bool:
    if value is None:
        return False
    if spec.get("type", "Exact") == "RegularExpression":
        return _full_match(str(spec.get("value", "")), value)
    return value == spec.get("value")


def path_matches(path_match: Obj, path: str) -> bool:
    """One ``path`` match (type PathPrefix, value ``/`` by default)."""
    kind = path_match.get("type", "PathPrefix")
    value = str(path_match.get("value", "/"))
    if kind == "Exact":
        return path == value
    if kind == "RegularExpression":
        return _full_match(value, path)
    return prefix_matches(value, path)


def match_applies(match: Obj, request: Request) -> bool:
    """Whether every condition of one ``HTTPRouteMatch`` holds for ``request``."""
    if not path_matches(match.get("path") or DEFAULT_MATCH["path"], request.path):
        return False
    method = match.get("method")
    if method is not None and method != request.method:
        return False
    for header in match.get("headers") or []:
        if not _value_matches(header, request.headers.get(str(header.get("name", "")).lower())):
            return False
    for param in match.get("queryParams") or []:
        values = request.query.get(str(param.get("name", "")))
        if not _value_matches(param, values[0] if values else None):
            return False
    return True


def _precedence(route: Obj, rule_index: int, match_index: int, match: Obj) -> tuple[Any, ...]:
    path = match.get("path") or DEFAULT_MATCH["path"]
    kind = path.get("type", "PathPrefix")
    rank = {"Exact": 0, "RegularExpression": 1}.get(kind, 2)
    return (
        rank,
        -len(str(path.get("value", "/"))),
        0 if match.get("method") else 1,
        -len(match.get("headers") or []),
        -len(match.get("queryParams") or []),
        str(_meta(route).get("creationTimestamp", "")),
        object_key(route),
        rule_index,
        match_index,
    )


def choose_rule(routes: Sequence[Obj], request: Request) -> Choice | None:
    """The rule whose match comes first in precedence order and holds, or None (a 404)."""
    candidates = []
    for route in routes:
        hostnames = _spec(route).get("hostnames") or []
        if hostnames and not any(hostname_matches(h, request.host) for h in hostnames):
            continue
        for rule_index, rule in enumerate(_spec(route).get("rules") or []):
            for match_index, match in enumerate(rule.get("matches") or [DEFAULT_MATCH]):
                key = _precedence(route, rule_index, match_index, match)
                candidates.append((key, route, rule_index, rule, match))
    candidates.sort(key=lambda candidate: candidate[0])
    for _, route, rule_index, rule, match in candidates:
        if match_applies(match, request):
            return Choice(route, object_key(route), rule_index, rule)
    return None


# --------------------------------------------------------------------------------------------
# Weights


class WeightedPicker:
    """Smooth weighted round-robin per key (a route's rule), thread-safe and deterministic.

    nginx's algorithm: every pick adds each backend's weight to its running score, takes the
    highest score (the first on a tie) and subtracts the total weight from it. Over any full
    cycle of ``sum(weights)`` picks each backend is chosen exactly ``weight`` times, interleaved
    (80/20 goes a, a, a, a, b, ...; never 80 a's first). When a key's backends or weights change,
    its scores start afresh, so a new split applies from the next pick.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scores: dict[Hashable, tuple[tuple[tuple[str, int], ...], list[int]]] = {}

    def pick(self, key: Hashable, backends: Sequence[Backend]) -> Backend | None:
        """The next backend for ``key``; None when there is none of positive weight."""
        signature = tuple((str(b), b.weight) for b in backends)
        live = [index for index, backend in enumerate(backends) if backend.weight > 0]
        if not live:
            return None
        total = sum(backends[index].weight for index in live)
        with self._lock:
            known = self._scores.get(key)
            scores = (
                known[1] if known is not None and known[0] == signature else [0] * len(backends)
            )
            for index in live:
                scores[index] += backends[index].weight
            best = max(live, key=lambda index: scores[index])
            scores[best] -= total
            self._scores[key] = (signature, scores)
        return backends[best]
