"""One identity per Ray cluster: what decides replace-vs-update and which writer lock applies.

The same cluster is reached under many spellings: ``localhost``, ``127.0.0.1`` or ``LOCALHOST``;
the head Service's port ``dashboard`` or ``8265``; the kubeconfig's current context or the same
context named; a kubeconfig at another path on CI. Two locks for one cluster are no lock, and a
spelling change must not replace every app. And one spelling can name two clusters: a context that
now points at another API server is another cluster, so the app moves (create on the new, delete
from the old) instead of being updated in place.

The identity is a URL with no secret in it:
- a direct dashboard: ``scheme://host:port/path``, the loopback forms as ``127.0.0.1`` and the
  default port written out;
- through the API server's proxy: the API server URL the kubeconfig resolves to, then the proxy
  path with the port as a number (``.../namespaces/ray/services/fruit-head-svc:8265``).

Everything here is pure: the kubeconfig is read from disk (or from the secret input) but no
network is used and no auth plugin runs, so ``diff`` can call it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
KUBERAY_HEAD_PORTS = {
    "dashboard": 8265,
    "client": 10001,
    "gcs-server": 6379,
    "serve": 8000,
    "metrics": 8080,
}
"""The port names KubeRay gives its head Service, and their numbers (named and numbered as one)."""
UNRESOLVED_SERVER = "kube://unresolved"
"""Stands for an API server that the local kubeconfig does not name (compared as unknown)."""
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def url_identity(url: str) -> str:
    """``scheme://host:port/path`` of a URL: lower case, loopback as 127.0.0.1, port explicit.

    A text that is no URL at all (``http://[::1`` in an old or edited state) is its own identity,
    equal to nothing but itself.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return f"unparsable:{url.strip()}"
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if is_loopback(host):
        host = LOOPBACK
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    host_part = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host_part}:{port}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface (any spelling)."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def proxy_port(port: str | int) -> str:
    """A head Service port as a number when KubeRay's name for it is given (``dashboard``: 8265)."""
    text = str(port).strip().lower()
    return str(KUBERAY_HEAD_PORTS.get(text, text))


def proxy_identity(server: str | None, namespace: str, service: str, port: str | int) -> str:
    """The identity of a dashboard reached through the API server at ``server``."""
    where = url_identity(server) if server else UNRESOLVED_SERVER
    return f"{where}/api/v1/namespaces/{namespace}/services/{service}:{proxy_port(port)}"


def same_cluster(old: str, new: str) -> bool:
    """Whether two identities name one cluster; an unresolved API server matches any server.

    A preview on a machine whose kubeconfig is elsewhere (or not yet written) must not show every
    app replaced: only what is known is compared there.
    """
    if UNRESOLVED_SERVER in (_server_part(old), _server_part(new)):
        return _proxy_part(old) == _proxy_part(new)
    return old == new


def _server_part(identity: str) -> str:
    return identity.split("/api/v1/namespaces/", 1)[0] if "/api/v1/namespaces/" in identity else ""


def _proxy_part(identity: str) -> str:
    return identity.split("/api/v1/namespaces/", 1)[-1]
