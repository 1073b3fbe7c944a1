"""`mathtrain eval`: prompt plumbing, outputs and scores with a stand-in model (fast), then end to end on
CPU with a tiny run trained by `mathtrain.train` (marked `train`)."""
import json
import sys
from pathlib import Path

import pytest

from mathdata.errors import MathDataError
from mathdata.prompts import PromptSpec
from mathtrain.cli import main
from mathtrain.evaluate import run_eval as run_eval_mod
from mathtrain.evaluate.run_eval import Backend, EvalOptions, run_eval
from train_helpers import two_step_run

ROOT = Path(__file__).resolve().parents[1]
MATH_REFS = ROOT / "fixtures/eval/math_references.jsonl"
SQUAD_TINY = ROOT / "fixtures/squad/tiny.json"
TRAINED = {"name": "answer_line", "human": "{problem}\n请逐步计算，最后一行写出“答案：”和结果。", "chat": "vicuna_v1.1"}


class CharTokenizer:
    def encode(self, text):
        return list(range(len(text)))


class FakeModel:
    """Answers 1835.05 to everything math and 东海 to SQuAD; records what it was asked."""

    def __init__(self):
        self.prompts, self.max_new, self.min_new, self.loaded = [], [], [], {}

    def backend(self) -> Backend:
        def load_model(run_dir, checkpoint, merged, seq_length):
            self.loaded = {"checkpoint": checkpoint, "merged": merged, "seq_length": seq_length}
            return object(), CharTokenizer(), None, None

        def generate(network, tokenizer, prompts, max_new, min_new, batch_size, on_done):
            self.prompts += prompts
            self.max_new += [max_new] * len(prompts)
            self.min_new.append(min_new)
            on_done(list(range(len(prompts))), ["答案：1835.05" if "ASSISTANT:" in p else "东海\n其他" for p in prompts])

        return Backend(lambda info: CharTokenizer(), load_model, generate)


def make_run(path: Path, prompt=TRAINED) -> Path:
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({
        "prompt": prompt, "model_config": {"seq_length": 96}, "params": {"trainable": 3407872, "total": 8030261248},
        "checkpoint_prefix": "tiny_lora", "config": {"tokenizer": {"type": "LlamaTokenizer", "path": "unused"}}}, ensure_ascii=False), encoding="utf-8")
    return path


def test_eval_uses_training_prompt_and_saves_everything(tmp_path):
    run = make_run(tmp_path / "run")
    model = FakeModel()
    res = run_eval(run, tmp_path / "out", EvalOptions(math=MATH_REFS, squad=SQUAD_TINY, limit=3, max_new_tokens=7),
                   backend=model.backend())
    spec = PromptSpec.from_dict(TRAINED)
    problems = [json.loads(line)["problem"] for line in MATH_REFS.read_text(encoding="utf-8").splitlines()[:3]]
    assert model.prompts[:3] == [spec.generation_prompt(p) for p in problems]
    assert model.prompts[3].startswith("Read the passage and answer the question below.\n\n### Instruction:\n东海")
    assert len(model.prompts) == 5  # 3 math + 2 first questions (t-1, t-3)
    assert model.max_new == [7, 7, 7, 20, 20]
    assert model.min_new == [0, 1]  # SQuAD: min_new_tokens 1 by default
    longest = max(len(p) for p in model.prompts[:3]) + 7
    assert model.loaded["seq_length"] == max(96, -(-longest // 32) * 32)

    out = tmp_path / "out"
    preds = [json.loads(line) for line in (out / "math_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["id"] for p in preds] == ["m01", "m02", "m03"]
    assert preds[0]["prediction"] == "答案：1835.05"
    assert res.math.correct == 1 and res.math.total == 3  # only m01's answer is 1835.05
    squad = json.loads((out / "squad_scores.json").read_text(encoding="utf-8"))
    assert [i["id"] for i in squad["per_item"]] == ["t-1", "t-3"]
    assert squad["per_item"][0]["answer"] == "东海"  # first line only
    # "东海" vs 中国东部: one common character of 2 and 4 -> F1 1/3; vs Paris -> 0
    assert squad["f1"] == pytest.approx(100 * (1 / 3) / 2) and squad["em"] == 0.0
    summary = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert summary["prompt"] == TRAINED and summary["prompt_forced"] is False
    assert summary["checkpoint"] is None and model.loaded["checkpoint"] is None  # none in the stand-in run
    assert summary["math"]["accuracy"] == pytest.approx(1 / 3)
    assert summary["contest"]["score"] == pytest.approx(0.7 / 3 + 0.3 * (1 - 3407872 / 8030261248))
    assert json.loads((out / "math_scores.json").read_text(encoding="utf-8"))["correct"] == 1


def test_eval_squad_scores_in_range(tmp_path):
    run = make_run(tmp_path / "run")
    res = run_eval(run, tmp_path / "out", EvalOptions(squad=SQUAD_TINY, first_question_only=False),
                   backend=FakeModel().backend())
    assert res.squad.total == 3 and res.math is None
    # "东海" against labels 中国东部 / 东海 / Paris: EmF1 F1 1/3, 1, 0 ; EM 0, 1, 0
    assert res.squad.f1 == pytest.approx(100 * (4 / 3) / 3)
    assert res.squad.em == pytest.approx(100 / 3)
    assert "contest" not in res.summary  # no math accuracy, no contest score


def test_prompt_mismatch_is_refused_unless_forced(tmp_path):
    run = make_run(tmp_path / "run")
    with pytest.raises(MathDataError) as err:
        run_eval(run, tmp_path / "out", EvalOptions(math=MATH_REFS, prompt_name="raw"), backend=FakeModel().backend())
    assert "trained with prompt 'answer_line'" in str(err.value) and "--force-prompt" in str(err.value)
    model = FakeModel()
    res = run_eval(run, tmp_path / "out", EvalOptions(math=MATH_REFS, limit=1, prompt_name="raw", force_prompt=True,
                                                      rules_dir=ROOT / "rules"), backend=model.backend())
    assert res.prompt.name == "raw" and res.summary["prompt_forced"] is True
    assert model.prompts[0].endswith("USER: 计算 4204.22 + -2369.17 等于多少？ ASSISTANT:")
    # naming the training prompt itself is fine
    res = run_eval(run, tmp_path / "out2", EvalOptions(math=MATH_REFS, limit=1, prompt_name="answer_line"),
                   backend=FakeModel().backend())
    assert res.prompt == PromptSpec.from_dict(TRAINED)


@pytest.mark.parametrize(
    "opts, message",
    [
        (EvalOptions(), "nothing to evaluate"),
        (EvalOptions(math=MATH_REFS, limit=0), "--limit must be >= 1"),
        (EvalOptions(math=MATH_REFS, max_new_tokens=0), "--max-new-tokens must be >= 1"),
        (EvalOptions(math=Path("nope.jsonl")), "nope.jsonl: no such file"),
        (EvalOptions(math=MATH_REFS, checkpoint=Path("gone.ckpt")), "gone.ckpt: no such checkpoint"),
    ],
)
def test_eval_bad_options(tmp_path, opts, message):
    run = make_run(tmp_path / "run")
    with pytest.raises(MathDataError, match=message):
        run_eval(run, tmp_path / "out", opts, backend=FakeModel().backend())


def test_eval_not_a_run_dir(tmp_path):
    with pytest.raises(MathDataError, match="not a mathtrain run directory"):
        run_eval(tmp_path, tmp_path / "out", EvalOptions(math=MATH_REFS), backend=FakeModel().backend())


def test_eval_cli_with_stand_in_model(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path / "run")
    monkeypatch.setattr(run_eval_mod, "default_backend", lambda *a: FakeModel().backend())
    monkeypatch.setattr(sys, "argv", ["mathtrain", "eval", "--run", str(run), "--out", str(tmp_path / "out"),
                                      "--math", str(MATH_REFS), "--limit", "2", "--quiet", "--json", "-"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["math"]["total"] == 2 and summary["math"]["correct"] == 1
    monkeypatch.setattr(sys, "argv", ["mathtrain", "eval", "--run", str(run), "--out", str(tmp_path / "out"),
                                      "--math", str(MATH_REFS), "--prompt", "raw"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("mathtrain: error: the run was trained with prompt 'answer_line'") and err.count("\n") == 1


# ------------------------------------------------------------------------------- real, on CPU
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(run_dir, build_dir): a tiny LoRA run trained for 2 steps (shared with test_eval_generate.py)."""
    return two_step_run(tmp_path_factory)


@pytest.mark.train
def test_eval_end_to_end_on_cpu(tiny_run, tmp_path, monkeypatch, capfd):
    run, build = tiny_run
    out = tmp_path / "eval"
    monkeypatch.setattr(sys, "argv", ["mathtrain", "eval", "--run", str(run), "--out", str(out),
                                      "--math", str(MATH_REFS), "--squad", str(SQUAD_TINY), "--limit", "2",
                                      "--max-new-tokens", "6", "--squad-max-new-tokens", "6", "--json", "-"])
    with pytest.raises(SystemExit) as exit_:
        main()
    stdout, stderr = capfd.readouterr()
    assert exit_.value.code == 0, stderr[-2000:]
    # stdout is only our JSON: MindFormers' own stdout logging was sent to stderr
    assert json.loads(stdout) == json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert "generating math" in stderr
    manifest_prompt = json.loads((build / "manifest.json").read_text(encoding="utf-8"))["prompt"]
    summary = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert summary["prompt"] == manifest_prompt and summary["prompt_forced"] is False
    assert summary["math"]["example_prompt"] == PromptSpec.from_dict(manifest_prompt).generation_prompt(
        "计算 4204.22 + -2369.17 等于多少？")
    assert summary["checkpoint"] == str(run / "checkpoints" / "tiny_lora_step000002.ckpt")
    preds = [json.loads(line) for line in (out / "math_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["id"] for p in preds] == ["m01", "m02"] and all(isinstance(p["prediction"], str) for p in preds)
    squad_preds = [json.loads(line) for line in (out / "squad_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["id"] for p in squad_preds] == ["t-1", "t-3"]
    assert 0.0 <= summary["math"]["accuracy"] <= 1.0
    for key in ("f1", "em", "squad_f1", "squad_em"):
        assert 0.0 <= summary["squad"][key] <= 100.0
    assert summary["contest"]["trainable"] > 0 and 0.0 < summary["contest"]["score"] <= 1.0
    # the saved predictions rescore identically with `mathtrain score squad`
    monkeypatch.setattr(sys, "argv", ["mathtrain", "score", "squad", "-p", str(out / "squad_predictions.jsonl"),
                                      "-r", str(SQUAD_TINY), "--first-question-only", "--json", "-"])
    with pytest.raises(SystemExit):
        main()
    rescored = json.loads(capfd.readouterr().out)
    assert rescored["f1"] == summary["squad"]["f1"] and rescored["em"] == summary["squad"]["em"]


def test_newest_checkpoint_is_resolved_and_passed_to_the_loader(tmp_path):
    run = make_run(tmp_path / "run")
    for sub, name in (("checkpoints", "tiny_lora_step000008.ckpt"), ("checkpoints", "tiny_lora_step000016.ckpt"),
                      ("checkpoints", "tiny_lora_step000004.ckpt"), ("merged", "tiny_lora_step000008_merged.ckpt")):
        (run / sub).mkdir(exist_ok=True)
        (run / sub / name).write_bytes(b"")
    model = FakeModel()
    res = run_eval(run, tmp_path / "out", EvalOptions(math=MATH_REFS, limit=1), backend=model.backend())
    assert model.loaded["checkpoint"] == run / "checkpoints" / "tiny_lora_step000016.ckpt"
    assert res.summary["checkpoint"] == str(run / "checkpoints" / "tiny_lora_step000016.ckpt")
    res = run_eval(run, tmp_path / "out", EvalOptions(math=MATH_REFS, limit=1, merged=True), backend=model.backend())
    assert model.loaded["checkpoint"] == run / "merged" / "tiny_lora_step000008_merged.ckpt"
    assert model.loaded["merged"] is True
