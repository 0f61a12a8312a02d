"""The one YAML loader for text a user hands us: Serve configs, RayService manifests, kubeconfigs.

PyYAML's ``safe_load`` builds no objects of arbitrary classes, but it expands aliases without a
limit: a "billion laughs" text of 415 bytes (nine levels of nine aliases) costs about 300 MB to
walk, and 600 bytes exhaust the machine. Aliases are legitimate YAML (``<<: *defaults`` merge
keys in hand-written configs), so they are not refused outright; instead the composed document
(where an alias is still one shared node) is measured before anything is built:

- the text may be at most :data:`MAX_BYTES` (5 MiB; a Serve config or manifest is kilobytes);
- aliases may add at most :data:`MAX_ALIAS_EXPANSION` nodes (10,000) to the document, counted as
  if every alias were written out; a bomb needs millions, a merge key a few dozen;
- an alias may not refer to a node that contains it (a recursive structure never ends).

Anything refused is an ``InvalidInputError`` naming the source and what was refused. The rule for
"is this string a file path or the document itself" lives here too, so every reader decides it
the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidInputError

MAX_BYTES = 5 * 1024 * 1024
"""Largest YAML text read (bytes of UTF-8)."""
MAX_ALIAS_EXPANSION = 10_000
"""Most nodes that aliases may add to one document when written out."""

_YAML_KEY_LINE = re.compile(r"^[A-Za-z_][\w.-]*:(\s|$)")


class _Loader(yaml.SafeLoader):
    """``SafeLoader``; documents are measured between composing and constructing them."""


def looks_like_text(value: str) -> bool:
    r"""Whether a string is a YAML/JSON document rather than a file path.

    A document: several lines, or one line that opens a JSON object or list (``{"apiVersion":
    ...}``), a YAML document marker (``---``) or a ``key: value`` pair (``apiVersion: v1``).
    A path is one line that is none of these (``C:\\x``, ``~/kube/config``, ``a: b.yaml`` is not
    a real path anyone writes).
    """
    text = value.strip()
    return "\n" in text or text.startswith(("{", "[", "---")) or bool(_YAML_KEY_LINE.match(text))


def load_yaml(text: str, source: str) -> Any:
    """The single document of ``text``; an empty text is None. See the module docstring."""
    documents = load_yaml_all(text, source)
    if len(documents) > 1:
        raise InvalidInputError(f"{source}: holds {len(documents)} YAML documents; expected one")
    return documents[0] if documents else None


def load_yaml_all(text: str, source: str) -> list[Any]:
    """Every document of ``text`` (``---`` separated), each checked as the module says."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{source}: got {type(text).__name__}; must be YAML text")
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise InvalidInputError(
            f"{source}: {size} bytes of YAML; at most {MAX_BYTES} bytes (5 MiB) are read"
        )
    loader = _Loader(text)
    try:
        documents: list[Any] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                _check_expansion(node, source)
            documents.append(loader.construct_document(node) if node is not None else None)
        return documents
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{source}: not valid YAML: {_describe(error)}") from None
    except RecursionError:
        raise InvalidInputError(f"{source}: YAML nested too deeply to read") from None
    finally:
        loader.dispose()


def read_text_file(path: str | os.PathLike[str], source: str | None = None) -> str:
    """A UTF-8 text file of at most :data:`MAX_BYTES`.

    Raises:
        OSError: the file is missing or cannot be read (as ``open`` says it).
        InvalidInputError: too large, or not UTF-8 (the source is named).

    """
    name = source or os.fspath(path)
    file = Path(path).expanduser()
    with file.open("rb") as stream:
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidInputError(f"{name}: larger than {MAX_BYTES} bytes (5 MiB); not read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"{name}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def _check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse a document whose aliases, written out, would add too many nodes (or never end)."""
    sizes: dict[int, int] = {}
    unique: set[int] = set()
    active: set[int] = set()

    def expanded(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise InvalidInputError(f"{source}: a YAML alias refers to a node that contains it")
        active.add(key)
        unique.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(expanded(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(expanded(k) + expanded(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = total
        if total - len(unique) > MAX_ALIAS_EXPANSION:
            raise InvalidInputError(
                f"{source}: YAML aliases expand to more than {MAX_ALIAS_EXPANSION} extra nodes "
                "(an alias bomb?); write the repeated parts out or use fewer aliases"
            )
        return total

    expanded(root)


def _describe(error: yaml.YAMLError) -> str:
    """The problem and its position, never the quoted snippet (it may hold a credential)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "syntax error"
        if mark is not None:
            return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        return problem
    return type(error).__name__
