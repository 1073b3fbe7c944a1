"""SQuAD scoring: EmF1Metric re-implementation (checked against MindFormers itself) and official v1.1."""
import contextlib
import io
from pathlib import Path

import pytest

from mathdata.errors import MathDataError
from mathtrain.evaluate.squad_data import SQUAD_PROMPT, load_squad
from mathtrain.evaluate.squad_score import (emf1_em, emf1_f1, emf1_scores, first_line, mixed_segmentation,
                                            score_squad, squad_em, squad_f1)
from squad_pairs import PAIRS

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT / "fixtures/squad/dev-mini.json"
FIRST_PREDS = {"sb-1": "Denver Broncos\nThey won.", "sb-4": "", "ox-1": "8", "ox-3": "dephlogisticated air",
               "cj-1": "6300公里", "cj-4": "湖北省宜昌市三斗坪镇。", "hl-1": "曹雪芹", "no-1": "Normandy is in France"}


@pytest.mark.parametrize(
    "prediction, label, f1, em",
    [
        ("Denver Broncos", "Denver Broncos", 1.0, 1),
        ("The Denver Broncos", "Denver Broncos", 0.75, 0),           # 3 of 5 segments (spaces count)
        ("Carolina Panthers", "Denver Broncos", 1 / 3, 0),          # quirk: the space segment matches
        ("Hello world。", "Hello world", 1.0, 1),                    # '。' is in sp_char
        ("Hello world.", "Hello world", 6 / 7, 0),                  # '.' is not
        ("长江最终注入东海", "东海", 0.4, 0),                           # CJK characters are single segments
        ("helium and hydrogen", "hydrogen and helium", 2 * (3 / 5) * (3 / 5) / (6 / 5), 0),  # contiguous run
        ("曹雪芹……", "曹雪芹", 0.75, 0),                               # quirk: "……" never matches one char
        ("", "", 0.0, 1),                                           # empty equals empty, but F1 is 0
        ("", "东海", 0.0, 0),
    ],
)
def test_emf1_hand_cases(prediction, label, f1, em):
    assert emf1_f1(prediction, label) == pytest.approx(f1)
    assert emf1_em(prediction, label) == em


def test_segmentation_and_first_line():
    assert mixed_segmentation("约6300公里", rm_punc=True) == ["约", "6300", "公", "里"]
    assert mixed_segmentation("Von Miller!", rm_punc=True) == ["von", " ", "miller", "!"]
    assert first_line("\n\n  France\nmore") == "France"
    assert first_line(None) == ""


def test_official_squad_normalisation_and_max_over_golds():
    assert squad_em("The Denver Broncos!", ["Denver Broncos"]) == 1.0
    assert squad_f1("Normandy is in France", ["France", "Normandy"]) == pytest.approx(0.4)
    assert squad_f1("约6300公里", ["6300公里", "约6300公里"]) == 1.0
    assert squad_em("湖北省宜昌市三斗坪镇。", ["湖北省宜昌市三斗坪镇"]) == 0.0  # '。' is not ASCII punctuation


def test_load_squad_fixture():
    examples = load_squad(SQUAD)
    assert len(examples) == 18
    firsts = load_squad(SQUAD, first_question_only=True)
    assert [e.id for e in firsts] == list(FIRST_PREDS)
    ox3 = next(e for e in firsts if e.id == "ox-3")
    assert ox3.label == '"dephlogisticated air"' and ox3.answers[1] == "dephlogisticated air"
    assert ox3.prompt() == SQUAD_PROMPT.format(context=ox3.context, question=ox3.question)
    assert ox3.prompt().startswith("Read the passage and answer the question below.\n\n### Instruction:\n")
    assert ox3.prompt().endswith("\n\n### Input:\nWhat did Priestley call oxygen?\n\n### Response:")


def test_score_squad_fixture_values():
    score = score_squad(FIRST_PREDS, load_squad(SQUAD, first_question_only=True))
    assert score.total == 8
    # per item, hand-computed: F1 1, 0, 1, .75, 6/7, 1, 2/3, .25 ; official 1, 0, 1, 1, 1, 0, 1, .4
    assert score.f1 == pytest.approx(100 * (1 + 0 + 1 + 0.75 + 6 / 7 + 1 + 2 / 3 + 0.25) / 8)
    assert score.em == 37.5
    assert score.squad_f1 == pytest.approx(67.5)
    assert score.squad_em == 62.5
    data = score.to_dict()
    assert set(data) >= {"f1", "em", "squad_f1", "squad_em"}
    assert data["per_item"][0] == {"id": "sb-1", "answer": "Denver Broncos", "label": "Denver Broncos",
                                   "f1": 1.0, "em": 1, "squad_f1": 1.0, "squad_em": 1.0}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"version": "1.1"}', 'no top-level "data" list'),
        ('{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q", "question": "?", "answers": []}]}]}]}',
         "data[0].paragraphs[0].qas[0] (id 'q') has no answers"),
        ('{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q"}]}]}]}',
         'data[0].paragraphs[0].qas[0] needs "id", "question" and "answers"'),
        ("{not json", "bad.json:1:2: not valid JSON"),  # column 2: "n" is not a key
    ],
)
def test_load_squad_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MathDataError) as err:
        load_squad(path)
    assert message in str(err.value)


def test_pairs_cover_chinese_english_and_tricky_cases():
    assert len(PAIRS) >= 50
    assert sum(any("\u4e00" <= ch <= "\u9fa5" for ch in p + l) for p, l in PAIRS) >= 20
    assert any("\n" in p for p, _ in PAIRS) and any(p.strip() == "" for p, _ in PAIRS)


@pytest.mark.train
def test_matches_mindformers_emf1metric(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # importing mindformers creates ./output/log
    from mindformers.core.metric import EmF1Metric

    metric = EmF1Metric()
    metric.clear()
    for pred, label in PAIRS:
        answer = first_line(pred)
        assert emf1_f1(answer, label) == metric.calc_f1_score([label], answer), (pred, label)
        assert emf1_em(answer, label) == metric.calc_em_score([label], answer), (pred, label)
    with contextlib.redirect_stdout(io.StringIO()):
        metric.clear()
        for pred, label in PAIRS:  # the way MindFormers' eval loop feeds it, one sample per update
            metric.update([pred], [label])
        theirs = metric.eval()
    f1, em = emf1_scores([p for p, _ in PAIRS], [l for _, l in PAIRS])
    assert (f1, em) == (theirs["F1"], theirs["Em"])  # bit-identical
    assert 0 < em < f1 < 100

    # and the file-level scorer on the fixture, first answer as label
    examples = load_squad(SQUAD, first_question_only=True)
    with contextlib.redirect_stdout(io.StringIO()):
        metric.clear()
        metric.update([FIRST_PREDS[e.id] for e in examples], [e.label for e in examples])
        theirs = metric.eval()
    ours = score_squad(FIRST_PREDS, examples)
    assert (ours.f1, ours.em) == (theirs["F1"], theirs["Em"])
