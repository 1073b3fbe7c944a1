"""MindFormers LlamaForCausalLM + mindformers.pet LoRA: building, exact parameter counts, checkpoints.

`analytic_param_count` counts parameters from a LlamaConfig-style dict alone (no weights), mirroring the
layers MindFormers builds (tests cross-check it against an instantiated tiny model); that is how the
Llama3-8B ratio (3,407,872 / 8,030,261,248) is computed on a laptop.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError

# MindFormers' Llama layer names (the LoRA regex is matched against these local cell names).
ATTENTION = ("wq", "wk", "wv", "wo")
FEED_FORWARD = ("w1", "w2", "w3")


@dataclass(frozen=True)
class ParamCount:
    trainable: int  # LoRA parameters
    total: int  # the base model's parameters (the contest's denominator)

    @property
    def ratio(self) -> float:
        return self.trainable / self.total

    def describe(self) -> str:
        return (f"trainable {self.trainable:,} / total {self.total:,} = {self.ratio:.6%} "
                f"(1 - ratio = {1 - self.ratio:.8f})")


def ffn_size(arch: dict) -> int:
    """LlamaFeedForward's hidden size: intermediate_size if given, else Llama's multiple_of rule."""
    if arch.get("intermediate_size"):
        return int(arch["intermediate_size"])
    hidden = int(2 * (4 * arch["hidden_size"]) / 3)
    if arch.get("ffn_dim_multiplier"):
        hidden = int(arch["ffn_dim_multiplier"] * hidden)
    multiple = arch.get("multiple_of", 256)
    return multiple * ((hidden + multiple - 1) // multiple)


def linear_shapes(arch: dict) -> dict[str, tuple[int, int]]:
    """(in, out) of every Linear in one decoder layer, by MindFormers' local name."""
    h = arch["hidden_size"]
    heads = arch["num_heads"]
    kv = (arch.get("n_kv_heads") or heads) * (h // heads)
    f = ffn_size(arch)
    return {"wq": (h, h), "wk": (h, kv), "wv": (h, kv), "wo": (h, h), "w1": (h, f), "w2": (f, h), "w3": (h, f)}


def analytic_param_count(arch: dict, lora_rank: int, target_modules: str) -> ParamCount:
    if arch.get("qkv_concat"):
        raise MathDataError("qkv_concat models are not supported by the analytic count", "set qkv_concat: false")
    h, vocab, layers = arch["hidden_size"], arch["vocab_size"], arch["num_layers"]
    shapes = linear_shapes(arch)
    per_layer = sum(i * o for i, o in shapes.values()) + 2 * h  # + attention_norm, ffn_norm
    if arch.get("qkv_has_bias"):
        per_layer += shapes["wq"][1] + shapes["wk"][1] + shapes["wv"][1]
    if arch.get("attn_proj_has_bias"):
        per_layer += h
    embeddings = vocab * h * (1 if arch.get("tie_word_embeddings") else 2)
    total = layers * per_layer + embeddings + h  # + norm_out
    pattern = re.compile(target_modules)
    lora = sum(lora_rank * (i + o) for name, (i, o) in shapes.items() if pattern.match(name))
    return ParamCount(trainable=layers * lora, total=total)


def count_params(network) -> ParamCount:
    """Exact counts of an instantiated (LoRA-wrapped) network."""
    trainable = sum(int(p.size) for p in network.trainable_params())
    everything = sum(int(p.size) for p in network.get_parameters())
    return ParamCount(trainable=trainable, total=everything - trainable)


def llama_config(model_cfg: dict):
    from mindformers import LlamaConfig

    kwargs = {k: v for k, v in model_cfg.items() if k not in ("type", "pet_config")}
    return LlamaConfig(**kwargs)


def build_network(model_cfg: dict, lora: bool = True):
    """LlamaForCausalLM from the YAML's `model.model_config`, LoRA-wrapped through mindformers.pet."""
    from mindformers import LlamaForCausalLM
    from mindformers.pet import LoraConfig, get_pet_model

    base = LlamaForCausalLM(llama_config(model_cfg))
    if not lora:
        return base
    pet = model_cfg["pet_config"]
    return get_pet_model(base, LoraConfig(lora_rank=pet["lora_rank"], lora_alpha=pet["lora_alpha"],
                                          lora_dropout=pet["lora_dropout"], target_modules=pet["target_modules"]))


def is_lora_param(name: str) -> bool:
    return "mindpet_delta_lora" in name


def load_weights(network, ckpt: str | Path) -> list[str]:
    """Load a .ckpt into the network; returns the network parameters the file did not provide."""
    import mindspore as ms

    path = Path(ckpt)
    if not path.is_file():
        raise MathDataError(f"{path}: no such checkpoint", "check the run directory / [model].checkpoint")
    params = ms.load_checkpoint(str(path))
    not_loaded, _ = ms.load_param_into_net(network, params, strict_load=False)
    return list(not_loaded)


def save_params(items: list[tuple[str, object]], path: Path) -> None:
    """Atomic MindSpore checkpoint write of (name, Parameter|Tensor|ndarray) pairs (rundir.save_checkpoint)."""
    import mindspore as ms
    import numpy as np

    from .rundir import save_checkpoint

    data = [{"name": name, "data": ms.Tensor(value) if isinstance(value, np.ndarray) else value}
            for name, value in items]
    save_checkpoint(Path(path), lambda tmp: ms.save_checkpoint(data, tmp))


def lora_scale(pet_cfg: dict) -> float:
    return float(pet_cfg["lora_alpha"]) / float(pet_cfg["lora_rank"])
