"""How an application, a deployment or the whole of Serve logs (Ray's ``LoggingConfig``).

Shared by all three levels. Ray checks log levels and record attributes against tables of the
``logging`` module and of its own; copies of them live here so the check runs without Ray.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool, field_validator

from ._base import ServeModel, brief_repr, plain_number, rule_error

# Ray's LoggingConfig checks levels against the logging module's private tables; these are their
# contents (the standard levels, which never change).
_LOG_LEVELS: dict[int, str] = {
    50: "CRITICAL",
    40: "ERROR",
    30: "WARNING",
    20: "INFO",
    10: "DEBUG",
    0: "NOTSET",
}
_LOG_LEVEL_NAMES = ("CRITICAL", "FATAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "NOTSET")
# ray._common.logging_constants.LOGRECORD_STANDARD_ATTRS
_LOGRECORD_STANDARD_ATTRS = frozenset(
    {
        "args",
        "asctime",
        "created",
        "exc_info",
        "exc_text",
        "filename",
        "funcName",
        "levelname",
        "levelno",
        "lineno",
        "message",
        "module",
        "msecs",
        "msg",
        "name",
        "pathname",
        "process",
        "processName",
        "relativeCreated",
        "stack_info",
        "thread",
        "threadName",
        "taskName",
    }
)


def _log_level(value: Any) -> Any:
    value = plain_number(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value in _LOG_LEVELS:
            return value
        raise rule_error(f"got {brief_repr(value)}; must be one of {sorted(_LOG_LEVELS)}")
    if isinstance(value, str) and value in _LOG_LEVEL_NAMES:
        return value
    raise rule_error(f"got {brief_repr(value)}; must be one of {', '.join(_LOG_LEVEL_NAMES)}")


_LogLevel = Annotated[int | str, BeforeValidator(_log_level)]


class LoggingConfig(ServeModel):
    """Logging of an application or deployment (Ray's ``ray.serve.schema.LoggingConfig``).

    Unset fields keep Serve's defaults (``TEXT`` encoding, ``INFO`` level, access log on).
    """

    encoding: Literal["TEXT", "JSON"] | None = Field(
        default=None, description="Encoding of the Serve logs: 'TEXT' (Serve's default) or 'JSON'."
    )
    log_level: _LogLevel | None = Field(
        default=None,
        description="Log level: a name such as 'INFO' or 'DEBUG', or its number (20, 10, ...).",
    )
    logs_dir: str | None = Field(
        default=None,
        description="Directory for the logs (Serve's default: /tmp/ray/session_latest/logs/serve).",
    )
    enable_access_log: StrictBool | None = Field(
        default=None, description="Whether to log each request (Serve's default: true)."
    )
    additional_log_standard_attrs: list[str] | None = Field(
        default=None,
        description="Standard Python LogRecord attributes added to every record (e.g. 'name').",
    )

    @field_validator("additional_log_standard_attrs")
    @classmethod
    def _known_attrs(cls, value: list[str] | None) -> list[str] | None:
        for index, attr in enumerate(value or []):
            if attr not in _LOGRECORD_STANDARD_ATTRS:
                raise rule_error(
                    f"got {brief_repr(attr)}; must be a standard LogRecord attribute: "
                    f"{', '.join(sorted(_LOGRECORD_STANDARD_ATTRS))}",
                    index,
                )
        return value
