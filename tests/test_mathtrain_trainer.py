"""`[run].runner = "trainer"`: `mathtrain run` on CPU through MindFormers' own `Trainer(...).finetune()`
(the code an Ascend msrun worker runs), on the run's MindFormers YAML and MindRecord."""
import json
import math
from pathlib import Path

import pytest

from train_helpers import FIXTURES, read_metrics, run_cli, write_build_dir

pytestmark = pytest.mark.train

STEPS = 10  # 64 samples / batch 8 = 8 steps per epoch: one per-epoch checkpoint (step 8) + the last (step 10)


def trainer_toml(tmp_path: Path) -> Path:
    text = (FIXTURES / "tiny" / "train.toml").read_text(encoding="utf-8")
    text = text.replace('seed = 7\n', 'seed = 7\nrunner = "trainer"\n', 1)
    text = text.replace('config = "model.yaml"', f'config = "{FIXTURES / "tiny" / "model.yaml"}"', 1)
    text = text.replace('path = "tokenizer.model"', f'path = "{FIXTURES / "tiny" / "tokenizer.model"}"', 1)
    assert 'runner = "trainer"' in text and str(FIXTURES) in text
    path = tmp_path / "trainer.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_run_with_mindformers_trainer(tmp_path):
    import mindspore as ms

    from mathtrain.train import list_checkpoints

    toml, build, run = trainer_toml(tmp_path), write_build_dir(tmp_path / "build", n=64), tmp_path / "run"
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(run),
                   "--max-steps", str(STEPS), "--json", str(tmp_path / "result.json"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())

    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
    losses = [m["loss"] for m in metrics]
    assert all(math.isfinite(x) for x in losses)
    assert losses[0] > 6.5 and min(losses[-3:]) < losses[0]  # untrained ~ ln(600) + noise, then learning
    for m in metrics:
        assert {"step", "loss", "lr", "tokens_per_s"} <= m.keys() and m["tokens_per_s"] > 0
    assert max(m["lr"] for m in metrics) == pytest.approx(5e-3, rel=1e-3)  # the YAML's schedule
    assert result["steps"] == STEPS and result["last_loss"] == pytest.approx(losses[-1])

    # MindFormers' CheckpointMonitor layout, recorded in run.json and understood by list_checkpoints (merge/eval)
    info = json.loads((run / "run.json").read_text())
    ckpt_dir = run / "checkpoints" / "checkpoint" / "rank_0"
    assert info["runner"] == "trainer" and Path(info["checkpoint_dir"]) == ckpt_dir
    files = sorted(p.name for p in ckpt_dir.glob("*.ckpt"))
    assert files == ["tiny_lora_rank_0-1_8.ckpt", "tiny_lora_rank_0-2_2.ckpt"]
    assert [s for s, _ in list_checkpoints(run)] == [8, STEPS]
    last = ms.load_checkpoint(str(ckpt_dir / "tiny_lora_rank_0-2_2.ckpt"))
    lora = [k for k in last if k.startswith("model.") and "mindpet_delta_lora" in k]
    assert len(lora) == 2 * 4 * 2  # (A, B) x wq,wk,wv,wo x 2 layers: LoRA from the YAML's pet_config
    assert f"adam_m.{lora[0]}" in last and int(last["global_step"].asnumpy().reshape(-1)[0]) == STEPS

    # the Trainer's own network has exactly the loop runner's trainable parameters
    trainable = sum(int(v.size) for k, v in last.items() if k in lora)
    assert info["trainer"]["trainable_params"] == info["params"]["trainable"] == trainable == 7_168
    assert result["trainable_params"] == 7_168

    # merge finds MindFormers' files through run.json and names the result by global step
    from mathtrain.merge import merge_run

    merged = merge_run(run)
    assert [p.name for p in merged] == [f"tiny_lora_step{STEPS:06d}_merged.ckpt"]
    assert not any("mindpet_delta_lora" in k for k in ms.load_checkpoint(str(merged[0])))

    again = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(run), "--quiet")
    assert again.returncode == 2 and "already holds checkpoints" in again.stderr
    resumed = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(run), "--resume", "--quiet")
    assert resumed.returncode == 2 and "--resume is not supported" in resumed.stderr
    assert "Traceback" not in again.stderr + resumed.stderr
