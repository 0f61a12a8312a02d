"""How certificates are verified, and what a failed verification tells the user.

**The Kubernetes API server is verified as kubectl verifies it.** A kubeconfig is the cluster's
own trust: its certificate authority, the server's name (or ``tls-server-name``), validity dates.
kubectl, client-go and pulumi-kubernetes (Go's ``crypto/x509``) check exactly that. Python 3.13
also turns on OpenSSL's RFC 5280 strict mode (``VERIFY_X509_STRICT``), and urllib3 2.4+ follows
it, which refuses certificates real clusters still serve: a CA made as a bare self-signed root (no
Subject Key Identifier, only ``basicConstraints``), whose server certificates then carry no
Authority Key Identifier. Older Amazon EKS and Google GKE clusters have such CAs, and so does
any cluster whose CA was made by Go before 1.15 (kubeadm's of that time): on Python 3.13 the
official kubernetes client fails on them with "Missing Authority Key Identifier" while kubectl
works (kubernetes-client/python#2394, urllib3/urllib3#3614). So connections to the API
server leave strict mode off, on every Python; the chain, the dates and the name are checked as
before, and ``insecure-skip-tls-verify`` is honoured as kubectl honours it.

**A dashboard reached at its own ``https://`` URL keeps Python's default** (strict on 3.13): it is
a web server like any other, usually behind a public CA. When strict mode refuses it, the error
says which extension is missing and what to do (:func:`strict_mode_hint`).
"""

from __future__ import annotations

import ssl

from urllib3.util.ssl_ import create_urllib3_context

STRICT_ONLY_REASONS = (
    "missing authority key identifier",
    "missing subject key identifier",
    "basic constraints of ca cert not marked critical",
    "ca cert does not include key usage extension",
)
"""OpenSSL's verify messages that only its strict mode (Python 3.13's default) produces."""


def kubectl_tls_context(*, verify: bool, system_trust: bool) -> ssl.SSLContext:
    """A TLS context for one Kubernetes API client: kubectl's checks, no RFC 5280 strict mode.

    ``verify`` is the kubeconfig's (False: ``insecure-skip-tls-verify``); ``system_trust`` loads
    the system's CAs, for a kubeconfig that names no certificate authority of its own (urllib3
    loads them itself only into the contexts it makes). The kubeconfig's CA and client
    certificate are loaded into it by urllib3 on each connection, so one context serves one
    client (one kubeconfig) only.
    """
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if verify and system_trust:
        context.load_default_certs()
    return context


def strict_mode_hint(reason: str) -> str:
    """What to do when Python's strict certificate checks refused a dashboard's certificate.

    Empty for any other failure (an unknown CA, an expired certificate, a wrong name).
    """
    text = reason.lower()
    if not any(marker in text for marker in STRICT_ONLY_REASONS):
        return ""
    return (
        "; this Python (3.13 or later) verifies certificates strictly (RFC 5280) and the "
        "dashboard's certificate or its CA lacks an extension this requires (key identifiers, "
        "a critical basicConstraints): re-issue it with them (Go since 1.15, cert-manager and "
        "OpenSSL's defaults add them), or reach the dashboard through the Kubernetes API server "
        "(dashboard=Dashboard(service=..., kube=...)), which is verified as kubectl verifies it"
    )
