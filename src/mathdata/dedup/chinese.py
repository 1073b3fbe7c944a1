"""Numbers written in Chinese and units of measure, for number-aware near-duplicate blocking.

Rules are data: rules/numerals.toml (digits, multipliers, 第, 分之, 一半) and rules/units.toml (units
longest first). `numeral_value` reads one numeral; `block_words_expr` gives, per text, the sorted
numeral values and units it holds, as one string that two near duplicates must share.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import polars as pl

from ..errors import MathDataError
from ..normalize import canonical_number
from ..rules import DEFAULT_RULES_DIR
from ..tomlfile import read_toml


@dataclass(frozen=True)
class ChineseRules:
    digits: tuple[tuple[str, int], ...]
    multipliers: tuple[tuple[str, int], ...]
    ordinal: str
    fraction: str
    halves: tuple[str, ...]
    units: tuple[str, ...]          # longest first

    @property
    def numeral_pattern(self) -> str:
        chars = re.escape("".join(c for c, _ in self.digits + self.multipliers))
        run = f"[{chars}]+"
        halves = "|".join(re.escape(h) for h in sorted(self.halves, key=len, reverse=True))
        return (f"(?:{halves})|{re.escape(self.ordinal)}?{run}(?:{re.escape(self.fraction)}{run})?"
                if halves else f"{re.escape(self.ordinal)}?{run}(?:{re.escape(self.fraction)}{run})?")

    @property
    def unit_pattern(self) -> str:
        return "|".join(re.escape(u) for u in self.units)

    def to_dict(self) -> dict:
        return {"numerals": {"digits": dict(self.digits), "multipliers": dict(self.multipliers),
                             "ordinal": self.ordinal, "fraction": self.fraction, "halves": list(self.halves)},
                "units": list(self.units)}


@lru_cache(maxsize=8)
def load_chinese_rules(rules_dir: Path | str | None = None) -> ChineseRules:
    directory = Path(rules_dir or DEFAULT_RULES_DIR)
    npath, upath = directory / "numerals.toml", directory / "units.toml"
    num = read_toml(npath)
    try:
        digits = tuple((str(k), int(v)) for k, v in num.get("digits", {}).items())
        multipliers = tuple((str(k), int(v)) for k, v in num.get("multipliers", {}).items())
    except (TypeError, ValueError):
        raise MathDataError(f"{npath}: [digits] and [multipliers] map one character to an integer",
                            'e.g. "三" = 3') from None
    if any(len(c) != 1 for c, _ in digits + multipliers):
        raise MathDataError(f"{npath}: [digits] and [multipliers] keys must be single characters", 'e.g. "三" = 3')
    words = num.get("words", {})
    unknown = set(words) - {"ordinal", "fraction", "halves"}
    if unknown:
        raise MathDataError(f"{npath}: unknown key(s) in [words]: {', '.join(sorted(unknown))}",
                            "valid: ordinal, fraction, halves")
    units_table = read_toml(upath)
    if not all(isinstance(v, list) and all(isinstance(u, str) and u for u in v) for v in units_table.values()):
        raise MathDataError(f"{upath}: every key must be a list of unit words", 'e.g. length = ["米", "厘米"]')
    units = sorted({u for v in units_table.values() for u in v}, key=lambda u: (-len(u), u))
    return ChineseRules(digits, multipliers, str(words.get("ordinal", "第")), str(words.get("fraction", "分之")),
                        tuple(words.get("halves", ())), tuple(units))


def numeral_value(token: str, rules: ChineseRules) -> str:
    """A numeral's value as text: 三百零五 -> 305, 第二 -> 第2, 三分之一 -> 1/3, 一半 -> 1/2; a run of
    multipliers alone (万) is returned as it is."""
    if token in rules.halves:
        return "1/2"
    prefix = ""
    if rules.ordinal and token.startswith(rules.ordinal):
        prefix, token = rules.ordinal, token[len(rules.ordinal):]
    if rules.fraction and rules.fraction in token:
        den, _, num = token.partition(rules.fraction)
        d, n = _integer(den, rules), _integer(num, rules)
        if d is None or n is None or d == 0:
            return prefix + token
        q = Fraction(n, d)
        return prefix + (str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}")
    value = _integer(token, rules)
    return prefix + (canonical_number(str(value)) if value is not None else token)


def _integer(token: str, rules: ChineseRules) -> int | None:
    digits, mult = dict(rules.digits), dict(rules.multipliers)
    if not any(c in digits for c in token) and token not in ("十",) and any(c in mult for c in token):
        return None  # 万, 百万: a multiplier without a number
    total = section = number = 0
    for c in token:
        if c in digits:
            number = digits[c]
        elif mult.get(c, 0) >= 10000:
            section = (section + number) * mult[c]
            total += section
            section = number = 0
        elif c in mult:
            section += (number or 1) * mult[c]
            number = 0
    return total + section + number


def block_words_expr(col: pl.Expr, rules: ChineseRules, values: dict[str, str]) -> pl.Expr:
    """Per text: its numeral values and units, sorted, as one string ("1,2|厘米,米"). `values` maps the
    numeral tokens found (see `numeral_tokens`) to their values."""
    nums = col.str.extract_all(rules.numeral_pattern).list.eval(
        pl.element().replace_strict(values, default=pl.element())).list.sort().list.join(",")
    if not rules.units:
        return nums
    units = col.str.extract_all(rules.unit_pattern).list.unique().list.sort().list.join(",")
    return pl.concat_str(nums, units, separator="|")


def numeral_tokens(texts: pl.Series, rules: ChineseRules) -> dict[str, str]:
    """token -> value for every distinct numeral in `texts`."""
    tokens = texts.str.extract_all(rules.numeral_pattern).explode().drop_nulls().unique().to_list()
    return {t: numeral_value(t, rules) for t in tokens}
