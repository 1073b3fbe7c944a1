"""Category of every record: a template match (rules/templates.toml) or, failing that, the language
of the text (english / word_problem for Chinese / other)."""
from __future__ import annotations

import polars as pl

from .language import language_columns
from .normalize import normalize_expr
from .rules import Rules


def classify(df: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Add `norm` (normalised problem), `template` (name or null) and `category` columns.

    Work is done once per distinct normalised problem and joined back, since real data repeats a lot.
    """
    df = df.with_columns(norm=normalize_expr(pl.col("problem")))
    uniq = df.select(pl.col("norm").unique(maintain_order=True))
    template = pl.lit(None, dtype=pl.String)
    for t in reversed(rules.templates):  # first template in the file wins on overlap
        template = pl.when(pl.col("norm").str.contains(t.problem_regex)).then(pl.lit(t.name)).otherwise(template)
    is_english, has_han = language_columns(pl.col("norm"), rules.min_latin_words, rules.latin_per_han)
    to_category = {t.name: t.category for t in rules.templates}
    uniq = uniq.with_columns(template=template).with_columns(
        category=pl.when(pl.col("template").is_not_null())
        .then(pl.col("template").replace_strict(to_category, default=None))
        .when(is_english).then(pl.lit("english"))
        .when(has_han).then(pl.lit("word_problem"))
        .otherwise(pl.lit("other"))
    )
    return df.join(uniq, on="norm", how="left", maintain_order="left")
