"""`mathtrain run` on CPU trains the tiny fixture for real: loss falls, checkpoints and logs are written."""
import json

import pytest

from train_helpers import SHARED_STEPS, read_metrics, run_cli, shared_run, TINY_TOML

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return shared_run(tmp_path_factory)


def test_loss_goes_down(trained):
    _, run, result = trained
    losses = [m["loss"] for m in read_metrics(run)]
    assert len(losses) == SHARED_STEPS
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert first > 6.5  # ~ ln(600) + noise: an untrained model
    assert last < first - 1.5, (first, last)
    assert result["last_loss"] == pytest.approx(losses[-1])


def test_metrics_lines_and_schedule(trained):
    _, run, result = trained
    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == list(range(1, SHARED_STEPS + 1))
    for m in metrics:
        assert {"step", "loss", "lr", "tokens_per_s"} <= m.keys()
        assert isinstance(m["step"], int) and m["tokens_per_s"] > 0
    lrs = [m["lr"] for m in metrics]
    peak = max(lrs)
    assert peak == pytest.approx(5e-3, rel=1e-3)  # [lr].learning_rate of the tiny recipe
    assert lrs.index(peak) <= 4  # warm-up 5% of 64 steps
    assert lrs[-1] < 2e-4 and all(a >= b for a, b in zip(lrs[4:], lrs[5:]))  # cosine decay towards lr_end
    assert result["tokens_per_s"] > 0 and result["steps"] == SHARED_STEPS


def test_checkpoints_on_schedule(trained):
    from mathtrain.train import list_checkpoints

    _, run, result = trained
    steps = [s for s, _ in list_checkpoints(run)]
    assert steps == [8, 16, 24, 32, 40, 48, 56, 64]
    assert len(result["checkpoints"]) == 8
    assert (run / "base.ckpt").is_file() and (run / "mindformers.yaml").is_file()


def test_checkpoint_holds_lora_and_optimizer_state(trained):
    import mindspore as ms

    _, run, _ = trained
    params = ms.load_checkpoint(str(run / "checkpoints" / "tiny_lora_step000064.ckpt"))
    lora = [k for k in params if k.startswith("model.") and "mindpet_delta_lora" in k]
    assert len(lora) == 2 * 4 * 2  # (A, B) x wq,wk,wv,wo x 2 layers
    assert {f"adam_m.{k}" for k in lora} | {f"adam_v.{k}" for k in lora} <= params.keys()
    assert int(params["global_step"].asnumpy().reshape(-1)[0]) == 64
    assert not any(k.endswith(".weight") for k in params)  # only adapters: base weights live in base.ckpt


def test_params_and_log(trained):
    _, run, result = trained
    info = json.loads((run / "run.json").read_text())
    assert info["params"] == {"trainable": 7_168, "total": 150_848, "ratio": pytest.approx(7_168 / 150_848)}
    assert result["trainable_params"] == 7_168
    log = (run / "train.log").read_text()
    assert "params: trainable 7,168 / total 150,848" in log and "done: steps 0->64" in log
    assert info["records"]["samples"] == 128 and info["records"]["truncated"] == 0


def test_existing_run_needs_resume(trained):
    build, run, _ = trained
    proc = run_cli("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(run), "--quiet")
    assert proc.returncode == 2
    assert "already holds checkpoints" in proc.stderr and "--resume" in proc.stderr
    assert "Traceback" not in proc.stderr
