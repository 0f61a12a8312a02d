"""The Ray dashboard's Serve REST API, as a small typed client.

One place turns HTTP into this package's errors: connection failures and 502/503/504 of a read are
retried with backoff (the dashboard answers 503 for a moment while Serve's controller starts, and
the API server's proxy answers 503 until the head Service has an endpoint), 401/403 become
``DashboardAuthError``, a 400 on PUT becomes ``ServeConfigRejectedError`` with Serve's own text, a
redirect is an error naming where it pointed. A PUT is sent once and never retried here: its body
was built from a read, and a retry must read and merge again (the deployer does), so a failure
says whether the PUT may have reached Serve.
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
STATE_ACTORS = "/api/v0/actors"
SERVE_CONTROLLER_CLASS = "ServeController"
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
        """``GET /api/serve/applications/``: config, status and source of EVERY app.

        Without ``api_type``: apps deployed from Python (``serve.run``) are listed too (with
        ``source: imperative``); ``?api_type=declarative`` would hide them from the merge.
        """
        return self._json(self._request("GET", SERVE_APPLICATIONS))

    def put_applications(self, config: Mapping[str, Any]) -> None:
        """``PUT /api/serve/applications/``: replace the WHOLE set of declarative apps, once.

        A 200 means Serve accepted the config, not that anything runs yet. Never retried.

        Raises:
            ServeConfigRejectedError: Serve's schema check refused it (400), with Serve's text.
            DashboardUnreachableError: no answer; ``maybe_applied`` says whether the request
                may have reached Serve (a timeout, a dropped answer, a 502/503/504 of a proxy).

        """
        self._request("PUT", SERVE_APPLICATIONS, body=config, attempts=1)

    def serve_controller_states(self) -> list[str]:
        """The states of Serve's controller actors, from Ray's state API (``/api/v0/actors``).

        This is how a stopped Serve is told from a controller the dashboard cannot reach: both
        make the Serve API answer its empty schema, but only a stopped Serve has no controller
        actor that is alive, restarting or being created (a shut-down one stays listed as DEAD).

        Raises:
            DashboardError: the state API did not give a complete answer (a partial failure of
                the GCS query counts as no answer).

        """
        reply = self._request(
            "GET",
            STATE_ACTORS,
            params={
                "filter_keys": "class_name",
                "filter_predicates": "=",
                "filter_values": SERVE_CONTROLLER_CLASS,
                "detail": "false",
            },
        )
        body = self._json(reply)
        data = body.get("data")
        listing = data.get("result") if isinstance(data, dict) else None
        actors = listing.get("result") if isinstance(listing, dict) else None
        if (
            body.get("result") is not True
            or not isinstance(listing, dict)
            or not isinstance(actors, list)
        ):
            raise DashboardError(
                f"Ray's state API on {self.description} gave no actor list: "
                f"{_short(str(body.get('msg') or body))}"
            )
        if listing.get("partial_failure_warning"):
            raise DashboardError(
                f"Ray's state API on {self.description} answered in part only: "
                f"{_short(str(listing['partial_failure_warning']))}"
            )
        return [
            str(actor.get("state") or "")
            for actor in actors
            if isinstance(actor, dict) and actor.get("class_name") == SERVE_CONTROLLER_CLASS
        ]

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
        attempts: int | None = None,
    ) -> requests.Response:
        url = self.base_url + path
        headers = dict(self.headers)
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        delay = self.retry.initial_s
        last_problem = ""
        tries = attempts or self.retry.attempts
        maybe_applied = False
        for attempt in range(1, tries + 1):
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
                maybe_applied = maybe_applied or last_problem not in GONE_PROBLEMS
            except requests.Timeout:
                last_problem = f"no answer within {self.timeout[1]:.0f}s"
                maybe_applied = True
            else:
                if reply.status_code not in RETRYABLE_STATUS:
                    self._raise_for_status(method, path, reply)
                    return reply
                last_problem = f"HTTP {reply.status_code} {_short(reply.text)}".strip()
                maybe_applied = True
            if attempt < tries:
                time.sleep(delay)
                delay = min(self.retry.max_s, delay * self.retry.factor)
        after = f"after {tries} attempts" if tries > 1 else f"to {method} {path}"
        raise DashboardUnreachableError(
            f"Ray dashboard at {self.description} gave no answer {after}: {last_problem}",
            refused=last_problem in GONE_PROBLEMS,
            maybe_applied=maybe_applied and method != "GET",
        )

    def _raise_for_status(self, method: str, path: str, reply: requests.Response) -> None:
        status = reply.status_code
        where = f"{method} {path} on {self.description}"
        if 300 <= status < 400:
            # Never followed: a redirect would take the credentials and the PUT somewhere else.
            location = reply.headers.get("Location") or "nowhere"
            raise DashboardError(
                f"{where}: HTTP {status} redirect to {_short(location)}; the dashboard URL "
                "must point at the dashboard itself (nothing was sent there)"
            )
        if status < 400:
            return
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
