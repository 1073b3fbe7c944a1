"""One owner for how the reports write counts and percentages (mathdata.report.format)."""
from __future__ import annotations

import ast
import copy
import io
import re
from pathlib import Path

from rich.console import Console

from mathdata.report.format import count, pct
from mathdata.report.html import render_html
from mathdata.report.terminal import render_terminal

SRC = Path(__file__).resolve().parent.parent / "src" / "mathdata"


def test_count_separates_thousands_and_passes_other_values_through():
    assert count(548942) == "548,942" and count(0) == "0" and count(-1200) == "-1,200"
    assert count(26.5) == "26.5" and count("?") == "?" and count(None) == "None"


def test_pct_rounds_the_exact_share_once():
    assert pct(33, 39) == "84.6%" and pct(39, 39) == "100.0%" and pct(0, 39) == "0.0%"
    assert pct(1, 3, 2) == "33.33%" and pct(2, 3, 0) == "67%"
    assert pct(5, 0) == "–" and pct(0, 0) == "–"
    # 23/80 is exactly 28.75%: written from that value (half to even: 28.8%), where dividing first
    # and formatting with :.1% gives 0.28749999... * 100 = 28.7%
    assert f"{23 / 80:.1%}" == "28.7%" and pct(23, 80) == "28.8%"
    assert pct(0.2875, 1) == f"{0.2875:.1%}"  # a stored rate (duplicate_rate) is written as before


def test_terminal_and_html_write_the_same_share():
    """A category of 23 records out of 80: both reports say 28.8% (they used to disagree, 28.7% vs 28.8%)."""
    stats = {"records": 80, "unique": 80, "status": {"verified": 80}, "inputs": [],
             "categories": {"add": {"count": 23, "unique": 23, "verified": 23},
                            "sub": {"count": 57, "unique": 57, "verified": 57}}}
    console = Console(record=True, width=200, file=io.StringIO())
    render_terminal(copy.deepcopy(stats), console)
    add_row = next(line.split() for line in console.export_text().splitlines() if line.split()[:1] == ["add"])
    assert add_row[:3] == ["add", "23", "28.8%"]
    page = render_html(stats)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", re.search(r'<tr data-category="add">(.*?)</tr>', page).group(1))
    assert cells[1:3] == ["23", "28.8%"]
    assert "<title>add: 23 records (28.8%)</title>" in page


def test_no_renderer_keeps_its_own_copy():
    for name in ("report/terminal.py", "report/html.py", "report/build.py"):
        tree = ast.parse((SRC / name).read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not defined & {"_pct", "_count"}, name
        assert "_n" not in defined or name == "report/html.py", name  # html's _n only escapes count()
        assert any(isinstance(n, ast.ImportFrom) and (n.module or "").endswith("format") for n in ast.walk(tree)), name
