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

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    data: dict  # run.json

    @property
    def model_config(self) -> dict:
        return self.data["model_config"]

    @property
    def prompt(self) -> PromptSpec:
        return PromptSpec.from_dict(self.data["prompt"], where=str(self.run_dir / RUN_FILE))

    @property
    def base_checkpoint(self) -> Path:
        return Path(self.data["base_checkpoint"])

    @property
    def prefix(self) -> str:
        return self.data["checkpoint_prefix"]


def read_run(run_dir: Path | str) -> RunInfo:
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    if not run_dir.is_dir():
        raise MathDataError(f"{run_dir}: no such run directory", "pass the --out directory of `mathtrain run`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MathDataError(f"{run_dir}: not a mathtrain run directory (no {RUN_FILE})",
                            "pass the --out directory of a `mathtrain run`") from None
    except json.JSONDecodeError as err:
        raise MathDataError(f"{path}: not valid JSON ({err})", "the run directory is damaged; rerun training") from None
    if not isinstance(data, dict) or "prompt" not in data:
        raise MathDataError(f"{path}: no prompt recorded", "retrain with a current `mathtrain run`")
    return RunInfo(run_dir, data)


def checkpoints(run_dir: Path | str) -> list[tuple[int, Path]]:
    """(step, path) of the run's LoRA checkpoints, oldest first."""
    from .train import list_checkpoints

    return list_checkpoints(Path(run_dir))


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
        network = build_network(model_cfg, lora=True)
        load_weights(network, info.base_checkpoint)
        missing = load_weights(network, checkpoint)
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
    files = sorted((run_dir / "merged").glob("*.ckpt"))
    if not files:
        raise MathDataError(f"{run_dir}: no merged checkpoints", "run `mathtrain merge --run RUN_DIR` first")
    from .merge import merged_step

    return max(files, key=merged_step)


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
