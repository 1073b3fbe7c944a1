"""`--help` of every command of both CLIs at 80 columns: each option name in full, no line wider than
80 characters, no ellipsis, and text such as `-100:100:1` printed as written (not as an emoji)."""
import pytest
import typer
from typer.testing import CliRunner

from mathdata.cli import app as mathdata_app
from mathtrain.cli import app as mathtrain_app


def commands(app: typer.Typer):
    """(path, click command) for the root and every command and group below it."""
    root = typer.main.get_command(app)
    out, todo = [], [((), root)]
    while todo:
        path, cmd = todo.pop(0)
        out.append((path, cmd))
        if getattr(cmd, "commands", None):   # a group (typer vendors its own click)
            todo += [((*path, name), sub) for name, sub in cmd.commands.items()]
    return out


CASES = [(app, path, cmd) for app in (mathdata_app, mathtrain_app) for path, cmd in commands(app)]


@pytest.mark.parametrize("app,path,cmd", CASES, ids=[("mathdata " if a is mathdata_app else "mathtrain ") + " ".join(p)
                                                      for a, p, _ in CASES])
def test_help_fits_80_columns_with_every_option_name(app, path, cmd):
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for param in cmd.params:
        for name in param.opts + param.secondary_opts:
            if name.startswith("-"):
                assert name in text, (path, name)
    assert not any(0x1F000 <= ord(c) <= 0x1FAFF for c in text)   # no emoji


def test_range_example_is_printed_as_written():
    result = CliRunner().invoke(mathdata_app, ["synth", "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert "a=-100:100:1" in result.output and "\U0001F4AF" not in result.output


def test_both_clis_have_commands():
    assert {p[0] for p, _ in [(p, c) for p, c in commands(mathdata_app)] if p} >= {"audit", "synth", "build"}
    assert {p[0] for p, _ in commands(mathtrain_app) if p} >= {"run", "merge", "eval", "score"}
