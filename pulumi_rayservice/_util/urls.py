"""Whether a text is an http(s) base URL a provider may send credentials to: one rule, one place.

A dashboard URL and a KubeRay API server URL are checked alike: a string without whitespace or
control characters, scheme http or https, a host, a port 1..65535 when one is written, no query or
fragment, and no credentials in it (they would be stored in plain state; a token is its own secret
input). The message never shows a password written into the URL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .text import clip


def http_url_problem(url: Any, *, example: str) -> str | None:
    """Why ``url`` cannot be an http(s) base URL, or None. Never raises; never shows credentials.

    ``example`` is a URL of the kind expected, quoted in the message.
    """
    if not isinstance(url, str):
        return f"got {type(url).__name__}; must be a string URL such as {example}"
    shown = _shown_url(url)
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"got {shown}; must not hold whitespace or control characters"
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return f"got {shown}; not a URL (unbalanced [ ] around an IPv6 address?)"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials in the URL; give token= instead (kept secret)"
    if parts.scheme not in ("http", "https") or not hostname:
        return f"got {shown}; must be an http:// or https:// URL such as {example}"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        return f"got {shown}; the port must be a number 1..65535 (or left out)"
    if parts.query or parts.fragment:
        return f"got {shown}; must not have a query or fragment"
    return None


def _shown_url(url: str) -> str:
    """``url`` for a message: user and password blanked, cut short."""
    return clip(repr(re.sub(r"(?<=//)[^/@]*@", "***@", url)), 100)
