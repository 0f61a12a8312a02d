"""What went wrong when a request got no HTTP answer, for both transports, in a few words.

``requests`` and urllib3 (under the kubernetes client) wrap the socket's error in several layers
whose text runs to hundreds of characters and can quote a URL. Callers need four facts, and a
short cause to show: was it the deadline (:mod:`.bounded_http` cut it), TLS (never worth a retry),
a refused or unresolvable host (the request was never sent), or a connection lost after sending
(a write may have arrived).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError

from .text import clip

__all__ = ["EOF_MARKERS", "NoAnswer", "no_answer", "refused_a_header", "retry_after_s"]

_CAUSES = (
    ("connection refused", "connection refused"),
    ("name or service not known", "name or service not known"),
    ("nodename nor servname", "name or service not known"),
    ("temporary failure in name resolution", "name or service not known"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network is unreachable"),
    ("connection reset", "connection reset"),
    ("remote end closed connection", "remote end closed connection"),
    ("broken pipe", "connection reset"),
    ("timed out", "timed out"),
)
_NEVER_SENT = frozenset({"connection refused", "name or service not known"})
EOF_MARKERS = ("UNEXPECTED_EOF_WHILE_READING", "EOF occurred in violation of protocol")
"""How an SSL error says the peer closed the connection (also inside the kubernetes client's
``ApiException(status=0)``, which keeps only the text)."""


@dataclass(frozen=True)
class NoAnswer:
    """Why a request got no answer.

    Attributes:
        problem: a few words to show (``connection refused``, ``TLS: certificate verify failed``).
        refused: nothing listens there or the name does not resolve: the request was not sent.
        tls: the TLS handshake failed; a retry fails the same way.
        sent: the request may have reached the server before the connection was lost.

    """

    problem: str
    refused: bool = False
    tls: bool = False
    sent: bool = True


def no_answer(error: BaseException, *, cut: bool, limit_s: float) -> NoAnswer:
    """Classify a transport exception (``cut``: the request deadline ended it)."""
    if cut:
        return NoAnswer(f"no complete answer within {limit_s:.3g}s")
    chain = _chain(error)
    if any(isinstance(link, ssl.SSLEOFError | ssl.SSLZeroReturnError) for link in chain) or (
        any(marker in " ".join(map(str, chain)) for marker in EOF_MARKERS)
    ):
        # The peer closed during the handshake (a restarting server, a draining balancer):
        # a dropped connection, worth a retry, not a certificate problem.
        return NoAnswer("connection closed during the TLS handshake", sent=False)
    for link in chain:
        if isinstance(link, ssl.SSLError | Urllib3SSLError):
            return NoAnswer(f"TLS failed: {_tls_reason(link)}", tls=True, sent=False)
    text = " ".join(str(link) for link in chain).lower()
    for marker, cause in _CAUSES:
        if marker in text:
            never_sent = cause in _NEVER_SENT or any(
                isinstance(link, ConnectTimeoutError | NewConnectionError) for link in chain
            )
            return NoAnswer(cause, refused=cause in _NEVER_SENT, sent=not never_sent)
    if any(isinstance(link, ProxyError) for link in chain):
        return NoAnswer("the HTTP proxy failed", sent=False)
    return NoAnswer(f"connection failed ({type(error).__name__})")


def refused_a_header(error: ValueError) -> bool:
    """Whether http.client refused to send because a header value holds a control character.

    Its text quotes the value, which may be a token: callers say what is wrong without it.
    """
    return "header" in str(error).lower()


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a 429/503 asks to wait (``Retry-After`` in seconds, never negative), else None.

    The HTTP-date form is not used by the API server or Ray's dashboard; it reads as None, and
    the retry policy's own backoff applies.
    """
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what it wraps (``__cause__``, ``__context__``, urllib3's ``reason``, args)."""
    seen: list[BaseException] = []
    todo: list[object] = [error]
    while todo and len(seen) < 20:
        link = todo.pop()
        if not isinstance(link, BaseException) or any(link is s for s in seen):
            continue
        seen.append(link)
        todo.extend([link.__cause__, link.__context__, getattr(link, "reason", None)])
        todo.extend(arg for arg in link.args if isinstance(arg, BaseException))
    return seen


def _tls_reason(error: BaseException) -> str:
    """The SSL library's reason (``CERTIFICATE_VERIFY_FAILED``...), not the whole wrapped text."""
    reason = getattr(error, "verify_message", None) or getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.lower().replace("_", " ")
    return clip(error, 120) or type(error).__name__
