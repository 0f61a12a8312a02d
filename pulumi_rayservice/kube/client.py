"""The few Kubernetes API calls the providers make, with one place that turns failures into errors.

Built on the official ``kubernetes`` client (kubeconfig, exec plugins, in-cluster tokens). Every
call goes through :meth:`KubeClient._call`, which retries what a retry can fix (dropped
connections, 429 with its ``Retry-After``, 500/502/503/504) under the package's one retry policy
(:mod:`.._util.retry`), ends every try by the operation's deadline (``_request_timeout`` for the
silence of one read, :mod:`.._util.bounded_http` for the whole answer), never retries a TLS failure,
and converts the rest into this package's ``KubeError`` classes with the API server's own
``Status`` reason and message, cut short. A 404 on read or delete is an answer ("gone"), not a
failure. Watches are bounded twice: the server's ``timeoutSeconds`` and a client cut-off.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from .._util.bounded_http import request_deadline
from .._util.http_failures import EOF_MARKERS, no_answer, refused_a_header, retry_after_s
from .._util.polling import Deadline
from .._util.retry import RetryPolicy, with_retries
from .._util.text import clip
from ..errors import (
    KubeConfigError,
    KubeConflictError,
    KubeError,
    KubeNotFoundError,
    KubeTemporaryError,
    KubeTLSError,
)
from .apiserver import ApiServerTarget, apiserver_refusal
from .config import EXEC_PLUGIN_S, api_client
from .objects import RawEvent, RawObject

T = TypeVar("T")
MAX_MESSAGE = 500
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"
"""Sent as the Content-Type of a create: the client leaves it out, and the KubeRay API server's
V2 (v1.5+) refuses a body whose Content-Type is not JSON or YAML with 400."""
DEFAULT_CALL_S = 120.0
"""The deadline of a call made outside any operation (no deadline given to the client)."""
WATCH_MARGIN_S = 1.0
"""How long past its time a watch may run before the client cuts it (the server ends it first)."""
Timeout = tuple[float, float]


@dataclass(frozen=True)
class CustomResourceKind:
    """One custom resource type: everything that names it in an API call, in one frozen value."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        """``group/version`` as written in manifests."""
        return f"{self.group}/{self.version}"


RAY_CLUSTER = CustomResourceKind("ray.io", "v1", "rayclusters", "RayCluster")
LEASE_API_VERSION = "coordination.k8s.io/v1"
GONE: RawObject = cast(RawObject, {"gone": True})
"""What :meth:`KubeClient.next_change` returns when the object was deleted (compare with ``is``)."""


class WatchUnavailable(Exception):
    """A watch could not be used; poll instead."""


class KubeClient:
    """A Kubernetes client for one provider call (never kept on a provider: holds credentials)."""

    def __init__(
        self,
        kube: Mapping[str, Any] | None,
        retry: RetryPolicy | None = None,
        *,
        deadline: Deadline | None = None,
        api_server: ApiServerTarget | None = None,
    ):
        """Load the configuration and build the client.

        ``deadline`` (the operation's) bounds every call made without a deadline of its own;
        the Lease renewer passes its own, so does a cleanup through :meth:`within`. With
        ``api_server`` the calls go to the KubeRay API server's V2 proxy (``kube`` unused).
        """
        from kubernetes import client

        self.retry = retry or RetryPolicy(initial_s=0.2, max_s=5.0)
        self.deadline = deadline
        self.api_server = api_server
        within = min(self.retry.request_s * 2, deadline.remaining()) if deadline else None
        self._api_client = api_client(
            kube,
            load_within_s=EXEC_PLUGIN_S if within is None else within,
            api_server=api_server,
        )
        self._custom: Any = client.CustomObjectsApi(self._api_client)
        self._core: Any = client.CoreV1Api(self._api_client)
        self._events: Any = client.EventsV1Api(self._api_client)
        self._coordination: Any = client.CoordinationV1Api(self._api_client)

    @property
    def _json_body(self) -> dict[str, Any]:
        """How to say a create's body is JSON, in this client's generation.

        Newer clients leave the Content-Type out unless told; older ones send it by default and
        take no ``_headers``.
        """
        create = self._custom.create_namespaced_custom_object
        if "_headers" in inspect.signature(create).parameters:
            return {"_headers": {"Content-Type": JSON}}
        return {}

    @property
    def can_watch(self) -> bool:
        """Whether a watch arrives as it happens (not through the KubeRay API server's V2)."""
        return self.api_server is None or self.api_server.can_watch

    def describe(self) -> str:
        """Which API the calls go to, for messages (no secret)."""
        return "the Kubernetes API" if self.api_server is None else self.api_server.describe()

    @contextmanager
    def within(self, deadline: Deadline) -> Iterator[KubeClient]:
        """Bound the calls in the block by ``deadline`` (a cleanup once the operation's ran out)."""
        previous, self.deadline = self.deadline, deadline
        try:
            yield self
        finally:
            self.deadline = previous

    def close(self) -> None:
        """Release the connection pool."""
        self._api_client.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # custom resources -----------------------------------------------------------------------

    def get(self, kind: CustomResourceKind, namespace: str, name: str) -> RawObject | None:
        """The object, or None when it does not exist."""
        try:
            obj = self._call(
                f"get {kind.kind} {namespace}/{name}",
                lambda timeout: self._custom.get_namespaced_custom_object(
                    kind.group,
                    kind.version,
                    namespace,
                    kind.plural,
                    name,
                    _request_timeout=timeout,
                ),
            )
        except KubeNotFoundError:
            return None
        return self._object(obj)

    def list_objects(
        self, kind: CustomResourceKind, namespace: str, *, label_selector: str = ""
    ) -> list[RawObject]:
        """Every object of ``kind`` in ``namespace`` matching ``label_selector``."""
        listed = self._call(
            f"list {kind.kind} in {namespace}",
            lambda timeout: self._custom.list_namespaced_custom_object(
                kind.group,
                kind.version,
                namespace,
                kind.plural,
                label_selector=label_selector,
                _request_timeout=timeout,
            ),
        )
        return [self._object(item) for item in (self._plain(listed).get("items") or [])]

    def create(
        self, kind: CustomResourceKind, namespace: str, body: Mapping[str, Any]
    ) -> RawObject:
        """POST the object (201). Raises ``KubeConflictError`` when the name is taken."""
        name = body.get("metadata", {}).get("name", "")
        return self._object(
            self._call(
                f"create {kind.kind} {namespace}/{name}",
                lambda timeout: self._custom.create_namespaced_custom_object(
                    kind.group,
                    kind.version,
                    namespace,
                    kind.plural,
                    dict(body),
                    _request_timeout=timeout,
                    **self._json_body,
                ),
            )
        )

    def merge_patch(
        self, kind: CustomResourceKind, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> RawObject:
        """JSON merge patch (RFC 7386) of the object.

        Put ``metadata.resourceVersion`` in ``patch`` to make it conditional: a stale version is a
        ``KubeConflictError`` (409).
        """
        return self._object(
            self._call(
                f"patch {kind.kind} {namespace}/{name}",
                lambda timeout: self._custom.patch_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, name, dict(patch),
                    _content_type=MERGE_PATCH, _request_timeout=timeout,
                ),
            )
        )  # fmt: skip

    def delete(
        self, kind: CustomResourceKind, namespace: str, name: str, *, uid: str | None = None
    ) -> RawObject | None:
        """DELETE the object; the answer (the object, or a ``Status`` when it went at once).

        None when it was already gone. With ``uid``, only that object is deleted (a
        precondition): another object that took the name meanwhile is a ``KubeConflictError``.
        """
        options = {"preconditions": {"uid": uid}} if uid else None
        try:
            answer = self._call(
                f"delete {kind.kind} {namespace}/{name}",
                lambda timeout: self._custom.delete_namespaced_custom_object(
                    kind.group,
                    kind.version,
                    namespace,
                    kind.plural,
                    name,
                    body=options,
                    _request_timeout=timeout,
                ),
            )
        except KubeNotFoundError:
            return None
        return self._object(answer)

    def next_change(
        self,
        kind: CustomResourceKind,
        namespace: str,
        name: str,
        resource_version: str,
        timeout_s: float,
    ) -> RawObject | None:
        """Wait for the next change of one object with a watch from ``resource_version``.

        One request per change instead of a poll every fraction of a second, and the change is
        seen as it happens. Returns the changed object, ``GONE`` when it was deleted, or None
        when nothing changed within ``timeout_s``. The server ends the watch at ``timeout_s``
        (``timeoutSeconds``); a watch it does not end (a stalled server, a connection a load
        balancer dropped silently) is cut ``WATCH_MARGIN_S`` later and counts as no change.

        Raises:
            WatchUnavailable: the watch cannot be used (no RBAC ``watch`` verb, 410 Gone for an
                old resourceVersion, a dropped stream): the caller falls back to polling.

        """
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        if not self.can_watch:
            raise WatchUnavailable(
                f"{self.describe()} reads a watch whole before passing it on (it would arrive "
                "only at its end)"
            )
        watch_module: Any = watch  # untyped
        watcher = watch_module.Watch()
        seconds = max(1, int(timeout_s))  # the server ends the watch at or before timeout_s
        cut_off = max(seconds, timeout_s) + WATCH_MARGIN_S
        scope = None
        try:
            with request_deadline(cut_off) as scope:
                yield_from = watcher.stream(
                    self._custom.list_namespaced_custom_object,
                    kind.group,
                    kind.version,
                    namespace,
                    kind.plural,
                    field_selector=f"metadata.name={name}",
                    resource_version=resource_version,
                    timeout_seconds=seconds,
                    _request_timeout=(min(self.retry.connect_s, cut_off), cut_off),
                )
                for event in yield_from:
                    kind_of_event = event.get("type")
                    obj = self._plain(event.get("object"))
                    if kind_of_event == "DELETED":
                        return GONE
                    if kind_of_event in ("ADDED", "MODIFIED"):
                        return cast(RawObject, obj)
                    if kind_of_event == "ERROR":
                        raise WatchUnavailable(str(obj.get("message") or "watch error"))
            return None
        except ApiException as error:
            raise WatchUnavailable(f"watch refused: {error.status} {error.reason}") from None
        except (Urllib3Error, OSError, ValueError) as error:
            if scope is not None and scope.cut:
                return None  # no change within the watch's time; the caller reads again
            raise WatchUnavailable(f"watch failed: {type(error).__name__}") from None
        finally:
            watcher.stop()

    # leases (coordination.k8s.io/v1) -------------------------------------------------------

    def get_lease(
        self, namespace: str, name: str, *, deadline: Deadline | None = None
    ) -> RawObject | None:
        """The Lease, or None when it does not exist."""
        try:
            lease = self._call(
                f"get Lease {namespace}/{name}",
                lambda timeout: self._coordination.read_namespaced_lease(
                    name, namespace, _request_timeout=timeout
                ),
                deadline,
            )
        except KubeNotFoundError:
            return None
        return self._object(lease)

    def create_lease(
        self, namespace: str, body: Mapping[str, Any], *, deadline: Deadline | None = None
    ) -> RawObject:
        """POST a Lease. Raises ``KubeConflictError`` when one of that name exists."""
        name = body.get("metadata", {}).get("name", "")
        return self._object(
            self._call(
                f"create Lease {namespace}/{name}",
                lambda timeout: self._coordination.create_namespaced_lease(
                    namespace, dict(body), _request_timeout=timeout
                ),
                deadline,
            )
        )

    def replace_lease(
        self, namespace: str, body: Mapping[str, Any], *, deadline: Deadline | None = None
    ) -> RawObject:
        """PUT a Lease conditional on the ``metadata.resourceVersion`` in ``body``.

        Raises ``KubeConflictError`` (409) when the Lease changed since that version was read.
        """
        name = body.get("metadata", {}).get("name", "")
        return self._object(
            self._call(
                f"update Lease {namespace}/{name}",
                lambda timeout: self._coordination.replace_namespaced_lease(
                    name, namespace, dict(body), _request_timeout=timeout
                ),
                deadline,
            )
        )

    # core objects ---------------------------------------------------------------------------

    def events_for(self, namespace: str, name_prefix: str, limit: int = 10) -> list[RawEvent]:
        """The most recent events about objects whose name starts with ``name_prefix``.

        KubeRay and the kubelet report what goes wrong (image pulls, scheduling, validation) as
        events on the RayCluster and on its pods (``<name>-head-xxxxx``), hence the prefix.
        Through the KubeRay API server only the ray.io objects' own events are served: at
        ``events.k8s.io/v1`` from KubeRay v1.7, at the core ``/api/v1`` route before; both are
        asked, newest route first, and read in the core shape.
        """
        items = self._events_list(namespace)
        mine = [
            event
            for event in items
            if str((event.get("involvedObject") or {}).get("name", "")).startswith(name_prefix)
        ]
        mine.sort(key=_event_time)
        return mine[-limit:]

    def _events_list(self, namespace: str) -> list[RawEvent]:
        """Every event in ``namespace`` the API serves to us; [] when none can be read."""
        routes: list[tuple[str, Callable[[Timeout], Any], bool]] = [
            (
                f"list Events in {namespace}",
                lambda timeout: self._core.list_namespaced_event(
                    namespace, _request_timeout=timeout
                ),
                False,
            )
        ]
        if self.api_server is not None:
            routes.insert(
                0,
                (
                    f"list events.k8s.io Events in {namespace}",
                    # Read as JSON, not the client's model: it refuses the events that core
                    # clients (KubeRay's recorder) write, whose eventTime is null
                    # (kubernetes-client/python#1616).
                    lambda timeout: json.loads(
                        self._events.list_namespaced_event(
                            namespace, _request_timeout=timeout, _preload_content=False
                        ).data
                    ),
                    True,
                ),
            )
        for what, request, new_shape in routes:
            try:
                listed = self._call(what, request)
            except KubeError:
                continue  # events are a diagnosis aid, never a reason to fail
            items = [self._plain(item) for item in (self._plain(listed).get("items") or [])]
            return [core_event(item) if new_shape else cast(RawEvent, item) for item in items]
        return []

    # the one place failures are converted ---------------------------------------------------

    def _call(
        self, what: str, request: Callable[[Timeout], T], deadline: Deadline | None = None
    ) -> T:
        """Send ``request(timeout)`` under the retry policy, every try ending by the deadline."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        deadline = deadline or self.deadline or Deadline(DEFAULT_CALL_S)

        def send(limit_s: float) -> T:
            if limit_s <= 0:
                raise KubeTemporaryError(
                    f"{what}: the {deadline.timeout_s:g}s deadline passed before it could be sent"
                )
            with request_deadline(limit_s) as scope:
                cut_off = KubeTemporaryError(f"{what}: no complete answer within {limit_s:.3g}s")
                try:
                    answer = request((min(self.retry.connect_s, limit_s), limit_s))
                except ApiException as error:
                    if scope.cut:
                        raise cut_off from None
                    raise _convert(what, error, self.api_server) from None
                except ValueError as error:  # a header refused, or a body cut short by the cut
                    if scope.cut:
                        raise cut_off from None
                    if refused_a_header(error):
                        raise KubeConfigError(
                            f"{what}: a credential the kubeconfig resolves to holds a newline or "
                            "another control character (a tokenFile written with echo?); strip it"
                        ) from None
                    raise KubeError(f"{what}: not sent ({type(error).__name__})") from None
                except (Urllib3Error, OSError) as error:  # urllib3's and the socket's
                    failure = no_answer(error, cut=scope.cut, limit_s=limit_s)
                    if failure.tls:
                        raise KubeTLSError(
                            f"{what}: {failure.problem}; check the kubeconfig's "
                            "certificate-authority(-data), tls-server-name and server address"
                        ) from None
                    raise KubeTemporaryError(f"{what}: {failure.problem}") from None
            if scope.cut:  # cut while the head was read: what came back looks whole and is not
                raise cut_off
            return answer

        try:
            return with_retries(send, policy=self.retry, deadline=deadline)
        except KubeTemporaryError as failure:
            if failure.attempts <= 1:
                raise
            raise KubeTemporaryError(
                f"{failure} (after {failure.attempts} attempts){failure.tries_seen()}",
                status=failure.status,
                reason=failure.reason,
            ) from None

    def _object(self, value: Any) -> RawObject:
        """An object of the API as a plain dict (the client's model types converted)."""
        return cast(RawObject, self._plain(value))

    def _plain(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        plain = self._api_client.sanitize_for_serialization(value)
        return plain if isinstance(plain, dict) else {}


def _convert(what: str, error: Any, api_server: ApiServerTarget | None = None) -> KubeError:
    """ApiException -> our error, keeping the API server's Status reason and message.

    Through the KubeRay API server, an answer of its own (not Kubernetes' passed on) is told
    apart first: a 404 there means "not served", never "gone".
    """
    status = int(error.status or 0)
    if api_server is not None:
        own = apiserver_refusal(status, str(error.body or ""), api_server, kubernetes_path=True)
        if own is not None:
            return KubeError(f"{what}: {own}", status=status, reason=str(error.reason or ""))
    if status == 0 and any(marker in str(error.reason or "") for marker in EOF_MARKERS):
        return KubeTemporaryError(f"{what}: connection closed during the TLS handshake")
    if status == 0 and "SSLError" in str(error.reason or ""):
        # The client turns a TLS failure into ApiException(status=0) with the SSL text.
        detail = clip(error.reason, 200)
        return KubeTLSError(
            f"{what}: TLS failed ({detail}); check the kubeconfig's certificate-authority(-data), "
            "tls-server-name and server address"
        )
    reason, message = _status_of(error)
    text = f"{what}: {status} {reason}".rstrip()
    if message:
        text += f": {message}"
    if status == 404:
        return KubeNotFoundError(text, status=status, reason=reason)
    if status == 409:
        return KubeConflictError(text, status=status, reason=reason)
    if status in RETRYABLE_STATUS or status == 0:
        headers = error.headers if hasattr(error.headers, "get") else None
        retry_after = retry_after_s(headers)
        failure = KubeTemporaryError(text, status=status, reason=reason)
        failure.retry_after_s = retry_after
        return failure
    if status == 403:
        text += " (the kubeconfig's user lacks permission: check its RBAC for ray.io rayclusters)"
    return KubeError(text, status=status, reason=reason)


def _status_of(error: Any) -> tuple[str, str]:
    """The ``reason`` and ``message`` of a Kubernetes ``Status`` body, message cut short."""
    reason = str(error.reason or "")
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        return reason, ""
    if not isinstance(body, dict):
        return reason, ""
    message = clip(body.get("message") or "", MAX_MESSAGE)
    return str(body.get("reason") or reason), message


def core_event(event: Mapping[str, Any]) -> RawEvent:
    """An ``events.k8s.io/v1`` Event in the core v1 shape the rest of the package reads."""
    return cast(
        RawEvent,
        {
            "metadata": event.get("metadata") or {},
            "involvedObject": event.get("regarding") or {},
            "reason": event.get("reason"),
            "message": event.get("note"),
            "type": event.get("type"),
            "lastTimestamp": event.get("deprecatedLastTimestamp") or event.get("eventTime"),
            "eventTime": event.get("eventTime"),
            "firstTimestamp": event.get("deprecatedFirstTimestamp"),
            "count": event.get("deprecatedCount"),
        },
    )


def _event_time(event: RawEvent) -> str:
    return str(
        event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""
    )
