"""The `mathdata` typer app and the option groups its commands share.

Command modules (commands_audit.py, commands_build.py) import `app` from here and register on it;
cli.py imports them all and runs the app, so imports point one way: cli -> commands_* -> app.
"""
from __future__ import annotations

import typer

from .cli_output import CliGroup  # --json checked, a closed stdout ends quietly

app = typer.Typer(help="Audit, synthesise and build arithmetic fine-tuning data.", no_args_is_help=True,
                  add_completion=False, cls=CliGroup)


@app.callback()
def _root() -> None:
    """Audit, synthesise and build arithmetic fine-tuning data."""


def plain_help(typer_app: typer.Typer) -> typer.Typer:
    """Help as click prints it instead of rich's boxes: rich cuts option names at 80 columns
    (`--keep-implausi…`) and reads `:100:` in `-100:100:1` as an emoji code. Applied to sub-apps too."""
    typer_app.rich_markup_mode = None
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            plain_help(group.typer_instance)
    return typer_app


# Option groups shared by several commands.
RulesOpt = typer.Option(None, "--rules", help="Folder with templates.toml, dedup.toml ... [default: the project's rules/]")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress display and no terminal report.")
ProblemFieldOpt = typer.Option(None, "--problem-field", help="Field holding the problem [default: detected: problem, question, instruction, original_text ...]")
SolutionFieldOpt = typer.Option(None, "--solution-field", help="Field holding the solution [default: detected: solution, answer, output, ans ...]")
NoHeaderOpt = typer.Option(False, "--no-header", help="CSV/TSV files have no header row: name columns by 1-based position (--problem-field 1 --solution-field 2, the default).")
EngineOpt = typer.Option("local", "--engine", help="Runner for the stages: local (this process) or ray (Ray tasks on shards; the [ray] extra). Same outputs either way.")
RayAddressOpt = typer.Option(None, "--ray-address", help="With --engine ray: join this Ray cluster (auto, or the head HOST:6379) instead of starting a local one.")
