"""Running a CLI's real entry point (`main`, through run_cli: our errors' exit codes and lines) in
this process, for the tests/test_cli_*.py files."""
from __future__ import annotations

import sys


def run_main(main, prog: str, monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """-> (exit code, stdout, stderr) of `prog ARGS`."""
    monkeypatch.setattr(sys, "argv", [prog, *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
