"""The rules a ``runtime_env`` must follow wherever Serve takes one.

An application, each replica (``ray_actor_options``) and the controller all carry a runtime_env.
Serve cannot upload a local ``working_dir`` or ``py_modules`` entry and Ray takes only strings as
``env_vars`` values; one check applies both rules to every model that holds a runtime_env.
"""

from __future__ import annotations

import re
from typing import Any

from ._base import brief_repr, rule_error

# What ray._common.runtime_env_uri.parse_uri accepts in working_dir and py_modules.
_URI_SCHEMES = frozenset(
    {"gcs", "conda", "pip", "uv", "http", "https", "s3", "gs", "azure", "abfss", "file", "local"}
)
_WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")
_URI_RULE = (
    "must be a URI Ray can fetch on every node, e.g. https://host/app.zip, s3://bucket/app.zip, "
    "gs://bucket/app.zip or file:///path/app.zip (Serve cannot upload a local directory), or "
    "local:///abs/path for a directory already present on every node"
)


def _uri_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string URI"
    scheme, sep, rest = value.partition("://")
    if not sep or not rest or scheme.lower() not in _URI_SCHEMES:
        return _URI_RULE
    if scheme.lower() == "local":
        path = rest[1:] if rest.startswith("/") and _WINDOWS_DRIVE.match(rest[1:]) else rest
        if not (path.startswith("/") or _WINDOWS_DRIVE.match(path)):
            return "a local:// URI must hold an absolute path, e.g. local:///path/in/image"
    return None


def check_runtime_env(env: dict[str, Any] | None) -> dict[str, Any] | None:
    """Apply Serve's rule on working_dir and py_modules, and Ray's on env_vars."""
    if env is None:
        return env
    working_dir = env.get("working_dir")
    if working_dir is not None:
        problem = _uri_problem(working_dir)
        if problem:
            raise rule_error(f"got {brief_repr(working_dir)}; {problem}", "working_dir")
    modules = env.get("py_modules")
    if modules is not None:
        if not isinstance(modules, list):
            raise rule_error(f"got {brief_repr(modules)}; must be a list of URIs", "py_modules")
        for index, module in enumerate(modules):
            problem = _uri_problem(module)
            if problem:
                raise rule_error(f"got {brief_repr(module)}; {problem}", "py_modules", index)
    env_vars = env.get("env_vars")
    if env_vars is not None:
        if not isinstance(env_vars, dict):
            raise rule_error(
                f"got {brief_repr(env_vars)}; must be a mapping of strings", "env_vars"
            )
        for key, val in env_vars.items():
            if not isinstance(val, str):
                raise rule_error(
                    f"got {brief_repr(val)}; environment variable values must be strings "
                    "(quote it)",
                    "env_vars",
                    key,
                )
    return env
