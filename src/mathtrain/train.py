"""CPU training. `[run].runner = "loop"` (default): MindFormers' model, LoRA, AdamW and CosineWithWarmUpLR,
stepped by MindSpore's `nn.TrainOneStepCell` (a plain loop keeps resume exact and overhead nil -- see
docs/mathtrain.md). `[run].runner = "trainer"`: MindFormers' own `Trainer(...).finetune()` on the run's
MindFormers YAML, in-process (`ascend_runner.run_trainer`, the code an Ascend msrun worker runs), with the
NPU overflow-status op patched out on CPU; its checkpoints stay where MindFormers writes them
(checkpoints/checkpoint/rank_0/, recorded as run.json's `checkpoint_dir`).

Run directory (RUN_DIR):
  run.json            resolved config, model config, prompt spec, records stats, step plan
  mindformers.yaml    the full MindFormers YAML this run used
  base.ckpt           the base weights (written when [model].checkpoint is empty: random init from the seed)
  data/               train.mindrecord + records.json (hash-keyed, reused when inputs are unchanged)
  checkpoints/        <name>_lora_step000016.ckpt: LoRA weights + AdamW state (adam_m, adam_v, global_step)
                      (runner trainer: checkpoint/rank_0/<name>_lora_rank_0-<epoch>_<step in epoch>.ckpt, same
                      content, and checkpoint_trainable/rank_0/ with the LoRA weights only)
  metrics.jsonl       one line per logged step: step, epoch, loss, lr, tokens_per_s, elapsed_s
  train.log           the same in words, plus start/resume/checkpoint/summary lines
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mathdata.errors import MathDataError
from mathdata.io import write_text

from .config import TrainConfig, check_files, load_model_config
from .records import RecordSet, build_records, load_records, read_manifest, write_json_atomic

CKPT_RE = re.compile(r"_step(\d+)\.ckpt$")
MF_CKPT_RE = re.compile(r"_rank_\d+-(\d+)_(\d+)\.ckpt$")  # MindFormers' CheckpointMonitor


@dataclass
class StepLog:
    step: int
    epoch: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float


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


def train_step_cell(network, optimizer):
    """MindSpore's `nn.TrainOneStepCell`, returning (loss, the learning rate this step used). The rate is
    read inside the same compiled graph, before the optimizer advances its step counter -- evaluating the
    schedule cell separately after each step would cost a graph launch (~3 ms on CPU) per logged step."""
    from mindspore import nn

    class TrainOneStepWithLR(nn.TrainOneStepCell):
        def construct(self, *inputs):
            lr = self.optimizer.learning_rate(self.optimizer.global_step)
            loss = super().construct(*inputs)
            return loss, lr

    return TrainOneStepWithLR(network, optimizer)


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of a run's LoRA + optimizer checkpoints, oldest first: the loop's
    `checkpoints/<prefix>_step000016.ckpt`, and for a CPU `[run].runner = "trainer"` run the files MindFormers'
    CheckpointMonitor wrote to run.json's `checkpoint_dir` (`<prefix>_rank_0-<epoch>_<step in epoch>.ckpt`;
    global step = (epoch - 1) * steps_per_epoch + step in epoch). Ascend runs record no `checkpoint_dir`:
    their per-rank files are model-parallel shards that merge cannot fold yet."""
    found = []
    for path in (Path(run_dir) / "checkpoints").glob("*.ckpt"):
        m = CKPT_RE.search(path.name)
        if m and not path.name.startswith("."):
            found.append((int(m.group(1)), path))
    info = _run_json(Path(run_dir))
    if info.get("checkpoint_dir") and info.get("steps_per_epoch"):
        for path in Path(info["checkpoint_dir"]).glob("*.ckpt"):
            m = MF_CKPT_RE.search(path.name)
            if m:
                found.append(((int(m.group(1)) - 1) * int(info["steps_per_epoch"]) + int(m.group(2)), path))
    return sorted(found)


def checkpoint_step(run_dir: Path, path: Path) -> int:
    """The global step of one checkpoint file of this run (either layout)."""
    m = CKPT_RE.search(Path(path).name)
    if m:
        return int(m.group(1))
    for step, found in list_checkpoints(run_dir):
        if found.resolve() == Path(path).resolve():
            return step
    raise MathDataError(f"{path}: cannot tell which step this checkpoint is",
                        "pass a checkpoint listed under RUN_DIR/checkpoints")


def _run_json(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


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
            kept = []
            if self.metrics.is_file():
                for line in self.metrics.read_text(encoding="utf-8").splitlines():
                    if line.strip() and json.loads(line)["step"] <= keep_until:
                        kept.append(line + "\n")
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
          resume: bool = False, on_event: Callable[[str, dict], None] | None = None) -> TrainResult:
    """Train on CPU (see module doc). `on_event(kind, info)` receives "start", "step", "checkpoint" and
    "done" events for progress display; everything is also logged to RUN_DIR."""
    if not cfg.is_cpu:
        raise MathDataError("train() runs the CPU loop", "for device = 'ascend' use mathtrain.launch.prepare_ascend + launch")
    emit = on_event or (lambda kind, info: None)
    data_dir, run_dir = Path(data_dir), Path(run_dir).resolve()
    check_files(cfg)  # cheap checks first: no MindSpore import for a typo
    read_manifest(data_dir)
    if resume and cfg.runner == "trainer":
        raise MathDataError("--resume is not supported with [run].runner = 'trainer' on cpu",
                            "use runner = 'loop' for resumable CPU runs, or start a new --out")
    start_ckpt = _check_run_dir(run_dir, resume)
    run_dir.mkdir(parents=True, exist_ok=True)

    from .runtime import set_context, use_output_dir

    use_output_dir(run_dir / "mindformers")
    set_context("cpu", cfg.run.mode, cfg.run.seed)
    import mindspore as ms
    from mindspore import Tensor
    from mindformers.core.lr import CosineWithWarmUpLR
    from mindformers.core.optim import AdamW

    from .mindformers_yaml import checkpoint_prefix
    from .model import build_network, count_params, is_lora_param, load_weights, save_params

    prep = prepare(cfg, data_dir, run_dir, max_steps)
    if start_ckpt is not None:
        old = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        if old.get("total_steps") != prep.total_steps or old.get("records_key") != prep.records.key:
            raise MathDataError(f"{run_dir}: --resume with a different plan (total steps {old.get('total_steps')} -> "
                                f"{prep.total_steps}, or changed data/tokenizer)",
                                "resume with the same config, data and --max-steps, or start a new --out")
    model_cfg = prep.yaml_doc["model"]["model_config"]
    network = build_network(model_cfg, lora=True)
    base_ckpt = Path(cfg.model.checkpoint) if cfg.model.checkpoint else run_dir / "base.ckpt"
    if cfg.model.checkpoint or base_ckpt.is_file():
        missing = [m for m in load_weights(network, base_ckpt) if not is_lora_param(m)]
        if missing:
            raise MathDataError(f"{base_ckpt}: lacks base weights {missing[:3]}",
                                "[model].checkpoint must be a full LlamaForCausalLM checkpoint for this model config")
    else:
        scaled_random_init(network, cfg.run.seed)
        save_params([(p.name, p) for p in network.get_parameters() if not is_lora_param(p.name)], base_ckpt)
    count = count_params(network)

    info = {
        "config": cfg.to_dict(), "config_source": cfg.source, "data_dir": str(data_dir.resolve()),
        "model_config": {k: v for k, v in model_cfg.items()}, "prompt": prep.prompt,
        "records": {k: v for k, v in asdict(prep.records).items() if k != "reused"},
        "records_key": prep.records.key, "steps_per_epoch": prep.steps_per_epoch,
        "total_steps": prep.total_steps, "base_checkpoint": str(base_ckpt),
        "checkpoint_prefix": checkpoint_prefix(cfg), "runner": cfg.runner,
        "params": {"trainable": count.trainable, "total": count.total, "ratio": count.ratio},
    }
    if cfg.runner == "trainer":
        from .ascend_runner import trainer_checkpoints

        info["checkpoint_dir"] = str(trainer_checkpoints(run_dir)[0])
    write_json_atomic(run_dir / "run.json", info)
    if cfg.runner == "trainer":
        del network  # MindFormers builds its own from the YAML
        return _train_with_trainer(cfg, prep, run_dir, data_dir, base_ckpt, count, info, emit)

    lr = CosineWithWarmUpLR(learning_rate=cfg.lr.learning_rate, lr_end=cfg.lr.lr_end,
                            warmup_ratio=cfg.lr.warmup_ratio, total_steps=prep.total_steps)
    optimizer = AdamW(network.trainable_params(), learning_rate=lr, betas=(cfg.optimizer.beta1, cfg.optimizer.beta2),
                      eps=cfg.optimizer.eps, weight_decay=cfg.optimizer.weight_decay)
    step_cell = train_step_cell(network, optimizer)
    step_cell.set_train(True)

    start = 0
    if start_ckpt is not None:
        start, path = start_ckpt
        params = ms.load_checkpoint(str(path))
        ms.load_param_into_net(step_cell, params, strict_load=False)
        restored = int(optimizer.global_step.asnumpy().reshape(-1)[0])
        if restored != start:
            raise MathDataError(f"{path}: optimizer step {restored} != file step {start}", "the checkpoint is damaged")
    log = RunLog(run_dir, keep_until=start if start_ckpt is not None else None)
    log.line(f"{'resume from step ' + str(start) if start else 'start'}: {cfg.source} data {data_dir} "
             f"samples {prep.records.samples} truncated {prep.records.truncated} dropped {prep.records.dropped} "
             f"records {'reused' if prep.records.reused else 'written'}")
    log.line(f"params: {count.describe()}")
    emit("start", {"start_step": start, "total_steps": prep.total_steps, "records": asdict(prep.records),
                   "params": count, "steps_per_epoch": prep.steps_per_epoch})

    ids_all, labels_all = load_records(prep.records.path)
    batch, seq = cfg.train.batch_size, cfg.train.seq_length
    tokens_per_step = batch * seq
    saves = save_steps(cfg, prep.steps_per_epoch, prep.total_steps)
    prefix = checkpoint_prefix(cfg)
    trainable = [p for p in network.trainable_params()]
    opt_state = [p for p in optimizer.get_parameters() if p.name.startswith(("adam_m.", "adam_v."))]

    first_loss = last_loss = float("nan")
    t_begin = time.perf_counter()
    t_mark, steps_since = t_begin, 0
    t_steady = None  # wall clock after the first (compiling) step: everything after it counts
    written = []
    for s in range(start, prep.total_steps):
        idx = batch_indices(cfg.run.seed, len(ids_all), prep.steps_per_epoch, batch, s)
        loss_t, lr_t = step_cell(Tensor(ids_all[idx]), Tensor(labels_all[idx]))
        loss = float(loss_t.asnumpy())
        step = s + 1
        steps_since += 1
        if not np.isfinite(loss):
            log.line(f"step {step}: loss is {loss}; stopping")
            log.close()
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
                          elapsed_s=now - t_begin)
            t_mark, steps_since = now, 0
            log.step(rec)
            emit("step", asdict(rec) | {"total_steps": prep.total_steps})
        if step in saves:
            path = run_dir / "checkpoints" / f"{prefix}_step{step:06d}.ckpt"
            save_params([(p.name, p) for p in trainable] + [(p.name, p) for p in opt_state]
                        + [("global_step", optimizer.global_step)], path)
            written.append(str(path))
            log.line(f"checkpoint {path.name}")
            emit("checkpoint", {"step": step, "path": str(path)})
            _prune(run_dir, cfg.train.keep_checkpoints)
        if s == start:
            t_steady = time.perf_counter()
    t_end = time.perf_counter()
    elapsed = t_end - t_begin
    steady_steps = prep.total_steps - start - 1
    tps = tokens_per_step * steady_steps / (t_end - t_steady) if steady_steps > 0 else 0.0
    result = TrainResult(run_dir=str(run_dir), start_step=start, steps=prep.total_steps,
                         total_steps=prep.total_steps, steps_per_epoch=prep.steps_per_epoch,
                         first_loss=first_loss, last_loss=last_loss, tokens_per_s=tps, elapsed_s=elapsed,
                         trainable_params=count.trainable, total_params=count.total, ratio=count.ratio,
                         records={k: v for k, v in asdict(prep.records).items()}, checkpoints=written)
    log.line(f"done: steps {start}->{prep.total_steps} loss {first_loss:.4f} -> {last_loss:.4f} "
             f"tokens/s {tps:.0f} elapsed {elapsed:.1f}s")
    log.close()
    write_json_atomic(run_dir / "summary.json", asdict(result))
    emit("done", asdict(result))
    return result


def _train_with_trainer(cfg: TrainConfig, prep: Prepared, run_dir: Path, data_dir: Path, base_ckpt: Path,
                        count, info: dict, emit) -> TrainResult:
    """`[run].runner = "trainer"` on cpu: MindFormers' `Trainer(...).finetune()` in this process, driven by
    RUN_DIR/mindformers.yaml (the same code an Ascend msrun worker runs: `ascend_runner.run_trainer`), with
    the base weights from `base_ckpt` and the overflow-status op patched out (CPU only)."""
    from .ascend_runner import run_trainer
    from .mindformers_yaml import dump_yaml

    doc = dict(prep.yaml_doc)
    doc["load_checkpoint"] = str(base_ckpt)
    yaml_path = run_dir / "mindformers.yaml"
    write_text(yaml_path, dump_yaml(doc))

    log = RunLog(run_dir, keep_until=None)
    log.line(f"start (runner trainer): {cfg.source} data {data_dir} samples {prep.records.samples} "
             f"truncated {prep.records.truncated} dropped {prep.records.dropped} "
             f"records {'reused' if prep.records.reused else 'written'}")
    log.line(f"params: {count.describe()}")
    emit("start", {"start_step": 0, "total_steps": prep.total_steps, "records": asdict(prep.records),
                   "params": count, "steps_per_epoch": prep.steps_per_epoch})

    def on_step(rec: dict) -> None:
        log.line(f"step {rec['step']} epoch {rec['epoch']} loss {rec['loss']:.6f} lr {rec['lr']:.3e} "
                 f"tokens/s {rec['tokens_per_s']:.0f}")
        emit("step", rec | {"total_steps": prep.total_steps})

    t0 = time.perf_counter()
    try:
        out = run_trainer(yaml_path, run_dir, on_cpu=True, on_step=on_step)
    except Exception as err:
        log.line(f"MindFormers Trainer failed: {type(err).__name__}: {err}")
        log.close()
        raise
    elapsed = time.perf_counter() - t0
    if not np.isfinite(out["last_loss"]):
        log.close()
        raise MathDataError(f"training diverged (last loss {out['last_loss']})",
                            "lower [lr].learning_rate or check the data")
    for step, path in list_checkpoints(run_dir):
        log.line(f"checkpoint {path.relative_to(run_dir)} (step {step})")
        emit("checkpoint", {"step": step, "path": str(path)})
    info["trainer"] = {"trainable_params": out["trainable_params"], "steps": out["steps"],
                       "checkpoint_dir": out["checkpoint_dir"]}
    write_json_atomic(run_dir / "run.json", info)
    result = TrainResult(run_dir=str(run_dir), start_step=0, steps=out["steps"], total_steps=prep.total_steps,
                         steps_per_epoch=prep.steps_per_epoch, first_loss=out["first_loss"],
                         last_loss=out["last_loss"], tokens_per_s=out["tokens_per_s"], elapsed_s=elapsed,
                         trainable_params=out["trainable_params"], total_params=count.total,
                         ratio=out["trainable_params"] / count.total,
                         records={k: v for k, v in asdict(prep.records).items()}, checkpoints=out["checkpoints"])
    log.line(f"done: steps 0->{out['steps']} loss {out['first_loss']:.4f} -> {out['last_loss']:.4f} "
             f"tokens/s {out['tokens_per_s']:.0f} elapsed {elapsed:.1f}s")
    log.close()
    write_json_atomic(run_dir / "summary.json", asdict(result))
    emit("done", asdict(result))
    return result


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


def _check_run_dir(run_dir: Path, resume: bool) -> tuple[int, Path] | None:
    existing = list_checkpoints(run_dir) if run_dir.is_dir() else []
    if resume:
        if not existing:
            raise MathDataError(f"{run_dir}: nothing to resume (no checkpoints)", "drop --resume to start a new run")
        try:
            total = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["total_steps"]
        except (OSError, ValueError, KeyError):
            total = None
        if total is not None and existing[-1][0] >= total:
            raise MathDataError(f"{run_dir}: the run already finished (step {existing[-1][0]} of {total})",
                                "merge or evaluate it; start a new --out to train further")
        return existing[-1]
    if existing:
        raise MathDataError(f"{run_dir}: already holds checkpoints of a run",
                            "pass --resume to continue it, or choose a new --out directory")
    return None


def _prune(run_dir: Path, keep: int) -> None:
    if keep <= 0:
        return
    for _, path in list_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)
