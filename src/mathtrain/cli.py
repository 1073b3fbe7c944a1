"""`mathtrain` command line: a thin typer app; each command group lives in its own module."""
from __future__ import annotations

import typer

from mathdata.errors import run_cli

app = typer.Typer(help="LoRA-train and evaluate Llama models on MindFormers.", no_args_is_help=True,
                  add_completion=False)



@app.callback()
def _root() -> None:
    """LoRA-train and evaluate Llama models on MindFormers."""


# Command modules register themselves on `app` when imported.
from . import commands_train, commands_eval, commands_model  # noqa: E402,F401
from mathdata.cli import plain_help  # noqa: E402  (help that fits 80 columns, no emoji codes)

plain_help(app)


def main() -> None:
    import os
    # MindSpore's own warnings (e.g. "parameters not loaded" when LoRA weights are loaded over base
    # weights, which is expected) drown the progress display; GLOG_v=1 or 2 brings them back.
    os.environ.setdefault("GLOG_v", "3")
    run_cli(app, "mathtrain")
