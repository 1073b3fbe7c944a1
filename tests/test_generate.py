"""`mathtrain generate`: greedy text from an imported model (SmolLM2) or a trained run, stopping at the EOS id."""
from __future__ import annotations

import json

import pytest

from smollm2_helpers import imported_dir
from train_helpers import run_cli, shared_run

pytestmark = pytest.mark.train


def test_generate_model_chat_stops_at_eos(tmp_path):
    from mathtrain.commands_model import CHATML
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


def test_generate_run_uses_training_prompt(tmp_path_factory, tmp_path):
    from mathdata.prompts import PromptSpec
    from mathtrain.infer import read_run
    from mathtrain.tokenizer import tokenizer_from_config

    _, run, _ = shared_run(tmp_path_factory)
    proc = run_cli("generate", "--run", str(run), "--prompt", "计算 1.5 + 2.25 等于多少？", "-n", "6", "--json", "-")
    assert proc.returncode == 0, proc.stderr[-2000:]
    gen = json.loads(proc.stdout)
    info = read_run(run)
    tok = tokenizer_from_config(info.data["config"]["tokenizer"])
    spec = PromptSpec.from_dict(info.data["prompt"])
    assert gen["input_ids"] == list(tok.encode(spec.generation_prompt("计算 1.5 + 2.25 等于多少？")))
    assert 1 <= len(gen["new_ids"]) <= 6


@pytest.mark.parametrize("args, message", [
    ([], "exactly one of --model MODEL_DIR or --run RUN_DIR"),
    (["--model", "nowhere"], "not an imported model folder"),
    (["--run", "nowhere"], "no such run directory"),
])
def test_generate_bad_options(args, message):
    proc = run_cli("generate", "--prompt", "hi", *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
