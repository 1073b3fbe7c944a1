"""Compare tasks in a process of their own: `python -m mathtrain.compare.worker TASKS.json` (a list, run in order).

train: `mathtrain.train.train` with the TOML's [run].seed replaced and --max-steps = the compare's budget.
eval:  greedy generation (infer.generate_batch) for every eval prompt with a run (its newest LoRA checkpoint)
       or with the base model (the TOML's [model] weights, no adapter); writes {"id", "prediction", "new_ids"}.
Each task's result file is written last and atomically: its presence means the task finished. One process runs
them all (MindSpore starts once); the parent follows progress through the files.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path


def run_train(task: dict) -> dict:
    from ..config import load_config
    from ..train import train

    cfg = load_config(task["config"]).with_overrides("run", seed=int(task["seed"]))
    result = train(cfg, task["build"], task["run_dir"], max_steps=int(task["steps"]))
    return asdict(result)


def _base_network(cfg, seq_length: int):
    from .. import infer
    from ..config import load_model_config
    from ..mindformers_yaml import model_config
    from ..model import load_weights
    from ..runtime import set_context
    from mathdata.errors import MathDataError

    set_context("cpu", mode="graph", seed=cfg.run.seed)
    mc = model_config(cfg, load_model_config(cfg), for_training=False)
    mc["seq_length"] = int(seq_length)
    network = infer._builder()(mc, lora=False)
    if not cfg.model.checkpoint:
        raise MathDataError(f"{cfg.source}: [model].checkpoint is empty", "the base model needs weights")
    missing = load_weights(network, cfg.model.checkpoint)
    if missing:
        raise MathDataError(f"{cfg.model.checkpoint}: lacks {missing[:3]}...", "check [model].checkpoint")
    network.set_train(False)
    infer.patch_cpu_generation(network)
    infer.set_dynamic_forward(network)
    return network


def run_eval(task: dict) -> dict:
    import time

    from .. import infer
    from ..config import load_config
    from ..tokenizer import tokenizer_from_config

    prompts, ids = task["prompts"], task["ids"]
    max_new = int(task["max_new_tokens"])
    if task.get("run_dir"):
        info = infer.read_run(task["run_dir"])
        tokenizer = tokenizer_from_config(info.data["config"]["tokenizer"])
    else:
        cfg = load_config(task["config"])
        tokenizer = tokenizer_from_config(cfg.tokenizer)
    longest = max(len(tokenizer.encode(p)) for p in prompts)
    seq_length = longest + max_new + 1
    start = time.perf_counter()
    if task.get("run_dir"):
        network, tokenizer, _, _ = infer.load_for_inference(task["run_dir"], seq_length=seq_length, mode="graph")
    else:
        network = _base_network(cfg, seq_length)
    loaded = time.perf_counter()
    out_path = Path(task["predictions"])
    partial = out_path.with_name(out_path.name + ".partial")
    done = {}
    with open(partial, "w", encoding="utf-8") as fh:
        def on_done(indices, gens):
            for i, g in zip(indices, gens):
                done[i] = g
                fh.write(json.dumps({"id": ids[i], "prediction": g.text, "new_ids": g.new_ids}, ensure_ascii=False)
                         + "\n")
            fh.flush()

        infer.generate_batch(network, tokenizer, prompts, max_new, batch_size=task.get("batch_size"), on_done=on_done)
    rows = [{"id": ids[i], "prediction": done[i].text, "new_ids": [int(t) for t in done[i].new_ids]}
            for i in range(len(prompts))]
    from mathdata.io import write_jsonl

    write_jsonl(out_path, rows)
    partial.unlink()
    end = time.perf_counter()
    new_tokens = sum(len(r["new_ids"]) for r in rows)
    return {"eval_key": task.get("eval_key"), "predictions": str(out_path), "load_s": round(loaded - start, 1), "generate_s": round(end - loaded, 1),
            "new_tokens": new_tokens, "seq_length": seq_length}


def main() -> None:
    import gc

    from mathdata.errors import MathDataError
    from mathdata.io import write_json

    tasks = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for task in tasks:
        print(f"== {task['kind']} {task['result']}", flush=True)
        try:
            result = run_train(task) if task["kind"] == "train" else run_eval(task)
        except MathDataError as err:
            print(f"mathtrain compare: error: {err}", file=sys.stderr)
            sys.exit(err.exit_code)
        write_json(task["result"], result)
        gc.collect()


if __name__ == "__main__":
    main()
