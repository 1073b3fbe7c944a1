"""Text normalisation (duplicate keys, template matching) and the canonical training text.

**The normalised key** (`normalize_text`, and the same as a polars expression `normalize_expr`):
1. full-width forms U+FF01..U+FF5E become their ASCII twins ("？" -> "?", "１" -> "1", "，" -> ","),
   the ideographic space U+3000 becomes a space, the minus sign U+2212 becomes "-";
2. runs of whitespace become one space; leading/trailing whitespace is removed;
3. a space between two CJK characters is removed when one side is a Han character or CJK punctuation
   (、。《》「」“” ...) and the other side is Han, CJK punctuation or sentence punctuation `,.?!:;()[]"'`
   (word-segmented corpora such as HMWP write `元旦 ， 某校`; it is the same text as `元旦，某校`).
   Spaces next to digits, Latin letters and operators are kept (`计算 4204.22 + -2369.17`);
4. trailing sentence punctuation is removed: 。 ． . ? ! (after step 1, so ？ and ！ too).
Nothing else changes: digits, signs and operators are kept, so numbers stay distinct.

**The canonical text** (`canonical_text`), what `mathdata build` writes for free text (template records
are re-rendered in their template's wording instead, see build.py):
1. full-width digits and Latin letters become ASCII, and so do the full-width math signs
   ＋ － ＊ ／ ＝ ＜ ＞ ％ ＾ and the minus sign U+2212; a full-width `．` between two digits becomes `.`;
   the ideographic space becomes a space. Chinese punctuation (，。？！：；（）、《》 ...) is kept;
2. in a text with Han characters, an ASCII `,` `?` `!` `;` `:` right after a Han character or CJK
   punctuation becomes its full-width twin (`等于多少?` -> `等于多少？`; the ratio `4:3` keeps its colon),
   and so does a `,` or `;` right before a Han character (`4:3, 求` -> `4:3，求`); a `.` ending the
   text after a Han character becomes `。`;
3. the spaces of normalisation step 3 are removed (between spaces and tabs only: line breaks stay);
4. runs of spaces/tabs become one space, every line is stripped, blank lines are squeezed to one, and
   the text is stripped.
Invariants (tested): `canonical_text` is idempotent, and `normalize_text(canonical_text(t)) ==
normalize_text(t)`, so canonicalising never changes a record's duplicate key or id.
"""
from __future__ import annotations

import re

import numpy as np
import polars as pl

from .fullwidth import ASCII, FULLWIDTH
from .fullwidth import TABLE as _TABLE

TRAILING = "。．.?!"
_KEY_TABLE = {**_TABLE, 0x2212: 0x2D}
_SPACES = re.compile(r"\s+")
_ODD_SPACE = re.compile(r"\s\s|[^\S ]")  # anything step 2 would change inside the text
_TRAILING_RE = re.compile(r"[。．.?!\s]+$")

# Character classes of step 3 (written as literal ranges so Python's re and polars' Rust regex agree).
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_PUNCT = "\u3001-\u303f\u2018\u2019\u201c\u201d\u2026\u2014\ufe10-\ufe1f\ufe30-\ufe6f"
SENTENCE_PUNCT = r",.?!:;()\[\]\"'"
_FW_SENTENCE = "，．？！：；（）［］＂＇"  # the full-width twins of SENTENCE_PUNCT
_HC = f"[{HAN}{CJK_PUNCT}]"
_HCP = f"[{HAN}{CJK_PUNCT}{SENTENCE_PUNCT}]"
_P = f"[{SENTENCE_PUNCT}]"
_GAP = re.compile(rf"(?<={_HC})\s+(?={_HCP})|(?<={_HCP})\s+(?={_HC})")
_HAS_GAP = re.compile(rf"{_HC}\s|\s{_HC}")  # cheap pre-check: whitespace next to CJK at all
# polars (no look-around): a gap is a space between a char of one class and a char of the other
_GAP_A = rf"({_HCP}) ({_HC})"
_GAP_B = rf"({_HC}) ({_P})"


def _remove_cjk_gaps(text: str) -> str:
    return _GAP.sub("", text) if not text.isascii() and _HAS_GAP.search(text) else text


def normalize_text(text: str) -> str:
    if not text.isascii():  # (an O(1) flag: plain ASCII solutions skip the table)
        text = text.translate(_KEY_TABLE)
    if _ODD_SPACE.search(text):  # the common case (clean single spaces) skips the rewrite
        text = _SPACES.sub(" ", text)
    text = _remove_cjk_gaps(text.strip())
    return _TRAILING_RE.sub("", text) if text[-1:] in TRAILING else text


def _base_expr(col: pl.Expr) -> pl.Expr:
    return col.str.replace_many(FULLWIDTH + ["\u2212"], ASCII + ["-"]).str.replace_all(r"\s+", " ").str.strip_chars()


def _gaps_expr(col: pl.Expr) -> pl.Expr:
    # each pattern twice: a match consumes the character after the gap, so chains need a second pass
    for pattern in (_GAP_A, _GAP_A, _GAP_B, _GAP_B):
        col = col.str.replace_all(pattern, "${1}${2}")
    return col


def _trailing_expr(col: pl.Expr) -> pl.Expr:
    return col.str.replace(r"[。．.?!\s]+$", "")


def normalize_expr(col: pl.Expr) -> pl.Expr:
    """The same normalisation as a polars expression (vectorised; for small frames: `normalize_series`
    is faster on large ones)."""
    return _trailing_expr(_gaps_expr(_base_expr(col)))


_GAP_ANY = f"{_HC} {_HCP}|{_HCP} {_HC}"


def normalize_series(s: pl.Series) -> pl.Series:
    """`normalize_expr` over a Series, with step 3 run only on the texts that have such a space (a
    clean template corpus has none, and the step is the costly part)."""
    base = s.to_frame("t").select(_base_expr(pl.col("t")))["t"]
    mask = base.str.contains(_GAP_ANY).fill_null(False)
    if mask.any():
        fixed = base.filter(mask).to_frame("t").select(_gaps_expr(pl.col("t")))["t"]
        base = base.scatter(mask.arg_true(), fixed)
    return base.to_frame("t").select(_trailing_expr(pl.col("t")))["t"].alias(s.name)


# --- canonical text ---------------------------------------------------------------------------------

_FW_MATH = "＋－＊／＝＜＞％＾"
_CANON_TABLE = {
    **{c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)},                                   # digits
    **{c: c - 0xFEE0 for c in [*range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]},        # letters
    **{ord(c): ord(c) - 0xFEE0 for c in _FW_MATH},
    0x2212: 0x2D, 0x3000: 0x20,
}
_CHC = _HC
_CHCP = f"[{HAN}{CJK_PUNCT}{SENTENCE_PUNCT}{_FW_SENTENCE}]"
_FW_DOT = re.compile(r"(?<=\d)．(?=\d)")
_HAN_RE = re.compile(f"[{HAN}]")
_ASCII_AFTER_CJK = re.compile(rf"(?<={_HC})([ \t]*)([,?!;:])")
_ASCII_BEFORE_HAN = re.compile(rf"([,;])(?=[ \t]*[{HAN}])")
_TO_FULL = {",": "，", "?": "？", "!": "！", ";": "；", ":": "："}
_FINAL_DOT = re.compile(rf"(?<=[{HAN}])[ \t]*\.$")
_HGAP = re.compile(rf"(?<={_CHC})[ \t]+(?={_CHCP})|(?<={_CHCP})[ \t]+(?={_CHC})")
_HSPACE = re.compile(r"[^\S\n]+")
_BLANKS = re.compile(r"\n{3,}")
# Anything canonical_text would change (one pass over a text; most texts of a clean corpus pass).
NON_CANONICAL_RE = re.compile(
    rf"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a{_FW_MATH}\u2212\u3000\r\t\f\v]"
    rf"|\d．\d|  |^\s|\s$| \n|\n |\n\n\n|{_HC}[ \t]*[,?!;:]|[,;][ \t]*[{HAN}]|[{HAN}][ \t]*\.$"
    rf"|{_CHC}[ \t]{_CHCP}|{_CHCP}[ \t]{_CHC}")


def canonical_text(text: str) -> str:
    """The canonical form of a free-text problem or solution (rules in the module docstring)."""
    if not NON_CANONICAL_RE.search(text):
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CANON_TABLE)
    text = _FW_DOT.sub(".", text)
    if _HAN_RE.search(text):
        text = _ASCII_AFTER_CJK.sub(lambda m: _TO_FULL[m.group(2)], text)
        text = _ASCII_BEFORE_HAN.sub(lambda m: _TO_FULL[m.group(1)], text)
        text = _FINAL_DOT.sub("。", text.rstrip())
    text = _HSPACE.sub(" ", text)
    text = _HGAP.sub("", text)
    lines = [ln.strip() for ln in text.split("\n")]
    text = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    return text


def is_canonical_expr(col: pl.Expr) -> pl.Expr:
    """True where `canonical_text` would leave the text unchanged (vectorised pre-check)."""
    return ~col.str.contains(NON_CANONICAL_RE.pattern)


# Numbers as they appear in problems: optional sign, digits with optional thousands groups, decimals.
NUMBER_RE = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"


def canonical_number(text: str) -> str:
    """One number in canonical form: no thousands commas or '+' sign, no leading zeros, no trailing
    fractional zeros, no '-0' ("1,044.40" -> "1044.4", "007" -> "7", "-0.0" -> "0")."""
    t = text.replace(",", "").lstrip("+")
    sign = "-" if t.startswith("-") else ""
    t = t.lstrip("-")
    whole, _, frac = t.partition(".")
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    out = whole + ("." + frac if frac else "")
    return "0" if out == "0" else sign + out


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


# Texts holding a number that canonical_numbers_expr would rewrite (a comma between digits, a leading
# zero, a trailing fractional zero, a -0); wider than needed is only slower, never wrong.
_NEEDS_CANONICAL = r"\d,\d|(?:^|\D)0\d|\.\d*0(?:\D|$)|-0(?:\D|$)"


def canonical_numbers(texts: pl.Series) -> pl.Series:
    """`canonical_numbers_expr` over a Series: only texts with a number not already in canonical form
    pay for the per-number rewrite (most of a template corpus has none)."""
    found = texts.str.extract_all(NUMBER_RE)
    needs = texts.str.contains(_NEEDS_CANONICAL).fill_null(False)
    if needs.any():
        rows = needs.arg_true()
        fixed = texts.gather(rows).to_frame("t").select(canonical_numbers_expr(pl.col("t")))["t"]
        pick = np.arange(len(texts))
        pick[rows.to_numpy()] = len(texts) + np.arange(len(rows))   # (list columns have no scatter)
        found = pl.concat([found, fixed.alias(found.name)]).gather(pick)
    return found


def mask_numbers_expr(col: pl.Expr) -> pl.Expr:
    """The text with every number (thousands groups included) replaced by "#": the wording family the
    audit counts and near dedup compares. Template matching masks differently (rules.NUM, classify.py)."""
    return col.str.replace_all(NUMBER_RE, "#")
