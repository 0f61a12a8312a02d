"""V2: a reverse proxy to Kubernetes for KubeRay's resources (``apiserversdk/proxy.go``).

Routes (one Go ``ServeMux``, V2's patterns before the gateway's catch-all):

- ``/apis/ray.io/v1/...``, any method, query kept (``/apis/ray.io/v1`` gets a 301 to the slash);
- the release's Events route, GET only, with ``<regarding|involvedObject>.apiVersion=ray.io/v1``
  appended to the caller's ``fieldSelector`` and the query re-encoded (``url.Values.Encode``);
- ``/api/v1/namespaces/{ns}/services/{svc}/proxy[/...]``, once ``{svc}`` (``[scheme:]name[:port]``,
  else 400 ``invalid service format``) names a Service labelled ``app.kubernetes.io/name=kuberay``
  (no match: 404 ``kuberay service not found``; list failed: 500 ``failed to list kuberay
  services``): a RayCluster's own head Service, not its serve Service;
- v1.5+: POST/PUT of rayclusters, rayjobs, rayservices through the compute-template middleware.

Everything else (Leases, ConfigMaps, Pods, plain Services, discovery) is the gateway's 404.

Forwarding is ``httputil.ReverseProxy`` over client-go's transport: hop-by-hop headers dropped,
``X-Forwarded-For`` appended, the caller's ``Authorization`` kept when present (client-go's bearer
round tripper does not replace a header that is set), else the service account's token; the
answer (status, ``Warning`` headers, Status bodies) passed back unchanged. Connection failures
answer an empty 502.

v1.4 streams every answer as it arrives and never retries. v1.5+ wraps the transport in
``retryRoundTripper``: one deadline (30 s) per request; the body read once and re-sent on every
attempt whatever the method; 408/429/500/502/503/504 retried at most 3 times after 0.5, 1, 2 s
(``Retry-After`` ignored); a backoff that would pass the deadline, a connection failure, or a
deadline reached while waiting or reading answers an empty 502; a 2xx answer is read whole
before it is sent (a watch arrives only when it ends).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, quote_plus, urlencode

from .errors import GoError, Reply, empty_bad_gateway, go_http_error
from .kube import USER_AGENT, KubeClient
from .releases import Release
from .template_middleware import apply_templates
from .templates import from_config_map, get_config_map
from .upstream import Upstreams

HOP_BY_HOP = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY = 3
INIT_BACKOFF_S = 0.5
BACKOFF_FACTOR = 2.0
MAX_BACKOFF_S = 10.0
TEMPLATED_KINDS = ("rayclusters", "rayjobs", "rayservices")
KUBERAY_SERVICE_LABEL = "app.kubernetes.io/name=kuberay"
_VALID_SCHEMES = ("", "http", "https")


HELM_PROXY_VERBS = frozenset({"get", "list", "watch"})
"""What KubeRay's Helm chart grants the API server's service account on ``services/proxy``
(``helm-chart/kuberay-apiserver/templates/rbac/cluster_role.yaml``, ``-service-access``)."""
ALL_PROXY_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete"})
"""A service account a platform team granted every verb on ``services/proxy``."""
VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
         "DELETE": "delete"}  # fmt: skip
"""The verb Kubernetes authorizes a request of each method as (a proxy subresource)."""
SERVICE_ACCOUNT = "system:serviceaccount:ray-system:kuberay-apiserver"


def forbidden_proxy(verb: str, namespace: str, service: str) -> Reply:
    """Kubernetes' 403 ``Status`` for a verb the service account lacks on ``services/proxy``."""
    message = (
        f'services "{service}" is forbidden: User "{SERVICE_ACCOUNT}" cannot {verb} resource '
        f'"services/proxy" in API group "" in the namespace "{namespace}"'
    )
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": {"name": service, "kind": "services"},
        "code": 403,
    }
    return Reply(403, [("Content-Type", "application/json")], json.dumps(body).encode())


def backoff(attempt: int) -> float:
    """``GetRetryBackoff``: min(0.5 s * 2^attempt, 10 s)."""
    return float(min(INIT_BACKOFF_S * BACKOFF_FACTOR**attempt, MAX_BACKOFF_S))


def split_scheme_name_port(text: str) -> tuple[str, str, str] | None:
    """``net.SplitSchemeNamePort``: ``name``, ``name:port`` or ``scheme:name:port``."""
    parts = text.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in _VALID_SCHEMES:
        return None
    return scheme, name, port


def with_field_selector(query: str, selector: str) -> str:
    """``withFieldSelector``: the selector appended to the caller's, the query re-encoded."""
    values = parse_qs(query, keep_blank_values=True)
    values["fieldSelector"] = [",".join([*values.get("fieldSelector", []), selector])]
    pairs = [(key, value) for key in sorted(values) for value in values[key]]
    return urlencode(pairs, quote_via=quote_plus)


@dataclass
class Incoming:
    """A request as the stand-in received it.

    Attributes:
        method: The HTTP method.
        path: The path, unescaped and cleaned (what the mux matches).
        raw_path: The path as sent (what is forwarded).
        query: The raw query string.
        headers: Header pairs as received.
        body: The whole body.
        client: The caller's address.

    """

    method: str
    path: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    client: str = "127.0.0.1"
    hops: int = 1  # proxies this request went through before the stand-in (the security proxy)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class _UpstreamFailed(Exception):
    """No answer from Kubernetes (refused, dropped, or the deadline passed)."""


class V2:
    """The V2 routes of one stand-in."""

    def __init__(
        self,
        release: Release,
        upstreams: Upstreams,
        kube: KubeClient,
        *,
        deadline_s: float,
        wait: Callable[[float], bool],
        proxy_verbs: frozenset[str] = HELM_PROXY_VERBS,
    ) -> None:
        self.release = release
        self.proxy_verbs = proxy_verbs
        self.upstreams = upstreams
        self.kube = kube
        self.deadline_s = deadline_s
        self.wait = wait  # sleeps, returns True when the stand-in is stopping

    # -- routing ---------------------------------------------------------------------------------

    def route(self, request: Incoming) -> Reply | None:
        """The V2 answer, or None when no V2 pattern matches (the gateway answers)."""
        path, method = request.path, request.method
        segments = path.split("/")[1:]
        if path == "/apis/ray.io/v1":
            target = "/apis/ray.io/v1/" + (f"?{request.query}" if request.query else "")
            return _redirect(target, method)
        if self.release.template_middleware and self._templated(method, segments):
            return self._templated_proxy(request, segments[4])
        if path.startswith("/apis/ray.io/v1/"):
            return self.forward(request)
        if method in ("GET", "HEAD") and self._is_events(segments):
            query = with_field_selector(request.query, self.release.events_selector)
            return self.forward(request, query=query)
        if (
            segments[:3] == ["api", "v1", "namespaces"]
            and len(segments) >= 7
            and segments[4] == "services"
            and segments[6] == "proxy"
            and segments[3]
            and segments[5]
        ):
            return self._service_proxy(request, segments[3], segments[5])
        return None

    @staticmethod
    def _templated(method: str, segments: list[str]) -> bool:
        if segments[:3] != ["apis", "ray.io", "v1"] or len(segments) < 6:
            return False
        if segments[3] != "namespaces" or not segments[4] or segments[5] not in TEMPLATED_KINDS:
            return False
        return (method == "POST" and len(segments) == 6) or (
            method == "PUT" and len(segments) == 7 and bool(segments[6])
        )

    def _is_events(self, segments: list[str]) -> bool:
        pattern = self.release.events_path.split("/")[1:]
        if len(pattern) != len(segments):
            return False
        return all(
            (p.startswith("{") and s) or p == s for p, s in zip(pattern, segments, strict=True)
        )

    # -- the middleware and the label check -------------------------------------------------------

    def _template(self, namespace: str, name: str) -> dict[str, object]:
        return from_config_map(get_config_map(self.kube, namespace, name, None), self.release)

    def _templated_proxy(self, request: Incoming, namespace: str) -> Reply:
        content_type = request.header("Content-Type") or ""
        outcome = apply_templates(request.body, content_type, namespace, self._template)
        if isinstance(outcome, Reply):
            return outcome
        body, new_type = outcome
        return self.forward(request, body=body, content_type=new_type)

    def _service_proxy(self, request: Incoming, namespace: str, service: str) -> Reply:
        """``requireKubeRayService``, then the proxy."""
        parsed = split_scheme_name_port(service)
        if parsed is None:
            return go_http_error(400, f"invalid service format: {service}")
        try:
            listed = self.kube.list(
                f"/api/v1/namespaces/{namespace}/services",
                fieldSelector=f"metadata.name={parsed[1]}",
                labelSelector=KUBERAY_SERVICE_LABEL,
            )
        except GoError:
            return go_http_error(500, "failed to list kuberay services")
        if not listed.get("items"):
            return go_http_error(404, "kuberay service not found")
        verb = VERBS.get(request.method, request.method.lower())
        if verb not in self.proxy_verbs and request.header("Authorization") is None:
            # Kubernetes authorizes the forwarded request as the API server's service account.
            return forbidden_proxy(verb, namespace, parsed[1])
        return self.forward(request)

    # -- forwarding ------------------------------------------------------------------------------

    def _outgoing_headers(
        self, request: Incoming, body: bytes, content_type: str | None
    ) -> list[tuple[str, str]]:
        named = {
            token.strip().lower()
            for value in (v for k, v in request.headers if k.lower() == "connection")
            for token in value.split(",")
        }
        headers: list[tuple[str, str]] = []
        forwarded: list[str] = []
        for key, value in request.headers:
            lower = key.lower()
            if lower in HOP_BY_HOP or lower in named or lower == "content-length":
                continue
            if lower == "x-forwarded-for":
                forwarded.append(value)
                continue
            if lower == "content-type" and content_type is not None:
                value = content_type
            headers.append((key, value))
        if content_type is not None and request.header("Content-Type") is None:
            headers.append(("Content-Type", content_type))
        forwarded += [request.client] * request.hops
        headers.append(("X-Forwarded-For", ", ".join(forwarded)))
        if request.header("Authorization") is None:
            headers.append(("Authorization", f"Bearer {self.kube.token}"))
        if not request.header("User-Agent"):
            headers.append(("User-Agent", USER_AGENT))
        if body or request.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        return headers

    def _send(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        deadline: float | None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        try:
            connection = self.upstreams.open(deadline)
        except ConnectionError as exc:
            raise _UpstreamFailed(str(exc)) from exc
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for key, value in headers:
                connection.putheader(key, value)
            connection.endheaders(body or None)
            return connection, connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise _UpstreamFailed(str(exc)) from exc

    def forward(
        self,
        request: Incoming,
        *,
        query: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Reply:
        """The request sent on to Kubernetes, and its answer (or an empty 502)."""
        payload = request.body if body is None else body
        query = request.query if query is None else query
        target = request.raw_path + (f"?{query}" if query else "")
        headers = self._outgoing_headers(request, payload, content_type)
        if not self.release.retries:
            return self._stream(request.method, target, headers, payload)
        deadline = time.monotonic() + self.deadline_s
        for attempt in range(MAX_RETRY + 1):
            try:
                connection, response = self._send(
                    request.method, target, headers, payload, deadline
                )
            except _UpstreamFailed:
                return empty_bad_gateway()
            try:
                data = response.read()
            except (OSError, http.client.HTTPException, ValueError):
                return empty_bad_gateway()
            finally:
                connection.close()
            if 200 <= response.status < 300 or response.status not in RETRYABLE:
                return _answer(response, data)
            if attempt == MAX_RETRY:
                return _answer(response, data)
            pause = backoff(attempt)
            if pause > deadline - time.monotonic() or self.wait(pause):
                return empty_bad_gateway()
        raise AssertionError("unreachable")

    def _stream(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Reply:
        """v1.4: one attempt, no deadline, the answer passed on as it comes."""
        try:
            connection, response = self._send(method, target, headers, body, None)
        except _UpstreamFailed:
            return empty_bad_gateway()

        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    chunk = response.read1(65536)
                    if not chunk:
                        return
                    yield chunk
            finally:
                connection.close()

        return Reply(response.status, _kept_headers(response), chunks=chunks())


def _kept_headers(response: http.client.HTTPResponse) -> list[tuple[str, str]]:
    """The answer's headers minus the hop-by-hop ones (and those its Connection names)."""
    named = {t.strip().lower() for t in (response.getheader("Connection") or "").split(",")}
    return [
        (k, v)
        for k, v in response.getheaders()
        if k.lower() not in HOP_BY_HOP and k.lower() not in named
    ]


def _answer(response: http.client.HTTPResponse, data: bytes) -> Reply:
    """A buffered answer: with its Content-Length if Kubernetes sent one, else chunked."""
    headers = _kept_headers(response)
    if any(k.lower() == "content-length" for k, _ in headers):
        return Reply(response.status, headers, data)
    return Reply(response.status, headers, chunks=iter([data] if data else []))


def _redirect(target: str, method: str) -> Reply:
    """``ServeMux``'s trailing-slash redirect (an HTML body only for GET and HEAD)."""
    headers = [("Location", target)]
    body = b""
    if method in ("GET", "HEAD"):
        headers.append(("Content-Type", "text/html; charset=utf-8"))
        body = f'<a href="{target}">Moved Permanently</a>.\n\n'.encode()
    return Reply(301, headers, body)
