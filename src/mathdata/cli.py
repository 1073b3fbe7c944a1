"""`mathdata` command line: a thin typer app over the library; errors become one line + exit code.

The app and its shared options live in app.py; each command module registers on it (audit:
commands_audit.py; synth and build: commands_build.py). This module only puts them together.
"""
from __future__ import annotations

from . import commands_audit, commands_build  # noqa: F401  (they register their commands on `app`)
from .app import app, plain_help
from .errors import run_cli

plain_help(app)

__all__ = ["app", "main", "plain_help"]


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: temporary files and folders are removed, locks released


def main() -> None:
    import signal
    signal.signal(signal.SIGTERM, _terminate)
    run_cli(app, "mathdata")


if __name__ == "__main__":
    main()
