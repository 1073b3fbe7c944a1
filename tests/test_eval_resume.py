"""`mathtrain eval` on CPU with a real tiny run: predictions appended as produced, resume after an interruption
(an exception mid-set, a line cut off by a kill, a process killed with SIGKILL), settings checked on resume,
and `mathtrain score` recomputing exactly the scores eval printed."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mathdata.errors import MathDataError
from mathtrain.evaluate import run_eval as run_eval_mod
from mathtrain.evaluate.files import PartialPredictions
from mathtrain.evaluate.run_eval import EvalOptions, run_eval

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import cli_args, run_cli, shared_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MATH_REFS = ROOT / "fixtures/eval/math_references.jsonl"
SQUAD = ROOT / "fixtures/squad/dev-mini.json"
OPTS = dict(math=MATH_REFS, squad=SQUAD, max_new_tokens=8, squad_max_new_tokens=6)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return shared_run(tmp_path_factory)[1]


@pytest.fixture(scope="module")
def full(run, tmp_path_factory):
    """An uninterrupted eval (through the CLI, --json): (out dir, printed summary)."""
    out = tmp_path_factory.mktemp("eval_full") / "out"
    proc = run_cli("eval", "--run", str(run), "--out", str(out), "--math", str(MATH_REFS), "--squad", str(SQUAD),
                   "--max-new-tokens", "8", "--squad-max-new-tokens", "6", "--batch-size", "2",
                   "--json", "-", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads(proc.stdout)


@pytest.mark.train
def test_saved_predictions_rescore_to_the_printed_scores(full):
    out, summary = full
    assert not list(out.glob("*.partial.jsonl")) and not (out / "eval.progress.json").exists()
    math = run_cli("score", "math", "-p", str(out / "math_predictions.jsonl"), "-r", str(MATH_REFS), "--json", "-")
    squad = run_cli("score", "squad", "-p", str(out / "squad_predictions.jsonl"), "-r", str(SQUAD),
                    "--first-question-only", "--json", "-")
    assert math.returncode == 0 and squad.returncode == 0, math.stderr + squad.stderr
    rescored_math, rescored_squad = json.loads(math.stdout), json.loads(squad.stdout)
    assert rescored_math["accuracy"] == summary["math"]["accuracy"]
    assert rescored_math["correct"] == summary["math"]["correct"] and rescored_math["total"] == 18
    for key in ("f1", "em", "squad_f1", "squad_em"):
        assert rescored_squad[key] == summary["squad"][key]
    assert [p["id"] for p in _lines(out / "math_predictions.jsonl")] == \
        [json.loads(line)["id"] for line in MATH_REFS.read_text(encoding="utf-8").splitlines()]  # input order


class Interrupt(Exception):
    pass


@pytest.mark.train
def test_resume_after_an_interruption_and_a_cut_line_gives_the_same_files(run, full, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = run_eval_mod.default_backend()
    calls = {"batches": 0}

    def generate(network, tokenizer, prompts, max_new, min_new, batch_size, on_done):
        def counting(indices, texts):
            on_done(indices, texts)
            calls["batches"] += 1
            if calls["batches"] == 2:  # the math set half done
                raise Interrupt()
        real.generate(network, tokenizer, prompts, max_new, min_new, batch_size, counting)

    backend = run_eval_mod.Backend(real.load_tokenizer, real.load_model, generate)
    with pytest.raises(Interrupt):
        run_eval(run, out, EvalOptions(**OPTS, batch_size=2), backend=backend)
    partial = out / "math_predictions.partial.jsonl"
    assert len(_lines(partial)) == 4 and not (out / "math_predictions.jsonl").exists()
    with partial.open("a", encoding="utf-8") as fh:  # the write in flight when the process died
        fh.write('{"id": "m05", "predic')

    with pytest.raises(MathDataError, match="holds an interrupted eval"):
        run_eval(run, out, EvalOptions(**OPTS))
    with pytest.raises(MathDataError, match="squad_max_new_tokens = 6"):
        run_eval(run, out, EvalOptions(**{**OPTS, "squad_max_new_tokens": 7}, resume=True))

    statuses = []
    res = run_eval(run, out, EvalOptions(**OPTS, resume=True), on_status=statuses.append)
    assert any("resuming math: 4 of 18" in s and "cut off" in s for s in statuses)
    assert res.summary["resumed"] == {"math": 4, "squad": 0} and res.summary["generated"] == {"math": 14, "squad": 8}
    full_out, summary = full
    for name in ("math_predictions.jsonl", "squad_predictions.jsonl", "math_scores.json", "squad_scores.json"):
        assert (out / name).read_bytes() == (full_out / name).read_bytes(), name
    assert res.summary["math"] == summary["math"] and res.summary["squad"] == summary["squad"]
    assert not partial.exists() and not (out / "eval.progress.json").exists()


@pytest.mark.train
def test_resume_after_sigkill(run, full, tmp_path):
    out = tmp_path / "out"
    args = ["eval", "--run", str(run), "--out", str(out), "--squad", str(SQUAD), "--all-questions",
            "--squad-max-new-tokens", "4", "--batch-size", "1", "--quiet"]
    proc = subprocess.Popen(cli_args(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = out / "squad_predictions.partial.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and partial.read_text(encoding="utf-8").count("\n") >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the eval finished before it could be killed"
    done = len(_lines(partial))
    assert 2 <= done < 18 and not (out / "squad_predictions.jsonl").exists()
    resumed = run_cli(*args, "--resume", "--json", "-")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed"]["squad"] >= done and summary["squad"]["total"] == 18
    ids = [p["id"] for p in _lines(out / "squad_predictions.jsonl")]
    assert len(ids) == len(set(ids)) == 18
    rescored = run_cli("score", "squad", "-p", str(out / "squad_predictions.jsonl"), "-r", str(SQUAD), "--json", "-")
    assert json.loads(rescored.stdout)["f1"] == summary["squad"]["f1"]


def test_partial_predictions_repair_and_damage(tmp_path):
    path = tmp_path / "p.partial.jsonl"
    log = PartialPredictions(path, ["a", "b", "c"])
    log.add([("a", "x"), ("b", "答案：1")])
    log.close()
    path.write_bytes(path.read_bytes() + b'{"id": "c", "pre')
    again = PartialPredictions(path, ["a", "b", "c"])
    assert again.done == {"a": "x", "b": "答案：1"} and again.repaired
    again.add([("c", "")])
    again.close()
    assert [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()] == ["a", "b", "c"]
    path.write_text('{"id": "a", "prediction": "x"}\nnot json\n{"id": "b", "prediction": "y"}\n', encoding="utf-8")
    with pytest.raises(MathDataError, match=r"p.partial.jsonl:2: damaged prediction line"):
        PartialPredictions(path, ["a", "b"])
    path.write_text('{"id": "zz", "prediction": "x"}\n', encoding="utf-8")
    with pytest.raises(MathDataError, match="'zz' is not in this eval set"):
        PartialPredictions(path, ["a"])
