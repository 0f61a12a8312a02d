"""Reading the YAML of a Serve config file into a mapping, failures naming where it came from.

Both :meth:`ServeApp.from_yaml <.application.ServeApp.from_yaml>` and :class:`~.config.ServeConfig`
read Serve config files; one loader keeps their "not YAML" and "not a mapping" messages alike. The
text goes through the package's bounded loader (:mod:`pulumi_rayservice._util.yaml_loader`: size
and alias expansion limited), and a file must be UTF-8.
"""

from __future__ import annotations

import os
from typing import Any

from ..._util.yaml_loader import load_yaml, read_text_file
from ...errors import InvalidInputError


def load_config_yaml(text: str, source: str) -> dict[str, Any]:
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        raise InvalidInputError(f"{source}: must hold a mapping, got {type(data).__name__}")
    return data


def read_config_file(path: str | os.PathLike[str], source: str) -> str:
    """A Serve config file as text: UTF-8 and of bounded size, else an ``InvalidInputError``."""
    return read_text_file(path, source)
