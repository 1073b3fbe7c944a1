"""What both CLIs do with `--json` and with stdout (mathdata.cli_output): a `--json` value that looks
like an option is refused before any work, and a reader that leaves stdout early ends the run quietly."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import typer.main

import mathdata.cli
import mathtrain.cli
from mathdata.cli_output import JSON_OPTION, OUTPUT_OPTIONS, STDOUT_CLOSED, CliGroup, check_output_target
from mathdata.errors import MathDataError

from cli_helpers import run_main
from conftest import FIXTURES, ROOT

MIXED = FIXTURES / "audit" / "mixed.jsonl"
MATH_PREDS = FIXTURES / "eval" / "math_predictions.jsonl"
MATH_REFS = FIXTURES / "eval" / "math_references.jsonl"
ENV = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python", "GLOG_v": "3"}


def refusal(value: str) -> str:
    return f"--json takes a FILE or - (stdout); got {value!r}"


@pytest.mark.parametrize("args", [["--json", "--quiet"], ["--json", "-q"], ["--json=--quiet"]])
def test_mathdata_audit_refuses_an_option_as_the_json_file(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(mathdata.cli.main, "mathdata", monkeypatch, capsys, "audit", MIXED, *args)
    value = args[-1].removeprefix("--json=")
    assert code == 2 and out == ""
    assert err.startswith(f"mathdata: error: {refusal(value)} (") and err.count("\n") == 1
    assert f"write ./{value}" in err
    assert list(tmp_path.iterdir()) == []  # no file named like the value, nothing else either


def test_mathtrain_score_refuses_an_option_as_the_json_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(mathtrain.cli.main, "mathtrain", monkeypatch, capsys,
                         "score", "math", "-p", MATH_PREDS, "-r", MATH_REFS, "--json", "--quiet")
    assert code == 2 and out == ""
    assert err.startswith(f"mathtrain: error: {refusal('--quiet')} (") and err.count("\n") == 1
    assert not (tmp_path / "--quiet").exists() and list(tmp_path.iterdir()) == []


def test_a_file_really_named_like_an_option_is_written_as_the_hint_says(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(mathtrain.cli.main, "mathtrain", monkeypatch, capsys, "score", "math", "-p", MATH_PREDS,
                         "-r", MATH_REFS, "--rules", ROOT / "rules", "--json", "./--quiet", "--quiet")
    assert code == 0, err
    assert json.loads((tmp_path / "--quiet").read_text(encoding="utf-8"))["correct"] == 12
    assert all(check_output_target(JSON_OPTION, v) == v for v in ("-", None, "a-b"))


@pytest.mark.parametrize("args, message", [
    (["audit", MIXED, "--html", "--quiet"], "--html takes a FILE; got '--quiet'"),
    (["synth", "-c", "add", "-o", "-q"], "-o/--output takes a file or folder name; got '-q'"),
    (["build", MIXED, "--quota", FIXTURES / "build" / "quotas-tiny.toml", "-o", "--quiet"],
     "-o/--output takes a file or folder name; got '--quiet'"),
    (["build", MIXED, "--quota", FIXTURES / "build" / "quotas-tiny.toml", "-o", "-"],
     "-o -: build writes a folder (train.jsonl, manifest.json, ...), not one stream to stdout"),
])
def test_other_outputs_refuse_an_option_as_their_name(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(mathdata.cli.main, "mathdata", monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith(f"mathdata: error: {message} (") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value, message", [
    ("--quiet", "--out/-o takes a folder name; got '--quiet' ("),
    ("-", "--out/-o takes a folder name; got '-' (give a folder"),   # a run writes a folder, never a stream
])
def test_mathtrain_out_refuses_an_option_or_stdout_as_its_folder(value, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(mathtrain.cli.main, "mathtrain", monkeypatch, capsys, "run", "--out", value,
                              "-c", ROOT / "fixtures" / "tiny" / "train.toml", "-d", tmp_path / "build")
    assert code == 2 and out == ""
    assert err.startswith("mathtrain: error: " + message)
    assert list(tmp_path.iterdir()) == []


def output_options(group) -> list[tuple[str, object]]:
    """(command path, option) for every output option (--json, --html, -o/--output, --out) under `group`."""
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += [(f"{name} {sub}", p) for sub, p in output_options(command)]
        found += [(name, p) for p in command.params if set(p.opts) & set(OUTPUT_OPTIONS)]
    return found


def test_every_output_option_of_both_clis_is_checked():
    """The check is attached by CliGroup to whatever command has such an option, including ones added later."""
    for app, json_at_least, others_at_least in (
            (mathdata.cli.app, {"audit", "build"}, {"audit", "synth", "build"}),
            (mathtrain.cli.app, {"score math", "score squad", "score contest", "eval", "run"},
             {"eval", "run", "import", "compare"})):
        root = typer.main.get_command(app)
        assert isinstance(root, CliGroup)
        options = output_options(root)
        assert json_at_least <= {name for name, o in options if "--json" in o.opts}
        assert others_at_least <= {name for name, o in options if "--json" not in o.opts}
        for name, option in options:
            label = re.escape("/".join(option.opts))
            with pytest.raises(MathDataError, match=rf"^{label} takes [^;]+; got '--quiet' \(give the name right after"):
                option.callback(None, option, "--quiet")
            if "--out" in option.opts:   # always a folder: '-' is no stream there
                with pytest.raises(MathDataError, match=rf"^{label} takes a folder name; got '-'"):
                    option.callback(None, option, "-")
            else:
                assert option.callback(None, option, "-") == "-", name
            assert option.callback(None, option, "a-b") == "a-b", name


# ------------------------------------------------------------------------------- a closed stdout

def start(module: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"from {module} import main; main()", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)


def test_synth_to_stdout_read_one_line_then_closed():
    """`mathdata synth -o - | head -1`: megabytes of records, the reader takes one line and leaves."""
    proc = start("mathdata.cli", "synth", "-c", "add", "-n", "20000", "-o", "-", "-q")
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == STDOUT_CLOSED == 141, err
    assert first["category"] == "add" and err == ""


@pytest.mark.parametrize("module, args", [
    ("mathdata.cli", ["audit", MIXED, "--json", "-", "-q", "--workers", "1"]),
    ("mathdata.cli", ["audit", MIXED, "--workers", "1"]),  # the rich terminal report (rich alone would exit 1)
    ("mathtrain.cli", ["score", "math", "-p", MATH_PREDS, "-r", MATH_REFS, "--rules", ROOT / "rules",
                       "--json", "-"]),
])
def test_stdout_closed_before_the_first_write(module, args):
    """The reader is gone before anything is written (`... | true`): the first write fails."""
    proc = start(module, *args)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "error" not in err.lower() and err.strip() == ""


# ------------------------------------------------------------------------------- --json - alone on stdout

def test_json_to_stdout_silences_the_terminal_reports(tmp_path):
    """Without --quiet, `--json -` still leaves stdout to the JSON alone (the report would break it)."""
    audit = subprocess.run([sys.executable, "-c", "from mathdata.cli import main; main()", "audit", str(MIXED),
                            "--json", "-", "--workers", "1"], capture_output=True, text=True, env=ENV)
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["records"] == 39
    build = subprocess.run([sys.executable, "-c", "from mathdata.cli import main; main()", "build",
                            str(FIXTURES / "build" / "train_sample.jsonl"),
                            "--quota", str(FIXTURES / "build" / "quotas-tiny.toml"),
                            "-o", str(tmp_path / "o"), "--json", "-", "--workers", "1"],
                           capture_output=True, text=True, env=ENV)
    assert build.returncode == 0, build.stderr
    stats = json.loads(build.stdout)
    assert stats["outputs"]["train.jsonl"]["records"] == len((tmp_path / "o" / "train.jsonl").read_text(
        encoding="utf-8").splitlines())
    assert "Quota plan" not in build.stdout + build.stderr and "Stages" not in build.stderr
