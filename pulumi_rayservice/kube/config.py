"""How the providers reach a Kubernetes API server, without ever storing credentials in plain state.

``Kube`` is what a user writes: a kubeconfig path or the kubeconfig's YAML content, a context, or
in-cluster credentials; nothing given means what ``kubectl`` does (``KUBECONFIG``, then
``~/.kube/config``, then in-cluster). It travels to the provider host as a small dict input in
which the content is a Pulumi secret; the provider builds the official ``kubernetes`` client
inside each call from it (exec auth plugins, client certificates, in-cluster tokens all work), and
never keeps a client or a token on the provider object, which Pulumi pickles into state.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._util.bounded_http import bound_pool_manager, current_remaining
from .._util.secrets import also_redact
from .._util.text import clip
from .._util.tls import kubectl_tls_context
from .._util.yaml_loader import load_yaml, looks_like_text, read_text_file
from ..errors import InvalidInputError, KubeConfigError
from .apiserver import ApiServerTarget, api_server_configuration

T = TypeVar("T")
EXEC_PLUGIN_S = 60.0
"""The most loading a kubeconfig or refreshing its credentials may take (an exec plugin runs)."""


class Kube(BaseModel):
    """Credentials for a Kubernetes API server.

    Args:
        kubeconfig: a kubeconfig file path (``~`` is expanded when used) or the kubeconfig YAML
            itself. Content is sent to the provider as a secret and never appears in plain state.
        context: the kubeconfig context to use; default: the kubeconfig's current context.
        in_cluster: use the service account of the pod that runs ``pulumi`` (CI inside a cluster).

    """

    # The kubeconfig may be the credentials themselves: never in a repr or a validation error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kubeconfig: str | None = Field(
        default=None, description="kubeconfig path or YAML content", repr=False
    )
    context: str | None = Field(default=None, description="kubeconfig context")
    in_cluster: bool = Field(default=False, description="use in-cluster service account")

    @model_validator(mode="after")
    def _one_source(self) -> Kube:
        if self.in_cluster and self.kubeconfig:
            raise ValueError("give either kubeconfig or in_cluster=True, not both")
        return self

    @property
    def is_content(self) -> bool:
        """Whether ``kubeconfig`` holds YAML content rather than a path."""
        return self.kubeconfig is not None and looks_like_content(self.kubeconfig)

    def to_input(self) -> dict[str, Any]:
        """The dict sent to the provider host; content is wrapped as a Pulumi secret."""
        data: dict[str, Any] = {}
        if self.kubeconfig is not None:
            if self.is_content:
                data["content"] = pulumi.Output.secret(self.kubeconfig)
            else:
                data["path"] = self.kubeconfig
        if self.context is not None:
            data["context"] = self.context
        if self.in_cluster:
            data["in_cluster"] = True
        return data


def looks_like_content(value: str) -> bool:
    """Whether ``value`` is the kubeconfig itself rather than its path (the package's one rule)."""
    return looks_like_text(value)


def kube_to_input(kube: Kube | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Accept a ``Kube``, an already-built input dict (e.g. a RayCluster output), or None."""
    if kube is None:
        return None
    if isinstance(kube, Kube):
        return kube.to_input()
    return dict(kube)


def kube_identity(kube: Mapping[str, Any] | None) -> str:
    """A non-secret description of which credentials are used, for ids, locks and messages."""
    if not kube:
        return "default kubeconfig"
    if kube.get("in_cluster"):
        return "in-cluster"
    source = "inline kubeconfig" if kube.get("content") else f"kubeconfig {kube.get('path')}"
    context = kube.get("context")
    return f"{source} (context {context})" if context else source


def load_client_configuration(kube: Mapping[str, Any] | None) -> Any:
    """Build a ``kubernetes.client.Configuration`` from a kube input dict.

    Raises:
        KubeConfigError: no usable configuration; the message never quotes the kubeconfig.

    """
    # Imported lazily (the host imports this module early); the client is untyped: keep it Any.
    from kubernetes import client
    from kubernetes import config as kube_config

    config: Any = kube_config
    kube = kube or {}
    configuration = client.Configuration()
    context = kube.get("context")
    try:
        if kube.get("in_cluster"):
            config.load_incluster_config(client_configuration=configuration)
        elif kube.get("content"):
            data = load_yaml(str(kube["content"]), "the kubeconfig content")
            if not isinstance(data, dict):
                raise KubeConfigError("the kubeconfig content is not a YAML mapping")
            config.load_kube_config_from_dict(
                data, context=context, client_configuration=configuration, persist_config=False
            )
        else:
            path = kube.get("path") or default_kubeconfig_path()
            if path is None:
                config.load_incluster_config(client_configuration=configuration)
            else:
                config.load_kube_config(
                    config_file=str(Path(path).expanduser()),
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
    except KubeConfigError:
        raise
    except InvalidInputError as error:
        raise KubeConfigError(str(error)) from None
    except (config.ConfigException, OSError, ValueError, KeyError, TypeError) as error:
        raise KubeConfigError(f"cannot load {kube_identity(kube)}: {_safe_reason(error)}") from None
    return configuration


def api_client(
    kube: Mapping[str, Any] | None,
    *,
    load_within_s: float = EXEC_PLUGIN_S,
    api_server: ApiServerTarget | None = None,
) -> Any:
    """A fresh ``kubernetes.client.ApiClient`` for one provider call, on bounded connections.

    With ``api_server`` the client reaches the KubeRay API server's V2 proxy instead of the
    kubeconfig's cluster (:mod:`.apiserver`); ``kube`` is then not read.

    The client's own urllib3 retries are off (the package's one retry policy decides, inside the
    operation's deadline) and its connections keep TCP alive and can be cut at a deadline
    (:mod:`.._util.bounded_http`). Loading the configuration may run the kubeconfig's exec
    credential plugin, which the client waits for without a limit: it gets ``load_within_s``.
    Certificates are verified as kubectl verifies them, on every Python (:mod:`.._util.tls`).
    """
    from kubernetes import client

    if api_server is not None:
        configuration = api_server_configuration(api_server)
    else:
        configuration = bounded_call(
            lambda: load_client_configuration(kube), load_within_s, "loading the kubeconfig"
        )
    configuration.retries = False
    also_redact(credentials_of(configuration))
    refresh = configuration.refresh_api_key_hook
    if refresh is not None:
        configuration.refresh_api_key_hook = _bounded_refresh(refresh)
    api = client.ApiClient(configuration=configuration)
    pool = bound_pool_manager(api.rest_client.pool_manager)
    if str(configuration.host).lower().startswith("https:"):
        pool.connection_pool_kw["ssl_context"] = kubectl_tls_context(
            verify=bool(configuration.verify_ssl),
            system_trust=not (configuration.ssl_ca_cert or configuration.ca_cert_data),
        )
    return api


def _bounded_refresh(refresh: Callable[[Any], None]) -> Callable[[Any], None]:
    """The client's credential refresh (an expired exec plugin token), bounded by the request.

    The client calls it before every request and re-runs the plugin, without a limit, once the
    token expired (EKS tokens last 15 minutes: a long wait outlives one). Here it gets what is
    left of the current request's deadline, at most ``EXEC_PLUGIN_S``; a new token joins the
    call's secrets.
    """

    def bounded(configuration: Any) -> None:
        left = current_remaining()
        within = EXEC_PLUGIN_S if left is None else min(left, EXEC_PLUGIN_S)
        bounded_call(lambda: refresh(configuration), within, "refreshing the kubeconfig's token")
        also_redact(credentials_of(configuration))

    return bounded


def credentials_of(configuration: Any) -> list[str]:
    """The credentials a loaded configuration holds (from a ``tokenFile``, a plugin, a file).

    They are in no input, so only now can they be added to what is redacted.
    """
    found: list[str] = []
    for value in (getattr(configuration, "api_key", None) or {}).values():
        if isinstance(value, str) and value:
            found.append(value)
            found.append(value.split(" ", 1)[-1])  # "Bearer <token>": the token alone too
    password = getattr(configuration, "password", None)
    if isinstance(password, str) and password:
        found.append(password)
    return found


def auth_headers(configuration: Any) -> dict[str, str]:
    """The headers that authenticate a request as the kubeconfig's user.

    ``auth_settings()`` is where every client generation puts the header it would send (and runs
    the refresh hook that re-runs an expired exec plugin, bounded by :func:`api_client`); a
    kubeconfig with a user name and password gets Basic auth, as ``kubectl`` sends it.
    """
    settings = configuration.auth_settings()
    headers: dict[str, str] = {}
    for setting in settings.values():
        if setting.get("in") == "header" and setting.get("value"):
            headers[str(setting["key"]).title()] = str(setting["value"])
    if "Authorization" not in headers and configuration.username and configuration.password:
        basic = configuration.get_basic_auth_token()
        if basic:
            headers["Authorization"] = basic
    return headers


def bounded_call(call: Callable[[], T], seconds: float, what: str) -> T:
    """Run ``call`` (which may run an exec credential plugin) for at most ``seconds``.

    The kubernetes client waits for an exec plugin without a limit; a plugin that hangs (an SSO
    prompt nobody answers in CI) would hang ``pulumi up``. The call runs in a daemon thread and
    is abandoned when the time is up, failing with what was being done.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    if worker.is_alive():
        raise KubeConfigError(
            f"{what} took longer than {seconds:g}s (an exec credential plugin that does not "
            "finish, such as a login prompt nobody answers?)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def api_server_of(kube: Mapping[str, Any] | None) -> str | None:
    """The API server URL a kube input resolves to, or None when the kubeconfig does not say.

    Read from the kubeconfig alone (the context's cluster's ``server``), or from the in-cluster
    environment: no network, no auth plugin, so a preview can compare clusters. The official
    client resolves the same entries when it connects.
    """
    kube = kube or {}
    try:
        if kube.get("in_cluster"):
            return _in_cluster_server()
        if kube.get("content"):
            data = load_yaml(str(kube["content"]), "the kubeconfig content")
        else:
            path = kube.get("path") or default_kubeconfig_path()
            if path is None:
                return _in_cluster_server()
            data = load_yaml(read_text_file(str(path)), "the kubeconfig")
    except (OSError, InvalidInputError):
        return None
    if not isinstance(data, Mapping):
        return None
    context_name = kube.get("context") or data.get("current-context")
    context = _named(data.get("contexts"), context_name).get("context")
    if not isinstance(context, Mapping):
        return None
    cluster = _named(data.get("clusters"), context.get("cluster")).get("cluster")
    server = cluster.get("server") if isinstance(cluster, Mapping) else None
    return str(server) if isinstance(server, str) and server else None


def _named(entries: Any, name: Any) -> Mapping[str, Any]:
    """The entry called ``name`` of a kubeconfig list (contexts, clusters), or an empty mapping."""
    if not isinstance(entries, list) or not isinstance(name, str):
        return {}
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return {}


def _in_cluster_server() -> str | None:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def default_kubeconfig_path() -> str | None:
    """``kubectl``'s search: ``$KUBECONFIG`` (first entry), then ``~/.kube/config``, else None."""
    env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if env:
        return env
    default = Path("~/.kube/config").expanduser()
    return str(default) if default.exists() else None


def _safe_reason(error: BaseException) -> str:
    """The first line of an error, cut short: config loaders may echo file content."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return clip(text, 200)


_CREDENTIAL_KEY = re.compile(r"token|password|secret|key-data", re.IGNORECASE)


def kube_secrets(kube: Any) -> list[str]:
    """The secret values of a kube input: the content, and each credential written inside it.

    An error may quote one line of a kubeconfig (a server echoing the bearer token) without the
    rest: redacting the whole content alone would miss it. Never raises (inputs may be unchecked).
    """
    if not isinstance(kube, Mapping) or not isinstance(kube.get("content"), str):
        return []
    content = kube["content"]
    found = [content]
    try:
        data = load_yaml(content, "the kubeconfig content")
    except InvalidInputError:
        return found
    users = data.get("users") if isinstance(data, Mapping) else None
    for entry in users if isinstance(users, list) else []:
        user = entry.get("user") if isinstance(entry, Mapping) else None
        found.extend(_credentials(user))
    return found


def _credentials(node: Any, key: str = "") -> list[str]:
    """String leaves under credential-like keys, and every value of an exec plugin's ``env``."""
    if isinstance(node, Mapping):
        if key == "env":
            return [str(v) for v in node.values() if isinstance(v, str)]
        return [text for k, v in node.items() for text in _credentials(v, str(k))]
    if isinstance(node, list):
        if key == "env":
            return [str(e["value"]) for e in node if isinstance(e, Mapping) and "value" in e]
        return [text for item in node for text in _credentials(item, key)]
    if isinstance(node, str) and _CREDENTIAL_KEY.search(key):
        return [node]
    return []
