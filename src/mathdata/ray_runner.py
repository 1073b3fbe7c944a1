"""The Ray runner: the same stages as the local runner, their shards run as Ray tasks.

`mathdata audit|build --engine ray` (install the `[ray]` extra). Each MAP stage runs on contiguous
slices of the frame, each BY_KEY stage on a hash partition of its key (exact dedup on the normalised
text, near dedup on the number multiset that both near-duplicate rules require to agree, so
duplicates always meet in one shard), GLOBAL stages in one task. Shard results are merged in input
order with `pipeline.merge_results`, so the outputs are byte-identical to the local runner's.

Shards travel as polars frames through Ray's object store: a stage returns three things (kept,
dropped, stats), which Ray Data's one-table-per-batch `map_batches` cannot carry. Without an address
a local Ray is started with `num_cpus` CPUs and an object store of `object_store_mb`; with
`--ray-address` (`auto`, or the head's `HOST:6379`) the driver joins that cluster, whose workers need
this package installed.
"""
from __future__ import annotations

from typing import Iterable

import polars as pl

from .errors import MathDataError
from .pipeline import RunResult, Stage, StageResult, run_local

DEFAULT_CPUS = 2
DEFAULT_STORE_MB = 1024


def _ray():
    try:
        import ray
    except ImportError:
        raise MathDataError("--engine ray: Ray is not installed",
                            "pip install 'mathdata[ray]' (or use the default --engine local)") from None
    return ray


def start(address: str | None = None, num_cpus: int = DEFAULT_CPUS, object_store_mb: int = DEFAULT_STORE_MB):
    """Connect to Ray (join `address`, or start a local instance); returns the module."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(num_cpus=num_cpus, object_store_memory=object_store_mb * 1024 * 1024, include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise MathDataError(f"--engine ray: cannot start or join Ray ({err})",
                            "check --ray-address (e.g. auto, HOST:6379), or drop it for a local Ray") from None
    return ray


def _execute(ray):
    @ray.remote
    def run_shard(stage: Stage, frame: pl.DataFrame) -> StageResult:
        return stage(frame)

    def execute(stage: Stage, frames: list[pl.DataFrame]) -> list[StageResult]:
        if len(frames) == 1 and stage.kind == "global":
            return [stage(frames[0])]   # one task's worth of work: no need to ship the frame
        return ray.get([run_shard.remote(stage, f) for f in frames])
    return execute


def run_ray(stages: Iterable[Stage], df: pl.DataFrame, steps=None, address: str | None = None,
            num_cpus: int = DEFAULT_CPUS, shards: int | None = None, keep_dropped=None) -> RunResult:
    """`run_local`'s result, computed on Ray: `shards` per stage (default: the cluster's CPUs)."""
    ray = start(address, num_cpus)
    shards = shards or max(1, int(ray.cluster_resources().get("CPU", num_cpus)))
    return run_local(stages, df, steps, shards=shards, execute=_execute(ray), keep_dropped=keep_dropped)
