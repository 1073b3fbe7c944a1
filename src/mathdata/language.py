"""English vs Chinese on short math text, without guessing from formulas.

Language-ID models read `解方程 3x+5=20` as Korean and LaTeX as anything. Here formulas and LaTeX are
removed first, then Han characters are weighed against Latin words (thresholds in
rules/categories.toml [language]).
"""
from __future__ import annotations

import polars as pl

# LaTeX math and commands, then ASCII runs that hold a digit or an operator (3x+5=20, 7x^3, f(x)=2).
_LATEX = r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\[A-Za-z]+"
_FORMULA = r"[A-Za-z0-9.^_+\-*/=()<>{}\[\]|']*[0-9^=+*/<>_{}\\|][A-Za-z0-9.^_+\-*/=()<>{}\[\]|']*"
_MATH_WORDS = r"\b(?:sin|cos|tan|cot|sec|csc|log|ln|exp|sqrt|frac|max|min|mod|gcd|lcm)\b"
_HAN = r"\p{Han}"
_WORD = r"[A-Za-z]{2,}"


def language_columns(col: pl.Expr, min_latin_words: int, latin_per_han: float) -> tuple[pl.Expr, pl.Expr]:
    """(is_english, has_han) as polars expressions over a text column."""
    prose = col.str.replace_all(_LATEX, " ").str.replace_all(_FORMULA, " ").str.replace_all(_MATH_WORDS, " ")
    han = col.str.count_matches(_HAN)
    words = prose.str.count_matches(_WORD)
    letters = prose.str.count_matches(r"[A-Za-z]")
    is_english = (words >= min_latin_words) & (letters > han * latin_per_han)
    return is_english, han > 0


def is_english(text: str, min_latin_words: int = 1, latin_per_han: float = 2.0) -> bool:
    """The same rule for one string (used by tests and small inputs)."""
    df = pl.DataFrame({"t": [text]})
    eng, _ = language_columns(pl.col("t"), min_latin_words, latin_per_han)
    return bool(df.select(eng).item())
