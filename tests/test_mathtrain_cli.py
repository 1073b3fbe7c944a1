"""`mathtrain run` / `merge` through the CLI: help, one-line errors with hints, --json output."""
import json

import pytest

from train_helpers import TINY_TOML, run_cli, write_build_dir


@pytest.mark.parametrize("command", ["run", "merge"])
def test_help(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    for option in (["--config", "--data", "--out", "--max-steps", "--resume", "--dry-run", "--quiet", "--json"]
                   if command == "run" else ["--run", "--checkpoint", "--keep-merged", "--quiet", "--json"]):
        assert option in proc.stdout


def test_unknown_config_key_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_TOML.read_text().replace("[lora]\n", "[lora]\nrnak = 4\n"))
    proc = run_cli("run", "--config", str(bad), "--data", str(tmp_path), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("mathtrain: error: ")
    assert "unknown key [lora].rnak" in proc.stderr and "valid keys in [lora]: rank" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_data_dir(tmp_path):
    proc = run_cli("run", "--config", str(TINY_TOML), "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "no such data directory" in proc.stderr and "mathdata build" in proc.stderr


def test_merge_of_a_non_run(tmp_path):
    proc = run_cli("merge", "--run", str(tmp_path))
    assert proc.returncode == 2 and "not a mathtrain run directory" in proc.stderr


@pytest.mark.train
def test_short_run_json_to_stdout(tmp_path):
    build = write_build_dir(tmp_path / "build", n=32)
    proc = run_cli("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(tmp_path / "run"),
                   "--max-steps", "3", "--json", "-")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)  # nothing but the JSON on stdout
    assert (result["start_step"], result["steps"], result["total_steps"]) == (0, 3, 3)
    assert result["records"]["samples"] == 32 and result["trainable_params"] == 7168
    assert [c.rsplit("_", 1)[1] for c in result["checkpoints"]] == ["step000003.ckpt"]
    # `--json -` is quiet: MindFormers' / mindpet's / MindSpore's INFO and WARNING lines are silenced too
    assert proc.stderr == "", proc.stderr[:2000]
    merged = run_cli("merge", "--run", str(tmp_path / "run"), "--quiet")
    assert merged.returncode == 0 and merged.stdout == "" and merged.stderr == "", merged.stderr[:2000]
    assert (tmp_path / "run" / "merged" / "tiny_lora_step000003_merged.ckpt").is_file()
    loud = run_cli("merge", "--run", str(tmp_path / "run"))
    assert loud.returncode == 0 and "merged step 3:" in loud.stdout


def test_progress_display_shows_step_loss_lr_speed_eta():
    import io

    from rich.console import Console

    from mathtrain.commands_train import TrainProgress
    from mathtrain.model import ParamCount

    buf = io.StringIO()
    progress = TrainProgress(Console(file=buf, width=200, force_terminal=False))
    progress("start", {"start_step": 8, "total_steps": 64, "steps_per_epoch": 16,
                       "params": ParamCount(trainable=7168, total=150848),
                       "records": {"samples": 128, "truncated": 2, "dropped": 1, "seq_length": 96, "reused": True,
                                   "path": "/r/data/train.mindrecord"}})
    progress("step", {"step": 9, "loss": 4.25, "lr": 2.5e-3, "tokens_per_s": 21000.0, "total_steps": 64})
    progress("checkpoint", {"step": 16, "path": "/r/checkpoints/tiny_lora_step000016.ckpt"})
    progress("done", {})
    text = buf.getvalue()
    assert "128 samples, 2 truncated to 97 tokens, 1 dropped" in text and "reused" in text
    assert "trainable 7,168 / total 150,848 = 4.751803%" in text
    assert "resuming from step 8 of 64" in text
    assert "9/64" in text and "loss 4.2500" in text and "lr 2.50e-03" in text and "21,000 tok/s" in text
    assert "ETA" in text and "checkpoint step 16: tiny_lora_step000016.ckpt" in text
