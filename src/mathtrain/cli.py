"""`mathtrain` command line: a thin typer app (app.py); each command group lives in its own module
(commands_train, commands_eval, commands_model) and registers on it; this module puts them together."""
from __future__ import annotations

from mathdata.app import plain_help  # help that fits 80 columns, no emoji codes
from mathdata.errors import run_cli

from . import commands_eval, commands_model, commands_train  # noqa: F401  (they register on `app`)
from .app import app

plain_help(app)


def main() -> None:
    import os
    # MindSpore's own warnings (e.g. "parameters not loaded" when LoRA weights are loaded over base
    # weights, which is expected) drown the progress display; GLOG_v=1 or 2 brings them back.
    os.environ.setdefault("GLOG_v", "3")
    run_cli(app, "mathtrain")
