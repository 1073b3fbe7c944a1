"""The self-contained HTML audit report: structure, escaping, determinism, and a real headless Chromium."""
from __future__ import annotations

import copy
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mathdata.audit import audit
from mathdata.report.html import render_html

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "audit" / "mixed.jsonl"
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source", "area", "base", "embed", "track"}
SVG_VOID = {"rect", "circle", "line", "path", "polyline", "polygon"}


@pytest.fixture(scope="module")
def stats() -> dict:
    return audit([str(FIXTURE)], quiet=True)


@pytest.fixture(scope="module")
def page(stats) -> str:
    return render_html(stats)


class Outline(HTMLParser):
    """Checks tag balance and collects the text of every element by tag, and the SVG classes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self.svg_classes: list[str] = []
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "svg":
            self.svg_classes.append(dict(attrs).get("class", ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and data.strip():
            self.texts.setdefault(self.stack[-1], []).append(data.strip())


def outline(page: str) -> Outline:
    o = Outline()
    o.feed(page)
    o.close()
    return o


def test_page_is_well_formed_and_self_contained(page):
    o = outline(page)
    assert o.errors == [] and o.stack == []
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    lowered = page.lower()
    # nothing fetched from anywhere: no scripts, links, imports, fonts, images or url() in CSS
    for needle in ("http", "<script", "<link", "@import", "url(", "@font-face", "<img", "<iframe", "src="):
        assert needle not in lowered, needle
    # three inline SVG charts
    assert o.svg_classes == ["chart donut", "chart dup-chart", "chart status-chart"]
    assert o.tags["path"] == 17  # one donut slice per category
    assert o.tags["style"] == 1


def test_every_category_is_in_the_table_and_the_chart_with_its_count(page, stats):
    assert len(stats["categories"]) == 17
    donut = page[page.index('<svg class="chart donut"'):page.index("</svg>")]
    for name, c in stats["categories"].items():
        row = re.search(rf'<tr data-category="{name}">(.*?)</tr>', page)
        assert row, name
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
        assert cells[0].endswith(f"</span>{name}") and cells[1] == str(c["count"])
        assert cells[3] == str(c["unique"]) and cells[5] == str(c["near_duplicates"])
        assert cells[7:11] == [str(c[s]) for s in ("verified", "wrong", "implausible", "unverifiable")]
        share = f"{100 * c['count'] / stats['records']:.1f}%"
        assert f"<title>{name}: {c['count']} records ({share})</title>" in donut
        assert re.search(rf">{name}</text><text class=\"num\"[^>]*>{c['count']}</text>"
                         rf"<text class=\"num\"[^>]*>{re.escape(share)}</text>", donut)
    # a few numbers checked by hand against fixtures/audit/mixed.jsonl
    assert re.search(r'<tr data-category="add">.*?<td class="num rate hi">28\.6%</td>', page)
    assert re.search(r'<tr data-category="simplify">.*?<td class="num rate hi">60\.0%</td>', page)
    foot = re.search(r"<tfoot><tr>(.*?)</tr></tfoot>", page).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", foot) == [
        "total", "39", "100.0%", "33", "15.4%", "2", "21", "27", "3", "1", "8", "–"]


@pytest.mark.parametrize("chart, titles", [
    ("dup-chart", ["all records · kept after dedup: 31 of 39 (79.5%)",
                   "all records · near duplicates: 2 of 39 (5.1%)", "add · exact duplicates: 2 of 7 (28.6%)",
                   "simplify · exact duplicates: 3 of 5 (60.0%)", "word_problem · near duplicates: 1 of 4 (25.0%)"]),
    ("status-chart", ["discount · implausible: 1 of 2 (50.0%)", "area · wrong answer: 1 of 2 (50.0%)",
                      "english · unverifiable: 3 of 3 (100.0%)", "all records · verified: 27 of 39 (69.2%)"]),
])
def test_duplicate_and_verification_charts(page, chart, titles):
    svg = page[page.index(f'<svg class="chart {chart}"'):]
    svg = svg[:svg.index("</svg>")]
    for title in titles:
        assert f"<title>{title}</title>" in svg


def test_clusters_examples_and_inputs(page, stats):
    assert "<td class=\"num\">4</td><td class=\"txt\">simplify</td><td class=\"txt problem\">将分数 5/6 进行简化。</td>" in page
    assert "<li>小明有5个苹果,小红给了他3个,他现在有几个苹果</li>" in page
    assert re.search(r"mixed\.jsonl:28</span></td><td class=\"txt\">discount</td>.*?-462\.5.*?"
                     r"discounted_price_above_original", page)
    assert "answer_mismatch <b>2</b>" in page and "not_lowest_terms <b>1</b>" in page
    assert '<h3>Unverifiable: 8 <span class="pill">no_template <b>8</b></span></h3>' in page
    sha = stats["inputs"][0]["sha256"]
    assert f'<code title="{sha}">{sha[:16]}…</code>' in page
    assert "<dt>threshold</dt><dd>0.7</dd>" in page and "<dt>num_perm</dt><dd>128</dd>" in page


NEAR_FIXTURE = FIXTURE.parent.parent / "corpora" / "near_duplicates.jsonl"


def cards(page: str) -> list[tuple[str, str, str, str]]:
    """(class, value, label, note) of every summary card, in page order."""
    return re.findall(r'<div class="card ?([^"]*)"><div class="card-value">(.*?)</div>'
                      r'<div class="card-label">(.*?)</div><div class="card-note">(.*?)</div></div>', page)


def test_near_conflicting_labels_card_beside_the_near_duplicates(page, stats):
    labels = [c[2] for c in cards(page)]
    assert labels[labels.index("near duplicates") + 1] == "near, answers differ"
    card = cards(page)[labels.index("near, answers differ")]
    assert stats["near_conflicting_labels"] == 0 and card[:2] == ("", "0")
    assert card[3] == "similar text, other answer"
    lead = re.search(r'<p class="lead near-conflicts">(.*?)</p>', page, re.S).group(1)
    assert lead.startswith("Near, answers differ (<b>0</b>) counts pairs of near-duplicate texts whose answers "
                           "differ, never merged")
    assert page.index("Figure 2 · Duplicates per category") < page.index(lead) < page.index("Figure 3 ·")
    conflicting = audit([str(NEAR_FIXTURE)], quiet=True)
    assert conflicting["near_conflicting_labels"] == 1  # 周长 26 vs 40 (tests/test_corpora.py)
    other = render_html(conflicting)
    found = {c[2]: c for c in cards(other)}
    assert found["near, answers differ"][:2] == ("bad", "1") and found["near duplicates"][1] == "2"
    assert '<p class="lead near-conflicts">Near, answers differ (<b>1</b>) counts' in other


def test_data_text_is_escaped(stats):
    evil = copy.deepcopy(stats)
    attack = '<script>alert("x")</script>'
    evil["top_exact_clusters"][0]["problem"] = attack
    evil["examples"]["wrong"][0]["problem"] = attack
    evil["examples"]["wrong"][0]["source"] = 'a"><script>.jsonl'
    evil["top_near_clusters"][0]["problems"][0] = "1 < 2 & 3 > 2"
    evil["categories"]['<img onerror="x">'] = dict(evil["categories"]["other"])
    evil["bad_lines"], evil["bad_examples"] = 1, ["x.jsonl:1: <b>bad</b>"]
    page = render_html(evil)
    assert "<script" not in page and "<img" not in page and "<b>bad" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 2
    assert "<li>1 &lt; 2 &amp; 3 &gt; 2</li>" in page
    assert '<tr data-category="&lt;img onerror=&quot;x&quot;&gt;">' in page
    assert "x.jsonl:1: &lt;b&gt;bad&lt;/b&gt;" in page and "Bad lines skipped: 1" in page
    assert outline(page).errors == []


def test_deterministic_and_free_of_run_timings(stats, page):
    again = copy.deepcopy(stats)
    again["timings_s"] = {k: v + 1.0 for k, v in stats["timings_s"].items()}
    assert render_html(again) == page
    assert re.search(r"20\d\d-\d\d-\d\d", page) is None


def test_edge_cases_one_category_and_no_records(stats):
    one = copy.deepcopy(stats)
    one["categories"] = {"add": dict(stats["categories"]["add"])}
    one["records"] = 7
    page = render_html(one)
    assert '<circle class="slice"' in page and "<title>add: 7 records (100.0%)</title>" in page
    empty = {"records": 0, "categories": {}, "status": {}, "inputs": []}
    page = render_html(empty)
    assert page.count('<p class="empty">No records.</p>') == 3 and outline(page).errors == []


# ---------------------------------------------------------------- the page in a real browser

def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG with the standard library: (width, height, rows)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + size]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + size
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 3 if colour_type == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    low7 = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")
    prev, rows = bytes(stride), []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if kind == 0:
            cur = line
        elif kind == 2:  # Up: byte-wise add without carries, on whole rows at once
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            cur = (((a & low7) + (b & low7)) ^ ((a ^ b) & high)).to_bytes(stride, "big")
        else:
            out = bytearray(line)
            for i in range(stride):
                left = out[i - bpp] if i >= bpp else 0
                if kind == 1:
                    out[i] = (out[i] + left) & 255
                elif kind == 3:
                    out[i] = (out[i] + (left + prev[i]) // 2) & 255
                else:  # Paeth
                    up, corner = prev[i], (prev[i - bpp] if i >= bpp else 0)
                    pa, pb, pc = abs(up - corner), abs(left - corner), abs(left + up - 2 * corner)
                    out[i] = (out[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
            cur = bytes(out)
        rows.append(cur if bpp == 3 else bytes(b for j in range(0, stride, 4) for b in cur[j:j + 3]))
        prev = cur
    return width, height, rows


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but `chromium` is not on PATH: the CI script must `apt-get install chromium`")
        pytest.skip("headless Chromium not installed (`apt-get install chromium`); with CI set this fails")
    return found


@pytest.mark.browser
def test_page_renders_in_headless_chromium(page, stats, tmp_path):
    browser = chromium()
    html_file = tmp_path / "audit.html"
    html_file.write_text(page, encoding="utf-8")
    png = tmp_path / "audit.png"
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1280,2000"]
    url = html_file.as_uri()
    # the two runs need their own profile directories to run side by side
    shot = subprocess.Popen(common + [f"--user-data-dir={tmp_path / 'profile-shot'}", f"--screenshot={png}", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dom = subprocess.run(common + [f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=90)
    shot_out, shot_err = shot.communicate(timeout=90)
    assert shot.returncode == 0, shot_err.decode(errors="replace")[-2000:]
    assert dom.returncode == 0, dom.stderr[-2000:]

    # the DOM the browser built from the file: every category, the three SVG charts and their shapes
    tree = dom.stdout
    assert "Figure 1 · Share of each category" in tree
    for name in stats["categories"]:
        assert f'<tr data-category="{name}">' in tree and f">{name}</text>" in tree
    for chart in ("chart donut", "chart dup-chart", "chart status-chart"):
        assert f'<svg class="{chart}"' in tree
    assert tree.count('<path class="slice"') == 17 and tree.count('<rect class="seg"') >= 2 * 18
    assert [c[2] for c in cards(tree)][3:5] == ["near duplicates", "near, answers differ"]
    assert "Near, answers differ (<b>0</b>) counts pairs of near-duplicate texts" in tree

    # the screenshot: right size, and a drawn page (many colours, the dark header, white cards)
    width, height, rows = png_pixels(png)
    assert (width, height) == (1280, 2000)
    colours = set()
    for row in rows[::3]:
        colours.update(row[i:i + 3] for i in range(0, len(row), 3))
    assert len(colours) > 500, f"only {len(colours)} colours: blank or unstyled page"
    r, g, b = rows[80][640 * 3:640 * 3 + 3]
    assert b > r + 40 and b < 200, f"header pixel {(r, g, b)} is not the dark-blue banner"
    background = rows[5][5 * 3:5 * 3 + 3]
    assert background == bytes((0xF4, 0xF6, 0xF9)), background
