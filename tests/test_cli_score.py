"""`mathtrain score math|squad|contest` through the real entry point: exit codes, output, JSON."""
import json
from pathlib import Path

import pytest

from mathtrain.cli import main

from cli_helpers import run_main

ROOT = Path(__file__).resolve().parents[1]
MATH_PREDS = ROOT / "fixtures/eval/math_predictions.jsonl"
MATH_REFS = ROOT / "fixtures/eval/math_references.jsonl"
SQUAD = ROOT / "fixtures/squad/dev-mini.json"
SQUAD_PREDS = ROOT / "fixtures/eval/squad_predictions.jsonl"


def run(monkeypatch, capsys, *args):
    """-> (exit code, stdout, stderr) of `mathtrain ARGS`."""
    return run_main(main, "mathtrain", monkeypatch, capsys, *args)


def test_every_command_has_help(monkeypatch, capsys):
    for args in (["score", "--help"], ["score", "math", "--help"], ["score", "squad", "--help"],
                 ["score", "contest", "--help"], ["eval", "--help"]):
        code, out, _ = run(monkeypatch, capsys, *args)
        assert code == 0 and "Usage" in out, args


def test_score_math_table_and_json(monkeypatch, capsys, tmp_path):
    out_json = tmp_path / "math.json"
    code, out, err = run(monkeypatch, capsys, "score", "math", "-p", MATH_PREDS, "-r", MATH_REFS,
                         "--rules", ROOT / "rules", "--json", out_json)
    assert code == 0, err
    assert "overall" in out and "66.67%" in out and "sqrt" in out
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert (data["total"], data["correct"]) == (18, 12)
    assert data["accuracy"] == pytest.approx(2 / 3)
    assert {"id": "m09", "category": "simplify", "correct": False, "predicted": "0.49999",
            "reference": "1/2"} in data["per_item"]
    assert data["per_category"]["add"] == {"total": 2, "correct": 1, "accuracy": 0.5}


def test_score_math_json_to_stdout_is_pure_json(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "score", "math", "-p", MATH_PREDS, "-r", MATH_REFS,
                       "--abs-tol", "0.05", "--json", "-")
    assert code == 0
    data = json.loads(out)
    assert data["correct"] == 14 and data["abs_tol"] == 0.05


def test_score_math_errors_are_one_line(monkeypatch, capsys, tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "m01", "prediction": "1"}\n', encoding="utf-8")
    code, out, err = run(monkeypatch, capsys, "score", "math", "-p", preds, "-r", MATH_REFS)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("mathtrain: error: 1 predictions in")
    assert "17 reference ids have no prediction (e.g. 'm02', 'm03', 'm04')" in err
    assert "Traceback" not in err

    preds.write_text('{"id": "m01", "prediction": "1"}\n{"id": "m02", "prediction": "2"\n', encoding="utf-8")
    code, _, err = run(monkeypatch, capsys, "score", "math", "-p", preds, "-r", MATH_REFS)
    assert code == 2 and f"{preds}:2: not valid JSON" in err


def test_score_squad(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "score", "squad", "-p", SQUAD_PREDS, "-r", SQUAD)
    assert code == 2 and "add --first-question-only" in err and "10 reference ids have no prediction" in err
    out_json = tmp_path / "squad.json"
    code, out, err = run(monkeypatch, capsys, "score", "squad", "-p", SQUAD_PREDS, "-r", SQUAD,
                         "--first-question-only", "--json", out_json)
    assert code == 0, err
    assert "EmF1Metric" in out and "69.048" in out and "67.500" in out
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["em"] == 37.5 and data["squad_em"] == 62.5
    assert data["f1"] == pytest.approx(69.04761904761905)


def test_score_contest_with_domain_numbers(monkeypatch, capsys):
    # the seed's entry: 26.0% accuracy, LoRA r8 on wq,wv of Llama3-8B, SQuAD 63.16 / 47.42
    code, out, _ = run(monkeypatch, capsys, "score", "contest", "--accuracy", "26%", "--trainable", 3407872,
                       "--total", 8030261248, "--f1", 63.16, "--em", 47.42, "--json", "-")
    assert code == 0
    data = json.loads(out)
    assert data["score"] == pytest.approx(0.7 * 0.26 + 0.3 * (1 - 3407872 / 8030261248))
    assert data["score"] == pytest.approx(0.481873, abs=1e-6)
    assert data["f1_threshold"] == 53.883 and data["em_threshold"] == 39.753
    assert data["squad_ok"] is True


def test_score_contest_from_json_files_and_failing_gate(monkeypatch, capsys, tmp_path):
    (tmp_path / "math.json").write_text(json.dumps({"accuracy": 0.7161}), encoding="utf-8")
    (tmp_path / "squad.json").write_text(json.dumps({"f1": 53.0, "em": 40.0}), encoding="utf-8")
    code, out, _ = run(monkeypatch, capsys, "score", "contest", "--math-json", tmp_path / "math.json",
                       "--squad-json", tmp_path / "squad.json", "-t", 3407872, "-n", 8030261248)
    assert code == 0
    assert "SQuAD F1 53.000 FAILS 90% of base 59.870 (needs >= 53.883)" in out
    assert "SQuAD EM 40.000 clears" in out
    assert "0.801143" in out  # 0.7 * 0.7161 + 0.3 * (1 - ratio)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--accuracy", "26", "-t", "1", "-n", "10"], "accuracy 26 is outside 0..1"),
        (["--accuracy", "0.3", "-t", "20", "-n", "10"], "trainable parameters 20 must be within 0..total (10)"),
        (["--accuracy", "0.3"], "parameter counts missing"),
        (["-t", "1", "-n", "10"], "give exactly one of --accuracy and --math-json"),
        (["--accuracy", "0.3", "-t", "1", "-n", "10", "--f1", "120"], "f1 120.0 is outside 0..100"),
    ],
)
def test_score_contest_bad_inputs(monkeypatch, capsys, args, message):
    code, _, err = run(monkeypatch, capsys, "score", "contest", *args)
    assert code == 2 and message in err


def test_score_contest_reads_param_counts_from_run(monkeypatch, capsys, tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"params": {"trainable": 3407872, "total": 8030261248}}),
                                       encoding="utf-8")
    code, out, _ = run(monkeypatch, capsys, "score", "contest", "-a", "0.26", "--run", tmp_path, "--json", "-")
    assert code == 0
    data = json.loads(out)
    assert (data["trainable"], data["total"]) == (3407872, 8030261248)
    assert data["f1_ok"] is None and data["squad_ok"] is None
    (tmp_path / "run.json").write_text("{}", encoding="utf-8")
    code, _, err = run(monkeypatch, capsys, "score", "contest", "-a", "0.26", "--run", tmp_path)
    assert code == 2 and "no parameter counts" in err and "--trainable and --total" in err


def test_every_eval_option_is_documented():
    import typer.main

    from mathtrain.cli import app

    docs = (ROOT / "docs/evaluation.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    commands = {"eval": root.commands["eval"], **{f"score {n}": c for n, c in root.commands["score"].commands.items()}}
    assert set(commands) == {"eval", "score math", "score squad", "score contest"}
    for name, command in commands.items():
        assert f"mathtrain {name}" in docs, name
        for param in command.params:
            for flag in param.opts:
                if flag.startswith("--") and flag != "--help":
                    assert flag in docs, f"{name} {flag} is not in docs/evaluation.md"
