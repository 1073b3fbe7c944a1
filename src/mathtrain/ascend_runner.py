"""MindFormers' Trainer fine-tunes from the YAML mathtrain wrote: one msrun worker on Ascend, or in-process
on CPU (`[run].runner = "trainer"`).

    msrun --worker_num=4 --local_worker_num=4 ... ascend_runner.py --config RUN/mindformers.yaml --run-dir RUN

This is the role MindFormers' `run_mindformer.py` plays (that script lives in the MindFormers git repo,
not in the wheel). `run_trainer` is the one Trainer call both paths share. Rank 0 also appends
{"step", "epoch", "loss", "lr", "tokens_per_s", "elapsed_s"} lines to RUN/metrics.jsonl.
MindFormers' `CheckpointMonitor` saves under RUN/checkpoints/checkpoint/rank_<r>/ (the whole train
network: base + LoRA weights + AdamW state) and RUN/checkpoints/checkpoint_trainable/rank_<r>/ (LoRA
weights only); the names are described in `mathtrain.rundir`, which owns the layout.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Callable


def _rank() -> int:
    return int(os.environ.get("RANK_ID", os.environ.get("MS_NODE_ID", "0")) or 0)


def metrics_callback(run_dir: str, tokens_per_step: int, lr_schedule=None, stop_step: int = 0,
                     on_step: Callable[[dict], None] | None = None, initial_step: Callable[[], int] | None = None):
    """A MindSpore callback: a metrics.jsonl line per step (rank 0) numbered by the global step, the
    network's exact trainable-parameter count at train begin, steady tokens/s (after the first, compiling
    step), a stop once the global step reaches `stop_step` (0 = run the YAML's epochs), and
    checkpoints/steps.json entries for the files MindFormers' CheckpointMonitor writes.

    After a resume MindSpore's `cur_step_num` starts at 1 again; MindFormers keeps the resumed step in
    `runner_config.initial_step` (read through `initial_step()` at train begin), so global step =
    initial_step + cur_step_num, as MindFormers' own MFLossMonitor counts. (CheckpointMonitor runs before
    this callback each step -- MindFormers sorts it ahead of user callbacks -- so a file saved at this
    step is already on disk when it is indexed.)"""
    from mindspore.train import Callback

    from . import rundir

    class Metrics(Callback):
        def __init__(self):
            super().__init__()
            self.path = os.path.join(run_dir, "metrics.jsonl")
            self.t = self.t0 = time.perf_counter()
            self.t_steady = None
            self.steps = 0
            self.initial_step = 0
            self.first_loss = self.last_loss = float("nan")
            self.trainable_params = None
            self.seen = set()

        def on_train_begin(self, run_context):
            cb = run_context.original_args()
            net = getattr(cb.train_network, "network", None) or cb.network
            self.trainable_params = sum(int(p.size) for p in net.trainable_params())
            self.initial_step = int(initial_step() or 0) if initial_step is not None else 0
            self.seen = {p.name for p in rundir.mf_rank_dir(run_dir, _rank()).glob("*")}
            self.t = self.t0 = time.perf_counter()

        def _index_new_files(self, step: int) -> None:
            folder = rundir.mf_rank_dir(run_dir, _rank())
            new = [p.name for p in folder.glob("*.ckpt") if p.name not in self.seen] if folder.is_dir() else []
            if new:
                self.seen.update(new)
                rundir.record_steps(run_dir, {rundir._index_key(name): step for name in new})

        def on_train_step_end(self, run_context):
            cb = run_context.original_args()
            step = self.initial_step + int(cb.cur_step_num)
            if stop_step and step >= stop_step:
                run_context.request_stop()
            if _rank() != 0:
                return
            self._index_new_files(step)
            out = cb.net_outputs
            loss = float((out[0] if isinstance(out, (tuple, list)) else out).asnumpy())
            now = time.perf_counter()
            rec = {"step": step, "epoch": int(getattr(cb, "cur_epoch_num", 0) or 0), "loss": loss, "lr": None,
                   "tokens_per_s": tokens_per_step / max(now - self.t, 1e-9), "elapsed_s": now - self.t0}
            if isinstance(out, (tuple, list)) and len(out) >= 4:
                # MFTrainOneStepCell returns (loss, overflow, scaling_sens, learning_rate, global_norm): the
                # rate the step used, computed in the graph. Asking the schedule cell costs ~10 ms a step.
                rec["lr"] = float(out[3].asnumpy().reshape(-1)[0])
                if len(out) >= 5 and out[4] is not None:
                    rec["global_norm"] = float(out[4].asnumpy().reshape(-1)[0])
            elif lr_schedule is not None:
                import mindspore as ms
                import numpy as np
                rec["lr"] = float(lr_schedule(ms.Tensor(np.array([step - 1], np.int32))).asnumpy().reshape(-1)[0])
            self.t = now
            if self.steps == 0:
                self.first_loss, self.t_steady = loss, time.perf_counter()
            self.steps += 1
            self.last_loss = loss
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
            if on_step is not None:
                on_step(rec)

        def on_train_end(self, run_context):
            if _rank() == 0:
                cb = run_context.original_args()
                self._index_new_files(self.initial_step + int(cb.cur_step_num))

        def steady_tokens_per_s(self) -> float:
            if self.t_steady is None or self.steps < 2:
                return 0.0
            return tokens_per_step * (self.steps - 1) / max(self.t - self.t_steady, 1e-9)

    return Metrics()


def _cpu_overflow_status(self, status, compute_output):
    """A real overflow check on CPU, as a bool Tensor (what `process_loss_scale` and the loss-scale update
    cells consume): True when any gradient holds inf/nan. (Compiled into the step graph, it may use only
    module globals, which `patch_cpu_overflow_status` fills in: importing this module needs no MindSpore.)"""
    flags = self.hyper_map(_NOT_FINITE, compute_output)
    return _ADD_N(flags) > 0


def _not_finite(grad):
    return _OPS.logical_not(_OPS.isfinite(grad)).any().astype(_FLOAT32)


_OPS = _ADD_N = _FLOAT32 = _NOT_FINITE = None


def patch_cpu_overflow_status() -> None:
    """CPU only: MindSpore's loss-scale cell (the base of MindFormers' `MFTrainOneStepCell`) asks an NPU
    float-status op whether the step overflowed; CPU has no such kernel. Replace it by an inf/nan test of
    the gradients that returns a bool Tensor, as the NPU path does -- so the production wrapper, static
    `scale_sense: 1.0` or `DynamicLossScaleUpdateCell`, runs on CPU unchanged."""
    global _OPS, _ADD_N, _FLOAT32, _NOT_FINITE
    from mindspore import ops
    from mindspore.common import dtype as mstype
    from mindspore.nn.wrap import loss_scale

    if _NOT_FINITE is None:
        _OPS, _ADD_N, _FLOAT32 = ops, ops.AddN(), mstype.float32
        _NOT_FINITE = ops.MultitypeFuncGraph("mathtrain_not_finite")
        _NOT_FINITE.register("Tensor")(_not_finite)
    loss_scale.TrainOneStepWithLossScaleCell.get_overflow_status = _cpu_overflow_status


def run_trainer(config_yaml: str | Path, run_dir: str | Path, on_cpu: bool,
                on_step: Callable[[dict], None] | None = None, stop_step: int | None = None) -> dict:
    """`Trainer(config).finetune()` on the mathtrain-written MindFormers YAML. MindFormers builds the model
    and its LoRA (`model.model_config.pet_config`), optimizer, LR schedule, dataset (the MindRecord under
    `train_dataset.data_loader.dataset_dir`) and CheckpointMonitor from the YAML; `load_checkpoint` gives
    the base weights, or with `resume_training` the checkpoints/checkpoint folder to resume from. Stops at
    global step `stop_step` (default: `lr_schedule.total_steps` when set, the plan's step count).
    On CPU the overflow-status op is patched first (see `patch_cpu_overflow_status`)."""
    run_dir = str(Path(run_dir).resolve())
    os.environ.setdefault("LOCAL_DEFAULT_PATH", os.path.join(run_dir, "mindformers"))
    if on_cpu:
        patch_cpu_overflow_status()

    from mindformers import MindFormerConfig, Trainer, build_context
    from mindformers.core.lr import CosineWithWarmUpLR

    from . import rundir

    config = MindFormerConfig(str(config_yaml))
    build_context(config)
    seq = config.model.model_config.seq_length
    batch = config.runner_config.batch_size * config.parallel_config.data_parallel
    sched = config.lr_schedule
    lr = CosineWithWarmUpLR(learning_rate=sched.learning_rate, lr_end=sched.lr_end,
                            warmup_ratio=sched.warmup_ratio, total_steps=sched.total_steps)
    if stop_step is None:
        stop_step = int(sched.total_steps) if sched.total_steps and int(sched.total_steps) > 0 else 0
    holder = {}

    def initial_step() -> int:  # MindFormers sets it on the trainer's config while resuming
        trainer_cfg = getattr(holder.get("trainer"), "config", None) or config
        return int(getattr(trainer_cfg.runner_config, "initial_step", 0) or 0)

    metrics = metrics_callback(run_dir, batch * seq, lr, stop_step=stop_step, on_step=on_step,
                               initial_step=initial_step)
    trainer = Trainer(args=config, task="text_generation", callbacks=[metrics])
    holder["trainer"] = trainer
    trainer.finetune(finetune_checkpoint=config.load_checkpoint or False,
                     resume_training=config.resume_training or False)
    files = rundir.mf_checkpoints(run_dir, _rank())
    return {"steps": metrics.steps, "initial_step": metrics.initial_step, "first_loss": metrics.first_loss,
            "last_loss": metrics.last_loss, "tokens_per_s": metrics.steady_tokens_per_s(),
            "trainable_params": metrics.trainable_params,
            "checkpoint_dir": str(rundir.mf_rank_dir(run_dir, _rank())), "checkpoints": [str(p) for _, p in files]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="the MindFormers YAML written by `mathtrain run`")
    parser.add_argument("--run-dir", required=True, help="the run directory (metrics.jsonl goes here)")
    args = parser.parse_args(argv)
    run_trainer(args.config, args.run_dir, on_cpu=False)


if __name__ == "__main__":
    # msrun runs this file as a script: call the package's copy of main() so its relative imports
    # (`from . import rundir`) resolve (mathtrain is installed in the interpreter launch.launch_env puts first)
    from mathtrain.ascend_runner import main as package_main

    package_main()
