"""The Ray dashboard's Serve REST API, as a small typed client.

One place turns HTTP into this package's errors, under the package's one retry policy
(:mod:`.._util.retry`): a dropped connection, a 429 and a 502/503/504 of a read are retried inside
the operation's deadline (the dashboard answers 503 for a moment while Serve's controller starts,
and the API server's proxy answers 503 until the head Service has an endpoint); a TLS failure is
not (``DashboardTLSError``); every try, answer body included, ends by the deadline, even against a
server that trickles bytes (:mod:`.._util.bounded_http`); 401/403 become
``DashboardAuthError``, a 400 on PUT becomes ``ServeConfigRejectedError`` with Serve's own text, a
redirect is an error naming where it pointed. A PUT is sent once and never retried here: its body
was built from a read, and a retry must read and merge again (the deployer does), so a failure
says whether the PUT may have reached Serve.
Requests never look like a browser (the dashboard answers 405 to those), and the token never
appears in a message or a log line. Through the API server, requests go through the official
kubernetes client's pool and credentials (:mod:`.transport`), with every path segment escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

from urllib3.exceptions import HTTPError

from .._util.bounded_http import request_deadline
from .._util.http_failures import no_answer, refused_a_header, retry_after_s
from .._util.polling import Deadline
from .._util.retry import RetryPolicy, with_retries
from .._util.text import clip
from .._util.tls import strict_mode_hint
from .._version import __version__
from ..errors import (
    ApiServerRefusedError,
    DashboardAuthError,
    DashboardError,
    DashboardGoneError,
    DashboardTLSError,
    DashboardUnreachableError,
    RayServiceError,
    ServeConfigRejectedError,
)
from ..kube.apiserver import PROXY_WRITE_HINT, ApiServerTarget, apiserver_refusal
from ..kube.client import RAY_CLUSTER, KubeClient
from ..kube.config import api_client
from ..kube.transport import (
    DirectTransport,
    HttpReply,
    HttpRequest,
    HttpTransport,
    KubeProxyTransport,
)
from .dashboard import DashboardTarget

__all__ = ["DashboardClient", "RetryPolicy"]

SERVE_APPLICATIONS = "/api/serve/applications/"
STATE_ACTORS = "/api/v0/actors"
SERVE_CONTROLLER_CLASS = "ServeController"
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
MAX_BODY_IN_MESSAGE = 300
DEFAULT_CALL_S = 120.0
"""The deadline of a call made without one (a client used outside an operation)."""


@dataclass
class DashboardClient:
    """Calls to one Ray dashboard. Build one per provider call with :meth:`for_target`.

    ``deadline`` bounds every call made without a deadline of its own (the operation's deadline);
    the deployer passes each wait's deadline explicitly.
    """

    base_url: str
    transport: HttpTransport = field(default_factory=DirectTransport, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    description: str = ""
    deadline: Deadline | None = None
    api_server: ApiServerTarget | None = field(default=None, repr=False)
    """The KubeRay API server in front, whose own refusals are told apart from the dashboard's."""
    api_namespace: str | None = None
    """The namespace of the head Service behind the KubeRay API server (for its messages)."""
    api_cluster: str | None = None
    """The RayCluster behind the head Service (to tell an unproxied Service from a gone one)."""

    @classmethod
    def for_target(
        cls,
        target: DashboardTarget,
        *,
        retry: RetryPolicy | None = None,
        deadline: Deadline | None = None,
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
                deadline=deadline,
            )
        # The API server consumes Authorization (the Kubernetes credential); Ray's own token
        # travels in x-ray-authorization, which the proxy passes through.
        within = min(policy.request_s * 2, deadline.remaining()) if deadline else policy.request_s
        api_server = target.api_server_target
        transport = KubeProxyTransport(
            api_client(target.kube, load_within_s=max(within, 1.0), api_server=api_server)
        )
        base = (
            f"{transport.host}/api/v1/namespaces/{_segment(target.namespace)}/services/"
            f"{_segment(str(target.service))}:{_segment(target.port)}/proxy"
        )
        return cls(
            base_url=base,
            transport=transport,
            headers=headers,
            retry=policy,
            description=target.describe(),
            deadline=deadline,
            api_server=api_server,
            api_namespace=target.namespace if api_server else None,
            api_cluster=target.cluster_name if api_server else None,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.transport.close()

    def __enter__(self) -> DashboardClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Serve REST API -------------------------------------------------------------------------

    def get_applications(self, *, deadline: Deadline | None = None) -> dict[str, Any]:
        """``GET /api/serve/applications/``: config, status and source of EVERY app.

        Without ``api_type``: apps deployed from Python (``serve.run``) are listed too (with
        ``source: imperative``); ``?api_type=declarative`` would hide them from the merge.
        """
        return self._json(self._request("GET", SERVE_APPLICATIONS, deadline=deadline))

    def put_applications(
        self, config: Mapping[str, Any], *, deadline: Deadline | None = None
    ) -> None:
        """``PUT /api/serve/applications/``: replace the WHOLE set of declarative apps, once.

        A 200 means Serve accepted the config, not that anything runs yet. Never retried.

        Raises:
            ServeConfigRejectedError: Serve's schema check refused it (400), with Serve's text.
            DashboardUnreachableError: no answer; ``maybe_applied`` says whether the request
                may have reached Serve (a timeout, a dropped answer, a 502/503/504 of a proxy).

        """
        self._request("PUT", SERVE_APPLICATIONS, body=config, deadline=deadline, retry=False)

    def serve_controller_states(self, *, deadline: Deadline | None = None) -> list[str]:
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
            deadline=deadline,
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

    def version(self, *, deadline: Deadline | None = None) -> dict[str, Any]:
        """``GET /api/version``: the dashboard's API and Ray versions."""
        return self._json(self._request("GET", "/api/version", deadline=deadline))

    # transport ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        deadline: Deadline | None = None,
        retry: bool = True,
    ) -> HttpReply:
        """Send under the retry policy (once if not ``retry``), every try ending by the deadline.

        Raises:
            DashboardUnreachableError: no answer (after the tries the policy and the deadline
                allow); ``maybe_applied`` says whether a write may have reached Serve.
            DashboardTLSError: TLS failed (never retried).

        """
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self.headers)
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, allow_nan=False).encode()
        deadline = deadline or self.deadline or Deadline(DEFAULT_CALL_S)
        policy = self.retry if retry else replace(self.retry, attempts=1)
        where = f"{method} {path}"

        def send(limit_s: float) -> HttpReply:
            if limit_s <= 0:
                raise DashboardUnreachableError(
                    f"the {deadline.timeout_s:g}s deadline passed before {where} could be sent"
                )
            with request_deadline(limit_s) as scope:
                try:
                    reply = self.transport.send(
                        HttpRequest(
                            method, url, headers, data, min(policy.connect_s, limit_s), limit_s
                        )
                    )
                except ValueError as error:  # http.client refusing a header: never quoted
                    raise DashboardError(
                        f"{where} on {self.description} could not be sent "
                        f"({_header_problem(error)})"
                    ) from None
                except (HTTPError, OSError) as error:  # requests' and urllib3's, in layers
                    failure = no_answer(error, cut=scope.cut, limit_s=limit_s)
                    if failure.tls:
                        raise DashboardTLSError(
                            f"{where} on {self.description}: {failure.problem}"
                            + (
                                strict_mode_hint(failure.problem)
                                or "; check the CA (kubeconfig certificate-authority, or the "
                                "system's trust store) and the host name"
                            )
                        ) from None
                    raise DashboardUnreachableError(
                        failure.problem,
                        refused=failure.refused,
                        maybe_applied=failure.sent and method != "GET",
                    ) from None
            if scope.cut:
                # Cut while the head was read: http.client takes the end of the stream for the
                # end of the headers, so what came back looks whole and is not.
                raise DashboardUnreachableError(
                    f"no complete answer within {limit_s:.3g}s",
                    maybe_applied=method != "GET",
                )
            if reply.status in RETRYABLE_STATUS:
                raise DashboardUnreachableError(
                    self._unavailable(reply),
                    maybe_applied=method != "GET" and reply.status != 429,
                    retry_after_s=retry_after_s(reply.headers),
                )
            self._raise_for_status(method, path, reply)
            return reply

        try:
            return with_retries(send, policy=policy, deadline=deadline)
        except DashboardUnreachableError as failure:
            tries = failure.attempts
            after = f"after {tries} attempts" if tries > 1 else f"to {where}"
            raise DashboardUnreachableError(
                f"Ray dashboard at {self.description} gave no answer {after}: {failure}"
                + failure.tries_seen(),
                refused=failure.refused,
                maybe_applied=failure.maybe_applied,
            ) from None

    def _unavailable(self, reply: HttpReply) -> str:
        """``HTTP 503 <body>``; an empty 502 of the KubeRay API server says what it means."""
        if self.api_server is not None and reply.status == 502 and not reply.body.strip():
            return (
                "HTTP 502 with no body from the KubeRay API server (its V2 proxy gave up: the "
                "answer took longer than its 30 s deadline, or the head Service did not answer)"
            )
        return f"HTTP {reply.status} {_short(reply.text)}".strip()

    def _raise_for_status(self, method: str, path: str, reply: HttpReply) -> None:
        status = reply.status
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
        if self.api_server is not None:
            self._raise_for_api_server(where, reply)
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
                f"{where}: HTTP 404; is this the dashboard of a Ray 2.8 or later, and does the "
                "Service exist?"
            )
        raise DashboardError(f"{where}: HTTP {status} {_short(reply.text)}".rstrip())

    def _raise_for_api_server(self, where: str, reply: HttpReply) -> None:
        """Refusals by the KubeRay API server itself, each with its cause (not the dashboard's)."""
        assert self.api_server is not None
        own = apiserver_refusal(reply.status, reply.text, self.api_server)
        if own is not None and reply.status in (401, 403):
            raise DashboardAuthError(f"{where}: {own}")
        if reply.status == 403 and where.split(" ", 1)[0] != "GET":
            namespace = self.api_namespace or "the cluster's namespace"
            raise DashboardAuthError(
                f"{where}: 403 {_short(reply.text)}; "
                + PROXY_WRITE_HINT.format(namespace=namespace)
            )
        if own is not None:
            raise ApiServerRefusedError(f"{where}: {own}")
        if reply.status == 404 and reply.text.strip() == KUBERAY_SERVICE_NOT_FOUND:
            said = (
                f"{where}: 404 {KUBERAY_SERVICE_NOT_FOUND!r} from {self.api_server.describe()}: "
                "its V2 proxy serves only Services labelled app.kubernetes.io/name=kuberay (a "
                "RayCluster's own <cluster>-head-svc, not a serve Service or a RayService's "
                "Services)"
            )
            if self._cluster_gone():
                raise DashboardGoneError(f"{said}; RayCluster {self.api_cluster} is gone too")
            raise ApiServerRefusedError(f"{said}, and this Service is not such a Service")

    def _cluster_gone(self) -> bool:
        """Whether the RayCluster behind the target is gone (read through V2; unsure: no).

        V2 answers "kuberay service not found" alike for a Service it does not proxy and for
        one that does not exist: only the cluster's absence proves the apps gone with it.
        """
        if self.api_server is None or not self.api_cluster or not self.api_namespace:
            return False
        try:
            with KubeClient(
                None, deadline=Deadline(CLUSTER_LOOK_S), api_server=self.api_server
            ) as kube:
                return kube.get(RAY_CLUSTER, self.api_namespace, self.api_cluster) is None
        except RayServiceError:
            return False

    def _json(self, reply: HttpReply) -> dict[str, Any]:
        try:
            data = json.loads(reply.body)
        except ValueError:
            raise DashboardError(
                f"{self.description} answered non-JSON: {_short(reply.text)}"
            ) from None
        if not isinstance(data, dict):
            raise DashboardError(
                f"{self.description} answered {type(data).__name__}, not an object"
            )
        return data


CLUSTER_LOOK_S = 10.0
"""The most a look at whether the cluster behind an unproxied Service still exists may take."""
KUBERAY_SERVICE_NOT_FOUND = "kuberay service not found"
"""What the KubeRay API server's V2 answers for a Service it does not proxy."""


def _is_kubernetes_not_found(reply: HttpReply) -> bool:
    """A 404 from the API server itself (a ``Status`` object), not from the dashboard behind it."""
    try:
        body = json.loads(reply.body)
    except ValueError:
        return False
    return (
        isinstance(body, dict) and body.get("kind") == "Status" and body.get("reason") == "NotFound"
    )


def _header_problem(error: ValueError) -> str:
    """Why http.client refused to send, without its text (which quotes the header's value)."""
    if refused_a_header(error):
        return (
            "a header value holds a newline or another control character: a token read from "
            "a file with its trailing newline? Strip it"
        )
    return type(error).__name__


def _segment(value: str) -> str:
    """One path segment of the proxy URL, escaped; ``.``/``..`` and empty are refused.

    Check refuses such names already; this is what keeps a value that slipped past it from
    sending the user's Kubernetes credentials to another path of the API server.
    """
    if value in ("", ".", ".."):
        raise DashboardError(f"{value!r} cannot be part of the API server's proxy path")
    return quote(value, safe="")


def _short(text: str) -> str:
    """Collapse whitespace and cut a response body to a readable length."""
    return clip(text, MAX_BODY_IN_MESSAGE)
