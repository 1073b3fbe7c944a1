import json

import pytest

from mathdata.errors import MathDataError
from mathdata.io import atomic_path, read_records


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_jsonl_with_bom_and_line_numbers(tmp_path):
    f = write(tmp_path / "a.jsonl", "\ufeff" + '{"problem": "计算 1", "solution": "1"}\n\n{"problem": "计算 2", "solution": 2}\n')
    r = read_records([f])
    assert r.frame["problem"].to_list() == ["计算 1", "计算 2"]
    assert r.frame["solution"].to_list() == ["1", "2"]
    assert r.frame["line"].to_list() == [1, 3]


def test_json_array_and_field_names(tmp_path):
    f = write(tmp_path / "ape.json", json.dumps([{"original_text": "甲 3 乙 4", "ans": "7"}, {"original_text": "x", "ans": 5}], ensure_ascii=False))
    r = read_records([f])
    assert r.fields[str(f)] == "original_text/ans"
    assert r.frame["solution"].to_list() == ["7", "5"]
    r = read_records([f], problem_field="original_text", solution_field="ans")
    assert r.frame.height == 2


def test_alpaca_and_conversations(tmp_path):
    a = write(tmp_path / "alpaca.json", json.dumps([{"instruction": "计算", "input": "1+1", "output": "2"}], ensure_ascii=False))
    assert read_records([a]).frame["problem"].to_list() == ["计算\n1+1"]
    c = write(tmp_path / "conv.json", json.dumps([{"id": "1", "conversations": [
        {"from": "human", "value": "计算 1+1"}, {"from": "gpt", "value": "2"}]}], ensure_ascii=False))
    r = read_records([c])
    assert (r.frame["problem"][0], r.frame["solution"][0]) == ("计算 1+1", "2")


@pytest.mark.parametrize("content, message", [
    ('{"problem": "a", "solution": "b"}\n{"problem": broken\n', ":2: malformed JSON"),
    ('{"problem": "a", "solution": "b"}\n{"problem": "a"}\n', ":2: missing field 'solution'"),
    ('{"problem": "", "solution": "b"}\n', ":1: empty 'problem'"),
    ('[{"problem": "a", "solution": "b"},]', ":1: malformed JSON array"),
    ("", "file is empty"),
])
def test_bad_input_names_file_and_line(tmp_path, content, message):
    f = write(tmp_path / "bad.jsonl", content)
    with pytest.raises(MathDataError, match=message) as err:
        read_records([f])
    assert str(f) in str(err.value)


def test_wrong_encoding(tmp_path):
    f = write(tmp_path / "gbk.jsonl", '{"problem": "a", "solution": "b"}\n{"problem": "计算", "solution": "b"}\n', "gbk")
    with pytest.raises(MathDataError, match=r"gbk.jsonl:2: not valid UTF-8"):
        read_records([f])


def test_skip_bad_counts(tmp_path):
    f = write(tmp_path / "a.jsonl", '{"problem": "a", "solution": "b"}\nnot json\n{"x": 1}\n{"problem": "c", "solution": "d"}\n')
    r = read_records([f], skip_bad=True)
    assert r.bad_lines == 2 and r.frame["line"].to_list() == [1, 4]
    assert r.bad_examples[0].endswith(":2: malformed JSON: Expecting value")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"


def test_concatenated_pretty_json_objects(tmp_path):
    """Math23K ships pretty-printed objects one after another, not an array."""
    objs = [{"id": "1", "original_text": "甲有 3 个，乙有 4 个，一共几个？", "ans": "7"},
            {"id": "2", "original_text": "5 的 2 倍是多少？", "ans": "10"}]
    f = write(tmp_path / "math23k.json", "\n".join(json.dumps(o, ensure_ascii=False, indent=2) for o in objs))
    r = read_records([f])
    assert r.frame["solution"].to_list() == ["7", "10"]
    assert r.frame["line"].to_list() == [1, 6]


def test_parquet_and_csv(tmp_path):
    import polars as pl
    pl.DataFrame({"question": ["1+1=?", "2+2=?"], "answer": ["2", "4"]}).write_parquet(tmp_path / "gsm.parquet")
    r = read_records([tmp_path / "gsm.parquet"])
    assert r.fields[str(tmp_path / "gsm.parquet")] == "question/answer" and r.frame["solution"].to_list() == ["2", "4"]
    write(tmp_path / "d.csv", "problem,solution\n计算 1,1\n,2\n")
    with pytest.raises(MathDataError, match=r"d.csv:3: empty or missing"):
        read_records([tmp_path / "d.csv"])
    r = read_records([tmp_path / "d.csv"], skip_bad=True)
    assert r.bad_lines == 1 and r.frame["problem"].to_list() == ["计算 1"]
