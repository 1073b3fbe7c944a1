"""`mathtrain run` and `mathtrain merge`: thin commands over mathtrain.run and mathtrain.merge."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.markup import escape
from rich.table import Table

from mathdata.cli_output import emit_json, library_output_to_stderr

from .app import JsonOpt, QuietOpt, app
from .runtime import is_quiet


class TrainProgress:
    """rich display of training events: step, loss, lr, tokens/s, ETA."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss [cyan]{task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
            TextColumn("{task.fields[tps]} tok/s"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=False)
        self.task = None

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "start":
            rec, params = info["records"], info["params"]
            self.console.print(f"data: {rec['samples']:,} samples, {rec['truncated']:,} truncated to "
                               f"{rec['seq_length'] + 1} tokens, {rec['dropped']:,} dropped (no answer token left); "
                               f"MindRecord {'reused' if rec['reused'] else 'written'}: {rec['path']}")
            self.console.print(f"params: {params.describe()}")
            if info["start_step"]:
                self.console.print(f"resuming from step {info['start_step']} of {info['total_steps']}")
            self.progress.start()
            self.task = self.progress.add_task("train", total=info["total_steps"], completed=info["start_step"],
                                               loss="-", lr="-", tps="-")
        elif kind == "step":
            self.progress.update(self.task, completed=info["step"], loss=f"{info['loss']:.4f}",
                                 lr=f"{info['lr']:.2e}", tps=f"{info['tokens_per_s']:,.0f}")
        elif kind == "checkpoint":
            self.progress.console.print(f"checkpoint step {info['step']}: {Path(info['path']).name}")
        elif kind == "warning":
            self.console.print(f"warning: {escape(info['message'])}", soft_wrap=True)
        elif kind == "done":
            self.progress.stop()

    def stop(self) -> None:
        self.progress.stop()


def render_summary(console: Console, result) -> None:
    table = Table(title="mathtrain run")
    table.add_column("")
    table.add_column("value", justify="right")
    rows = [
        ("steps", f"{result.start_step} -> {result.steps} of {result.total_steps}"),
        ("loss (first -> last)", f"{result.first_loss:.4f} -> {result.last_loss:.4f}"),
        ("tokens/s (steady)", f"{result.tokens_per_s:,.0f}"),
        ("time", f"{result.elapsed_s:.1f} s"),
        ("trainable / total params", f"{result.trainable_params:,} / {result.total_params:,}"),
        ("ratio", f"{result.ratio:.6%}"),
        ("checkpoints written", str(len(result.checkpoints))),
        ("run dir", result.run_dir),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


@app.command()
def run(
    config: Path = typer.Option(..., "--config", "-c", help="mathtrain TOML (e.g. fixtures/tiny/train.toml)."),
    data: Path = typer.Option(..., "--data", "-d", help="BUILD_DIR written by `mathdata build`."),
    out: Path = typer.Option(..., "--out", "-o", help="RUN_DIR for checkpoints, logs and metrics."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1,
                                            help="Stop after N steps (overrides [train].max_steps; CPU only)."),
    resume: bool = typer.Option(False, "--resume", help="Continue RUN_DIR from its newest checkpoint."),
    force: bool = typer.Option(False, "--force", help="With --resume: continue even though the recipe changed "
                               "(learning rate, seed, LoRA rank, ...); run.json records the changed keys."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the MindFormers YAML (and the msrun command "
                                 "on ascend) and exit."),
    quiet: bool = QuietOpt,
    json_out: Optional[str] = JsonOpt,
) -> None:
    """LoRA-fine-tune a Llama model through MindFormers on the output of `mathdata build`."""
    from dataclasses import asdict

    from . import run as run_lib

    silent = quiet or json_out == "-"
    console = Console(quiet=silent, highlight=False, stderr=False)
    if silent:
        from .runtime import silence_libraries

        silence_libraries()
    library_output = lambda: library_output_to_stderr(is_quiet())  # noqa: E731
    if dry_run:
        from .mindformers_yaml import dump_yaml

        plan = run_lib.plan(config, data, out, library_output)
        if json_out != "-":
            sys.stdout.write(dump_yaml(plan.yaml))
            sys.stdout.write(f"# params: {plan.params.describe()}\n")
            if plan.launch:
                sys.stdout.write("# launch: " + " ".join(plan.launch) + "\n")
        emit_json(json_out, plan.to_dict())
        return
    display = RunDisplay(console, silent)
    try:
        result = run_lib.run(config, data, out, max_steps=max_steps, resume=resume, force=force, on_event=display,
                             library_output=library_output)
    finally:
        display.stop()
    if result is not None:  # None: msrun trained on Ascend; its workers wrote RUN_DIR
        render_summary(console, result)
        emit_json(json_out, asdict(result))


class RunDisplay:
    """`mathtrain run`'s events: the progress display on stderr (warnings alone when silent); the Ascend
    launch line on `console`."""

    def __init__(self, console: Console, silent: bool):
        self.console = console
        self.progress = None if silent else TrainProgress(Console(stderr=True, highlight=False))
        self.warn = Console(stderr=True, highlight=False)

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "launch":
            self.console.print(f"wrote {info['yaml']}\nlaunching: {' '.join(info['command'])}")
        elif self.progress is not None:
            self.progress(kind, info)
        elif kind == "warning":
            self.warn.print(f"warning: {escape(info['message'])}", soft_wrap=True)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@app.command()
def merge(
    run_dir: Path = typer.Option(..., "--run", "-r", help="RUN_DIR of a `mathtrain run`."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="One LoRA checkpoint to merge "
                                              "(default: the newest)."),
    keep_merged: int = typer.Option(0, "--keep-merged", min=0, help="Merge N checkpoints spaced evenly over "
                                    "the run (the contest asked for 5); others under RUN_DIR/merged are removed."),
    quiet: bool = QuietOpt,
    json_out: Optional[str] = JsonOpt,
) -> None:
    """Write full checkpoints with LoRA folded in: W + B@A * alpha/rank, loadable by a plain LlamaForCausalLM."""
    from .merge import merge_run, merged_step
    from .runtime import silence_libraries

    if quiet or json_out == "-":
        silence_libraries()
    with library_output_to_stderr(is_quiet()):
        paths = merge_run(run_dir, checkpoint=checkpoint, keep_merged=keep_merged)
    console = Console(quiet=quiet or json_out == "-", highlight=False)
    for path in paths:
        console.print(f"merged step {merged_step(path)}: {path}")
    emit_json(json_out, {"merged": [{"step": merged_step(p), "path": str(p)} for p in paths]})
