"""V1's JSON codec: grpc-gateway's ``JSONPb`` over protobuf-go's ``encoding/protojson``.

The real server reads a request body in two steps (grpc-gateway ``runtime/marshal_jsonpb.go``):
``encoding/json`` reads one JSON value (a syntax error there is the 400's whole message, e.g.
``unexpected EOF``; anything after that first value is ignored; an empty body is no error and an
empty message), then ``protojson.Unmarshal`` with ``DiscardUnknown`` maps it onto the message.
The second step decides what a client may send (protobuf-go v1.36, ``encoding/protojson/
decode.go``):

- a field is found by its JSON name or its proto name, not both (``duplicate field``);
- unknown fields and unknown enum names are dropped without an error;
- ``null`` leaves a field unset;
- 32-bit integers take ``2``, ``2.0``, ``2e0`` or ``"2"``, not ``0.5`` or ``" 2"``;
- strings take only strings, booleans only booleans, enums a name or a number.

Errors read ``proto: (line L:C): invalid value for uint32 field cpu: 0.5``; the position is the
offending token's, counted in runes from the first byte of the JSON value. protobuf-go picks the
character after ``proto:`` (space or no-break space) from a hash of the binary, and the same
choice adds a space after every comma of its output (``internal/detrand``): :class:`Flavor`.

Answers follow the server's marshal options (``apiserver/cmd/main.go``): lowerCamel names, enums
as numbers, fields in number order, zero values omitted (an empty list answers ``{}``), maps sorted
by key, timestamps in RFC 3339.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from .messages import FieldDesc, MessageDesc, message

_WS = " \t\r\n"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Flavor:
    """The per-binary choice protobuf-go makes to keep clients off its exact bytes.

    Attributes:
        spaced: ``proto:`` is followed by a no-break space (U+00A0) and every comma of the output
            by a space; otherwise a plain space and no space.

    """

    spaced: bool = False

    @property
    def prefix(self) -> str:
        return "proto:\u00a0" if self.spaced else "proto: "

    @property
    def comma(self) -> str:
        return ", " if self.spaced else ","


class DecodeError(Exception):
    """A body grpc-gateway refuses: the message of its 400 (gRPC code 3)."""


@dataclass
class _Token:
    kind: str  # "{" "}" "[" "]" name string number true false null eof
    pos: int
    raw: str
    value: Any = None


def _innermost(text: str, pos: int) -> str:
    """The kind of container (``{`` or ``[``) open at ``pos``, strings skipped."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _go_syntax_error(text: str, error: json.JSONDecodeError) -> str:
    """What ``encoding/json`` says about the invalid JSON Python's decoder stopped at."""
    pos = error.pos
    if pos >= len(text) or error.msg.startswith("Unterminated string"):
        return "unexpected EOF"
    char = text[pos]
    shown = "'\\''" if char == "'" else f"'{char}'" if char.isprintable() else repr(char)
    if error.msg.startswith("Expecting ':'"):
        context = "after object key"
    elif error.msg.startswith("Expecting ','"):
        inside = _innermost(text, pos)
        context = "after object key:value pair" if inside == "{" else "after array element"
    elif error.msg.startswith("Expecting property name"):
        context = "looking for beginning of object key string"
    elif error.msg.startswith("Invalid control character"):
        context = "in string literal"
    elif error.msg.startswith("Invalid \\escape"):
        context = "in string escape code"
    else:
        context = "looking for beginning of value"
    return f"invalid character {shown} {context}"


def read_json_value(body: bytes) -> str | None:
    """Step one: the raw text of the body's first JSON value, or None for an empty body.

    Raises:
        DecodeError: Not valid JSON (``encoding/json``'s message).

    """
    text = body.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(_WS))
    if start == len(text):
        return None

    def constant(name: str) -> Any:
        raise ValueError(name)

    decoder = json.JSONDecoder(parse_constant=constant)
    try:
        _, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise DecodeError(_go_syntax_error(text, exc)) from exc
    except ValueError as exc:  # NaN, Infinity: not JSON for Go
        where = text.index(str(exc), start)
        raise DecodeError(
            f"invalid character '{text[where]}' looking for beginning of value"
        ) from exc
    return text[start:end]


def _tokens(text: str) -> list[_Token]:
    """The token stream of valid JSON, strings followed by ``:`` as names."""
    tokens: list[_Token] = []
    i = 0
    scan = json.decoder.scanstring  # type: ignore[attr-defined]
    while i < len(text):
        ch = text[i]
        if ch in _WS or ch in ",:":
            i += 1
        elif ch in "{}[]":
            tokens.append(_Token(ch, i, ch))
            i += 1
        elif ch == '"':
            value, end = scan(text, i + 1)
            j = end
            while j < len(text) and text[j] in _WS:
                j += 1
            kind = "name" if j < len(text) and text[j] == ":" else "string"
            tokens.append(_Token(kind, i, text[i:end], value))
            i = end
        elif text.startswith(("true", "false", "null"), i):
            word = next(w for w in ("true", "false", "null") if text.startswith(w, i))
            tokens.append(_Token(word, i, word, {"true": True, "false": False}.get(word)))
            i += len(word)
        else:
            match = _NUMBER.match(text, i)
            assert match is not None, f"invalid JSON at {i}"
            tokens.append(_Token("number", i, match.group(0)))
            i = match.end()
    tokens.append(_Token("eof", len(text), ""))
    return tokens


def _integral(raw: str, low: int, high: int) -> int | None:
    """``Token.Int``/``Token.Uint``: a JSON number that is an integer in range, or None."""
    match = _NUMBER.fullmatch(raw)
    if match is None:
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return None
    if number.is_zero():
        return 0
    if number.adjusted() > 20:  # normalizeToIntString gives up beyond 20 digits
        return None
    if number != number.to_integral_value():
        return None
    value = int(number)
    return value if low <= value <= high else None


def _number_in_string(text: str) -> str | None:
    """A quoted number as protojson reads it: no surrounding blanks, a number then a delimiter."""
    if text != text.strip(_WS):
        return None
    match = _NUMBER.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    if rest and (rest[0] in "-+._" or rest[0].isalnum()):
        return None
    return match.group(0)


_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


class _Decoder:
    def __init__(self, text: str, flavor: Flavor, memory_unit: bool) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0
        self.flavor = flavor
        self.memory_unit = memory_unit

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def read(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def _where(self, pos: int) -> str:
        before = self.text[:pos]
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return f"(line {line}:{column})"

    def error(self, pos: int, text: str) -> DecodeError:
        return DecodeError(f"{self.flavor.prefix}{self._where(pos)}: {text}")

    def unexpected(self, token: _Token) -> DecodeError:
        raw = token.raw or "EOF"
        return DecodeError(
            f"{self.flavor.prefix}syntax error {self._where(token.pos)}: unexpected token {raw}"
        )

    def skip_value(self) -> None:
        token = self.read()
        if token.kind in "{[":
            depth = 1
            while depth:
                inner = self.read()
                if inner.kind in "{[":
                    depth += 1
                elif inner.kind in "}]":
                    depth -= 1

    def message(self, desc: MessageDesc) -> dict[str, Any]:
        token = self.read()
        if token.kind != "{":
            raise self.unexpected(token)
        out: dict[str, Any] = {}
        seen: set[int] = set()
        while True:
            token = self.read()
            if token.kind == "}":
                return out
            if token.kind != "name":
                raise self.unexpected(token)
            fd = desc.by_json_name(token.value) or desc.by_text_name(token.value)
            if fd is None:
                self.skip_value()  # DiscardUnknown
                continue
            if fd.number in seen:
                raise self.error(token.pos, f"duplicate field {token.raw}")
            seen.add(fd.number)
            if self.peek().kind == "null":
                self.read()
                continue
            if fd.is_map:
                out[fd.name] = self.map(fd)
            elif fd.repeated:
                out[fd.name] = self.list(fd)
            else:
                value = self.singular(fd)
                if value is not _UNSET:
                    out[fd.name] = value

    def singular(self, fd: FieldDesc) -> Any:
        if fd.kind == "message":
            assert fd.message is not None
            return self.message(message(fd.message, memory_unit=self.memory_unit))
        if fd.kind == "timestamp":
            return self.timestamp()
        return self.scalar(fd)

    def timestamp(self) -> int:
        token = self.read()
        text = str(token.value)
        if token.kind != "string" or not _TIMESTAMP.fullmatch(text):
            raise self.error(token.pos, f"invalid google.protobuf.Timestamp value {token.raw}")
        moment = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        seconds = int((moment - _EPOCH).total_seconds())
        if not text.endswith("Z"):
            sign = -1 if text[-6] == "+" else 1
            seconds += sign * (int(text[-5:-3]) * 3600 + int(text[-2:]) * 60)
        return seconds

    def scalar(self, fd: FieldDesc) -> Any:
        token = self.read()
        if fd.kind == "string" and token.kind == "string":
            return token.value
        if fd.kind == "bool" and token.kind in ("true", "false"):
            return token.value
        if fd.kind in _RANGES:
            low, high = _RANGES[fd.kind]
            raw: str | None = token.raw if token.kind == "number" else None
            if token.kind == "string":
                raw = _number_in_string(str(token.value))
            value = _integral(raw, low, high) if raw is not None else None
            if value is not None:
                return value
        if fd.kind == "enum":
            assert fd.enum is not None
            if token.kind == "string":
                return fd.enum.get(str(token.value), _UNSET)  # unknown names dropped
            if token.kind == "number":
                number = _integral(token.raw, *_RANGES["int32"])
                if number is not None:
                    return number
        raise self.error(
            token.pos, f"invalid value for {fd.kind} field {fd.json_name}: {token.raw or 'EOF'}"
        )

    def list(self, fd: FieldDesc) -> list[Any]:
        token = self.read()
        if token.kind != "[":
            raise self.unexpected(token)
        items: list[Any] = []
        while self.peek().kind != "]":
            if self.peek().kind == "eof":
                raise self.unexpected(self.peek())
            value = self.singular(fd)
            if value is not _UNSET:
                items.append(value)
        self.read()
        return items

    def map(self, fd: FieldDesc) -> dict[str, Any]:
        assert fd.map_value is not None
        token = self.read()
        if token.kind != "{":
            raise self.unexpected(token)
        out: dict[str, Any] = {}
        while True:
            token = self.read()
            if token.kind == "}":
                return out
            if token.kind != "name":
                raise self.unexpected(token)
            if token.value in out:
                raise self.error(token.pos, f"duplicate map key {token.raw}")
            value = self.singular(fd.map_value)
            if value is not _UNSET:
                out[str(token.value)] = value


_UNSET = object()


def decode(
    body: bytes, desc: MessageDesc, *, flavor: Flavor, memory_unit: bool = True
) -> dict[str, Any]:
    """A request body as the message ``desc``, keyed by proto field names.

    Raises:
        DecodeError: The 400's message.

    """
    text = read_json_value(body)
    if text is None:
        return {}
    decoder = _Decoder(text, flavor, memory_unit)
    out = decoder.message(desc)
    trailing = decoder.read()
    if trailing.kind != "eof":
        raise decoder.unexpected(trailing)
    return out


# ------------------------------------------------------------------------------------------------
# Answers


def format_timestamp(seconds: int) -> str:
    """A ``google.protobuf.Timestamp`` of whole seconds, as protojson writes it."""
    moment = _EPOCH + timedelta(seconds=seconds)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def _is_zero(fd: FieldDesc, value: Any) -> bool:
    if value is None:
        return True
    if fd.is_map or fd.repeated:
        return not value
    if fd.kind in ("message", "timestamp") or fd.optional:
        return False  # a set message (or optional scalar) is written, even empty
    return value in ("", 0, False)


def encode(
    value: dict[str, Any], desc: MessageDesc, *, flavor: Flavor, memory_unit: bool = True
) -> str:
    """A message (keyed by proto field names) as the server's JSON answer."""
    parts: list[str] = []
    for fd in desc.ordered():
        if fd.name not in value or _is_zero(fd, value[fd.name]):
            continue
        parts.append(
            f"{json.dumps(fd.json_name)}:{_encode_field(fd, value[fd.name], flavor, memory_unit)}"
        )
    return "{" + flavor.comma.join(parts) + "}"


def _encode_field(fd: FieldDesc, value: Any, flavor: Flavor, memory_unit: bool) -> str:
    if fd.is_map:
        assert fd.map_value is not None
        entry = fd.map_value
        items = [
            json.dumps(key, ensure_ascii=False)
            + ":"
            + _encode_single(entry, value[key], flavor, memory_unit)
            for key in sorted(value)
        ]
        return "{" + flavor.comma.join(items) + "}"
    if fd.repeated:
        items = [_encode_single(fd, item, flavor, memory_unit) for item in value]
        return "[" + flavor.comma.join(items) + "]"
    return _encode_single(fd, value, flavor, memory_unit)


def _encode_single(fd: FieldDesc, value: Any, flavor: Flavor, memory_unit: bool) -> str:
    if fd.kind == "message":
        assert fd.message is not None
        return encode(
            value,
            message(fd.message, memory_unit=memory_unit),
            flavor=flavor,
            memory_unit=memory_unit,
        )
    if fd.kind == "timestamp":
        return json.dumps(format_timestamp(int(value)))
    if fd.kind == "int64":
        return json.dumps(str(int(value)))
    if fd.kind == "bool":
        return "true" if value else "false"
    if fd.kind in ("int32", "uint32", "enum"):
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)
