"""One msrun worker: MindFormers' Trainer fine-tunes from the YAML mathtrain wrote (Ascend only).

    msrun --worker_num=4 --local_worker_num=4 ... ascend_runner.py --config RUN/mindformers.yaml --run-dir RUN

This is the role MindFormers' `run_mindformer.py` plays (that script lives in the MindFormers git repo,
not in the wheel). Rank 0 also appends {"step", "loss", "lr", "tokens_per_s"} lines to RUN/metrics.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import time


def metrics_callback(run_dir: str, tokens_per_step: int, lr_schedule=None):
    from mindspore.train import Callback

    class Metrics(Callback):
        def __init__(self):
            super().__init__()
            self.path = os.path.join(run_dir, "metrics.jsonl")
            self.t = time.perf_counter()

        def on_train_step_end(self, run_context):
            if int(os.environ.get("RANK_ID", os.environ.get("MS_NODE_ID", "0")) or 0) != 0:
                return
            cb = run_context.original_args()
            out = cb.net_outputs
            loss = out[0] if isinstance(out, (tuple, list)) else out
            now = time.perf_counter()
            step = int(cb.cur_step_num)
            rec = {"step": step, "loss": float(loss.asnumpy()), "lr": None,
                   "tokens_per_s": tokens_per_step / max(now - self.t, 1e-9)}
            if lr_schedule is not None:
                import mindspore as ms
                import numpy as np
                rec["lr"] = float(lr_schedule(ms.Tensor(np.array([step - 1], np.int32))).asnumpy().reshape(-1)[0])
            self.t = now
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")

    return Metrics()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="the MindFormers YAML written by `mathtrain run`")
    parser.add_argument("--run-dir", required=True, help="the run directory (metrics.jsonl goes here)")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_DEFAULT_PATH", os.path.join(args.run_dir, "mindformers"))

    from mindformers import MindFormerConfig, Trainer, build_context

    config = MindFormerConfig(args.config)
    build_context(config)
    seq = config.model.model_config.seq_length
    batch = config.runner_config.batch_size * config.parallel_config.data_parallel
    from mindformers.core.lr import CosineWithWarmUpLR

    sched = config.lr_schedule
    lr = CosineWithWarmUpLR(learning_rate=sched.learning_rate, lr_end=sched.lr_end,
                            warmup_ratio=sched.warmup_ratio, total_steps=sched.total_steps)
    trainer = Trainer(args=config, task="text_generation",
                      callbacks=[metrics_callback(args.run_dir, batch * seq, lr)])
    trainer.finetune(finetune_checkpoint=config.load_checkpoint or False,
                     resume_training=bool(config.resume_training))


if __name__ == "__main__":
    main()
