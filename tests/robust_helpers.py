"""Helpers of the robustness suite (tests/test_robust_*.py): run the real CLI entry point in-process
(errors.run_cli, so a user mistake must come out as one line + exit 2, never a traceback), and
snapshot a folder to prove that nothing outside the intended output changed."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mathdata.commands_build  # noqa: F401  (registers synth and build)
from mathdata.cli import app
from mathdata.errors import run_cli

from conftest import FIXTURES, ROOT

SAMPLE = FIXTURES / "build" / "train_sample.jsonl"
TINY = FIXTURES / "build" / "quotas-tiny.toml"
ENTRY = "import mathdata.commands_build; from mathdata.cli import main; main()"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def one_line_error(self, *fragments: str) -> str:
        """Assert exit 2 with exactly one `mathdata: error:` line holding every fragment."""
        assert self.code == 2, (self.code, self.out[-2000:], self.err[-2000:])
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("mathdata: error: "), self.err
        assert "Traceback" not in self.err
        for f in fragments:
            assert f in lines[0], (f, lines[0])
        return lines[0]


def cli(capsys, *args) -> Run:
    """`mathdata ARGS` in this process, through the same wrapper as the console script."""
    argv = sys.argv
    sys.argv = ["mathdata", *map(str, args)]
    code = 0
    try:
        run_cli(app, "mathdata")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = argv
    out, err = capsys.readouterr()
    return Run(code, out, err)


def mathdata_proc(*args, **kw) -> subprocess.Popen:
    """The CLI in its own process (for kills, races, pipes and stdin)."""
    return subprocess.Popen([sys.executable, "-c", ENTRY, *map(str, args)], cwd=kw.pop("cwd", ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def snapshot(folder: Path) -> dict[str, str]:
    """relative path -> sha256 (or 'dir'/'link:target') of everything under `folder`, hidden files too."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            p = Path(root) / d
            out[str(p.relative_to(folder))] = f"link:{os.readlink(p)}" if p.is_symlink() else "dir"
        for f in files:
            p = Path(root) / f
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                out[rel] = f"link:{os.readlink(p)}"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
