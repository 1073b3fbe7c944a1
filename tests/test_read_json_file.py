"""mathdata.io.read_json_file: the one reader of single JSON files (run.json, score JSON, SQuAD JSON)."""
import json

import pytest

from mathdata.errors import MathDataError
from mathdata.io import read_json_file


def test_an_object_is_returned_as_parsed(tmp_path):
    data = {"config": {"run": {"runner": "loop"}}, "params": {"trainable": 3, "total": 10}, "note": "计算"}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert read_json_file(path) == data
    assert read_json_file(str(path)) == data


def test_missing_file(tmp_path):
    with pytest.raises(MathDataError) as err:
        read_json_file(tmp_path / "gone.json", "restore it")
    assert err.value.message == f"{tmp_path / 'gone.json'}: no such file" and err.value.hint == "check the path"
    with pytest.raises(MathDataError) as err:  # the caller knows what the file should have been
        read_json_file(tmp_path / "gone.json", not_found=(f"{tmp_path}: not a run directory", "pass --run"))
    assert (err.value.message, err.value.hint) == (f"{tmp_path}: not a run directory", "pass --run")


def test_a_directory(tmp_path):
    with pytest.raises(MathDataError) as err:
        read_json_file(tmp_path)
    assert err.value.message.startswith(f"{tmp_path}: is a directory") and err.value.hint == "pass the file itself"


def test_bad_json_names_its_line_and_column(tmp_path):
    lines = ["{", '  "a": 1,', '  "b": }']
    path = tmp_path / "bad.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MathDataError) as err:
        read_json_file(path, "restore it")
    column = lines[2].index("}") + 1
    assert err.value.message.startswith(f"{path}:3:{column}: not valid JSON (")
    assert err.value.hint == "restore it"
    assert "\n" not in str(err.value)


def test_not_utf8(tmp_path):
    path = tmp_path / "gbk.json"
    path.write_bytes('{"a": "计算"}'.encode("gbk"))
    with pytest.raises(MathDataError) as err:
        read_json_file(path)
    assert err.value.message == f"{path}: not UTF-8 text"


@pytest.mark.parametrize("value, found", [([1, 2], "an array"), ("x", "a single value"), (None, "a single value")])
def test_not_an_object(tmp_path, value, found):
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    with pytest.raises(MathDataError) as err:
        read_json_file(path, "restore it")
    assert err.value.message == f"{path}: not a JSON object (the file holds {found})"
    assert err.value.hint == "restore it"
    assert read_json_file(path, want_object=False) == value  # callers with their own shape check
