"""The two ways a request to a dashboard (or the KubeRay API server) travels, behind one interface.

- :class:`DirectTransport`: ``requests`` to a URL the user gave (a local Ray, a port-forward, an
  ingress); the environment's proxy settings apply as they do for any ``requests`` call.
- :class:`KubeProxyTransport`: the API server's service proxy, sent through the official
  ``kubernetes`` client's own connection pool and credentials, so whatever ``kubectl`` honours in a
  kubeconfig holds here too: ``proxy-url``, ``tls-server-name``, CA data, client certificates, exec
  and auth-provider plugins (their token is cached by the client and refreshed when it expires).
  The KubeRay API server is reached on the same pool (:mod:`.apiserver` builds its client).

Both send one request and return the whole answer, never follow a redirect (it would take the
credentials and a PUT elsewhere), never retry by themselves (:mod:`.._util.retry` decides), and
run on connections that :func:`.._util.bounded_http.request_deadline` can cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3
from requests.structures import CaseInsensitiveDict

from .._util.bounded_http import bounded_session
from .config import auth_headers

__all__ = ["DirectTransport", "HttpReply", "HttpRequest", "HttpTransport", "KubeProxyTransport"]


@dataclass(frozen=True)
class HttpRequest:
    """One request, and how long its connect and each read may take."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes | None = field(default=None, repr=False)
    connect_s: float = 5.0
    read_s: float = 30.0


@dataclass(frozen=True)
class HttpReply:
    """A whole HTTP answer."""

    status: int
    headers: Mapping[str, str]
    """Case-insensitive, as HTTP header names are."""
    body: bytes

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


class HttpTransport(Protocol):
    """Sends one request and reads its whole answer."""

    def send(self, request: HttpRequest) -> HttpReply:
        """One try; transport exceptions propagate (see :mod:`.._util.http_failures`)."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...


@dataclass
class DirectTransport:
    """``requests`` to a dashboard URL."""

    verify: bool | str = True
    session: Any = field(default_factory=bounded_session, repr=False)

    def send(self, request: HttpRequest) -> HttpReply:
        """One request, redirects not followed."""
        reply = self.session.request(
            request.method,
            request.url,
            data=request.body,
            headers=dict(request.headers),
            timeout=(request.connect_s, request.read_s),
            verify=self.verify,
            allow_redirects=False,
        )
        return HttpReply(reply.status_code, CaseInsensitiveDict(reply.headers), reply.content)

    def close(self) -> None:
        """Release the connection pool."""
        self.session.close()


@dataclass
class KubeProxyTransport:
    """The kubernetes client's pool and credentials, for the API server's service proxy."""

    api_client: Any = field(repr=False)

    @property
    def host(self) -> str:
        """The API server's base URL, as the kubeconfig resolved it."""
        return str(self.api_client.configuration.host).rstrip("/")

    def send(self, request: HttpRequest) -> HttpReply:
        """One request as the kubeconfig's user (its bearer token refreshed when expired)."""
        configuration = self.api_client.configuration
        reply = self.api_client.rest_client.pool_manager.request(
            request.method,
            request.url,
            body=request.body,
            headers={**request.headers, **auth_headers(configuration)},
            timeout=urllib3.Timeout(connect=request.connect_s, read=request.read_s),
            redirect=False,
            retries=False,
            preload_content=True,
        )
        headers = CaseInsensitiveDict(dict(reply.headers))
        return HttpReply(int(reply.status), headers, bytes(reply.data or b""))

    def close(self) -> None:
        """Release the client's connection pool."""
        self.api_client.close()
