"""Exact parameter counts: Llama3-8B from its config alone, cross-checked on instantiated tiny models."""
from pathlib import Path

import pytest

from mathtrain.config import load_config, load_model_config
from mathtrain.model import analytic_param_count

ROOT = Path(__file__).resolve().parents[1]


def test_llama3_8b_r8_wq_wv_from_config_alone():
    cfg = load_config(ROOT / "configs" / "llama3-8b-lora.toml")
    arch = load_model_config(cfg)  # reads the YAML only: no weights
    count = analytic_param_count(arch, cfg.lora.rank, cfg.lora.target_modules)
    assert count.trainable == 3_407_872
    assert count.total == 8_030_261_248
    assert count.ratio == pytest.approx(3_407_872 / 8_030_261_248, rel=1e-12)


def test_llama3_8b_other_lora_choices():
    arch = load_model_config(load_config(ROOT / "configs" / "llama3-8b-lora.toml"))
    # the winners' r64 on wq, wk, wv, wo: 32 layers x 64 x (8192 + 5120 + 5120 + 8192)
    assert analytic_param_count(arch, 64, ".*wq|.*wk|.*wv|.*wo").trainable == 32 * 64 * (8192 + 5120 + 5120 + 8192)


TINY_VARIANTS = [
    ({}, ".*wq|.*wv"),
    ({}, ".*wq|.*wk|.*wv|.*wo|.*w1|.*w2|.*w3"),
    ({"n_kv_heads": None, "intermediate_size": None, "multiple_of": 32}, ".*wv|.*w2"),
    ({"tie_word_embeddings": True, "num_layers": 3}, ".*wk"),
]


@pytest.mark.train
@pytest.mark.parametrize("change, targets", TINY_VARIANTS)
def test_analytic_count_equals_instantiated_model(tmp_path, change, targets):
    from mathtrain.mindformers_yaml import model_config
    from mathtrain.model import build_network, count_params
    from mathtrain.runtime import set_context, use_output_dir

    use_output_dir(tmp_path / "mf")
    set_context("cpu", "pynative", 0)
    cfg = load_config(ROOT / "fixtures" / "tiny" / "train.toml").with_overrides("lora", target_modules=targets)
    arch = {k: v for k, v in {**load_model_config(cfg), **change}.items() if v is not None}
    mc = model_config(cfg, arch)
    base = build_network(mc, lora=False)
    base_total = sum(int(p.size) for p in base.get_parameters())
    net = build_network(mc, lora=True)
    exact = count_params(net)
    analytic = analytic_param_count(arch, cfg.lora.rank, targets)
    assert exact == analytic
    assert analytic.total == base_total
    assert exact.trainable > 0
