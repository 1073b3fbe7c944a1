"""The rich terminal report, rendered from the audit stats of fixtures/audit/mixed.jsonl."""
from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from mathdata.audit import audit
from mathdata.report.terminal import render_terminal

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "audit" / "mixed.jsonl"


@pytest.fixture(scope="module")
def stats() -> dict:
    return audit([str(FIXTURE)], quiet=True)


def render(stats: dict, width: int = 160) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    render_terminal(stats, console)
    return console.export_text()


@pytest.fixture(scope="module")
def text(stats) -> str:
    return render(stats)


def row(text: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is `first` (category rows have no inner spaces)."""
    rows = [line.split() for line in text.splitlines() if line.split()[:1] == [first]]
    assert len(rows) == 1, (first, rows)
    return rows[0]


def test_summary_panel_figures(text):
    assert "mathdata audit · 39 records from 1 file" in text
    assert re.search(r"Records\s+39\b", text)
    assert re.search(r"Bad lines\s+0\b", text)
    assert re.search(r"Unique problems\s+33 \(84\.6%\)", text)
    assert re.search(r"Exact duplicates\s+6 \(15\.4%\)", text)
    assert re.search(r"Near duplicates\s+2 \(5\.1%\)", text)
    assert re.search(r"Template families\s+21\b", text)
    assert re.search(r"Verified\s+27 \(69\.2%\)", text)
    assert re.search(r"Wrong\s+3 \(7\.7%\)", text)
    assert re.search(r"Implausible\s+1 \(2\.6%\)", text)
    assert re.search(r"Unverifiable\s+8 \(20\.5%\)", text)
    assert re.search(r"Conflicting solutions\s+0\b", text)
    assert "mathdata.audit/1 · mathdata 0.1.0" in text


def test_category_rows_carry_their_numbers(text, stats):
    header = row(text, "Category")
    assert header[:3] == ["Category", "Count", "Share"]
    #            count share    unique dup rate near fam ver wrong impl unver median
    assert row(text, "add") == ["add", "7", "17.9%", "5", "28.6%", "1", "1", "6", "1", "0", "0", "27"]
    assert row(text, "simplify") == ["simplify", "5", "12.8%", "2", "60.0%", "0", "1", "4", "1", "0", "0", "13"]
    assert row(text, "discount") == ["discount", "2", "5.1%", "2", "0.0%", "0", "1", "1", "0", "1", "0", "35"]
    assert row(text, "word_problem") == ["word_problem", "4", "10.3%", "4", "0.0%", "1", "3", "0", "0", "0", "4",
                                         "26.5"]
    assert row(text, "english") == ["english", "3", "7.7%", "2", "33.3%", "0", "2", "0", "0", "0", "3", "40"]
    assert row(text, "Total") == ["Total", "39", "100.0%", "33", "15.4%", "2", "21", "27", "3", "1", "8", "27"]
    # every category of the stats has a row, in the stats' (report) order
    lines = text.splitlines()
    positions = [next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
                 for name in stats["categories"]]
    assert positions == sorted(positions) and len(stats["categories"]) == 17


def test_clusters(text):
    exact = [line for line in text.splitlines() if "将分数 5/6 进行简化。" in line]
    assert exact and exact[0].split()[:2] == ["4", "simplify"]
    assert re.search(r"\b3\s+add\s+计算 4204\.22 \+ -2369\.17 等于多少？", text)
    assert re.search(r"\b2\s+english\s+How many positive divisors does 36 have\?", text)
    near = text[text.index("Largest near-duplicate clusters"):]
    assert re.search(r"\b2\s+word_problem\s+小明有 5 个苹果，小红给了他 3 个，他现在有几个苹果？", near)
    assert "小明有5个苹果,小红给了他3个,他现在有几个苹果" in near
    assert "计算 4204.220 + -2369.17 等于多少？" in near
    assert re.search(r"\b7\s+add\s+计算 # \+ # 等于多少", text)


def test_examples_with_location_and_reason(text):
    assert "Wrong answers: 3 (answer_mismatch 2, not_lowest_terms 1)" in text
    assert "Implausible answers: 1 (discounted_price_above_original 1)" in text
    assert "Unverifiable answers: 8 (no_template 8)" in text
    line6 = next(line for line in text.splitlines() if "mixed.jsonl:6 " in line)
    assert "计算 100.00 + 200.00 等于多少？" in line6 and "300.01" in line6 and "answer_mismatch" in line6
    line17 = next(line for line in text.splitlines() if "mixed.jsonl:17 " in line)
    assert "最简化的形式为：4/6" in line17 and "not_lowest_terms" in line17
    line28 = next(line for line in text.splitlines() if "mixed.jsonl:28 " in line)
    assert "-462.5" in line28 and "discounted_price_above_original" in line28


def test_chinese_text_keeps_columns_aligned(text):
    """Wide characters take two cells: the Solution column starts at the same cell in every row."""
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Wrong answers")))
    header = next(line for line in lines[start:] if "Solution" in line)
    column = cell_len(header[:header.index("Solution")])
    for solution in ("100.00 + 200.00 = 300.01", "最简化的形式为：4/6", "面积为 349 平方厘米"):
        line = next(line for line in lines[start:] if solution in line)
        assert cell_len(line[:line.index(solution)]) == column, line
    assert all(cell_len(line) <= 160 for line in lines)


def test_bad_lines_and_empty_sections(stats):
    assert "Bad lines skipped" not in render(stats)
    broken = copy.deepcopy(stats)
    broken["bad_lines"] = 2
    broken["bad_examples"] = ["data.jsonl:3: malformed JSON (Expecting ',' delimiter)",
                              "data.jsonl:9: missing field 'solution'"]
    broken["top_exact_clusters"], broken["top_near_clusters"] = [], []
    broken["examples"] = {"wrong": [], "implausible": []}
    out = render(broken)
    assert "Bad lines skipped: 2" in out
    assert "data.jsonl:3: malformed JSON (Expecting ',' delimiter)" in out
    assert "data.jsonl:9: missing field 'solution'" in out
    assert "No duplicate clusters." in out
    assert "Wrong answers" not in out and "Largest exact-duplicate clusters" not in out
    assert re.search(r"Bad lines\s+2\b", out)


def test_example_location_is_the_file_name_unless_two_inputs_share_it(stats):
    assert re.search(r"^\s*mixed\.jsonl:28\s+discount\b", render(stats), re.M)
    twice = copy.deepcopy(stats)
    twice["inputs"] = [{"path": "a/mixed.jsonl", "records": 20}, {"path": "b/mixed.jsonl", "records": 19}]
    for rows in twice["examples"].values():
        for r in rows:
            r["source"] = "b/mixed.jsonl"
    out = render(twice)
    assert re.search(r"^\s*b/mixed\.jsonl:28\s+discount\b", out, re.M)
    assert "mathdata audit · 39 records from 2 files" in out and "a/mixed.jsonl, b/mixed.jsonl" in out


def test_narrow_console_splits_the_table_and_stacks_the_examples(stats):
    """At 80 columns nothing is cut with an ellipsis: two category tables, one block per example."""
    out = render(stats, width=80)
    assert "…" not in out
    assert all(cell_len(line) <= 80 for line in out.splitlines())
    assert "Per category: size and duplicates" in out and "Per category: answers" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == ["simplify"]]
    assert rows[0] == ["simplify", "5", "12.8%", "2", "60.0%", "0", "1", "13"]
    assert rows[1] == ["simplify", "4", "1", "0", "0"]
    totals = [line.split() for line in out.splitlines() if line.split()[:1] == ["Total"]]
    assert totals == [["Total", "39", "100.0%", "33", "15.4%", "2", "21", "27"], ["Total", "27", "3", "1", "8"]]
    assert "mixed.jsonl:28  discount  discounted_price_above_original" in out
    assert re.search(r"problem\s+商品原价为 16 元，打折后的价格为 90 元，请计算打折的折扣比例。", out)
    assert re.search(r"solution\s+-462\.5", out)


NEAR_FIXTURE = FIXTURE.parent.parent / "corpora" / "near_duplicates.jsonl"


def test_near_conflicting_labels_beside_the_near_duplicates(text, stats):
    """`near_conflicting_labels` sits under Near duplicates, with its explanation below the figures."""
    assert stats["near_conflicting_labels"] == 0
    lines = text.splitlines()
    near = next(i for i, line in enumerate(lines) if re.search(r"Near duplicates\s+2 \(5\.1%\)", line))
    assert re.search(r"Near, answers differ\s+0\b", lines[near + 1])
    conflicting = audit([str(NEAR_FIXTURE)], quiet=True)
    assert conflicting["near_conflicting_labels"] == 1  # 周长 26 vs 40 (tests/test_corpora.py)
    out = render(conflicting)
    assert re.search(r"Near duplicates\s+2 \(10\.0%\)\s.*\n.*Near, answers differ\s+1\b", out)
    note = " ".join(line.strip(" │") for line in out.splitlines() if "│" in line)
    assert "Near, answers differ counts pairs of near-duplicate texts whose answers differ, never merged" in note
    panel = [line for line in out.splitlines() if line.startswith(("╭", "│", "╰"))]
    assert max(cell_len(line) for line in panel) < 100  # the note wraps; it does not widen the panel
