"""Benchmark: tokens/s of `mathtrain run` (both runners: the default `loop` and `[run].runner = "trainer"`,
MindFormers' Trainer) against a bare loop over the same training step (MindFormers' MFTrainOneStepCell built
from the run's YAML, as `mathtrain run` builds it), same tiny model (fixtures/tiny), same LoRA, optimizer,
LR schedule and MindRecord data, all on CPU; also a bare loop over MindSpore's plain TrainOneStepCell (no
clipping), to show what the production step itself costs.

    .venv/bin/python bench/bench_train.py [--steps 200] [--repeats 3] [--json bench/results_train.json]

Each measurement is a fresh process. `mathtrain run` is timed as shipped: its own steady-state figure
(wall clock after the compiling first step; batch slicing, metrics/log lines every step and checkpoint
saves every 8 steps included). The bare loop runs the same model and step cell for the same steps, reading
the loss each step and doing nothing else; it is timed the same way (first step excluded). tokens = batch x seq.
The trainer runner is `mathtrain run` with `runner = "trainer"` (same TOML otherwise): MindFormers'
`Trainer(...).finetune()` in-process, its own dataset pipeline (MindDataset, shuffled by MindFormers, so
its batch order and losses differ), MFTrainOneStepCell (gradient clipping at norm 1), CheckpointMonitor
(every 8 steps, full + trainable-only files) and MFLossMonitor; its figure is the mathtrain callback's
wall clock after the first step, as for the loop.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "fixtures" / "tiny" / "train.toml"

BARE_LOOP = r"""
import json, sys, time
import numpy as np
import yaml
run_dir, steps, step_kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from mathtrain.runtime import use_output_dir, set_context
use_output_dir(run_dir + "/bare-mf")
info = json.load(open(run_dir + "/run.json"))
doc = yaml.safe_load(open(run_dir + "/mindformers.yaml"))
cfg = info["config"]
set_context("cpu", cfg["run"]["mode"], cfg["run"]["seed"])
import mindspore as ms
from mindspore import Tensor, nn
from mathtrain.model import build_network, load_weights
from mathtrain.records import load_records
from mathtrain.train import batch_indices, build_step
net = build_network(info["model_config"], lora=True)
load_weights(net, info["base_checkpoint"])
cell, opt = build_step(net, doc, steps)  # the same optimizer, schedule and MFTrainOneStepCell as mathtrain run
if step_kind == "plain":  # MindSpore's TrainOneStepCell: no clipping, no loss-scale/overflow logic
    cell = nn.TrainOneStepCell(net, opt)
cell.set_train(True)
ids, labels = load_records(info["records"]["path"])
batch, per_epoch, seed = cfg["train"]["batch_size"], info["steps_per_epoch"], cfg["run"]["seed"]
batches = [batch_indices(seed, len(ids), per_epoch, batch, s) for s in range(steps)]
losses = []
for s in range(steps):
    out = cell(Tensor(ids[batches[s]]), Tensor(labels[batches[s]]))
    losses.append(float((out[0] if isinstance(out, tuple) else out).asnumpy()))
    if s == 0:
        t0 = time.perf_counter()
elapsed = time.perf_counter() - t0
print(json.dumps({"tokens_per_s": batch * cfg["train"]["seq_length"] * (steps - 1) / elapsed,
                  "first_loss": losses[0], "last_loss": losses[-1]}))
"""


def write_data(path: Path, n: int, seed: int = 0) -> Path:
    rnd = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        a, b = Decimal(rnd.randint(100, 99999)) / 100, Decimal(rnd.randint(100, 99999)) / 100
        op = "+-"[i % 2]
        value = a + b if op == "+" else a - b
        lines.append(json.dumps({"id": f"b{i}", "category": "add", "problem": f"计算 {a} {op} {b} 等于多少？",
                                 "solution": f"{a} {op} {b} = {value}"}, ensure_ascii=False))
    (path / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (path / "manifest.json").write_text(json.dumps({"prompt": {"name": "plain", "human": "{problem}",
                                                               "chat": "vicuna_v1.1"}, "seed": seed, "outputs": {}}))
    return path


def trainer_toml(folder: Path) -> Path:
    """fixtures/tiny/train.toml with `runner = "trainer"` (and its relative paths made absolute)."""
    text = TINY.read_text(encoding="utf-8")
    text = text.replace('seed = 7\n', 'seed = 7\nrunner = "trainer"\n', 1)
    text = text.replace('config = "model.yaml"', f'config = "{TINY.parent / "model.yaml"}"', 1)
    text = text.replace('path = "tokenizer.model"', f'path = "{TINY.parent / "tokenizer.model"}"', 1)
    assert 'runner = "trainer"' in text and str(TINY.parent) in text
    path = folder / "trainer.toml"
    path.write_text(text, encoding="utf-8")
    return path


def mathtrain_run(data: Path, out: Path, steps: int, config: Path = TINY) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    result = out.parent / (out.name + ".json")
    cmd = [sys.executable, "-c", "from mathtrain.cli import main; main()", "run", "--config", str(config),
           "--data", str(data), "--out", str(out), "--max-steps", str(steps), "--quiet", "--json", str(result)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(result.read_text())


def bare_loop(run_dir: Path, steps: int, step_kind: str = "mf") -> dict:
    proc = subprocess.run([sys.executable, "-c", BARE_LOOP, str(run_dir), str(steps), step_kind], check=True,
                          capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        tmp = Path(tmp)
        data = write_data(tmp / "data", args.samples)
        toml = trainer_toml(tmp)
        ours, bare, trainer, plain = [], [], [], []
        for r in range(args.repeats):  # alternate, so machine-load drift hits all alike
            res = mathtrain_run(data, tmp / "run", args.steps)
            ours.append(res["tokens_per_s"])
            b = bare_loop(tmp / "run", args.steps)
            bare.append(b["tokens_per_s"])
            plain.append(bare_loop(tmp / "run", args.steps, "plain")["tokens_per_s"])
            t = mathtrain_run(data, tmp / "run-trainer", args.steps, config=toml)
            trainer.append(t["tokens_per_s"])
            print(f"repeat {r + 1}: mathtrain run {ours[-1]:,.0f} tok/s (loss {res['first_loss']:.3f} -> "
                  f"{res['last_loss']:.3f}); bare MFTrainOneStepCell loop {bare[-1]:,.0f} tok/s "
                  f"(loss {b['first_loss']:.3f} -> {b['last_loss']:.3f}); runner trainer {trainer[-1]:,.0f} tok/s "
                  f"(loss {t['first_loss']:.3f} -> {t['last_loss']:.3f}); bare plain TrainOneStepCell {plain[-1]:,.0f} tok/s",
                  flush=True)
    figures = {
        "steps": args.steps, "repeats": args.repeats, "samples": args.samples,
        "batch_x_seq": "8 x 96", "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
        "mathtrain_tokens_per_s": statistics.median(ours), "bare_tokens_per_s": statistics.median(bare),
        "ratio": statistics.median(ours) / statistics.median(bare),
        "best_ratio": max(ours) / max(bare),
        "mathtrain_all": ours, "bare_all": bare,
        "trainer_tokens_per_s": statistics.median(trainer),
        "trainer_ratio": statistics.median(trainer) / statistics.median(bare),
        "trainer_vs_loop": statistics.median(trainer) / statistics.median(ours),
        "trainer_best_ratio": max(trainer) / max(bare),
        "trainer_all": trainer,
        "plain_trainonestep_tokens_per_s": statistics.median(plain),
        "plain_all": plain,
        "clip_wrapper_cost": 1 - statistics.median(bare) / statistics.median(plain),
        "note": "bare = a loop over the same MFTrainOneStepCell (clip at norm 1, scale_sense 1.0) mathtrain "
                "run builds; plain = MindSpore's TrainOneStepCell (no clipping); machine shared with other jobs",
    }
    print(f"median: mathtrain run {figures['mathtrain_tokens_per_s']:,.0f} tok/s, bare loop "
          f"{figures['bare_tokens_per_s']:,.0f} tok/s, ratio {figures['ratio']:.3f} (target >= 0.9); "
          f"best-of ratio {figures['best_ratio']:.3f}; runner trainer {figures['trainer_tokens_per_s']:,.0f} tok/s, "
          f"ratio to bare {figures['trainer_ratio']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
