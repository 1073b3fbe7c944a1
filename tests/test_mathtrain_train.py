"""`mathtrain run` on CPU trains the tiny fixture for real: loss falls, checkpoints and logs are written."""
import json

import numpy as np

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
    from mathtrain.rundir import lora_checkpoints

    _, run, result = trained
    steps = [s for s, _ in lora_checkpoints(run)]
    assert steps == [8, 16, 24, 32, 40, 48, 56, 64]
    assert len(result["checkpoints"]) == 8
    assert (run / "base.ckpt").is_file() and (run / "mindformers.yaml").is_file()


def test_checkpoint_is_a_mindformers_train_checkpoint(trained):
    """The whole train network, as MindFormers' CheckpointMonitor saves it: base + LoRA weights, the
    optimizer's moments and step, and the epoch_num / step_num / loss_scale its resume reads."""
    import mindspore as ms

    _, run, _ = trained
    params = ms.load_checkpoint(str(run / "checkpoints" / "tiny_lora_step000064.ckpt"))
    lora = [k for k in params if k.startswith("model.") and "mindpet_delta_lora" in k]
    assert len(lora) == 2 * 4 * 2  # (A, B) x wq,wk,wv,wo x 2 layers
    moments = {k.split(".", 1)[1] for k in params if k.split(".", 1)[0] in ("adam_m", "adam_v", "moment1", "moment2")}
    assert set(lora) <= moments
    assert int(params["global_step"].asnumpy().reshape(-1)[0]) == 64
    assert (int(params["epoch_num"].asnumpy()), int(params["step_num"].asnumpy())) == (4, 64)
    assert float(params["loss_scale"].asnumpy()) == 1.0  # the YAML's static scale_sense
    base = ms.load_checkpoint(str(run / "base.ckpt"))
    for name in ("model.tok_embeddings.embedding_weight", "model.layers.1.attention.wq.weight", "lm_head.weight"):
        np.testing.assert_array_equal(params[name].asnumpy(), base[name].asnumpy())  # frozen base weights


def test_the_loop_steps_with_mindformers_wrapper_and_clips(trained):
    """metrics.jsonl carries MFTrainOneStepCell's gradient norm (before clipping); the tiny run has steps
    above norm 1, where the production step clips."""
    _, run, _ = trained
    norms = [m["global_norm"] for m in read_metrics(run)]
    assert len(norms) == SHARED_STEPS and all(n > 0 for n in norms)
    assert sum(n > 1.0 for n in norms) >= 1, max(norms)


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


def test_step_clips_the_global_norm_at_1(tmp_path):
    """`train.build_step` builds MindFormers' MFTrainOneStepCell from the YAML's runner_wrapper: one SGD step
    moves the LoRA weights by -lr * g * min(1, 1 / |g|), |g| the global gradient norm computed here
    independently with MindSpore's autodiff."""
    import mindspore as ms
    import yaml

    from mathtrain.model import build_network
    from mathtrain.runtime import set_context, use_output_dir
    from mathtrain.train import build_step, scaled_random_init

    use_output_dir(tmp_path / "mf")
    set_context("cpu", "pynative", 3)
    cfg = yaml.safe_load((TINY_TOML.parent / "model.yaml").read_text())
    from mathtrain.mindformers_yaml import CPU_MODEL_OVERRIDES

    cfg.update(CPU_MODEL_OVERRIDES, seq_length=16, batch_size=1, use_past=False)
    cfg["pet_config"] = {"pet_type": "lora", "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0,
                         "target_modules": ".*wq|.*wv"}
    net = build_network(cfg, lora=True)
    scaled_random_init(net, 3)
    rng = np.random.default_rng(0)
    for p in net.trainable_params():  # B away from zero so that both A and B get gradients
        p.set_data(ms.Tensor(rng.normal(0, 1.0, size=p.shape).astype(np.float32)))
    ids = ms.Tensor(rng.integers(3, 600, size=(2, 17)).astype(np.int32))
    labels = ms.Tensor(np.where(np.arange(17) > 4, ids.asnumpy(), -100).astype(np.int32))
    net.set_train(True)  # training mode: the model shifts input_ids/labels by one itself
    params = net.trainable_params()
    grads = ms.value_and_grad(net, None, params)(ids, labels)[1]
    norm = float(np.sqrt(sum(float((g.asnumpy().astype(np.float64) ** 2).sum()) for g in grads)))
    assert norm > 1.5, norm  # large enough that clipping must act
    before = [p.asnumpy().copy() for p in params]
    doc = {"optimizer": {"type": "SGD", "momentum": 0.0, "weight_decay": 0.0},
           "lr_schedule": {"type": "CosineWithWarmUpLR", "learning_rate": 0.1, "lr_end": 0.1, "warmup_ratio": 0.0},
           "runner_wrapper": {"type": "MFTrainOneStepCell", "scale_sense": 1.0, "use_clip_grad": True}}
    cell, _ = build_step(net, doc, total_steps=10)
    cell.set_train(True)
    loss, overflow, scale, lr, global_norm = cell(ids, labels)[:5]
    assert not bool(overflow.asnumpy()) and float(scale.asnumpy()) == 1.0
    assert float(global_norm.asnumpy()) == pytest.approx(norm, rel=1e-4)
    for p, b, g in zip(params, before, grads):
        np.testing.assert_allclose(p.asnumpy(), b - 0.1 * g.asnumpy() / norm, rtol=1e-4, atol=1e-6, err_msg=p.name)


def test_cpu_overflow_check_is_a_tensor_the_production_wrapper_uses(tmp_path):
    """The CPU replacement of the NPU float-status op returns a bool Tensor: MindFormers' MFTrainOneStepCell
    with MindSpore's DynamicLossScaleUpdateCell (which cannot consume a Python bool) runs on CPU, skips the
    update and halves the scale on an inf gradient, and updates normally otherwise."""
    import mindspore as ms
    from mindspore import nn

    from mathtrain.runtime import set_context, use_output_dir
    from mathtrain.train import build_step

    use_output_dir(tmp_path / "mf")
    set_context("cpu", "graph", 3)

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = ms.Parameter(ms.Tensor(np.ones((4, 4), np.float32)), name="w")

        def construct(self, x):
            return (ms.ops.matmul(x, self.w) ** 2).mean()

    net = Net()
    doc = {"optimizer": {"type": "SGD", "momentum": 0.0, "weight_decay": 0.0},
           "lr_schedule": {"type": "CosineWithWarmUpLR", "learning_rate": 0.01, "lr_end": 0.01, "warmup_ratio": 0.0},
           "runner_wrapper": {"type": "MFTrainOneStepCell", "use_clip_grad": True,
                              "scale_sense": {"type": "DynamicLossScaleUpdateCell", "loss_scale_value": 1024,
                                              "scale_factor": 2, "scale_window": 1000}}}
    cell, _ = build_step(net, doc, total_steps=4)
    cell.set_train(True)
    w0 = net.w.asnumpy().copy()
    out = cell(ms.Tensor(np.full((2, 4), np.inf, np.float32)))
    assert isinstance(out[1], ms.Tensor) and bool(out[1].asnumpy()) is True
    assert float(out[2].asnumpy()) == 512.0  # DynamicLossScaleUpdateCell halved the scale
    np.testing.assert_array_equal(net.w.asnumpy(), w0)  # the overflowing step was skipped
    out = cell(ms.Tensor(np.ones((2, 4), np.float32)))
    assert bool(out[1].asnumpy()) is False and not np.array_equal(net.w.asnumpy(), w0)
