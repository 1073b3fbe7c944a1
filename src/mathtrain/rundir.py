"""The run directory (RUN_DIR of `mathtrain run`): the one owner of its layout and of run.json.

    run.json            resolved config, model config, prompt spec, records stats, step plan, param counts
    mindformers.yaml    the MindFormers YAML this run used
    base.ckpt           base weights (when [model].checkpoint is empty: random init from the seed)
    data/               train.mindrecord + records.json
    checkpoints/        runner "loop": <prefix>_step000016.ckpt (one file per saved step)
    checkpoints/checkpoint/rank_<r>/            runner "trainer" and Ascend: MindFormers' CheckpointMonitor,
                        <prefix>_rank_<r>[_<n>]-<epoch>_<step in epoch>.ckpt  (see CKPT_NAME_RE)
    checkpoints/checkpoint_trainable/rank_<r>/  the same steps, LoRA weights only (`-trainable_params-`)
    checkpoints/steps.json                      file -> global step, written as MindFormers saves (rank 0)
    mindformers/strategy/ckpt_strategy_rank_<r>.ckpt   per-rank sharding strategy (model-parallel runs)
    merged/             <prefix>_step000016_merged.ckpt (`mathtrain merge`)
    metrics.jsonl, train.log, summary.json

Every checkpoint file of either runner is a MindFormers train-network checkpoint: all parameters (base
weights, LoRA, AdamW moments, `global_step`) plus `epoch_num`, `step_num`, `loss_scale` -- what
MindFormers' resume and `mindformers/tools/transform_ckpt_lora.py` read.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
STEPS_INDEX = "checkpoints/steps.json"
MERGED = "merged"
STRATEGY_DIR = "mindformers/strategy"

LOOP_CKPT_RE = re.compile(r"^(?P<prefix>.+)_step(?P<step>\d+)\.ckpt$")
# Every name MindFormers' CheckpointMonitor writes (MF/core/callback/callback.py: prefix + "_rank_<r>", then
# MindSpore's ModelCheckpoint adds "_<n>" when files of that prefix already exist -- a resumed run --, then
# "-<epoch>_<step in epoch>", or "-trainable_params-..." / "-network-..." for the extra files). With sink mode
# "epoch" counts sinks of sink_size steps, so sink_size 1 names carry the global step: `..._rank_0-128_1.ckpt`.
CKPT_NAME_RE = re.compile(r"^(?P<prefix>.+?)_rank_(?P<rank>\d+)(?:_(?P<restart>\d+))?-"
                          r"(?:(?P<kind>trainable_params|network)-)?(?P<epoch>\d+)_(?P<step>\d+)"
                          r"\.(?P<format>ckpt|safetensors)$")
MERGED_RE = re.compile(r"_step(?P<step>\d+)_merged\.ckpt$")
RANK_DIR_RE = re.compile(r"^rank_(\d+)$")

REQUIRED_KEYS = ("config", "model_config", "prompt", "checkpoint_prefix")


@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    data: dict  # run.json

    @property
    def path(self) -> Path:
        return self.run_dir / RUN_FILE

    @property
    def config(self) -> dict:
        return self.data["config"]

    @property
    def model_config(self) -> dict:
        return self.data["model_config"]

    @property
    def prompt(self):
        from mathdata.prompts import PromptSpec

        return PromptSpec.from_dict(self.data["prompt"], where=str(self.path))

    @property
    def base_checkpoint(self) -> Path:
        return Path(self.data.get("base_checkpoint") or self.run_dir / "base.ckpt")

    @property
    def prefix(self) -> str:
        return self.data["checkpoint_prefix"]

    @property
    def runner(self) -> str:
        return self.data.get("runner") or self.config.get("run", {}).get("runner", "loop")

    @property
    def params(self) -> dict:
        return self.data.get("params") or {}


def read_run(run_dir: Path | str, required: tuple[str, ...] = REQUIRED_KEYS) -> RunInfo:
    """run.json of RUN_DIR; every way it can be missing or broken is one MathDataError line. `required`: the keys
    the caller needs (scoring the contest needs only the parameter counts, which it checks itself)."""
    from mathdata.io import read_json_file

    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    if not run_dir.is_dir():
        raise MathDataError(f"{run_dir}: no such run directory", "pass the --out directory of `mathtrain run`")
    data = read_json_file(path, "the run directory is damaged; restore run.json or start a new --out",
                          not_found=(f"{run_dir}: not a mathtrain run directory (no {RUN_FILE})",
                                     "pass the --out directory of a `mathtrain run`"))
    missing = [k for k in required if k not in data]
    if missing:
        raise MathDataError(f"{path}: no {', '.join(missing)} recorded", "retrain with a current `mathtrain run`")
    return RunInfo(run_dir.resolve(), data)


def write_run(run_dir: Path | str, data: dict) -> Path:
    from mathdata.io import write_json

    path = Path(run_dir) / RUN_FILE
    write_json(path, data)
    return path


def inside(run_dir: Path | str, path: Path | str, what: str) -> Path:
    """`path` resolved, or a MathDataError if it escapes RUN_DIR (e.g. `[model].name = "../../x"`)."""
    root, resolved = Path(run_dir).resolve(), Path(path).resolve()
    if resolved != root and root not in resolved.parents:
        raise MathDataError(f"{what} {str(path)!r} leads outside the run directory {root}",
                            "use a plain name without '/' or '..'")
    return resolved


def check_name(name: str, key: str) -> str:
    """A name that becomes part of file names in RUN_DIR (checkpoint prefix, model name)."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or "\0" in name:
        raise MathDataError(f"{key} = {name!r} cannot be used in file names inside the run directory",
                            "use letters, digits, '-', '_' (no '/', '..' or leading '.')")
    return name


# ------------------------------------------------------------------------------------------ checkpoints
def loop_checkpoint_path(run_dir: Path | str, prefix: str, step: int) -> Path:
    return inside(run_dir, Path(run_dir) / CHECKPOINTS / f"{check_name(prefix, 'checkpoint prefix')}_step{step:06d}.ckpt",
                  "checkpoint")


def merged_path(run_dir: Path | str, prefix: str, step: int) -> Path:
    return inside(run_dir, Path(run_dir) / MERGED / f"{check_name(prefix, 'checkpoint prefix')}_step{step:06d}_merged.ckpt",
                  "merged checkpoint")


def mf_rank_dir(run_dir: Path | str, rank: int = 0, kind: str = "checkpoint") -> Path:
    return Path(run_dir) / CHECKPOINTS / kind / f"rank_{rank}"


def rank_dirs(root: Path) -> dict[int, Path]:
    out = {}
    if root.is_dir():
        for sub in root.iterdir():
            m = RANK_DIR_RE.match(sub.name)
            if m and sub.is_dir():
                out[int(m.group(1))] = sub
    return dict(sorted(out.items()))


def read_steps_index(run_dir: Path | str) -> dict[str, int]:
    try:
        data = json.loads((Path(run_dir) / STEPS_INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record_steps(run_dir: Path | str, found: dict[str, int]) -> None:
    """Add {checkpoint file name: global step} to checkpoints/steps.json (atomically)."""
    from mathdata.io import write_json

    index = read_steps_index(run_dir) | found
    write_json(Path(run_dir) / STEPS_INDEX, dict(sorted(index.items(), key=lambda kv: (kv[1], kv[0]))))


def _index_key(name: str) -> str:
    """Index key shared by all ranks: the file name with its rank number taken out."""
    m = CKPT_NAME_RE.match(name)
    if not m:
        return name
    return name[:m.start("rank")] + "*" + name[m.end("rank"):]


def _runner_batch_num(run_dir: Path) -> int | None:
    """MindSpore's `batch_num` of the run's file names: sink_size with sink mode, else steps per epoch."""
    import yaml

    try:
        doc = yaml.safe_load((run_dir / "mindformers.yaml").read_text(encoding="utf-8")) or {}
        runner = doc.get("runner_config") or {}
        if runner.get("sink_mode") and int(runner.get("sink_size") or -1) > 0:
            return int(runner["sink_size"])
    except (OSError, ValueError, TypeError, yaml.YAMLError, AttributeError):
        pass
    try:
        return int(json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))["steps_per_epoch"]) or None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _step_in_file(path: Path) -> int | None:
    """`step_num` MindFormers appended to the file (read only when neither the index nor the name tells)."""
    import mindspore as ms

    try:
        params = ms.load_checkpoint(str(path), choice_func=lambda name: name in ("step_num", "global_step"))
    except (ValueError, RuntimeError, OSError):
        return None
    for key in ("step_num", "global_step"):
        if key in params:
            return int(params[key].asnumpy().reshape(-1)[0])
    return None


def mf_checkpoints(run_dir: Path | str, rank: int = 0, kind: str = "checkpoint") -> list[tuple[int, Path]]:
    """(global step, path) of MindFormers' files in checkpoints/<kind>/rank_<rank>/, oldest first."""
    run_dir = Path(run_dir)
    folder = mf_rank_dir(run_dir, rank, kind)
    if not folder.is_dir():
        return []
    index = read_steps_index(run_dir)
    batch_num = None
    found = []
    for path in folder.iterdir():
        m = CKPT_NAME_RE.match(path.name)
        if not m or m.group("format") != "ckpt" or path.name.startswith("."):
            continue
        if (m.group("kind") or "") != ("trainable_params" if kind == "checkpoint_trainable" else ""):
            continue
        key = _index_key(path.name)
        step = index.get(key)
        if step is None and not m.group("restart"):
            batch_num = batch_num or _runner_batch_num(run_dir)
            if batch_num:
                step = (int(m.group("epoch")) - 1) * batch_num + int(m.group("step"))
        if step is None:
            step = _step_in_file(path)
        if step is not None:
            found.append((step, int(m.group("restart") or 0), path))
    # one file per step: a resumed run's (higher `_<n>`) over one a damaged or superseded earlier run left
    newest = {}
    for step, restart, path in sorted(found):
        newest[step] = path
    return sorted(newest.items())


def _steps_in(folder: Path, pattern: str, name_re: re.Pattern) -> list[tuple[int, Path]]:
    """(step, path) of the files in `folder` matching `pattern` whose name `name_re` reads a step from,
    oldest first. A dot-file is a save in progress (`save_checkpoint`), never listed."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(pattern):
        m = name_re.search(path.name)
        if m and not path.name.startswith("."):
            found.append((int(m.group("step")), path))
    return sorted(found)


def loop_checkpoints(run_dir: Path | str) -> list[tuple[int, Path]]:
    return _steps_in(Path(run_dir) / CHECKPOINTS, "*.ckpt", LOOP_CKPT_RE)


def lora_checkpoints(run_dir: Path | str, rank: int = 0) -> list[tuple[int, Path]]:
    """(global step, path) of every LoRA (+ optimizer) checkpoint of the run, oldest first, whichever runner
    wrote it. For a model-parallel run these are rank `rank`'s shards; `load_full_params` unshards them."""
    return sorted(loop_checkpoints(run_dir) + mf_checkpoints(run_dir, rank))


def merged_checkpoints(run_dir: Path | str) -> list[tuple[int, Path]]:
    return _steps_in(Path(run_dir) / MERGED, "*_merged.ckpt", MERGED_RE)


def newest(run_dir: Path | str, kind: str = "lora") -> Path | None:
    """The highest-step LoRA (kind "lora") or merged (kind "merged") checkpoint, or None."""
    if kind not in ("lora", "merged"):
        raise ValueError(f"kind must be 'lora' or 'merged', not {kind!r}")
    found = lora_checkpoints(run_dir) if kind == "lora" else merged_checkpoints(run_dir)
    return found[-1][1] if found else None


def checkpoint_step(run_dir: Path | str, path: Path | str) -> int:
    """The global step of one checkpoint file of this run (any layout)."""
    path = Path(path)
    for pattern in (LOOP_CKPT_RE, MERGED_RE):
        m = pattern.search(path.name)
        if m:
            return int(m.group("step"))
    m = CKPT_NAME_RE.match(path.name)
    if m:
        kind = "checkpoint_trainable" if m.group("kind") == "trainable_params" else "checkpoint"
        for step, found in mf_checkpoints(run_dir, int(m.group("rank")), kind):
            if found.resolve() == path.resolve():
                return step
        step = _step_in_file(path)
        if step is not None:
            return step
    raise MathDataError(f"{path}: cannot tell which step this checkpoint is",
                        f"pass a checkpoint listed under {Path(run_dir) / CHECKPOINTS}")


def readable(path: Path) -> bool:
    """Whether MindSpore can parse the checkpoint (a killed save or a disk error leaves a broken file)."""
    import mindspore as ms

    try:
        return bool(ms.load_checkpoint(str(path), choice_func=lambda name: name == "global_step"))
    except (ValueError, RuntimeError, OSError):
        return False


def save_checkpoint(path: Path, save) -> Path:
    """Run `save(tmp)` (a MindSpore save into tmp) and rename the result into place: an interrupt or a
    crash never leaves a half-written file under a checkpoint name. MindSpore adds '.ckpt' to names
    that lack it, so the temp name ends in '.ckpt' (and starts with '.', which no listing matches)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.ckpt")
    try:
        save(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


# ---------------------------------------------------------------------------------- unsharding shards
def shard_files(ckpt: Path | str) -> dict[int, Path]:
    """{rank: file} of the step `ckpt` belongs to, when it is one rank's shard of a multi-rank run
    (checkpoints/checkpoint/rank_<r>/...); {} for a complete checkpoint."""
    ckpt = Path(ckpt)
    m = CKPT_NAME_RE.match(ckpt.name)
    if not m or not RANK_DIR_RE.match(ckpt.parent.name):
        return {}
    dirs = rank_dirs(ckpt.parent.parent)
    if len(dirs) < 2:
        return {}
    files = {}
    for rank, folder in dirs.items():
        name = ckpt.name[:m.start("rank")] + str(rank) + ckpt.name[m.end("rank"):]
        if not (folder / name).is_file():
            raise MathDataError(f"{ckpt}: rank {rank} has no {name} in {folder}",
                                "copy every rank's checkpoints/checkpoint/rank_<r>/ folder from the training hosts")
        files[rank] = folder / name
    return files


def strategy_files(run_dir: Path | str) -> list[Path]:
    folder = Path(run_dir) / STRATEGY_DIR
    return sorted(folder.glob("*_rank_*.ckpt")) if folder.is_dir() else []


def unshard(run_dir: Path | str, shards: dict[int, Path], out_dir: Path) -> Path:
    """One complete checkpoint from per-rank shards, by MindSpore's own tools: the per-rank strategy files
    merged with `mindspore.merge_pipeline_strategys`, then `mindspore.transform_checkpoints` to the
    unsharded layout (dst_strategy_file=None). Parameter dtypes are kept as stored."""
    import mindspore as ms

    strategies = strategy_files(run_dir)
    if not strategies:
        raise MathDataError(f"{run_dir}: checkpoints of {len(shards)} ranks but no strategy files in "
                            f"{Path(run_dir) / STRATEGY_DIR}",
                            "copy RUN_DIR/mindformers/strategy/ckpt_strategy_rank_<r>.ckpt from the training hosts")
    src, dst = out_dir / "src", out_dir / "dst"
    strat = out_dir / "strategy"
    strat.mkdir(parents=True)
    for path in strategies:
        os.symlink(path.resolve(), strat / path.name)
    for rank, path in shards.items():
        (src / f"rank_{rank}").mkdir(parents=True)
        os.symlink(path.resolve(), src / f"rank_{rank}" / path.name)
    merged_strategy = out_dir / "merged_strategy.ckpt"
    try:
        ms.merge_pipeline_strategys(str(strat), str(merged_strategy))
        ms.transform_checkpoints(str(src), str(dst), "full_", src_strategy_file=str(merged_strategy),
                                 dst_strategy_file=None)
    except (ValueError, RuntimeError, TypeError, KeyError) as err:
        raise MathDataError(f"cannot unshard {shards[min(shards)]} with {Path(run_dir) / STRATEGY_DIR}: {err}",
                            "the strategy files must come from the same run as the checkpoints") from None
    files = sorted((dst / "rank_0").glob("*.ckpt"))
    if len(files) != 1:
        raise MathDataError(f"unsharding {shards[min(shards)]} gave {len(files)} files", "report this as a bug")
    return files[0]


def load_full_params(run_dir: Path | str, ckpt: Path | str) -> dict:
    """name -> mindspore Parameter of one checkpoint as a complete (unsharded) model: a per-rank shard of
    a model-parallel run is unsharded together with its sibling ranks' files using the run's strategy
    files; any other checkpoint is loaded as it is. Dtypes are those stored (bf16 stays bf16)."""
    import mindspore as ms

    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise MathDataError(f"{ckpt}: no such checkpoint", f"list {Path(run_dir) / CHECKPOINTS} for valid files")
    shards = shard_files(ckpt)
    try:
        if not shards:
            return ms.load_checkpoint(str(ckpt))
        tmp = Path(tempfile.mkdtemp(prefix=".unshard-", dir=Path(run_dir)))
        try:
            return ms.load_checkpoint(str(unshard(run_dir, shards, tmp)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except (ValueError, RuntimeError) as err:
        raise MathDataError(f"{ckpt}: not a readable MindSpore checkpoint ({str(err).splitlines()[0][:200]})",
                            "the file is damaged; pass another step's checkpoint") from None


# ------------------------------------------------------------------------------------------- metrics
def read_metrics(path: Path) -> list[dict]:
    """metrics.jsonl lines (a broken line is skipped with the rest kept: a log, not an input)."""
    out = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("step"), int):
                out.append(rec)
    return out
