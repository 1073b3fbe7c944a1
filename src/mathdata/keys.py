"""Group ids of text columns, without hash tables of the texts themselves.

polars' `unique`, `join` and `over` on long strings build hash tables holding the strings; on millions
of rows that is most of a stage's time and memory, and grows worse than linearly (measured in
bench/results_engines_10x.json). Here each row is hashed to 64 bits once, the hashes are sorted (an
integer sort), and groups are numbered in order of first appearance -- what `unique(maintain_order=True)`
gives. Every row's second, independent 64-bit hash must then equal its group's first row's: if the
first hashes of two different texts ever collide, the second ones tell, and the exact (slow) polars
grouping is used instead. Two texts are merged only when both hashes collide at once (a chance of
about 1e-25 among ten million distinct texts).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Groups:
    """`ids[row]`: the group of each row, 0.. in order of first appearance; `first[g]`: the row where
    group g first appears (increasing)."""
    ids: np.ndarray     # int64, one per row
    first: np.ndarray   # int64, one per group

    @property
    def count(self) -> int:
        return len(self.first)

    def firsts(self, df: pl.DataFrame) -> pl.DataFrame:
        """One row per group (its first), in group order."""
        return df[self.first]

    def spread(self, values: pl.Series) -> pl.Series:
        """A per-group series (length `count`) as a per-row one."""
        return values.gather(self.ids)


def _hashes(df: pl.DataFrame, columns: list[str], seed: int) -> np.ndarray:
    expr = pl.col(columns[0]) if len(columns) == 1 else pl.struct(columns)
    return df.select(expr.hash(seed=seed)).to_series().to_numpy()


def group_ids(df: pl.DataFrame, columns: str | list[str], hashes: np.ndarray | None = None) -> Groups:
    """Groups of equal values of `columns` (nulls equal to nulls). `hashes` (tests) replaces the
    first 64-bit row hashes, e.g. to force collisions."""
    columns = [columns] if isinstance(columns, str) else list(columns)
    n = df.height
    if n == 0:
        return Groups(np.zeros(0, np.int64), np.zeros(0, np.int64))
    h = _hashes(df, columns, 0) if hashes is None else np.asarray(hashes, dtype=np.uint64)
    order = pl.Series(h).arg_sort().to_numpy().astype(np.int64)   # an integer sort (multi-threaded)
    sh = h[order]
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(sh[1:], sh[:-1], out=start[1:])
    run = np.cumsum(start) - 1                       # run number in hash order
    run_first = np.minimum.reduceat(order, np.flatnonzero(start))   # first row of each run
    by_appearance = np.argsort(run_first)
    rank = np.empty(len(run_first), dtype=np.int64)
    rank[by_appearance] = np.arange(len(run_first))
    ids = np.empty(n, dtype=np.int64)
    ids[order] = rank[run]
    first = run_first[by_appearance].astype(np.int64)
    groups = Groups(ids, first)
    if not _no_collision(df, columns, groups):
        return _exact_groups(df, columns)
    return groups


def _no_collision(df: pl.DataFrame, columns: list[str], groups: Groups) -> bool:
    """Every row's second hash equals its group's first row's."""
    h2 = _hashes(df, columns, 1)
    return bool(np.array_equal(h2, h2[groups.first[groups.ids]]))


def _exact_groups(df: pl.DataFrame, columns: list[str]) -> Groups:
    keys = df.select(columns)
    uniq = keys.unique(maintain_order=True).with_row_index("_gid")
    ids = keys.join(uniq, on=columns, how="left", maintain_order="left", nulls_equal=True)["_gid"]
    ids = ids.cast(pl.Int64).to_numpy()
    first = np.flatnonzero(pl.Series(ids).is_first_distinct().to_numpy())
    return Groups(ids, first.astype(np.int64))


def group_min(groups: Groups, values: np.ndarray) -> np.ndarray:
    """The smallest of `values` within each group (length `groups.count`)."""
    out = np.full(groups.count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, groups.ids, np.asarray(values, dtype=np.int64))
    return out


def placed(n: int, rows: pl.Series | np.ndarray, values: pl.Series) -> pl.Series:
    """A length-`n` series holding `values` at `rows` and nulls elsewhere."""
    return pl.repeat(None, n, dtype=values.dtype, eager=True).alias(values.name).scatter(rows, values)
