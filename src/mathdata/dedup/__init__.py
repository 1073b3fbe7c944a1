"""Duplicate detection: exact (normalised text) then number-aware near duplicates (MinHash LSH).

`find_duplicates` marks, it never drops: callers decide (audit counts, build removes)."""
from __future__ import annotations

import polars as pl

from .config import DedupConfig, load_dedup_config
from .exact import mark_exact, order_columns
from .minhash import blocking_key_expr, near_clusters

__all__ = ["DedupConfig", "load_dedup_config", "find_duplicates", "blocking_key_expr"]


def find_duplicates(df: pl.DataFrame, cfg: DedupConfig, priority: str | None = None,
                    stats: dict | None = None, order: str | None = None) -> pl.DataFrame:
    """Add `exact_group`, `exact_dup`, `near_group`, `near_dup` to a classified frame.

    The kept record of a group has the lowest `priority` value (e.g. 0 for a verified answer), ties
    broken by input order. `near_dup` marks exact-unique records that a near-dup pass would remove;
    exact copies share their kept record's `near_group`.

    Group numbers are input positions: `order` names a column holding each row's position in the
    whole input (so that shards of it, partitioned by `blocking_key_expr`, number groups alike);
    without it, the row's position in `df`.
    """
    df = df.with_row_index("_row") if order is None else df.with_columns(_row=pl.col(order))
    df = mark_exact(df, priority)
    # the kept copies in keep order, with only the columns near_clusters reads
    needed = ["_row", "exact_group", "norm", "template", *(["solution"] if "solution" in df.columns else []),
              *([priority] if priority else [])]
    reps = df.select(needed).filter(~df["exact_dup"]).sort(order_columns(df, priority))
    roots, work = near_clusters(reps, cfg)
    reps = reps.select("_row", "exact_group").with_columns(_root=pl.Series(roots, dtype=pl.Int64))
    root_group = reps["exact_group"].gather(reps["_root"])
    reps = reps.with_columns(near_group=root_group, near_dup=pl.col("_root") != pl.int_range(pl.len()))
    df = df.join(reps.select("exact_group", "near_group", "near_dup"), on="exact_group", how="left",
                 maintain_order="left")
    df = df.with_columns(near_dup=pl.col("near_dup") & ~pl.col("exact_dup"))
    if stats is not None:
        stats.update(work)
    return df.drop("_row")
