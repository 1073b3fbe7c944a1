"""The project's one error type, and the one place that turns it into a CLI message."""
from __future__ import annotations

import sys
from typing import Callable


class MathDataError(Exception):
    """A user-facing error: what went wrong (naming file/line/key) and what to do about it."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def run_cli(app: Callable[..., object], prog: str) -> None:
    """Run a typer app; our own errors become one line on stderr and a non-zero exit.
    Usage errors (unknown option, missing argument) are reported by typer itself (exit 2)."""
    try:
        app(prog_name=prog)
    except MathDataError as err:
        from .textsafe import clean  # a message may quote data: never let it drive the terminal
        print(clean(f"{prog}: error: {err}").replace("\n", "\\n"), file=sys.stderr)
        sys.exit(err.exit_code)
    except OSError as err:  # the machine, not the code: a full disk, an I/O error, a vanished mount
        # (a closed stdout never gets here: cli_output.CliGroup ends the run with 141, and typer exits 1
        # on any other EPIPE it meets)
        from .textsafe import clean
        where = f"{err.filename}: " if err.filename else ""
        print(clean(f"{prog}: error: {where}{err.strerror or err}").replace("\n", "\\n")
              + " (check the disk and the path, then run again)", file=sys.stderr)
        sys.exit(2)
    except MemoryError:
        print(f"{prog}: error: out of memory (use a smaller input or quota, or a machine with more memory)",
              file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
