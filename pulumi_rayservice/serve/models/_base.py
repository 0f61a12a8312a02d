"""What every Serve model shares: the base class, the error our own rules raise, number types.

Each rule of ours fails with one pydantic error type whose context carries the full reason and
the sub-field it concerns, so :mod:`.errors` can name the exact field; the number types take what
the Pulumi engine sends (``2.0`` for ``2``) without coercing mistakes such as ``"0.5"`` or
``true``. Kept apart so the model modules share one definition of each and depend on nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Strict, StringConstraints
from pydantic_core import PydanticCustomError

# Error type of the failures raised by our own rules. Their context carries the full reason and,
# under "loc", the sub-field they concern (a model validator can only fail on the whole model).
_RULE = "serve_config"


def _rule(reason: str, *loc: str | int) -> PydanticCustomError:
    return PydanticCustomError(_RULE, "{reason}", {"reason": reason, "loc": loc})


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _num(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _integral(value: Any) -> Any:
    # The Pulumi engine sends every number as a float: 2 arrives as 2.0. A fractional part, a bool
    # or a string is a mistake, not something to coerce.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _rule(f"got {_show(value)}; must be an integer")
    return value


_Int = Annotated[int, BeforeValidator(_integral)]
# Strict: "0.5" (a string) or true is refused instead of read as a number. Infinity and NaN cannot
# be sent as JSON at all.
_Float = Annotated[float, Strict(), AllowInfNan(False)]
_NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    # Serve drops unknown keys without a word: refuse them so a typo fails at preview.
    model_config = ConfigDict(extra="forbid")
