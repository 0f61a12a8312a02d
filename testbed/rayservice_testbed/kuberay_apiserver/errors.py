"""Errors as the KubeRay API server builds them, and the answers they become.

V1 handlers return Go errors: plain ones (``fmt.Errorf``, ``errors.Wrap``) and ``util.UserError``
(``apiserver/pkg/util/error.go``), which carries a gRPC code and an external message. The gRPC
status of a handler's error, and so the HTTP answer grpc-gateway writes, depends on exactly how
the error was wrapped: ``util.Wrap`` keeps the code of the first ``UserError`` found by
``errors.As`` (which does not look inside a ``UserError``: it has ``Cause()``, no ``Unwrap()``),
a plain error ends as code 2 (Unknown, 500), and a plain error wrapping a context deadline as code 4
(DeadlineExceeded, 504). The message is ``"<external>: <internal chain>"`` for a ``UserError``,
the chain itself otherwise. This module keeps that model, so every V1 refusal is worded and coded
by the same rules as the real one.

Three other shapes of refusal live here too: grpc-gateway's routing errors (404 ``Not Found``,
501 ``Method Not Allowed``), Go's ``http.Error`` (text/plain with a newline, the V2 refusals) and
the security proxy's ``Unauthorized``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum


class Code(IntEnum):
    """gRPC status codes (``google.golang.org/grpc/codes``)."""

    OK = 0
    CANCELED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


_HTTP_BY_CODE = {
    Code.OK: 200,
    Code.CANCELED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.UNAUTHENTICATED: 401,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
}


def http_status(code: Code) -> int:
    """grpc-gateway's ``HTTPStatusFromCode``."""
    return _HTTP_BY_CODE.get(code, 500)


class GoError(Exception):
    """A Go error value: its ``Error()`` text, what it wraps, whether a deadline ended it.

    Attributes:
        text: This link's own text (``"Get cluster failed."``), or the whole text of a leaf.
        cause: The wrapped error (``%w``, ``errors.Wrap``), if any.
        deadline: A ``context.DeadlineExceeded`` is somewhere in this chain (``errors.Is``).

    """

    def __init__(self, text: str, cause: GoError | None = None, *, deadline: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.cause = cause
        self.deadline: bool = deadline or (cause is not None and cause.deadline)

    def error(self) -> str:
        """``err.Error()``: ``"<text>: <cause>"`` for a wrapper, the text for a leaf."""
        return f"{self.text}: {self.cause.error()}" if self.cause is not None else self.text

    def __str__(self) -> str:
        return self.error()


class UserError(GoError):
    """``util.UserError``: an internal error chain, an external message, a gRPC code.

    ``Error()`` is the internal chain only; the gRPC message adds the external message in front.
    """

    def __init__(self, internal: GoError, external: str, code: Code) -> None:
        super().__init__(internal.error(), deadline=internal.deadline)
        self.internal = internal
        self.external = external
        self.code = code

    def error(self) -> str:
        return self.internal.error()


def errorf(text: str, cause: GoError | None = None) -> GoError:
    """``fmt.Errorf("text: %w", cause)`` (or a leaf without cause)."""
    return GoError(text, cause)


def _find_user_error(err: GoError) -> UserError | None:
    """``errors.As(err, &userError)``: walks ``Unwrap`` links, never into a ``UserError``."""
    current: GoError | None = err
    while current is not None:
        if isinstance(current, UserError):
            return current
        current = current.cause
    return None


def wrap(err: GoError, message: str) -> GoError:
    """``util.Wrap``: a found ``UserError`` is re-made around its own internal chain.

    Whatever wrapped that ``UserError`` from outside is lost, as in the real code.
    """
    user = _find_user_error(err)
    if user is not None:
        return UserError(GoError(message, user.internal), user.external, user.code)
    return GoError(message, err)


def internal_server_error(err: GoError, internal_message: str) -> UserError:
    """``util.NewInternalServerError``: external ``Internal Server Error``, code 13."""
    return UserError(
        GoError(f"InternalServerError: {internal_message}", err),
        "Internal Server Error",
        Code.INTERNAL,
    )


def not_found_error(err: GoError, external: str) -> UserError:
    """``util.NewNotFoundError``: code 5."""
    return UserError(GoError(f"NotFoundError: {external}", err), external, Code.NOT_FOUND)


def invalid_input_error(message: str) -> UserError:
    """``util.NewInvalidInputError``: code 3."""
    return UserError(GoError(f"Invalid input error: {message}"), message, Code.INVALID_ARGUMENT)


def invalid_input_error_with_details(err: GoError, external: str) -> UserError:
    """``util.NewInvalidInputErrorWithDetails``: code 3."""
    return UserError(
        GoError(f"InvalidInputError: {external}", err), external, Code.INVALID_ARGUMENT
    )


def already_exist_error(message: str) -> UserError:
    """``util.NewAlreadyExistError``: code 6."""
    return UserError(GoError(f"Already exist error: {message}"), message, Code.ALREADY_EXISTS)


def grpc_status(err: GoError) -> tuple[Code, str]:
    """The status the gRPC server sends for a handler's error.

    A ``UserError`` (``GRPCStatus()``) gives its code and ``"<external>: <internal>"``; any other
    error is code 4 when it wraps a context deadline (``status.FromContextError``), else 2.
    """
    if isinstance(err, UserError):
        return err.code, f"{err.external}: {err.internal.error()}"
    return (Code.DEADLINE_EXCEEDED if err.deadline else Code.UNKNOWN), err.error()


@dataclass
class Reply:
    """One HTTP answer, whole (``body``) or streamed (``chunks``, sent as they come).

    Attributes:
        status: The HTTP status code.
        headers: Header pairs, in order (repeated names allowed, e.g. ``Warning``).
        body: The whole body (ignored when ``chunks`` is set).
        chunks: A streamed body; ``Content-Length`` among ``headers`` means sent raw,
            otherwise sent with chunked transfer encoding.

    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None


def go_http_error(status: int, message: str) -> Reply:
    """Go's ``http.Error``: the message and a newline, text/plain, never sniffed."""
    return Reply(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("X-Content-Type-Options", "nosniff"),
        ],
        (message + "\n").encode(),
    )


def empty_bad_gateway() -> Reply:
    """``httputil.ReverseProxy``'s default error handler: a 502 with no body."""
    return Reply(502, [("Content-Length", "0")])


def unauthorized() -> Reply:
    """The security proxy's refusal (``experimental/pkg/httpproxy/support.go``).

    It writes the status and ``Unauthorized\\n`` without a Content-Type; Go sniffs text/plain.
    """
    return Reply(401, [("Content-Type", "text/plain; charset=utf-8")], b"Unauthorized\n")


class GoPanic(Exception):
    """A nil dereference or out-of-range index in a V1 handler.

    grpc-go recovers no panic, and the gateway calls the gRPC server inside the same process:
    the real API server exits and the caller's connection is dropped without an answer.
    """
