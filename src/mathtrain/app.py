"""The `mathtrain` typer app. Command modules (commands_train, commands_eval, commands_model) import
`app` from here and register on it; cli.py imports them all and runs the app, so imports point one
way: cli -> commands_* -> app."""
from __future__ import annotations

import typer

app = typer.Typer(help="LoRA-train and evaluate Llama models on MindFormers.", no_args_is_help=True,
                  add_completion=False)


@app.callback()
def _root() -> None:
    """LoRA-train and evaluate Llama models on MindFormers."""
