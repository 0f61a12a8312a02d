"""The API semantics: create, get, list, update, patch, delete and watch, as the real server.

Independent of HTTP so that the HTTP layer (``server.py``) and the stand-in operator
(``operator.py``) go through exactly the same rules: status subresource split, generation bumps,
optimistic concurrency, finalizers, garbage collection by ownerReferences, admission.

Deliberate fidelity points (each one a bug class a looser fake hides):

- a write that changes nothing is not a write: same resourceVersion, no watch event;
- ``generation`` counts changes outside ``metadata`` (status excluded by the subresource split),
  and also bumps when deletion of an object with finalizers starts, as on a real server;
- PUT of a custom resource without ``metadata.resourceVersion`` is a 422 (custom resources do not
  allow unconditional updates), a stale one a 409;
- create with a ``resourceVersion`` is a 500 (``resourceVersion should not be set on objects to
  be created``); create in a namespace that does not exist is a 404;
- garbage collection of dependents is asynchronous (a background worker), as the real
  controller-manager's.
"""

from __future__ import annotations

import base64
import builtins
import copy
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import meta, status
from .admission import builtin_decode, builtin_defaults, builtin_validate, custom_schema
from .patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from .resources import ALL_TYPES, NAMESPACES, PODS, SERVICES, ResourceType
from .selectors import compile_selectors
from .status import ApiError, Cause
from .store import Key, Store, StoredEvent

FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
PROPAGATION = ("Orphan", "Background", "Foreground")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

# Types whose DELETE answers with the deleted object rather than a Status (ReturnDeletedObject).
_RETURNS_DELETED_OBJECT = {PODS.plural, SERVICES.plural}


@dataclass
class WriteOptions:
    """Per-request write settings.

    Attributes:
        manager: Field manager recorded in ``managedFields`` (``?fieldManager=`` or the
            User-Agent's product, as the real server derives it).
        dry_run: ``?dryRun=All``: run every check, store nothing.
        field_validation: ``Ignore``, ``Warn`` (default: unknown fields dropped with a warning) or
            ``Strict`` (unknown fields are a 400).

    """

    manager: str = "unknown"
    dry_run: bool = False
    field_validation: str = "Warn"


@dataclass
class Written:
    """The object as stored (or as it would be, for a dry run) and the warnings to send."""

    obj: dict[str, Any]
    warnings: builtins.list[str] = field(default_factory=list)


def parse_json(raw: bytes) -> Any:
    """Decode a request body as the real server would see it.

    Integral floats (``1.0``) become ints: the real server decodes numbers into int64 when it
    can, and serializes a float64 ``1`` back as ``1`` anyway.
    """

    def number(text: str) -> int | float:
        value = float(text)
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
        return value

    try:
        return json.loads(raw or b"null", parse_float=number)
    except ValueError as exc:
        raise status.bad_request(f"error decoding request body: {exc}") from exc


class Registry:
    """The fake API server's state and rules (thread-safe)."""

    def __init__(
        self, store: Store | None = None, *, namespaces: tuple[str, ...] = DEFAULT_NAMESPACES
    ) -> None:
        self.store = store or Store()
        self._gc_queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._gc_thread = threading.Thread(target=self._gc_loop, name="fake-kube-gc", daemon=True)
        self._gc_thread.start()
        for name in namespaces:
            self.ensure_namespace(name)

    def close(self) -> None:
        """Stop the garbage-collector worker."""
        self._gc_queue.put(None)
        self._gc_thread.join(timeout=5)

    # ---------------------------------------------------------------------------------------
    # Reads

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """The object; 404 ``NotFound`` when absent."""
        obj = self.store.get(rt, self._key(rt, namespace, name))
        if obj is None:
            raise status.not_found(rt, name)
        return obj

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object or None."""
        return self.store.get(rt, self._key(rt, namespace, name))

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        """A ``<Kind>List``; items of built-in types carry no kind/apiVersion, as for real."""
        predicate = compile_selectors(label_selector, field_selector, rt.field_labels)
        items, rv = self.store.list(rt, namespace if rt.namespaced else None)
        items = [item for item in items if predicate(item)]
        list_meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if continue_token:
            try:
                start = json.loads(base64.urlsafe_b64decode(continue_token.encode()))["start"]
            except (ValueError, KeyError, TypeError) as exc:
                raise status.bad_request(f"invalid continue token: {exc}") from exc
            items = [i for i in items if self._sort_key(i) > tuple(start)]
        if limit and limit > 0 and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            token = {"rv": rv, "start": list(self._sort_key(items[-1]))}
            list_meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            list_meta["remainingItemCount"] = remaining
        if not rt.custom:
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": list_meta,
            "items": items,
        }

    @staticmethod
    def _sort_key(obj: dict[str, Any]) -> tuple[str, str]:
        m = obj.get("metadata") or {}
        return (m.get("namespace") or "", m.get("name") or "")

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_s: float = 1800.0,
        stop: threading.Event,
    ) -> Iterator[dict[str, Any]]:
        """Watch events as the real server streams them.

        Without a resourceVersion (or "0"), synthetic ADDED events for the current objects come
        first. An object leaving the selector is a DELETED event, one entering it an ADDED. A
        resourceVersion older than the retained history gives an ``ERROR`` event with 410.
        """
        predicate = compile_selectors(label_selector, field_selector, rt.field_labels)
        scope = namespace if rt.namespaced else None
        initial: builtins.list[dict[str, Any]] = []
        if resource_version in (None, "", "0"):
            items, rv = self.store.list(rt, scope)
            initial = [{"type": "ADDED", "object": item} for item in items if predicate(item)]
        else:
            try:
                rv = int(str(resource_version))
            except ValueError as exc:
                raise status.bad_request(f"invalid resource version: {resource_version!r}") from exc
        return self._stream(rt, scope, predicate, rv, initial, time.monotonic() + timeout_s, stop)

    def _stream(
        self,
        rt: ResourceType,
        scope: str | None,
        predicate: Any,
        rv: int,
        initial: builtins.list[dict[str, Any]],
        deadline: float,
        stop: threading.Event,
    ) -> Iterator[dict[str, Any]]:
        yield from initial
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            events = self.store.events_after(rv, timeout=min(remaining, 0.5), stop=stop)
            if events is None:
                error = status.expired(
                    f"too old resource version: {rv} ({self.store.compacted_rv})"
                )
                yield {"type": "ERROR", "object": error.body()}
                return
            for event in events:
                rv = event.rv
                translated = self._translate(event, rt, scope, predicate)
                if translated is not None:
                    yield translated

    @staticmethod
    def _translate(
        event: StoredEvent, rt: ResourceType, scope: str | None, predicate: Any
    ) -> dict[str, Any] | None:
        if event.rt.plural != rt.plural:
            return None
        if scope is not None and event.obj["metadata"].get("namespace") != scope:
            return None
        now_match = predicate(event.obj)
        prev_match = event.prev is not None and predicate(event.prev)
        if event.type == "ADDED":
            kind = "ADDED" if now_match else None
        elif event.type == "DELETED":
            kind = "DELETED" if (prev_match or now_match) else None
        elif now_match:
            kind = "MODIFIED" if prev_match else "ADDED"
        else:
            kind = "DELETED" if prev_match else None
        return None if kind is None else {"type": kind, "object": copy.deepcopy(event.obj)}

    # ---------------------------------------------------------------------------------------
    # Writes

    def create(
        self, rt: ResourceType, namespace: str | None, body: Any, opts: WriteOptions | None = None
    ) -> Written:
        """POST: 201 semantics. Raise 400/404/409/422/500 as the real server would."""
        opts = opts or WriteOptions()
        obj = self._decode(rt, body)
        metadata = obj["metadata"]
        if rt.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise status.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            metadata["namespace"] = namespace
        warnings = self._prune(rt, obj, opts)
        rv = metadata.get("resourceVersion")
        if rv not in (None, "", "0"):
            raise status.unknown_500("resourceVersion should not be set on objects to be created")
        with self.store.locked():
            if rt.namespaced and self.find(NAMESPACES, None, str(namespace)) is None:
                raise status.not_found(NAMESPACES, str(namespace))
            if not metadata.get("name") and metadata.get("generateName"):
                for _ in range(8):
                    candidate = meta.generate_name(str(metadata["generateName"]))
                    if self.find(rt, namespace, candidate) is None:
                        metadata["name"] = candidate
                        break
            for field_name in (
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
                "managedFields",
            ):
                metadata.pop(field_name, None)
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = meta.now()
            if rt.has_generation:
                metadata["generation"] = 1
            else:
                metadata.pop("generation", None)
            if rt.status_subresource and rt.custom:
                obj.pop("status", None)
            self._default(rt, obj, None)
            causes = meta.validate_object_meta(rt, metadata) + self._validate(rt, obj, None)
            if causes:
                raise status.invalid(rt, str(metadata.get("name") or ""), causes)
            if rt.custom:
                warnings += meta.finalizer_warnings(metadata)
            name = str(metadata["name"])
            key = self._key(rt, namespace, name)
            if self.store.get(rt, key) is not None:
                raise status.already_exists(rt, name)
            meta.update_managed_fields(
                obj, None, manager=opts.manager, api_version=rt.api_version, subresource=None
            )
            if opts.dry_run:
                return Written(obj, warnings)
            stored = self.store.commit(rt, key, obj, event="ADDED")
            assert stored is not None
            return Written(stored, warnings)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        opts: WriteOptions | None = None,
        *,
        subresource: str | None = None,
    ) -> Written:
        """PUT on the object or its ``/status``."""
        opts = opts or WriteOptions()
        obj = self._decode(rt, body)
        self._check_identity(rt, namespace, name, obj)
        with self.store.locked():
            old = self.get(rt, namespace, name)
            return self._update(rt, namespace, name, obj, old, opts, subresource, is_patch=False)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        raw: bytes,
        content_type: str,
        opts: WriteOptions | None = None,
        *,
        subresource: str | None = None,
    ) -> Written:
        """PATCH, dispatched on the Content-Type as the real server does."""
        opts = opts or WriteOptions()
        kind = content_type.split(";")[0].strip().lower()
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
        if not rt.custom:
            accepted.insert(2, STRATEGIC_MERGE_PATCH)
        if kind == APPLY_PATCH:
            raise status.unsupported_media_type(
                "fake-kube does not implement server-side apply (application/apply-patch+yaml); "
                "use a merge or JSON patch"
            )
        if kind not in accepted:
            raise status.unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(accepted)}"
            )
        document = parse_json(raw)
        with self.store.locked():
            old = self.get(rt, namespace, name)
            if kind == MERGE_PATCH:
                patched = apply_merge_patch(old, document)
            elif kind == JSON_PATCH:
                patched = apply_json_patch(old, document)
            else:
                patched = apply_strategic_merge_patch(old, document)
            obj = self._decode(rt, patched)
            return self._update(rt, namespace, name, obj, old, opts, subresource, is_patch=True)

    def _update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        old: dict[str, Any],
        opts: WriteOptions,
        subresource: str | None,
        *,
        is_patch: bool,
    ) -> Written:
        self._check_identity(rt, namespace, name, obj)
        metadata = obj["metadata"]
        warnings = self._prune(rt, obj, opts)
        old_meta = old["metadata"]
        rv = metadata.get("resourceVersion")
        if rv:
            if str(rv) != old_meta["resourceVersion"]:
                raise status.conflict(rt, name)
        elif rt.custom and not is_patch:
            raise status.invalid(
                rt,
                name,
                [
                    Cause(
                        "metadata.resourceVersion",
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        if subresource == "status":
            result = copy.deepcopy(old)
            if "status" in obj:
                result["status"] = obj["status"]
            else:
                result.pop("status", None)
        else:
            result = obj
            if rt.status_subresource:
                if "status" in old:
                    result["status"] = copy.deepcopy(old["status"])
                else:
                    result.pop("status", None)
            if not metadata.get("uid"):
                metadata["uid"] = old_meta["uid"]
            metadata["creationTimestamp"] = old_meta["creationTimestamp"]
            if old_meta.get("deletionTimestamp"):
                metadata["deletionTimestamp"] = old_meta["deletionTimestamp"]
                metadata["deletionGracePeriodSeconds"] = old_meta.get(
                    "deletionGracePeriodSeconds", 0
                )
            metadata["managedFields"] = copy.deepcopy(old_meta.get("managedFields") or [])
            metadata["resourceVersion"] = old_meta["resourceVersion"]
            metadata.pop("selfLink", None)
            if rt.has_generation:
                generation = int(old_meta.get("generation") or 1)
                if _without_metadata(result) != _without_metadata(old):
                    generation += 1
                metadata["generation"] = generation
            else:
                metadata.pop("generation", None)
        self._default(rt, result, old)
        causes = meta.validate_object_meta(rt, result["metadata"])
        causes += meta.validate_meta_update(result["metadata"], old_meta)
        causes += self._validate(rt, result, old)
        if causes:
            raise status.invalid(rt, name, causes)
        if _same(result, old):
            return Written(old, warnings)
        meta.update_managed_fields(
            result, old, manager=opts.manager, api_version=rt.api_version, subresource=subresource
        )
        if opts.dry_run:
            return Written(result, warnings)
        key = self._key(rt, namespace, name)
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            gone = self.store.commit(rt, key, None, event="DELETED")
            assert gone is not None
            self._collect_dependents(gone)
            return Written(result, warnings)
        stored = self.store.commit(rt, key, result, event="MODIFIED")
        assert stored is not None
        return Written(stored, warnings)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: dict[str, Any] | None = None,
        opts: WriteOptions | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """DELETE: immediate without finalizers, else ``deletionTimestamp`` until they are gone.

        Returns the HTTP status and body (the object, or a ``Status`` for types that do not
        return deleted objects).
        """
        options = options or {}
        opts = opts or WriteOptions()
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy is not None and policy not in PROPAGATION:
            raise status.invalid(
                rt,
                name,
                [
                    Cause(
                        "propagationPolicy",
                        "FieldValueNotSupported",
                        f'Unsupported value: "{policy}": supported values: "Foreground", '
                        '"Background", "Orphan", "nil"',
                    )
                ],
            )
        with self.store.locked():
            old = self.get(rt, namespace, name)
            old_meta = old["metadata"]
            preconditions = options.get("preconditions") or {}
            if preconditions.get("uid") and preconditions["uid"] != old_meta["uid"]:
                raise status.conflict(
                    rt,
                    name,
                    f"Precondition failed: UID in precondition: {preconditions['uid']}, UID in "
                    f"object meta: {old_meta['uid']}",
                )
            if (
                preconditions.get("resourceVersion")
                and preconditions["resourceVersion"] != old_meta["resourceVersion"]
            ):
                raise status.conflict(
                    rt,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                    f"{old_meta['resourceVersion']}",
                )
            finalizers = list(old_meta.get("finalizers") or [])
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            key = self._key(rt, namespace, name)
            if old_meta.get("deletionTimestamp"):
                return 200, old
            if finalizers:
                pending = copy.deepcopy(old)
                pending_meta = pending["metadata"]
                pending_meta["deletionTimestamp"] = meta.now()
                pending_meta["deletionGracePeriodSeconds"] = 0
                pending_meta["finalizers"] = finalizers
                if pending_meta.get("generation"):
                    pending_meta["generation"] = int(pending_meta["generation"]) + 1
                if opts.dry_run:
                    return 200, pending
                stored = self.store.commit(rt, key, pending, event="MODIFIED")
                assert stored is not None
                if "foregroundDeletion" in finalizers or "orphan" in finalizers:
                    self._gc_queue.put(("finalize", (rt, stored)))
                return 200, stored
            if opts.dry_run:
                return 200, old
            gone = self.store.commit(rt, key, None, event="DELETED")
            assert gone is not None
            self._collect_dependents(gone)
            if rt.plural in _RETURNS_DELETED_OBJECT:
                return 200, gone
            details: dict[str, Any] = {"name": name}
            if rt.group:
                details["group"] = rt.group
            details["kind"] = rt.plural
            details["uid"] = old_meta["uid"]
            return 200, {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None,
        field_selector: str | None,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """DELETE on a collection: each matching object as a single DELETE; the list back."""
        listed = self.list(
            rt, namespace, label_selector=label_selector, field_selector=field_selector
        )
        for item in listed["items"]:
            item_meta = item["metadata"]
            try:
                self.delete(rt, item_meta.get("namespace"), item_meta["name"], options)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return listed

    def ensure_namespace(self, name: str) -> dict[str, Any]:
        """Create a namespace unless it exists (for test setup)."""
        existing = self.find(NAMESPACES, None, name)
        if existing is not None:
            return existing
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        return self.create(NAMESPACES, None, body, WriteOptions(manager="fake-kube")).obj

    # ---------------------------------------------------------------------------------------
    # Admission steps

    @staticmethod
    def _check_identity(
        rt: ResourceType, namespace: str | None, name: str, obj: dict[str, Any]
    ) -> None:
        """``checkName``: the body must name the object of the URL (400 otherwise)."""
        metadata = obj["metadata"]
        if metadata.get("name") != name:
            raise status.bad_request(
                f"the name of the object ({metadata.get('name') or ''}) does not match the name "
                f"on the URL ({name})"
            )
        if rt.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise status.bad_request(
                    f"the namespace of the object ({metadata['namespace']}) does not match the "
                    f"namespace on the request ({namespace})"
                )
            metadata["namespace"] = namespace

    @staticmethod
    def _key(rt: ResourceType, namespace: str | None, name: str) -> Key:
        return ((namespace or "") if rt.namespaced else "", name)

    @staticmethod
    def _decode(rt: ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise status.bad_request(
                f"json: cannot unmarshal {_json_kind(body)} into Go value of type "
                "map[string]interface {}"
            )
        obj = copy.deepcopy(body)
        if rt.custom:
            if not obj.get("kind"):
                raise status.bad_request(f"Object 'Kind' is missing in '{json.dumps(body)[:200]}'")
            if not obj.get("apiVersion"):
                raise status.bad_request(
                    f"Object 'apiVersion' is missing in '{json.dumps(body)[:200]}'"
                )
        obj.setdefault("kind", rt.kind)
        obj.setdefault("apiVersion", rt.api_version)
        if obj["apiVersion"] != rt.api_version:
            raise status.bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        if obj["kind"] != rt.kind:
            raise status.bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind ({rt.kind})"
            )
        metadata = obj.get("metadata")
        if metadata is None:
            obj["metadata"] = {}
        elif not isinstance(metadata, dict):
            raise status.bad_request("metadata must be an object")
        builtin_decode(rt, obj)
        return obj

    @staticmethod
    def _prune(rt: ResourceType, obj: dict[str, Any], opts: WriteOptions) -> builtins.list[str]:
        if opts.field_validation not in FIELD_VALIDATION:
            raise status.bad_request(
                f"fieldValidation must be one of {', '.join(FIELD_VALIDATION)}, got "
                f"{opts.field_validation!r}"
            )
        unknown = meta.prune_metadata(obj)
        schema = custom_schema(rt)
        if schema is not None:
            unknown += schema.prune(obj)
        if not unknown or opts.field_validation == "Ignore":
            return []
        if opts.field_validation == "Strict":
            listed = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise status.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {listed}"
            )
        return [f'unknown field "{path}"' for path in unknown]

    @staticmethod
    def _default(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        schema = custom_schema(rt)
        if schema is not None:
            schema.default(obj)
        else:
            builtin_defaults(rt, obj, old)

    @staticmethod
    def _validate(
        rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> builtins.list[Cause]:
        schema = custom_schema(rt)
        if schema is None:
            return builtin_validate(rt, obj, old)
        causes = schema.validate(obj)
        # List-type rules ratchet on update: only enforced if the old object satisfied them.
        if old is None or not schema.list_type_errors(old):
            causes += schema.list_type_errors(obj)
        return causes

    # ---------------------------------------------------------------------------------------
    # Garbage collection (asynchronous, as the controller-manager's)

    def _collect_dependents(self, owner: dict[str, Any]) -> None:
        self._gc_queue.put(("orphaned", owner["metadata"]["uid"]))

    def _gc_loop(self) -> None:
        while True:
            job = self._gc_queue.get()
            if job is None:
                return
            try:
                kind, payload = job
                if kind == "orphaned":
                    self._delete_dependents(str(payload))
                elif kind == "finalize":
                    self._finalize(*payload)
            except Exception:
                import traceback

                traceback.print_exc()

    def _live_uids(self) -> set[str]:
        uids: set[str] = set()
        for rt in ALL_TYPES:
            items, _ = self.store.list(rt, None)
            uids.update(i["metadata"]["uid"] for i in items)
        return uids

    def _dependents(self, uid: str) -> builtins.list[tuple[ResourceType, dict[str, Any]]]:
        found = []
        for rt in ALL_TYPES:
            items, _ = self.store.list(rt, None)
            for item in items:
                refs = item["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):
                    found.append((rt, item))
        return found

    def _delete_dependents(self, uid: str) -> None:
        live = self._live_uids()
        for rt, item in self._dependents(uid):
            refs = item["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") in live for ref in refs if ref.get("uid") != uid):
                continue
            try:
                self.delete(
                    rt,
                    item["metadata"].get("namespace"),
                    item["metadata"]["name"],
                    {"propagationPolicy": "Background"},
                    WriteOptions(manager="garbage-collector"),
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise

    def _finalize(self, rt: ResourceType, owner: dict[str, Any]) -> None:
        """One pass of the ``orphan``/``foregroundDeletion`` finalizers; requeued until done."""
        uid = owner["metadata"]["uid"]
        finalizers = owner["metadata"].get("finalizers") or []
        gc = WriteOptions(manager="garbage-collector")
        dependents = self._dependents(uid)
        for dep_rt, item in dependents:
            dep_meta = item["metadata"]
            if "orphan" in finalizers:
                refs = [r for r in dep_meta.get("ownerReferences") or [] if r.get("uid") != uid]
                self._patch_quietly(
                    dep_rt, item, {"metadata": {"ownerReferences": refs or None}}, gc
                )
            elif not dep_meta.get("deletionTimestamp"):
                # Dependents are deleted in the background here (the real GC recurses in the
                # foreground); the owner still waits until all of them are gone.
                try:
                    self.delete(
                        dep_rt,
                        dep_meta.get("namespace"),
                        dep_meta["name"],
                        {"propagationPolicy": "Background"},
                        gc,
                    )
                except ApiError as exc:
                    if exc.code != 404:
                        raise
        if "orphan" not in finalizers and self._dependents(uid):
            timer = threading.Timer(0.05, self._gc_queue.put, args=(("finalize", (rt, owner)),))
            timer.daemon = True
            timer.start()
            return
        current = self.find(rt, owner["metadata"].get("namespace"), owner["metadata"]["name"])
        if current is None or current["metadata"].get("uid") != uid:
            return
        remaining = [
            f
            for f in current["metadata"].get("finalizers") or []
            if f not in ("orphan", "foregroundDeletion")
        ]
        self._patch_quietly(rt, current, {"metadata": {"finalizers": remaining or None}}, gc)

    def _patch_quietly(
        self, rt: ResourceType, obj: dict[str, Any], patch: dict[str, Any], opts: WriteOptions
    ) -> None:
        try:
            self.patch(
                rt,
                obj["metadata"].get("namespace"),
                obj["metadata"]["name"],
                json.dumps(patch).encode(),
                MERGE_PATCH,
                opts,
            )
        except ApiError as exc:
            if exc.code != 404:
                raise


def _without_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "metadata"}


def _same(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Equal apart from the bookkeeping the server itself rewrites."""

    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        copy_ = dict(obj)
        m = dict(copy_.get("metadata") or {})
        m.pop("managedFields", None)
        m.pop("resourceVersion", None)
        copy_["metadata"] = m
        return copy_

    return strip(new) == strip(old)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null"
