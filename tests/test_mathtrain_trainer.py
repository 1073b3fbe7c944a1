"""`[run].runner = "trainer"`: `mathtrain run` on CPU through MindFormers' own `Trainer(...).finetune()`
(the code an Ascend msrun worker runs), on the run's MindFormers YAML and MindRecord; a killed run resumes
through MindFormers' own resume (`load_checkpoint` = checkpoints/checkpoint, auto_trans_ckpt off) with
continuous step numbers."""
import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from train_helpers import FIXTURES, cli_args, read_metrics, run_cli, write_build_dir

pytestmark = pytest.mark.train

STEPS = 24  # 64 samples / batch 8 = 8 steps per epoch, 3 epochs; checkpoints every 8 steps


def trainer_toml(tmp_path: Path) -> Path:
    text = (FIXTURES / "tiny" / "train.toml").read_text(encoding="utf-8")
    text = text.replace('seed = 7\n', 'seed = 7\nrunner = "trainer"\n', 1)
    text = text.replace('config = "model.yaml"', f'config = "{FIXTURES / "tiny" / "model.yaml"}"', 1)
    text = text.replace('path = "tokenizer.model"', f'path = "{FIXTURES / "tiny" / "tokenizer.model"}"', 1)
    assert 'runner = "trainer"' in text and str(FIXTURES) in text
    path = tmp_path / "trainer.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trainer_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trainer")
    toml, build, run = trainer_toml(tmp), write_build_dir(tmp / "build", n=64), tmp / "run"
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(run),
                   "--max-steps", str(STEPS), "--json", str(tmp / "result.json"), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return toml, build, run, json.loads((tmp / "result.json").read_text())


def test_run_with_mindformers_trainer(trainer_run):
    import mindspore as ms

    from mathtrain import rundir

    _, _, run, result = trainer_run
    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
    losses = [m["loss"] for m in metrics]
    assert all(math.isfinite(x) for x in losses)
    assert losses[0] > 6.5 and min(losses[-3:]) < losses[0]  # untrained ~ ln(600) + noise, then learning
    for m in metrics:
        assert {"step", "loss", "lr", "tokens_per_s", "global_norm"} <= m.keys() and m["tokens_per_s"] > 0
    assert max(m["lr"] for m in metrics) == pytest.approx(5e-3, rel=1e-3)  # the YAML's schedule
    assert result["steps"] == STEPS and result["last_loss"] == pytest.approx(losses[-1])

    # MindFormers' CheckpointMonitor layout, read by rundir (merge/eval) for both runners
    info = json.loads((run / "run.json").read_text())
    ckpt_dir = run / "checkpoints" / "checkpoint" / "rank_0"
    assert info["runner"] == "trainer"
    files = sorted(p.name for p in ckpt_dir.glob("*.ckpt"))
    assert files == ["tiny_lora_rank_0-1_8.ckpt", "tiny_lora_rank_0-2_8.ckpt", "tiny_lora_rank_0-3_8.ckpt"]
    assert [s for s, _ in rundir.lora_checkpoints(run)] == [8, 16, 24]
    assert rundir.read_steps_index(run) == {"tiny_lora_rank_*-1_8.ckpt": 8, "tiny_lora_rank_*-2_8.ckpt": 16,
                                            "tiny_lora_rank_*-3_8.ckpt": 24}
    assert rundir.newest(run) == ckpt_dir / "tiny_lora_rank_0-3_8.ckpt"
    trainable = sorted(p.name for p in (run / "checkpoints" / "checkpoint_trainable" / "rank_0").glob("*.ckpt"))
    assert trainable[-1] == "tiny_lora_rank_0-trainable_params-3_8.ckpt"
    assert [s for s, _ in rundir.mf_checkpoints(run, 0, "checkpoint_trainable")] == [8, 16, 24]
    last = ms.load_checkpoint(str(ckpt_dir / "tiny_lora_rank_0-3_8.ckpt"))
    lora = [k for k in last if k.startswith("model.") and "mindpet_delta_lora" in k]
    assert len(lora) == 2 * 4 * 2  # (A, B) x wq,wk,wv,wo x 2 layers: LoRA from the YAML's pet_config
    assert int(last["global_step"].asnumpy().reshape(-1)[0]) == STEPS == int(last["step_num"].asnumpy())
    assert float(last["loss_scale"].asnumpy()) == 1.0  # static scale_sense, as the production YAML

    # the Trainer's own network has exactly the loop runner's trainable parameters
    trainable_count = sum(int(v.size) for k, v in last.items() if k in lora)
    assert info["trainer"]["trainable_params"] == info["params"]["trainable"] == trainable_count == 7_168

    # merge finds MindFormers' files and names the result by global step
    from mathtrain.merge import merge_run

    merged = merge_run(run)
    assert [p.name for p in merged] == [f"tiny_lora_step{STEPS:06d}_merged.ckpt"]
    assert not any("mindpet_delta_lora" in k for k in ms.load_checkpoint(str(merged[0])))


def test_eval_of_a_trainer_run_records_its_checkpoint(trainer_run):
    """The bug of issue 8 item 6: eval of a trainer run found no checkpoint."""
    from mathtrain.evaluate.run_eval import newest_checkpoint

    _, _, run, _ = trainer_run
    assert newest_checkpoint(run, merged=False) == run / "checkpoints" / "checkpoint" / "rank_0" / \
        "tiny_lora_rank_0-3_8.ckpt"


def test_existing_trainer_run_needs_resume(trainer_run):
    toml, build, run, _ = trainer_run
    again = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(run), "--quiet")
    assert again.returncode == 2 and "already holds checkpoints" in again.stderr
    done = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(run), "--max-steps",
                   str(STEPS), "--resume", "--quiet")
    assert done.returncode == 2 and f"already finished (step {STEPS} of {STEPS})" in done.stderr
    assert "Traceback" not in again.stderr + done.stderr


def test_killed_trainer_run_resumes_with_continuous_steps(trainer_run, tmp_path):
    """SIGKILL after the first checkpoint, then `--resume`: MindFormers reloads checkpoints/checkpoint/rank_0's
    newest file (weights, AdamW state, step) and skips the data it already saw; metrics.jsonl goes on from
    that step (MindSpore's cur_step_num restarts at 1; mathtrain adds MindFormers' initial_step), the
    resumed files carry MindSpore's `_1` prefix suffix, and the resumed losses equal the uninterrupted run's."""
    from mathtrain import rundir

    toml, build, reference, _ = trainer_run
    run = tmp_path / "run"
    proc = subprocess.Popen(cli_args("run", "--config", str(toml), "--data", str(build), "--out", str(run),
                                     "--max-steps", str(STEPS), "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900
    while proc.poll() is None and time.time() < deadline and not rundir.read_steps_index(run):
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = rundir.lora_checkpoints(run)[-1][0]
    assert killed_at < STEPS

    resumed = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(run), "--max-steps",
                      str(STEPS), "--resume", "--json", str(tmp_path / "result.json"), timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["start_step"], result["steps"]) == (killed_at, STEPS)

    doc = __import__("yaml").safe_load((run / "mindformers.yaml").read_text())
    assert doc["load_checkpoint"] == str(run.resolve() / "checkpoints" / "checkpoint")  # folder above rank_0
    assert doc["resume_training"] is True and doc["auto_trans_ckpt"] is False
    assert json.loads((run / "run.json").read_text())["trainer"]["initial_step"] == killed_at

    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))  # continuous, none twice
    ref = {m["step"]: m for m in read_metrics(reference)}
    np.testing.assert_allclose([m["loss"] for m in metrics], [ref[s]["loss"] for s in range(1, STEPS + 1)],
                               rtol=1e-4)
    np.testing.assert_allclose([m["lr"] for m in metrics], [ref[s]["lr"] for s in range(1, STEPS + 1)], rtol=1e-6)

    found = rundir.lora_checkpoints(run)
    assert [s for s, _ in found] == [8, 16, 24][:len(found)] and found[-1][0] == STEPS
    resumed_names = [p.name for s, p in found if s > killed_at]
    assert resumed_names and all(rundir.CKPT_NAME_RE.match(n).group("restart") == "1" for n in resumed_names)
    assert all(n.startswith("tiny_lora_rank_0_1-") for n in resumed_names)
    log = (run / "train.log").read_text()
    assert f"resume from step {killed_at} (runner trainer)" in log and f"done: steps {killed_at}->{STEPS}" in log


def test_checkpoint_names_mindformers_writes(tmp_path):
    """rundir's one regex over every name CheckpointMonitor / ModelCheckpoint write, and the global step of
    each: from the name (non-sink: (epoch - 1) x steps per epoch + step in epoch; sink_size 1: the epoch is the
    step), from checkpoints/steps.json for resumed `_<n>` names; a resumed run's file wins over an older one."""
    from mathtrain import rundir

    m = rundir.CKPT_NAME_RE.match("llama3_8b_lora_rank_3_2-trainable_params-5_1.ckpt")
    assert m.group("prefix", "rank", "restart", "kind", "epoch", "step") == ("llama3_8b_lora", "3", "2",
                                                                               "trainable_params", "5", "1")
    assert rundir.CKPT_NAME_RE.match("p_rank_0-network-2_8.safetensors").group("kind", "format") == ("network",
                                                                                                    "safetensors")
    assert rundir.CKPT_NAME_RE.match("p_step000016.ckpt") is None

    run = tmp_path / "run"
    folder = run / "checkpoints" / "checkpoint" / "rank_0"
    folder.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"steps_per_epoch": 8}))
    (run / "mindformers.yaml").write_text("runner_config: {sink_mode: false, sink_size: 1}\n")
    for name in ("p_rank_0-1_8.ckpt", "p_rank_0-2_8.ckpt", "p_rank_0_1-2_8.ckpt", "p_rank_0_1-3_4.ckpt",
                 ".p_rank_0-4_8.123.part.ckpt", ".p_rank_0-4_8.ckpt", "meta.json"):
        (folder / name).write_bytes(b"")
    rundir.record_steps(run, {"p_rank_*_1-2_8.ckpt": 16, "p_rank_*_1-3_4.ckpt": 20})
    assert [(s, p.name) for s, p in rundir.lora_checkpoints(run)] == [
        (8, "p_rank_0-1_8.ckpt"), (16, "p_rank_0_1-2_8.ckpt"), (20, "p_rank_0_1-3_4.ckpt")]
    assert rundir.checkpoint_step(run, folder / "p_rank_0_1-3_4.ckpt") == 20
    (run / "mindformers.yaml").write_text("runner_config: {sink_mode: true, sink_size: 1}\n")
    (folder / "p_rank_0-40_1.ckpt").write_bytes(b"")
    assert rundir.newest(run) == folder / "p_rank_0-40_1.ckpt"  # sink mode: the global step is in the name
