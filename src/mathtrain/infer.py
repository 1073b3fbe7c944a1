"""Load a trained run for generation: the evaluation side's one entry point into training outputs.

    network, tokenizer, prompt, config = load_for_inference("runs/tiny")
    answers = generate(network, tokenizer, [prompt.generation_prompt("计算 1 + 2 等于多少？")], 32)

`prompt` is the PromptSpec recorded by `mathdata build` for the training data, so evaluation prompts are
exactly the training prompts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError
from mathdata.prompts import PromptSpec

# run.json and the checkpoint layouts belong to rundir; re-exported for callers of the old names
from .rundir import RUN_FILE, RunInfo, read_run  # noqa: E402,F401


def checkpoints(run_dir: Path | str) -> list[tuple[int, Path]]:
    """(step, path) of the run's LoRA checkpoints, oldest first (either runner's layout)."""
    from .rundir import lora_checkpoints

    return lora_checkpoints(Path(run_dir))


def load_for_inference(run_dir: Path | str, checkpoint: str | Path | None = None, merged: bool = False,
                       seq_length: int | None = None):
    """-> (network, tokenizer, prompt_spec, config_dict), network in eval mode, ready for `generate`.

    checkpoint: a LoRA step checkpoint (default: the newest) or, with merged=True, a merged checkpoint
    (default: the newest file under RUN_DIR/merged/). seq_length: the model's maximum length for
    generation (prompt + new tokens); default the training seq_length.
    """
    from .runtime import set_context, use_output_dir

    info = read_run(run_dir)
    use_output_dir(info.run_dir / "mindformers")
    set_context("cpu" if info.data["config"]["run"]["device"] == "cpu" else "ascend",
                mode="pynative", seed=info.data["config"]["run"]["seed"])
    from .model import build_network, load_weights
    from .tokenizer import load_tokenizer

    model_cfg = dict(info.model_config)
    if seq_length:
        model_cfg["seq_length"] = int(seq_length)
    if merged:
        path = Path(checkpoint) if checkpoint else _newest_merged(info.run_dir)
        network = build_network(model_cfg, lora=False)
        missing = load_weights(network, path)
    else:
        if checkpoint is None:
            found = checkpoints(info.run_dir)
            if not found:
                raise MathDataError(f"{info.run_dir}: no LoRA checkpoints yet", "train first with `mathtrain run`")
            checkpoint = found[-1][1]
        import mindspore as ms

        from .rundir import load_full_params

        network = build_network(model_cfg, lora=True)
        load_weights(network, info.base_checkpoint)
        # per-rank shards of a model-parallel run are unsharded with the run's strategy files first
        missing, _ = ms.load_param_into_net(network, load_full_params(info.run_dir, checkpoint), strict_load=False)
        missing = [m for m in missing if "mindpet_delta_lora" in m]
    if missing:
        raise MathDataError(f"{checkpoint}: lacks weights for {missing[:3]}...",
                            "pass a checkpoint written by this run (or use --merged for merged files)")
    network.set_train(False)
    if info.data["config"]["run"]["device"] == "cpu":
        patch_cpu_generation(network)
    tok_cfg = info.data["config"]["tokenizer"]
    tokenizer = load_tokenizer(tok_cfg["type"], tok_cfg["path"])
    return network, tokenizer, info.prompt, info.data


def _newest_merged(run_dir: Path) -> Path:
    from .rundir import newest

    path = newest(run_dir, "merged")
    if path is None:
        raise MathDataError(f"{run_dir}: no merged checkpoints", "run `mathtrain merge --run RUN_DIR` first")
    return path


def patch_cpu_generation(network) -> None:
    """CPU only: MindFormers' greedy search calls `mint.argmax` (ArgMaxExt), which has no CPU kernel;
    use numpy's argmax for that one step instead."""
    import mindspore as ms
    import numpy as np

    def argmax(logits, axis=-1):
        values = logits.asnumpy() if isinstance(logits, ms.Tensor) else np.asarray(logits)
        return ms.Tensor(np.argmax(values, axis=axis).astype(np.int32))

    network.argmax = argmax


def generate(network, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy completions (text after the prompt, special tokens removed), one prompt at a time."""
    outputs = []
    for prompt in prompts:
        ids = tokenizer.encode(prompt)
        out = network.generate([ids], max_new_tokens=max_new_tokens, do_sample=False, top_k=1, top_p=1.0,
                               repetition_penalty=1.0)
        new = list(out[0])[len(ids):]
        outputs.append(tokenizer.decode(new, skip_special_tokens=True).strip())
    return outputs
