"""Robustness: one reader, one behaviour for every record (issue 12 items 5, 9; issue 10 item 3).

Every hostile record is read twice: in a clean JSON Lines file (which the fast polars path may take)
and in the same file with a blank line (which the careful path takes). Both must give the same
verdict at the record's real line."""
import json

import polars as pl
import pytest

from mathdata.errors import MathDataError
from mathdata.io import read_records

from robust_helpers import SAMPLE, TINY, cli, snapshot

GOOD = '{"problem": "计算 1 + 2 等于多少？", "solution": "1 + 2 = 3"}'
GOOD2 = '{"problem": "计算 2 + 2 等于多少？", "solution": "2 + 2 = 4"}'

HOSTILE = [
    ('{"problem": ["计算 1 + 1"], "solution": "2"}', "field 'problem' must be text, got a list"),
    ('{"problem": true, "solution": "2"}', "field 'problem' must be text, got true/false"),
    ('{"problem": {"text": "计算"}, "solution": "2"}', "field 'problem' must be text, got an object"),
    ('{"problem": null, "solution": "2"}', "field 'problem' must be text, got null"),
    ('{"problem": 12, "solution": "2"}', "field 'problem' must be text, got a number"),
    ('{"problem": "计算 1 + 1", "solution": ["2"]}', "field 'solution' must be text or a number, got a list"),
    ('{"problem": "计算 1 + 1", "solution": false}', "field 'solution' must be text or a number, got true/false"),
    ('{"problem": "计算 \\ud800 + 1", "solution": "2"}', "field 'problem' holds a lone surrogate (\\ud800)"),
    ('{"problem": "计算 1 + 1", "solution": "\\udfff"}', "field 'solution' holds a lone surrogate (\\udfff)"),
    ('{"problem": "计算 1 + 1", "solution": "2", "problem": "计算 2 + 2"}', "key 'problem' appears twice"),
    ('{"problem": "计算 1 + 1", "solution": "2", "solution": "3"}', "key 'solution' appears twice"),
    ('{"pr\\u006fblem": "计算 1 + 1", "problem": "计算 2 + 2", "solution": "2"}', "key 'problem' appears twice"),
    ('{"problem": "计算 1 + 1", "solution": ""}', "empty 'solution'"),
    ('{"problem": "计算 1 + 1", "solution": " \\t\\n "}', "empty 'solution'"),
    ('{"problem": "   ", "solution": "2"}', "empty 'problem'"),
    ('{"problem": "计算 1 + 1"}', "missing field 'solution'"),
    ('[1, 2]', "expected a JSON object, got a list"),
    ('"just text"', "expected a JSON object, got text"),
    ('{"problem": broken', "malformed JSON"),
    # deeper than any recursion limit in force: MindSpore raises it to 10,000 when the suite imports it
    ('{"problem": "计算 1 + 1", "solution": "2", "meta": ' + "[" * 20000 + "]" * 20000 + "}",
     "JSON nested too deeply to read"),
]


def _read(path, **kw):
    try:
        return read_records([path], **kw), None
    except MathDataError as err:
        return None, err


@pytest.mark.parametrize("line, message", HOSTILE, ids=[m for _, m in HOSTILE])
def test_one_verdict_on_both_paths_at_the_real_line(tmp_path, line, message):
    clean = tmp_path / "clean.jsonl"
    clean.write_text(f"{GOOD}\n{line}\n{GOOD2}\n", encoding="utf-8")
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_text(f"{GOOD}\n\n{line}\n{GOOD2}\n", encoding="utf-8")
    for path, n in ((clean, 2), (spaced, 3)):
        result, err = _read(path)
        assert result is None, f"{path.name}: accepted {line!r}"
        assert err.message.startswith(f"{path}:{n}: {message}"), err.message
        assert "--skip-bad" in err.hint
        kept = read_records([path], skip_bad=True)
        assert kept.bad_lines == 1 and kept.frame["problem"].to_list() == ["计算 1 + 2 等于多少？", "计算 2 + 2 等于多少？"]
        assert kept.bad_examples == [err.message]


def test_same_records_same_frame_on_both_paths(tmp_path):
    """A file the fast path takes and the same file through the careful path give equal frames."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    a, b = read_records([clean]).frame, read_records([spaced]).frame
    assert a.drop("source", "line").equals(b.drop("source", "line"))
    assert a["line"].to_list() == list(range(1, len(lines) + 1))
    assert b["line"].to_list() == list(range(1, 2 * len(lines), 2))


@pytest.mark.parametrize("shape", ["jsonl", "spaced", "array"])
def test_numeric_answers_are_kept_as_written(tmp_path, shape):
    rows = ['{"problem": "计算 1.5 + 1.5 等于多少？", "solution": 3.0}',
            '{"problem": "计算 10 的 400 次方？", "solution": 1e400}',
            '{"problem": "计算 99999999999999999999 + 1 等于多少？", "solution": 100000000000000000000}',
            '{"problem": "计算 0.1 + 0.2 等于多少？", "solution": 0.30000000000000004}',
            '{"problem": "鸡兔同笼，鸡和兔各有多少只？", "solution": [23, 12.0]}']
    text = {"jsonl": "\n".join(rows), "spaced": "\n\n".join(rows), "array": "[" + ",\n".join(rows) + "]"}[shape]
    f = tmp_path / "n.json"
    f.write_text(text, encoding="utf-8")
    assert read_records([f]).frame["solution"].to_list() == ["3.0", "1e400", "100000000000000000000",
                                                             "0.30000000000000004", "[23, 12.0]"]


def test_format_is_decided_by_content(tmp_path):
    jsonl_with_list_first = tmp_path / "a.jsonl"
    jsonl_with_list_first.write_text(f"[1, 2]\n{GOOD}\n{GOOD2}\n", encoding="utf-8")
    with pytest.raises(MathDataError, match=r"a.jsonl:1: expected a JSON object, got a list"):
        read_records([jsonl_with_list_first])
    assert read_records([jsonl_with_list_first], skip_bad=True).frame.height == 2
    array = tmp_path / "b.json"
    array.write_text(f"[{GOOD},\n {GOOD2}]", encoding="utf-8")
    assert read_records([array]).frame["line"].to_list() == [1, 2]        # item numbers
    broken_array = tmp_path / "c.json"
    broken_array.write_text(f"[{GOOD},\n {GOOD2},\n]", encoding="utf-8")
    with pytest.raises(MathDataError, match=r"c.json:3: malformed JSON array"):
        read_records([broken_array])


@pytest.mark.parametrize("first", ['{"problem": "计算 1 + 2 等于多少？", "solution": ', "not json at all", "{"])
def test_a_malformed_first_line_is_line_1_with_the_jsonl_hint(tmp_path, first):
    f = tmp_path / "m.jsonl"
    f.write_text(f"{first}\n{GOOD}\n{GOOD2}\n", encoding="utf-8")
    with pytest.raises(MathDataError) as err:
        read_records([f])
    assert err.value.message.startswith(f"{f}:1: malformed JSON") and "--skip-bad" in err.value.hint
    assert read_records([f], skip_bad=True).frame["line"].to_list() == [2, 3]


def test_pretty_printed_objects_still_read_with_real_lines(tmp_path):
    objs = [{"problem": "计算 1 + 2 等于多少？", "solution": "3"}, {"problem": "计算 2 + 2 等于多少？", "solution": 4.0}]
    f = tmp_path / "pretty.json"
    f.write_text("\n".join(json.dumps(o, ensure_ascii=False, indent=2) for o in objs), encoding="utf-8")
    r = read_records([f])
    assert r.frame["line"].to_list() == [1, 5] and r.frame["solution"].to_list() == ["3", "4.0"]


@pytest.mark.parametrize("encoding, hint", [("utf-16", "iconv -f UTF-16"), ("utf-16-le", "iconv -f UTF-16"),
                                            ("utf-16-be", "iconv -f UTF-16"), ("gbk", "iconv -f GBK")])
def test_encoding_hints(tmp_path, encoding, hint):
    f = tmp_path / "e.jsonl"
    f.write_bytes(f"{GOOD}\n{GOOD2}\n".encode(encoding))
    with pytest.raises(MathDataError) as err:
        read_records([f])
    assert hint in err.value.hint and str(f) in err.value.message


def test_headerless_tsv_by_position(tmp_path, capsys):
    """MGSM's TSV has no header row: columns are named by 1-based position."""
    f = tmp_path / "mgsm.tsv"
    f.write_text("小明有 3 个苹果，又买了 4 个，现在有几个？\t7\n一本书 12 元，买 3 本要多少元？\t36\n", encoding="utf-8")
    r = read_records([f], no_header=True)
    assert r.frame["problem"].to_list()[0].startswith("小明有 3 个") and r.frame["solution"].to_list() == ["7", "36"]
    assert r.frame["line"].to_list() == [1, 2] and r.fields[str(f)] == "1/2"
    swapped = read_records([f], problem_field="2", solution_field="1", no_header=True)
    assert swapped.frame["problem"].to_list() == ["7", "36"]
    with pytest.raises(MathDataError, match=r"no column 'problem'.*") as err:
        read_records([f])                                   # the first problem taken for a header
    assert "--no-header" in err.value.hint
    with pytest.raises(MathDataError, match=r"no column '3' \(columns: positions 1..2\)"):
        read_records([f], problem_field="3", no_header=True)
    run = cli(capsys, "audit", f, "--no-header", "--json", tmp_path / "s.json", "-q", "--workers", "1")
    assert run.code == 0, run.err
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["records"] == 2
    csv = tmp_path / "blank.csv"
    csv.write_text("problem,solution\n计算 1 + 2 等于多少？,3\n计算 2 + 2 等于多少？,  \n", encoding="utf-8")
    with pytest.raises(MathDataError, match=r"blank.csv:3: empty or missing"):
        read_records([csv])
    twice = tmp_path / "twice.csv"
    twice.write_text("problem,solution,problem\n计算 1 + 2 等于多少？,3,计算 9 + 9 等于多少？\n", encoding="utf-8")
    with pytest.raises(MathDataError, match=r"twice.csv: column 'problem' appears twice in the header row"):
        read_records([twice])


def test_parquet_columns_must_hold_text(tmp_path):
    f = tmp_path / "l.parquet"
    pl.DataFrame({"problem": [["计算"], ["x"]], "solution": ["1", "2"]}).write_parquet(f)
    with pytest.raises(MathDataError, match=r"column 'problem' is List\(String\), not text"):
        read_records([f])
    g = tmp_path / "n.parquet"
    pl.DataFrame({"problem": ["计算 1 + 2 等于多少？"], "solution": [3]}).write_parquet(g)
    assert read_records([g]).frame["solution"].to_list() == ["3"]


def test_build_bad_record_hint_is_real_and_skip_bad_counts(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(SAMPLE.read_text(encoding="utf-8") + '{"problem": ["计算"], "solution": "1"}\n', encoding="utf-8")
    line = len(data.read_text(encoding="utf-8").splitlines())
    before = snapshot(tmp_path)
    err = cli(capsys, "build", data, "--quota", TINY, "-o", tmp_path / "o", "-q", "--workers", "1").one_line_error(
        f"d.jsonl:{line}: field 'problem' must be text", "--skip-bad")
    assert "Traceback" not in err and snapshot(tmp_path) == before
    run = cli(capsys, "build", data, "--quota", TINY, "-o", tmp_path / "o", "-q", "--workers", "1", "--skip-bad")
    assert run.code == 0, run.err
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    load = manifest["stages"][0]
    assert load["stage"] == "load" and load["dropped"] == {"bad_record": 1} and load["in"] == load["out"] + 1
    assert manifest["settings"]["skip_bad"] is True


def test_error_lines_quote_data_safely(tmp_path, capsys):
    f = tmp_path / "esc.jsonl"
    f.write_text('{"pro\\u001b[31mblem\\nx": "a", "solution": "b"}\n', encoding="utf-8")
    line = cli(capsys, "audit", f, "-q").one_line_error("missing field 'problem'")
    assert "\x1b" not in line and "\\x1b[31m" in line


def test_compressed_utf32_and_bom_only_files_get_the_right_hint(tmp_path):
    import gzip
    cases = [(gzip.compress(f"{GOOD}\n".encode()), "is a gzip-compressed file", "gunzip"),
             (f"{GOOD}\n".encode("utf-32"), "is UTF-32 text", "iconv -f UTF-32"),
             (b"\xef\xbb\xbf\n", "file is empty", "point at a file")]
    for i, (data, message, hint) in enumerate(cases):
        f = tmp_path / f"f{i}.jsonl"
        f.write_bytes(data)
        with pytest.raises(MathDataError) as err:
            read_records([f])
        assert message in err.value.message and hint in err.value.hint


@pytest.mark.parametrize("line, message", HOSTILE, ids=[m for _, m in HOSTILE])
def test_hostile_records_through_the_cli(tmp_path, capsys, line, message):
    """`mathdata audit` and `build` on each hostile record: the one-line error with file and line,
    exit 2, and nothing written (no --json, no build folder, no temporary file)."""
    data = tmp_path / "in" / "d.jsonl"
    data.parent.mkdir()
    data.write_text(f"{GOOD}\n{line}\n{GOOD2}\n", encoding="utf-8")
    before = snapshot(tmp_path)
    cli(capsys, "audit", data, "--json", tmp_path / "s.json", "--html", tmp_path / "s.html", "-q",
        "--workers", "1").one_line_error(f"{data}:2: {message}")
    cli(capsys, "build", data, "--quota", TINY, "-o", tmp_path / "o", "--json", tmp_path / "b.json", "-q",
        "--workers", "1").one_line_error(f"{data}:2: {message}", "--skip-bad")
    assert snapshot(tmp_path) == before
