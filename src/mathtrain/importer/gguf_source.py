"""Read a llama-architecture GGUF file into float32 arrays under Hugging Face Llama names.

llama.cpp's converter (convert_hf_to_gguf.py, `LlamaModel.permute`) reorders the rows of q_proj / k_proj from
Hugging Face's rotate-half RoPE layout (the two halves of each head) to the interleaved layout (adjacent pairs)
that its own RoPE kernel uses: rows (head, 2, half, ...) -> (head, half, 2, ...). `unpermute_rope_rows` is the
inverse. Tensors are dequantized with the `gguf` package (Q4_1, Q8_0, F16, ... -> float32).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mathdata.errors import MathDataError

# GGUF tensor name (per layer part after "blk.N.") -> Hugging Face Llama name.
LAYER_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_down": "mlp.down_proj",
    "ffn_up": "mlp.up_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
GLOBAL_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


@dataclass
class SourceModel:
    """What either importer source yields: architecture, HF-named float32 weights, tokenizer, provenance."""

    arch: dict  # MindFormers LlamaConfig keys
    weights: dict[str, np.ndarray]  # Hugging Face Llama names, [out, in] like torch Linear
    tokenizer_json: dict  # a Hugging Face tokenizers document
    provenance: dict = field(default_factory=dict)  # for import.json


def hf_name(gguf_name: str) -> str:
    stem, _, kind = gguf_name.rpartition(".")  # kind: weight / bias
    if stem.startswith("blk."):
        _, layer, part = stem.split(".", 2)
        if part not in LAYER_NAMES:
            raise KeyError(gguf_name)
        return f"model.layers.{int(layer)}.{LAYER_NAMES[part]}.{kind}"
    if stem not in GLOBAL_NAMES:
        raise KeyError(gguf_name)
    return f"{GLOBAL_NAMES[stem]}.{kind}"


def unpermute_rope_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of llama.cpp's permute: interleaved-pair rows back to Hugging Face's half-split rows."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def permute_rope_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's permute (HF half-split rows -> interleaved pairs); used by the tests' round trip."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _field(reader, key: str, default=None, required: bool = True):
    f = reader.fields.get(key)
    if f is None:
        if required and default is None:
            raise MathDataError(f"{getattr(reader, 'mathtrain_path', 'GGUF')}: GGUF metadata has no {key!r}",
                                "this does not look like a llama.cpp llama-architecture GGUF")
        return default
    return f.contents()


def read_gguf(path: Path | str, raw: bool = False) -> SourceModel:
    """raw=True keeps Q/K in llama.cpp's row order (the tests use it to check the un-permutation)."""
    from gguf import GGUFReader, dequantize

    from .tokenizer_json import tokenizer_from_gguf

    path = Path(path)
    if not path.is_file():
        raise MathDataError(f"{path}: no such GGUF file", "pass --gguf pointing at a .gguf model "
                            "(scripts/fetch_smollm2.py fetches SmolLM2-135M-Instruct)")
    try:
        reader = GGUFReader(str(path))
    except Exception as err:  # gguf raises ValueError/struct.error/... on a file that is not GGUF
        raise MathDataError(f"{path}: not a readable GGUF file ({type(err).__name__}: {err})",
                            "pass a .gguf file written by llama.cpp") from None
    reader.mathtrain_path = path  # for messages
    arch_name = _field(reader, "general.architecture")
    if arch_name != "llama":
        raise MathDataError(f"{path}: architecture {arch_name!r} is not supported",
                            "only llama-architecture GGUF files can become a MindFormers LlamaForCausalLM")
    a = f"{arch_name}."
    n_head = int(_field(reader, a + "attention.head_count"))
    n_kv = int(_field(reader, a + "attention.head_count_kv", n_head))
    hidden = int(_field(reader, a + "embedding_length"))
    rope_dim = int(_field(reader, a + "rope.dimension_count", hidden // n_head))
    if rope_dim != hidden // n_head:
        raise MathDataError(f"{path}: partial RoPE (rope.dimension_count {rope_dim} != head dim {hidden // n_head})",
                            "MindFormers' Llama rotates the whole head; this model is not supported")
    if _field(reader, a + "rope.scaling.type", "none", required=False) not in ("none", "", None):
        raise MathDataError(f"{path}: RoPE scaling is not supported by this importer", "use an unscaled model")

    weights: dict[str, np.ndarray] = {}
    quant: dict[str, str] = {}
    key_map: dict[str, str] = {}
    for t in reader.tensors:
        try:
            name = hf_name(t.name)
        except (KeyError, ValueError):
            if t.name == "rope_freqs.weight":
                continue
            raise MathDataError(f"{path}: unexpected tensor {t.name!r}", "not a plain llama GGUF") from None
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        shape = tuple(int(d) for d in reversed(t.shape))  # GGUF lists ne0 (the fastest axis) first
        w = w.reshape(shape)
        if not raw and name.endswith("q_proj.weight"):
            w = unpermute_rope_rows(w, n_head)
        elif not raw and name.endswith("k_proj.weight"):
            w = unpermute_rope_rows(w, n_kv)
        weights[name] = np.ascontiguousarray(w)
        quant[t.name] = t.tensor_type.name
        key_map[t.name] = name

    vocab = int(_field(reader, a + "vocab_size", weights["model.embed_tokens.weight"].shape[0]))
    tokenizer_json, specials = tokenizer_from_gguf(reader)
    n_layers = int(_field(reader, a + "block_count"))
    arch = {
        "hidden_size": hidden,
        "num_layers": n_layers,
        "num_heads": n_head,
        "n_kv_heads": n_kv,
        "intermediate_size": int(_field(reader, a + "feed_forward_length")),
        "vocab_size": vocab,
        "rms_norm_eps": float(np.float32(_field(reader, a + "attention.layer_norm_rms_epsilon"))),
        "theta": float(_field(reader, a + "rope.freq_base", 10000.0, required=False)),
        "max_position_embedding": int(_field(reader, a + "context_length", 2048, required=False)),
        **specials,
        "tie_word_embeddings": "lm_head.weight" not in weights,
    }
    # the float32 metadata value 9.99999975e-06 is the float32 of 1e-5: keep the decimal the model was made with
    arch["rms_norm_eps"] = float(f"{arch['rms_norm_eps']:.6g}")
    provenance = {
        "format": "gguf",
        "gguf_version": int(_field(reader, "GGUF.version", 0, required=False)),
        "name": _field(reader, "general.name", "", required=False),
        "license": _field(reader, "general.license", "", required=False),
        "file_type": int(_field(reader, "general.file_type", -1, required=False)),
        "quantization": dict(sorted(quant.items())),
        "quantization_counts": _counts(quant.values()),
        "key_map_gguf_to_hf": key_map,
        "rope_rows": "q/k rows un-permuted from llama.cpp's interleaved order (raw=False)" if not raw else "raw",
        "chat_template": _field(reader, "tokenizer.chat_template", "", required=False),
        "source_pad_token_id": _field(reader, "tokenizer.ggml.padding_token_id", -1, required=False),
        "pad_token_note": "pad_token_id is a special token that never occurs in a prompt: MindFormers' Llama "
                          "masks input tokens equal to pad_token_id out of attention",
    }
    return SourceModel(arch=arch, weights=weights, tokenizer_json=tokenizer_json, provenance=provenance)


def _counts(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
