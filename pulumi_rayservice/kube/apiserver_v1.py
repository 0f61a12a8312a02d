"""Calls to the KubeRay API server's V1 API (grpc-gateway JSON); errors converted in one place.

V1 is the API of the seed's curls: compute templates (``proto/config.proto``) and clusters
(``proto/cluster.proto``) under ``/apis/v1/namespaces/{ns}/...``; every release serves it. Its
answers are grpc-gateway's: ``{"code": <grpc code>, "message": ...}`` with the mapped HTTP status
(``apiserver/pkg/util/error.go``): 3 -> 400, 5 -> 404, 6 -> 409, 13/2 -> 500, 12 -> 501, 16 -> 401,
4 -> 504. Several permanent failures come as 500 (a missing template, a duplicate cluster name), so
a 500 is not retried here; 502/503/504 and 429 are, under the package's one retry policy.

Requests travel on the same connection pool and credentials as V2 (:mod:`.apiserver`): the
kubernetes client's urllib3 pool with the server's CA, and the security proxy's token as
``Authorization``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from urllib3.exceptions import HTTPError

from .._util.bounded_http import request_deadline
from .._util.http_failures import no_answer
from .._util.polling import Deadline
from .._util.retry import RetryPolicy, with_retries
from .._util.text import clip
from .._version import __version__
from ..errors import (
    KubeConflictError,
    KubeError,
    KubeNotFoundError,
    KubeTemporaryError,
    KubeTLSError,
)
from .apiserver import ApiServerTarget, apiserver_refusal
from .config import api_client
from .transport import HttpRequest, KubeProxyTransport

__all__ = ["ApiServerV1Client"]

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
MAX_MESSAGE = 500
DEFAULT_CALL_S = 120.0


class ApiServerV1Client:
    """V1 calls to one KubeRay API server for one provider call (holds its credentials)."""

    def __init__(
        self,
        target: ApiServerTarget,
        *,
        deadline: Deadline | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.target = target
        self.deadline = deadline
        self.retry = retry or RetryPolicy(initial_s=0.2, max_s=5.0)
        self._transport = KubeProxyTransport(api_client(None, api_server=target))

    def close(self) -> None:
        """Release the connections."""
        self._transport.close()

    def __enter__(self) -> ApiServerV1Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # compute templates ----------------------------------------------------------------------

    def get_template(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The compute template, or None when there is none of that name."""
        try:
            return self._call("GET", f"{_templates(namespace)}/{_segment(name)}")
        except KubeNotFoundError:
            return None

    def create_template(self, namespace: str, template: Mapping[str, Any]) -> dict[str, Any]:
        """POST a template (the body is the template itself), once; 409 when the name is taken.

        Not retried: a POST whose answer was lost may have landed, and its retry would meet its
        own template as a 409. The caller reads what is there.
        """
        return self._call("POST", _templates(namespace), template, once=True)

    def delete_template(self, namespace: str, name: str) -> bool:
        """DELETE the template; False when it was already gone."""
        try:
            self._call("DELETE", f"{_templates(namespace)}/{_segment(name)}")
        except KubeNotFoundError:
            return False
        return True

    # clusters -----------------------------------------------------------------------------------

    def get_cluster(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The V1 view of a cluster, or None when there is none of that name.

        A RayCluster that the API server did not make (no ``managed-by: kuberay-apiserver``)
        is refused with 500 by V1: that is an error here, not "gone".
        """
        try:
            return self._call("GET", f"{_clusters(namespace)}/{_segment(name)}")
        except KubeNotFoundError:
            return None

    def create_cluster(self, namespace: str, cluster: Mapping[str, Any]) -> dict[str, Any]:
        """POST a cluster (the body is the Cluster), once. A taken name is a 500 from V1."""
        return self._call("POST", _clusters(namespace), cluster, once=True)

    def delete_cluster(self, namespace: str, name: str) -> bool:
        """DELETE the cluster; False when it was already gone."""
        try:
            self._call("DELETE", f"{_clusters(namespace)}/{_segment(name)}")
        except KubeNotFoundError:
            return False
        return True

    # the one place failures are converted ---------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        once: bool = False,
    ) -> dict[str, Any]:
        """Send under the retry policy (``once``: one try), each ending by the deadline."""
        deadline = self.deadline or Deadline(DEFAULT_CALL_S)
        url = f"{self.target.url}{path}"
        what = f"{method} {path} on {self.target.describe()}"
        headers = {"User-Agent": f"pulumi-rayservice/{__version__}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, allow_nan=False).encode()
        policy = dataclasses.replace(self.retry, attempts=1) if once else self.retry

        def send(limit_s: float) -> dict[str, Any]:
            if limit_s <= 0:
                raise KubeTemporaryError(
                    f"{what}: the {deadline.timeout_s:g}s deadline passed before it could be sent"
                )
            with request_deadline(limit_s) as scope:
                try:
                    reply = self._transport.send(
                        HttpRequest(
                            method, url, headers, data, min(policy.connect_s, limit_s), limit_s
                        )
                    )
                except (HTTPError, OSError) as error:
                    failure = no_answer(error, cut=scope.cut, limit_s=limit_s)
                    if failure.tls:
                        raise KubeTLSError(
                            f"{what}: {failure.problem}; check the KubeRayApiServer's "
                            "certificate_authority and the host name of its url"
                        ) from None
                    raise KubeTemporaryError(f"{what}: {failure.problem}") from None
            if scope.cut:
                raise KubeTemporaryError(f"{what}: no complete answer within {limit_s:.3g}s")
            if reply.status >= 400:
                raise _convert(what, reply.status, reply.text, self.target)
            try:
                answer = json.loads(reply.body or b"{}")
            except ValueError:
                raise KubeError(
                    f"{what}: answered non-JSON {clip(reply.text, 200)}", status=reply.status
                ) from None
            return answer if isinstance(answer, dict) else {}

        return with_retries(send, policy=policy, deadline=deadline)


def _convert(what: str, status: int, text: str, target: ApiServerTarget) -> KubeError:
    """A V1 error answer as this package's error, with the server's own message cut short."""
    own = apiserver_refusal(status, text, target)
    if own is not None and status != 404:
        return KubeError(f"{what}: {own}", status=status)
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    message = text.strip()
    code: Any = None
    if isinstance(body, dict):
        message = str(body.get("message") or message)
        code = body.get("code")
    if status == 404 and (code is None or message.strip() == "Not Found"):
        # The gateway's own answer for a route it does not serve (or a proxy's in front of
        # it): nothing about the object, which must not be taken for gone.
        return KubeError(
            f"{what}: 404 {clip(message, 80)!r}: {target.describe()} does not serve this V1 "
            "route (is the URL the API server itself?)",
            status=status,
        )
    shown = f"{what}: {status} {clip(message, MAX_MESSAGE)}".rstrip()
    if code is not None:
        shown += f" (grpc code {code})"
    if status == 404:
        return KubeNotFoundError(shown, status=status)
    if status == 409:
        return KubeConflictError(shown, status=status)
    if status in RETRYABLE_STATUS:
        return KubeTemporaryError(shown, status=status)
    if status == 501:
        shown += " (V1 has no update for this object)"
    return KubeError(shown, status=status)


def _templates(namespace: str) -> str:
    return f"/apis/v1/namespaces/{_segment(namespace)}/compute_templates"


def _clusters(namespace: str) -> str:
    return f"/apis/v1/namespaces/{_segment(namespace)}/clusters"


def _segment(value: str) -> str:
    """One escaped path segment; Check refuses names that are not DNS-1123, this is a backstop."""
    if value in ("", ".", ".."):
        raise KubeError(f"{value!r} cannot be part of the KubeRay API server's path")
    return quote(value, safe="")
