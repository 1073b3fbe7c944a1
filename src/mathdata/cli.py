"""`mathdata` command line: a thin typer app over the library; errors become one line + exit code."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .errors import MathDataError, run_cli

app = typer.Typer(help="Audit, synthesise and build arithmetic fine-tuning data.", no_args_is_help=True,
                  add_completion=False)


def plain_help(typer_app: typer.Typer) -> typer.Typer:
    """Help as click prints it instead of rich's boxes: rich cuts option names at 80 columns
    (`--keep-implausi…`) and reads `:100:` in `-100:100:1` as an emoji code. Applied to sub-apps too."""
    typer_app.rich_markup_mode = None
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            plain_help(group.typer_instance)
    return typer_app



@app.callback()
def _root() -> None:
    """Audit, synthesise and build arithmetic fine-tuning data."""


# Option groups shared by several commands.
RulesOpt = typer.Option(None, "--rules", help="Folder with templates.toml, dedup.toml ... [default: the project's rules/]")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress display and no terminal report.")
ProblemFieldOpt = typer.Option(None, "--problem-field", help="Field holding the problem [default: detected: problem, question, instruction, original_text ...]")
SolutionFieldOpt = typer.Option(None, "--solution-field", help="Field holding the solution [default: detected: solution, answer, output, ans ...]")
NoHeaderOpt = typer.Option(False, "--no-header", help="CSV/TSV files have no header row: name columns by 1-based position (--problem-field 1 --solution-field 2, the default).")


def write_json_output(target: str, obj: dict) -> None:
    """`--json FILE` writes atomically; `--json -` prints to stdout."""
    from .io import write_json
    if target == "-":
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    else:
        write_json(target, obj)


@app.command()
def audit(
    paths: List[Path] = typer.Argument(..., help="Data files: JSON Lines or JSON arrays."),
    problem_field: Optional[str] = ProblemFieldOpt,
    solution_field: Optional[str] = SolutionFieldOpt,
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed records (counted in bad_lines) instead of stopping."),
    no_header: bool = NoHeaderOpt,
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the stats as JSON to FILE (- for stdout). Schema: docs/audit.md."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report to FILE."),
    rules: Optional[Path] = RulesOpt,
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for answer verification."),
    timings: bool = typer.Option(False, "--timings", help="Add seconds per step (timings_s) to the JSON; without it the JSON is byte-identical across runs."),
    quiet: bool = QuietOpt,
) -> None:
    """Report what is in a data set and what is wrong with it: categories, English items, exact and
    number-aware near duplicates, wrong and implausible answers."""
    from .audit import audit as run_audit
    from .outputs import check_file_output, rules_files
    inputs = [*paths, *rules_files(rules)]
    check_file_output(json_out, inputs, "--json")   # before any work: never over an input, a folder ...
    check_file_output(html_out, [*inputs, json_out if json_out != "-" else None], "--html")
    if json_out and html_out and str(json_out) != "-" and Path(json_out).resolve() == Path(html_out).resolve():
        raise MathDataError(f"--json and --html are the same file ({html_out})", "give them different names")
    stats = run_audit(paths, problem_field, solution_field, skip_bad, rules, quiet=quiet, workers=workers,
                      no_header=no_header)
    if not quiet:
        from rich.console import Console
        from .report.terminal import render_terminal
        render_terminal(stats, Console())
    if json_out:
        write_json_output(json_out, stats if timings else {k: v for k, v in stats.items() if k != "timings_s"})
    if html_out:
        from .io import write_text
        from .report.html import render_html
        write_text(html_out, render_html(stats))


# Command modules register themselves on `app` when imported.
from . import commands_build  # noqa: E402,F401

plain_help(app)


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: temporary files and folders are removed, locks released


def main() -> None:
    import signal
    signal.signal(signal.SIGTERM, _terminate)
    run_cli(app, "mathdata")


if __name__ == "__main__":
    main()
