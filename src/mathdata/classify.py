"""Category of every record: a template match (rules/templates.toml) or, failing that, the language
of the text (english / word_problem for Chinese / other)."""
from __future__ import annotations

import polars as pl

from .keys import group_ids
from .language import language_columns
from .normalize import normalize_series
from .rules import MASK, NUM, Rules


def classify(df: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Add `norm` (normalised problem), `template` (name or null) and `category` columns.

    Work is done once per distinct problem, and then once per distinct normalised text (keys.py groups
    them; results reach the rows by position, never by a join on the texts). Templates are first
    matched against number-masked texts (a handful of distinct 'families' in template data), then each
    candidate is confirmed with its full regex, so the cost is one regex pass instead of one per
    template.
    """
    problems = group_ids(df, "problem")
    norm = normalize_series(df["problem"].gather(problems.first)).alias("norm")
    norms = group_ids(norm.to_frame(), "norm")
    # every number as the template slots read it (rules.NUM) -> '#': a superset key for the slot regexes,
    # unlike the audit's wording family (normalize.mask_numbers_expr), where 1,044.40 is one number
    uniq = pl.DataFrame({"norm": norm.gather(norms.first)}).with_columns(slot_mask=pl.col("norm").str.replace_all(NUM, MASK))
    uniq = uniq.with_columns(_template_category(uniq, rules))
    per_row = norms.ids[problems.ids]
    return df.with_columns(uniq.select("norm", "template", "category")[per_row])


def _template_category(uniq: pl.DataFrame, rules: Rules) -> list[pl.Series]:
    """`template` and `category` of each distinct normalised text (columns norm, slot_mask)."""
    masks = uniq.select(pl.col("slot_mask").unique(maintain_order=True))
    candidate = pl.lit(None, dtype=pl.String)
    for t in reversed(rules.templates):  # first template in the file wins on overlap
        candidate = pl.when(pl.col("slot_mask").str.contains(t.slot_mask_regex)).then(pl.lit(t.name)).otherwise(candidate)
    masks = masks.with_columns(candidate=candidate)
    cand = uniq.join(masks, on="slot_mask", how="left", maintain_order="left")["candidate"]
    template = pl.repeat(None, uniq.height, dtype=pl.String, eager=True).alias("template")
    for t in rules.templates:
        rows = (cand == t.name).fill_null(False)
        if rows.any():
            idx = rows.arg_true()
            ok = uniq["norm"].gather(idx).str.contains(t.problem_regex)
            template = template.scatter(idx.filter(ok), t.name)
    is_english, has_han = language_columns(pl.col("norm"), rules.min_latin_words, rules.latin_per_han)
    to_category = {t.name: t.category for t in rules.templates}
    category = uniq.with_columns(template).select(
        pl.when(pl.col("template").is_not_null())
        .then(pl.col("template").replace_strict(to_category, default=None))
        .when(is_english).then(pl.lit("english"))
        .when(has_han).then(pl.lit("word_problem"))
        .otherwise(pl.lit("other")).alias("category"))["category"]
    return [template, category]
