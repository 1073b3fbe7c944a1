"""LoRA checkpoint + base weights -> one full checkpoint a plain LlamaForCausalLM loads.

For each adapted layer: W' = W + (B @ A) * alpha / rank, with A = `<layer>.mindpet_delta_lora_a` [r, in]
and B = `<layer>.mindpet_delta_lora_b` [out, r] -- the update mindpet's LoRADense applies and MindFormers'
`tools/transform_ckpt_lora.py` folds in (that tool defaults its scaling to 1, which is wrong whenever
alpha != rank -- the seed's recipe has alpha 16, rank 8: scale 2).

The LoRA weights come from `rundir.load_full_params`, so the per-rank shards of a model-parallel run are
unsharded first (MindSpore's transform_checkpoints with the run's strategy files). Every merged weight keeps
its base dtype (a bf16 base stays bf16: an 8B merged file is ~16 GB, not ~32 GB); the sum is computed in
float64 and rounded once.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mathdata.errors import MathDataError

from . import rundir

SUFFIX_A = ".mindpet_delta_lora_a"
SUFFIX_B = ".mindpet_delta_lora_b"


def merged_step(path: Path) -> int:
    m = rundir.MERGED_RE.search(Path(path).name)
    return int(m.group("step")) if m else -1


def _as_numpy(value) -> np.ndarray:
    import mindspore as ms

    if value.dtype == ms.bfloat16:
        value = value.astype(ms.float32)
    return value.asnumpy()


def merge_weights(base: dict, lora: dict, scale: float) -> dict:
    """name -> ndarray of the merged model. `base`, `lora`: name -> ndarray."""
    merged = {name: value for name, value in base.items() if "mindpet_delta_lora" not in name}
    adapted = 0
    for name, a in lora.items():
        if not name.endswith(SUFFIX_A):
            continue
        layer = name[: -len(SUFFIX_A)]
        b = lora.get(layer + SUFFIX_B)
        weight_name = layer + ".weight"
        if b is None or weight_name not in merged:
            raise MathDataError(f"cannot merge {layer}: missing {layer + SUFFIX_B if b is None else weight_name}",
                                "the LoRA checkpoint and base weights do not belong together")
        w = merged[weight_name]
        delta = (b.astype(np.float64) @ a.astype(np.float64)) * scale
        if delta.shape != w.shape:
            raise MathDataError(f"cannot merge {layer}: B@A is {delta.shape}, weight is {w.shape}",
                                "the LoRA checkpoint and base weights do not belong together")
        merged[weight_name] = (w.astype(np.float64) + delta).astype(w.dtype)
        adapted += 1
    if not adapted:
        raise MathDataError("the checkpoint holds no LoRA weights", "pass a checkpoint from RUN_DIR/checkpoints")
    return merged


def is_adapter_state(name: str) -> bool:
    return "mindpet_delta_lora" in name and not name.startswith(("adam_m.", "adam_v.", "moment1.", "moment2."))


def merged_params(info: rundir.RunInfo, lora_ckpt: Path) -> list[tuple[str, object]]:
    """(name, Tensor) of the merged model, every tensor in its base checkpoint's dtype."""
    import mindspore as ms

    from .model import lora_scale

    base = rundir.load_full_params(info.run_dir, info.base_checkpoint)
    lora = {k: _as_numpy(v) for k, v in rundir.load_full_params(info.run_dir, lora_ckpt).items() if is_adapter_state(k)}
    targets = {name[: -len(SUFFIX_A)] + ".weight" for name in lora if name.endswith(SUFFIX_A)}
    merged = merge_weights({n: _as_numpy(base[n]) for n in targets if n in base}, lora,
                           lora_scale(info.model_config["pet_config"]))
    out = []
    for name, value in base.items():
        if "mindpet_delta_lora" in name or name.startswith(("adam_m.", "adam_v.")):
            continue
        if name in merged:
            value = ms.Tensor(merged[name]).astype(value.dtype)
        out.append((name, value))
    return out


def merge_checkpoint(run_dir: Path | str, lora_ckpt: Path | str, out_path: Path | str | None = None) -> Path:
    import mindspore as ms

    info = rundir.read_run(run_dir)
    lora_ckpt = Path(lora_ckpt)
    if not lora_ckpt.is_file():
        raise MathDataError(f"{lora_ckpt}: no such checkpoint", "list RUN_DIR/checkpoints for valid files")
    if out_path is None:
        out_path = rundir.merged_path(info.run_dir, info.prefix, rundir.checkpoint_step(info.run_dir, lora_ckpt))
    items = merged_params(info, lora_ckpt)
    rundir.save_checkpoint(Path(out_path), lambda tmp: ms.save_checkpoint(
        [{"name": name, "data": value} for name, value in items], tmp))
    return Path(out_path)


def even_picks(steps: list[int], total: int, count: int) -> list[int]:
    """`count` checkpoint steps nearest to total * k / count (k = 1..count): evenly spaced over the run."""
    if count > len(steps):
        raise MathDataError(f"--keep-merged {count} needs {count} checkpoints; the run has {len(steps)}",
                            f"set [train].save_steps <= {max(1, total // count)} so enough checkpoints are saved")
    picks = []
    for k in range(1, count + 1):
        target = total * k / count
        free = [s for s in steps if s not in picks]
        picks.append(min(free, key=lambda s: (abs(s - target), s)))
    return sorted(picks)


def merge_run(run_dir: Path | str, checkpoint: Path | str | None = None, keep_merged: int = 0) -> list[Path]:
    """Merge one checkpoint (default: the newest) or, with keep_merged=N, N evenly spaced ones; with
    keep_merged, merged files of other steps are removed so exactly N remain. MindFormers' logs go to
    RUN_DIR/mindformers."""
    from .runtime import use_output_dir

    info = rundir.read_run(run_dir)
    use_output_dir(info.run_dir / "mindformers")
    if checkpoint is not None:
        return [merge_checkpoint(run_dir, checkpoint)]
    found = dict(rundir.lora_checkpoints(info.run_dir))
    if not found:
        raise MathDataError(f"{info.run_dir}: no LoRA checkpoints", "train first with `mathtrain run`")
    if keep_merged <= 0:
        return [merge_checkpoint(run_dir, found[max(found)])]
    total = int(info.data.get("total_steps") or max(found))
    picks = even_picks(sorted(found), total, keep_merged)
    out = [merge_checkpoint(run_dir, found[s]) for s in picks]
    for _, path in rundir.merged_checkpoints(info.run_dir):
        if path not in out:
            path.unlink()
    return out
