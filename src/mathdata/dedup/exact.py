"""Exact duplicates: the same normalised problem. One record per group is kept."""
from __future__ import annotations

import polars as pl


def order_columns(df: pl.DataFrame, priority: str | None) -> list[pl.Expr]:
    """Which record of a group is kept: lowest priority value, then earliest in the input."""
    keys = [pl.col("_row")]
    return [pl.col(priority).fill_null(1 << 30), *keys] if priority else keys


def mark_exact(df: pl.DataFrame, priority: str | None = None) -> pl.DataFrame:
    """Add `exact_group` (dense id per normalised problem) and `exact_dup` (not the kept copy).
    Expects a `_row` column with the input order."""
    ranked = df.sort(order_columns(df, priority))
    ranked = ranked.with_columns(exact_dup=~pl.col("norm").is_first_distinct())
    return ranked.sort("_row").with_columns(
        exact_group=pl.col("norm").rank(method="dense").cast(pl.Int64) - 1)
