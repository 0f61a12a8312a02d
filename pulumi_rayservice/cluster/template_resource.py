"""``KubeRayComputeTemplate``: a compute template of the KubeRay API server as a Pulumi resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from ..kube.apiserver import KubeRayApiServer, api_server_to_input
from .spec import ComputeTemplate
from .template_provider import DEFAULT_TIMEOUT_S, KubeRayComputeTemplateProvider


class KubeRayComputeTemplate(Resource, module="rayservice", name="KubeRayComputeTemplate"):
    """A V1 compute template (``/apis/v1/namespaces/{ns}/compute_templates``) that groups name.

    The API server has no update for templates: any change is a replacement, the old template
    deleted first (clusters name it, so the name stays). Pass ``name`` (this resource's output)
    as a group's ``compute_template=``: Pulumi then creates the template before the cluster,
    replaces the cluster when the template changes, and deletes the cluster before the template.

    Args:
        resource_name: the Pulumi resource name, and the template's name unless ``name`` is given.
        template: the resources (whole CPUs, memory as a whole number of one unit, GPUs, extended
            resources, tolerations), as ``rs.ComputeTemplate``.
        api_server: the KubeRay API server (``rs.KubeRayApiServer``).
        namespace: the namespace the template lives in (the clusters' namespace).
        name: the template's name; default: ``resource_name``.
        timeout_s: how long each call may take, retries included.
        opts: Pulumi resource options.

    """

    name: pulumi.Output[str]
    """The template's name (what ``compute_template=`` takes)."""
    namespace: pulumi.Output[str]
    """The namespace it lives in."""
    template: pulumi.Output[dict[str, Any]]
    """The template as written (after refresh: as the server holds it)."""
    stored: pulumi.Output[dict[str, Any]]
    """The server's answer for the template (V1 JSON, lowerCamel, zero values left out)."""

    def __init__(
        self,
        resource_name: str,
        template: ComputeTemplate | Mapping[str, Any],
        *,
        api_server: KubeRayApiServer | Mapping[str, Any],
        namespace: pulumi.Input[str] = "default",
        name: pulumi.Input[str] | None = None,
        timeout_s: pulumi.Input[float] = DEFAULT_TIMEOUT_S,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        value = (
            template.model_dump(exclude_defaults=True)
            if isinstance(template, ComputeTemplate)
            else template
        )
        props: dict[str, Any] = {
            "template": value,
            "name": name if name is not None else resource_name,
            "namespace": namespace,
            "api_server": api_server_to_input(api_server),
            "timeout_s": timeout_s,
            "resource_name": resource_name,
            "stored": None,
        }
        super().__init__(KubeRayComputeTemplateProvider(), resource_name, props, opts)
