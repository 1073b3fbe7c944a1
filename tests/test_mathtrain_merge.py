"""`mathtrain merge`: W + B@A * alpha/rank; the merged model's logits equal the LoRA model's."""
import json

import numpy as np
import pytest

from train_helpers import run_cli, shared_run



def test_even_picks():
    from mathtrain.merge import even_picks

    assert even_picks([20, 40, 60, 80, 100], 100, 5) == [20, 40, 60, 80, 100]
    assert even_picks(list(range(10, 101, 10)), 100, 5) == [20, 40, 60, 80, 100]
    assert even_picks([8, 16, 24, 32, 40, 48, 56, 64], 64, 5) == [16, 24, 40, 48, 64]
    assert even_picks([1, 2, 3], 3, 3) == [1, 2, 3]


def test_merge_weights_math_and_errors():
    from mathdata.errors import MathDataError
    from mathtrain.merge import merge_weights

    rng = np.random.default_rng(0)
    w, a, b = rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=(2, 4)), rng.normal(size=(6, 2))
    base = {"l.wq.weight": w, "l.w1.weight": w * 2}
    lora = {"l.wq.mindpet_delta_lora_a": a, "l.wq.mindpet_delta_lora_b": b}
    out = merge_weights(base, lora, scale=16 / 8)
    np.testing.assert_allclose(out["l.wq.weight"], w + 2 * (b @ a), rtol=1e-6)
    assert out["l.wq.weight"].dtype == np.float32 and out["l.w1.weight"] is base["l.w1.weight"]
    with pytest.raises(MathDataError, match="missing l.wq.mindpet_delta_lora_b"):
        merge_weights(base, {"l.wq.mindpet_delta_lora_a": a}, 2.0)
    with pytest.raises(MathDataError, match="B@A is"):
        merge_weights(base, {"l.wq.mindpet_delta_lora_a": a[:, :3], "l.wq.mindpet_delta_lora_b": b}, 2.0)
    with pytest.raises(MathDataError, match="no LoRA weights"):
        merge_weights(base, {}, 2.0)


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    build, run, _ = shared_run(tmp_path_factory)
    out = tmp_path_factory.mktemp("merge")
    proc = run_cli("merge", "--run", str(run), "--keep-merged", "5", "--json", str(out / "merge.json"), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run, json.loads((out / "merge.json").read_text())


@pytest.mark.train
def test_keep_merged_5_even_intervals(merged):
    run, result = merged
    steps = [m["step"] for m in result["merged"]]
    assert steps == [16, 24, 40, 48, 64]  # nearest saved steps to 64 * k / 5
    assert sorted(p.name for p in (run / "merged").glob("*.ckpt")) == [
        f"tiny_lora_step{s:06d}_merged.ckpt" for s in steps]


@pytest.mark.train
def test_merge_formula_uses_alpha_over_rank(merged):
    import mindspore as ms

    run, _ = merged
    base = ms.load_checkpoint(str(run / "base.ckpt"))
    lora = ms.load_checkpoint(str(run / "checkpoints" / "tiny_lora_step000064.ckpt"))
    out = ms.load_checkpoint(str(run / "merged" / "tiny_lora_step000064_merged.ckpt"))
    name = "model.layers.1.attention.wv"
    w = base[f"{name}.weight"].asnumpy()
    a, b = lora[f"{name}.mindpet_delta_lora_a"].asnumpy(), lora[f"{name}.mindpet_delta_lora_b"].asnumpy()
    assert np.abs(b).max() > 1e-3  # trained: B moved away from its zero init
    np.testing.assert_allclose(out[f"{name}.weight"].asnumpy(), w + (b @ a) * (16 / 8), rtol=1e-5, atol=1e-6)
    assert not any("mindpet" in k for k in out)
    np.testing.assert_array_equal(out["model.layers.1.feed_forward.w1.weight"].asnumpy(),
                                  base["model.layers.1.feed_forward.w1.weight"].asnumpy())


@pytest.mark.train
def test_merged_logits_equal_lora_logits(merged, tmp_path):
    import mindspore as ms

    from mathtrain.infer import generate, load_for_inference

    run, _ = merged
    lora_net, tok, spec, info = load_for_inference(run)
    merged_net, _, _, _ = load_for_inference(run, merged=True)
    seq = info["model_config"]["seq_length"]
    prompts = [spec.generation_prompt(p) for p in ("计算 12.50 + 3.25 等于多少？", "计算 80.01 - 7.5 等于多少？")]
    ids = np.zeros((2, seq), np.int32)
    for i, p in enumerate(prompts):
        t = tok.encode(p)
        ids[i, :len(t)] = t
    a = lora_net(ms.Tensor(ids))[0].asnumpy()
    b = merged_net(ms.Tensor(ids))[0].asnumpy()
    assert a.shape == (2, seq, 600)
    assert np.allclose(a, b, rtol=1e-4, atol=1e-5), np.abs(a - b).max()
    base_net, _, _, _ = load_for_inference(run, merged=True, checkpoint=run / "base.ckpt")
    assert not np.allclose(a, base_net(ms.Tensor(ids))[0].asnumpy(), atol=1e-3)  # LoRA really changed the model
    # greedy generation agrees too
    assert generate(lora_net, tok, prompts[:1], 12) == generate(merged_net, tok, prompts[:1], 12)


@pytest.mark.train
def test_keep_merged_more_than_saved_is_an_error(merged):
    run, _ = merged
    proc = run_cli("merge", "--run", str(run), "--keep-merged", "9")
    assert proc.returncode == 2 and "needs 9 checkpoints; the run has 8" in proc.stderr
    assert "Traceback" not in proc.stderr
