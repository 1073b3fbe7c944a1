"""Prove an imported model folder: MindFormers' LlamaForCausalLM on model.ckpt vs the numpy reference.

The reference runs on the importer's float32 arrays under Hugging Face names (before MindFormers' renaming);
the MindFormers side reads model.yaml + model.ckpt back from disk, so the comparison covers the renaming, the
checkpoint write and MindFormers' own RoPE / GQA / RMSNorm / tied head.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# A chatml prompt like the ones SmolLM2-Instruct was tuned on.
CHECK_PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


def build_for_inference(arch: dict, seq_length: int):
    """LlamaForCausalLM for CPU inference (float32, MindFormers' CPU workarounds), no weights loaded yet."""
    from ..mindformers_yaml import CPU_MODEL_OVERRIDES
    from ..model import build_network

    cfg = {**arch, **CPU_MODEL_OVERRIDES, "seq_length": int(seq_length), "batch_size": 1, "use_past": False,
           "checkpoint_name_or_path": "", "do_sample": False, "repetition_penalty": 1.0}
    return build_network(cfg, lora=False)


def load_model_dir(model_dir: Path | str, seq_length: int, mode: str = "generate"):
    """-> network (eval mode, CPU argmax patch applied) with MODEL_DIR/model.ckpt loaded; every parameter must load.

    mode "generate": inputs of exactly seq_length (MindFormers' forward and `generate`); "graph" / "pynative":
    built the way infer.generate_batch wants it (the MindSpore context must already be in that mode; graph:
    one compiled graph for every batch x length)."""
    from mathdata.errors import MathDataError

    from .. import infer
    from ..model import load_weights
    from .layout import read_model_yaml

    model_dir = Path(model_dir)
    arch = read_model_yaml(model_dir)
    if mode == "generate":  # fixed seq_length: MindFormers' own forward / generate
        network = build_for_inference(arch, seq_length)
    else:  # "graph" / "pynative": the causal mask follows the input's length (infer.generate_batch)
        from ..mindformers_yaml import CPU_MODEL_OVERRIDES

        cfg = {**arch, **CPU_MODEL_OVERRIDES, "seq_length": int(seq_length), "batch_size": 1, "use_past": False,
               "checkpoint_name_or_path": "", "do_sample": False, "repetition_penalty": 1.0}
        network = infer._builder()(cfg, lora=False)
    missing = load_weights(network, model_dir / "model.ckpt")
    if missing:
        raise MathDataError(f"{model_dir / 'model.ckpt'}: lacks {len(missing)} weights ({missing[:3]}...)",
                            "re-import the model with `mathtrain import`")
    network.set_train(False)
    infer.patch_cpu_generation(network)
    if mode == "graph":
        infer.set_dynamic_forward(network)
    return network


def mindformers_logits(network, ids: list[int]) -> np.ndarray:
    """Logits [seq, vocab] from MindFormers' forward (seq_length must equal len(ids))."""
    import mindspore as ms

    out = network(ms.Tensor(np.asarray([ids], dtype=np.int32)))
    logits = out[0] if isinstance(out, tuple) else out
    return logits.asnumpy().reshape(len(ids), -1)


def compare_logits(model_dir: Path | str, weights: dict, arch: dict, ids: list[int]) -> dict:
    """Max abs diff of the last-position logits (and all positions), and both top-5s."""
    from ..runtime import set_context
    from .reference import forward

    set_context("cpu", mode="pynative", seed=0)
    network = load_model_dir(model_dir, seq_length=len(ids))
    ms_logits = mindformers_logits(network, ids).astype(np.float64)
    ref = forward(weights, arch, ids)
    last_ms, last_ref = ms_logits[-1], ref[-1]
    return {
        "prompt_ids": list(map(int, ids)),
        "max_abs_diff_last": float(np.max(np.abs(last_ms - last_ref))),
        "max_abs_diff_all": float(np.max(np.abs(ms_logits - ref))),
        "logit_range_last": [float(last_ref.min()), float(last_ref.max())],
        "top5_reference": [int(i) for i in np.argsort(-last_ref)[:5]],
        "top5_mindformers": [int(i) for i in np.argsort(-last_ms)[:5]],
    }
