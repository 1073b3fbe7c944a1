"""Math accuracy scorer (mathtrain.evaluate.math_score) on hand-made fixture files."""
import json
from pathlib import Path

import pytest

from mathdata.errors import MathDataError
from mathtrain.evaluate.math_score import Reference, category_order, score_math, score_math_files

ROOT = Path(__file__).resolve().parents[1]
PREDS = ROOT / "fixtures/eval/math_predictions.jsonl"
REFS = ROOT / "fixtures/eval/math_references.jsonl"

# hand-checked verdict for every fixture item
EXPECTED = {"m01": True, "m02": False, "m03": True, "m04": True, "m05": True, "m06": True, "m07": False,
            "m08": True, "m09": False, "m10": True, "m11": True, "m12": False, "m13": True, "m14": False,
            "m15": True, "m16": True, "m17": True, "m18": False}


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_fixture_verdicts_and_totals():
    score = score_math_files(PREDS, REFS, category_order=category_order(ROOT / "rules"))
    assert {item.id: item.correct for item in score.items} == EXPECTED
    assert (score.total, score.correct) == (18, 12)
    assert score.accuracy == pytest.approx(12 / 18)
    assert score.no_prediction == 2  # m12 empty, m18 no number
    assert score.no_reference == 0
    # rules order (add, sub, ... english), not alphabetical
    assert list(score.per_category)[:3] == ["add", "sub", "mul"]
    assert score.per_category["add"] == (2, 1)
    assert score.per_category["simplify"] == (2, 1)
    assert score.per_category["english"] == (2, 1)
    data = score.to_dict()
    assert data["total"] == 18 and data["correct"] == 12
    assert {"id": "m07", "category": "sqrt", "correct": False, "predicted": "75.1",
            "reference": "75.0797575915106428"} in data["per_item"]


def test_contest_tolerance_changes_verdicts():
    # sqrt 75.1 vs 75.0797...: off by 0.02 -> still wrong at abs 1e-2, right at abs 0.05
    loose = score_math_files(PREDS, REFS, abs_tol=0.05)
    verdicts = {item.id: item.correct for item in loose.items}
    assert verdicts["m07"] is True
    assert verdicts["m02"] is True   # 19.70 vs 19.75
    assert verdicts["m09"] is False  # fraction reference stays exact
    exact = score_math_files(PREDS, REFS, rel_tol=0.0)
    assert {i.id: i.correct for i in exact.items}["m05"] is False  # 0.3333 vs 0.3333333333333333


def test_empty_and_missing_predictions_are_wrong_not_errors():
    refs = [Reference("a", "add", "p", "1 + 1 = 2"), Reference("b", "add", "p", "2 + 2 = 4")]
    score = score_math({"a": "", "b": None}, refs)
    assert [i.correct for i in score.items] == [False, False]
    assert score.no_prediction == 2
    assert score_math({}, refs).correct == 0


def test_reference_without_answer_counts_wrong():
    refs = [Reference("a", "other", "p", "答案：无解")]
    score = score_math({"a": "所以答案是无解。"}, refs)
    # a non-numeric answer phrase is still compared as text
    assert score.items[0].correct is True and score.items[0].reference == "无解"
    refs = [Reference("a", "other", "p", "无法计算")]  # no answer phrase, no number
    score = score_math({"a": "无法计算"}, refs)
    assert score.items[0].correct is False and score.no_reference == 1
    refs = [Reference("a", "other", "p", "")]
    score = score_math({"a": "5"}, refs)
    assert score.items[0].correct is False and score.no_reference == 1


@pytest.mark.parametrize(
    "pred_rows, ref_rows, message",
    [
        ([{"id": "a", "prediction": "1"}], [{"id": "a", "solution": "1"}, {"id": "b", "solution": "2"}],
         "1 reference ids have no prediction (e.g. 'b')"),
        ([{"id": "a", "prediction": "1"}, {"id": "z", "prediction": "2"}], [{"id": "a", "solution": "1"}],
         "1 prediction ids are not in the references (e.g. 'z')"),
        ([{"id": "a", "prediction": "1"}, {"id": "a", "prediction": "2"}], [{"id": "a", "solution": "1"}],
         "preds.jsonl:2: duplicate id 'a' (first on line 1)"),
        ([{"id": "a", "prediction": "1"}], [{"id": "a", "solution": "1"}, {"id": "a", "solution": "1"}],
         "refs.jsonl:2: duplicate id 'a' (first on line 1)"),
        ([{"id": "a"}], [{"id": "a", "solution": "1"}], "preds.jsonl:1: missing field 'prediction'"),
        ([{"id": "a", "prediction": 5}], [{"id": "a", "solution": "1"}], "prediction for id 'a' is int, not text"),
    ],
)
def test_bad_inputs_name_file_and_line(tmp_path, pred_rows, ref_rows, message):
    preds = write_jsonl(tmp_path / "preds.jsonl", pred_rows)
    refs = write_jsonl(tmp_path / "refs.jsonl", ref_rows)
    with pytest.raises(MathDataError) as err:
        score_math_files(preds, refs)
    assert message in str(err.value)


def test_bad_json_line_and_missing_file(tmp_path):
    refs = write_jsonl(tmp_path / "refs.jsonl", [{"id": "a", "solution": "1"}])
    preds = tmp_path / "preds.jsonl"
    preds.write_text('{"id": "a", "prediction": "1"}\n\n{"id": "b", prediction}\n', encoding="utf-8")
    with pytest.raises(MathDataError, match=r"preds\.jsonl:3: not valid JSON"):
        score_math_files(preds, refs)
    with pytest.raises(MathDataError, match="no such file"):
        score_math_files(tmp_path / "nope.jsonl", refs)


def test_numeric_ids_match_string_ids(tmp_path):
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "prediction": "答案：3"}])
    refs = write_jsonl(tmp_path / "r.jsonl", [{"id": "1", "category": "add", "problem": "1+2", "solution": "1 + 2 = 3"}])
    assert score_math_files(preds, refs).correct == 1


def test_raw_eval_set_gets_line_ids_and_rule_categories(tmp_path):
    refs = write_jsonl(tmp_path / "eval.jsonl", [
        {"problem": "计算 -7545.45 + -5832.66 等于多少？", "solution": "-7545.45 + -5832.66 = -13378.11"},
        {"problem": "将分数 5/6 进行简化。", "solution": "最简化的形式为：5/6"},
        {"problem": "What is $2^{10}$?", "solution": "$\\\\boxed{1024}$"},
    ])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "prediction": "-13378.11"}, {"id": "2", "prediction": "5/6"},
                                               {"id": 3, "prediction": "1000"}])
    score = score_math_files(preds, refs, rules_dir=ROOT / "rules")
    assert [(i.id, i.category, i.correct) for i in score.items] == [
        ("1", "add", True), ("2", "simplify", True), ("3", "english", False)]


def test_ids_on_some_lines_only_is_an_error(tmp_path):
    refs = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "solution": "1"}, {"solution": "2"}])
    with pytest.raises(MathDataError, match=r"r\.jsonl:2: missing field 'id'"):
        score_math_files(write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prediction": "1"}]), refs)
