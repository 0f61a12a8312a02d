"""What every Serve model shares: the base class, the error our own rules raise, number types.

Each rule of ours fails with one pydantic error type whose context carries the full reason and
the sub-field it concerns, so :mod:`.errors` can name the exact field; the number types take what
the Pulumi engine sends (``2.0`` for ``2``) without coercing mistakes such as ``"0.5"`` or
``true``. Kept apart so the model modules share one definition of each and depend on nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from ..._util.text import clip

# Error type of the failures raised by our own rules. Their context carries the full reason and,
# under "loc", the sub-field they concern (a model validator can only fail on the whole model).
RULE_ERROR = "serve_config"


def rule_error(reason: str, *loc: str | int) -> PydanticCustomError:
    """A failure of one of our rules, its reason kept whole and ``loc`` naming the sub-field."""
    return PydanticCustomError(RULE_ERROR, "{reason}", {"reason": reason, "loc": loc})


def brief_repr(value: Any) -> str:
    """A user's value as quoted in a failure: its repr, cut to 80 characters."""
    return clip(repr(value), 80)


def plain_number(value: Any) -> Any:
    """``2.0`` as ``2`` (the engine sends every number as a float), other values unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _integral(value: Any) -> Any:
    # The Pulumi engine sends every number as a float: 2 arrives as 2.0. A fractional part, a bool
    # or a string is a mistake, not something to coerce.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise rule_error(f"got {brief_repr(value)}; must be an integer")
    return value


Integer = Annotated[int, BeforeValidator(_integral)]
# Strict: "0.5" (a string) or true is refused instead of read as a number. Infinity and NaN cannot
# be sent as JSON at all.
Number = Annotated[float, Strict(), AllowInfNan(False)]
NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


class ServeModel(BaseModel):
    """A part of Serve's config: unknown keys are refused."""

    # Serve drops unknown keys without a word: refuse them so a typo fails at preview.
    model_config = ConfigDict(extra="forbid")


MAX_NAME_LENGTH = 128
"""Longest application or deployment name accepted. Serve sets no limit, but a name is part of
every replica's actor name (``app#deployment#id``), of metric labels, log file names and of the
resource id; 128 leaves room for any real name and refuses a megabyte pasted by mistake."""


def name_problems(value: Any, what: str) -> list[str]:
    """Why ``value`` cannot be a Serve application or deployment name (empty when it can).

    Serve splits replica ids on ``#`` (``app#deployment#replica``) and names reach URLs and
    file names, where ``/`` would be read as a separator; control characters and whitespace at
    either end are invisible in every listing that shows the name.
    """
    if not isinstance(value, str):
        return [f"got {brief_repr(value)}; {what} must be a string"]
    allowed = (
        f"{what} must be 1 to {MAX_NAME_LENGTH} characters, without '/', '#', control "
        "characters or whitespace at either end"
    )
    shown = brief_repr(value) if len(value) <= MAX_NAME_LENGTH else f"{len(value)} characters"
    if not value or len(value) > MAX_NAME_LENGTH:
        return [f"got {shown}; {allowed}"]
    if any(c in "/#" or not c.isprintable() for c in value) or value != value.strip():
        return [f"got {shown}; {allowed}"]
    return []


def _serve_name(what: str) -> Any:
    def check(value: Any) -> Any:
        problems = name_problems(value, what)
        if problems:
            raise rule_error(problems[0])
        return value

    return check


AppName = Annotated[str, StringConstraints(min_length=1), AfterValidator(_serve_name("a name"))]
DeploymentName = Annotated[
    str, StringConstraints(min_length=1), AfterValidator(_serve_name("a deployment name"))
]


def _json_problem(value: Any) -> tuple[str, tuple[str | int, ...]] | None:
    """The first value inside ``value`` that standard JSON cannot carry, and where it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return (
            f"got {value!r}; NaN and Infinity are not JSON (Serve would receive non-standard "
            "JSON that other tools refuse): use a finite number, null or a string",
            (),
        )
    if value is None or isinstance(value, str | bool | int | float):
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"got key {brief_repr(key)}; JSON keys must be strings", ()
            found = _json_problem(item)
            if found:
                return found[0], (key, *found[1])
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _json_problem(item)
            if found:
                return found[0], (index, *found[1])
        return None
    return (
        f"got {brief_repr(value)}; must be JSON: a string, number, boolean, null, list or mapping",
        (),
    )


def _json(value: Any) -> Any:
    found = _json_problem(value)
    if found:
        raise rule_error(found[0], *found[1])
    return value


JSONDict = Annotated[dict[str, Any], AfterValidator(_json)]
"""A free-form mapping sent to Serve as JSON (user_config, args, runtime_env, ...)."""
JSONList = Annotated[list[Any], AfterValidator(_json)]
