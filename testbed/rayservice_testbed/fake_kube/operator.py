"""A stand-in for the KubeRay operator (and for the kubelet of its pods).

It reacts to RayClusters the way KubeRay's RayCluster controller does, writing only through the
fake's API rules (``Registry``), so every status, service, pod and event it produces passes the
same admission as a client's write (its status is validated against the real CRD schema too):

- creates ``<name>-head-svc`` (headless, ports dashboard 8265, gcs-server 6379, client 10001,
  metrics 8080, serve 8000, overridable by the head container's named ports), and
  ``<name>-serve-svc`` when annotated ``ray.io/enable-serve-service: "true"``;
- creates a head pod and worker pods (objects only) with KubeRay's labels and owner references;
- starts a REAL local Ray head per cluster (at most ``max_parallel_starts`` at once) and routes
  the service proxy to it once the head pod is "ready";
- writes status as KubeRay's ``calculateStatus``: ``state: ready`` (once, never unset),
  conditions ``HeadPodReady``/``RayClusterProvisioned``/``RayClusterSuspended``/
  ``RayClusterSuspending``, ``head``, ``endpoints``, worker counts, desired resources,
  ``observedGeneration``, ``lastUpdateTime``; only when something meaningful changed;
- records Events as KubeRay (``CreatedService``, ``CreatedHeadPod``...) and the kubelet
  (``Scheduled``, ``Pulled``, ``Failed``/``BackOff`` for image pulls, ``Unhealthy``) would;
- GCS fault tolerance: adds ``ray.io/gcs-ft-redis-cleanup-finalizer``, and on deletion deletes
  the pods, then removes it after ``finalizer_delay_s``;
- applies KubeRay's own metadata/spec checks (name <= 53 characters and DNS-1035, containers
  present, min <= max): an invalid cluster gets a Warning event and nothing else, as for real.

Scenarios (per cluster, from the annotation or label ``fake-kube.test/scenario`` = ``ready`` |
``never_ready`` | ``image_pull_error``, ``fake-kube.test/ready-delay-s``,
``fake-kube.test/finalizer-delay-s``, else a name pattern set with :meth:`set_scenario`, else
the operator's default ``scenario``).

Not emulated: real worker nodes (worker pods are objects only; Ray sees just the head, started
with the cluster's total CPUs), pod recreation on template changes (KubeRay's default
``upgradeStrategy`` does not recreate either), the autoscaler, Redis cleanup jobs, ingress,
network policies, mTLS and auth secrets.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import itertools
import logging
import re
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from . import meta
from .kuberay import (
    GCS_FT_FINALIZER,
    NODE_NAME,
    POD_TEMPLATE_HASH,
    cluster_cpus,
    cluster_labels,
    desired_resources,
    event_manifest,
    first_image,
    gcs_ft_enabled,
    group_desired,
    head_pod_ready_condition,
    head_service,
    hosts,
    int_or_zero,
    keep_transition_times,
    only_status_change,
    operator_validation,
    pod_manifest,
    pod_ready,
    pod_status,
    serve_service,
    strip_times,
    template_hash,
)
from .meta import set_condition
from .registry import Registry, WriteOptions
from .resources import EVENTS, PODS, RAYCLUSTERS, SERVICES, ResourceType
from .status import ApiError
from .store import StoredEvent

if TYPE_CHECKING:
    from rayservice_testbed.harness.ray_head import RayHead

log = logging.getLogger("fake_kube.operator")

SCENARIO_KEY = "fake-kube.test/scenario"
READY_DELAY_KEY = "fake-kube.test/ready-delay-s"
FINALIZER_DELAY_KEY = "fake-kube.test/finalizer-delay-s"
ENABLE_SERVE_SERVICE = "ray.io/enable-serve-service"


_OPERATOR = WriteOptions(manager="kuberay-operator")
_KUBELET = WriteOptions(manager="kubelet")

Mode = Literal["ready", "never_ready", "image_pull_error"]


@dataclass(frozen=True)
class Scenario:
    """How a cluster behaves.

    Attributes:
        mode: ``ready`` (a real Ray head, ready after ``ready_delay_s``), ``never_ready`` (head
            pod running but its readiness probe fails forever) or ``image_pull_error`` (head pod
            stuck in ``ImagePullBackOff``).
        ready_delay_s: Extra seconds (after the Ray head is up) before the head pod turns ready.
        finalizer_delay_s: Seconds the GCS FT finalizer is held after deletion starts.
        reconcile_delay_s: Seconds the operator lags behind a change of the RayCluster (so
            ``status.observedGeneration`` trails ``metadata.generation`` for that long).
        gcs_ft_finalizer: Add the GCS FT finalizer even without ``gcsFaultToleranceOptions``.

    """

    mode: Mode = "ready"
    ready_delay_s: float = 0.0
    finalizer_delay_s: float = 0.0
    reconcile_delay_s: float = 0.0
    gcs_ft_finalizer: bool = False


@dataclass
class ClusterRuntime:
    """What the operator keeps per RayCluster (by uid)."""

    uid: str
    namespace: str
    name: str
    scenario: Scenario
    created_at: float = field(default_factory=time.monotonic)
    head: RayHead | None = None
    head_error: str | None = None
    starting: bool = False
    cancelled: bool = False
    head_up_at: float | None = None
    pod_ready: bool = False
    finalizer_due: float | None = None
    events_sent: set[str] = field(default_factory=set)


class FakeKubeRay:
    """The stand-in operator; ``start()`` subscribes it to the fake's store."""

    def __init__(
        self,
        registry: Registry,
        *,
        ray_heads: bool = True,
        max_parallel_starts: int = 2,
        head_start_timeout_s: float = 120.0,
        max_head_cpus: int = 16,
    ) -> None:
        """Create the operator (not started).

        Args:
            registry: The fake's API rules and store.
            ray_heads: Start a real Ray head per cluster. Without, pods turn ready without any
                Ray process (status flows only; the service proxy then has no endpoints).
            max_parallel_starts: How many Ray heads may be starting at once.
            head_start_timeout_s: Give up on a Ray head that is not up in this time.
            max_head_cpus: Cap on the logical CPUs given to a head (the cluster's total).

        """
        self.registry = registry
        self.ray_heads = ray_heads
        self.head_start_timeout_s = head_start_timeout_s
        self.max_head_cpus = max_head_cpus
        self.scenario = Scenario()
        self.errors: list[str] = []
        self._patterns: list[tuple[re.Pattern[str], Scenario]] = []
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, tuple[str, str]]] = []
        self._due: dict[tuple[str, str], float] = {}
        self._seq = itertools.count()
        self._runtimes: dict[tuple[str, str], ClusterRuntime] = {}
        self._start_slots = threading.Semaphore(max_parallel_starts)
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self._worker: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------
    # Lifecycle and settings

    def start(self) -> None:
        """Subscribe to changes and start reconciling (existing clusters included)."""
        self._stopped.clear()
        self.registry.store.subscribe(self._on_event)
        self._worker = threading.Thread(target=self._loop, name="fake-kuberay", daemon=True)
        self._worker.start()
        items, _ = self.registry.store.list(RAYCLUSTERS, None)
        for item in items:
            self._enqueue((item["metadata"]["namespace"], item["metadata"]["name"]), 0.0)

    def stop(self) -> None:
        """Stop reconciling and end every Ray head this operator started."""
        self.registry.store.unsubscribe(self._on_event)
        self._stopped.set()
        with self._wake:
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)
        with self._lock:
            runtimes = list(self._runtimes.values())
            self._runtimes.clear()
        for runtime in runtimes:
            self._teardown(runtime)
        for thread in list(self._threads):
            thread.join(timeout=self.head_start_timeout_s + 30)

    def set_scenario(self, name_pattern: str, scenario: Scenario) -> None:
        """Use ``scenario`` for clusters whose name fully matches ``name_pattern`` (regex)."""
        with self._lock:
            self._patterns.insert(0, (re.compile(name_pattern), scenario))

    def head(self, namespace: str, name: str) -> RayHead | None:
        """The Ray head running for a cluster, if up."""
        with self._lock:
            runtime = self._runtimes.get((namespace, name))
            return runtime.head if runtime else None

    def endpoints(self, namespace: str, service: str) -> dict[str, str | None]:
        """Endpoints of a service for the service proxy: port name -> backend URL.

        As the endpoints controller: only a head pod with an IP counts, a not-ready one only
        when the service publishes not-ready addresses (KubeRay's head service does). A backend
        of None is an address nothing listens on (no Ray head up, or a port that is not HTTP).
        """
        svc = self.registry.find(SERVICES, namespace, service)
        if svc is None:
            return {}
        spec = svc.get("spec") or {}
        selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
        if not selector:
            return {}
        pods = self.registry.list(PODS, namespace, label_selector=selector)["items"]
        head_pods = [
            p
            for p in pods
            if (p["metadata"].get("labels") or {}).get("ray.io/node-type") == "head"
            and (p.get("status") or {}).get("podIP")
            and not p["metadata"].get("deletionTimestamp")
            and (pod_ready(p) or spec.get("publishNotReadyAddresses"))
        ]
        if not head_pods:
            return {}
        cluster = (head_pods[0]["metadata"].get("labels") or {}).get("ray.io/cluster", "")
        with self._lock:
            runtime = self._runtimes.get((namespace, cluster))
            head = runtime.head if runtime is not None else None
        backends: dict[str, str | None] = {}
        for port in spec.get("ports") or []:
            name = str(port.get("name") or "")
            if head is None:
                backends[name] = None
            elif name == "dashboard":
                backends[name] = head.dashboard_url
            elif name == "serve":
                backends[name] = head.serve_url
            else:
                backends[name] = None
        return backends

    # ---------------------------------------------------------------------------------------
    # Work queue

    def _on_event(self, event: StoredEvent) -> None:
        if event.rt is RAYCLUSTERS:
            if event.type == "MODIFIED" and event.prev is not None and only_status_change(event):
                return
            key = (event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])
            delay = self._scenario_for(event.obj).reconcile_delay_s
            self._enqueue(key, delay)
        elif event.rt in (PODS, SERVICES):
            cluster = (event.obj["metadata"].get("labels") or {}).get("ray.io/cluster")
            if cluster:
                self._enqueue((event.obj["metadata"]["namespace"], cluster), 0.0)

    def _enqueue(self, key: tuple[str, str], delay: float) -> None:
        with self._wake:
            due = time.monotonic() + delay
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            heapq.heappush(self._heap, (due, next(self._seq), key))
            self._wake.notify_all()

    def _next(self) -> tuple[str, str] | None:
        with self._wake:
            while not self._stopped.is_set():
                if self._heap:
                    due, _, key = self._heap[0]
                    if self._due.get(key) != due:
                        heapq.heappop(self._heap)
                        continue
                    wait = due - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        del self._due[key]
                        return key
                    self._wake.wait(min(wait, 0.5))
                else:
                    self._wake.wait(0.5)
        return None

    def _loop(self) -> None:
        while True:
            key = self._next()
            if key is None:
                return
            try:
                self._reconcile(key)
            except ApiError as exc:
                if exc.code not in (404, 409):
                    self._record_error(f"reconcile {key}: {exc}")
                self._enqueue(key, 0.2)
            except Exception:
                self._record_error(f"reconcile {key}:\n{traceback.format_exc()}")
                self._enqueue(key, 1.0)

    def _record_error(self, message: str) -> None:
        log.error("%s", message)
        with self._lock:
            self.errors.append(message)

    # ---------------------------------------------------------------------------------------
    # Reconcile

    def _scenario_for(self, obj: dict[str, Any]) -> Scenario:
        m = obj["metadata"]
        settings = {**(m.get("labels") or {}), **(m.get("annotations") or {})}
        with self._lock:
            scenario = next(
                (s for p, s in self._patterns if p.fullmatch(m.get("name", ""))), self.scenario
            )
        mode = settings.get(SCENARIO_KEY)
        if mode in ("ready", "never_ready", "image_pull_error"):
            scenario = replace(scenario, mode=mode)
        with contextlib.suppress(ValueError):
            if READY_DELAY_KEY in settings:
                scenario = replace(scenario, ready_delay_s=float(settings[READY_DELAY_KEY]))
            if FINALIZER_DELAY_KEY in settings:
                delay = float(settings[FINALIZER_DELAY_KEY])
                scenario = replace(scenario, finalizer_delay_s=delay)
        return scenario

    def _reconcile(self, key: tuple[str, str]) -> None:
        namespace, name = key
        obj = self.registry.find(RAYCLUSTERS, namespace, name)
        with self._lock:
            runtime = self._runtimes.get(key)
            if runtime is not None and (obj is None or runtime.uid != obj["metadata"]["uid"]):
                del self._runtimes[key]
                self._teardown(runtime)
                runtime = None
            if obj is None:
                return
            if runtime is None:
                runtime = ClusterRuntime(
                    uid=obj["metadata"]["uid"],
                    namespace=namespace,
                    name=name,
                    scenario=self._scenario_for(obj),
                )
                self._runtimes[key] = runtime
        runtime.scenario = self._scenario_for(obj)  # settings may change while it runs
        metadata = obj["metadata"]
        if metadata.get("deletionTimestamp"):
            self._handle_deletion(obj, runtime)
            return
        problem = operator_validation(obj)
        if problem:
            reason, message = problem
            self._event(obj, runtime, "Warning", reason, message, once=message)
            return
        finalizers = list(metadata.get("finalizers") or [])
        wants_finalizer = gcs_ft_enabled(obj) or runtime.scenario.gcs_ft_finalizer
        if wants_finalizer and GCS_FT_FINALIZER not in finalizers:
            self._merge_patch(
                RAYCLUSTERS, obj, {"metadata": {"finalizers": [*finalizers, GCS_FT_FINALIZER]}}
            )
            return
        self._ensure_services(obj, runtime)
        if (obj.get("spec") or {}).get("suspend") is True:
            self._suspend(obj, runtime)
            return
        if ((obj.get("spec") or {}).get("upgradeStrategy") or {}).get("type") == "Recreate":
            self._recreate_changed_pods(obj, runtime)
        head_pod = self._ensure_head_pod(obj, runtime)
        self._drive_head_pod(obj, runtime, head_pod)
        self._ensure_workers(obj, runtime)
        self._write_status(obj, runtime)

    # -- deletion and suspension --------------------------------------------------------------

    def _handle_deletion(self, obj: dict[str, Any], runtime: ClusterRuntime) -> None:
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if GCS_FT_FINALIZER not in finalizers:
            return  # KubeRay ignores a cluster being deleted; the GC removes its pods later
        self._teardown(runtime)
        self._delete_pods(obj, runtime, node_type=None)
        now = time.monotonic()
        if runtime.finalizer_due is None:
            runtime.finalizer_due = now + runtime.scenario.finalizer_delay_s
        if now < runtime.finalizer_due:
            self._enqueue((runtime.namespace, runtime.name), runtime.finalizer_due - now)
            return
        remaining = [f for f in finalizers if f != GCS_FT_FINALIZER]
        self._merge_patch(RAYCLUSTERS, obj, {"metadata": {"finalizers": remaining or None}})

    def _suspend(self, obj: dict[str, Any], runtime: ClusterRuntime) -> None:
        self._teardown(runtime, keep_runtime=True)
        self._delete_pods(obj, runtime, node_type=None)
        self._write_status(obj, runtime)

    def _teardown(self, runtime: ClusterRuntime, *, keep_runtime: bool = False) -> None:
        """Stop the cluster's Ray head in the background (it takes seconds)."""
        with self._lock:
            head, runtime.head = runtime.head, None
            runtime.pod_ready = False
            runtime.head_up_at = None
            if not keep_runtime:
                runtime.cancelled = True
        if head is not None:
            thread = threading.Thread(target=head.stop, name=f"stop-{runtime.name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    # -- services -----------------------------------------------------------------------------

    def _ensure_services(self, obj: dict[str, Any], runtime: ClusterRuntime) -> None:
        self._create_once(SERVICES, obj, runtime, head_service(obj))
        annotations = obj["metadata"].get("annotations") or {}
        if annotations.get(ENABLE_SERVE_SERVICE) == "true":
            self._create_once(SERVICES, obj, runtime, serve_service(obj))

    def _create_once(
        self, rt: ResourceType, owner: dict[str, Any], runtime: ClusterRuntime, body: dict[str, Any]
    ) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if self.registry.find(rt, namespace, name) is not None:
            return
        try:
            self.registry.create(rt, namespace, body, _OPERATOR)
        except ApiError as exc:
            if exc.code != 409:
                raise
            return
        self._event(
            owner, runtime, "Normal", "CreatedService", f"Created service {namespace}/{name}"
        )

    # -- pods -----------------------------------------------------------------------------------

    def _cluster_pods(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        listed = self.registry.list(
            PODS,
            obj["metadata"]["namespace"],
            label_selector=f"ray.io/cluster={obj['metadata']['name']}",
        )
        return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]

    def _ensure_head_pod(self, obj: dict[str, Any], runtime: ClusterRuntime) -> dict[str, Any]:
        for pod in self._cluster_pods(obj):
            if (pod["metadata"].get("labels") or {}).get("ray.io/node-type") == "head":
                return pod
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        head_spec = (obj.get("spec") or {}).get("headGroupSpec") or {}
        with self._lock:  # a new head pod starts unready, whatever the Ray head does
            runtime.head_up_at = None
            runtime.pod_ready = False
        pod = self._create_pod(
            obj,
            head_spec.get("template") or {},
            f"{name}-head-",
            cluster_labels(name, "head", group="headgroup"),
        )
        self._event(
            obj,
            runtime,
            "Normal",
            "CreatedHeadPod",
            f"Created head Pod {namespace}/{pod['metadata']['name']}",
        )
        return pod

    def _create_pod(
        self,
        obj: dict[str, Any],
        template: dict[str, Any],
        generate_name: str,
        labels: dict[str, str],
    ) -> dict[str, Any]:
        body = pod_manifest(obj, template, generate_name, labels)
        body["metadata"]["annotations"][POD_TEMPLATE_HASH] = template_hash(template)
        return self.registry.create(PODS, obj["metadata"]["namespace"], body, _OPERATOR).obj

    def _recreate_changed_pods(self, obj: dict[str, Any], runtime: ClusterRuntime) -> None:
        """``upgradeStrategy: Recreate``: a changed pod template replaces every pod.

        The Ray head process is kept (a real cluster would start a new one); the head pod is
        recreated and unready again for ``ready_delay_s``.
        """
        spec = obj.get("spec") or {}
        templates = {"headgroup": (spec.get("headGroupSpec") or {}).get("template") or {}}
        for group in spec.get("workerGroupSpecs") or []:
            templates[str(group.get("groupName"))] = group.get("template") or {}
        pods = self._cluster_pods(obj)
        for pod in pods:
            group = (pod["metadata"].get("labels") or {}).get("ray.io/group", "")
            current = (pod["metadata"].get("annotations") or {}).get(POD_TEMPLATE_HASH)
            if group in templates and current != template_hash(templates[group]):
                self._delete_pods(obj, runtime, node_type=None)
                return

    def _drive_head_pod(
        self, obj: dict[str, Any], runtime: ClusterRuntime, pod: dict[str, Any]
    ) -> None:
        """Play the kubelet: move the head pod through the states of the cluster's scenario."""
        scenario = runtime.scenario
        image = first_image(pod)
        pod_name = pod["metadata"]["name"]
        self._pod_event(
            pod,
            runtime,
            "Normal",
            "Scheduled",
            f"Successfully assigned {pod['metadata']['namespace']}/{pod_name} to {NODE_NAME}",
            "default-scheduler",
        )
        if scenario.mode == "image_pull_error":
            self._set_pod_status(pod, pod_status("image_pull_error", image))
            for reason, message in (
                (
                    "Failed",
                    f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                    f'failed to pull and unpack image "{image}": not found',
                ),
                ("Failed", "Error: ErrImagePull"),
                ("BackOff", f'Back-off pulling image "{image}"'),
                ("Failed", "Error: ImagePullBackOff"),
            ):
                kind = "Normal" if reason == "BackOff" else "Warning"
                self._pod_event(pod, runtime, kind, reason, message, "kubelet")
            return
        self._pod_event(
            pod,
            runtime,
            "Normal",
            "Pulled",
            f'Container image "{image}" already present on machine',
            "kubelet",
        )
        self._pod_event(pod, runtime, "Normal", "Created", "Created container: ray-head", "kubelet")
        self._pod_event(pod, runtime, "Normal", "Started", "Started container ray-head", "kubelet")
        if scenario.mode == "never_ready":
            self._set_pod_status(pod, pod_status("not_ready", image))
            self._pod_event(
                pod,
                runtime,
                "Warning",
                "Unhealthy",
                "Readiness probe failed: success not found in the health check output",
                "kubelet",
            )
            return
        if runtime.head_error:
            self._set_pod_status(pod, pod_status("crash", image, runtime.head_error))
            return
        if self.ray_heads and runtime.head is None:
            self._set_pod_status(pod, pod_status("not_ready", image))
            if not runtime.starting:
                runtime.starting = True
                thread = threading.Thread(
                    target=self._start_head,
                    args=(runtime, cluster_cpus(obj, self.max_head_cpus)),
                    name=f"ray-head-{runtime.name}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()
            return
        if runtime.head_up_at is None:
            runtime.head_up_at = time.monotonic()
        ready_at = runtime.head_up_at + scenario.ready_delay_s
        if time.monotonic() < ready_at:
            self._set_pod_status(pod, pod_status("not_ready", image))
            self._enqueue((runtime.namespace, runtime.name), ready_at - time.monotonic())
            return
        self._set_pod_status(pod, pod_status("ready", image))
        with self._lock:
            runtime.pod_ready = True

    def _start_head(self, runtime: ClusterRuntime, num_cpus: int) -> None:
        from rayservice_testbed.harness.ray_head import RayHead

        with self._start_slots:
            if runtime.cancelled or self._stopped.is_set():
                runtime.starting = False
                return
            try:
                head = RayHead.start(num_cpus=num_cpus, timeout_s=self.head_start_timeout_s)
            except Exception as exc:
                runtime.head_error = f"{type(exc).__name__}: {str(exc)[-1500:]}"
                self._record_error(f"Ray head for {runtime.namespace}/{runtime.name}: {exc}")
            else:
                with self._lock:
                    keep = not runtime.cancelled and not self._stopped.is_set()
                    if keep:
                        runtime.head = head
                        runtime.head_up_at = time.monotonic()
                if not keep:
                    head.stop()
            finally:
                runtime.starting = False
        self._enqueue((runtime.namespace, runtime.name), 0.0)

    def _ensure_workers(self, obj: dict[str, Any], runtime: ClusterRuntime) -> None:
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        pods = [
            p
            for p in self._cluster_pods(obj)
            if (p["metadata"].get("labels") or {}).get("ray.io/node-type") == "worker"
        ]
        groups = (obj.get("spec") or {}).get("workerGroupSpecs") or []
        wanted_groups = {g.get("groupName") for g in groups}
        for pod in pods:
            if (pod["metadata"].get("labels") or {}).get("ray.io/group") not in wanted_groups:
                self._delete_pod(obj, runtime, pod)
        for group in groups:
            group_name = str(group.get("groupName"))
            mine = [
                p
                for p in pods
                if (p["metadata"].get("labels") or {}).get("ray.io/group") == group_name
            ]
            desired = group_desired(group)
            to_delete = set(((group.get("scaleStrategy") or {}).get("workersToDelete")) or [])
            for pod in [p for p in mine if p["metadata"]["name"] in to_delete]:
                self._delete_pod(obj, runtime, pod)
                mine.remove(pod)
            while len(mine) > desired:
                self._delete_pod(obj, runtime, mine.pop())
            while len(mine) < desired:
                pod = self._create_pod(
                    obj,
                    group.get("template") or {},
                    f"{name}-{group_name}-worker-",
                    cluster_labels(name, "worker", group=group_name),
                )
                self._event(
                    obj,
                    runtime,
                    "Normal",
                    "CreatedWorkerPod",
                    f"Created worker Pod {namespace}/{pod['metadata']['name']}",
                )
                mine.append(pod)
            state = {
                "ready": "ready",
                "never_ready": "not_ready",
                "image_pull_error": "image_pull_error",
            }[runtime.scenario.mode]
            if state == "ready" and not runtime.pod_ready:
                state = "not_ready"
            for pod in mine:
                self._set_pod_status(
                    pod, pod_status(state, first_image(pod), container="ray-worker")
                )

    def _delete_pod(
        self, obj: dict[str, Any], runtime: ClusterRuntime, pod: dict[str, Any]
    ) -> None:
        try:
            self.registry.delete(
                PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], {}, _OPERATOR
            )
        except ApiError as exc:
            if exc.code != 404:
                raise
            return
        node_type = (pod["metadata"].get("labels") or {}).get("ray.io/node-type")
        reason = "DeletedHeadPod" if node_type == "head" else "DeletedWorkerPod"
        what = "head" if node_type == "head" else "worker"
        self._event(
            obj,
            runtime,
            "Normal",
            reason,
            f"Deleted {what} Pod {pod['metadata']['namespace']}/{pod['metadata']['name']}",
            once=None,
        )

    def _delete_pods(
        self, obj: dict[str, Any], runtime: ClusterRuntime, node_type: str | None
    ) -> None:
        for pod in self._cluster_pods(obj):
            if (
                node_type is None
                or (pod["metadata"].get("labels") or {}).get("ray.io/node-type") == node_type
            ):
                self._delete_pod(obj, runtime, pod)

    def _set_pod_status(self, pod: dict[str, Any], pod_status: dict[str, Any]) -> None:
        current = self.registry.find(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None:
            return
        old = current.get("status") or {}
        merged = keep_transition_times(old, pod_status)
        merged.setdefault("qosClass", old.get("qosClass", "BestEffort"))
        if "startTime" in old:
            merged.setdefault("startTime", old["startTime"])
        if strip_times(old) == strip_times(merged):
            return
        body = {**current, "status": merged}
        self.registry.update(
            PODS,
            current["metadata"]["namespace"],
            current["metadata"]["name"],
            body,
            _KUBELET,
            subresource="status",
        )

    # -- status ---------------------------------------------------------------------------------

    def _write_status(self, obj: dict[str, Any], runtime: ClusterRuntime) -> None:
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        current = self.registry.find(RAYCLUSTERS, namespace, name)
        if current is None or current["metadata"]["uid"] != runtime.uid:
            return
        spec = current.get("spec") or {}
        old = copy.deepcopy(current.get("status") or {})
        new = copy.deepcopy(old)
        pods = self._cluster_pods(current)
        head_pod = next(
            (
                p
                for p in pods
                if (p["metadata"].get("labels") or {}).get("ray.io/node-type") == "head"
            ),
            None,
        )
        workers = [
            p
            for p in pods
            if (p["metadata"].get("labels") or {}).get("ray.io/node-type") == "worker"
        ]
        groups = spec.get("workerGroupSpecs") or []
        new["observedGeneration"] = current["metadata"].get("generation", 1)
        new["readyWorkerReplicas"] = sum(1 for p in workers if pod_ready(p))
        new["availableWorkerReplicas"] = sum(
            1 for p in workers if (p.get("status") or {}).get("phase") == "Running"
        )
        new["desiredWorkerReplicas"] = sum(group_desired(g) for g in groups)
        new["minWorkerReplicas"] = sum(
            int_or_zero(g.get("minReplicas")) * hosts(g) for g in groups if not g.get("suspend")
        )
        new["maxWorkerReplicas"] = sum(
            int_or_zero(g.get("maxReplicas")) * hosts(g) for g in groups if not g.get("suspend")
        )
        new.update(desired_resources(spec))
        suspended = spec.get("suspend") is True
        if (
            not suspended
            and len(pods) == new["desiredWorkerReplicas"] + 1
            and all(pod_ready(p) for p in pods)
        ):
            new["state"] = "ready"
            new.pop("reason", None)
        if suspended and not pods:
            new["state"] = "suspended"
        conditions = list(new.get("conditions") or [])
        if head_pod is None:
            set_condition(
                conditions, "HeadPodReady", "False", "HeadPodNotFound", "Head Pod not found"
            )
        else:
            set_condition(conditions, *head_pod_ready_condition(head_pod))
        provisioned = any(
            c["type"] == "RayClusterProvisioned" and c["status"] == "True" for c in conditions
        )
        if suspended and not pods:
            set_condition(
                conditions,
                "RayClusterProvisioned",
                "False",
                "RayClusterPodsProvisioning",
                "RayCluster has been suspended",
            )
            set_condition(conditions, "RayClusterSuspending", "False", "RayClusterSuspending", "")
            set_condition(conditions, "RayClusterSuspended", "True", "RayClusterSuspended", "")
        else:
            if not provisioned:
                if pods and all(pod_ready(p) for p in pods):
                    set_condition(
                        conditions,
                        "RayClusterProvisioned",
                        "True",
                        "AllPodRunningAndReadyFirstTime",
                        "All Ray Pods are ready for the first time",
                    )
                else:
                    set_condition(
                        conditions,
                        "RayClusterProvisioned",
                        "False",
                        "RayClusterPodsProvisioning",
                        "RayCluster Pods are being provisioned for first time",
                    )
            set_condition(conditions, "RayClusterSuspended", "False", "RayClusterSuspended", "")
            set_condition(conditions, "RayClusterSuspending", "False", "RayClusterSuspending", "")
        new["conditions"] = conditions
        head_svc = self.registry.list(
            SERVICES, namespace, label_selector=f"ray.io/cluster={name},ray.io/node-type=head"
        )["items"]
        endpoints = dict(new.get("endpoints") or {})
        head_info: dict[str, Any] = {}
        if head_pod is not None:
            pod_ip = (head_pod.get("status") or {}).get("podIP")
            if pod_ip:
                head_info["podIP"] = pod_ip
            head_info["podName"] = head_pod["metadata"]["name"]
        if head_svc:
            svc = head_svc[0]
            for port in (svc.get("spec") or {}).get("ports") or []:
                if port.get("name"):
                    endpoints[port["name"]] = str(port.get("targetPort", port.get("port")))
            cluster_ip = (svc.get("spec") or {}).get("clusterIP")
            service_ip = head_info.get("podIP") if cluster_ip == "None" else cluster_ip
            if service_ip:
                head_info["serviceIP"] = service_ip
            head_info["serviceName"] = svc["metadata"]["name"]
        if endpoints:
            new["endpoints"] = endpoints
        new["head"] = head_info
        if new.get("state") != old.get("state") and new.get("state"):
            new.setdefault("stateTransitionTimes", {})[new["state"]] = meta.now()
        if strip_times(old) == strip_times(new):
            return
        new["lastUpdateTime"] = meta.now()
        body = {**current, "status": new}
        self.registry.update(RAYCLUSTERS, namespace, name, body, _OPERATOR, subresource="status")

    # -- events ---------------------------------------------------------------------------------

    def _event(
        self,
        obj: dict[str, Any],
        runtime: ClusterRuntime,
        kind: str,
        reason: str,
        message: str,
        *,
        once: str | None = "",
    ) -> None:
        """Record an Event about the RayCluster (``once``: skip if this key was recorded)."""
        involved = {**obj, "kind": RAYCLUSTERS.kind, "apiVersion": RAYCLUSTERS.api_version}
        self._record_event(involved, runtime, kind, reason, message, "raycluster-controller", once)

    def _pod_event(
        self,
        pod: dict[str, Any],
        runtime: ClusterRuntime,
        kind: str,
        reason: str,
        message: str,
        source: str,
    ) -> None:
        involved = {**pod, "kind": PODS.kind, "apiVersion": PODS.api_version}
        self._record_event(involved, runtime, kind, reason, message, source, "")

    def _record_event(
        self,
        involved: dict[str, Any],
        runtime: ClusterRuntime,
        kind: str,
        reason: str,
        message: str,
        source: str,
        once: str | None,
    ) -> None:
        dedupe = f"{involved['metadata']['uid']}/{reason}/{message if once == '' else once}"
        if once is not None and dedupe in runtime.events_sent:
            return
        runtime.events_sent.add(dedupe)
        body = event_manifest(involved, kind, reason, message, source)
        try:
            self.registry.create(EVENTS, body["metadata"]["namespace"], body, _OPERATOR)
        except ApiError as exc:
            if exc.code != 404:  # the namespace may be gone already
                raise

    # -- helpers --------------------------------------------------------------------------------

    def _merge_patch(self, rt: ResourceType, obj: dict[str, Any], patch: dict[str, Any]) -> None:
        import json

        from .patch import MERGE_PATCH

        patch = {
            **patch,
            "metadata": {
                **patch.get("metadata", {}),
                "resourceVersion": obj["metadata"]["resourceVersion"],
            },
        }
        self.registry.patch(
            rt,
            obj["metadata"]["namespace"],
            obj["metadata"]["name"],
            json.dumps(patch).encode(),
            MERGE_PATCH,
            _OPERATOR,
        )


__all__ = ["FakeKubeRay", "Scenario"]
