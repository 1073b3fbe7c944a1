"""Decontamination: exact and character n-gram overlap, numbers not masked."""
import polars as pl
import pytest

from mathdata.decontam import EvalIndex, decontaminate, load_eval_sets, ngrams, squeeze
from mathdata.errors import MathDataError
from mathdata.normalize import normalize_text

from conftest import FIXTURES

EVAL = ["计算 4204.22 + -2369.17 等于多少？", "计算 5.5 的平方根？", "一个长方形的长为 12 厘米，宽为 29 厘米，请计算其面积。"]


@pytest.fixture
def index():
    return EvalIndex([squeeze(normalize_text(x)) for x in EVAL])


def reasons(index, texts):
    df = pl.DataFrame({"norm": [normalize_text(t) for t in texts]})
    kept, dropped = decontaminate(df, index)
    assert kept.height + dropped.height == len(texts)
    got = dict(zip(dropped["norm"], dropped["drop_reason"]))
    return [got.get(normalize_text(t)) for t in texts]


def test_exact_and_reformatted_copies(index):
    assert reasons(index, ["计算 4204.22 + -2369.17 等于多少", "计算4204.22+-2369.17等于多少？",
                           "计算 ５.５ 的平方根"]) == ["eval_exact", "eval_exact", "eval_exact"]


def test_embedded_and_extended_texts_overlap(index):
    assert reasons(index, [
        "请回答：计算 4204.22 + -2369.17 等于多少",            # eval problem inside a longer text
        "题目：计算 5.5 的平方根。谢谢",                         # a short eval text inside a longer one
        "一个长方形的长为 12 厘米，宽为 29 厘米，请计算其面积和周长。",  # the eval problem extended
        "5.5的平方根",                                         # a short text inside an eval text
    ]) == ["eval_ngram"] * 4


def test_template_siblings_with_other_numbers_are_not_contaminated(index):
    assert reasons(index, [
        "计算 4204.22 + -2369.18 等于多少",   # one digit differs
        "计算 4204.22 + 17.5 等于多少",
        "计算 15.5 的平方根",
        "计算 5.55 的平方根",
        "一个长方形的长为 12 厘米，宽为 28 厘米，请计算其面积。",
        "一个长方形的长为 13 厘米，宽为 29 厘米，请计算其面积。",
    ]) == [None] * 6


def test_ngrams_and_settings():
    assert ngrams("abcdef", 4) == {"abcd", "bcde", "cdef"}
    assert ngrams("abc", 4) == {"abc"}
    assert squeeze("计算 1 + 2") == "计算1+2"
    idx = EvalIndex(["abcdefghijklmnopqrstuvwxyz"], n=5, overlap=0.5)
    assert idx.check_norms(["abcdefghijklm", "zzzzzzzzzzzzz", "abcdefghij klmnopqrstuvwxyz"]) == [True, False, True]
    with pytest.raises(MathDataError, match="need n >= 1"):
        EvalIndex(["x"], n=0)
    with pytest.raises(MathDataError, match="0 < overlap <= 1"):
        EvalIndex(["x"], overlap=1.5)


def test_load_eval_sets_from_a_file():
    idx = load_eval_sets([FIXTURES / "build" / "eval.jsonl"])
    assert len(idx) == 3
    assert idx.sources[0]["records"] == 3 and len(idx.sources[0]["sha256"]) == 64
    assert idx.settings()["ngram"] == 13 and idx.settings()["overlap"] == 0.8
    assert idx.check_norms([normalize_text("计算 533.51 的平方根？"), normalize_text("计算 1.25 + 1.25 等于多少？"),
                            normalize_text("计算 1.25 + 1.5 等于多少？")]) == [True, True, False]


def test_empty_index_keeps_everything():
    df = pl.DataFrame({"norm": ["a", "b"]})
    kept, dropped = decontaminate(df, EvalIndex([]))
    assert kept.height == 2 and dropped.height == 0
