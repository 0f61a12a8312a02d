"""Forwarding one HTTP request to a backend, and the API server's service proxy on top of it.

Two front doors reach real local backends through this module: the API server's service proxy
(``/api/v1/namespaces/{ns}/services/{svc}:{port}/proxy/...``, how code under test reaches the Ray
dashboard with the cluster's credentials) and the stand-in Gateway's listeners (``gateway.py``).
Both forward method, path, query, body and headers minus the hop-by-hop ones, add
``X-Forwarded-For``, and stream the answer back; they differ in what else is kept: the API server
consumes the Kubernetes ``Authorization`` header and sets its own ``Host``, a gateway passes both
on (``x-ray-authorization`` goes through either way).

Port resolution follows the real ``ResourceLocation``: a port number is mapped to the service
port's name; a missing port means the unnamed port; then a ready endpoint with that port name is
needed, otherwise 503 ``no endpoints available for service "x"``.
"""

from __future__ import annotations

import http.client
import io
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from . import status
from .registry import Registry
from .resources import SERVICES

# Endpoints of a service: port name -> base URL of its backend (``http://127.0.0.1:8265``), or
# None for an address where nothing listens.
EndpointsFn = Callable[[str, str], Mapping[str, str | None]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# What each front door does not pass on (Content-Length is recomputed from the body read).
API_SERVER_DROPS = HOP_BY_HOP | {"authorization", "host", "content-length"}
GATEWAY_DROPS = HOP_BY_HOP | {"content-length"}


class UpstreamError(Exception):
    """The backend could not be reached, or dropped the request before answering."""


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, by ``Content-Length`` or chunked ``Transfer-Encoding``."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().strip().split(b";")[0] or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def port_name(service: Mapping[str, Any], number: int) -> str | None:
    """The name (``""`` when unnamed) of the service's port ``number``, or None if it has none."""
    ports: list[dict[str, Any]] = (service.get("spec") or {}).get("ports") or []
    matching = [p for p in ports if p.get("port") == number]
    return str(matching[0].get("name") or "") if matching else None


def parse_target(raw: str) -> tuple[str, str]:
    """``[scheme:]name[:port]`` -> (name, port); the scheme prefix is accepted and ignored."""
    parts = raw.split(":")
    if len(parts) == 3:
        parts = parts[1:]
    if len(parts) == 1:
        return parts[0], ""
    if len(parts) == 2 and parts[0] in ("http", "https"):
        return parts[1], ""
    return parts[0], parts[1]


def resolve(registry: Registry, endpoints: EndpointsFn, namespace: str, raw_target: str) -> str:
    """The backend base URL for ``raw_target`` in ``namespace``; 404/503 as the real server."""
    name, port = parse_target(raw_target)
    service = registry.get(SERVICES, namespace, name)
    ports: list[dict[str, Any]] = (service.get("spec") or {}).get("ports") or []
    if port.isdigit():
        named = port_name(service, int(port))
        if named is None:
            raise status.service_unavailable(f'no service port {port} found for service "{name}"')
        port = named
    backends = endpoints(namespace, name)
    if port not in backends:
        raise status.service_unavailable(f'no endpoints available for service "{raw_target}"')
    target = backends[port]
    if target is None:
        target_port = next(
            (p.get("targetPort", p.get("port")) for p in ports if str(p.get("name") or "") == port),
            port,
        )
        raise status.service_unavailable(
            f"error trying to reach service: dial tcp 127.0.0.1:{target_port}: connect: "
            "connection refused"
        )
    return target


class Sink:
    """Stands for the client's handler when the upstream answer is to be read and dropped."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self.headers = handler.headers
        self.client_address = handler.client_address
        self.wfile = io.BytesIO()

    def send_response(self, code: int, message: str | None = None) -> None:
        """Dropped."""

    def send_header(self, key: str, value: str) -> None:
        """Dropped."""

    def end_headers(self) -> None:
        """Dropped."""


def forward(
    handler: BaseHTTPRequestHandler | Sink,
    target: str,
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    on_status: Callable[[int], None] = lambda code: None,
    drop: frozenset[str] = API_SERVER_DROPS,
) -> int:
    """Send the request to ``target`` and stream the answer to ``handler``; return the status.

    ``on_status`` is called with the upstream status before anything is sent to the client.
    ``drop`` names the request headers (lower case) not passed on.

    Raises:
        UpstreamError: Nothing answered at ``target`` (nothing was sent to the client).

    """
    url = urlsplit(target)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=300)
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in drop}
    headers["X-Forwarded-For"] = handler.client_address[0]
    if body:
        headers["Content-Length"] = str(len(body))
    upstream_path = "/" + path.lstrip("/") + (f"?{query}" if query else "")
    try:
        connection.request(method, upstream_path, body=body or None, headers=headers)
        response = connection.getresponse()
    except OSError as exc:
        connection.close()
        raise UpstreamError(f"dial tcp {url.netloc}: {exc}") from exc
    try:
        on_status(response.status)
        handler.send_response(response.status, response.reason)
        length = response.getheader("Content-Length")
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                handler.send_header(key, value)
        if length is not None:
            handler.send_header("Content-Length", length)
            handler.end_headers()
            remaining = int(length)
            while remaining > 0:
                chunk = response.read(min(65536, remaining))
                if not chunk:
                    break
                handler.wfile.write(chunk)
                remaining -= len(chunk)
        else:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
        return response.status
    finally:
        connection.close()
