"""Exact duplicates: the same normalised problem. One record per group is kept."""
from __future__ import annotations

import polars as pl


def order_columns(df: pl.DataFrame, priority: str | None) -> list[pl.Expr]:
    """Which record of a group is kept: lowest priority value, then earliest in the input."""
    keys = [pl.col("_row")]
    return [pl.col(priority).fill_null(1 << 30), *keys] if priority else keys


def mark_exact(df: pl.DataFrame, priority: str | None = None) -> pl.DataFrame:
    """Add `exact_group` (the input row of the group's first record: a stable id per normalised
    problem) and `exact_dup` (not the kept copy). Expects a `_row` column with the input order."""
    kept = pl.col("_row").sort_by(order_columns(df, priority)).first().over("norm") if priority \
        else pl.col("_row").min().over("norm")
    return df.with_columns(exact_group=pl.col("_row").min().over("norm").cast(pl.Int64), _kept=kept) \
        .with_columns(exact_dup=pl.col("_row") != pl.col("_kept")).drop("_kept")
