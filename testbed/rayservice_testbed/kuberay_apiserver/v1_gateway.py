"""V1: grpc-gateway's routing and JSON in front of the compute-template and cluster RPCs.

Routing is grpc-gateway v2's ``runtime.ServeMux`` (``runtime/mux.go``): a path matching a
pattern of the request's method runs it; a path matching only another method's pattern answers
``501 {"code":12,"message":"Method Not Allowed"}`` (so PUT and PATCH on template and cluster paths,
which have no update RPC, and HEAD anywhere); any other path answers
``404 {"code":5,"message":"Not Found"}``. Variables match one whole segment, an empty one
included (``.../clusters/`` is a GET of the cluster named ``""``).

Errors become ``{"code": <gRPC code>, "message": ...}`` with the HTTP status of
``HTTPStatusFromCode`` (``details`` is empty and omitted). Answers of a call that reached the
gRPC server carry ``Grpc-Metadata-Content-Type: application/grpc``, as the gateway forwards the
server's header metadata. Each call has the server's 60 s gRPC timeout as its deadline.

The other V1 services (jobs, RayServices, job submissions) are routed, so their methods and paths
answer as the real ones do, but their RPCs are not emulated: 501 with a message saying so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import templates
from .clusters import Clusters
from .errors import Code, GoError, Reply, grpc_status, http_status
from .kube import KubeClient
from .messages import CLUSTER, EMPTY, LIST_CLUSTERS, LIST_TEMPLATES, STATUS, MessageDesc
from .messages import compute_template as compute_template_desc
from .protojson import DecodeError, Flavor, decode, encode
from .releases import Release

GRPC_TIMEOUT_S = 60.0
"""``--grpc_timeout`` default (``util.GRPCServerDefaultTimeout``)."""


@dataclass(frozen=True)
class Route:
    """One ``google.api.http`` rule: method, path pattern, the RPC it calls."""

    method: str
    pattern: str
    rpc: str

    def match(self, segments: list[str]) -> dict[str, str] | None:
        parts = self.pattern.strip("/").split("/")
        if len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


_NS = "/apis/v1/namespaces/{namespace}"
ROUTES: tuple[Route, ...] = (
    Route("POST", f"{_NS}/compute_templates", "ComputeTemplateService.CreateComputeTemplate"),
    Route("GET", f"{_NS}/compute_templates/{{name}}", "ComputeTemplateService.GetComputeTemplate"),
    Route("GET", f"{_NS}/compute_templates", "ComputeTemplateService.ListComputeTemplates"),
    Route("GET", "/apis/v1/compute_templates", "ComputeTemplateService.ListAllComputeTemplates"),
    Route(
        "DELETE",
        f"{_NS}/compute_templates/{{name}}",
        "ComputeTemplateService.DeleteComputeTemplate",
    ),
    Route("POST", f"{_NS}/clusters", "ClusterService.CreateCluster"),
    Route("GET", f"{_NS}/clusters/{{name}}", "ClusterService.GetCluster"),
    Route("GET", f"{_NS}/clusters", "ClusterService.ListCluster"),
    Route("GET", "/apis/v1/clusters", "ClusterService.ListAllClusters"),
    Route("DELETE", f"{_NS}/clusters/{{name}}", "ClusterService.DeleteCluster"),
    # Routed, not emulated.
    Route("POST", f"{_NS}/jobs", "RayJobService.CreateRayJob"),
    Route("GET", f"{_NS}/jobs/{{name}}", "RayJobService.GetRayJob"),
    Route("GET", f"{_NS}/jobs", "RayJobService.ListRayJobs"),
    Route("GET", "/apis/v1/jobs", "RayJobService.ListAllRayJobs"),
    Route("DELETE", f"{_NS}/jobs/{{name}}", "RayJobService.DeleteRayJob"),
    Route("POST", f"{_NS}/services", "RayServeService.CreateRayService"),
    Route("PUT", f"{_NS}/services/{{name}}", "RayServeService.UpdateRayService"),
    Route("GET", f"{_NS}/services/{{name}}", "RayServeService.GetRayService"),
    Route("GET", f"{_NS}/services", "RayServeService.ListRayServices"),
    Route("GET", "/apis/v1/services", "RayServeService.ListAllRayServices"),
    Route("DELETE", f"{_NS}/services/{{name}}", "RayServeService.DeleteRayService"),
    Route("POST", f"{_NS}/jobsubmissions/{{clustername}}", "RayJobSubmissionService.SubmitRayJob"),
    Route(
        "GET",
        f"{_NS}/jobsubmissions/{{clustername}}/{{submissionid}}",
        "RayJobSubmissionService.GetJobDetails",
    ),
    Route(
        "GET",
        f"{_NS}/jobsubmissions/{{clustername}}/log/{{submissionid}}",
        "RayJobSubmissionService.GetJobLog",
    ),
    Route("GET", f"{_NS}/jobsubmissions/{{clustername}}", "RayJobSubmissionService.ListJobDetails"),
    Route(
        "POST",
        f"{_NS}/jobsubmissions/{{clustername}}/{{submissionid}}",
        "RayJobSubmissionService.StopRayJob",
    ),
    Route(
        "DELETE",
        f"{_NS}/jobsubmissions/{{clustername}}/{{submissionid}}",
        "RayJobSubmissionService.DeleteRayJob",
    ),
)

_GRPC_HEADER = ("Grpc-Metadata-Content-Type", "application/grpc")


class _QueryError(Exception):
    """A query parameter grpc-gateway cannot parse into the request message."""


def _query_int64(query: str, name: str) -> int:
    """``runtime.PopulateQueryParameters`` for one int64 field (absent is 0)."""
    values = parse_qs(query, keep_blank_values=True).get(name, [])
    if not values:
        return 0
    if len(values) > 1:
        raise _QueryError(f'too many values for field "{name}": {", ".join(values)}')
    text = values[0]
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        raise _QueryError(
            f'parsing field "{name}": strconv.ParseInt: parsing "{text}": invalid syntax'
        )
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise _QueryError(
            f'parsing field "{name}": strconv.ParseInt: parsing "{text}": value out of range'
        )
    return value


def _query_string(query: str, name: str) -> str:
    values = parse_qs(query, keep_blank_values=True).get(name, [])
    if len(values) > 1:
        raise _QueryError(f'too many values for field "{name}": {", ".join(values)}')
    return values[0] if values else ""


class Gateway:
    """The V1 HTTP API of one stand-in: routes, codec, RPCs."""

    def __init__(self, kube: KubeClient, release: Release, flavor: Flavor, started: float) -> None:
        self.kube = kube
        self.release = release
        self.flavor = flavor
        self.clusters = Clusters(kube, release, started)
        self._rpcs: dict[
            str, Callable[[dict[str, str], str, bytes, float], tuple[Any, MessageDesc]]
        ]
        self._rpcs = {
            "ComputeTemplateService.CreateComputeTemplate": self._create_template,
            "ComputeTemplateService.GetComputeTemplate": self._get_template,
            "ComputeTemplateService.ListComputeTemplates": self._list_templates,
            "ComputeTemplateService.ListAllComputeTemplates": self._list_all_templates,
            "ComputeTemplateService.DeleteComputeTemplate": self._delete_template,
            "ClusterService.CreateCluster": self._create_cluster,
            "ClusterService.GetCluster": self._get_cluster,
            "ClusterService.ListCluster": self._list_clusters,
            "ClusterService.ListAllClusters": self._list_all_clusters,
            "ClusterService.DeleteCluster": self._delete_cluster,
        }

    # -- HTTP ------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, body: bytes) -> Reply:
        """One request that no other handler of the top mux took."""
        segments = path[1:].split("/")
        for route in ROUTES:
            if route.method == method:
                params = route.match(segments)
                if params is not None:
                    return self._call(route, params, query, body)
        if any(r.match(segments) is not None for r in ROUTES):
            return self.status_reply(Code.UNIMPLEMENTED, "Method Not Allowed", grpc=False)
        return self.status_reply(Code.NOT_FOUND, "Not Found", grpc=False)

    def status_reply(self, code: Code, message: str, *, grpc: bool) -> Reply:
        """grpc-gateway's error answer: a ``google.rpc.Status`` as JSON."""
        body = encode({"code": int(code), "message": message}, STATUS, flavor=self.flavor)
        headers = [("Content-Type", "application/json")]
        if grpc:
            headers.append(_GRPC_HEADER)
        return Reply(http_status(code), headers, body.encode())

    def _call(self, route: Route, params: dict[str, str], query: str, body: bytes) -> Reply:
        rpc = self._rpcs.get(route.rpc)
        if rpc is None:
            return self.status_reply(
                Code.UNIMPLEMENTED,
                f"{route.rpc} is not emulated by the KubeRay API server stand-in",
                grpc=True,
            )
        deadline = time.monotonic() + GRPC_TIMEOUT_S
        try:
            answer, desc = rpc(params, query, body, deadline)
        except (DecodeError, _QueryError) as exc:
            return self.status_reply(Code.INVALID_ARGUMENT, str(exc), grpc=False)
        except GoError as exc:
            code, message = grpc_status(exc)
            return self.status_reply(code, message, grpc=True)
        text = encode(answer, desc, flavor=self.flavor, memory_unit=self.release.memory_unit)
        headers = [("Content-Type", "application/json"), _GRPC_HEADER]
        return Reply(200, headers, text.encode())

    # -- RPCs -------------------------------------------------------------------------------------

    def _template_desc(self) -> MessageDesc:
        return compute_template_desc(self.release.memory_unit)

    def _create_template(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        template = decode(
            body, self._template_desc(), flavor=self.flavor, memory_unit=self.release.memory_unit
        )
        answer = templates.create(self.kube, params["namespace"], template, self.release, deadline)
        return answer, self._template_desc()

    def _get_template(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        answer = templates.get(
            self.kube, params["namespace"], params["name"], self.release, deadline
        )
        return answer, self._template_desc()

    def _list_templates(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        return templates.list_in(
            self.kube, params["namespace"], self.release, deadline
        ), LIST_TEMPLATES

    def _list_all_templates(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        return templates.list_all(self.kube, self.release, deadline), LIST_TEMPLATES

    def _delete_template(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        return templates.delete(self.kube, params["namespace"], params["name"], deadline), EMPTY

    def _create_cluster(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        cluster = decode(body, CLUSTER, flavor=self.flavor, memory_unit=self.release.memory_unit)
        return self.clusters.create(params["namespace"], cluster, deadline), CLUSTER

    def _get_cluster(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        return self.clusters.get(params["namespace"], params["name"], deadline), CLUSTER

    def _list_clusters(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        token, limit = _query_string(query, "continue"), _query_int64(query, "limit")
        answer = self.clusters.list(params["namespace"], token, limit, deadline, everywhere=False)
        return answer, LIST_CLUSTERS

    def _list_all_clusters(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        token, limit = _query_string(query, "continue"), _query_int64(query, "limit")
        return self.clusters.list("", token, limit, deadline, everywhere=True), LIST_CLUSTERS

    def _delete_cluster(
        self, params: dict[str, str], query: str, body: bytes, deadline: float
    ) -> tuple[Any, MessageDesc]:
        return self.clusters.delete(params["namespace"], params["name"], deadline), EMPTY
