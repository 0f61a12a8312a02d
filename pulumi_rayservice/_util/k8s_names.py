"""Kubernetes' rules for names, label and annotation keys and values, and Service ports.

The rules of ``k8s.io/apimachinery/pkg/util/validation`` (``IsDNS1123Label``,
``IsDNS1123Subdomain``, ``IsDNS1035Label``, ``IsQualifiedName``, ``IsValidLabelValue``,
``IsValidPortNum``, ``IsValidPortName``), in one place: the RayCluster's name and metadata, the
worker groups' labels and the dashboard target's namespace, Service and port all follow them, and
what the API server would refuse (or, in a proxy path, read as another path) must fail at Check.

Every function returns why the value breaks the rule, or None. Matching uses ``fullmatch``: with
``match`` and ``$``, a trailing newline would pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DNS1035_LABEL_RE",
    "DNS1123_LABEL_RE",
    "DNS1123_SUBDOMAIN_RE",
    "MAX_ANNOTATIONS_BYTES",
    "QUALIFIED_NAME_RE",
    "annotations_problems",
    "dns1035_label_problem",
    "dns1123_label_problem",
    "dns1123_subdomain_problem",
    "label_value_problem",
    "labels_problems",
    "port_problem",
    "qualified_name_problem",
    "to_dns_label_chars",
    "to_label_value",
]

DNS1123_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN_RE = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
DNS1035_LABEL_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_PORT_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_NOT_LABEL_VALUE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_NOT_DNS_LABEL_RE = re.compile(r"[^a-z0-9-]+")
_DASHES_RE = re.compile(r"-{2,}")

MAX_LABEL = 63
MAX_SUBDOMAIN = 253
MAX_PORT_NAME = 15
MAX_PORT = 65535
MAX_ANNOTATIONS_BYTES = 256 * 1024
"""``TotalAnnotationSizeLimitB``: keys and values of all annotations together."""

_SHOWN = 60
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _key_path(field: str, key: Any) -> str:
    """``labels.team`` or ``labels["example.com/team"]``: the path of one entry of a mapping."""
    text = str(key)
    if _IDENT_RE.fullmatch(text):
        return f"{field}.{text}"
    if len(text) > _SHOWN:
        text = text[: _SHOWN - 3] + "..."
    return f"{field}[{json.dumps(text)}]"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def to_label_value(text: str) -> str:
    """``text`` as a label value: other characters as '-', cut to 63, trimmed (may be '')."""
    return _NOT_LABEL_VALUE_RE.sub("-", text)[:MAX_LABEL].strip("-._")


def to_dns_label_chars(text: str) -> str:
    """``text`` in the characters of a DNS label: lower case, runs of others as one '-', trimmed.

    Neither length nor the first character is fixed here (``Fruit_Stand`` -> ``fruit-stand``,
    ``9lives`` stays): the caller knows its limit and whether a letter must come first.
    """
    return _DASHES_RE.sub("-", _NOT_DNS_LABEL_RE.sub("-", text.lower()).strip("-"))


def dns1123_label_problem(value: Any) -> str | None:
    """A namespace name: at most 63 of ``a-z``, ``0-9``, ``-``; alphanumeric at both ends."""
    if not isinstance(value, str):
        return f"got {type(value).__name__}; must be a string"
    if len(value) > MAX_LABEL or not DNS1123_LABEL_RE.fullmatch(value):
        return (
            f"got {_show(value)}; must be a DNS-1123 label: at most 63 lower case letters, digits "
            "or '-', starting and ending with a letter or digit (e.g. 'ray')"
        )
    return None


def dns1123_subdomain_problem(value: Any) -> str | None:
    """A DNS subdomain (label key prefixes): dot-separated DNS-1123 labels, at most 253."""
    if not isinstance(value, str):
        return f"got {type(value).__name__}; must be a string"
    if len(value) > MAX_SUBDOMAIN or not DNS1123_SUBDOMAIN_RE.fullmatch(value):
        return (
            f"got {_show(value)}; must be a DNS-1123 subdomain: at most 253 lower case letters, "
            "digits, '-' or '.', starting and ending with a letter or digit (e.g. 'example.com')"
        )
    return None


def dns1035_label_problem(value: Any) -> str | None:
    """A Service name: at most 63 of ``a-z``, ``0-9``, ``-``; a letter first."""
    if not isinstance(value, str):
        return f"got {type(value).__name__}; must be a string"
    if len(value) > MAX_LABEL or not DNS1035_LABEL_RE.fullmatch(value):
        return (
            f"got {_show(value)}; must be a DNS-1035 label: at most 63 lower case letters, digits "
            "or '-', starting with a letter and ending with a letter or digit (e.g. 'my-svc')"
        )
    return None


def qualified_name_problem(value: Any) -> str | None:
    """A label or annotation key: an optional DNS subdomain prefix and '/', then the name."""
    if not isinstance(value, str):
        return f"got {type(value).__name__}; a key must be a string"
    prefix, slash, name = value.rpartition("/")
    rule = (
        "a key is an optional DNS subdomain prefix and '/' (e.g. 'example.com/'), then at most 63 "
        "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    )
    if slash and (not prefix or "/" in prefix or dns1123_subdomain_problem(prefix)):
        return f"got key {_show(value)}; {rule}"
    if len(name) > MAX_LABEL or not QUALIFIED_NAME_RE.fullmatch(name):
        return f"got key {_show(value)}; {rule}"
    return None


def label_value_problem(value: Any) -> str | None:
    """A label value: empty, or at most 63 letters, digits, ``-_.``; alphanumeric at both ends."""
    if not isinstance(value, str):
        return f"got {_show(value)}; a label value must be a string (quote it)"
    if value and (len(value) > MAX_LABEL or not QUALIFIED_NAME_RE.fullmatch(value)):
        return (
            f"got {_show(value)}; a label value is empty or at most 63 letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit"
        )
    return None


def port_problem(value: Any) -> str | None:
    """A Service port: a number 1..65535 or a port name (``IANA_SVC_NAME``, as ``dashboard``).

    A number may arrive as a float (the engine's numbers) or as a string of digits.
    """
    if isinstance(value, bool):
        return f"got {value!r}; must be a port number 1..65535 or a port name such as 'dashboard'"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int):
        if not 1 <= value <= MAX_PORT:
            return f"got {value}; a port number must be 1..65535"
        return None
    if not isinstance(value, str):
        return f"got {_show(value)}; must be a port number 1..65535 or a port name"
    if (
        len(value) > MAX_PORT_NAME
        or not _PORT_NAME_RE.fullmatch(value)
        or "--" in value
        or not any("a" <= c <= "z" for c in value)
    ):
        return (
            f"got {_show(value)}; a port name is at most 15 lower case letters, digits or '-', "
            "with at least one letter, no '--', starting and ending with a letter or digit "
            "(e.g. 'dashboard')"
        )
    return None


def labels_problems(value: Any, field: str) -> list[tuple[str, str]]:
    """Failures of a ``labels`` input: a mapping of valid keys to valid label values."""
    if not isinstance(value, Mapping):
        return [(field, f"got {type(value).__name__}; must be a mapping of key to string value")]
    failures: list[tuple[str, str]] = []
    for key, val in value.items():
        where = _key_path(field, key)
        for problem in (qualified_name_problem(key), label_value_problem(val)):
            if problem:
                failures.append((where, problem))
    return failures


def annotations_problems(value: Any, field: str) -> list[tuple[str, str]]:
    """Failures of an ``annotations`` input: valid keys, string values, 256 KiB in all.

    The API server checks annotation keys in lower case (``ValidateAnnotations``).
    """
    if not isinstance(value, Mapping):
        return [(field, f"got {type(value).__name__}; must be a mapping of key to string value")]
    failures: list[tuple[str, str]] = []
    total = 0
    for key, val in value.items():
        where = _key_path(field, key)
        problem = qualified_name_problem(key.lower() if isinstance(key, str) else key)
        if problem:
            failures.append((where, problem))
        if not isinstance(val, str):
            failures.append((where, f"got {type(val).__name__}; must be a string (quote it)"))
            continue
        total += len(str(key).encode()) + len(val.encode())
    if total > MAX_ANNOTATIONS_BYTES:
        failures.append(
            (field, f"{total} bytes of keys and values; Kubernetes allows at most 262144 (256 KiB)")
        )
    return failures
