"""Kill a real `mathtrain run` after its first checkpoint, `--resume` it: it continues from that step with
the optimizer state restored, and ends exactly where an uninterrupted run ends."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from train_helpers import (SHARED_STEPS, TINY_TOML, cli_args, copy_run_until, read_metrics, run_cli, shared_run,
                           tiny_toml, write_build_dir)

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    build, reference, _ = shared_run(tmp_path_factory)
    run = tmp_path_factory.mktemp("resume") / "run"
    proc = subprocess.Popen(cli_args("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(run),
                                     "--quiet"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = run / "checkpoints" / "tiny_lora_step000008.ckpt"
    deadline = time.time() + 300
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    from mathtrain.rundir import lora_checkpoints

    killed_at = [s for s, _ in lora_checkpoints(run)]
    assert killed_at and killed_at[-1] < SHARED_STEPS
    after_kill = read_metrics(run)
    again = run_cli("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(run), "--resume",
                    "--quiet")
    assert again.returncode == 0, again.stderr[-3000:]
    return reference, run, killed_at[-1], after_kill


def test_resume_continues_from_the_last_checkpoint(resumed):
    _, run, last, after_kill = resumed
    assert after_kill and after_kill[-1]["step"] >= last  # the killed run had logged up to (or past) it
    steps = [m["step"] for m in read_metrics(run)]
    assert steps == list(range(1, SHARED_STEPS + 1))  # no step lost, none twice
    log = (run / "train.log").read_text()
    assert f"resume from step {last}:" in log and "records reused" in log.split("resume from step")[1]
    assert f"done: steps {last}->{SHARED_STEPS}" in log


def test_resumed_run_matches_uninterrupted_run(resumed):
    """Same final adapters AND Adam moments as the run that was never killed: optimizer state, step
    counter and data order were all restored (with fresh moments the weights would differ)."""
    import mindspore as ms

    reference, run, _, _ = resumed
    name = f"tiny_lora_step{SHARED_STEPS:06d}.ckpt"
    ref = ms.load_checkpoint(str(reference / "checkpoints" / name))
    got = ms.load_checkpoint(str(run / "checkpoints" / name))
    assert ref.keys() == got.keys()
    assert int(got["global_step"].asnumpy().reshape(-1)[0]) == SHARED_STEPS
    for key in ref:
        np.testing.assert_allclose(got[key].asnumpy(), ref[key].asnumpy(), rtol=1e-4, atol=1e-6, err_msg=key)
    ref_loss = [m["loss"] for m in read_metrics(reference)]
    got_loss = [m["loss"] for m in read_metrics(run)]
    np.testing.assert_allclose(got_loss, ref_loss, rtol=1e-4)


def test_resume_without_checkpoints_is_an_error(tmp_path):
    build = write_build_dir(tmp_path / "build", n=8)
    proc = run_cli("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(tmp_path / "r"),
                   "--resume")
    assert proc.returncode == 2 and "nothing to resume" in proc.stderr and "Traceback" not in proc.stderr


def test_resuming_a_finished_run_is_an_error(resumed, tmp_path_factory):
    build, _, _ = shared_run(tmp_path_factory)
    _, run, _, _ = resumed
    proc = run_cli("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(run), "--resume")
    assert proc.returncode == 2 and "already finished (step 64 of 64)" in proc.stderr


# ------------------------------------------------------------------------------- resume safety (issue 12)
@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    build, run, _ = shared_run(tmp_path_factory)
    return build, run


def test_resume_refuses_a_changed_recipe_naming_the_keys(shared, tmp_path):
    build, run = shared
    killed = copy_run_until(run, tmp_path / "run", 16)
    toml = tiny_toml(tmp_path, ("learning_rate = 5e-3", "learning_rate = 1e-3"), ("seed = 7", "seed = 8"),
                     ("rank = 8", "rank = 4"))
    before = {p: p.read_bytes() for p in killed.rglob("*") if p.is_file()}
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(killed), "--resume")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "--resume with a changed recipe" in line and "--force" in line
    assert "[lr].learning_rate 0.005 -> 0.001" in line and "[run].seed 7 -> 8" in line and "[lora].rank 8 -> 4" in line
    assert {p: p.read_bytes() for p in killed.rglob("*") if p.is_file()} == before  # nothing touched


def test_forced_resume_skips_a_damaged_checkpoint_and_repairs_metrics(shared, tmp_path):
    """--force continues with the changed learning rate and records it in run.json; the newest checkpoint
    (step 16) is damaged, so training warns and restarts from step 8; metrics.jsonl's half-written last
    line and the lines after step 8 are dropped, so the steps stay continuous."""
    build, run = shared
    killed = copy_run_until(run, tmp_path / "run", 16)
    newest = killed / "checkpoints" / "tiny_lora_step000016.ckpt"
    newest.write_bytes(newest.read_bytes()[:5000])
    toml = tiny_toml(tmp_path, ("learning_rate = 5e-3", "learning_rate = 4e-3"))
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(killed), "--resume", "--force",
                   "--json", str(tmp_path / "result.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning: tiny_lora_step000016.ckpt (step 16) is damaged; resuming from the checkpoint before it" \
        in proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["start_step"], result["steps"]) == (8, SHARED_STEPS)
    metrics = read_metrics(killed)
    assert [m["step"] for m in metrics] == list(range(1, SHARED_STEPS + 1))
    old = read_metrics(run)  # the same cosine, peak 5e-3 there, 4e-3 from step 9 on (lr_end 1e-4 in both)
    for new_m, old_m in zip(metrics[8:], old[8:]):
        assert new_m["lr"] - 1e-4 == pytest.approx((old_m["lr"] - 1e-4) * (4e-3 - 1e-4) / (5e-3 - 1e-4), rel=1e-4)
    assert [m["lr"] for m in metrics[:8]] == [m["lr"] for m in old[:8]]  # kept lines from before the resume
    info = json.loads((killed / "run.json").read_text())
    assert info["config"]["lr"]["learning_rate"] == 4e-3
    assert info["resumes"] == [{"from_step": 8, "changed": ["lr.learning_rate"], "forced": True}]
    assert "resumed with --force despite changed lr.learning_rate" in (killed / "train.log").read_text()


def test_broken_run_json_is_one_line(shared, tmp_path):
    build, run = shared
    killed = copy_run_until(run, tmp_path / "run", 16)
    broken = '{"config": {"run": '
    (killed / "run.json").write_text(broken, encoding="utf-8")
    for args in (("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(killed), "--resume"),
                 ("merge", "--run", str(killed))):
        proc = run_cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        line = proc.stderr.strip().splitlines()[-1]
        assert f"{killed / 'run.json'}:1:{len(broken) + 1}: not valid JSON" in line, line  # a value was due next


def test_target_modules_matching_nothing_lists_the_layer_names(tmp_path):
    build = write_build_dir(tmp_path / "build", n=16)
    toml = tiny_toml(tmp_path, ('target_modules = ".*wq|.*wk|.*wv|.*wo"', 'target_modules = "q_proj"'))
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert "[lora].target_modules = 'q_proj'" in line and "match" in line
    assert all(n in line for n in ("w1", "w2", "w3", "wo", "wq", "wv", "wk"))  # the model's layer names


def test_model_name_cannot_leave_the_run_folder(tmp_path):
    build = write_build_dir(tmp_path / "build", n=16)
    toml = tiny_toml(tmp_path, ('name = "tiny"', 'name = "../../../x"'))
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "[model].name = '../../../x'" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "run").exists() and not list(tmp_path.parent.glob("x*"))


def test_rundir_keeps_names_inside_the_run_folder(tmp_path):
    """The run directory's own guard (behind the config check): no name leads outside RUN_DIR."""
    from mathdata.errors import MathDataError
    from mathtrain import rundir

    assert rundir.loop_checkpoint_path(tmp_path, "tiny_lora", 16) == tmp_path.resolve() / "checkpoints" / \
        "tiny_lora_step000016.ckpt"
    for bad in ("../../x_lora", "a/b", "..", ".hidden"):
        with pytest.raises(MathDataError, match="cannot be used in file names"):
            rundir.loop_checkpoint_path(tmp_path, bad, 16)
    with pytest.raises(MathDataError, match="leads outside the run directory"):
        rundir.inside(tmp_path, tmp_path / "checkpoints" / ".." / ".." / "x.ckpt", "checkpoint")


def test_ctrl_c_says_how_to_resume_and_leaves_no_half_written_checkpoint(shared, tmp_path):
    from mathtrain import rundir

    build, _ = shared
    run = tmp_path / "run"
    proc = subprocess.Popen(cli_args("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(run)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (run / "checkpoints" / "tiny_lora_step000008.ckpt").exists() and proc.poll() is None \
            and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert "[SDK]" in err and " - WARNING - " in err  # without --quiet the libraries' lines show (cf. test_mathtrain_cli)
    line = err.strip().splitlines()[-1]
    assert line.startswith("mathtrain: error: interrupted; ") and "holds checkpoints up to step" in line
    assert f"mathtrain run --config {TINY_TOML} --data {build} --out {run} --resume" in line
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp files left
    assert all(rundir.readable(p) for _, p in rundir.lora_checkpoints(run))


def test_ascend_resume_refuses_a_changed_recipe_before_launching(tmp_path):
    """`--resume` on the production (Ascend) recipe runs the same recipe check before msrun is started."""
    from mathtrain.config import load_config

    toml = Path(__file__).resolve().parents[1] / "configs" / "llama3-8b-lora.toml"
    cfg = load_config(toml)
    old = cfg.to_dict()
    old["lr"]["learning_rate"] = cfg.lr.learning_rate * 2
    run = tmp_path / "run"
    (run / "checkpoints" / "checkpoint" / "rank_0").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint" / "rank_0" / "llama3_8b_lora_rank_0-40_1.ckpt").write_bytes(b"")
    (run / "mindformers.yaml").write_text("runner_config: {sink_mode: true, sink_size: 1}\n")
    (run / "run.json").write_text(json.dumps({"config": old, "model_config": {}, "prompt": {},
                                              "checkpoint_prefix": "llama3_8b_lora", "total_steps": 100}))
    proc = run_cli("run", "--config", str(toml), "--data", str(tmp_path), "--out", str(run), "--resume")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert "--resume with a changed recipe: [lr].learning_rate" in line and "--force" in line
    assert not (run / "msrun_log").exists()
