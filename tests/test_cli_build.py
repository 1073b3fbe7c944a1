"""`mathdata synth` and `mathdata build` through the CLI: exit codes, files, one-line errors."""
import json
import subprocess
import sys

from typer.testing import CliRunner

import mathdata.commands_build  # noqa: F401  (registers synth and build on the app)
from mathdata.cli import app

from conftest import FIXTURES, ROOT

SAMPLE = str(FIXTURES / "build" / "train_sample.jsonl")
EVAL = str(FIXTURES / "build" / "eval.jsonl")
TINY = str(FIXTURES / "build" / "quotas-tiny.toml")


def mathdata(*args):
    """The real entry point, as a user runs it."""
    code = "import mathdata.commands_build; from mathdata.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)


def lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_synth_writes_verified_records_deterministically(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    args = ["synth", "--category", "mean", "--count", "40", "--seed", "3", "--style", "steps", "--round", "2"]
    r1 = CliRunner().invoke(app, args + ["-o", str(a)])
    r2 = CliRunner().invoke(app, args + ["-o", str(b), "--quiet"])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output
    assert "mean 40" in r1.output and r2.output == ""
    assert a.read_bytes() == b.read_bytes()
    recs = lines(a)
    assert len(recs) == 40 and {r["category"] for r in recs} == {"mean"}
    assert all(r["solution"].splitlines()[-1].startswith("答案：") for r in recs)


def test_synth_all_with_split(tmp_path):
    out = tmp_path / "all.jsonl"
    result = CliRunner().invoke(app, ["synth", "--category", "all", "--count", "5", "--split", "extrapolate",
                                      "-o", str(out), "-q"])
    assert result.exit_code == 0
    assert len(lines(out)) == 5 * 14


def test_build_writes_the_four_files_and_json_stats(tmp_path):
    out, stats = tmp_path / "out", tmp_path / "stats.json"
    result = CliRunner().invoke(app, ["build", SAMPLE, "--quota", TINY, "-o", str(out), "--seed", "4",
                                      "--exclude", EVAL, "--json", str(stats), "--workers", "1"])
    assert result.exit_code == 0, result.output
    for word in ("Quota plan", "Stages", "exact_duplicate", "eval_exact", "Built set per category", "simplify"):
        assert word in result.output
    assert sorted(p.name for p in out.iterdir()) == ["dropped.jsonl", "manifest.json", "train.jsonl",
                                                     "train_conversations.json"]
    data = json.loads(stats.read_text(encoding="utf-8"))
    assert data["records"] == 75 and data["seed"] == 4 and "timings_s" in data
    assert data["outputs"]["train.jsonl"]["records"] == 75


def test_build_quiet_json_to_stdout(tmp_path):
    result = CliRunner().invoke(app, ["build", SAMPLE, "--quota", TINY, "-o", str(tmp_path / "o"), "-q",
                                      "--json", "-", "--workers", "1", "--style", "steps"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["settings"]["style"] == "steps" and data["prompt"]["name"] == "raw"


def test_user_mistakes_are_one_line_errors(tmp_path):
    bad_quota = tmp_path / "q.toml"
    bad_quota.write_text("[quotas]\nequations = 5\n", encoding="utf-8")
    cases = [
        (["synth", "--category", "cube", "-o", str(tmp_path / "x.jsonl")], "--category 'cube': no template generates it"),
        (["synth", "--style", "fancy", "-o", str(tmp_path / "x.jsonl")], "unknown style 'fancy'"),
        (["synth", "-c", "add", "--range", "q=1:2", "-o", str(tmp_path / "x.jsonl")], "no slot 'q' in the chosen templates"),
        (["build", SAMPLE, "--quota", str(bad_quota), "-o", str(tmp_path / "o")],
         "quotas.equations: unknown category 'equations' (valid categories: add, sub"),
        (["build", SAMPLE, "--quota", TINY, "-o", str(tmp_path / "o"), "--no-top-up"],
         "quotas not met from the real data: simplify 2/8"),
        (["build", SAMPLE, "--quota", str(tmp_path / "none.toml"), "-o", str(tmp_path / "o")], "none.toml: file not found"),
    ]
    for args, expected in cases:
        proc = mathdata(*args, "-q") if args[0] == "build" else mathdata(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("mathdata: error: ") and expected in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.jsonl").exists()


def test_no_top_up_shows_the_plan_before_stopping(tmp_path):
    proc = mathdata("build", SAMPLE, "--quota", TINY, "-o", str(tmp_path / "o"), "--no-top-up", "--workers", "1")
    assert proc.returncode == 2
    assert "Quota plan" in proc.stdout and "simplify" in proc.stdout
    assert "pass --top-up" in proc.stderr


def test_every_command_has_help():
    for command in ("synth", "build"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
    import typer.main
    params = typer.main.get_command(app).commands["build"].params
    options = {o for p in params for o in p.opts + p.secondary_opts}
    for option in ("--quota", "--top-up", "--exclude", "--keep-english", "--keep-wrong", "--keep-implausible",
                   "--style", "--round", "--prompt", "--rules", "--quiet", "--json", "--seed"):
        assert option in options


def test_synth_to_stdout(tmp_path, monkeypatch):
    import json as _json
    from typer.testing import CliRunner as _Runner
    from mathdata.cli import app as _app
    monkeypatch.chdir(tmp_path)
    result = _Runner().invoke(_app, ["synth", "--category", "mean", "--count", "3", "--seed", "2", "-q", "-o", "-"])
    assert result.exit_code == 0
    rows = [_json.loads(line) for line in result.output.splitlines()]
    assert [r["category"] for r in rows] == ["mean"] * 3 and not (tmp_path / "-").exists()


def test_build_reads_a_headerless_tsv_by_position(tmp_path):
    """MGSM-zh's TSV has no header row: build takes audit's reading options, and records them."""
    quota = tmp_path / "q.toml"
    quota.write_text("total = 3\n[quotas]\nword_problem = 3\n", encoding="utf-8")
    src = FIXTURES / "corpora" / "mgsm_zh.tsv"
    first = src.read_text(encoding="utf-8").splitlines()[0].split("\t")
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["build", str(src), "--no-header", "--quota", str(quota), "-o", str(out),
                                      "--no-top-up", "-q"])
    assert result.exit_code == 0, result.output
    problems = [json.loads(line)["problem"] for line in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(problems) == 3
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["reading"] == {"no_header": True}
    # every line is a record: without --no-header the first problem would have been taken for column names
    assert manifest["inputs"][0]["records"] == len(src.read_text(encoding="utf-8").splitlines())
    assert first[0] in {json.loads(line)["problem"] for line in (out / "dropped.jsonl").read_text(encoding="utf-8").splitlines()} | set(problems)
