"""What both CLIs (mathdata, mathtrain) write besides their reports: `--json FILE` (checked and
written) and a guard that keeps libraries' log lines off stdout. One owner for each, used by every
command: both apps are built on `CliGroup`."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from typer.core import TyperGroup

from .errors import MathDataError

JSON_HELP = "Also write the result as JSON to FILE ('-' for stdout, which silences the summary)."
QUIET_HELP = "Print nothing but errors (use with --json)."
JSON_OPTION = "--json"


def check_json_target(value):
    """A `--json` value that looks like an option (`--json --quiet` makes `--quiet` the file name) is
    refused before any work; `-` is stdout."""
    if value is not None and str(value).startswith("-") and str(value) != "-":
        raise MathDataError(f"{JSON_OPTION} takes a FILE or - (stdout); got {str(value)!r}",
                            f"give the file name right after {JSON_OPTION}; for a file really named {str(value)!r} "
                            f"write ./{value}")
    return value


def _commands(group):
    for command in group.commands.values():
        yield command
        if hasattr(command, "commands"):
            yield from _commands(command)


def _checked(callback):
    def check(ctx, param, value):
        value = check_json_target(value)
        return callback(ctx, param, value) if callback else value
    return check


class CliGroup(TyperGroup):
    """The root command of both CLIs: every command's `--json` option checks its value
    (`check_json_target`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for command in _commands(self):
            for param in command.params:
                if JSON_OPTION in getattr(param, "opts", ()):
                    param.callback = _checked(param.callback)


def emit_json(target: str | Path | None, obj) -> None:
    """`--json FILE` writes atomically (never a half-written file); `--json -` prints to stdout;
    None does nothing."""
    if target is None:
        return
    if str(target) == "-":
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
        sys.stdout.flush()
    else:
        from .io import write_json
        write_json(target, obj)


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def library_output_to_stderr(discard: bool = False):
    """While the block runs, what libraries print to stdout goes to stderr (nowhere if `discard`, for
    --quiet), so stdout carries only our own output and `--json -` stays valid JSON.

    Both levels are redirected: Python's `sys.stdout` (print(), logging handlers on it) and file
    descriptor 1 (C++ code: MindSpore writes there directly). The descriptor is left alone when
    there is no real one (embedded use, a test runner's captured stdout)."""
    sys.stdout.flush()
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(_Discard() if discard else sys.stderr))
        try:
            saved = os.dup(1)
        except OSError:
            saved = None
        if saved is not None:
            target = os.open(os.devnull, os.O_WRONLY) if discard else os.dup(2)
            os.dup2(target, 1)
            os.close(target)

            def restore():
                with contextlib.suppress(Exception):
                    sys.__stdout__.flush()
                os.dup2(saved, 1)
                os.close(saved)
            stack.callback(restore)
        yield
