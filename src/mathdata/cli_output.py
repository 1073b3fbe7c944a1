"""What both CLIs (mathdata, mathtrain) write besides their reports: `--json FILE`, the check of
every output name (`--json`, `--html`, `-o`, `--out`), a guard that keeps libraries' log lines off
stdout, and what happens when stdout's reader leaves. One owner for each, used by every command:
both apps are built on `CliGroup`."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from pathlib import Path

from typer.core import TyperGroup

from .errors import MathDataError

JSON_HELP = "Also write the result as JSON to FILE ('-' for stdout, which silences the summary)."
QUIET_HELP = "Print nothing but errors (use with --json)."
JSON_OPTION = "--json"
# options that name where a command writes, and what each takes: a value that looks like an option
# (`--json --quiet` makes `--quiet` the file name) is refused before any work
OUTPUT_OPTIONS = {JSON_OPTION: "a FILE or - (stdout)", "--html": "a FILE", "--output": "a file or folder name",
                  "--out": "a folder name"}
# the exit status of a process that a closed pipe ended (128 + SIGPIPE), as the shell shows it
STDOUT_CLOSED = 141


def check_output_target(option: str, value, label: str | None = None):
    """`value` of the output option `option` (named `label` in the message: `-o/--output`), refused
    when it starts with `-` and is not `-`; `--out` (always a folder) refuses `-` too."""
    if value is not None and option == "--out" and str(value) == "-":   # a folder, never a stream
        raise MathDataError(f"{label or option} takes {OUTPUT_OPTIONS[option]}; got '-'",
                            "give a folder, e.g. --out runs/r1 (nothing is written to stdout)")
    if value is not None and str(value).startswith("-") and str(value) != "-":
        label = label or option
        raise MathDataError(f"{label} takes {OUTPUT_OPTIONS[option]}; got {str(value)!r}",
                            f"give the name right after {label}; for a name that really starts with '-', "
                            f"write ./{value}")
    return value


def _commands(group):
    for command in group.commands.values():
        yield command
        if hasattr(command, "commands"):
            yield from _commands(command)


def _checked(option: str, callback):
    def check(ctx, param, value):
        value = check_output_target(option, value, "/".join(param.opts))
        return callback(ctx, param, value) if callback else value
    return check


def _stdout_is_closed() -> bool:
    """Whether stdout is a pipe with no reader left (so a BrokenPipeError from a socket is not
    taken for one); True where that cannot be asked."""
    try:
        import select
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):
        return True


def stdout_closed() -> None:
    """The reader of stdout left (`... -o - | head -1`): end as standard Unix tools do (`seq`, `cat`
    die of SIGPIPE, which the shell shows as 141), with no traceback and no message. An exit, not the
    signal itself, so `finally` blocks still remove temporary files. What Python still holds for
    stdout goes to /dev/null, so the interpreter's last flush cannot fail again."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    sys.exit(STDOUT_CLOSED)


class CliGroup(TyperGroup):
    """The root command of both CLIs. Every command's `--json`, `--html`, `-o/--output` and `--out`
    option checks its value (`check_output_target`), and a closed stdout ends the run quietly
    (`stdout_closed`): here, because typer's own handler of a broken pipe exits 1."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for command in _commands(self):
            for param in command.params:
                option = next((o for o in getattr(param, "opts", ()) if o in OUTPUT_OPTIONS), None)
                if option:
                    param.callback = _checked(option, param.callback)

    def invoke(self, ctx):
        try:
            with _rich_passes_broken_pipes():
                value = super().invoke(ctx)
            sys.stdout.flush()  # a broken pipe found at the interpreter's exit would be a traceback
            return value
        except BrokenPipeError:
            if not _stdout_is_closed():
                raise
            stdout_closed()


@contextlib.contextmanager
def _rich_passes_broken_pipes():
    """rich's consoles meet a closed stdout with their own exit (status 1); while a command runs they
    raise the error instead, so `CliGroup.invoke` decides for every writer alike."""
    from rich.console import Console

    def raise_it(console) -> None:
        console.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output left")

    saved = Console.__dict__["on_broken_pipe"]
    Console.on_broken_pipe = raise_it
    try:
        yield
    finally:
        Console.on_broken_pipe = saved


def json_to_stdout(target) -> bool:
    """`--json -`: stdout carries the JSON alone, so a command's terminal report stays silent."""
    return target is not None and str(target) == "-"


def emit_json(target: str | Path | None, obj) -> None:
    """`--json FILE` writes atomically (never a half-written file); `--json -` prints to stdout;
    None does nothing."""
    if target is None:
        return
    if json_to_stdout(target):
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
