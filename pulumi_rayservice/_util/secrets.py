"""Keep secrets secret on the way back to the engine, in errors and in log lines.

The dynamic provider host declines secrets (``acceptSecrets=False``), so the engine sends secret
inputs as plain values and only re-marks outputs by top-level key. A token nested in a
``dashboard`` dict would come back in plain state. Every provider therefore wraps the secret
leaves it returns (Check inputs, Create/Update/Read outputs) with ``wrap_rpc_secret``.

The host turns an exception into ``traceback.format_exc()``: the message of the exception and of
every exception chained to it reaches the user. Messages are written without secrets; redaction
is the last line of defence against one quoted back by a server or a library, in any of the forms
a value takes in text (as is, inside a Python ``repr``, JSON-escaped, URL-encoded), whitespace
stripped or not (``token=open(path).read()`` keeps the newline).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult
from pulumi.output import Unknown
from pulumi.runtime.rpc import is_rpc_secret, wrap_rpc_secret

SecretPath = Sequence[str]
MIN_SECRET_LEN = 4
"""Shorter values are not redacted: blanking every "ab" out of a message would garble it, and a
secret that short protects nothing anyway."""
PLACEHOLDER = "[secret]"
MIN_PREFIX_LEN = 8
"""A secret's beginning this long, where a text is cut, is taken for the secret."""

_ACTIVE: ContextVar[tuple[str, ...]] = ContextVar("pulumi_rayservice_secrets", default=())
_F = TypeVar("_F", bound=Callable[..., Any])


def wrap_secret_paths(props: Mapping[str, Any], paths: Iterable[SecretPath]) -> dict[str, Any]:
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


def secret_paths_of(value: Any) -> pulumi.Output[list[list[str]]]:
    """Where a program's value holds secret Outputs: key paths (``[]`` for the whole value).

    The engine sends secret inputs to the provider host as plain values and re-marks its outputs
    by top-level key only, so a secret nested in a dict input would come back plain in an output
    derived from it. The resource sends these paths as a hidden input and the provider wraps the
    values there again (:func:`wrap_secret_paths`). A secret inside a list makes the whole list
    secret: the list read back from a server may come in another order. An Output that is not
    secret is not looked into (its value is whatever it resolves to, known only later).
    """

    async def paths(node: Any, path: list[str]) -> list[list[str]]:
        if isinstance(node, pulumi.Output):
            return [path] if await node.is_secret() else []
        if isinstance(node, Mapping):
            found: list[list[str]] = []
            for key, child in node.items():
                found.extend(await paths(child, [*path, str(key)]))
            return found
        if isinstance(node, list | tuple):
            for child in node:
                if await paths(child, path):
                    return [path]
        return []

    return pulumi.Output.from_input(paths(value, []))


def parse_secret_paths(value: Any) -> tuple[tuple[str, ...], ...]:
    """A ``secret_paths`` input (see :func:`secret_paths_of`) as tuples; malformed ones left out."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(
        tuple(path)
        for path in value
        if isinstance(path, list | tuple) and all(isinstance(key, str) for key in path)
    )


def check_secret_paths(value: Any, of: str) -> list[tuple[str, str]]:
    """Check failures of a ``secret_paths`` input (set by the resource class, not by hand)."""
    if value is None or isinstance(value, Unknown):
        return []
    if not isinstance(value, list) or len(parse_secret_paths(value)) != len(value):
        return [("secret_paths", f"must be a list of key paths into {of} (lists of strings)")]
    return []


def paths_under(props: Mapping[str, Any], keys: Iterable[str]) -> list[tuple[str, ...]]:
    """The ``secret_paths`` of ``props`` placed under each of ``keys`` (inputs and outputs)."""
    paths = parse_secret_paths(props.get("secret_paths"))
    return [(key, *path) for key in keys for path in paths]


def check_result(
    inputs: Mapping[str, Any],
    failures: Iterable[tuple[str, str]],
    *,
    secret_paths: Iterable[SecretPath],
    user_secrets_in: str,
) -> CheckResult:
    """What Check returns: the inputs with every secret wrapped again, and the failures.

    ``secret_paths`` are the provider's own (a token, kubeconfig content); the program's own
    secrets are the ``secret_paths`` input, placed under the input named ``user_secrets_in``.
    The engine unwraps secrets before Check; inputs returned plain would be stored plain.
    """
    return CheckResult(
        wrap_secret_paths(inputs, [*secret_paths, *paths_under(inputs, (user_secrets_in,))]),
        [CheckFailure(prop, reason) for prop, reason in failures],
    )


def touches(paths: Iterable[SecretPath], path: SecretPath) -> bool:
    """Whether a value at ``path`` is, holds or lies inside a secret at one of ``paths``."""
    for secret in paths:
        common = min(len(secret), len(path))
        if tuple(secret[:common]) == tuple(path[:common]):
            return True
    return False


def values_at(props: Any, paths: Iterable[SecretPath]) -> list[Any]:
    """The values found at ``paths`` in ``props`` (missing paths skipped; never raises)."""
    found: list[Any] = []
    for path in paths:
        node = props
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            found.append(node)
    return found


def text_leaves(value: Any) -> list[str]:
    """Every string inside ``value`` (a secret dict or list is secret as a whole)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in text_leaves(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in text_leaves(item)]
    return []


def _encodings() -> tuple[Callable[[str], str], ...]:
    """How text holding a secret gets re-encoded on its way into a message."""
    return (
        lambda text: text,
        lambda text: repr(text)[1:-1],
        lambda text: repr(text)[1:-1].replace("'", "\\'"),
        lambda text: repr(text)[1:-1].replace('"', '\\"'),
        lambda text: json.dumps(text)[1:-1],
        lambda text: json.dumps(text, ensure_ascii=False)[1:-1],
        lambda text: quote(text, safe=""),
        lambda text: quote(text),
        lambda text: quote_plus(text),
    )


@functools.lru_cache(maxsize=256)
def secret_forms(secret: str) -> tuple[str, ...]:
    """The texts a secret can show up as in a message, longest first (see the module docstring).

    Every encoding, and every encoding of an encoding (a JSON body quoting a repr, the repr of a
    message that holds a repr), of the secret as given and whitespace-stripped.
    """
    encodings = _encodings()
    forms = {
        outer(inner(base))
        for base in {secret, secret.strip()}
        for inner in encodings
        for outer in encodings
    }
    forms.update(repr(repr(base))[1:-1] for base in {secret, secret.strip()})
    return tuple(sorted((f for f in forms if len(f) >= MIN_SECRET_LEN), key=len, reverse=True))


def redact(text: str, secrets: Iterable[Any]) -> str:
    """Replace every occurrence of a secret value, in any of its forms, in ``text``.

    A form cut short where the text is cut (at its end, or at ``…``/``...``, as error bodies are
    shortened) is replaced too, once at least :data:`MIN_PREFIX_LEN` characters of it show.
    """
    for secret in secrets:
        if isinstance(secret, str) and len(secret.strip()) >= MIN_SECRET_LEN:
            for form in secret_forms(secret):
                text = _cut_short_forms(text.replace(form, PLACEHOLDER), form)
    return text


def _cut_short_forms(text: str, form: str) -> str:
    if len(form) <= MIN_PREFIX_LEN:
        return text
    head = form[:MIN_PREFIX_LEN]
    start = text.find(head)
    while start != -1:
        length = MIN_PREFIX_LEN
        while length < len(form) and start + length < len(text):
            if text[start + length] != form[length]:
                break
            length += 1
        rest = text[start + length :]
        if rest == "" or rest.startswith(("\u2026", "...")):
            text = text[:start] + PLACEHOLDER + rest
            start = text.find(head, start + len(PLACEHOLDER))
        else:
            start = text.find(head, start + 1)
    return text


def leaks(text: str, secrets: Iterable[Any]) -> bool:
    """Whether ``text`` holds a secret in any form."""
    return redact(text, secrets) != text


class SecretsRedacted:
    """Context manager: nothing leaving a provider call carries the call's secret values.

    An exception leaving the block has its messages (and those of every exception chained to it)
    redacted; a chained exception whose text still holds a secret (a ``__str__`` that does not
    come from its arguments) is cut off the chain; when the exception itself is such a one, a
    ``RayServiceError`` of the redacted text is raised instead. Log lines written with
    :func:`log_info` / :func:`log_warn` inside the block are redacted too.
    """

    def __init__(self, secrets: Iterable[Any]) -> None:
        self._secrets = tuple(s for s in secrets if isinstance(s, str))
        self._token: Any = None

    def __enter__(self) -> None:
        self._token = _ACTIVE.set(tuple({*_ACTIVE.get(), *self._secrets}))

    def __exit__(self, _type: Any, exc: BaseException | None, _tb: Any) -> None:
        # Credentials found during the call (a token an exec plugin printed) count too.
        secrets = tuple({*self._secrets, *_ACTIVE.get()})
        _ACTIVE.reset(self._token)
        if exc is None or not isinstance(exc, Exception) or not secrets:
            return
        clean = scrub(exc, secrets)
        if clean is not exc:
            raise clean.with_traceback(exc.__traceback__) from None


def scrub(exc: BaseException, secrets: Sequence[str]) -> BaseException:
    """Redact ``exc`` and its chain in place; return it, or a replacement if it cannot be."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        _redact_args(node, secrets)
        parent = node
        node = node.__cause__ or (None if node.__suppress_context__ else node.__context__)
        if node is not None:
            _redact_args(node, secrets)
            if leaks(_text(node), secrets):
                parent.__cause__ = None
                parent.__context__ = None
                parent.__suppress_context__ = True
                node = None
    if leaks(_text(exc), secrets):
        from ..errors import RayServiceError

        message = redact(_str(exc), secrets)
        if leaks(message, secrets):
            message = "(its message held a secret and was withheld)"
        return RayServiceError(f"{type(exc).__name__}: {message}")
    return exc


def _redact_args(exc: BaseException, secrets: Sequence[str]) -> None:
    args = getattr(exc, "args", ())
    if any(isinstance(arg, str) for arg in args):
        with contextlib.suppress(AttributeError, TypeError):
            exc.args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in args)
    for attribute in ("strerror", "filename", "filename2", "msg", "reason", "detail"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and leaks(value, secrets):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, attribute, redact(value, secrets))


def _text(exc: BaseException) -> str:
    """What a traceback may show of ``exc``: its ``str`` and its ``repr``."""
    try:
        return f"{exc!s} {exc!r}"
    except Exception:
        return ""  # a broken __str__ shows nothing, which leaks nothing


def _str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return ""


def redacting(secrets_of: Callable[[Mapping[str, Any]], Iterable[Any]]) -> Callable[[_F], _F]:
    """Decorator of a provider method: it runs under :class:`SecretsRedacted`.

    The secrets are those ``secrets_of`` finds in each mapping argument (inputs, previous outputs),
    gathered before the method parses anything, so even a failure to parse is covered.
    """

    def decorate(method: _F) -> _F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            found: list[Any] = []
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, Mapping):
                    try:
                        found.extend(secrets_of(arg))
                    except Exception:
                        found.extend(text_leaves(dict(arg)))
            with SecretsRedacted(found):
                result = method(self, *args, **kwargs)
            # Check failures are text the engine shows too (a schema message quoting a value).
            for failure in getattr(result, "failures", None) or ():
                failure.reason = redact(str(failure.reason), found)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def also_redact(values: Iterable[Any]) -> None:
    """Add secrets learned during the current call (credentials a kubeconfig resolved to).

    Tokens from a ``tokenFile``, an exec plugin or the in-cluster service account are in no
    input; once the client has them they are redacted like the inputs' secrets until the call
    ends.
    """
    found = tuple(value for value in values if isinstance(value, str) and value)
    if found:
        _ACTIVE.set(tuple({*_ACTIVE.get(), *found}))


def log_info(message: str) -> None:
    """``pulumi.log.info`` with the current call's secrets redacted."""
    pulumi.log.info(redact(message, _ACTIVE.get()))


def log_warn(message: str) -> None:
    """``pulumi.log.warn`` with the current call's secrets redacted."""
    pulumi.log.warn(redact(message, _ACTIVE.get()))
