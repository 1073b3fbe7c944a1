"""An independent numpy forward pass of a Hugging Face-layout Llama, the yardstick for `mathtrain import`.

Written from the architecture's definition, not from MindFormers: token embedding -> per layer
[x + o_proj(attn(RMSNorm(x)))] -> [x + down(silu(gate(h)) * up(h)), h = RMSNorm(x)] -> RMSNorm -> tied or own
head. Attention is causal, grouped-query (each KV head serves num_heads / n_kv_heads query heads), RoPE in
Hugging Face's rotate-half form (dimension i pairs with i + head_dim/2; inverse frequency theta^(-2i/head_dim)).
`rope="interleaved"` rotates adjacent pairs (2i, 2i+1) instead: llama.cpp's form, which applied to the raw GGUF
Q/K rows must give the same logits as rotate-half on the un-permuted rows. Computes in float64.
"""
from __future__ import annotations

import numpy as np


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope_tables(seq: int, head_dim: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)  # [head_dim/2]
    angles = np.outer(np.arange(seq, dtype=np.float64), inv)  # [seq, head_dim/2]
    return np.cos(angles), np.sin(angles)


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, rope: str) -> np.ndarray:
    """x: [heads, seq, head_dim]."""
    if rope == "half":
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)
    if rope == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = b * cos + a * sin
        return out
    raise ValueError(rope)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def forward(weights: dict[str, np.ndarray], arch: dict, ids: list[int], rope: str = "half") -> np.ndarray:
    """Logits [seq, vocab] (float64) for one sequence of token ids."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    h, n_head = arch["hidden_size"], arch["num_heads"]
    n_kv = arch.get("n_kv_heads") or n_head
    d = h // n_head
    eps = arch["rms_norm_eps"]
    seq = len(ids)
    cos, sin = rope_tables(seq, d, arch["theta"])
    mask = np.triu(np.full((seq, seq), -np.inf), k=1)
    x = w["model.embed_tokens.weight"][np.asarray(ids)]  # [seq, h]
    for i in range(arch["num_layers"]):
        p = f"model.layers.{i}."
        y = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (y @ w[p + "self_attn.q_proj.weight"].T).reshape(seq, n_head, d).transpose(1, 0, 2)
        k = (y @ w[p + "self_attn.k_proj.weight"].T).reshape(seq, n_kv, d).transpose(1, 0, 2)
        v = (y @ w[p + "self_attn.v_proj.weight"].T).reshape(seq, n_kv, d).transpose(1, 0, 2)
        q, k = apply_rope(q, cos, sin, rope), apply_rope(k, cos, sin, rope)
        group = n_head // n_kv
        k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)  # query head j uses kv head j // group
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(d) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attn = (scores / scores.sum(axis=-1, keepdims=True)) @ v  # [heads, seq, d]
        x = x + attn.transpose(1, 0, 2).reshape(seq, h) @ w[p + "self_attn.o_proj.weight"].T
        y = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        ff = silu(y @ w[p + "mlp.gate_proj.weight"].T) * (y @ w[p + "mlp.up_proj.weight"].T)
        x = x + ff @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T
