import json
import subprocess
import sys

from typer.testing import CliRunner

from mathdata.cli import app

from conftest import FIXTURES

MIXED = str(FIXTURES / "audit" / "mixed.jsonl")


def mathdata(*args):
    """Run the real entry point, as a user would."""
    return subprocess.run([sys.executable, "-c", "from mathdata.cli import main; main()", *args],
                          capture_output=True, text=True)


def test_json_schema_and_terminal_report(tmp_path):
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(app, ["audit", MIXED, "--json", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    stats = json.loads(out.read_text(encoding="utf-8"))
    for key in ("records", "bad_lines", "categories", "exact_duplicates", "near_duplicates"):
        assert key in stats
    for cat in stats["categories"].values():
        assert set(cat) >= {"count", "unique", "exact_duplicates", "near_duplicates", "verified", "wrong",
                            "implausible", "unverifiable"}
    assert stats["records"] == 39
    assert "simplify" in result.output and "not_lowest_terms" in result.output


def test_quiet_json_to_stdout():
    result = CliRunner().invoke(app, ["audit", MIXED, "--quiet", "--json", "-", "--workers", "1"])
    assert result.exit_code == 0
    assert json.loads(result.output)["exact_duplicates"] == 6


def test_html_written(tmp_path):
    page = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["audit", MIXED, "-q", "--html", str(page), "--workers", "1"])
    assert result.exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html and "simplify" in html


def test_user_mistakes_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "a", "solution": "b"}\n{"problem": oops}\n', encoding="utf-8")
    for args, expected in [
        ([str(tmp_path / "missing.jsonl")], "missing.jsonl: no such file"),
        ([str(bad)], "bad.jsonl:2: malformed JSON"),
        ([MIXED, "--problem-field", "question"], "mixed.jsonl:1: missing field 'question'"),
    ]:
        proc = mathdata("audit", "-q", *args)
        assert proc.returncode == 2
        assert proc.stderr.startswith("mathdata: error: ") and expected in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_skip_bad_counts_bad_lines(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "将分数 5/6 进行简化。", "solution": "最简化的形式为：5/6"}\n{oops\n', encoding="utf-8")
    proc = mathdata("audit", "-q", "--skip-bad", "--json", "-", str(bad))
    assert proc.returncode == 0
    stats = json.loads(proc.stdout)
    assert stats["bad_lines"] == 1 and stats["records"] == 1 and stats["status"]["verified"] == 1


def test_every_command_has_help():
    for args in (["--help"], ["audit", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_same_input_gives_byte_identical_json_and_html(tmp_path):
    outs = []
    for run in ("a", "b"):
        j, h = tmp_path / f"{run}.json", tmp_path / f"{run}.html"
        result = CliRunner().invoke(app, ["audit", MIXED, "-q", "--json", str(j), "--html", str(h), "--workers", "1"])
        assert result.exit_code == 0
        outs.append((j.read_bytes(), h.read_bytes()))
    assert outs[0] == outs[1]
    assert b"timings_s" not in outs[0][0]
    result = CliRunner().invoke(app, ["audit", MIXED, "-q", "--json", "-", "--timings", "--workers", "1"])
    assert set(json.loads(result.output)["timings_s"]) == {"read", "classify", "verify", "deduplicate", "summarise"}
