"""Category of every record: a template match (rules/templates.toml) or, failing that, the language
of the text (english / word_problem for Chinese / other)."""
from __future__ import annotations

import polars as pl

from .language import language_columns
from .normalize import normalize_series
from .rules import MASK, NUM, Rules


def classify(df: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Add `norm` (normalised problem), `template` (name or null) and `category` columns.

    Work is done once per distinct problem. Templates are first matched against number-masked
    texts (a handful of distinct 'families' in template data), then each candidate is confirmed
    with its full regex, so the cost is one regex pass instead of one per template.
    """
    raw = df.select(pl.col("problem").unique())
    raw = raw.with_columns(norm=normalize_series(raw["problem"]))
    uniq = raw.select(pl.col("norm").unique()).with_columns(family=pl.col("norm").str.replace_all(NUM, MASK))
    families = uniq.select(pl.col("family").unique())
    candidate = pl.lit(None, dtype=pl.String)
    for t in reversed(rules.templates):  # first template in the file wins on overlap
        candidate = pl.when(pl.col("family").str.contains(t.family_regex)).then(pl.lit(t.name)).otherwise(candidate)
    families = families.with_columns(candidate=candidate)
    uniq = uniq.join(families, on="family", how="left")
    confirmed = [uniq.filter(pl.col("candidate").is_null()).with_columns(template=pl.lit(None, dtype=pl.String))]
    for t in rules.templates:
        part = uniq.filter(pl.col("candidate") == t.name)
        if part.height:
            ok = part["norm"].str.contains(t.problem_regex)
            confirmed.append(part.with_columns(template=pl.when(ok).then(pl.lit(t.name)).otherwise(None)))
    uniq = pl.concat(confirmed).drop("family", "candidate")
    is_english, has_han = language_columns(pl.col("norm"), rules.min_latin_words, rules.latin_per_han)
    to_category = {t.name: t.category for t in rules.templates}
    uniq = uniq.with_columns(
        category=pl.when(pl.col("template").is_not_null())
        .then(pl.col("template").replace_strict(to_category, default=None))
        .when(is_english).then(pl.lit("english"))
        .when(has_han).then(pl.lit("word_problem"))
        .otherwise(pl.lit("other"))
    )
    raw = raw.join(uniq, on="norm", how="left")
    return df.join(raw, on="problem", how="left", maintain_order="left")
