"""Write (and read back) an imported model folder: model.yaml, model.ckpt, tokenizer.json(+config), import.json.

The folder is written under a temporary name beside MODEL_DIR and renamed into place at the end, so an
interrupted import never leaves a folder that looks complete; an existing non-empty MODEL_DIR is refused.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import yaml

from mathdata.errors import MathDataError

from .gguf_source import SourceModel
from .layout import IMPORT_JSON, MODEL_CKPT, MODEL_YAML, TOKENIZER_JSON

TOKENIZER_CONFIG = "tokenizer_config.json"
ARCH_KEYS = ("hidden_size", "num_layers", "num_heads", "n_kv_heads", "intermediate_size", "vocab_size",
             "rms_norm_eps", "theta", "max_position_embedding", "bos_token_id", "eos_token_id", "pad_token_id",
             "tie_word_embeddings")


def check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MathDataError(f"{out}: already exists and is not empty",
                            "pass a new --out folder (an import never overwrites files)")


def mindformers_names(weights: dict[str, np.ndarray], tied: bool) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Hugging Face Llama names -> MindFormers LlamaForCausalLM names, through MindFormers' own converter
    (`convert_weight_dict` / `convert_name`). -> (weights under MindFormers names, {hf name: MindFormers name})."""
    from ..runtime import default_output_dir

    default_output_dir()
    from mindformers import LlamaForCausalLM

    src = dict(weights)
    if tied:
        head = src.pop("lm_head.weight", None)
        if head is not None and not np.array_equal(head, src["model.embed_tokens.weight"]):
            raise MathDataError("tie_word_embeddings is set but lm_head.weight differs from the embedding",
                                "set tie_word_embeddings: false in the source config")
    return (LlamaForCausalLM.convert_weight_dict(src, model_config=None),
            {k: LlamaForCausalLM.convert_name(k) for k in src})


def write_model_dir(model: SourceModel, out: Path | str, extra: dict | None = None,
                    check_ids: list[int] | None = None) -> dict:
    """Write MODEL_DIR; with check_ids, also run the logits check and record it in import.json."""
    from ..model import save_params
    from .tokenizer_json import tokenizer_config

    out = Path(out)
    check_out_dir(out)
    tied = bool(model.arch.get("tie_word_embeddings"))
    ms_weights, hf_to_ms = mindformers_names(model.weights, tied)
    tmp = out.with_name(f".{out.name}.import-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        header = ("# Imported by `mathtrain import`: MindFormers LlamaConfig keys (see import.json for the source).\n"
                  "# Dtypes and CPU/Ascend workarounds are set by mathtrain from [run].device.\n")
        arch = {k: model.arch[k] for k in ARCH_KEYS if k in model.arch}
        (tmp / MODEL_YAML).write_text(header + yaml.safe_dump(arch, sort_keys=False), encoding="utf-8")
        save_params(sorted(ms_weights.items()), tmp / MODEL_CKPT)
        (tmp / TOKENIZER_JSON).write_text(json.dumps(model.tokenizer_json, ensure_ascii=False), encoding="utf-8")
        specials = {k: arch[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
        tok_cfg = tokenizer_config(model.tokenizer_json, specials, model.provenance.get("chat_template", ""))
        (tmp / TOKENIZER_CONFIG).write_text(json.dumps(tok_cfg, ensure_ascii=False, indent=2) + "\n",
                                            encoding="utf-8")
        info = {
            **(extra or {}),
            "source": {k: v for k, v in model.provenance.items() if k not in ("key_map_gguf_to_hf", "chat_template")},
            "architecture": arch,
            "parameters": int(sum(int(np.prod(w.shape)) for w in ms_weights.values())),
            "special_tokens": {k: {"id": arch[k], "token": tok_cfg[k.replace("_id", "")]} for k in specials},
            "key_map": {
                **({"source_to_hf": model.provenance["key_map_gguf_to_hf"]}
                   if "key_map_gguf_to_hf" in model.provenance else {}),
                "hf_to_mindformers": hf_to_ms,
                "tied": ["lm_head.weight -> model.tok_embeddings.embedding_weight"] if tied else [],
            },
            "checkpoint_dtype": "float32",
        }
        if check_ids:
            from .check import compare_logits

            info["logits_check"] = compare_logits(tmp, model.weights, arch, check_ids)
        (tmp / IMPORT_JSON).write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
