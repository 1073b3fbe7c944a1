"""`mathtrain run` as library calls: `plan` (the dry run: YAML, exact counts, launch command; nothing
written) and `run` (the CPU training loop, train.train, or the Ascend launch, launch.run_on_ascend, by the
config's device). An interrupted CPU run ends in a MathDataError (exit 130) naming the newest checkpoint
on disk and the command that resumes from it."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, ContextManager

from mathdata.errors import MathDataError

from .config import TrainConfig, load_config
from .launch import DryRun


def load_run_config(config: Path, out: Path) -> TrainConfig:
    """The TOML at `config`, for a run into the folder `out` (which must not be a file)."""
    if Path(out).exists() and not Path(out).is_dir():
        raise MathDataError(f"--out {out}: exists and is not a folder", "give a folder for the run (RUN_DIR)")
    return load_config(config)


def plan(config: Path, data: Path, out: Path,
         library_output: Callable[[], ContextManager] | None = None) -> DryRun:
    """What `run` would do (launch.dry_run), checked like a real run. `library_output()`: a context for
    the libraries' own printing (e.g. the CLI's stdout guard)."""
    from .launch import dry_run

    cfg = load_run_config(config, out)
    with (library_output or contextlib.nullcontext)():
        return dry_run(cfg, data, out)


def run(config: Path, data: Path, out: Path, *, max_steps: int | None = None, resume: bool = False,
        force: bool = False, on_event: Callable[[str, dict], None] | None = None,
        library_output: Callable[[], ContextManager] | None = None):
    """Train on CPU (returns train.TrainResult) or launch msrun on Ascend (returns None: the workers
    write RUN_DIR). `on_event(kind, info)` sees train's events, and "launch" {yaml, command} on Ascend."""
    cfg = load_run_config(config, out)
    if not cfg.is_cpu:
        from .launch import run_on_ascend

        run_on_ascend(cfg, data, out, resume=resume, force=force, max_steps=max_steps, on_event=on_event,
                      library_output=library_output)
        return None
    from .train import Interrupted, train

    try:
        with (library_output or contextlib.nullcontext)():
            return train(cfg, data, out, max_steps=max_steps, resume=resume, on_event=on_event, force=force)
    except (Interrupted, KeyboardInterrupt) as err:
        raise interrupted(err, config, data, out, max_steps) from None


def interrupted(err: BaseException, config: Path, data: Path, out: Path, max_steps: int | None) -> MathDataError:
    """Ctrl-C during `run`: which checkpoint RUN_DIR holds, and the command that continues from it."""
    saved = getattr(err, "checkpoint_step", None)
    if saved is None and Path(out).is_dir():  # interrupted before the step loop: what is on disk
        from .rundir import lora_checkpoints

        found = lora_checkpoints(Path(out))
        saved = found[-1][0] if found else None
    again = " ".join(["mathtrain", "run", "--config", str(config), "--data", str(data), "--out", str(out)]
                     + (["--max-steps", str(max_steps)] if max_steps is not None else []) + ["--resume"])
    return MathDataError(f"interrupted; {out} holds checkpoints up to step {saved}" if saved
                         else f"interrupted before the first checkpoint of {out}",
                         f"continue with `{again}`" if saved else "nothing to resume yet: run the same "
                         "command again", exit_code=130)
