"""The MindFormers YAML (`run --dry-run`) for CPU and Ascend, and the msrun command -- built, loaded by
MindFormerConfig, never run here."""
import sys
from pathlib import Path

import pytest
import yaml

from train_helpers import FIXTURES, TINY_TOML, run_cli, write_build_dir

ROOT = Path(__file__).resolve().parents[1]
PROD_TOML = ROOT / "configs" / "llama3-8b-lora.toml"
pytestmark = pytest.mark.train


def _dry_run(toml, tmp_path, *extra):
    build = write_build_dir(tmp_path / "build", n=4)
    out = tmp_path / "run"
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(out), "--dry-run", *extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not out.exists()  # a dry run writes nothing
    path = tmp_path / "printed.yaml"
    path.write_text(proc.stdout, encoding="utf-8")
    return proc.stdout, path


@pytest.fixture(scope="module")
def prod_dry_run(tmp_path_factory):
    """(stdout, printed YAML path, --json dict, tmp folder) of one production-recipe dry run, shared."""
    import json

    tmp = tmp_path_factory.mktemp("prod-dry")
    text, path = _dry_run(PROD_TOML, tmp, "--json", str(tmp / "dry.json"))
    return text, path, json.loads((tmp / "dry.json").read_text()), tmp


def _mf_config(path, tmp_path):
    from mathtrain.runtime import use_output_dir

    use_output_dir(tmp_path / "mf")
    from mindformers import MindFormerConfig

    return MindFormerConfig(str(path))


def test_cpu_dry_run_yaml_loads_in_mindformers(tmp_path):
    import json

    text, _ = _dry_run(TINY_TOML, tmp_path, "--json", "-")
    out = json.loads(text)  # with --json - stdout is the JSON alone: the YAML as a dict and the counts
    assert out["params"]["trainable"] == 7168 and out["params"]["total"] == 150_848 and out["launch"] is None
    path = tmp_path / "dry.yaml"
    path.write_text(yaml.safe_dump(out["yaml"]), encoding="utf-8")
    cfg = _mf_config(path, tmp_path)
    mc = cfg.model.model_config
    assert cfg.context.device_target == "CPU" and cfg.use_parallel is False
    assert (mc.use_flash_attention, mc.fused_rms_norm, mc.use_rope_slice) == (False, False, True)
    assert {mc.compute_dtype, mc.param_init_type, mc.layernorm_compute_type, mc.softmax_compute_type} == {"float32"}
    assert (mc.hidden_size, mc.num_layers, mc.vocab_size, mc.seq_length) == (64, 2, 600, 96)
    assert mc.pet_config.to_dict() == {"pet_type": "lora", "lora_rank": 8, "lora_alpha": 16.0, "lora_dropout": 0.0,
                                       "target_modules": ".*wq|.*wk|.*wv|.*wo"}
    assert cfg.optimizer.to_dict() == {"type": "AdamWeightDecay", "beta1": 0.9, "beta2": 0.95, "eps": 1e-8,
                                       "weight_decay": 0.01}
    assert cfg.runner_wrapper.to_dict() == {"type": "MFTrainOneStepCell", "scale_sense": 1.0, "use_clip_grad": True}
    assert cfg.lr_schedule.type == "CosineWithWarmUpLR" and cfg.lr_schedule.learning_rate == 5e-3
    assert cfg.train_dataset.data_loader.type == "MindDataset"
    assert cfg.train_dataset.data_loader.dataset_dir.endswith("run/data/train.mindrecord")
    assert cfg.processor.tokenizer.vocab_file == str(FIXTURES / "tiny" / "tokenizer.model")
    assert "msrun" not in text


def test_ascend_dry_run_yaml_and_msrun_command(prod_dry_run):
    text, path, _, tmp_path = prod_dry_run
    cfg = _mf_config(path, tmp_path)
    mc = cfg.model.model_config
    assert cfg.context.device_target == "Ascend" and cfg.use_parallel is True and cfg.parallel.parallel_mode == 1
    assert mc.compute_dtype == "bfloat16" and mc.param_init_type == "float32" and mc.use_flash_attention is True
    assert mc.fused_rms_norm is not False and mc.use_rope_slice is False  # the CPU workarounds are CPU-only
    assert (cfg.parallel_config.data_parallel, cfg.parallel_config.model_parallel,
            cfg.parallel_config.pipeline_stage) == (1, 4, 1)
    assert (mc.hidden_size, mc.num_layers, mc.n_kv_heads, mc.vocab_size, mc.intermediate_size) == (
        4096, 32, 8, 128256, 14336)
    assert mc.pet_config.lora_rank == 8 and mc.pet_config.target_modules == ".*wq|.*wv"
    assert (cfg.runner_config.epochs, cfg.runner_config.batch_size, mc.seq_length) == (6, 64, 256)
    assert cfg.runner_wrapper.scale_sense == 1.0 and cfg.runner_wrapper.use_clip_grad is True  # static, as MF's Llama3
    assert cfg.optimizer.to_dict() == {"type": "AdamWeightDecay", "beta1": 0.9, "beta2": 0.95, "eps": 1e-8,
                                       "weight_decay": 0.01}
    assert (mc.bos_token_id, mc.eos_token_id, mc.pad_token_id) == (128000, 128001, 128002)
    assert cfg.processor.tokenizer.to_dict() == {"type": "Llama3Tokenizer",
                                                 "vocab_file": "/data/llama3-8b/tokenizer.model"}
    assert "save_file" not in cfg.parallel.strategy_ckpt_config  # per-rank names are MindFormers' (test below)
    assert cfg.parallel.strategy_ckpt_config.only_trainable_params is False
    assert cfg.load_checkpoint == "/data/llama3-8b/llama3_8b.ckpt" and cfg.auto_trans_ckpt is True
    assert "# params: trainable 3,407,872 / total 8,030,261,248 = 0.042438%" in text
    launch = [line for line in text.splitlines() if line.startswith("# launch: ")]
    assert len(launch) == 1
    cmd = launch[0][len("# launch: "):].split()
    assert cmd[:3] == ["msrun", "--worker_num=4", "--local_worker_num=4"]
    assert cmd[-5].endswith("mathtrain/ascend_runner.py") and Path(cmd[-5]).is_file()
    assert cmd[-4:-2] == ["--config", str(tmp_path / "run" / "mindformers.yaml")]


def test_prepare_ascend_writes_records_yaml_and_command(tmp_path):
    from mathtrain.config import load_config
    from mathtrain.launch import prepare_ascend

    cfg = load_config(TINY_TOML)
    cfg = cfg.with_overrides("run", device="ascend", devices=2).with_overrides("parallel", model_parallel=2)
    build = write_build_dir(tmp_path / "build", n=16)
    yaml_path, cmd = prepare_ascend(cfg, build, tmp_path / "run", resume=True)
    run = (tmp_path / "run").resolve()
    assert cmd == ["msrun", "--worker_num=2", "--local_worker_num=2", "--master_port=8118",
                   f"--log_dir={run / 'msrun_log'}", "--join=True", "--cluster_time_out=7200",
                   str(ROOT / "src" / "mathtrain" / "ascend_runner.py"), "--config", str(yaml_path),
                   "--run-dir", str(run)]
    doc = yaml.safe_load(yaml_path.read_text())
    # MindFormers' resume: the folder above rank_r (CheckpointMonitor writes checkpoints/checkpoint/rank_r/)
    assert doc["resume_training"] is True and doc["load_checkpoint"] == str(run / "checkpoints" / "checkpoint")
    assert doc["auto_trans_ckpt"] is False
    assert doc["parallel_config"]["model_parallel"] == 2 and doc["lr_schedule"]["total_steps"] == 8  # 16/8 x 4
    assert Path(doc["train_dataset"]["data_loader"]["dataset_dir"]).is_file()  # tokenised on the host
    import json

    info = json.loads((run / "run.json").read_text())  # what `mathtrain eval` reads, without weights
    assert info["params"]["trainable"] == 7168 and info["params"]["total"] == 150_848 and info["total_steps"] == 8


def test_ascend_runner_has_a_cli():
    import subprocess

    proc = subprocess.run([sys.executable, str(ROOT / "src" / "mathtrain" / "ascend_runner.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--config" in proc.stdout and "--run-dir" in proc.stdout


def test_ascend_runner_metrics_callback(tmp_path):
    """The worker-side callback writes the same metrics.jsonl lines as the CPU loop (run here on CPU)."""
    import json
    import types

    import numpy as np

    from mathtrain.runtime import set_context, use_output_dir

    use_output_dir(tmp_path / "mf")
    set_context("cpu", "pynative", 0)
    import mindspore as ms
    from mindformers.core.lr import CosineWithWarmUpLR

    from mathtrain import ascend_runner  # (msrun runs the same file as a script)
    lr = CosineWithWarmUpLR(learning_rate=3e-5, lr_end=1e-6, warmup_ratio=0.5, total_steps=4)
    cb = ascend_runner.metrics_callback(str(tmp_path), 64 * 256, lr)
    for step in (1, 2):
        args = types.SimpleNamespace(net_outputs=(ms.Tensor(np.float32(2.5 - step)), False, 1.0), cur_step_num=step)
        cb.on_train_step_end(types.SimpleNamespace(original_args=lambda a=args: a))
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(x["step"], x["loss"]) for x in lines] == [(1, 1.5), (2, 0.5)]
    assert lines[0]["lr"] == 0.0 and lines[1]["lr"] == pytest.approx(1.5e-5) and lines[1]["tokens_per_s"] > 0


def test_dry_run_json_carries_the_exact_counts(prod_dry_run):
    text, _, out, _ = prod_dry_run
    assert out["params"] == {"trainable": 3_407_872, "total": 8_030_261_248, "ratio": 3_407_872 / 8_030_261_248}
    assert out["launch"][0] == "msrun" and out["yaml"] == yaml.safe_load(text)  # the YAML printed


def _effective_strategy_file(parallel: dict, rank: int, monkeypatch) -> str:
    """What MindFormers' ParallelOperator.init_communication does with the YAML's `parallel` block on rank r
    (core/context/parallel.py: set_strategy_save_path, then set_auto_parallel_context(**parallel)), minus
    the collective init; returns the strategy file MindSpore would write."""
    import mindspore as ms
    from mindformers.core.context.parallel import ParallelOperator
    from mindformers.utils.file_utils import set_strategy_save_path

    monkeypatch.setenv("RANK_ID", str(rank))
    ctx = dict(parallel)
    ctx.pop("parallel_optimizer_config", None)
    ms.reset_auto_parallel_context()
    try:
        set_strategy_save_path(ctx)
        ParallelOperator._set_ms_auto_parallel_context(**ctx)
        return ms.get_auto_parallel_context("strategy_ckpt_save_file")
    finally:
        ms.reset_auto_parallel_context()


def test_every_rank_writes_its_own_strategy_file(prod_dry_run, tmp_path, monkeypatch):
    """Through MindFormers' own code: rank r's strategy is output_dir/strategy/ckpt_strategy_rank_{r}.ckpt,
    the names TransformCkpt globs for. The old YAML (strategy_ckpt_config.save_file) gave all ranks one file."""
    from mindformers.core.context.validators import validate_parallel_mode

    cfg = _mf_config(prod_dry_run[1], tmp_path)
    validate_parallel_mode(cfg)  # as build_context does: parallel_mode 1 -> "semi_auto_parallel"
    parallel = cfg.parallel.to_dict()
    strategy_dir = tmp_path / "mf" / "strategy"
    for rank in (0, 3):
        assert _effective_strategy_file(parallel, rank, monkeypatch) == str(
            strategy_dir / f"ckpt_strategy_rank_{rank}.ckpt")
    old = {**parallel, "strategy_ckpt_config": {"save_file": str(tmp_path / "one.ckpt"),
                                                "only_trainable_params": False}}
    assert {_effective_strategy_file(old, r, monkeypatch) for r in (0, 3)} == {str(tmp_path / "one.ckpt")}


@pytest.mark.parametrize("kind", ["AdamWeightDecay", "AdamW"])
def test_yaml_optimizer_through_mindformers_build_optim(prod_dry_run, tmp_path, kind):
    """MindFormers' build_optim on the YAML's optimizer block: AdamWeightDecay is MindSpore's, and its first
    update is the seed's (no bias correction): p - lr * (m / (eps + sqrt(v)) + wd * p), m = (1-b1) g,
    v = (1-b2) g^2. MindFormers' AdamW divides m and v by (1 - b^t): a ~2.24x larger first step."""
    import numpy as np

    from mathtrain.config import load_config
    from mathtrain.mindformers_yaml import optimizer_block
    from mathtrain.runtime import set_context, use_output_dir

    use_output_dir(tmp_path / "mf")
    set_context("cpu", "pynative", 0)
    import mindspore as ms
    from mindformers.core.optim import build_optim

    if kind == "AdamWeightDecay":  # the production dry run's YAML, as MindFormers reads it
        block = _mf_config(prod_dry_run[1], tmp_path).optimizer.to_dict()
    else:  # the option
        block = optimizer_block(load_config(TINY_TOML).with_overrides("optimizer", type=kind))
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3)).astype(np.float32)
    g = rng.normal(size=(4, 3)).astype(np.float32)
    param = ms.Parameter(ms.Tensor(p0), name="lora_a")
    lr, (b1, b2, eps, wd) = 1e-3, (0.9, 0.95, 1e-8, 0.01)
    opt = build_optim(dict(block), default_args={"params": [param], "learning_rate": lr})
    opt((ms.Tensor(g),))
    got = param.asnumpy().astype(np.float64)
    m, v = (1 - b1) * g.astype(np.float64), (1 - b2) * g.astype(np.float64) ** 2
    seed = p0 - lr * (m / (eps + np.sqrt(v)) + wd * p0)
    corrected = p0 - lr * ((m / (1 - b1)) / (eps + np.sqrt(v / (1 - b2))) + wd * p0)
    if kind == "AdamWeightDecay":
        assert type(opt) is ms.nn.AdamWeightDecay
        np.testing.assert_allclose(got, seed, rtol=0, atol=1e-6)
        assert np.abs(got - corrected).max() > 1e-4
    else:
        assert type(opt).__module__.startswith("mindformers")
        np.testing.assert_allclose(got, corrected, rtol=0, atol=1e-6)
        ratio = np.abs(p0 - corrected - lr * wd * p0) / np.abs(p0 - seed - lr * wd * p0)
        np.testing.assert_allclose(ratio, np.sqrt(1 - b2) / (1 - b1), rtol=1e-3)  # ~2.236


def test_msrun_workers_get_this_interpreter(tmp_path):
    """msrun runs `python` from PATH for every worker: launch_env puts this venv's bin first, so `python`
    and `msrun` resolve to the interpreter that has mathtrain and MindFormers, activated or not."""
    import os
    import shutil

    from mathtrain.launch import launch_env

    env = launch_env({"PATH": os.pathsep.join(["/usr/bin", "/bin"])})
    bindir = Path(sys.executable).parent
    assert env["PATH"].split(os.pathsep)[0] == str(bindir)
    python = shutil.which("python", path=env["PATH"])
    assert python and Path(python).parent == bindir
    assert Path(shutil.which("msrun", path=env["PATH"])).parent == bindir  # msrun ships with mindspore


def test_ascend_runner_as_msrun_runs_it_reaches_the_package(tmp_path):
    """msrun starts `python .../ascend_runner.py` (a script, no package): the callback's relative imports
    must still resolve, else every worker dies at train begin."""
    import subprocess

    code = ("import runpy, sys; sys.argv = ['ascend_runner.py', '--config', 'C', '--run-dir', 'R'];"
            "import mathtrain.ascend_runner as m; m.run_trainer = lambda *a, **k: print('OK', "
            "m.metrics_callback.__module__, type(m.metrics_callback(sys.argv[4], 1)).__name__);"
            f"runpy.run_path({str(ROOT / 'src' / 'mathtrain' / 'ascend_runner.py')!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[:2] == ["OK", "mathtrain.ascend_runner"]
