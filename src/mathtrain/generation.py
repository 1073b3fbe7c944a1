"""Greedy text for one prompt (`mathtrain generate`): from an imported model (MODEL_DIR, the prompt as is
or as a chatml user turn) or from a trained run (RUN_DIR: its base model and newest LoRA checkpoint, the
prompt wrapped in the run's training prompt unless `raw`). Generation stops at the model's EOS id."""
from __future__ import annotations

from pathlib import Path

from mathdata.errors import MathDataError

CHATML = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def model_tokenizer(model_dir: Path):
    """The imported model's own tokenizer (tokenizer.json + tokenizer_config.json's specials)."""
    from .tokenizer import load_tokenizer

    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise MathDataError(f"{model_dir}: no tokenizer.json", "pass the --out folder of `mathtrain import`")
    return load_tokenizer("hf", str(path))


def without_leading_bos(tokenizer, text: str) -> str:
    """The tokenizer puts BOS first itself (as training records do): a prompt that spells BOS out at its
    start (chatml's `<|im_start|>` is SmolLM2's BOS) must not get it twice."""
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos) and tokenizer.encode("x")[:1] == [tokenizer.bos_token_id]:
        return text[len(bos):]
    return text


def check_source(model: Path | None, run_dir: Path | None, chat: bool, raw: bool) -> None:
    """Exactly one of `model` and `run_dir`; `chat` goes with a model, `raw` with a run."""
    if (model is None) == (run_dir is None):
        raise MathDataError("pass exactly one of --model MODEL_DIR or --run RUN_DIR",
                            "e.g. mathtrain generate --model models/smollm2-135m --chat --prompt '2+3=?'")
    if chat and run_dir is not None:
        raise MathDataError("--chat is for --model", "a run wraps prompts in its own training prompt")
    if raw and model is not None:
        raise MathDataError("--raw is for --run", "with --model the prompt is used as is (or --chat)")


def generate_one(prompt: str, *, model: Path | None = None, run_dir: Path | None = None, max_new_tokens: int = 64,
                 chat: bool = False, raw: bool = False) -> dict:
    """{input_ids, new_ids, text} of one greedy generation (see the module docstring)."""
    from . import infer
    from .runtime import set_context, use_output_dir

    check_source(model, run_dir, chat, raw)
    if model is not None:
        from .importer.check import load_model_dir
        from .importer.layout import logs_dir, read_model_yaml

        read_model_yaml(model)  # a clear error before MindSpore starts
        use_output_dir(logs_dir(model))
        set_context("cpu", mode="graph", seed=0)
        tokenizer = model_tokenizer(model)
        text = without_leading_bos(tokenizer, CHATML.format(prompt=prompt) if chat else prompt)
        n = len(tokenizer.encode(text))
        network = load_model_dir(model, seq_length=n + max_new_tokens, mode="graph")
    else:
        info = infer.read_run(run_dir)
        train_seq = int(info.data["config"]["train"]["seq_length"])
        network, tokenizer, spec, _ = infer.load_for_inference(run_dir, seq_length=train_seq + max_new_tokens,
                                                               mode="graph")
        text = prompt if raw else spec.generation_prompt(prompt)
    gen = infer.generate_batch(network, tokenizer, [text], max_new_tokens)[0]
    if model is not None:
        from .importer.layout import remove_logs

        remove_logs(model)
    return {"input_ids": [int(i) for i in gen.input_ids], "new_ids": [int(i) for i in gen.new_ids], "text": gen.text}
