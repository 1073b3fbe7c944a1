"""`mathtrain` TOML config: defaults are the seed's recipe; every key is documented and checked.

The TOML is small on purpose: one table per concern. `load_config` turns it into a frozen
`TrainConfig` (paths resolved against the TOML's folder), rejecting unknown keys and impossible values
with a `MathDataError` that names the key. `mindformers_yaml.py` turns a `TrainConfig` into the full
MindFormers YAML that both the CPU loop and the Ascend launcher consume.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mathdata.errors import MathDataError
from mathdata.tomlfile import read_toml


def _f(default: Any, doc: str, **kw) -> Any:
    return field(default=default, metadata={"doc": doc, **kw})


@dataclass(frozen=True)
class RunSection:
    device: str = _f("cpu", "where to train: `cpu` (MindFormers' CPU workarounds applied, float32) or `ascend` "
                     "(bf16, parallel config, launched through `msrun`)", choices=("cpu", "ascend"))
    devices: int = _f(1, "number of devices (cards); must be 1 on cpu", min=1)
    seed: int = _f(42, "seed for weight init, LoRA init and data order; same inputs + seed => same run", min=0)
    mode: str = _f("graph", "MindSpore execution mode: `graph` (compiled, fast) or `pynative` (eager, for debugging)",
                   choices=("graph", "pynative"))
    runner: str = _f("loop", "what steps the training on cpu: `loop` (a plain loop over MindFormers' "
                     "`MFTrainOneStepCell`, the production step; exact resume) or `trainer` (MindFormers' "
                     "`Trainer(...).finetune()` on the run's MindFormers YAML, "
                     "in-process; checkpoints in MindFormers' layout). Ascend always runs `trainer` (under `msrun`)",
                     choices=("loop", "trainer"))


@dataclass(frozen=True)
class ModelSection:
    config: str = _f("", "path of a YAML/JSON file holding MindFormers `LlamaConfig` keys (hidden_size, num_layers, "
                     "num_heads, n_kv_heads, intermediate_size, vocab_size, ...); relative to this TOML", path=True)
    checkpoint: str = _f("", "base weights (a MindSpore .ckpt of LlamaForCausalLM); empty = random init from the "
                         "seed (only sensible for the tiny CPU fixture); relative to this TOML", path=True)
    name: str = _f("llama", "a short model name used in checkpoint file names: letters, digits, `.`, `_`, `-` "
                   "(no path separators, no `..`)", pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class TokenizerSection:
    type: str = _f("LlamaTokenizer", "`Llama3Tokenizer` (Meta's tiktoken tokenizer.model, as MindFormers' research "
                   "Llama3Tokenizer loads it), `LlamaTokenizerFast` or its alias `hf` (a Hugging Face tokenizer.json "
                   "with the model's own special tokens) or `LlamaTokenizer` (sentencepiece .model)",
                   choices=("Llama3Tokenizer", "LlamaTokenizerFast", "hf", "LlamaTokenizer"))
    path: str = _f("", "the tokenizer file (tokenizer.model or tokenizer.json); relative to this TOML", path=True)
    bos: str = _f("", "BOS token text; empty = the tokenizer's own (Llama3Tokenizer: begin_of_text, 128000; hf: "
                  "bos_token of the tokenizer_config.json beside the file). Its id must equal the model config's "
                  "bos_token_id")
    eos: str = _f("", "EOS token text, whose id ends every answer and stops generation; empty = the tokenizer's "
                  "own (Llama3Tokenizer: end_of_text, 128001; hf: eos_token of tokenizer_config.json). Its id must "
                  "equal eos_token_id")
    pad: str = _f("", "pad token text; empty = the tokenizer's own (Llama3Tokenizer: reserved_special_token_0, "
                  "128002; hf: pad_token of tokenizer_config.json, else the EOS). Its id must equal pad_token_id")


@dataclass(frozen=True)
class LoraSection:
    rank: int = _f(8, "LoRA rank r", min=1, max=4096)
    alpha: float = _f(16.0, "LoRA alpha; the update is scaled by alpha / rank", gt=0.0)
    dropout: float = _f(0.0, "dropout on the LoRA input, in [0, 1)", min=0.0, lt=1.0)
    target_modules: str = _f(".*wq|.*wv", "regex over MindFormers layer names (wq, wk, wv, wo, w1, w2, w3) that get "
                             "LoRA adapters")


@dataclass(frozen=True)
class OptimizerSection:
    type: str = _f("AdamWeightDecay", "`AdamWeightDecay` (MindSpore's, no bias correction: the seed's "
                   "FP32StateAdamWeightDecay, whose state is fp32 anyway for LoRA) or `AdamW` (MindFormers', with "
                   "bias correction: its first step is ~2.2x larger at beta2 0.95)",
                   choices=("AdamWeightDecay", "AdamW"))
    beta1: float = _f(0.9, "Adam beta1, in [0, 1)", min=0.0, lt=1.0)
    beta2: float = _f(0.95, "Adam beta2, in [0, 1)", min=0.0, lt=1.0)
    eps: float = _f(1e-8, "Adam epsilon", gt=0.0)
    weight_decay: float = _f(0.01, "decoupled weight decay", min=0.0)


@dataclass(frozen=True)
class LrSection:
    type: str = _f("CosineWithWarmUpLR", "MindFormers LR schedule", choices=("CosineWithWarmUpLR",))
    learning_rate: float = _f(3e-5, "peak learning rate after warm-up", gt=0.0)
    lr_end: float = _f(1e-6, "final learning rate (<= learning_rate)", min=0.0)
    warmup_ratio: float = _f(0.03, "fraction of all steps spent warming up, in [0, 1)", min=0.0, lt=1.0)


@dataclass(frozen=True)
class TrainSection:
    epochs: int = _f(6, "passes over the training set", min=1, max=10_000)
    batch_size: int = _f(64, "global batch size (samples per optimizer step)", min=1, max=1_048_576)
    seq_length: int = _f(256, "tokens per sample the model sees; records hold seq_length + 1 tokens (at most "
                         "131,072)", min=8, max=131_072)
    max_steps: int = _f(0, "stop after this many optimizer steps (the LR schedule spans them); 0 = epochs * steps per epoch", min=0)
    save_steps: int = _f(0, "save a LoRA checkpoint every N steps; 0 = once per epoch (always at the end)", min=0)
    log_steps: int = _f(1, "write a metrics.jsonl line every N steps", min=1)
    keep_checkpoints: int = _f(0, "keep only the newest N step checkpoints (0 = keep all); merge needs them", min=0)


@dataclass(frozen=True)
class ParallelSection:
    data_parallel: int = _f(0, "data-parallel ways on ascend; 0 = devices / (model_parallel * pipeline_stage)", min=0)
    model_parallel: int = _f(0, "tensor (model) parallel ways on ascend; 0 = devices / pipeline_stage", min=0)
    pipeline_stage: int = _f(1, "pipeline stages on ascend", min=1)
    micro_batch_num: int = _f(1, "micro batches per step when pipeline_stage > 1", min=1)
    recompute: bool = _f(True, "recompute activations on ascend (saves memory)")


SECTIONS: dict[str, type] = {
    "run": RunSection, "model": ModelSection, "tokenizer": TokenizerSection, "lora": LoraSection,
    "optimizer": OptimizerSection, "lr": LrSection, "train": TrainSection, "parallel": ParallelSection,
}


@dataclass(frozen=True)
class TrainConfig:
    run: RunSection = field(default_factory=RunSection)
    model: ModelSection = field(default_factory=ModelSection)
    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    lora: LoraSection = field(default_factory=LoraSection)
    optimizer: OptimizerSection = field(default_factory=OptimizerSection)
    lr: LrSection = field(default_factory=LrSection)
    train: TrainSection = field(default_factory=TrainSection)
    parallel: ParallelSection = field(default_factory=ParallelSection)
    source: str = ""  # the TOML it came from (for messages)

    @property
    def is_cpu(self) -> bool:
        return self.run.device == "cpu"

    @property
    def runner(self) -> str:
        """The effective runner: [run].runner on cpu; always `trainer` on ascend (the loop is CPU-only)."""
        return self.run.runner if self.is_cpu else "trainer"

    def parallel_ways(self) -> tuple[int, int, int]:
        """(data_parallel, model_parallel, pipeline_stage) after filling the 0 = auto defaults."""
        if self.is_cpu:
            return 1, 1, 1
        p = self.parallel
        mp = p.model_parallel or max(1, self.run.devices // p.pipeline_stage)
        dp = p.data_parallel or max(1, self.run.devices // (mp * p.pipeline_stage))
        return dp, mp, p.pipeline_stage

    def to_dict(self) -> dict:
        return {name: {f.name: getattr(getattr(self, name), f.name) for f in fields(cls)}
                for name, cls in SECTIONS.items()}

    def with_overrides(self, section: str, **values: Any) -> "TrainConfig":
        return replace(self, **{section: replace(getattr(self, section), **values)})


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every config key -- the docs table is checked against this."""
    return [(name, f.name, f.default, f.metadata["doc"]) for name, cls in SECTIONS.items() for f in fields(cls)]


def load_config(path: Path | str) -> TrainConfig:
    path = Path(path)
    raw = read_toml(path, not_found=(f"{path}: no such config file", "pass --config pointing at a mathtrain TOML, "
                                     "e.g. fixtures/tiny/train.toml"))
    return config_from_dict(raw, base_dir=path.parent.resolve(), source=str(path))


def config_from_dict(raw: dict, base_dir: Path | None = None, source: str = "config") -> TrainConfig:
    sections = {}
    for name, table in raw.items():
        if name not in SECTIONS:
            raise MathDataError(f"{source}: unknown section [{name}]", f"valid sections: {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise MathDataError(f"{source}: `{name}` must be a table [{name}]", "see docs/mathtrain.md")
        sections[name] = _section(SECTIONS[name], name, table, base_dir, source)
    cfg = TrainConfig(**sections, source=source)
    _check_cross(cfg)
    return cfg


def _section(cls: type, name: str, table: dict, base_dir: Path | None, source: str):
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        where = f"{source}: [{name}].{key}"
        if key not in known:
            raise MathDataError(f"{source}: unknown key [{name}].{key}", f"valid keys in [{name}]: {', '.join(known)}")
        f = known[key]
        want = type(f.default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not want:
            raise MathDataError(f"{where} = {value!r} must be a {want.__name__}", f"default is {f.default!r}")
        meta = f.metadata
        if "choices" in meta and value not in meta["choices"]:
            raise MathDataError(f"{where} = {value!r} is not allowed", f"choose one of {', '.join(meta['choices'])}")
        if "min" in meta and value < meta["min"]:
            raise MathDataError(f"{where} = {value!r} is too small", f"must be >= {meta['min']}")
        if "max" in meta and value > meta["max"]:
            raise MathDataError(f"{where} = {value!r} is too large", f"must be <= {meta['max']:,}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            raise MathDataError(f"{where} = {value!r} is not a plain name", "use letters, digits, '.', '_' and '-' "
                                "only (it becomes part of file names inside the run folder)")
        if "gt" in meta and not value > meta["gt"]:
            raise MathDataError(f"{where} = {value!r} is too small", f"must be > {meta['gt']}")
        if "lt" in meta and not value < meta["lt"]:
            raise MathDataError(f"{where} = {value!r} is too large", f"must be < {meta['lt']}")
        if meta.get("path") and value and base_dir is not None:
            value = str((base_dir / value).resolve())
        values[key] = value
    return cls(**values)


def _check_cross(cfg: TrainConfig) -> None:
    src = cfg.source
    if cfg.lr.lr_end > cfg.lr.learning_rate:
        raise MathDataError(f"{src}: [lr].lr_end = {cfg.lr.lr_end} exceeds [lr].learning_rate = "
                            f"{cfg.lr.learning_rate}", "the cosine schedule decays: make lr_end <= learning_rate")
    try:
        re.compile(cfg.lora.target_modules)
    except re.error as err:
        raise MathDataError(f"{src}: [lora].target_modules is not a valid regex: {err}",
                            "e.g. '.*wq|.*wv'") from None
    from .model import ATTENTION, FEED_FORWARD

    if not any(re.match(cfg.lora.target_modules, name) for name in ATTENTION + FEED_FORWARD):
        raise MathDataError(f"{src}: [lora].target_modules = {cfg.lora.target_modules!r} matches none of "
                            f"MindFormers' Llama layers ({', '.join(ATTENTION + FEED_FORWARD)})",
                            "use MindFormers' names, e.g. '.*wq|.*wv' (not Hugging Face's q_proj/v_proj)")
    if cfg.is_cpu and cfg.run.devices != 1:
        raise MathDataError(f"{src}: [run].devices = {cfg.run.devices} with device = 'cpu'",
                            "CPU training uses one device: set devices = 1 or device = 'ascend'")
    if not cfg.is_cpu:
        dp, mp, pp = cfg.parallel_ways()
        if dp * mp * pp != cfg.run.devices:
            raise MathDataError(f"{src}: [parallel] data_parallel {dp} x model_parallel {mp} x pipeline_stage {pp} "
                                f"= {dp * mp * pp}, but [run].devices = {cfg.run.devices}",
                                "their product must equal the number of devices")
        if cfg.train.batch_size % dp:
            raise MathDataError(f"{src}: [train].batch_size = {cfg.train.batch_size} is not divisible by "
                                f"data_parallel = {dp}", "pick a batch size that splits evenly across data-parallel ways")
    if not cfg.model.config:
        raise MathDataError(f"{src}: [model].config is missing", "point it at a LlamaConfig YAML, "
                            "e.g. config = 'model.yaml'")
    if not cfg.tokenizer.path:
        raise MathDataError(f"{src}: [tokenizer].path is missing", "point it at tokenizer.model / tokenizer.json")


def check_files(cfg: TrainConfig, dry_run: bool = False) -> None:
    """Files named by the config must exist (checked before any expensive work). A dry run needs only the
    model config: the YAML can be printed on a machine that does not hold the weights."""
    keys = (("model", "config"),) if dry_run else (("model", "config"), ("model", "checkpoint"), ("tokenizer", "path"))
    for section, key in keys:
        value = getattr(getattr(cfg, section), key)
        if value and not Path(value).is_file():
            raise MathDataError(f"{cfg.source}: [{section}].{key} = {value}: no such file",
                                "fix the path (relative paths are resolved against the TOML's folder)")


# Upper bounds on model-config sizes: far above any real Llama (Llama3-405B: hidden 16384, 126 layers, 128
# heads, FFN 53248, vocab 128256), low enough that a typo gives a one-line error instead of an allocation failure.
MODEL_LIMITS = {"hidden_size": 65_536, "num_layers": 1_024, "num_heads": 1_024, "n_kv_heads": 1_024,
                "intermediate_size": 1_048_576, "vocab_size": 4_194_304, "seq_length": 131_072,
                "max_position_embedding": 1_048_576}


def load_model_config(cfg: TrainConfig) -> dict:
    """The LlamaConfig keys from [model].config (YAML or JSON), validated against LlamaConfig's signature."""
    import json

    import yaml

    path = Path(cfg.model.config)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MathDataError(f"{cfg.source}: [model].config = {path}: no such file", "fix the path") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise MathDataError(f"{path}: cannot parse: {err}", "fix the file's syntax") from None
    if isinstance(data, dict) and "model_config" in data:  # a MindFormers `model:` block
        data = data["model_config"]
    if not isinstance(data, dict):
        raise MathDataError(f"{path}: expected a mapping of LlamaConfig keys", "e.g. hidden_size: 64")
    data = {k: v for k, v in data.items() if k != "type"}
    allowed = _llama_config_keys()
    for key in data:
        if allowed is not None and key not in allowed:
            raise MathDataError(f"{path}: unknown LlamaConfig key {key!r}", "see mindformers LlamaConfig for valid keys")
    for key in ("hidden_size", "num_layers", "num_heads", "vocab_size"):
        if not isinstance(data.get(key), int) or isinstance(data[key], bool) or data[key] < 1:
            raise MathDataError(f"{path}: {key} must be a positive integer", f"set {key}: ...")
    for key, limit in MODEL_LIMITS.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise MathDataError(f"{path}: {key} = {value!r} must be a non-negative integer", f"set {key}: ...")
        if value > limit:
            raise MathDataError(f"{path}: {key} = {value:,} is too large ([model].config)",
                                f"must be <= {limit:,} (mathtrain's sanity limit; Llama3-405B is far below it)")
    if data["hidden_size"] % data["num_heads"]:
        raise MathDataError(f"{path}: hidden_size {data['hidden_size']} is not divisible by num_heads "
                            f"{data['num_heads']}", "fix the model shape")
    kv = data.get("n_kv_heads") or data["num_heads"]
    if data["num_heads"] % kv:
        raise MathDataError(f"{path}: num_heads {data['num_heads']} is not divisible by n_kv_heads {kv}",
                            "fix the model shape")
    return data


def _llama_config_keys() -> set[str] | None:
    """LlamaConfig's keyword names, or None without the training extra (then keys are not checked here,
    MindFormers checks them when it builds the model)."""
    import inspect

    from .runtime import default_output_dir

    default_output_dir()
    try:
        from mindformers import LlamaConfig
    except ImportError:
        return None

    names = set(inspect.signature(LlamaConfig.__init__).parameters) - {"self", "kwargs"}
    return names | {"checkpoint_name_or_path", "max_position_embedding"}
