"""Exact duplicates: the same normalised problem. One record per group is kept."""
from __future__ import annotations

import numpy as np
import polars as pl

from ..keys import group_ids, group_min

NO_PRIORITY = 1 << 30   # a null priority sorts after every real one


def order_columns(df: pl.DataFrame, priority: str | None) -> list[pl.Expr]:
    """Which record of a group is kept: lowest priority value, then earliest in the input."""
    keys = [pl.col("_row")]
    return [pl.col(priority).fill_null(NO_PRIORITY), *keys] if priority else keys


def mark_exact(df: pl.DataFrame, priority: str | None = None) -> pl.DataFrame:
    """Add `exact_group` (the input row of the group's first record: a stable id per normalised
    problem) and `exact_dup` (not the kept copy). Expects a `_row` column with the input order."""
    groups = group_ids(df, "norm")
    row = df["_row"].cast(pl.Int64).to_numpy()
    kept = first = group_min(groups, row)
    if priority:
        prio = df[priority].fill_null(NO_PRIORITY).cast(pl.Int64).to_numpy()
        best = group_min(groups, prio)[groups.ids]
        kept = group_min(groups, np.where(prio == best, row, np.iinfo(np.int64).max))
    return df.with_columns(exact_group=pl.Series(first[groups.ids], dtype=pl.Int64),
                           exact_dup=pl.Series(row != kept[groups.ids]))
