"""How an exact answer is printed: the template's `answer_format` (as the real data prints it), or,
with a rounding setting, half-up to at most N decimals.

- decimal    exact Decimal text: "1835.05", "-18343656.3870", "210562442992.2269624224"
- decimal28  Decimal's default 28 significant digits (half-even): "75.07975759151064280958687335"
- float      Python's float repr of the exact value: "52.0", "0.5128205128205128"
- int        an integer: "348"
- fraction   lowest terms: "5/6" (an integer when the denominator is 1: "2")

`round_to=N` (any format but fraction and int): the exact value rounded half-up to N decimals, trailing
zeros removed ("52.0" -> "52", "1835.10" -> "1835.1", 1/3 -> "0.33"). Fractions stay exact; integers are
already exact. The same string is used everywhere an answer appears in a record (text and final line).
"""
from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

from ..errors import MathDataError

CTX28 = decimal.Context(prec=28, Emax=10**6, Emin=-(10**6))
_WIDE = decimal.Context(prec=200, Emax=10**6, Emin=-(10**6))
FORMATS = ("decimal", "decimal28", "float", "int", "fraction")


def fixed(value: Decimal) -> str:
    """Decimal in positional notation (never 1E-10), "-0" printed as "0"."""
    text = format(value, "f")
    return text.lstrip("-") if value == 0 else text


def trim(text: str) -> str:
    """Remove trailing fractional zeros and a bare point: "1835.10" -> "1835.1", "52.00" -> "52"."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def rounded(value, places: int) -> str:
    """`value` (Decimal or Fraction) rounded half-up to `places` decimals, trailing zeros removed."""
    if isinstance(value, Fraction):
        value = _WIDE.divide(Decimal(value.numerator), Decimal(value.denominator))
    q = value.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP, context=_WIDE)
    return trim(fixed(q))


def format_answer(value, answer_format: str, round_to: int | None = None) -> str:
    """The printed answer for an exact `value` (Decimal, or Fraction for `fraction`)."""
    if isinstance(value, Decimal) and value.is_zero():
        value = value.copy_abs()  # never print "-0.0" (a product or quotient with a zero operand)
    if answer_format == "fraction":
        frac = value if isinstance(value, Fraction) else Fraction(value)
        return str(frac)
    if answer_format == "int":
        if isinstance(value, Fraction):
            value = _WIDE.divide(Decimal(value.numerator), Decimal(value.denominator))
        if value != value.to_integral_value():
            return rounded(value, round_to) if round_to is not None else fixed(value)
        return str(int(value))
    if round_to is not None:
        return rounded(value, round_to)
    if isinstance(value, Fraction):
        value = _WIDE.divide(Decimal(value.numerator), Decimal(value.denominator))
    if answer_format == "decimal":
        return str(value)
    if answer_format == "decimal28":
        return str(CTX28.plus(value))
    if answer_format == "float":
        as_float = float(value)
        # beyond a double's range the float text would be "inf": print the exact value instead
        return repr(as_float) if as_float not in (float("inf"), float("-inf")) else str(value)
    raise MathDataError(f"unknown answer_format {answer_format!r}", f"valid: {', '.join(FORMATS)}")


def check_round(round_to: int | None) -> int | None:
    if round_to is not None and not 0 <= round_to <= 28:
        raise MathDataError(f"--round {round_to}: out of range", "use 0..28 decimals, or leave it out to keep the data's precision")
    return round_to
