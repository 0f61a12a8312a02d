"""Keep secrets secret on the way back to the engine.

The dynamic provider host declines secrets (``acceptSecrets=False``), so the engine sends secret
inputs as plain values and only re-marks outputs by top-level key. A token nested in a
``dashboard`` dict would come back in plain state. Every provider therefore wraps the secret
leaves it returns (Check inputs, Create/Update/Read outputs) with ``wrap_rpc_secret``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.runtime.rpc import is_rpc_secret, wrap_rpc_secret

SecretPath = Sequence[str]


def wrap_secret_paths(props: Mapping[str, Any], paths: Sequence[SecretPath]) -> dict[str, Any]:
    """Return a copy of ``props`` with the value at each key path (if present) marked secret."""
    result = dict(props)
    for path in paths:
        result = _wrap(result, list(path))
    return result


def _wrap(node: Any, path: list[str]) -> Any:
    if not isinstance(node, Mapping) or not path or path[0] not in node:
        return node
    head, rest = path[0], path[1:]
    copy = dict(node)
    if rest:
        copy[head] = _wrap(node[head], rest)
    elif node[head] is not None and not is_rpc_secret(node[head]):
        copy[head] = wrap_rpc_secret(node[head])
    return copy


class SecretsRedacted:
    """Context manager: an error leaving a provider call has the call's secret values blanked out.

    The provider host shows the exception text to the user; messages are written without secrets,
    and this is the last line of defence against one quoted back by a server or a library.
    """

    def __init__(self, secrets: Sequence[Any]) -> None:
        self._secrets = list(secrets)

    def __enter__(self) -> None:
        return None

    def __exit__(self, _type: Any, exc: BaseException | None, _tb: Any) -> None:
        if exc is not None and exc.args and isinstance(exc.args[0], str):
            exc.args = (redact(exc.args[0], self._secrets), *exc.args[1:])


def redact(text: str, secrets: Sequence[Any]) -> str:
    """Replace every occurrence of a secret value in ``text`` (last line of defence in errors)."""
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= 4:
            text = text.replace(secret, "[secret]")
    return text
