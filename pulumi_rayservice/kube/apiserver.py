"""The KubeRay API server: a way to reach a cluster's Ray objects without a kubeconfig.

A platform team runs the KubeRay API server (``apiserver/`` in ray-project/kuberay) and hands its
users a URL, sometimes a token, never a kubeconfig. One process on one port serves two APIs:

- **V2** (KubeRay v1.4 and later, on by default): a proxy to the Kubernetes API for
  ``/apis/ray.io/v1/...`` (RayClusters in Kubernetes' own shape), for the ``/proxy`` of a
  RayCluster's own head Service (so the dashboard), and for the ray.io objects' events. Since it
  *is* Kubernetes' API for those paths, the official ``kubernetes`` client reaches it like an API
  server: :func:`api_server_configuration` points a client ``Configuration`` at the URL. What V2
  does not serve (Leases, watches that stream, other Services) the callers do without
  (:attr:`ApiServerTarget.can_watch`; the Serve writer lock in :mod:`..serve.writer_lock`).
- **V1** (every release): compute templates and clusters in the API server's own messages
  (``proto/config.proto``, ``proto/cluster.proto``).

``KubeRayApiServer`` is what a user writes. It travels to the provider host as an
``ApiServerInput`` dict whose token is a Pulumi secret; the provider reads it back with
:meth:`ApiServerTarget.from_input` inside each call and keeps nothing on the provider object.

The token is the security proxy's (Helm ``security:``): sent as ``Authorization: <token>``
exactly, with no ``Bearer``, as that proxy compares the header with its token byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import pulumi
from pulumi.output import Unknown
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._util.inputs import Failure, check_flag, check_secret_text, secret_text_problem
from .._util.text import clip
from .._util.urls import http_url_problem
from .._util.yaml_loader import looks_like_text, read_text_file
from ..errors import KubeConfigError

__all__ = [
    "APISERVER_KEYS",
    "API_V1",
    "API_V2",
    "ApiServerInput",
    "ApiServerTarget",
    "KubeRayApiServer",
    "api_server_configuration",
    "api_server_problems",
    "api_server_secrets",
    "apiserver_refusal",
]

API_V2 = "v2"
"""Clusters as Kubernetes RayCluster objects through V2's proxy (KubeRay v1.4 and later)."""
API_V1 = "v1"
"""Clusters through V1's cluster API (``/apis/v1/namespaces/{ns}/clusters``), as the seed shows."""
APIS = (API_V2, API_V1)


class ApiServerInput(TypedDict, total=False):
    """A KubeRay API server target as it crosses to the provider host (the ``api_server`` input).

    ``token`` is a secret; ``ca_data`` is PEM text, ``ca_file`` a path read in the provider.
    """

    url: str
    api: str
    token: str
    ca_data: str
    ca_file: str
    insecure_skip_tls_verify: bool


APISERVER_KEYS: tuple[str, ...] = tuple(ApiServerInput.__annotations__)


def url_problem(url: Any) -> str | None:
    """Why ``url`` cannot be the API server's base URL, or None. Never quotes credentials."""
    return http_url_problem(url, example="http://localhost:31888")


class KubeRayApiServer(BaseModel):
    """A KubeRay API server: a target for ``RayCluster``, ``ServeApplication``, ``RayService``.

    Args:
        url: the server's base URL (``http://localhost:31888`` in KubeRay's examples, port 8888
            behind its Service); a path prefix (an ingress) is kept.
        token: the security proxy's token (Helm ``security:``), sent as ``Authorization`` exactly
            as given; a secret (a string or a secret Output), never in plain state, logs or errors.
        api: ``"v2"`` (default): RayClusters through V2's Kubernetes-shaped proxy, patched in
            place by KubeRay's rule. ``"v1"``: clusters through V1's cluster API as the seed
            shows (every change a replacement); Serve apps still go through V2's service proxy.
        certificate_authority: for an ``https://`` URL, the CA that signed the server's
            certificate: PEM text or a file path (like a kubeconfig's ``certificate-authority``).
        insecure_skip_tls_verify: do not verify the server's certificate (as kubectl's flag).

    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, arbitrary_types_allowed=True
    )

    url: str = Field(description="base URL of the KubeRay API server")
    token: Any = Field(default=None, description="security proxy token (secret)", repr=False)
    api: Literal["v2", "v1"] = Field(default="v2", description="cluster API: v2 or v1")
    certificate_authority: str | None = Field(default=None, description="CA PEM or path")
    insecure_skip_tls_verify: bool = Field(default=False, description="skip TLS verification")

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem:
            raise ValueError(problem)
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _valid_token(cls, value: Any) -> Any:
        if value is None or isinstance(value, pulumi.Output):
            return value
        problem = secret_text_problem(value, header=True)
        if problem:
            raise ValueError(problem)
        return value

    def to_input(self) -> ApiServerInput:
        """The input sent to the provider host (the token as a secret)."""
        data = ApiServerInput(url=self.url, api=self.api)
        if self.token is not None:
            data["token"] = pulumi.Output.secret(self.token)  # type: ignore[typeddict-item]
        if self.certificate_authority is not None:
            if looks_like_text(self.certificate_authority):
                data["ca_data"] = self.certificate_authority
            else:
                data["ca_file"] = self.certificate_authority
        if self.insecure_skip_tls_verify:
            data["insecure_skip_tls_verify"] = True
        return data


def api_server_to_input(value: KubeRayApiServer | Mapping[str, Any] | None) -> Any:
    """Accept a ``KubeRayApiServer``, an input dict already built (an output), or None."""
    if value is None:
        return None
    if isinstance(value, KubeRayApiServer):
        return value.to_input()
    return value if isinstance(value, pulumi.Output) else dict(value)


def api_server_problems(raw: Any, field: str = "api_server") -> list[Failure]:
    """Failures of an ``api_server`` input by ``KubeRayApiServer``'s rules; never raises.

    Values not yet known (an output of another resource) pass and are checked once known.
    """
    if raw is None or isinstance(raw, Unknown):
        return []
    if not isinstance(raw, Mapping):
        return [(field, "must be rs.KubeRayApiServer(url=...)")]
    failures: list[Failure] = []
    unknown = sorted(str(k) for k in raw if k not in APISERVER_KEYS)
    if unknown:
        failures.append((field, f"unknown keys {unknown}; allowed: {', '.join(APISERVER_KEYS)}"))
    url = raw.get("url")
    if url is None:
        failures.append((f"{field}.url", "required: the API server's URL"))
    elif not isinstance(url, Unknown):
        problem = url_problem(url)
        if problem:
            failures.append((f"{field}.url", problem))
    api = raw.get("api", API_V2)
    if not isinstance(api, Unknown) and api not in APIS:
        failures.append((f"{field}.api", f"got {clip(repr(api), 40)}; must be 'v2' or 'v1'"))
    failures.extend(check_secret_text(raw.get("token"), f"{field}.token", header=True))
    for key in ("ca_data", "ca_file"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str | Unknown):
            failures.append((f"{field}.{key}", f"got {type(value).__name__}; must be a string"))
    failures.extend(
        (f"{field}.{key}", reason) for key, reason in check_flag(raw, "insecure_skip_tls_verify")
    )
    return failures


def api_server_secrets(raw: Any) -> list[str]:
    """The secret values of an ``api_server`` input (its token); never raises."""
    if isinstance(raw, Mapping) and isinstance(raw.get("token"), str) and raw["token"]:
        return [raw["token"]]
    return []


@dataclass(frozen=True)
class ApiServerTarget:
    """An ``api_server`` input as received by the provider (plain values; the token unwrapped)."""

    url: str
    api: str
    token: str | None = field(repr=False)
    ca_data: str | None = field(repr=False)
    ca_file: str | None
    insecure: bool

    @classmethod
    def from_input(cls, data: Mapping[str, Any]) -> ApiServerTarget:
        """Read a checked ``ApiServerInput`` (``api_server_problems`` found nothing)."""
        return cls(
            url=str(data["url"]).rstrip("/"),
            api=str(data.get("api") or API_V2),
            token=str(data["token"]) if data.get("token") else None,
            ca_data=str(data["ca_data"]) if data.get("ca_data") else None,
            ca_file=str(data["ca_file"]) if data.get("ca_file") else None,
            insecure=data.get("insecure_skip_tls_verify") is True,
        )

    @property
    def can_watch(self) -> bool:
        """False: V2 reads every answer whole before it sends it, so a watch arrives at its end."""
        return False

    def describe(self) -> str:
        """``the KubeRay API server at <url>``, for messages (no secret)."""
        return f"the KubeRay API server at {self.url}"


def apiserver_refusal(
    status: int, body: str, target: ApiServerTarget, *, kubernetes_path: bool = False
) -> str | None:
    """What an answer made by the KubeRay API server itself (not passed on) means, or None.

    - 401 ``Unauthorized`` as plain text: the security proxy refused the token.
    - 401 or 403 as a Kubernetes ``Status``: V2 passed our ``Authorization`` on to Kubernetes
      (it keeps a header that is already set instead of its service account's token), which
      refused it: V2 does not work behind the security proxy.
    - 404 as the gateway's ``{"code": 5, ...}``: the path is not served, so V2 is off or the
      server is older than v1.4; never "the object is gone".
    - on a Kubernetes path (``kubernetes_path``), any other 404 that is not a Kubernetes
      ``Status`` (an ingress's "404 page not found"): not an answer about the object either.
    - 403 as a Kubernetes ``Status`` on a write through the service proxy is said by the
      caller, which knows the verb (:data:`PROXY_WRITE_HINT`).
    """
    text = body.strip()
    if status == 401 and text == "Unauthorized":
        given = "the token given was refused" if target.token else "no token was given"
        return (
            f"401 from {target.describe()}'s security proxy: {given}; set "
            "KubeRayApiServer(token=...) to the proxy's token (sent as Authorization, no Bearer)"
        )
    if status == 401 and _is_status(text) and target.token:
        return (
            f"{status} from Kubernetes behind {target.describe()}: V2 passed the security "
            "proxy's token on to Kubernetes, which refused it (V2 forwards an Authorization "
            "header it receives instead of its own service account's). V2 cannot work behind "
            "the security proxy: reach the cluster with a kube= target instead, or the server "
            "without the proxy"
        )
    if status == 404 and _is_gateway_error(text):
        return (
            f"404 from {target.describe()}: it does not serve V2 (KubeRay older than v1.4, or "
            "run with --enable-api-server-v2=false). Clusters can use api='v1'; a dashboard "
            "needs V2: reach it with a kube= target or a URL instead"
        )
    if status == 404 and kubernetes_path and not _is_status(text):
        return (
            f"404 from {target.describe()} that is not Kubernetes' answer ({clip(text, 80)!r}): "
            "is the URL the API server itself (not an ingress path in front of it)?"
        )
    return None


PROXY_WRITE_HINT = (
    "the KubeRay API server's service account may not write through the service proxy: "
    "KubeRay's Helm chart grants it only get, list and watch on services/proxy, and a Serve "
    "deploy is a PUT (verb update). Grant update on services/proxy (namespace {namespace}) to "
    "the API server's service account"
)
"""What a 403 ``Status`` on a write through V2's service proxy means (its RBAC)."""


def _is_status(text: str) -> bool:
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("kind") == "Status"


def _is_gateway_error(text: str) -> bool:
    """grpc-gateway's error JSON: ``{"code": <grpc code>, "message": ...}``, no ``kind``."""
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and "code" in body and "kind" not in body


def api_server_configuration(target: ApiServerTarget) -> Any:
    """A ``kubernetes.client.Configuration`` that reaches V2 at ``target.url``.

    The token goes out as ``Authorization: <token>`` (an api key without a prefix), exactly as
    the security proxy compares it. The CA is loaded as PEM data; a file is read here, so a
    missing or unreadable one fails before any request with what was wrong.

    Raises:
        KubeConfigError: the CA file cannot be read.

    """
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = target.url
    if target.token:
        configuration.api_key = {"authorization": target.token}
    if target.insecure:
        configuration.verify_ssl = False
    ca = target.ca_data
    if ca is None and target.ca_file is not None:
        try:
            ca = read_text_file(target.ca_file)
        except Exception as error:  # any failure to read it is the same advice
            raise KubeConfigError(
                f"cannot read the KubeRay API server's certificate authority {target.ca_file!r}: "
                f"{clip(str(error), 200)}"
            ) from None
    if ca is not None:
        configuration.ca_cert_data = ca
    return configuration
