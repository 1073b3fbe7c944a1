"""The MindFormers predict YAML of `mathtrain eval` on an Ascend card (`[run].device = "ascend"`).

One card, the run's model in bf16 (weights too: 16 GB for Llama3-8B), GRAPH mode, MindFormers' incremental
inference: `use_past: true` with paged attention (`block_size`, `num_blocks`: the KV cache holds
`num_blocks * block_size` token slots, which must cover `batch_size * seq_length` -- MindFormers'
BlockTables.init_cache_engine refuses otherwise), `is_dynamic: true` so each batch is prefilled at its
own length, not padded to seq_length. The weights are a merged checkpoint (`--merged`), or the base
checkpoint with the LoRA checkpoint loaded over it (`pet_config` kept, so the LoRA cells exist).

`mathtrain eval --dry-run` prints this YAML; on the card `mathtrain eval` writes it to OUT/predict.yaml and
builds the model from it (docs/evaluation.md says what only a card can confirm).
"""
from __future__ import annotations

import math
from pathlib import Path

from mathdata.errors import MathDataError

BLOCK_SIZE = 16          # MindFormers' default; 16/32/128 are the sizes its PagedAttention takes
DEFAULT_BATCH = 16       # prompts per generate call on one card
ASCEND_PREDICT_MODEL = {
    "compute_dtype": "bfloat16", "layernorm_compute_type": "float32", "softmax_compute_type": "float32",
    "rotary_dtype": "bfloat16", "param_init_type": "bfloat16",
    "use_past": True, "is_dynamic": True, "use_flash_attention": True, "use_rope_slice": False,
}


def num_blocks_for(batch_size: int, seq_length: int, block_size: int = BLOCK_SIZE) -> int:
    """Blocks so that every row of a full batch can reach seq_length."""
    return batch_size * math.ceil(seq_length / block_size)


def predict_yaml(info: dict, run_dir: Path, checkpoint: Path | None, merged: bool, seq_length: int,
                 batch_size: int = DEFAULT_BATCH, block_size: int = BLOCK_SIZE, dry_run: bool = False) -> dict:
    """The YAML (as a dict) for the run recorded in `info` (run.json). In a dry run on another machine the
    checkpoint may not exist yet: its place is named instead."""
    from ..config import config_from_dict
    from ..mindformers_yaml import tokenizer_block

    if checkpoint is None:
        if not dry_run:
            raise MathDataError(f"{run_dir}: no {'merged' if merged else 'LoRA'} checkpoint to evaluate",
                                "run `mathtrain merge --run RUN_DIR` (or pass --checkpoint FILE)")
        checkpoint = Path(run_dir) / ("merged" if merged else "checkpoints") / "<newest at run time>"
    cfg = config_from_dict(info["config"], source=str(Path(run_dir) / "run.json"))
    model = {k: v for k, v in info["model_config"].items() if k != "pet_config"}
    model.update(ASCEND_PREDICT_MODEL)
    model.update({"type": "LlamaConfig", "seq_length": int(seq_length), "batch_size": int(batch_size),
                  "block_size": int(block_size), "num_blocks": num_blocks_for(batch_size, seq_length, block_size),
                  "do_sample": False, "top_k": 1, "top_p": 1.0, "repetition_penalty": 1.0,
                  "checkpoint_name_or_path": ""})
    if not merged:
        model["pet_config"] = info["model_config"]["pet_config"]
    return {
        "seed": cfg.run.seed,
        "output_dir": str(Path(run_dir).resolve() / "mindformers-eval"),
        "run_mode": "predict",
        "use_parallel": False,
        # merged: the one complete file; LoRA: the base weights here, the LoRA file loaded over them after
        "load_checkpoint": str(checkpoint) if merged else str(info.get("base_checkpoint", "")),
        "lora_checkpoint": None if merged else str(checkpoint),
        "auto_trans_ckpt": False,
        "trainer": {"type": "CausalLanguageModelingTrainer", "model_name": cfg.model.name},
        "context": {"mode": 0, "device_target": "Ascend", "device_id": 0, "max_call_depth": 10000,
                    "max_device_memory": "58GB", "save_graphs": False,
                    "jit_config": {"jit_level": "O0", "infer_boost": "on"}},
        "parallel_config": {"data_parallel": 1, "model_parallel": 1, "pipeline_stage": 1},
        "model": {"model_config": model, "arch": {"type": "LlamaForCausalLM"}},
        "processor": {"return_tensors": "ms", "tokenizer": tokenizer_block(cfg), "type": "LlamaProcessor"},
    }
