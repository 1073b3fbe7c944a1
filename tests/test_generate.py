"""`mathtrain generate`: greedy text from an imported model (SmolLM2) or a trained run, stopping at the EOS id."""
from __future__ import annotations

import json

import pytest

from smollm2_helpers import ROOT, imported_dir
from train_helpers import run_cli

pytestmark = pytest.mark.train


def test_generate_model_chat_stops_at_eos(tmp_path):
    from mathtrain.generation import CHATML
    from mathtrain.tokenizer import load_tokenizer

    model = imported_dir()
    out = tmp_path / "g.json"
    proc = run_cli("generate", "--model", str(model), "--chat", "--prompt", "What is 2+2? Answer with the number only.",
                   "--max-new-tokens", "12", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    gen = json.loads(out.read_text())
    assert set(gen) == {"input_ids", "new_ids", "text"}
    tok = load_tokenizer("hf", str(model / "tokenizer.json"))
    # chatml's leading <|im_start|> is SmolLM2's BOS: present once, as the tokenizer puts it first
    expected = tok.encode(CHATML.format(prompt="What is 2+2? Answer with the number only.")[len("<|im_start|>"):])
    assert gen["input_ids"] == expected and gen["input_ids"][:2] == [1, 4093]
    assert gen["new_ids"][-1] == 2 and 2 not in gen["new_ids"][:-1] and len(gen["new_ids"]) < 12  # stopped at EOS
    assert gen["text"] == tok.decode(gen["new_ids"], skip_special_tokens=True).strip()
    assert "4" in gen["text"] and "<|im_end|>" not in gen["text"]
    assert gen["text"] in proc.stdout


def test_smollm2_lora_run_then_generate_with_its_prompt(tmp_path):
    """configs/smollm2-135m-lora.toml, shrunk to 3 steps of 2 x 80 tokens, trains SmolLM2 through MindFormers;
    `generate --run` then answers with the run's training prompt, BOS first, stopping at EOS or the limit."""
    from mathdata.prompts import PromptSpec
    from mathtrain.infer import read_run
    from mathtrain.tokenizer import tokenizer_from_config
    from train_helpers import write_build_dir

    model = imported_dir()
    toml = (ROOT / "configs" / "smollm2-135m-lora.toml").read_text()
    toml = toml.replace("../models/smollm2-135m", str(model)).replace("batch_size = 8", "batch_size = 2")
    toml = toml.replace("seq_length = 96 ", "seq_length = 80 ")
    (tmp_path / "c.toml").write_text(toml)
    build = write_build_dir(tmp_path / "build", n=16)
    run = tmp_path / "run"
    proc = run_cli("run", "--config", str(tmp_path / "c.toml"), "--data", str(build), "--out", str(run),
                   "--max-steps", "3", "--json", str(tmp_path / "r.json"), "--quiet", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["steps"] == 3 and result["trainable_params"] == 30 * 8 * (2 * 576 + 2 * (576 + 192) + 2 * 576)
    assert result["total_params"] == 134_515_008 and 0 < result["last_loss"] < 20
    info = read_run(run)
    assert info.model_config["eos_token_id"] == 2 and info.model_config["pad_token_id"] == 0
    proc = run_cli("generate", "--run", str(run), "--prompt", "计算 1.5 + 2.25 等于多少？", "-n", "4", "--json", "-",
                   timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    gen = json.loads(proc.stdout)
    tok = tokenizer_from_config(info.data["config"]["tokenizer"])
    spec = PromptSpec.from_dict(info.data["prompt"])
    assert gen["input_ids"] == list(tok.encode(spec.generation_prompt("计算 1.5 + 2.25 等于多少？")))
    assert gen["input_ids"][0] == 1  # BOS <|im_start|>, as in the training records
    assert 1 <= len(gen["new_ids"]) <= 4 and (len(gen["new_ids"]) == 4 or gen["new_ids"][-1] == 2)


@pytest.mark.parametrize("args, message", [
    ([], "exactly one of --model MODEL_DIR or --run RUN_DIR"),
    (["--model", "nowhere"], "not an imported model folder"),
    (["--run", "nowhere"], "no such run directory"),
])
def test_generate_bad_options(args, message):
    proc = run_cli("generate", "--prompt", "hi", *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
