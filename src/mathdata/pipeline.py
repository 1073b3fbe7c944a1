"""Stages and the runners that execute them.

A **stage** is a declared unit of work over a polars frame. Its function takes the frame and returns a
`StageResult`: the rows it kept, the rows it dropped (each with a fixed `drop_reason`, and a
`drop_detail` when there is one) and `StageStats` (in, out, dropped by reason, added) that add up
across shards, plus an `info` dict of side results (counts add up too). A stage never changes its
input (polars frames are not changed in place; a stage returns new frames) and never drops a row
silently: kept + dropped = in + added.

The `kind` says what a runner may do with the rows:

    MAP     every row is decided on its own: any split of the rows into shards, run separately and
            concatenated in order, gives the same result (normalise, english, answers, decontaminate,
            style, canonical)
    BY_KEY  rows with the same value of `key` must meet in one shard, and then the result is the same
            (deduplication: exact copies share their normalised text, near duplicates their number
            multiset -- `dedup.blocking_key_expr`)
    GLOBAL  needs every row at once (quota sampling, top-up, shuffle, the audit summary)

`run_local` runs a list of stages one after the other in this process; `mathdata.ray_runner` runs the
same list on a Ray cluster, shard by shard. Stages do not know how they are run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

import polars as pl

from .errors import MathDataError

MAP, BY_KEY, GLOBAL = "map", "by_key", "global"
KINDS = (MAP, BY_KEY, GLOBAL)


# --- results ------------------------------------------------------------------------------------------

@dataclass
class StageStats:
    """Records in, out, dropped by reason, added (top-up). Mergeable: shards of one stage add up."""
    name: str
    records_in: int = 0
    records_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    added: int = 0

    def __add__(self, other: "StageStats") -> "StageStats":
        if other.name != self.name:
            raise ValueError(f"cannot merge stage stats {self.name!r} and {other.name!r}")
        reasons = dict(self.dropped)
        for k, v in other.dropped.items():
            reasons[k] = reasons.get(k, 0) + v
        return StageStats(self.name, self.records_in + other.records_in, self.records_out + other.records_out,
                          dict(sorted(reasons.items())), self.added + other.added)

    def to_dict(self) -> dict:
        return {"stage": self.name, "in": self.records_in, "out": self.records_out,
                "dropped": dict(sorted(self.dropped.items())), "added": self.added}


@dataclass
class StageResult:
    kept: pl.DataFrame
    dropped: pl.DataFrame      # the removed rows, with `drop_reason` (and `drop_detail` when known)
    stats: StageStats
    info: dict = field(default_factory=dict)   # side results (e.g. counts of rewritten texts); ints add up


def result(name: str, kept: pl.DataFrame, dropped: pl.DataFrame | None = None, added: int = 0,
           info: dict | None = None) -> StageResult:
    """A StageResult whose stats are counted from its frames (`added`: rows made, not read)."""
    if dropped is None:
        dropped = nothing_dropped(kept)
    counts = {}
    if dropped.height:
        counts = {r: n for r, n in dropped.group_by("drop_reason").len().sort("drop_reason").iter_rows()}
    stats = StageStats(name, kept.height + dropped.height - added, kept.height, counts, added)
    return StageResult(kept, dropped, stats, dict(info or {}))


def nothing_dropped(df: pl.DataFrame) -> pl.DataFrame:
    """An empty dropped frame with the columns of `df` (a stage that keeps every row)."""
    return df.head(0).with_columns(drop_reason=pl.lit("", dtype=pl.String))


def split(df: pl.DataFrame, drop: pl.Expr, reason: pl.Expr | str, name: str,
          detail: pl.Expr | None = None) -> StageResult:
    """Rows where `drop` holds are dropped with `reason` (a fixed string or an expression of the row)."""
    reason = pl.lit(reason) if isinstance(reason, str) else reason
    flagged = df.with_columns(_drop=drop.fill_null(False))
    dropped = flagged.filter(pl.col("_drop")).drop("_drop").with_columns(drop_reason=reason)
    if detail is not None:
        dropped = dropped.with_columns(drop_detail=detail)
    return result(name, flagged.filter(~pl.col("_drop")).drop("_drop"), dropped)


def merge_info(a: dict, b: dict) -> dict:
    """Side results of two shards: numbers add up, nested dicts merge, anything else must agree."""
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
        elif isinstance(v, bool) or not isinstance(v, (int, float, dict)):
            if out[k] != v:
                raise ValueError(f"cannot merge info {k!r}: {out[k]!r} != {v!r}")
        elif isinstance(v, dict):
            out[k] = merge_info(out[k], v)
        else:
            out[k] = out[k] + v
    return out


def merge_results(parts: list[StageResult]) -> StageResult:
    """The result of one stage run on shards: frames concatenated in shard order, stats and info added."""
    if not parts:
        raise ValueError("no shard results to merge")
    stats, info = parts[0].stats, parts[0].info
    for p in parts[1:]:
        stats, info = stats + p.stats, merge_info(info, p.info)
    kept = pl.concat([p.kept for p in parts], how="diagonal_relaxed")
    dropped = pl.concat([p.dropped for p in parts], how="diagonal_relaxed")
    return StageResult(kept, dropped, stats, info)


# --- stages -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """One declared step: `fn(frame) -> StageResult`.

    `needs`: columns the input must have (checked by the runner, so a missing precondition is an error
    naming the stage, not a polars traceback). `reasons`: the drop reasons it may give (empty: it drops
    nothing; None: reasons come from the data, e.g. verification statuses). `key`: for BY_KEY, the
    column or expression whose equal values must meet in one shard.
    """
    name: str
    fn: Callable[[pl.DataFrame], StageResult]
    kind: str = MAP
    needs: tuple[str, ...] = ()
    reasons: tuple[str, ...] | None = ()
    key: str | pl.Expr | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"stage {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if (self.kind == BY_KEY) != (self.key is not None):
            raise ValueError(f"stage {self.name}: a key is given exactly for kind {BY_KEY!r}")

    def __call__(self, df: pl.DataFrame) -> StageResult:
        missing = [c for c in self.needs if c not in df.columns]
        if missing:
            raise MathDataError(f"stage {self.name}: its input lacks column(s) {', '.join(missing)}",
                                "an earlier stage that adds them is missing from the list")
        res = self.fn(df)
        if res.stats.name != self.name:
            raise ValueError(f"stage {self.name} returned the stats of {res.stats.name!r}")
        if self.reasons is not None:
            unknown = set(res.stats.dropped) - set(self.reasons)
            if unknown:
                raise ValueError(f"stage {self.name} dropped rows with undeclared reason(s) {sorted(unknown)}")
        return res


# --- the local runner ---------------------------------------------------------------------------------

@dataclass
class RunResult:
    frame: pl.DataFrame                                        # what the last stage kept
    dropped: list[pl.DataFrame] = field(default_factory=list)  # every stage's dropped rows, in stage order
    stats: list[StageStats] = field(default_factory=list)
    info: dict[str, dict] = field(default_factory=dict)        # stage name -> its info


def run_local(stages: Iterable[Stage], df: pl.DataFrame, steps=None, shards: int = 1,
              execute: Callable[[Stage, list[pl.DataFrame]], list[StageResult]] | None = None,
              keep_dropped: Iterable[str] | None = None) -> RunResult:
    """Run `stages` in order. `steps` (progress.Steps) times and shows each stage. `keep_dropped`:
    the only columns (besides drop_reason/drop_detail) the caller reads of the dropped rows; the rest
    is released as each stage ends (millions of dropped rows otherwise hold every column to the end).

    With `shards` > 1 every MAP and BY_KEY stage runs on that many shards (`shards_of`) whose results
    are merged (`merge_results`): the result equals the one-shard run. `execute(stage, frames)` runs
    one stage on its shards (default: one after the other here; `ray_runner` sends them to Ray)."""
    out = RunResult(df)
    execute = execute or (lambda stage, frames: [stage(f) for f in frames])
    keep = None if keep_dropped is None else set(keep_dropped) | {"drop_reason", "drop_detail"}
    for stage in stages:
        if steps is not None:
            with steps.step(stage.name):
                res = _run_stage(stage, out.frame, shards, execute)
        else:
            res = _run_stage(stage, out.frame, shards, execute)
        if keep is not None and res.dropped.height:
            res = replace(res, dropped=res.dropped.select([c for c in res.dropped.columns if c in keep]))
        _collect(out, res)
    return out


ORDER = "_shard_order"


def shards_of(stage: Stage, df: pl.DataFrame, n: int) -> list[pl.DataFrame]:
    """The frames a runner may run `stage` on separately: contiguous slices for MAP, a hash partition
    on the key for BY_KEY (with an `_shard_order` column holding the input position), the whole frame
    for GLOBAL. Empty shards are left out (at least one frame is returned)."""
    if stage.kind == GLOBAL or n <= 1 or df.height <= 1:
        return [df]
    if stage.kind == MAP:
        step = -(-df.height // n)
        return [df.slice(i, step) for i in range(0, df.height, step)]
    key = pl.col(stage.key) if isinstance(stage.key, str) else stage.key
    part = df.with_row_index(ORDER).with_columns(_part=(key.hash(seed=0) % n))
    frames = [f.drop("_part") for _, f in part.group_by("_part", maintain_order=True)]
    return sorted(frames, key=lambda f: f[ORDER][0])


def _run_stage(stage: Stage, df: pl.DataFrame, shards: int, execute) -> StageResult:
    frames = shards_of(stage, df, shards)
    if len(frames) == 1 and ORDER not in frames[0].columns:
        return execute(stage, frames)[0]
    res = merge_results(execute(stage, frames))
    if ORDER not in res.kept.columns:
        return res
    # a hash partition: back to the input order, as the one-shard run returns it
    dropped = res.dropped.sort(ORDER).drop(ORDER) if ORDER in res.dropped.columns else res.dropped
    return StageResult(res.kept.sort(ORDER).drop(ORDER), dropped, res.stats, res.info)


def _collect(out: RunResult, res: StageResult) -> None:
    out.frame = res.kept
    out.stats.append(res.stats)
    if res.dropped.height:
        out.dropped.append(res.dropped)
    if res.info:
        out.info[res.stats.name] = res.info


def stage_names(stages: Iterable[Stage]) -> list[str]:
    return [s.name for s in stages]
