"""`mathtrain eval --dry-run` of an Ascend run (the Llama3-8B recipe): the MindFormers predict YAML it would use
-- one card, bf16, GRAPH mode, use_past with paged attention -- checked through MindFormers' own code on CPU
(MindFormerConfig, LlamaConfig, the paged-attention BlockTables), and the command for the card."""
import json
import sys
from pathlib import Path

import pytest

from mathtrain.cli import main

ROOT = Path(__file__).resolve().parents[1]
MATH_REFS = ROOT / "fixtures/eval/math_references.jsonl"
SQUAD = ROOT / "fixtures/squad/dev-mini.json"


@pytest.fixture(scope="module")
def ascend_run(tmp_path_factory, llama3_tokenizer_file):
    """RUN_DIR of the production recipe (configs/llama3-8b-lora.toml) as a finished Ascend run would leave
    it: run.json, a LoRA checkpoint and a merged one (empty files: a dry run reads no weights)."""
    from mathtrain.config import load_config, load_model_config
    from mathtrain.mindformers_yaml import model_config

    cfg = load_config(ROOT / "configs/llama3-8b-lora.toml").with_overrides(
        "tokenizer", type="Llama3Tokenizer", path=str(llama3_tokenizer_file))
    run = tmp_path_factory.mktemp("ascend") / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "merged").mkdir()
    (run / "checkpoints" / "llama3_8b_lora_step000120.ckpt").write_bytes(b"")
    (run / "merged" / "llama3_8b_lora_step000120_merged.ckpt").write_bytes(b"")
    info = {"config": cfg.to_dict(), "model_config": model_config(cfg, load_model_config(cfg)),
            "prompt": {"name": "raw", "human": "{problem}", "chat": "vicuna_v1.1"},
            "checkpoint_prefix": "llama3_8b_lora", "base_checkpoint": cfg.model.checkpoint,
            "params": {"trainable": 3407872, "total": 8030261248}}
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return run


def _dry_run(run, out, *extra, capsys=None, monkeypatch=None):
    monkeypatch.setattr(sys, "argv", ["mathtrain", "eval", "--run", str(run), "--out", str(out), "--math",
                                      str(MATH_REFS), "--squad", str(SQUAD), "--dry-run", "--batch-size", "8",
                                      *extra])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    assert exit_.value.code == 0, captured.err[-2000:]
    return captured.out


@pytest.mark.train
def test_dry_run_prints_a_predict_yaml_mindformers_accepts(ascend_run, tmp_path, capsys, monkeypatch):
    import numpy as np
    import yaml
    from mindformers import LlamaConfig, MindFormerConfig
    from mindformers.modules.block_tables import BlockTables

    out = tmp_path / "out"
    text = _dry_run(ascend_run, out, "--merged", capsys=capsys, monkeypatch=monkeypatch)
    assert not out.exists()  # a dry run writes nothing
    body, command = text.split("# run on the card:\n")
    assert body.startswith("# dry run: 18 math, 8 squad items")
    assert command.strip() == (f"ASCEND_RT_VISIBLE_DEVICES=0 mathtrain eval --run {ascend_run} --out {out} "
                               f"--math {MATH_REFS} --squad {SQUAD} --batch-size 8 --merged")
    doc = yaml.safe_load(body)
    path = tmp_path / "predict.yaml"
    path.write_text(body, encoding="utf-8")
    mf = MindFormerConfig(str(path))
    m = mf.model.model_config
    assert mf.context.mode == 0 and mf.context.device_target == "Ascend" and mf.use_parallel is False
    assert mf.run_mode == "predict" and mf.load_checkpoint == str(ascend_run / "merged" /
                                                                 "llama3_8b_lora_step000120_merged.ckpt")
    assert (m.use_past, m.is_dynamic, m.compute_dtype, m.param_init_type) == (True, True, "bfloat16", "bfloat16")
    assert m.batch_size == 8 and m.block_size == 16 and "pet_config" not in doc["model"]["model_config"]
    assert (m.hidden_size, m.num_layers, m.vocab_size, m.eos_token_id) == (4096, 32, 128256, 128001)
    # MindFormers' own config class takes every key
    config = LlamaConfig(**{k: v for k, v in doc["model"]["model_config"].items() if k != "type"})
    assert config.use_past is True and config.num_blocks == m.num_blocks
    # the paged KV cache holds a full batch at seq_length -- and not one row more (MindFormers' check)
    def fill(rows):
        tables = BlockTables(m.num_blocks, m.block_size, m.seq_length)
        tables.init_cache_engine(rows)
        return tables.assemble_pa_full_inputs(m.seq_length, np.full(rows, m.seq_length, np.int32), [False] * rows)

    block_tables, _ = fill(m.batch_size)
    assert block_tables.shape == (m.batch_size, m.seq_length // m.block_size)
    with pytest.raises(RuntimeError, match="out of memory"):
        fill(m.batch_size + 1)
    assert doc["processor"]["tokenizer"]["type"] == "Llama3Tokenizer"


@pytest.mark.train
def test_dry_run_lora_plus_base_and_json(ascend_run, tmp_path, capsys, monkeypatch):
    text = _dry_run(ascend_run, tmp_path / "out", "--json", "-", capsys=capsys, monkeypatch=monkeypatch)
    summary = json.loads(text)
    doc = summary["yaml"]
    assert summary["dry_run"] is True and summary["device"] == "ascend" and summary["items"] == {"math": 18,
                                                                                                "squad": 8}
    assert doc["load_checkpoint"] == "/data/llama3-8b/llama3_8b.ckpt"  # the base weights ...
    assert doc["lora_checkpoint"] == str(ascend_run / "checkpoints" / "llama3_8b_lora_step000120.ckpt")  # + LoRA
    assert doc["model"]["model_config"]["pet_config"]["lora_rank"] == 8
    seq = doc["model"]["model_config"]["seq_length"]
    assert seq == summary["seq_length"] and seq % 32 == 0 and seq >= 64
    assert "--merged" not in summary["command"]
