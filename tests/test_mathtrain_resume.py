"""Kill a real `mathtrain run` after its first checkpoint, `--resume` it: it continues from that step with
the optimizer state restored, and ends exactly where an uninterrupted run ends."""
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from train_helpers import SHARED_STEPS, TINY_TOML, cli_args, read_metrics, run_cli, shared_run, write_build_dir

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
    from mathtrain.train import list_checkpoints

    killed_at = [s for s, _ in list_checkpoints(run)]
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
