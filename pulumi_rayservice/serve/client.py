"""The Ray dashboard's Serve REST API, as a small typed client.

One place turns HTTP into this package's errors: connection failures and 502/503/504 are retried
with backoff (the dashboard answers 503 for a moment while Serve's controller starts, and the API
server's proxy answers 503 until the head Service has an endpoint), 401/403 become
``DashboardAuthError``, a 400 on PUT becomes ``ServeConfigRejectedError`` with Serve's own text.
Requests never look like a browser (the dashboard answers 405 to those), every call has a timeout,
and the token never appears in a message or a log line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from .._version import __version__
from ..errors import (
    DashboardAuthError,
    DashboardError,
    DashboardGoneError,
    DashboardUnreachableError,
    ServeConfigRejectedError,
)
from ..kube.config import http_auth
from .dashboard import DashboardTarget

SERVE_APPLICATIONS = "/api/serve/applications/"
RETRYABLE_STATUS = frozenset({502, 503, 504})
MAX_BODY_IN_MESSAGE = 300
GONE_PROBLEMS = frozenset({"connection refused", "name or service not known"})


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a dashboard that does not answer.

    ``attempts`` bounds the tries of one request; delays grow from ``initial_s`` by ``factor`` up
    to ``max_s``. Defaults ride out a Serve controller start (a few seconds of 503) without hiding
    a dashboard that is really gone for long.
    """

    attempts: int = 6
    initial_s: float = 0.25
    max_s: float = 4.0
    factor: float = 2.0


@dataclass
class DashboardClient:
    """Calls to one Ray dashboard. Build one per provider call with :meth:`for_target`."""

    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    verify: bool | str = True
    cert: tuple[str, str] | None = None
    timeout: tuple[float, float] = (5.0, 30.0)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    description: str = ""
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    @classmethod
    def for_target(
        cls, target: DashboardTarget, *, retry: RetryPolicy | None = None
    ) -> DashboardClient:
        """A client for a direct URL or for the Kubernetes service proxy of ``target``."""
        headers = {"User-Agent": f"pulumi-rayservice/{__version__}", "Accept": "application/json"}
        if target.token:
            headers["x-ray-authorization"] = f"Bearer {target.token}"
        policy = retry or RetryPolicy()
        if target.url is not None:
            return cls(
                base_url=target.url,
                headers=headers,
                retry=policy,
                description=target.describe(),
            )
        auth = http_auth(target.kube)
        # The API server consumes Authorization (the Kubernetes credential); Ray's own token
        # travels in x-ray-authorization, which the proxy passes through.
        base = (
            f"{auth.host}/api/v1/namespaces/{target.namespace}/services/"
            f"{target.service}:{target.port}/proxy"
        )
        return cls(
            base_url=base,
            headers={**headers, **auth.headers},
            verify=auth.verify,
            cert=auth.cert,
            retry=policy,
            description=target.describe(),
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.session.close()

    def __enter__(self) -> DashboardClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Serve REST API -------------------------------------------------------------------------

    def get_applications(self) -> dict[str, Any]:
        """``GET /api/serve/applications/?api_type=declarative``: config and status of every app."""
        reply = self._request("GET", SERVE_APPLICATIONS, params={"api_type": "declarative"})
        return self._json(reply)

    def put_applications(self, config: Mapping[str, Any]) -> None:
        """``PUT /api/serve/applications/``: replace the WHOLE set of declarative apps.

        A 200 means Serve accepted the config, not that anything runs yet.

        Raises:
            ServeConfigRejectedError: Serve's schema check refused it (400), with Serve's text.

        """
        self._request("PUT", SERVE_APPLICATIONS, body=config)

    def version(self) -> dict[str, Any]:
        """``GET /api/version``: the dashboard's API and Ray versions."""
        return self._json(self._request("GET", "/api/version"))

    # transport ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        url = self.base_url + path
        headers = dict(self.headers)
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        delay = self.retry.initial_s
        last_problem = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                reply = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    verify=self.verify,
                    cert=self.cert,
                    allow_redirects=False,
                )
            except requests.ConnectionError as error:
                last_problem = _connection_problem(error)
            except requests.Timeout:
                last_problem = f"no answer within {self.timeout[1]:.0f}s"
            else:
                if reply.status_code not in RETRYABLE_STATUS:
                    self._raise_for_status(method, path, reply)
                    return reply
                last_problem = f"HTTP {reply.status_code} {_short(reply.text)}".strip()
            if attempt < self.retry.attempts:
                time.sleep(delay)
                delay = min(self.retry.max_s, delay * self.retry.factor)
        raise DashboardUnreachableError(
            f"Ray dashboard at {self.description} is unreachable after "
            f"{self.retry.attempts} attempts: {last_problem}",
            refused=last_problem in GONE_PROBLEMS,
        )

    def _raise_for_status(self, method: str, path: str, reply: requests.Response) -> None:
        status = reply.status_code
        if status < 400:
            return
        where = f"{method} {path} on {self.description}"
        if status in (401, 403):
            what = "token missing" if status == 401 else "token refused"
            raise DashboardAuthError(
                f"{where}: HTTP {status} ({what}); check the dashboard token or the Kubernetes "
                "credentials"
            )
        if status == 400 and method == "PUT":
            raise ServeConfigRejectedError(f"Serve rejected the config: {_short(reply.text)}")
        if status == 404 and _is_kubernetes_not_found(reply):
            raise DashboardGoneError(
                f"{where}: the Service does not exist (Kubernetes answered 404 NotFound)"
            )
        if status == 404:
            raise DashboardError(
                f"{where}: HTTP 404; is this a Ray dashboard (Ray >= 2.7) and does the Service "
                "exist?"
            )
        raise DashboardError(f"{where}: HTTP {status} {_short(reply.text)}".rstrip())

    def _json(self, reply: requests.Response) -> dict[str, Any]:
        try:
            data = reply.json()
        except ValueError:
            raise DashboardError(
                f"{self.description} answered non-JSON: {_short(reply.text)}"
            ) from None
        if not isinstance(data, dict):
            raise DashboardError(
                f"{self.description} answered {type(data).__name__}, not an object"
            )
        return data


def _is_kubernetes_not_found(reply: requests.Response) -> bool:
    """A 404 from the API server itself (a ``Status`` object), not from the dashboard behind it."""
    try:
        body = reply.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict) and body.get("kind") == "Status" and body.get("reason") == "NotFound"
    )


def _connection_problem(error: requests.ConnectionError) -> str:
    """Name the cause without dumping the exception chain (which can be long and noisy)."""
    text = str(error)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Connection reset",
        "Remote end closed connection",
        "No route to host",
        "timed out",
    ):
        if marker in text:
            return marker.lower()
    return "connection failed"


def _short(text: str) -> str:
    """Collapse whitespace and cut a response body to a readable length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_BODY_IN_MESSAGE else flat[: MAX_BODY_IN_MESSAGE - 1] + "…"
