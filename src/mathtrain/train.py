"""CPU training. Both runners step with MindFormers' own production wrapper, `MFTrainOneStepCell`, built
from the run's YAML `runner_wrapper` (gradient clipping at global norm 1, static loss scale 1.0 on CPU),
with the optimizer and LR schedule built from the YAML's `optimizer` / `lr_schedule` blocks by MindFormers'
`build_optim` / `build_lr` -- one YAML drives both runners.

`[run].runner = "loop"` (default): a plain Python loop over that cell (seeded batch order: exact resume,
no framework overhead). `[run].runner = "trainer"`: MindFormers' own `Trainer(...).finetune()` on the
run's YAML, in-process (`ascend_runner.run_trainer`, the code an Ascend msrun worker runs). On CPU the NPU
overflow-status op is replaced by an inf/nan test that returns a Tensor (`ascend_runner.patch_cpu_overflow_status`).

The run directory's layout and run.json belong to `mathtrain.rundir` (see there).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mathdata.errors import MathDataError
from mathdata.io import write_text

from . import rundir
from .config import TrainConfig, check_files, load_model_config
from .records import RecordSet, build_records, load_records, read_manifest, write_json_atomic

# run.json config keys a resume may change: they affect bookkeeping, not the trained weights
RESUME_MAY_CHANGE = {"train.log_steps", "train.save_steps", "train.keep_checkpoints", "train.max_steps",
                     "run.mode"}


@dataclass
class StepLog:
    step: int
    epoch: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float
    global_norm: float | None = None  # the gradient norm before clipping (MFTrainOneStepCell's output)


@dataclass
class TrainResult:
    run_dir: str
    start_step: int  # 0 for a fresh run, else the checkpoint step resumed from
    steps: int  # the step reached
    total_steps: int
    steps_per_epoch: int
    first_loss: float
    last_loss: float
    tokens_per_s: float  # batch x seq_length per second of wall clock after the first (compiling) step,
    #                      data slicing, logging and checkpoint saves included
    elapsed_s: float
    trainable_params: int
    total_params: int
    ratio: float
    records: dict
    checkpoints: list[str] = field(default_factory=list)


def build_step(network, yaml_doc: dict, total_steps: int):
    """(step cell, optimizer): the optimizer and LR schedule from the YAML's `optimizer` / `lr_schedule`
    blocks through MindFormers' `build_optim` / `build_lr`, wrapped by MindFormers' wrapper from the YAML's
    `runner_wrapper` (`MFTrainOneStepCell`: clip at norm 1, `scale_sense`), as MindFormers' Trainer builds
    them. Each call returns (loss, overflow, loss scale, learning rate of this step, global grad norm)."""
    import copy

    from mindformers.core.lr import build_lr
    from mindformers.core.optim import build_optim
    from mindformers.wrapper import build_wrapper

    from .ascend_runner import patch_cpu_overflow_status

    patch_cpu_overflow_status()
    lr_cfg = copy.deepcopy(yaml_doc["lr_schedule"])
    lr_cfg["total_steps"] = total_steps
    lr = build_lr(lr_cfg)
    optimizer = build_optim(copy.deepcopy(yaml_doc["optimizer"]),
                            default_args={"params": network.trainable_params(), "learning_rate": lr})
    step_cell = build_wrapper(copy.deepcopy(yaml_doc["runner_wrapper"]),
                              default_args={"network": network, "optimizer": optimizer})
    return step_cell, optimizer


def plan_steps(samples: int, cfg: TrainConfig, max_steps: int | None) -> tuple[int, int]:
    """(steps_per_epoch, total_steps); the last partial batch of an epoch is dropped, as MindFormers does."""
    per_epoch = samples // cfg.train.batch_size
    if per_epoch == 0:
        raise MathDataError(f"{samples} training samples < [train].batch_size = {cfg.train.batch_size}",
                            "lower batch_size or build more data")
    total = per_epoch * cfg.train.epochs
    limit = max_steps if max_steps is not None else cfg.train.max_steps
    if limit:
        total = min(total, limit)
    return per_epoch, total


def save_steps(cfg: TrainConfig, per_epoch: int, total: int) -> set[int]:
    every = cfg.train.save_steps or per_epoch
    return set(range(every, total + 1, every)) | {total}


def batch_indices(seed: int, samples: int, per_epoch: int, batch: int, step: int) -> np.ndarray:
    """Sample indices of 0-based `step`: a fresh seeded permutation per epoch, so resuming mid-epoch sees
    exactly the batches the interrupted run would have."""
    epoch, k = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(samples)
    return perm[k * batch:(k + 1) * batch]


class RunLog:
    """train.log (append) + metrics.jsonl (one JSON line per logged step)."""

    def __init__(self, run_dir: Path, keep_until: int | None):
        self.metrics = run_dir / "metrics.jsonl"
        self.log_path = run_dir / "train.log"
        if keep_until is not None:  # resume: drop lines written after the checkpoint we restart from
            # (and a last line a kill cut in half)
            kept = [json.dumps(rec) + "\n" for rec in rundir.read_metrics(self.metrics) if rec["step"] <= keep_until]
            write_text(self.metrics, "".join(kept))
        else:
            self.metrics.write_text("", encoding="utf-8")
        self._metrics = self.metrics.open("a", encoding="utf-8")
        self._log = self.log_path.open("a", encoding="utf-8")

    def line(self, text: str) -> None:
        self._log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
        self._log.flush()

    def step(self, rec: StepLog) -> None:
        self._metrics.write(json.dumps(asdict(rec)) + "\n")
        self._metrics.flush()
        self.line(f"step {rec.step} epoch {rec.epoch} loss {rec.loss:.6f} lr {rec.lr:.3e} "
                  f"tokens/s {rec.tokens_per_s:.0f}")

    def close(self) -> None:
        self._metrics.close()
        self._log.close()


@dataclass
class Prepared:
    cfg: TrainConfig
    arch: dict
    records: RecordSet
    tokenizer: object
    prompt: dict
    steps_per_epoch: int
    total_steps: int
    yaml_doc: dict


def prepare(cfg: TrainConfig, data_dir: Path, run_dir: Path, max_steps: int | None = None) -> Prepared:
    """Validate files, tokenise to MindRecord (or reuse it), plan steps, write mindformers.yaml."""
    from .mindformers_yaml import build_yaml, dump_yaml
    from .tokenizer import tokenizer_from_config

    check_files(cfg)
    arch = load_model_config(cfg)
    prompt = read_manifest(Path(data_dir))["prompt"]
    tokenizer = tokenizer_from_config(cfg.tokenizer)
    records = build_records(Path(data_dir), tokenizer, cfg.tokenizer.path, cfg.tokenizer.type,
                            cfg.train.seq_length, run_dir / "data", model_config=arch, model_source=cfg.model.config)
    per_epoch, total = plan_steps(records.samples, cfg, max_steps)
    doc = build_yaml(cfg, arch, run_dir, records.path, total_steps=total, steps_per_epoch=per_epoch)
    write_text(run_dir / "mindformers.yaml", dump_yaml(doc))
    return Prepared(cfg, arch, records, tokenizer, prompt, per_epoch, total, doc)


def train(cfg: TrainConfig, data_dir: Path | str, run_dir: Path | str, max_steps: int | None = None,
          resume: bool = False, on_event: Callable[[str, dict], None] | None = None,
          force: bool = False) -> TrainResult:
    """Train on CPU (see module doc). `on_event(kind, info)` receives "start", "step", "checkpoint",
    "warning" and "done" events for progress display; everything is also logged to RUN_DIR. `resume`
    continues RUN_DIR from its newest readable checkpoint; a changed recipe is refused unless `force`."""
    if not cfg.is_cpu:
        raise MathDataError("train() runs the CPU loop",
                            "for device = 'ascend' use mathtrain.run.run (msrun through launch.run_on_ascend)")
    emit = on_event or (lambda kind, info: None)
    data_dir, run_dir = Path(data_dir), Path(run_dir).resolve()
    check_files(cfg)  # cheap checks first: no MindSpore import for a typo
    rundir.check_name(cfg.model.name, "[model].name")
    read_manifest(data_dir)
    start_point, old_info = _check_run_dir(run_dir, cfg, resume, force, emit)
    run_dir.mkdir(parents=True, exist_ok=True)

    from .runtime import set_context, use_output_dir

    use_output_dir(run_dir / "mindformers")
    set_context("cpu", cfg.run.mode, cfg.run.seed)
    import mindspore as ms
    from mindspore import Tensor

    from .mindformers_yaml import checkpoint_prefix
    from .model import build_network, count_params, is_lora_param, load_weights, save_params

    prep = prepare(cfg, data_dir, run_dir, max_steps)
    if old_info is not None:
        plan = []
        if old_info.data.get("total_steps") != prep.total_steps:
            plan.append(f"total steps {old_info.data.get('total_steps')} -> {prep.total_steps}")
        if old_info.data.get("records_key") != prep.records.key:
            plan.append("training records (data, tokenizer or seq_length)")
        if plan and not force:
            raise MathDataError(f"{run_dir}: --resume with a different plan ({'; '.join(plan)})",
                                "resume with the same config, data and --max-steps, add --force to continue "
                                "anyway, or start a new --out")
    model_cfg = prep.yaml_doc["model"]["model_config"]
    network = build_network(model_cfg, lora=True)
    count = count_params(network)
    if count.trainable == 0:
        raise MathDataError(f"{cfg.source}: [lora].target_modules = {cfg.lora.target_modules!r} matches no layer "
                            f"of the model", f"the model's layer names are {', '.join(layer_names(network))}")
    base_ckpt = Path(cfg.model.checkpoint) if cfg.model.checkpoint else run_dir / "base.ckpt"
    if cfg.model.checkpoint or base_ckpt.is_file():
        missing = [m for m in load_weights(network, base_ckpt) if not is_lora_param(m)]
        if missing:
            raise MathDataError(f"{base_ckpt}: lacks base weights {missing[:3]}",
                                "[model].checkpoint must be a full LlamaForCausalLM checkpoint for this model config")
    else:
        scaled_random_init(network, cfg.run.seed)
        save_params([(p.name, p) for p in network.get_parameters() if not is_lora_param(p.name)], base_ckpt)

    info = {
        "config": cfg.to_dict(), "config_source": cfg.source, "data_dir": str(data_dir.resolve()),
        "model_config": {k: v for k, v in model_cfg.items()}, "prompt": prep.prompt,
        "records": {k: v for k, v in asdict(prep.records).items() if k != "reused"},
        "records_key": prep.records.key, "steps_per_epoch": prep.steps_per_epoch,
        "total_steps": prep.total_steps, "base_checkpoint": str(base_ckpt),
        "checkpoint_prefix": checkpoint_prefix(cfg), "runner": cfg.runner,
        "params": {"trainable": count.trainable, "total": count.total, "ratio": count.ratio},
    }
    if old_info is not None:
        info["resumes"] = list(old_info.data.get("resumes", [])) + [
            {"from_step": start_point[0], "changed": start_point[2], "forced": bool(start_point[2])}]
    rundir.write_run(run_dir, info)
    if cfg.runner == "trainer":
        del network  # MindFormers builds its own from the YAML
        return _train_with_trainer(cfg, prep, run_dir, data_dir, base_ckpt, count, info, emit, start_point)

    step_cell, optimizer = build_step(network, prep.yaml_doc, prep.total_steps)
    step_cell.set_train(True)

    start = 0
    if start_point is not None:
        start, path, _ = start_point
        params = ms.load_checkpoint(str(path))
        ms.load_param_into_net(step_cell, params, strict_load=False)
        restored = int(optimizer.global_step.asnumpy().reshape(-1)[0])
        if restored != start:
            raise MathDataError(f"{path}: optimizer step {restored} != file step {start}", "the checkpoint is damaged")
    log = RunLog(run_dir, keep_until=start if start_point is not None else None)
    log.line(f"{'resume from step ' + str(start) if start else 'start'}: {cfg.source} data {data_dir} "
             f"samples {prep.records.samples} truncated {prep.records.truncated} dropped {prep.records.dropped} "
             f"records {'reused' if prep.records.reused else 'written'}")
    if start_point is not None and start_point[2]:
        log.line(f"resumed with --force despite changed {', '.join(start_point[2])}")
    log.line(f"params: {count.describe()}")
    emit("start", {"start_step": start, "total_steps": prep.total_steps, "records": asdict(prep.records),
                   "params": count, "steps_per_epoch": prep.steps_per_epoch})

    ids_all, labels_all = load_records(prep.records.path)
    batch, seq = cfg.train.batch_size, cfg.train.seq_length
    tokens_per_step = batch * seq
    saves = save_steps(cfg, prep.steps_per_epoch, prep.total_steps)
    prefix = checkpoint_prefix(cfg)

    first_loss = last_loss = float("nan")
    t_begin = time.perf_counter()
    t_mark, steps_since = t_begin, 0
    t_steady = None  # wall clock after the first (compiling) step: everything after it counts
    written = []
    step = start
    own_ctrl_c()
    try:
        for s in range(start, prep.total_steps):
            idx = batch_indices(cfg.run.seed, len(ids_all), prep.steps_per_epoch, batch, s)
            loss_t, overflow_t, scale_t, lr_t, norm_t = step_cell(Tensor(ids_all[idx]), Tensor(labels_all[idx]))[:5]
            loss = float(loss_t.asnumpy())
            step = s + 1
            steps_since += 1
            if not np.isfinite(loss):
                log.line(f"step {step}: loss is {loss}; stopping")
                raise MathDataError(f"training diverged at step {step} (loss {loss})",
                                    "lower [lr].learning_rate or check the data")
            if s == start:
                first_loss = loss
            last_loss = loss
            if step % cfg.train.log_steps == 0 or step == prep.total_steps:
                now = time.perf_counter()
                rec = StepLog(step=step, epoch=s // prep.steps_per_epoch + 1, loss=loss,
                              lr=float(lr_t.asnumpy().reshape(-1)[0]),
                              tokens_per_s=tokens_per_step * steps_since / max(now - t_mark, 1e-9),
                              elapsed_s=now - t_begin,
                              global_norm=None if norm_t is None else float(norm_t.asnumpy().reshape(-1)[0]))
                t_mark, steps_since = now, 0
                log.step(rec)
                emit("step", asdict(rec) | {"total_steps": prep.total_steps})
            if step in saves:
                path = rundir.loop_checkpoint_path(run_dir, prefix, step)
                epoch = s // prep.steps_per_epoch + 1
                append = {"epoch_num": epoch, "step_num": step, "loss_scale": float(scale_t.asnumpy().reshape(-1)[0])}
                rundir.save_checkpoint(path, lambda tmp: ms.save_checkpoint(step_cell, tmp, append_dict=append))
                written.append(str(path))
                log.line(f"checkpoint {path.name}")
                emit("checkpoint", {"step": step, "path": str(path)})
                _prune(run_dir, cfg.train.keep_checkpoints)
            if s == start:
                t_steady = time.perf_counter()
                own_ctrl_c()  # again after the first graph compile and run
    except KeyboardInterrupt:
        saved = [s for s, _ in rundir.loop_checkpoints(run_dir)]
        log.line(f"interrupted after step {step}; newest checkpoint: step {saved[-1] if saved else 'none'}")
        log.close()
        raise Interrupted(step, saved[-1] if saved else None) from None
    except BaseException:
        log.close()
        raise
    t_end = time.perf_counter()
    elapsed = t_end - t_begin
    steady_steps = prep.total_steps - start - 1
    tps = tokens_per_step * steady_steps / (t_end - t_steady) if steady_steps > 0 else 0.0
    return _finish(run_dir, prep, log, emit, start_step=start, steps=prep.total_steps,
                   first_loss=first_loss, last_loss=last_loss, tokens_per_s=tps, elapsed_s=elapsed,
                   trainable_params=count.trainable, total_params=count.total, ratio=count.ratio,
                   checkpoints=written)


def _finish(run_dir: Path, prep: Prepared, log: RunLog, emit, **outcome) -> TrainResult:
    """The end of either runner: the result (the plan's fields from `prep`), its line in train.log,
    summary.json and the "done" event."""
    result = TrainResult(run_dir=str(run_dir), total_steps=prep.total_steps, steps_per_epoch=prep.steps_per_epoch,
                         records=asdict(prep.records), **outcome)
    log.line(f"done: steps {result.start_step}->{result.steps} loss {result.first_loss:.4f} -> "
             f"{result.last_loss:.4f} tokens/s {result.tokens_per_s:.0f} elapsed {result.elapsed_s:.1f}s")
    log.close()
    write_json_atomic(run_dir / "summary.json", asdict(result))
    emit("done", asdict(result))
    return result


def own_ctrl_c() -> None:
    """Make Ctrl-C a KeyboardInterrupt between steps. MindSpore's runtime (libmindspore_common's global
    SIGINT handler) answers Ctrl-C by sending the process SIGTERM, which would kill it without a message,
    possibly in mid-save; so SIGTERM (that one, or a plain `kill`) raises KeyboardInterrupt in the main
    thread too, and `train` turns it into `Interrupted`."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, interrupt)


class Interrupted(Exception):
    """Ctrl-C during training: the step reached and the newest checkpoint on disk (None if none)."""

    def __init__(self, step: int, checkpoint_step: int | None):
        super().__init__(f"interrupted after step {step}")
        self.step, self.checkpoint_step = step, checkpoint_step


def layer_names(network) -> list[str]:
    """The model's Dense layers by the local name `[lora].target_modules` is matched against."""
    from mindspore import nn

    names = set()
    for name, cell in network.cells_and_names():
        if isinstance(cell, nn.Dense) or type(cell).__name__ in ("Linear", "LoRADense"):
            names.add(name.rsplit(".", 1)[-1])
    return sorted(names)


def _train_with_trainer(cfg: TrainConfig, prep: Prepared, run_dir: Path, data_dir: Path, base_ckpt: Path,
                        count, info: dict, emit, start_point) -> TrainResult:
    """`[run].runner = "trainer"` on cpu: MindFormers' `Trainer(...).finetune()` in this process, driven by
    RUN_DIR/mindformers.yaml (the same code an Ascend msrun worker runs: `ascend_runner.run_trainer`), with
    the base weights from `base_ckpt`, or on resume MindFormers' own resume from checkpoints/checkpoint."""
    from .ascend_runner import run_trainer
    from .mindformers_yaml import dump_yaml

    start = start_point[0] if start_point is not None else 0
    doc = dict(prep.yaml_doc)
    if start_point is None:
        doc["load_checkpoint"] = str(base_ckpt)
    else:
        doc = resume_doc(doc, run_dir, start_point[1])
    yaml_path = run_dir / "mindformers.yaml"
    write_text(yaml_path, dump_yaml(doc))

    log = RunLog(run_dir, keep_until=start if start_point is not None else None)
    log.line(f"{'resume from step ' + str(start) if start else 'start'} (runner trainer): {cfg.source} data "
             f"{data_dir} samples {prep.records.samples} truncated {prep.records.truncated} dropped "
             f"{prep.records.dropped} records {'reused' if prep.records.reused else 'written'}")
    log.line(f"params: {count.describe()}")
    emit("start", {"start_step": start, "total_steps": prep.total_steps, "records": asdict(prep.records),
                   "params": count, "steps_per_epoch": prep.steps_per_epoch})

    def on_step(rec: dict) -> None:
        log.line(f"step {rec['step']} epoch {rec['epoch']} loss {rec['loss']:.6f} lr {rec['lr']:.3e} "
                 f"tokens/s {rec['tokens_per_s']:.0f}")
        emit("step", rec | {"total_steps": prep.total_steps})

    t0 = time.perf_counter()
    own_ctrl_c()
    try:
        out = run_trainer(yaml_path, run_dir, on_cpu=True, on_step=on_step, stop_step=prep.total_steps)
    except KeyboardInterrupt:
        saved = [s for s, _ in rundir.mf_checkpoints(run_dir)]
        log.line(f"interrupted; newest checkpoint: step {saved[-1] if saved else 'none'}")
        log.close()
        raise Interrupted(saved[-1] if saved else start, saved[-1] if saved else None) from None
    except Exception as err:
        log.line(f"MindFormers Trainer failed: {type(err).__name__}: {err}")
        log.close()
        raise
    elapsed = time.perf_counter() - t0
    if not np.isfinite(out["last_loss"]):
        log.close()
        raise MathDataError(f"training diverged (last loss {out['last_loss']})",
                            "lower [lr].learning_rate or check the data")
    new = [(step, path) for step, path in rundir.mf_checkpoints(run_dir) if step > start]
    for step, path in new:
        log.line(f"checkpoint {path.relative_to(run_dir)} (step {step})")
        emit("checkpoint", {"step": step, "path": str(path)})
    info["trainer"] = {"trainable_params": out["trainable_params"], "steps": out["steps"],
                       "initial_step": out["initial_step"]}
    rundir.write_run(run_dir, info)
    return _finish(run_dir, prep, log, emit, start_step=start, steps=start + out["steps"],
                   first_loss=out["first_loss"], last_loss=out["last_loss"],
                   tokens_per_s=out["tokens_per_s"], elapsed_s=elapsed,
                   trainable_params=out["trainable_params"], total_params=count.total,
                   ratio=out["trainable_params"] / count.total, checkpoints=[str(p) for _, p in new])


def resume_doc(doc: dict, run_dir: Path, checkpoint: Path) -> dict:
    """The YAML of MindFormers' own resume (`mindformers_yaml.resume_overrides`: load_checkpoint = checkpoints/checkpoint,
    resume_training, auto_trans_ckpt off). When `checkpoint` is not the newest file (a damaged newest one is
    skipped), `resume_training` names it: MindFormers then loads that file, with each rank's id substituted."""
    from .mindformers_yaml import resume_overrides

    doc = resume_overrides(doc, run_dir)
    found = rundir.mf_checkpoints(run_dir)
    if found and Path(found[-1][1]) != Path(checkpoint):
        doc["resume_training"] = Path(checkpoint).name
    return doc


def scaled_random_init(network, seed: int) -> None:
    """Random base weights for a model trained from nothing (the tiny CPU fixture): fan-in scaled normals
    (embeddings N(0, 1), every other matrix N(0, 1/fan_in)), norms 1. MindFormers' own default
    (N(0, 0.01) everywhere) leaves a frozen random model's logits near 0, so no adapter could move the
    loss away from ln(vocab); with this init the frozen model has real features for LoRA to use."""
    import mindspore as ms

    from .model import is_lora_param

    rng = np.random.default_rng([seed, 1])
    for p in network.get_parameters():
        if is_lora_param(p.name) or len(p.shape) != 2:
            continue
        std = 1.0 if "embedding" in p.name else 1.0 / np.sqrt(p.shape[1])
        p.set_data(ms.Tensor(rng.normal(0.0, std, size=p.shape).astype(np.float32)))


def recipe_changes(old: dict, new: dict) -> list[str]:
    """`section.key` names whose values differ between two `TrainConfig.to_dict()`s, except the
    bookkeeping keys in RESUME_MAY_CHANGE."""
    changed = []
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section) or {}, new.get(section) or {}
        if not isinstance(a, dict) or not isinstance(b, dict):
            continue
        for key in sorted(set(a) | set(b)):
            name = f"{section}.{key}"
            if name not in RESUME_MAY_CHANGE and a.get(key) != b.get(key):
                changed.append(name)
    return changed


def _check_run_dir(run_dir: Path, cfg: TrainConfig, resume: bool, force: bool, emit, verify: bool = True):
    """-> ((step, checkpoint, changed keys) to resume from, old RunInfo), or (None, None) for a fresh run.
    `verify`: parse the checkpoints, newest first, and skip damaged ones (off for 8B shards on the
    launching host, where MindFormers itself loads them)."""
    existing = rundir.lora_checkpoints(run_dir) if run_dir.is_dir() else []
    if not resume:
        if existing:
            raise MathDataError(f"{run_dir}: already holds checkpoints of a run",
                                "pass --resume to continue it, or choose a new --out directory")
        return None, None
    if not existing:
        raise MathDataError(f"{run_dir}: nothing to resume (no checkpoints)", "drop --resume to start a new run")
    info = rundir.read_run(run_dir)
    changed = recipe_changes(info.config, cfg.to_dict())
    if changed and not force:
        shown = ", ".join(f"[{k.split('.')[0]}].{k.split('.', 1)[1]} {_short(info.config, k)} -> "
                          f"{_short(cfg.to_dict(), k)}" for k in changed)
        raise MathDataError(f"{run_dir}: --resume with a changed recipe: {shown}",
                            "resume with the run's own config, add --force to continue with the new values, "
                            "or start a new --out")
    total = info.data.get("total_steps")
    if total is not None and existing[-1][0] >= total:
        raise MathDataError(f"{run_dir}: the run already finished (step {existing[-1][0]} of {total})",
                            "merge or evaluate it; start a new --out to train further")
    for step, path in reversed(existing):
        if not verify or rundir.readable(path):
            return (step, path, changed), info
        emit("warning", {"message": f"{path.name} (step {step}) is damaged; resuming from the checkpoint before it"})
    raise MathDataError(f"{run_dir}: no readable checkpoint to resume from ({len(existing)} damaged)",
                        "start a new --out")


def _short(config: dict, key: str) -> str:
    section, name = key.split(".", 1)
    return repr((config.get(section) or {}).get(name))


def _prune(run_dir: Path, keep: int) -> None:
    if keep <= 0:
        return
    for _, path in rundir.loop_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)
