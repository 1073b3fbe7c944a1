"""Read a Hugging Face Llama folder (config.json + *.safetensors + tokenizer.json) into float32 arrays.

Names stay Hugging Face's (`model.layers.N.self_attn.q_proj.weight`, ...); MindFormers' own
`LlamaForCausalLM.convert_weight_dict` renames them when the folder is written. Hugging Face checkpoints keep
Q/K rows in rotate-half order already (MindFormers' RoPE uses the same order), so nothing is permuted.
safetensors is parsed directly (8-byte header length, JSON header, raw little-endian data) so that BF16 tensors,
which numpy cannot represent, are widened to float32 exactly.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mathdata.errors import MathDataError
from mathdata.io import read_json_file

from .gguf_source import SourceModel

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64}


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """-> ({name: float32 array}, {name: stored dtype})."""
    data = path.read_bytes()
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
    except (ValueError, UnicodeDecodeError) as err:
        raise MathDataError(f"{path}: not a safetensors file ({err})", "pass a folder saved by save_pretrained") from None
    base = 8 + n
    out, dtypes = {}, {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = meta["dtype"]
        if dtype not in DTYPES:
            raise MathDataError(f"{path}: tensor {name} has dtype {dtype}", f"supported: {', '.join(DTYPES)}")
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[base + start:base + end], dtype=DTYPES[dtype]).reshape(meta["shape"])
        if dtype == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = np.ascontiguousarray(arr, dtype=np.float32)
        dtypes[name] = dtype
    return out, dtypes


def read_hf_dir(path: Path | str) -> tuple[SourceModel, list[Path]]:
    """-> (model, source files for import.json)."""
    path = Path(path)
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise MathDataError(f"{path}: no config.json", "pass --hf a Hugging Face model folder "
                            "(config.json, *.safetensors, tokenizer.json)")
    cfg = read_json_file(cfg_path, "fix or re-download config.json")
    archs = cfg.get("architectures") or []
    if cfg.get("model_type") != "llama" and "LlamaForCausalLM" not in archs:
        raise MathDataError(f"{cfg_path}: model_type {cfg.get('model_type')!r} is not llama",
                            "only Llama-architecture models become a MindFormers LlamaForCausalLM")
    if cfg.get("rope_scaling"):
        raise MathDataError(f"{cfg_path}: rope_scaling {cfg['rope_scaling']} is not supported by this importer",
                            "use a model without RoPE scaling")
    for key in ("attention_bias", "mlp_bias"):
        if cfg.get(key):
            raise MathDataError(f"{cfg_path}: {key} = true is not supported", "use a bias-free Llama")
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise MathDataError(f"{path}: no *.safetensors files", "save the model with safe_serialization=True")
    tok_path = path / "tokenizer.json"
    if not tok_path.is_file():
        raise MathDataError(f"{path}: no tokenizer.json", "save the tokenizer with tokenizer.save_pretrained(DIR)")
    weights, dtypes = {}, {}
    for f in files:
        w, d = read_safetensors(f)
        weights.update(w)
        dtypes.update(d)
    try:
        heads = int(cfg["num_attention_heads"])
        arch = {
            "hidden_size": int(cfg["hidden_size"]),
            "num_layers": int(cfg["num_hidden_layers"]),
            "num_heads": heads,
            "n_kv_heads": int(cfg.get("num_key_value_heads") or heads),
            "intermediate_size": int(cfg["intermediate_size"]),
            "vocab_size": int(cfg["vocab_size"]),
            "rms_norm_eps": float(cfg.get("rms_norm_eps", 1e-6)),
            "theta": float(cfg.get("rope_theta", 10000.0)),
            "max_position_embedding": int(cfg.get("max_position_embeddings", 2048)),
            "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise MathDataError(f"{cfg_path}: missing or bad key {err}", "the config is not a LlamaConfig") from None
    if cfg.get("head_dim") not in (None, arch["hidden_size"] // heads):
        raise MathDataError(f"{cfg_path}: head_dim {cfg['head_dim']} != hidden_size / num_attention_heads",
                            "MindFormers' Llama derives head_dim from hidden_size")
    tok_doc = read_json_file(tok_path, "fix or re-download tokenizer.json")
    from .tokenizer_json import safe_pad_id

    eos = cfg.get("eos_token_id")
    eos = eos[0] if isinstance(eos, list) else eos
    if eos is None:
        raise MathDataError(f"{cfg_path}: no eos_token_id", "generation stops on the EOS id: set it in config.json")
    bos = cfg.get("bos_token_id")
    specials = {"bos_token_id": int(eos if bos is None else bos), "eos_token_id": int(eos)}
    if cfg.get("pad_token_id") is not None:
        specials["pad_token_id"] = int(cfg["pad_token_id"])
    added = [t["id"] for t in tok_doc.get("added_tokens", []) if t.get("special")]
    specials["pad_token_id"] = safe_pad_id(specials, None, added, cfg_path)
    arch.update(specials)
    if arch["tie_word_embeddings"]:
        weights.pop("lm_head.weight", None)
    expected = _expected_names(arch)
    missing = sorted(expected - set(weights))
    if missing:
        raise MathDataError(f"{path}: safetensors lack {len(missing)} tensors ({missing[:3]}...)",
                            "the files do not match config.json")
    chat_template = ""
    tc = path / "tokenizer_config.json"
    if tc.is_file():
        chat_template = read_json_file(tc, "fix or remove the file").get("chat_template") or ""
    provenance = {"format": "hf-safetensors", "dtypes": _counts(dtypes.values()), "config": cfg,
                  "chat_template": chat_template if isinstance(chat_template, str) else ""}
    model = SourceModel(arch=arch, weights={k: weights[k] for k in sorted(weights) if k in expected},
                        tokenizer_json=tok_doc, provenance=provenance)
    return model, [cfg_path, *files, tok_path]


def _expected_names(arch: dict) -> set[str]:
    names = {"model.embed_tokens.weight", "model.norm.weight"}
    if not arch["tie_word_embeddings"]:
        names.add("lm_head.weight")
    for i in range(arch["num_layers"]):
        p = f"model.layers.{i}."
        names |= {p + s for s in ("input_layernorm.weight", "post_attention_layernorm.weight",
                                  "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                                  "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                                  "mlp.down_proj.weight")}
    return names


def _counts(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
