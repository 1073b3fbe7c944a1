"""`mathdata audit`: a thin command over mathdata.audit; the reports are rendered from its stats."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .app import (EngineOpt, NoHeaderOpt, ProblemFieldOpt, QuietOpt, RayAddressOpt, RulesOpt, SolutionFieldOpt,
                  app)
from .cli_output import emit_json, json_to_stdout


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
    engine: str = EngineOpt,
    ray_address: Optional[str] = RayAddressOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Report what is in a data set and what is wrong with it: categories, English items, exact and
    number-aware near duplicates, wrong and implausible answers."""
    from .audit import audit as run_audit
    from .outputs import check_audit_outputs
    check_audit_outputs(json_out, html_out, paths, rules)   # before any work: never over an input, a folder ...
    stats = run_audit(paths, problem_field, solution_field, skip_bad, rules, quiet=quiet, workers=workers,
                      no_header=no_header, engine=engine, ray_address=ray_address)
    if not quiet and not json_to_stdout(json_out):
        from rich.console import Console
        from .report.terminal import render_terminal
        render_terminal(stats, Console())
    if json_out:
        emit_json(json_out, stats if timings else {k: v for k, v in stats.items() if k != "timings_s"})
    if html_out:
        from .io import write_text
        from .report.html import render_html
        write_text(html_out, render_html(stats))
