"""A `TrainConfig` -> the full MindFormers YAML (the format `run_mindformer.py` / `Trainer` read).

One YAML drives both paths: on CPU, `train.py` builds the model, LoRA, optimizer and LR schedule from its
`model`, `optimizer` and `lr_schedule` blocks; on Ascend, `ascend_runner.py` hands the same file to
MindFormers' `Trainer` under `msrun`. Device-specific settings live only here:
- cpu: float32 everywhere, `use_flash_attention: false`, `fused_rms_norm: false`, `use_rope_slice: true`
  (MindFormers' Llama does not run on CPU otherwise), no parallel;
- ascend: bf16 compute with fp32 params/norms/softmax, flash attention, semi-auto parallel with
  data/model/pipeline ways from [parallel].
Both use MindFormers' Llama3 recipe's static loss scale (`scale_sense: 1.0`: bf16 has fp32's exponent range,
so no dynamic scaling), `MFTrainOneStepCell` with gradient clipping, and the seed's optimizer
(`optimizer_block`). Strategy files keep MindFormers' per-rank names (see `build_yaml`).
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .config import TrainConfig

CPU_MODEL_OVERRIDES = {
    "use_flash_attention": False, "fused_rms_norm": False, "use_rope_slice": True,
    "compute_dtype": "float32", "layernorm_compute_type": "float32", "softmax_compute_type": "float32",
    "rotary_dtype": "float32", "param_init_type": "float32",
}
ASCEND_MODEL_OVERRIDES = {
    "use_flash_attention": True, "use_rope_slice": False,
    "compute_dtype": "bfloat16", "layernorm_compute_type": "float32", "softmax_compute_type": "float32",
    "rotary_dtype": "float32", "param_init_type": "float32",
}


def model_config(cfg: TrainConfig, arch: dict, for_training: bool = True) -> dict:
    """LlamaConfig keys: the architecture file + sequence/batch + device dtypes/workarounds."""
    out = {"type": "LlamaConfig", **arch}
    out.update(CPU_MODEL_OVERRIDES if cfg.is_cpu else ASCEND_MODEL_OVERRIDES)
    out.update({"seq_length": cfg.train.seq_length, "batch_size": 1, "use_past": False,
                "checkpoint_name_or_path": "", "do_sample": False, "repetition_penalty": 1.0})
    if for_training:
        out["pet_config"] = pet_config(cfg)
    return out


def pet_config(cfg: TrainConfig) -> dict:
    return {"pet_type": "lora", "lora_rank": cfg.lora.rank, "lora_alpha": cfg.lora.alpha,
            "lora_dropout": cfg.lora.dropout, "target_modules": cfg.lora.target_modules}


def checkpoint_prefix(cfg: TrainConfig) -> str:
    return f"{cfg.model.name}_lora"


def optimizer_block(cfg: TrainConfig) -> dict:
    """The YAML `optimizer:` block. `AdamWeightDecay` is MindSpore's `nn.AdamWeightDecay` (no bias correction),
    which mindformers 1.9 registers as an optimizer type (core/optim/build_optim.py, register_ms_optim);
    it takes beta1/beta2. MindFormers' `AdamW` takes `betas` and corrects the moments' bias."""
    o = cfg.optimizer
    if o.type == "AdamWeightDecay":
        return {"type": "AdamWeightDecay", "beta1": o.beta1, "beta2": o.beta2, "eps": o.eps,
                "weight_decay": o.weight_decay}
    return {"type": o.type, "betas": [o.beta1, o.beta2], "eps": o.eps, "weight_decay": o.weight_decay}


def tokenizer_block(cfg: TrainConfig) -> dict:
    """`processor.tokenizer` (read by MindFormers' predict path only): the class and file MindFormers would
    load, with the model's own special tokens."""
    t = cfg.tokenizer
    specials = {f"{k}_token": v for k, v in (("bos", t.bos), ("eos", t.eos), ("pad", t.pad)) if v}
    if t.type == "LlamaTokenizer":
        return {"type": "LlamaTokenizer", "vocab_file": t.path, **specials}
    if t.type == "Llama3Tokenizer":  # research/llama3/llama3_tokenizer.py (not in the 1.9 wheel)
        return {"type": "Llama3Tokenizer", "vocab_file": t.path, **specials}
    return {"type": "LlamaTokenizerFast", "tokenizer_file": t.path, "unk_token": None, **specials}


def build_yaml(cfg: TrainConfig, arch: dict, run_dir: Path, records_path: str, total_steps: int = -1,
               steps_per_epoch: int = 0) -> dict:
    """The full MindFormers config as a plain dict. `total_steps` -1 lets MindFormers derive it;
    `steps_per_epoch` (0 = unknown, as in a dry run) sets the per-epoch checkpoint interval."""
    run_dir = Path(run_dir).resolve()
    dp, mp, pp = cfg.parallel_ways()
    cpu = cfg.is_cpu
    steps_per_save = cfg.train.save_steps or steps_per_epoch
    dataset = {
        "data_loader": {"type": "MindDataset", "dataset_dir": str(records_path), "shuffle": True},
        "input_columns": ["input_ids", "labels"],
        "num_parallel_workers": 1 if cpu else 8,
        "python_multiprocessing": False,
        "drop_remainder": True,
        "batch_size": cfg.train.batch_size // dp,
        "repeat": 1,
        "numa_enable": False,
        "prefetch_size": 1,
        "seed": cfg.run.seed,
    }
    doc = {
        "seed": cfg.run.seed,
        "output_dir": str(run_dir / "mindformers"),
        "run_mode": "finetune",
        "load_checkpoint": cfg.model.checkpoint or "",
        "src_strategy_path_or_dir": "",
        "auto_trans_ckpt": bool(not cpu and cfg.run.devices > 1 and cfg.model.checkpoint),
        "only_save_strategy": False,
        "resume_training": False,
        "use_parallel": bool(not cpu and cfg.run.devices > 1),
        "trainer": {"type": "CausalLanguageModelingTrainer", "model_name": cfg.model.name},
        "runner_config": {
            "epochs": cfg.train.epochs, "batch_size": cfg.train.batch_size // dp, "sink_mode": not cpu,
            "sink_size": 1, "gradient_accumulation_steps": 1,
        },
        "runner_wrapper": {  # static loss scale, as MindFormers' Llama3 recipes (bf16 needs no dynamic scaling)
            "type": "MFTrainOneStepCell", "scale_sense": 1.0, "use_clip_grad": True,
        },
        "optimizer": optimizer_block(cfg),
        "lr_schedule": {
            "type": cfg.lr.type, "learning_rate": cfg.lr.learning_rate, "lr_end": cfg.lr.lr_end,
            "warmup_ratio": cfg.lr.warmup_ratio, "total_steps": total_steps,
        },
        "train_dataset": dataset,
        "train_dataset_task": {"type": "CausalLanguageModelDataset", "dataset_config": copy.deepcopy(dataset)},
        "context": {
            "mode": 0 if cfg.run.mode == "graph" else 1,
            "device_target": "CPU" if cpu else "Ascend",
            "max_call_depth": 10000,
            "save_graphs": False,
            "device_id": 0,
            **({} if cpu else {"max_device_memory": "58GB", "jit_config": {"jit_level": "O1"},
                               "memory_optimize_level": "O0"}),
        },
        "parallel": {
            "parallel_mode": 0 if cpu else 1,  # 1 = semi-auto parallel
            "gradients_mean": False,
            "enable_alltoall": False,
            "full_batch": True,
            "search_mode": "sharding_propagation",
            "enable_parallel_optimizer": bool(not cpu and dp > 1),
            # No `save_file`: MindFormers names each rank's file output_dir/strategy/ckpt_strategy_rank_{r}.ckpt
            # (utils/file_utils.py set_strategy_save_path), and a save_file here would override that for every
            # rank. Full (not trainable-only) strategies: unsharding LoRA + base needs every parameter's layout.
            "strategy_ckpt_config": {"only_trainable_params": False},
            "parallel_optimizer_config": {"gradient_accumulation_shard": False, "parallel_optimizer_threshold": 64},
        },
        "parallel_config": {
            "data_parallel": dp, "model_parallel": mp, "pipeline_stage": pp, "use_seq_parallel": False,
            "micro_batch_num": cfg.parallel.micro_batch_num, "vocab_emb_dp": True,
            "gradient_aggregation_group": 4,
        },
        "micro_batch_interleave_num": 1,
        "recompute_config": {
            "recompute": bool(not cpu and cfg.parallel.recompute), "select_recompute": False,
            "parallel_optimizer_comm_recompute": False, "mp_comm_recompute": True,
            "recompute_slice_activation": True,
        },
        "callbacks": [
            {"type": "MFLossMonitor"},
            {"type": "CheckpointMonitor", "prefix": checkpoint_prefix(cfg),
             "directory": str(run_dir / "checkpoints"),
             "save_checkpoint_steps": steps_per_save or 1000, "keep_checkpoint_max": cfg.train.keep_checkpoints or 1000,
             "integrated_save": False, "async_save": False, "save_trainable_params": True},
        ],
        "model": {"model_config": model_config(cfg, arch), "arch": {"type": "LlamaForCausalLM"}},
        "processor": {
            "return_tensors": "ms",
            "tokenizer": tokenizer_block(cfg),
            "type": "LlamaProcessor",
        },
        "profile": False,
        "layer_scale": False,
        "layer_decay": 0.65,
        "lr_scale": False,
    }
    return doc


def dump_yaml(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def resume_overrides(doc: dict, run_dir: Path) -> dict:
    """MindFormers' own resume: `load_checkpoint` is the folder *above* rank_r (CheckpointMonitor writes
    RUN_DIR/checkpoints/checkpoint/rank_r/...; MindFormers' resume looks for checkpoint_root/rank_{r}/*.ckpt),
    `resume_training` picks each rank's newest file with its optimizer state, and `auto_trans_ckpt` is off:
    the shards were written by this very strategy, so there is nothing to re-slice (and without a
    `src_strategy` MindFormers could not)."""
    doc = dict(doc)
    doc["resume_training"] = True
    doc["auto_trans_ckpt"] = False
    doc["load_checkpoint"] = str(Path(run_dir).resolve() / "checkpoints" / "checkpoint")
    return doc
