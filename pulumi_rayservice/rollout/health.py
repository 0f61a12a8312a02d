"""The health gates and Serve capacities of a rollout, against real clusters.

``ServeHealth`` is the rollout's :class:`~.runner.HealthCheck`: it waits (up to the gates'
``ready_timeout_s``) for every app of the service to be RUNNING on the new cluster with its
replicas up at the capacity just set, then sends the user's HTTP probes to the new cluster's
serve Service through the API server's service proxy (so ``pulumi up`` needs nothing but a
kubeconfig, as for the dashboard), then asks Prometheus. ``ServeCapacities`` is its
:class:`~.runner.CapacityControl`: each cluster's ``target_capacity`` through its dashboard,
written by the deployer's locked, verified read-merge-write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import HTTPError

from .._util.bounded_http import request_deadline
from .._util.http_failures import no_answer
from .._util.polling import CLEANUP_TIMEOUT_S, Deadline
from .._util.text import clip
from ..kube.transport import HttpRequest
from ..serve.client import DashboardClient
from ..serve.deployer import ServeDeployer
from ..serve.status import AppState, ServeSnapshot
from .gates import Answer, GateResult, apps_healthy, prometheus_value
from .options import HealthGates

POLL_S = 1.0
PROMETHEUS_TIMEOUT_S = 10.0


@dataclass
class ServiceProbe:
    """Requests to one Service through ``client`` (a client of that Service's proxy path)."""

    client: DashboardClient

    def __call__(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout_s: float,
    ) -> Answer:
        """One request; no answer (refused, cut by ``timeout_s``) is status 0 and the reason."""
        request = HttpRequest(
            method,
            self.client.base_url + path,
            {**self.client.headers, **headers},
            body,
            connect_s=min(5.0, timeout_s),
            read_s=timeout_s,
        )
        with request_deadline(timeout_s) as scope:
            try:
                reply = self.client.transport.send(request)
            except (HTTPError, OSError) as error:
                return Answer(0, no_answer(error, cut=scope.cut, limit_s=timeout_s).problem)
        if scope.cut:
            return Answer(0, f"no complete answer within {timeout_s:g}s")
        return Answer(reply.status, reply.text)


def prometheus_query(url: str) -> Callable[[str], float | None]:
    """A ``Query`` asking the Prometheus at ``url`` (its ``/api/v1/query``)."""

    def query(promql: str) -> float | None:
        reply = requests.get(
            f"{url}/api/v1/query", params={"query": promql}, timeout=PROMETHEUS_TIMEOUT_S
        )
        try:
            answer: Any = reply.json()
        except ValueError:
            raise ValueError(f"HTTP {reply.status_code} {clip(reply.text, 120)}") from None
        return prometheus_value(answer)

    return query


@dataclass
class ServeHealth:
    """The gates on the new cluster: its apps, the user's probes, Prometheus."""

    apps: Sequence[str]
    gates: HealthGates
    read_apps: Callable[[], Mapping[str, AppState]]
    send: Callable[[str, str, Mapping[str, str], bytes | None, float], Answer]
    query: Callable[[str], float | None] | None = None
    poll_s: float = POLL_S
    clock: Callable[[], float] = time.monotonic

    def check(self, cluster: str, step: int) -> list[GateResult]:
        """Wait for the apps, then run every gate; stop at the first that fails."""
        started = self.clock()
        deadline = Deadline(self.gates.ready_timeout_s)
        while True:
            try:
                ready = apps_healthy(self.read_apps(), self.apps)
            except Exception as error:  # the dashboard failing is a failed gate, said so
                ready = GateResult(
                    "apps healthy", False, f"reading Serve failed: {clip(error, 200)}"
                )
            if ready.passed or not deadline.sleep(self.poll_s):
                break
        if not ready.passed:
            waited = self.clock() - started
            return [
                GateResult(ready.gate, False, f"{ready.evidence} (still so after {waited:.0f}s)")
            ]
        results = [ready]
        for probe in self.gates.probes:
            results.append(probe.check(self.send))
            if not results[-1].passed:
                return results
        if self.gates.prometheus is not None and self.query is not None:
            results.append(self.gates.prometheus.check(self.query))
        return results


@dataclass
class ServeCapacities:
    """Each cluster's Serve ``target_capacity``, read and written through its dashboard."""

    deployers: Mapping[str, Callable[[], ServeDeployer]]
    """Cluster name -> a factory of a deployer for its dashboard (one per call: it holds a pool)."""
    ours: Collection[str]
    """The apps of this service: the only apps a capacity may scale."""
    deadline: Deadline

    def capacity(self, cluster: str) -> int | None:
        """The cluster's current ``target_capacity`` (None: never set)."""
        with self.deployers[cluster]() as deployer:
            snapshot: ServeSnapshot = deployer.snapshot(self.deadline)
        value = snapshot.settings.get("target_capacity")
        return round(value) if isinstance(value, int | float) else None

    def set_capacity(self, cluster: str, percent: int) -> None:
        """Set it; only where every app is one of ours (the deployer refuses otherwise)."""
        # At least the cleanup's time: a rollback's write happens even when the budget is spent.
        deadline = self.deadline.at_least(CLEANUP_TIMEOUT_S)
        with self.deployers[cluster]() as deployer:
            deployer.set_target_capacity(percent, ours=self.ours, deadline=deadline)
