"""Reading the YAML of a Serve config file into a mapping, failures naming where it came from.

Both :meth:`ServeApp.from_yaml <.application.ServeApp.from_yaml>` and :class:`~.config.ServeConfig`
read Serve config files; one loader keeps their "not YAML" and "not a mapping" messages alike.
"""

from __future__ import annotations

from typing import Any

import yaml

from pulumi_rayservice.errors import ValidationError


def _load_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: must hold a mapping, got {type(data).__name__}")
    return data
