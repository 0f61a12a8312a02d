"""Kubernetes names for RayClusters: generated ``<resource>-<5 random>`` unless given.

A generated name lets a replacement cluster run beside the old one (create-before-delete, KubeRay's
zero-downtime upgrade). The Pulumi engine calls Check again with no old inputs when it replaces a
resource, which is when a new suffix is drawn; otherwise the old name is kept.
"""

from __future__ import annotations

import secrets
import string

from .._util.k8s_names import to_dns_label_chars
from .operator_rules import MAX_CLUSTER_NAME_LENGTH

SUFFIX_LENGTH = 5
_ALPHABET = string.ascii_lowercase + string.digits


def name_base(resource_name: str) -> str:
    """A DNS-1035 prefix from a Pulumi resource name (``Fruit_Stand`` -> ``fruit-stand``)."""
    base = to_dns_label_chars(resource_name)
    if not base or not base[0].isalpha():
        base = f"rc-{base}".rstrip("-")
    room = MAX_CLUSTER_NAME_LENGTH - SUFFIX_LENGTH - 1
    return base[:room].rstrip("-")


def generate_name(resource_name: str) -> str:
    """``<base>-<5 random lowercase letters/digits>``, within KubeRay's 53-character limit."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(SUFFIX_LENGTH))
    return f"{name_base(resource_name)}-{suffix}"
