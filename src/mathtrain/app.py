"""The `mathtrain` typer app. Command modules (commands_train, commands_eval, commands_model) import
`app` from here and register on it; cli.py imports them all and runs the app, so imports point one
way: cli -> commands_* -> app."""
from __future__ import annotations

import typer

from mathdata.cli_output import JSON_HELP, QUIET_HELP, CliGroup  # --json checked, a closed stdout ends quietly

app = typer.Typer(help="LoRA-train and evaluate Llama models on MindFormers.", no_args_is_help=True,
                  add_completion=False, cls=CliGroup)


@app.callback()
def _root() -> None:
    """LoRA-train and evaluate Llama models on MindFormers."""


# Options several commands share (one definition each, as mathdata/app.py does).
QuietOpt = typer.Option(False, "--quiet", "-q", help=QUIET_HELP)
JsonOpt = typer.Option(None, "--json", help=JSON_HELP)
