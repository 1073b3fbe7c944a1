"""`mathtrain eval` and `mathtrain score math|squad|contest`: thin commands over mathtrain.evaluate."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from mathdata.cli_output import emit_json, library_output_to_stderr
from mathdata.report.format import pct

from .app import JsonOpt, QuietOpt, app
from .runtime import is_quiet
from .evaluate import contest as contest_lib

score_app = typer.Typer(help="Score model outputs without a model: math accuracy, SQuAD F1/EM, the contest score.",
                        no_args_is_help=True, add_completion=False)
app.add_typer(score_app, name="score")


def _console(quiet: bool, json_out: Optional[str]) -> Console:
    return Console(quiet=quiet or json_out == "-", highlight=False)


# ------------------------------------------------------------------------------------------ math
def render_math(console: Console, score, title: str = "Math accuracy") -> None:
    table = Table(title=title)
    table.add_column("category")
    table.add_column("items", justify="right")
    table.add_column("correct", justify="right")
    table.add_column("accuracy", justify="right")
    for cat, (total, correct) in score.per_category.items():
        table.add_row(cat, str(total), str(correct), pct(correct, total, 2))
    table.add_section()
    overall = pct(score.correct, score.total, 2)
    table.add_row("[bold]overall[/bold]", str(score.total), str(score.correct), f"[bold]{overall}[/bold]")
    console.print(table)
    tol = f"rel_tol {score.rel_tol:g}" + (f", abs_tol {score.abs_tol:g}" if score.abs_tol is not None else "")
    console.print(f"compared with {tol}")
    if score.no_prediction:
        console.print(f"{score.no_prediction} output(s) held no answer (empty or no number): scored wrong")
    if score.no_reference:
        console.print(f"[yellow]{score.no_reference} reference solution(s) yield no answer: scored wrong; "
                      f"check the data[/yellow]")


@score_app.command("math")
def score_math_cmd(
    predictions: Path = typer.Option(..., "--predictions", "-p", help="JSONL of {\"id\", \"prediction\"}."),
    references: Path = typer.Option(..., "--references", "-r",
                                    help="The build's JSONL of {\"id\", \"category\", \"problem\", "
                                         "\"solution\"} (without ids: line numbers; without categories: "
                                         "classified by the rules)."),
    rel_tol: float = typer.Option(1e-4, "--rel-tol", help="Relative tolerance for decimal references."),
    abs_tol: Optional[float] = typer.Option(None, "--abs-tol",
                                            help="Also accept |pred - ref| <= this (contest style, e.g. 1e-2)."),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Rules folder: category order, classification."),
    json_out: Optional[str] = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Math accuracy per category: the answer in each output against the reference solution's."""
    from .evaluate.math_score import category_order, score_math_files

    score = score_math_files(predictions, references, rel_tol=rel_tol, abs_tol=abs_tol,
                             category_order=category_order(rules), rules_dir=rules)
    render_math(_console(quiet, json_out), score)
    emit_json(json_out, score.to_dict())


# ----------------------------------------------------------------------------------------- squad
def render_squad(console: Console, score, title: str = "SQuAD") -> None:
    table = Table(title=f"{title} ({score.total} questions)")
    table.add_column("metric")
    table.add_column("EmF1Metric (contest)", justify="right")
    table.add_column("SQuAD v1.1 official", justify="right")
    table.add_row("F1", f"{score.f1:.3f}", f"{score.squad_f1:.3f}")
    table.add_row("EM", f"{score.em:.3f}", f"{score.squad_em:.3f}")
    console.print(table)


@score_app.command("squad")
def score_squad_cmd(
    predictions: Path = typer.Option(..., "--predictions", "-p",
                                     help="JSONL of {\"id\": SQuAD question id, \"prediction\": model output}."),
    references: Path = typer.Option(..., "--references", "-r", help="SQuAD v1.1 JSON (e.g. dev-v1.1.json)."),
    first_question_only: bool = typer.Option(False, "--first-question-only",
                                             help="Only the first question of each paragraph (the contest's 2,067)."),
    json_out: Optional[str] = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """SQuAD F1/EM as MindFormers' EmF1Metric computes them, and the official v1.1 F1/EM beside them."""
    from .evaluate.squad_score import score_squad_files

    score = score_squad_files(predictions, references, first_question_only=first_question_only)
    render_squad(_console(quiet, json_out), score)
    emit_json(json_out, score.to_dict())


# --------------------------------------------------------------------------------------- contest
def render_contest(console: Console, result) -> None:
    table = Table(title="Contest score")
    table.add_column("term")
    table.add_column("value", justify="right")
    table.add_row("math accuracy", pct(result.accuracy, 1, 2))
    table.add_row("trainable / total", f"{result.trainable:,} / {result.total:,} = {result.param_ratio:.6%}")
    table.add_row("0.7 * accuracy", f"{0.7 * result.accuracy:.6f}")
    table.add_row("0.3 * (1 - ratio)", f"{0.3 * (1 - result.param_ratio):.6f}")
    table.add_section()
    table.add_row("[bold]score[/bold]", f"[bold]{result.score:.6f}[/bold]")
    console.print(table)
    for name, value, threshold, base, ok in (("F1", result.f1, result.f1_threshold, result.base_f1, result.f1_ok),
                                             ("EM", result.em, result.em_threshold, result.base_em, result.em_ok)):
        if value is None:
            console.print(f"SQuAD {name}: not given (pass --{name.lower()} or --squad-json)")
            continue
        verdict = "[green]clears[/green]" if ok else "[red]FAILS[/red]"
        console.print(f"SQuAD {name} {value:.3f} {verdict} {100 * result.retention:g}% of base {base:.3f} "
                      f"(needs >= {threshold:.3f})")


@score_app.command("contest")
def score_contest_cmd(
    accuracy: Optional[str] = typer.Option(None, "--accuracy", "-a", help="Math accuracy: 0.26 or 26%."),
    math_json: Optional[Path] = typer.Option(None, "--math-json", help="Read accuracy from `score math --json`."),
    trainable: Optional[int] = typer.Option(None, "--trainable", "-t", help="Trainable (LoRA) parameters."),
    total: Optional[int] = typer.Option(None, "--total", "-n", help="Total parameters of the base model."),
    run: Optional[Path] = typer.Option(None, "--run", help="Read the parameter counts from RUN_DIR/run.json."),
    f1: Optional[float] = typer.Option(None, "--f1", help="SQuAD F1 (EmF1Metric, 0-100)."),
    em: Optional[float] = typer.Option(None, "--em", help="SQuAD EM (EmF1Metric, 0-100)."),
    squad_json: Optional[Path] = typer.Option(None, "--squad-json", help="Read F1/EM from `score squad --json`."),
    base_f1: float = typer.Option(contest_lib.BASE_F1, "--base-f1", help="Base model's F1."),
    base_em: float = typer.Option(contest_lib.BASE_EM, "--base-em", help="Base model's EM."),
    json_out: Optional[str] = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """0.7 * accuracy + 0.3 * (1 - trainable/total), and whether SQuAD F1/EM clear 90% of the base model."""
    result = contest_lib.contest_from_inputs(accuracy, math_json, trainable, total, run, f1=f1, em=em,
                                             squad_json=squad_json, base_f1=base_f1, base_em=base_em)
    render_contest(_console(quiet, json_out), result)
    emit_json(json_out, result.to_dict())


# ------------------------------------------------------------------------------------------ eval
def _rate_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items per second over the recent window (rich's task.speed)."""

        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- items/s" if speed is None else f"{speed:.1f} items/s")

    return RateColumn()

@app.command("eval")
def eval_cmd(
    run: Path = typer.Option(..., "--run", help="RUN_DIR of `mathtrain run` (holds run.json and checkpoints)."),
    out: Path = typer.Option(..., "--out", help="Where predictions and scores are written."),
    math: Optional[Path] = typer.Option(None, "--math", help="Math eval set: the build's JSONL (id, category, "
                                                               "problem, solution)."),
    squad: Optional[Path] = typer.Option(None, "--squad", help="SQuAD v1.1 JSON."),
    all_questions: bool = typer.Option(False, "--all-questions",
                                       help="SQuAD: every question, not only the first of each paragraph."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="A checkpoint file: a LoRA step checkpoint, or a merged one with "
                                                      "--merged (default: the newest)."),
    merged: bool = typer.Option(False, "--merged", help="Use a merged checkpoint (default: newest in RUN_DIR/merged)."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", help="New tokens per math answer (greedy)."),
    squad_max_new_tokens: int = typer.Option(20, "--squad-max-new-tokens", help="New tokens per SQuAD answer."),
    min_new_tokens: int = typer.Option(0, "--min-new-tokens", help="Math: no EOS before this many new tokens."),
    squad_min_new_tokens: int = typer.Option(1, "--squad-min-new-tokens",
                                             help="SQuAD: no EOS before this many new tokens (1: no empty answers)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Prompts per forward (default: up to 64, "
                                                                         "fewer for long prompts)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted eval in --out (same options)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the inputs and print what would run (on an Ascend "
                                                          "run: the MindFormers predict YAML and the command); "
                                                          "no model is loaded."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N items of each set."),
    rel_tol: float = typer.Option(1e-4, "--rel-tol", help="Math: relative tolerance."),
    abs_tol: Optional[float] = typer.Option(None, "--abs-tol", help="Math: also accept |pred - ref| <= this."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="Expected prompt name; refused if the run was "
                                                                 "trained with another, unless --force-prompt."),
    force_prompt: bool = typer.Option(False, "--force-prompt", help="Evaluate with --prompt even though the run "
                                                                     "was trained with another."),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Rules folder (prompts, category order)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write eval.json's summary to FILE ('-': stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no tables."),
) -> None:
    """Generate greedily with a trained run using its training prompt, save the outputs, and score them."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from .evaluate.run_eval import EvalOptions, run_eval

    opts = EvalOptions(math=math, squad=squad, first_question_only=not all_questions, max_new_tokens=max_new_tokens,
                       squad_max_new_tokens=squad_max_new_tokens, limit=limit, rel_tol=rel_tol, abs_tol=abs_tol,
                       prompt_name=prompt, force_prompt=force_prompt, rules_dir=rules, checkpoint=checkpoint,
                       merged=merged, min_new_tokens=min_new_tokens, squad_min_new_tokens=squad_min_new_tokens,
                       batch_size=batch_size, resume=resume, dry_run=dry_run)
    console = _console(quiet, json_out)
    err_console = Console(stderr=True, quiet=quiet)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _rate_column(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console, disable=quiet)
    tasks: dict[str, int] = {}

    def on_progress(task: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()  # only once generation starts: input errors come before any bar
        if task not in tasks:  # starts at the resumed count: the rate counts this run's items only
            tasks[task] = bar.add_task(f"generating {task}", total=total, completed=done)
        bar.update(tasks[task], completed=done)

    try:
        with library_output_to_stderr(is_quiet()):
            result = run_eval(run, out, opts, on_progress=on_progress, on_status=err_console.print)
    finally:
        if tasks:
            bar.stop()
    if dry_run:
        _print_dry_run(console, result.summary)
        emit_json(json_out, result.summary)
        return
    console.print(f"prompt {result.prompt.name!r} ({'forced' if result.summary['prompt_forced'] else 'as trained'})")
    console.print(f"checkpoint {result.summary['checkpoint'] or '(loader default)'}", soft_wrap=True)
    for warning in result.summary["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    if result.math is not None:
        render_math(console, result.math)
    if result.squad is not None:
        render_squad(console, result.squad)
    if "contest" in result.summary:
        c = result.summary["contest"]
        console.print(f"contest score {c['score']:.6f} (trainable {c['trainable']:,} / total {c['total']:,})")
    console.print(f"outputs in {out}")
    emit_json(json_out, result.summary)


def _print_dry_run(console: Console, summary: dict) -> None:
    from .mindformers_yaml import dump_yaml

    items = ", ".join(f"{n} {task}" for task, n in summary["items"].items())
    console.print(f"# dry run: {items} items, seq_length {summary['seq_length']}, device {summary['device']}, "
                  f"checkpoint {summary['checkpoint'] or '(newest at run time)'}", soft_wrap=True)
    if "yaml" in summary:
        console.print(dump_yaml(summary["yaml"]), end="", soft_wrap=True, markup=False)
        console.print(f"# run on the card:\n{summary['command']}", soft_wrap=True, markup=False)
