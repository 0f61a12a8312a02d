"""Kubernetes quantities as Go's ``resource.Quantity`` writes them: its canonical form.

The V1 API builds typed objects, so every quantity it sends (cpu, memory, GPUs, volume sizes,
autoscaler resources) goes through ``resource.MustParse`` and comes out canonical: ``4096Mi`` is
sent as ``4Gi``, a cpu of ``2000`` as ``2k``, ``0.5`` as ``500m``. V2 forwards JSON and keeps
whatever string it was given. ``canonical`` follows ``Quantity.CanonicalizeBytes``
(k8s.io/apimachinery/pkg/api/resource): a binary-SI value is written in the largest power of 1024
that divides it (below 1024, or fractional, it falls back to decimal SI); a decimal value as its
digits times the largest power of 1000 that divides it; precision below nano is rounded up.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_NAMES = {exp: name for name, exp in _DECIMAL.items()}
_BINARY_NAMES = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_SHAPE = re.compile(r"([+-]?)([0-9]*\.?[0-9]*)((?:[eEinumkKMGTP]*)(?:[-+]?[0-9]*))")


def parse(text: str) -> tuple[Fraction, str] | None:
    """``(value, format)`` with format ``binary``, ``decimal`` or ``exponent``; None if invalid."""
    match = _SHAPE.fullmatch(text)
    if match is None or match.group(2) in ("", "."):
        return None
    sign, number, suffix = match.groups()
    value = Fraction(number)
    if suffix in _BINARY:
        value *= 1024 ** _BINARY[suffix]
        kind = "binary"
    elif suffix in _DECIMAL:
        value *= Fraction(10) ** _DECIMAL[suffix]
        kind = "decimal"
    elif re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        value *= Fraction(10) ** int(suffix[1:])
        kind = "exponent"
    else:
        return None
    return (-value if sign == "-" else value), kind


def canonical(text: str) -> str:
    """The canonical form of a valid quantity (``text`` unchanged if it does not parse)."""
    parsed = parse(text)
    if parsed is None:
        return text
    value, kind = parsed
    if kind == "binary" and -1024 < value < 1024:
        kind = "decimal"
    if kind == "binary" and value.denominator != 1:
        kind = "decimal"
    if kind == "binary":
        amount, power = int(value), 0
        while amount and amount % 1024 == 0 and power < 6:
            amount //= 1024
            power += 1
        return f"{amount}{_BINARY_NAMES[power]}"
    nanos = math.ceil(value * 10**9)  # rounded up to nano precision
    if nanos == 0:
        return "0"
    mantissa, exponent = nanos, -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # down to a multiple of 3
    mantissa *= 10**shift
    exponent -= shift
    if kind == "exponent":
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    while exponent > 18:
        mantissa *= 1000
        exponent -= 3
    return f"{mantissa}{_DECIMAL_NAMES[exponent]}"
