"""The Ascend path: the same MindFormers YAML, run by MindFormers' Trainer on N cards through `msrun`.

`prepare_ascend` tokenises to MindRecord on the launching host (same code and cache as the CPU path),
writes RUN_DIR/mindformers.yaml (bf16, semi-auto parallel with data/model/pipeline ways) and returns the
`msrun` command; `launch` runs it. `msrun` starts one `ascend_runner.py` worker per card; each worker
builds MindFormers' context from the YAML and calls `Trainer(config).finetune()`. Nothing here runs on
the CPU test machine: tests check the YAML and the command.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError
from mathdata.io import write_text

from .config import TrainConfig
from .mindformers_yaml import resume_overrides

MASTER_PORT = 8118


def runner_script() -> Path:
    return Path(__file__).with_name("ascend_runner.py").resolve()


def msrun_command(cfg: TrainConfig, run_dir: Path, yaml_path: Path, master_port: int = MASTER_PORT) -> list[str]:
    n = cfg.run.devices
    run_dir = Path(run_dir).resolve()
    return ["msrun", f"--worker_num={n}", f"--local_worker_num={n}", f"--master_port={master_port}",
            f"--log_dir={run_dir / 'msrun_log'}", "--join=True", "--cluster_time_out=7200",
            str(runner_script()), "--config", str(Path(yaml_path).resolve()), "--run-dir", str(run_dir)]


def prepare_ascend(cfg: TrainConfig, data_dir: Path, run_dir: Path, resume: bool = False) -> tuple[Path, list[str]]:
    """MindRecord, run.json and RUN_DIR/mindformers.yaml (with resume overrides when `resume`) written on
    this host; returns the YAML's path and the msrun command that trains from it."""
    from .mindformers_yaml import dump_yaml
    from .runtime import use_output_dir
    from .train import prepare

    if cfg.is_cpu:
        raise MathDataError("prepare_ascend needs device = 'ascend'", "use mathtrain.train.train for cpu")
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    use_output_dir(run_dir / "mindformers")
    from .runtime import quiet_mindformers

    quiet_mindformers()
    prep = prepare(cfg, Path(data_dir), run_dir)
    doc = resume_overrides(prep.yaml_doc, run_dir) if resume else prep.yaml_doc
    write_run_info(cfg, prep, run_dir, data_dir)
    yaml_path = run_dir / "mindformers.yaml"
    write_text(yaml_path, dump_yaml(doc))
    return yaml_path, msrun_command(cfg, run_dir, yaml_path)


def write_run_info(cfg: TrainConfig, prep, run_dir: Path, data_dir: Path) -> None:
    """run.json for an Ascend run, as the CPU loop writes it. The parameter counts are analytic: the
    launching host need not hold the 8B weights."""
    from dataclasses import asdict

    from .mindformers_yaml import checkpoint_prefix
    from .model import analytic_param_count
    from .rundir import write_run

    count = analytic_param_count(prep.arch, cfg.lora.rank, cfg.lora.target_modules)
    write_run(run_dir, {
        "config": cfg.to_dict(), "config_source": cfg.source, "data_dir": str(Path(data_dir).resolve()),
        "model_config": prep.yaml_doc["model"]["model_config"], "prompt": prep.prompt,
        "records": {k: v for k, v in asdict(prep.records).items() if k != "reused"},
        "records_key": prep.records.key, "steps_per_epoch": prep.steps_per_epoch,
        "total_steps": prep.total_steps, "base_checkpoint": cfg.model.checkpoint,
        "checkpoint_prefix": checkpoint_prefix(cfg), "runner": "trainer",
        "params": {"trainable": count.trainable, "total": count.total, "ratio": count.ratio, "analytic": True},
    })


def launch_env(environ: dict | None = None) -> dict:
    """The environment msrun runs in: this interpreter's bin folder first on PATH. msrun starts each worker
    with the literal `python` found on PATH (mindspore/parallel/cluster/process_entity/_utils.py), so from a
    venv that is not activated the workers would run a system Python without mathtrain or MindFormers."""
    import os

    env = dict(os.environ if environ is None else environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir]])
    return env


def launch(command: list[str]) -> int:
    """Run msrun in the foreground (with `launch_env`); its workers log under RUN_DIR/msrun_log."""
    import shutil

    env = launch_env()
    exe = shutil.which(command[0], path=env["PATH"]) or command[0]
    try:
        return subprocess.call([exe, *command[1:]], env=env)
    except FileNotFoundError:
        raise MathDataError("`msrun` not found on PATH", "install mindspore on the Ascend host "
                            "(msrun ships with it) and activate its environment") from None


@dataclass(frozen=True)
class DryRun:
    """What `mathtrain run --dry-run` shows: the MindFormers YAML the run would use, its exact parameter
    counts (from the config alone) and, on ascend, the msrun command. Nothing is written."""
    yaml: dict
    params: object           # model.ParamCount
    launch: list[str] | None

    def to_dict(self) -> dict:
        p = self.params
        return {"dry_run": True, "params": {"trainable": p.trainable, "total": p.total, "ratio": p.ratio},
                "launch": self.launch, "yaml": self.yaml}


def dry_run(cfg: TrainConfig, data_dir: Path, run_dir: Path) -> DryRun:
    """The run's YAML, parameter counts and launch command, checked like a real run (files, manifest)."""
    import os
    import tempfile

    from .config import check_files, load_model_config
    from .mindformers_yaml import build_yaml
    from .model import analytic_param_count
    from .records import RECORD_FILE, read_manifest
    from .runtime import quiet_mindformers

    check_files(cfg, dry_run=True)
    read_manifest(data_dir)
    with tempfile.TemporaryDirectory(prefix="mathtrain-dry-") as scratch:
        os.environ.setdefault("LOCAL_DEFAULT_PATH", scratch)   # MindFormers writes logs there on import
        quiet_mindformers()
        arch = load_model_config(cfg)
    doc = build_yaml(cfg, arch, run_dir, str(Path(run_dir).resolve() / "data" / RECORD_FILE))
    count = analytic_param_count(arch, cfg.lora.rank, cfg.lora.target_modules)
    cmd = msrun_command(cfg, run_dir, Path(run_dir) / "mindformers.yaml") if not cfg.is_cpu else None
    return DryRun(doc, count, cmd)


def run_on_ascend(cfg: TrainConfig, data_dir: Path, run_dir: Path, *, resume: bool = False, force: bool = False,
                  max_steps: int | None = None, on_event=None, library_output=None) -> None:
    """`mathtrain run` on Ascend: the CPU path's resume checks, then prepare (MindRecord, YAML, run.json)
    and msrun. `on_event(kind, info)`: "warning" {message}, "launch" {yaml, command} before msrun starts.
    `library_output()`: a context for the preparation (e.g. the CLI's stdout guard); msrun's own output
    is left alone. A non-zero msrun exit is a MathDataError naming its log folder, with msrun's exit code."""
    import contextlib
    emit = on_event or (lambda kind, info: None)
    if max_steps is not None:
        raise MathDataError("--max-steps is CPU-only", "on ascend, set [train].epochs instead")
    if resume:  # the same checks as on CPU: a changed recipe needs --force, something to resume must exist
        from .train import _check_run_dir
        _check_run_dir(Path(run_dir).resolve(), cfg, True, force, emit, verify=False)
    with (library_output or contextlib.nullcontext)():
        yaml_path, cmd = prepare_ascend(cfg, data_dir, run_dir, resume=resume)
    emit("launch", {"yaml": str(yaml_path), "command": cmd})
    code = launch(cmd)
    if code:
        raise MathDataError(f"msrun exited with status {code}", f"read {Path(run_dir) / 'msrun_log'}", exit_code=code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(launch(sys.argv[1:]))
