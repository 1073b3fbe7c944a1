"""`mathtrain import`: a pretrained Llama (GGUF file or Hugging Face safetensors folder) -> a MindFormers model folder.

    MODEL_DIR/model.yaml      MindFormers LlamaConfig keys (architecture + the tokenizer's special ids)
    MODEL_DIR/model.ckpt      MindSpore checkpoint of LlamaForCausalLM, float32, MindFormers parameter names
    MODEL_DIR/tokenizer.json  Hugging Face tokenizers file with the model's own vocabulary, merges and specials
    MODEL_DIR/import.json     source file(s) + sha256, quantization types, key map, logits check

Both sources go through one path: source -> float32 arrays under Hugging Face Llama names (the GGUF reader
dequantizes and undoes llama.cpp's Q/K RoPE row permutation) -> MindFormers names through MindFormers' own
`LlamaForCausalLM.convert_weight_dict` -> checkpoint. `reference.py` is an independent numpy forward pass used
to check the result (`check.py`).
"""
from __future__ import annotations

from pathlib import Path


STEPS = ("read + dequantize weights", "hash source files", "write MODEL_DIR (+ logits check)")


def import_model(out: Path | str, gguf: Path | str | None = None, hf: Path | str | None = None,
                 check: bool = True, steps=None) -> dict:
    """GGUF file or HF folder -> MODEL_DIR; returns import.json's content. check=True runs the logits check.
    steps: a mathdata.progress.Steps with the names in STEPS (progress display), or None."""
    import contextlib
    import json

    from mathdata.errors import MathDataError
    from mathdata.io import sha256_file

    from .model_dir import check_out_dir, write_model_dir

    def step(name):
        return steps.step(name) if steps is not None else contextlib.nullcontext()

    if (gguf is None) == (hf is None):
        raise MathDataError("pass exactly one of --gguf FILE or --hf DIR", "e.g. mathtrain import --gguf "
                            "models/SmolLM2-135M-Instruct.Q4_1.gguf --out models/smollm2-135m")
    out = Path(out)
    check_out_dir(out)
    with step(STEPS[0]):
        if gguf is not None:
            from .gguf_source import read_gguf

            model = read_gguf(gguf)
            files = [Path(gguf)]
        else:
            from .hf_source import read_hf_dir

            model, files = read_hf_dir(hf)
    with step(STEPS[1]):
        extra = {"sources": [{"path": str(Path(f).resolve()), "sha256": sha256_file(f), "bytes": Path(f).stat().st_size}
                           for f in files]}
    from ..runtime import default_output_dir

    default_output_dir()  # MindFormers' import-time logs go to a temp folder, not ./output
    import mindformers

    extra["mindformers_version"] = mindformers.__version__
    ids = None
    if check:
        from tokenizers import Tokenizer

        from .check import CHECK_PROMPT

        tok = Tokenizer.from_str(json.dumps(model.tokenizer_json))
        text = CHECK_PROMPT if tok.token_to_id("<|im_start|>") is not None else "The capital of France is"
        ids = tok.encode(text).ids
        extra["check_prompt"] = text
    with step(STEPS[2]):
        return write_model_dir(model, out, extra=extra, check_ids=ids)
