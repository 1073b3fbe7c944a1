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


# ------------------------------------------------------------ per-rank shards of a model_parallel 4 run
MP = 4


def mp4_strategy(params: dict):
    """A model_parallel 4 strategy for the tiny model, built with MindSpore's own strategy protobuf classes,
    laid out as MindFormers' Llama shards: column-parallel wq/wk/wv/w1/w3 and the vocab projection split on
    the output dim (LoRA B with them), row-parallel wo/w2 split on the input dim (LoRA A with them), norms
    and embeddings replicated (vocab_emb_dp). AdamW moments follow their parameter."""
    from mindspore.train import node_strategy_pb2 as pb

    column = (".wq.", ".wk.", ".wv.", ".w1.", ".w3.")
    strategy = pb.ParallelStrategyMap()
    strategy.current_stage = 0
    item = strategy.parallel_strategy_item.add()
    item.node_name = "Default/network-LlamaForCausalLM/model-LlamaModel/MatMul-op0"
    item.parallel_strategys.stage = 0
    item.parallel_strategys.parallel_strategy.add().dim.extend([1, MP])
    split = {}
    for name, value in params.items():
        shape = list(value.shape)
        tmap = [-1] * len(shape)
        base = name.split(".", 1)[1] if name.startswith(("adam_m.", "adam_v.", "moment1.", "moment2.")) else name
        if len(shape) == 2:
            if base.startswith("lm_head") or (any(c in base for c in column) and not base.endswith("lora_a")):
                tmap[0] = 0
            elif (".wo." in base or ".w2." in base) and not base.endswith("lora_b"):
                tmap[1] = 0
        if all(t == -1 for t in tmap):
            continue
        layout = strategy.parallel_layout_item.add()
        layout.param_name = name
        lay = layout.parallel_layouts
        lay.dev_matrix.add().dim.extend([MP])
        lay.tensor_map.add().dim.extend(tmap)
        lay.param_split_shape.add().dim.extend([d // MP if t == 0 else d for d, t in zip(shape, tmap)])
        lay.field, lay.opt_weight_shard_step, lay.opt_weight_shard_size = 0, 0, 0
        split[name] = tmap
    return strategy, split


def make_sharded_run(src_run, dst):
    """RUN_DIR as a 4-card Ascend run leaves it: checkpoints/checkpoint/rank_0..3/ with sink-mode names
    (`<prefix>_rank_<r>-<global step>_1.ckpt`), produced from the loop run's full checkpoints by
    `mindspore.transform_checkpoints` with the strategy above, and mindformers/strategy/ckpt_strategy_rank_<r>.ckpt."""
    import shutil

    import mindspore as ms
    import yaml

    from mathtrain import rundir

    dst.mkdir()
    info = json.loads((src_run / "run.json").read_text())
    (dst / "run.json").write_text(json.dumps(info))
    doc = yaml.safe_load((src_run / "mindformers.yaml").read_text())
    doc["runner_config"].update(sink_mode=True, sink_size=1)
    (dst / "mindformers.yaml").write_text(yaml.safe_dump(doc))
    full = rundir.loop_checkpoints(src_run)
    strategy, split = mp4_strategy(ms.load_checkpoint(str(full[0][1])))
    (dst / "mindformers" / "strategy").mkdir(parents=True)
    for r in range(MP):
        (dst / "mindformers" / "strategy" / f"ckpt_strategy_rank_{r}.ckpt").write_bytes(strategy.SerializeToString())
    strategy_file = dst / "mindformers" / "strategy" / "ckpt_strategy_rank_0.ckpt"
    for step, path in full:
        src = dst / "tmp" / f"src{step}"
        (src / "rank_0").mkdir(parents=True)
        shutil.copy(path, src / "rank_0" / path.name)
        ms.transform_checkpoints(str(src), str(dst / "tmp" / f"out{step}"), "shard",
                                 src_strategy_file=None, dst_strategy_file=str(strategy_file))
        for r in range(MP):
            folder = dst / "checkpoints" / "checkpoint" / f"rank_{r}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.move(dst / "tmp" / f"out{step}" / f"rank_{r}" / f"shard{r}.ckpt",
                        folder / f"tiny_lora_rank_{r}-{step}_1.ckpt")
    shutil.rmtree(dst / "tmp")
    return dst, split


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    _, run, _ = shared_run(tmp_path_factory)
    dst, split = make_sharded_run(run, tmp_path_factory.mktemp("mp4") / "run")
    proc = run_cli("merge", "--run", str(dst), "--keep-merged", "5", "--json", str(dst / "merge.json"), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run, dst, split, json.loads((dst / "merge.json").read_text())


@pytest.mark.train
def test_shards_are_real_model_parallel_shards(sharded):
    import mindspore as ms

    from mathtrain import rundir

    run, dst, split, _ = sharded
    full = ms.load_checkpoint(str(run / "checkpoints" / "tiny_lora_step000064.ckpt"))
    shard = ms.load_checkpoint(str(dst / "checkpoints" / "checkpoint" / "rank_2" / "tiny_lora_rank_2-64_1.ckpt"))
    name = "model.layers.0.attention.wq.mindpet_delta_lora_b"
    assert split[name] == [0, -1] and shard[name].shape == (full[name].shape[0] // MP, full[name].shape[1])
    np.testing.assert_array_equal(shard[name].asnumpy(), full[name].asnumpy()[2 * 16:3 * 16])
    assert shard["model.layers.0.attention.wo.weight"].shape == (64, 16)
    # sink-mode names carry the global step; rundir reads them with the YAML's sink_size
    assert [s for s, _ in rundir.lora_checkpoints(dst)] == [8, 16, 24, 32, 40, 48, 56, 64]
    assert [s for s, _ in rundir.lora_checkpoints(dst, rank=3)] == [8, 16, 24, 32, 40, 48, 56, 64]


@pytest.mark.train
def test_load_full_params_unshards_with_the_strategy_files(sharded):
    import mindspore as ms

    from mathtrain import rundir

    run, dst, _, _ = sharded
    full = ms.load_checkpoint(str(run / "checkpoints" / "tiny_lora_step000040.ckpt"))
    got = rundir.load_full_params(dst, dst / "checkpoints" / "checkpoint" / "rank_1" / "tiny_lora_rank_1-40_1.ckpt")
    assert set(full) <= set(got)
    for name in full:
        np.testing.assert_array_equal(got[name].asnumpy(), full[name].asnumpy(), err_msg=name)


@pytest.mark.train
def test_keep_merged_5_on_shards_equals_the_unsharded_merge(sharded):
    import mindspore as ms

    run, dst, _, result = sharded
    assert [m["step"] for m in result["merged"]] == [16, 24, 40, 48, 64]
    assert sorted(p.name for p in (dst / "merged").glob("*.ckpt")) == [
        f"tiny_lora_step{s:06d}_merged.ckpt" for s in (16, 24, 40, 48, 64)]
    ours = ms.load_checkpoint(str(dst / "merged" / "tiny_lora_step000064_merged.ckpt"))
    ref = ms.load_checkpoint(str(run / "merged" / "tiny_lora_step000064_merged.ckpt"))  # from the unsharded run
    assert ours.keys() == ref.keys()
    for name in ref:
        np.testing.assert_allclose(ours[name].asnumpy(), ref[name].asnumpy(), rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.train
def test_merged_logits_equal_lora_logits_on_shards(sharded):
    import mindspore as ms

    from mathtrain.infer import load_for_inference

    _, dst, _, _ = sharded
    lora_net, tok, spec, info = load_for_inference(dst)  # the newest step's 4 shards, unsharded
    merged_net, _, _, _ = load_for_inference(dst, merged=True)
    seq = info["model_config"]["seq_length"]
    ids = np.zeros((2, seq), np.int32)
    for i, p in enumerate(("计算 12.50 + 3.25 等于多少？", "计算 80.01 - 7.5 等于多少？")):
        t = tok.encode(spec.generation_prompt(p))
        ids[i, :len(t)] = t
    a = lora_net(ms.Tensor(ids))[0].asnumpy()
    b = merged_net(ms.Tensor(ids))[0].asnumpy()
    assert a.shape == (2, seq, 600)
    assert np.allclose(a, b, rtol=1e-4, atol=1e-5), np.abs(a - b).max()


@pytest.mark.train
def test_merge_keeps_a_bf16_base_in_bf16(sharded, tmp_path):
    """A bf16 base stays bf16 in the merged file (an 8B merged checkpoint stays ~16 GB): every merged
    weight is bf16(W + B@A * scale), computed in float64 and rounded once."""
    import mindspore as ms

    from mathtrain.merge import merge_checkpoint

    run, dst, _, _ = sharded
    base = ms.load_checkpoint(str(run / "base.ckpt"))
    bf16_base = tmp_path / "base_bf16.ckpt"
    ms.save_checkpoint([{"name": k, "data": v.astype(ms.bfloat16)} for k, v in base.items()], str(bf16_base))
    info = json.loads((dst / "run.json").read_text())
    info["base_checkpoint"] = str(bf16_base)
    (dst / "run.json").write_text(json.dumps(info))
    try:
        out = merge_checkpoint(dst, dst / "checkpoints" / "checkpoint" / "rank_0" / "tiny_lora_rank_0-64_1.ckpt",
                               tmp_path / "merged_bf16.ckpt")
    finally:
        info["base_checkpoint"] = str(run / "base.ckpt")
        (dst / "run.json").write_text(json.dumps(info))
    merged = ms.load_checkpoint(str(out))
    assert {str(v.dtype) for v in merged.values()} == {"BFloat16"}
    assert out.stat().st_size < 0.6 * (run / "merged" / "tiny_lora_step000064_merged.ckpt").stat().st_size
    lora = ms.load_checkpoint(str(run / "checkpoints" / "tiny_lora_step000064.ckpt"))
    name = "model.layers.1.attention.wq"
    w = ms.load_checkpoint(str(bf16_base))[f"{name}.weight"].astype(ms.float32).asnumpy().astype(np.float64)
    a = lora[f"{name}.mindpet_delta_lora_a"].asnumpy().astype(np.float64)
    b = lora[f"{name}.mindpet_delta_lora_b"].asnumpy().astype(np.float64)
    expected = ms.Tensor((w + (b @ a) * 2.0).astype(np.float32)).astype(ms.bfloat16).astype(ms.float32).asnumpy()
    np.testing.assert_array_equal(merged[f"{name}.weight"].astype(ms.float32).asnumpy(), expected)


@pytest.mark.train
def test_mindformers_transform_ckpt_lora_accepts_loop_checkpoints(merged, tmp_path):
    """MindFormers' own merge tool takes a loop checkpoint (it needs the base weights in the same file) and
    agrees with `mathtrain merge` (given --lora_scaling = alpha / rank = 2)."""
    import subprocess
    import sys

    import mindspore as ms

    run, _ = merged
    proc = subprocess.run([sys.executable, "-m", "mindformers.tools.transform_ckpt_lora", "--src_ckpt_path_or_dir",
                           str(run / "checkpoints" / "tiny_lora_step000064.ckpt"), "--dst_ckpt_dir", str(tmp_path),
                           "--lora_scaling", "2"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = ms.load_checkpoint(str(tmp_path / "merged_lora.ckpt"))
    ours = ms.load_checkpoint(str(run / "merged" / "tiny_lora_step000064_merged.ckpt"))
    for name in ours:
        np.testing.assert_allclose(theirs[name].asnumpy(), ours[name].asnumpy(), rtol=1e-5, atol=1e-6, err_msg=name)
