"""mathtrain TOML config: seed-recipe defaults, documented keys, clear rejection of bad input."""
from pathlib import Path

import pytest

from mathdata.errors import MathDataError
from mathtrain.config import TrainConfig, config_from_dict, documented_keys, load_config

from train_helpers import TINY_TOML

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_seed_recipe():
    cfg = TrainConfig()
    assert (cfg.lora.rank, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules) == (8, 16.0, 0.0, ".*wq|.*wv")
    assert (cfg.optimizer.type, cfg.optimizer.beta1, cfg.optimizer.beta2) == ("AdamWeightDecay", 0.9, 0.95)
    assert (cfg.optimizer.eps, cfg.optimizer.weight_decay) == (1e-8, 0.01)
    assert (cfg.lr.type, cfg.lr.learning_rate, cfg.lr.lr_end, cfg.lr.warmup_ratio) == ("CosineWithWarmUpLR", 3e-5, 1e-6, 0.03)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.seq_length) == (6, 64, 256)


def test_tiny_and_production_configs_load():
    tiny = load_config(TINY_TOML)
    assert tiny.is_cpu and tiny.run.devices == 1
    assert Path(tiny.model.config).is_file() and Path(tiny.tokenizer.path).is_file()  # resolved against the TOML
    prod = load_config(ROOT / "configs" / "llama3-8b-lora.toml")
    assert prod.run.device == "ascend" and prod.run.devices == 4
    assert prod.parallel_ways() == (1, 4, 1)
    assert prod.lora == TrainConfig().lora and prod.optimizer == TrainConfig().optimizer
    assert prod.lr == TrainConfig().lr and (prod.train.epochs, prod.train.batch_size) == (6, 64)
    assert (prod.tokenizer.type, Path(prod.tokenizer.path).name) == ("Llama3Tokenizer", "tokenizer.model")


BASE = {"model": {"config": "m.yaml"}, "tokenizer": {"path": "t.model"}}


def _with(section, **kv):
    raw = {k: dict(v) for k, v in BASE.items()}
    raw.setdefault(section, {}).update(kv)
    return raw


@pytest.mark.parametrize("raw, names", [
    (_with("lora", rnak=8), "[lora].rnak"),
    ({**BASE, "trainer": {}}, "[trainer]"),
    (_with("lora", rank=0), "[lora].rank"),
    (_with("lora", rank="8"), "[lora].rank"),
    (_with("lora", dropout=1.0), "[lora].dropout"),
    (_with("lora", target_modules="(wq"), "[lora].target_modules"),
    (_with("lr", learning_rate=1e-6, lr_end=1e-5), "[lr].lr_end"),
    (_with("lr", warmup_ratio=1.5), "[lr].warmup_ratio"),
    (_with("optimizer", beta2=1.0), "[optimizer].beta2"),
    (_with("optimizer", type="FP32StateAdamWeightDecay"), "[optimizer].type"),
    (_with("train", batch_size=0), "[train].batch_size"),
    (_with("run", device="gpu"), "[run].device"),
    (_with("run", devices=2), "[run].devices"),
    (_with("run", runner="trainers"), "[run].runner"),
    (_with("run", runner=1), "[run].runner"),
    ({**_with("run", device="ascend", devices=4), "parallel": {"model_parallel": 3}}, "[parallel]"),
    ({"tokenizer": {"path": "t.model"}}, "[model].config"),
    (_with("model", name="../../../x"), "[model].name"),
    (_with("model", name="a/b"), "[model].name"),
    (_with("train", seq_length=10**9), "[train].seq_length"),
    (_with("lora", target_modules="q_proj|v_proj"), "[lora].target_modules"),
    (_with("tokenizer", type="GPT2Tokenizer"), "[tokenizer].type"),
])
def test_bad_values_are_rejected_naming_the_key(raw, names):
    with pytest.raises(MathDataError) as err:
        config_from_dict(raw, base_dir=Path("/x"), source="t.toml")
    assert names in err.value.message and err.value.hint


def test_unknown_tokenizer_type_lists_the_valid_ones():
    with pytest.raises(MathDataError) as err:
        config_from_dict(_with("tokenizer", type="tiktoken"), base_dir=Path("/x"), source="t.toml")
    for kind in ("Llama3Tokenizer", "LlamaTokenizerFast", "hf", "LlamaTokenizer"):
        assert kind in err.value.hint


def test_plain_names_and_size_limits_are_accepted_at_the_edge():
    cfg = config_from_dict({**_with("model", name="llama3_8b-v1.0"), "train": {"seq_length": 131_072}},
                           base_dir=Path("/x"), source="t.toml")
    assert (cfg.model.name, cfg.train.seq_length) == ("llama3_8b-v1.0", 131_072)
    with pytest.raises(MathDataError, match=r"\[train\].seq_length = 131073 is too large"):
        config_from_dict(_with("train", seq_length=131_073), base_dir=Path("/x"), source="t.toml")


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(MathDataError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[lora\nrank = 8\n")
    with pytest.raises(MathDataError, match="bad TOML"):
        load_config(bad)


def test_every_key_is_documented():
    docs = (ROOT / "docs" / "mathtrain.md").read_text(encoding="utf-8")
    keys = documented_keys()
    assert len(keys) >= 30
    for section, key, _default, doc in keys:
        assert doc
        assert f"`[{section}].{key}`" in docs, f"[{section}].{key} missing from docs/mathtrain.md"


@pytest.mark.parametrize("text, message", [
    ("hidden_size: 64\nnum_layers: 2\nnum_heads: 4\nvocab_size: 600\nhidden_sise: 3\n", "unknown LlamaConfig key 'hidden_sise'"),
    ("hidden_size: 66\nnum_layers: 2\nnum_heads: 4\nvocab_size: 600\n", "not divisible by num_heads"),
    ("hidden_size: 64\nnum_layers: 2\nnum_heads: 4\nn_kv_heads: 3\nvocab_size: 600\n", "not divisible by n_kv_heads"),
    ("hidden_size: 64\nnum_heads: 4\nvocab_size: 600\n", "num_layers must be a positive integer"),
    ("hidden_size: [64\n", "cannot parse"),
    ("hidden_size: 1048576\nnum_layers: 2\nnum_heads: 4\nvocab_size: 600\n", "hidden_size = 1,048,576 is too large"),
    ("hidden_size: 64\nnum_layers: 2\nnum_heads: 4\nvocab_size: 600\nseq_length: 99999999\n",
     "seq_length = 99,999,999 is too large"),
])
@pytest.mark.train
def test_bad_model_config_files(tmp_path, text, message):
    from mathtrain.config import load_model_config

    (tmp_path / "m.yaml").write_text(text)
    cfg = config_from_dict({"model": {"config": "m.yaml"}, "tokenizer": {"path": "t.model"}}, base_dir=tmp_path)
    with pytest.raises(MathDataError, match=message.replace("(", r"\(")):
        load_model_config(cfg)


def test_runner_key():
    assert TrainConfig().run.runner == "loop" and TrainConfig().runner == "loop"
    cfg = config_from_dict(_with("run", runner="trainer"), base_dir=Path("/x"), source="t.toml")
    assert cfg.runner == "trainer"
    ascend = config_from_dict(_with("run", device="ascend", devices=4), base_dir=Path("/x"), source="t.toml")
    assert ascend.runner == "trainer"  # the loop is CPU-only: Ascend always runs MindFormers' Trainer
    with pytest.raises(MathDataError) as err:
        config_from_dict(_with("run", runner="bogus"), base_dir=Path("/x"), source="t.toml")
    assert "[run].runner" in err.value.message and "loop" in err.value.hint and "trainer" in err.value.hint
