"""Text normalisation used for duplicate keys and template matching.

The documented normalisation (the same in Python and in polars):
1. full-width forms U+FF01..U+FF5E become their ASCII twins ("？" -> "?", "１" -> "1", "，" -> ","),
   the ideographic space U+3000 becomes a space;
2. runs of whitespace become one space; leading/trailing whitespace is removed;
3. trailing sentence punctuation is removed: 。 ． . ? ! (after step 1, so ？ and ！ too).
Nothing else changes: digits, signs and operators are kept, so numbers stay distinct.
"""
from __future__ import annotations

import re

import polars as pl

from .fullwidth import ASCII, FULLWIDTH
from .fullwidth import TABLE as _TABLE

TRAILING = "。．.?!"
_SPACES = re.compile(r"\s+")
_ODD_SPACE = re.compile(r"\s\s|[^\S ]")  # anything step 2 would change inside the text
_TRAILING_RE = re.compile(r"[。．.?!\s]+$")


def normalize_text(text: str) -> str:
    text = text.translate(_TABLE)
    if _ODD_SPACE.search(text):  # the common case (clean single spaces) skips the rewrite
        text = _SPACES.sub(" ", text)
    text = text.strip()
    return _TRAILING_RE.sub("", text) if text[-1:] in TRAILING else text


def normalize_expr(col: pl.Expr) -> pl.Expr:
    """The same normalisation as a polars expression (vectorised; used on whole data sets)."""
    return (
        col.str.replace_many(FULLWIDTH, ASCII)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.replace(r"[。．.?!\s]+$", "")
    )


# Numbers as they appear in problems: optional sign, digits with optional thousands groups, decimals.
NUMBER_RE = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"


def canonical_numbers_expr(col: pl.Expr) -> pl.Expr:
    """A list of the numbers in a normalised text, each in canonical form (no thousands commas,
    no leading zeros, no trailing fractional zeros): "1,044.40" and "1044.4" are the same number."""
    return col.str.extract_all(NUMBER_RE).list.eval(
        pl.element()
        .str.replace_all(",", "")
        .str.replace(r"^(-?)0+(\d)", "${1}${2}")
        .str.replace(r"(\.\d*?)0+$", "${1}")
        .str.replace(r"\.$", "")
        .str.replace(r"^-0$", "0")
    )


def mask_numbers_expr(col: pl.Expr) -> pl.Expr:
    """The text with every number replaced by '#': the template 'family' of a problem."""
    return col.str.replace_all(NUMBER_RE, "#")
