"""The stand-in's own Kubernetes client: what client-go does for the real API server.

The real server talks to Kubernetes with its service account (the fake's bearer token here), for
everything V1 does and for V2's own look-ups (the compute-template middleware reads ConfigMaps,
the service proxy lists Services); only V2's forwarded requests carry the caller's credentials.
Two client-go habits are kept because clients see their effects: a 429 or 5xx answer carrying
``Retry-After`` is retried after that many seconds, up to 10 times (``rest.Request`` with
``checkWait``); and errors read as client-go's (a ``Status`` answer is its ``message``, e.g.
``configmaps "x" not found``; a failed connection is ``Get "<url>": dial tcp ...``), because they
end up inside V1's error messages.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

from .errors import GoError
from .upstream import Upstreams

USER_AGENT = "kuberay-apiserver/v0.0.0 (linux/amd64) kubernetes/$Format"
"""client-go's default User-Agent for a binary named ``kuberay-apiserver`` built without version
stamps (``apiserver/Dockerfile``)."""

MAX_RETRY_AFTER_RETRIES = 10


class KubeError(GoError):
    """A Kubernetes request that failed: the answer's status and ``Status`` fields, if any.

    Attributes:
        status: The HTTP status, or None when no answer came (connection failure, deadline).
        reason: The ``Status`` reason (``NotFound``, ``AlreadyExists``...), or ``""``.

    """

    def __init__(
        self, text: str, *, status: int | None = None, reason: str = "", deadline: bool = False
    ) -> None:
        super().__init__(text, deadline=deadline)
        self.status = status
        self.reason = reason

    @property
    def not_found(self) -> bool:
        """client-go's ``errors.IsNotFound``."""
        return self.reason == "NotFound" or (self.status == 404 and not self.reason)


_GENERIC = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    429: "the server has received too many requests and has asked us to try again later",
    500: "an error on the server has prevented the request from succeeding",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted",
}


def _status_error(code: int, body: bytes) -> KubeError:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("kind") == "Status" and answer.get("message"):
        return KubeError(str(answer["message"]), status=code, reason=str(answer.get("reason", "")))
    text = _GENERIC.get(code, f"the server responded with the status code {code}")
    reason = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(code, "")
    return KubeError(text, status=code, reason=reason)


class KubeClient:
    """JSON requests to the fake Kubernetes API server as the API server's service account."""

    def __init__(
        self, upstreams: Upstreams, base_url: str, token: str, stop: threading.Event
    ) -> None:
        self.upstreams = upstreams
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.stop = stop

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """Send one request (retried on ``Retry-After``) and return the decoded answer.

        Raises:
            KubeError: A non-2xx answer, no answer, or the deadline passed.

        """
        target = path + (f"?{urlencode(query)}" if query else "")
        url = f"{self.base_url}{target}"
        payload = json.dumps(body).encode() if body is not None else None
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(MAX_RETRY_AFTER_RETRIES + 1):
            code, answer_headers, data = self._send(method, url, target, headers, payload, deadline)
            if 200 <= code < 300:
                decoded: dict[str, Any] = json.loads(data) if data else {}
                return decoded
            wait = _retry_after(code, answer_headers)
            if wait is None or attempt == MAX_RETRY_AFTER_RETRIES:
                raise _status_error(code, data)
            if deadline is not None and time.monotonic() + wait > deadline:
                raise KubeError(
                    f'{method.title()} "{url}": context deadline exceeded', deadline=True
                )
            if self.stop.wait(wait):
                raise KubeError(f'{method.title()} "{url}": context canceled')
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        url: str,
        target: str,
        headers: dict[str, str],
        payload: bytes | None,
        deadline: float | None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        verb = method.title()
        if deadline is not None and time.monotonic() >= deadline:
            raise KubeError(f'{verb} "{url}": context deadline exceeded', deadline=True)
        connection = self.upstreams.open(deadline)
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.headers, data
        except (OSError, http.client.HTTPException) as exc:
            if connection.expired:
                raise KubeError(
                    f'{verb} "{url}": context deadline exceeded', deadline=True
                ) from exc
            if isinstance(exc, ConnectionRefusedError):
                where = f"{self.upstreams.host}:{self.upstreams.port}"
                raise KubeError(
                    f'{verb} "{url}": dial tcp {where}: connect: connection refused'
                ) from exc
            raise KubeError(f'{verb} "{url}": {exc or type(exc).__name__}') from exc
        finally:
            connection.close()

    # Conveniences ---------------------------------------------------------------------------

    def get(self, path: str, *, deadline: float | None = None) -> dict[str, Any]:
        return self.request("GET", path, deadline=deadline)

    def list(self, path: str, *, deadline: float | None = None, **query: str) -> dict[str, Any]:
        return self.request(
            "GET", path, query={k: v for k, v in query.items() if v}, deadline=deadline
        )

    def create(
        self, path: str, obj: dict[str, Any], *, deadline: float | None = None
    ) -> dict[str, Any]:
        return self.request("POST", path, body=obj, deadline=deadline)

    def delete(self, path: str, *, deadline: float | None = None) -> dict[str, Any]:
        return self.request("DELETE", path, body={}, deadline=deadline)


def _retry_after(code: int, headers: http.client.HTTPMessage) -> int | None:
    """client-go's ``checkWait``: 429 or 5xx with an integer ``Retry-After`` is retried."""
    if code != 429 and code < 500:
        return None
    value = headers.get("Retry-After")
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())
