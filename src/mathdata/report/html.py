"""The audit report as one self-contained HTML page, rendered from the stats dict of `mathdata.audit.audit`.

No network at view time: CSS is inline, charts are inline SVG, no scripts, no web fonts. Every piece of
data text goes through `html.escape`. The output depends only on the stats (no timestamps, no timings),
so the same data gives the same page byte for byte.

Only formatting happens here: shares are a figure divided by its stated base (records, or a category's
count); each duplicate bar (kept + near + exact) adds up to the category's count.
"""
from __future__ import annotations

import math
from html import escape

from ..verify import STATUSES  # the verifier's statuses, in report order
from .format import count as _count, pct as _pct
from .view import NEAR_CONFLICT_NOTE, NEAR_CONFLICT_SHORT, short_sources

STATUS_COLOUR = {"verified": "#2f9e62", "wrong": "#d64545", "implausible": "#e9a23b", "unverifiable": "#b9c0ca"}
STATUS_LABEL = {"verified": "verified", "wrong": "wrong answer", "implausible": "implausible",
                "unverifiable": "unverifiable"}
DUP_PARTS = (("kept", "#4f7fd1", "kept after dedup"), ("near", "#f0a04b", "near duplicates"),
             ("exact", "#d9534f", "exact duplicates"))
# fixed colours for the known categories, so two reports are comparable at a glance
CATEGORY_COLOUR = {
    "add": "#3b6fb6", "sub": "#5b8fd6", "mul": "#7fb0ea", "div": "#a9cbf2",
    "power": "#7a4fb0", "sqrt": "#a87fd6", "simplify": "#d6609a", "mean": "#e68a3a",
    "equation": "#2f9e8f", "function": "#67c2b3", "area": "#6a9a3a", "mass": "#93bf5a",
    "discount": "#c9a227", "sales": "#e3c65c", "word_problem": "#8b6b4a", "english": "#c0504d",
    "other": "#8e959e",
}
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")


def e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _n(value) -> str:
    return e(_count(value))


def _light(colour: str) -> bool:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b > 170


def _f(x: float) -> str:
    return f"{x:.2f}"


def _colours(names) -> dict:
    out, spare = {}, 0
    for name in names:
        if name in CATEGORY_COLOUR:
            out[name] = CATEGORY_COLOUR[name]
        else:
            out[name] = PALETTE[spare % len(PALETTE)]
            spare += 1
    return out


# ---------------------------------------------------------------- charts (inline SVG)

def _donut(stats: dict, colours: dict) -> str:
    cats = [(n, c.get("count", 0)) for n, c in stats.get("categories", {}).items() if c.get("count", 0) > 0]
    total = stats.get("records", 0) or sum(c for _, c in cats)
    if not cats or not total:
        return '<p class="empty">No records.</p>'
    cx, cy, ro, ri = 190, 190, 165, 98
    row = 21
    height = max(380, row * (len(cats) + 1) + 24)
    cy = height / 2
    parts = [f'<svg class="chart donut" role="img" aria-labelledby="fig1-title" viewBox="0 0 760 {height}" '
             f'width="760" height="{height}">']
    angle = -math.pi / 2
    labels = []
    for name, count in cats:
        frac = count / total
        colour = colours[name]
        tip = f"<title>{e(name)}: {_n(count)} records ({_pct(count, total)})</title>"
        if frac >= 0.999999:
            parts.append(f'<circle class="slice" cx="{_f(cx)}" cy="{_f(cy)}" r="{_f((ro + ri) / 2)}" fill="none" '
                         f'stroke="{colour}" stroke-width="{_f(ro - ri)}">{tip}</circle>')
        else:
            a0, a1 = angle, angle + 2 * math.pi * frac
            large = 1 if a1 - a0 > math.pi else 0
            p = (f"M{_f(cx + ro * math.cos(a0))},{_f(cy + ro * math.sin(a0))} "
                 f"A{ro},{ro} 0 {large} 1 {_f(cx + ro * math.cos(a1))},{_f(cy + ro * math.sin(a1))} "
                 f"L{_f(cx + ri * math.cos(a1))},{_f(cy + ri * math.sin(a1))} "
                 f"A{ri},{ri} 0 {large} 0 {_f(cx + ri * math.cos(a0))},{_f(cy + ri * math.sin(a0))} Z")
            parts.append(f'<path class="slice" d="{p}" fill="{colour}" stroke="#fff" stroke-width="1.5">{tip}</path>')
        if frac >= 0.04:  # a 4% arc is wide enough for "4.5%"
            mid = angle + math.pi * frac
            rm = (ro + ri) / 2
            labels.append(f'<text class="slice-label" x="{_f(cx + rm * math.cos(mid))}" '
                          f'y="{_f(cy + rm * math.sin(mid))}" text-anchor="middle" dominant-baseline="central">'
                          f'{_pct(count, total, 0 if frac >= 0.1 else 1)}</text>')
        angle += 2 * math.pi * frac
    parts += labels
    parts.append(f'<text class="donut-total" x="{cx}" y="{_f(cy - 8)}" text-anchor="middle">{_n(total)}</text>'
                 f'<text class="donut-caption" x="{cx}" y="{_f(cy + 18)}" text-anchor="middle">records</text>')
    # legend: swatch, name, count, share
    lx = 410
    top = (height - row * (len(cats) + 1)) / 2  # the header line and one line per category, centred
    y0 = top + row * 1.5
    head = _f(top + row / 2)
    parts.append(f'<text class="legend-head" x="{lx + 22}" y="{head}" dominant-baseline="central">category</text>'
                 f'<text class="legend-head" x="{lx + 250}" y="{head}" text-anchor="end" '
                 f'dominant-baseline="central">records</text>'
                 f'<text class="legend-head" x="{lx + 330}" y="{head}" text-anchor="end" '
                 f'dominant-baseline="central">share</text>')
    for i, (name, count) in enumerate(cats):
        y = y0 + i * row
        parts.append(f'<g class="legend-row"><rect x="{lx}" y="{_f(y - 7)}" width="14" height="14" rx="3" '
                     f'fill="{colours[name]}"/>'
                     f'<text x="{lx + 22}" y="{_f(y)}" dominant-baseline="central">{e(name)}</text>'
                     f'<text class="num" x="{lx + 250}" y="{_f(y)}" text-anchor="end" '
                     f'dominant-baseline="central">{_n(count)}</text>'
                     f'<text class="num" x="{lx + 330}" y="{_f(y)}" text-anchor="end" '
                     f'dominant-baseline="central">{_pct(count, total)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _stacked(rows: list[tuple[str, int, list[int]]], series: list[tuple[str, str]], css_class: str,
             label: str) -> str:
    """Horizontal 100% stacked bars: rows of (name, total, [part per series]); series of (label, colour)."""
    if not rows:
        return '<p class="empty">No records.</p>'
    lw, bw, rw, row, top = 112, 344, 64, 24, 40
    width = lw + bw + rw
    height = top + row * len(rows) + 8
    parts = [f'<svg class="chart {css_class}" role="img" aria-label="{e(label)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}">']
    x = 8.0
    for name, colour in series:  # legend
        parts.append(f'<rect x="{_f(x)}" y="8" width="12" height="12" rx="2" fill="{colour}"/>'
                     f'<text class="legend" x="{_f(x + 17)}" y="14" dominant-baseline="central">{e(name)}</text>')
        x += 17 + 6.8 * len(name) + 16
    for i, (name, total, values) in enumerate(rows):
        y = top + i * row
        cls = ' class="total-row"' if i == 0 else ""
        parts.append(f'<g{cls}><text class="row-label" x="{lw - 10}" y="{_f(y + 9)}" text-anchor="end" '
                     f'dominant-baseline="central">{e(name)}</text>')
        x = float(lw)
        for (sname, colour), v in zip(series, values):
            if not v or not total:
                continue
            w = bw * v / total
            parts.append(f'<rect class="seg" x="{_f(x)}" y="{y}" width="{_f(w)}" height="18" fill="{colour}">'
                         f'<title>{e(name)} · {e(sname)}: {_n(v)} of {_n(total)} ({_pct(v, total)})</title></rect>')
            if w >= 8 + 7 * len(f"{v:,}"):
                ink = ' style="fill:#344054"' if _light(colour) else ""
                parts.append(f'<text class="seg-label"{ink} x="{_f(x + w / 2)}" y="{_f(y + 9)}" text-anchor="middle" '
                             f'dominant-baseline="central">{_n(v)}</text>')
            x += w
        if not total:
            parts.append(f'<rect x="{lw}" y="{y}" width="{bw}" height="18" fill="#eef0f3"/>')
        parts.append(f'<text class="row-total" x="{lw + bw + 8}" y="{_f(y + 9)}" dominant-baseline="central">'
                     f'{_n(total)}</text></g>')
        if i == 0 and len(rows) > 1:
            parts.append(f'<line x1="8" x2="{width - 8}" y1="{_f(y + row - 3.5)}" y2="{_f(y + row - 3.5)}" '
                         f'stroke="#dde1e6"/>')
    parts.append("</svg>")
    return "".join(parts)


def _dup_chart(stats: dict) -> str:
    def parts(c):
        return [c.get("kept", 0), c.get("near_duplicates", 0),
                c.get("exact_duplicates", 0)]
    rows = [("all records", stats.get("records", 0), parts(stats))] if stats.get("categories") else []
    rows += [(n, c.get("count", 0), parts(c)) for n, c in stats.get("categories", {}).items()]
    return _stacked(rows, [(label, colour) for _, colour, label in DUP_PARTS], "dup-chart",
                    "Duplicates per category")


def _status_chart(stats: dict) -> str:
    status = stats.get("status", {})
    rows = [("all records", stats.get("records", 0), [status.get(s, 0) for s in STATUSES])] \
        if stats.get("categories") else []
    rows += [(n, c.get("count", 0), [c.get(s, 0) for s in STATUSES]) for n, c in stats.get("categories", {}).items()]
    return _stacked(rows, [(STATUS_LABEL[s], STATUS_COLOUR[s]) for s in STATUSES], "status-chart",
                    "Answer verification per category")


# ---------------------------------------------------------------- tables and cards

def _cards(stats: dict) -> str:
    records = stats.get("records", 0)
    status = stats.get("status", {})
    cards = [
        ("records", _n(records), f"{_n(stats.get('bad_lines', 0))} bad lines", ""),
        ("unique problems", _n(stats.get("unique", 0)), _pct(stats.get("unique", 0), records), ""),
        ("exact duplicates", _n(stats.get("exact_duplicates", 0)), _pct(stats.get("exact_duplicates", 0), records),
         "warn" if stats.get("exact_duplicates") else ""),
        ("near duplicates", _n(stats.get("near_duplicates", 0)), _pct(stats.get("near_duplicates", 0), records),
         "warn" if stats.get("near_duplicates") else ""),
        ("near, answers differ", _n(stats.get("near_conflicting_labels", 0)), NEAR_CONFLICT_SHORT,
         "bad" if stats.get("near_conflicting_labels") else ""),
        ("template families", _n(stats.get("families", 0)), "numbers masked", ""),
        ("verified", _n(status.get("verified", 0)), _pct(status.get("verified", 0), records), "good"),
        ("wrong answers", _n(status.get("wrong", 0)), _pct(status.get("wrong", 0), records),
         "bad" if status.get("wrong") else ""),
        ("implausible", _n(status.get("implausible", 0)), _pct(status.get("implausible", 0), records),
         "warn" if status.get("implausible") else ""),
        ("unverifiable", _n(status.get("unverifiable", 0)), _pct(status.get("unverifiable", 0), records), ""),
        ("conflicting solutions", _n(stats.get("conflicting_solutions", 0)), "same problem, other answer",
         "bad" if stats.get("conflicting_solutions") else ""),
    ]
    return "".join(f'<div class="card {cls}"><div class="card-value">{v}</div><div class="card-label">{e(k)}</div>'
                   f'<div class="card-note">{e(note)}</div></div>' for k, v, note, cls in cards)


def _category_table(stats: dict, colours: dict) -> str:
    records = stats.get("records", 0)
    status = stats.get("status", {})
    head = ("category", "count", "share", "unique", "dup rate", "near dups", "families", *STATUSES, "median chars")
    out = ['<table class="data cats"><thead><tr>']
    out += [f'<th class="{"txt" if h == "category" else "num"}">{e(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for name, c in stats.get("categories", {}).items():
        rate = c.get("duplicate_rate", 0.0)
        cells = [
            f'<td class="txt cat"><span class="swatch" style="background:{colours[name]}"></span>{e(name)}</td>',
            f'<td class="num count">{_n(c.get("count", 0))}</td>',
            f'<td class="num">{_pct(c.get("count", 0), records)}</td>',
            f'<td class="num">{_n(c.get("unique", 0))}</td>',
            f'<td class="num rate{" hi" if rate >= 0.25 else ""}">{_pct(rate, 1)}</td>',
            f'<td class="num{" zero" if not c.get("near_duplicates") else ""}">{_n(c.get("near_duplicates", 0))}</td>',
            f'<td class="num">{_n(c.get("families", 0))}</td>',
            *[f'<td class="num st-{s}{" zero" if not c.get(s) else ""}">{_n(c.get(s, 0))}</td>' for s in STATUSES],
            f'<td class="num">{c.get("median_chars", 0):g}</td>',
        ]
        out.append(f'<tr data-category="{e(name)}">{"".join(cells)}</tr>')
    out.append("</tbody><tfoot><tr>")
    foot = [
        '<td class="txt">total</td>', f'<td class="num">{_n(records)}</td>', f'<td class="num">{_pct(records, records)}</td>',
        f'<td class="num">{_n(stats.get("unique", 0))}</td>',
        f'<td class="num">{_pct(stats.get("exact_duplicates", 0), records)}</td>',
        f'<td class="num">{_n(stats.get("near_duplicates", 0))}</td>',
        f'<td class="num">{_n(stats.get("families", 0))}</td>',
        *[f'<td class="num">{_n(status.get(s, 0))}</td>' for s in STATUSES],
        '<td class="num" title="not in the stats">–</td>',
    ]
    out += foot
    out.append("</tr></tfoot></table>")
    return "".join(out)


def _near_conflicts(stats: dict) -> str:
    return (f'<p class="lead near-conflicts">Near, answers differ (<b>{_n(stats.get("near_conflicting_labels", 0))}</b>)'
            f" counts {e(NEAR_CONFLICT_NOTE)}.</p>")


def _table(headers: list[tuple[str, str]], rows: list[list[str]], css: str = "", empty: str = "None.") -> str:
    """headers: (label, 'num'|'txt'); rows: cells already escaped/formatted."""
    if not rows:
        return f'<p class="empty">{e(empty)}</p>'
    out = [f'<table class="data {css}"><thead><tr>']
    out += [f'<th class="{k}">{e(h)}</th>' for h, k in headers]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="{k}">{cell}</td>' for (_, k), cell in zip(headers, r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _clusters(stats: dict) -> str:
    exact = _table([("copies", "num"), ("category", "txt"), ("problem", "txt problem")],
                   [[_n(c.get("copies", 0)), e(c.get("category")), e(c.get("problem"))]
                    for c in stats.get("top_exact_clusters", [])], "clusters exact", "No exact duplicates.")
    near = _table([("size", "num"), ("category", "txt"), ("problems (up to 5 shown)", "txt problem")],
                  [[_n(c.get("size", 0)), e(c.get("category")),
                    "<ul>" + "".join(f"<li>{e(p)}</li>" for p in c.get("problems", [])) + "</ul>"]
                   for c in stats.get("top_near_clusters", [])], "clusters near", "No near duplicates.")
    fams = _table([("records", "num"), ("category", "txt"), ("family (numbers as #)", "txt problem")],
                  [[_n(f.get("count", 0)), e(f.get("category")), e(f.get("family"))]
                   for f in stats.get("top_families", [])], "families", "No families.")
    return (f'<div class="two"><div><h3>Largest exact-duplicate clusters</h3>{exact}</div>'
            f'<div><h3>Largest near-duplicate clusters</h3>{near}</div></div>'
            f'<h3>Largest template families</h3>{fams}')


def _examples(stats: dict) -> str:
    out = []
    reasons = stats.get("reasons", {})
    short = short_sources(stats)
    for status in ("wrong", "implausible"):
        rows = stats.get("examples", {}).get(status, [])
        total = stats.get("status", {}).get(status, len(rows))
        counts = "".join(f'<span class="pill st-{status}">{e(r)} <b>{_n(n)}</b></span>'
                         for r, n in reasons.get(status, {}).items())
        out.append(f'<h3>{e(STATUS_LABEL[status].capitalize())}: {_n(total)} {counts}</h3>')
        out.append(_table(
            [("where", "txt where"), ("category", "txt"), ("problem", "txt problem"), ("solution", "txt problem"),
             ("reason", "txt")],
            [[f'<span title="{e(r.get("source"))}">{e(short(r.get("source")))}:{e(r.get("line"))}</span>',
              e(r.get("category")), e(r.get("problem")),
              e(r.get("solution")), f'<span class="pill st-{status}">{e(r.get("reason"))}</span>'] for r in rows],
            "examples", f"No {STATUS_LABEL[status]} records."))
    unverifiable = stats.get("status", {}).get("unverifiable", 0)
    if unverifiable:
        counts = "".join(f'<span class="pill">{e(r)} <b>{_n(n)}</b></span>'
                         for r, n in reasons.get("unverifiable", {}).items())
        out.append(f"<h3>Unverifiable: {_n(unverifiable)} {counts}</h3>")
    return "".join(out)


def _bad_lines(stats: dict) -> str:
    bad = stats.get("bad_examples", [])
    if not stats.get("bad_lines") and not bad:
        return ""
    items = "".join(f"<li><code>{e(b)}</code></li>" for b in bad)
    return (f'<section><h2>Bad lines skipped: {_n(stats.get("bad_lines", 0))}</h2>'
            f'<ul class="bad">{items}</ul></section>')


def _inputs(stats: dict) -> str:
    rows = [[e(i.get("path")), e(i.get("fields")), _n(i.get("records", 0)),
             f'<code title="{e(i.get("sha256"))}">{e(str(i.get("sha256", ""))[:16])}…</code>']
            for i in stats.get("inputs", [])]
    table = _table([("path", "txt path"), ("fields", "txt"), ("records", "num"), ("sha256", "txt")], rows,
                   "inputs", "No inputs recorded.")
    cfg = stats.get("dedup_config", {})
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(', '.join(map(str, v)) if isinstance(v, list) else v)}</dd>"
                    for k, v in cfg.items())
    items += "".join(f"<dt>{e(k)}</dt><dd>{_n(v)}</dd>" for k, v in stats.get("dedup_work", {}).items())
    if stats.get("rules_dir"):
        items += f"<dt>rules_dir</dt><dd>{e(stats['rules_dir'])}</dd>"
    return f'{table}<h3>Dedup settings</h3><dl class="cfg">{items}</dl>'


CSS = """
:root{--ink:#1d2633;--muted:#667085;--line:#e4e7ec;--bg:#f4f6f9;--card:#fff;--accent:#274b7a}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",
"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","WenQuanYi Micro Hei","PingFang SC","Microsoft YaHei",
"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:28px 32px 48px}
header{background:linear-gradient(120deg,#1f3b63,#2f5f94);color:#fff;border-radius:14px;padding:22px 28px;
margin-bottom:22px}
header h1{margin:0;font-size:26px;letter-spacing:.2px}
header p{margin:6px 0 0;color:#d6e2f2}
header code{color:#fff}
h2{font-size:19px;margin:0 0 4px}
h3{font-size:15px;margin:20px 0 8px}
.lead{color:var(--muted);margin:0 0 14px}
section{background:var(--card);border-radius:14px;padding:22px 26px;margin:18px 0;
box-shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.08)}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin:0 0 6px}
.card{background:var(--card);border-radius:12px;padding:12px 16px;border-top:4px solid #c7d2e0;
box-shadow:0 1px 2px rgba(16,24,40,.06)}
.card.good{border-top-color:#2f9e62}.card.bad{border-top-color:#d64545}.card.warn{border-top-color:#e9a23b}
.card-value{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums}
.card-label{font-weight:600}
.card-note{color:var(--muted);font-size:12px}
.chart{display:block;max-width:100%;height:auto;margin:8px 0}
.chart.donut{margin:8px auto}
.chart text{font-size:13px;fill:var(--ink)}
.chart .num,.chart .row-total{font-variant-numeric:tabular-nums}
.chart .legend-head{fill:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.5px}
.chart .slice-label{fill:#fff;font-weight:700;font-size:12px}
.chart .donut-total{font-size:30px;font-weight:700}
.chart .donut-caption{fill:var(--muted);font-size:13px}
.chart .seg-label{fill:#fff;font-size:11.5px;font-weight:600}
.chart .row-total{fill:var(--muted)}
.chart .total-row .row-label{font-weight:700}
.chart .legend{font-size:12.5px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:24px}
.figs{gap:18px}.figs section{margin:0}
.scroll{overflow-x:auto}
table.data{border-collapse:collapse;width:100%;font-size:13.5px}
table.data th{background:#f0f3f7;color:#475467;font-weight:600;font-size:12px;text-transform:uppercase;
letter-spacing:.3px;padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:bottom}
table.data td{padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
table.data tbody tr:nth-child(even){background:#fafbfc}
table.data tfoot td{font-weight:700;border-top:2px solid #cfd6df;border-bottom:none}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.txt{text-align:left}
th.num{white-space:normal}
table.data th.num:first-child,table.data td.num:first-child{width:1%}
td.zero{color:#b6bcc6}
td.rate.hi{color:#b42318;font-weight:700}
td.st-wrong:not(.zero){color:#b42318;font-weight:700}
td.st-implausible:not(.zero){color:#b54708;font-weight:700}
td.st-verified:not(.zero){color:#1f7a4a}
td.cat{white-space:nowrap}
.swatch{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:8px}
td.problem{word-break:break-word}
td.where{color:var(--muted);font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;
white-space:nowrap}
td.path{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
td ul{margin:0;padding-left:18px}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;margin-left:6px;
background:#eef0f3;color:#344054}
td .pill{margin-left:0}
.pill.st-wrong{background:#fde8e8;color:#b42318}
.pill.st-implausible{background:#fdf0dc;color:#93370d}
.empty{color:var(--muted);font-style:italic}
ul.bad code{font-size:12.5px;word-break:break-all}
dl.cfg{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.cfg dt{color:var(--muted)}dl.cfg dd{margin:0;word-break:break-word}
@media (max-width:900px){.cards{grid-template-columns:repeat(2,1fr)}.two{grid-template-columns:1fr}
main{padding:16px}}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
"""


def render_html(stats: dict) -> str:
    """The audit report for `stats` (from `mathdata.audit.audit`) as one self-contained HTML page."""
    from .view import present
    stats = present(stats)
    cats = stats.get("categories", {})
    colours = _colours(cats)
    records = stats.get("records", 0)
    inputs = stats.get("inputs", [])
    files = ", ".join(f"<code>{e(i.get('path'))}</code>" for i in inputs) or "no inputs recorded"
    version = f"{e(stats.get('schema', ''))} · mathdata {e(stats.get('tool_version', ''))}"
    body = f"""<main>
<header><h1>mathdata audit</h1><p>{_n(records)} records from {files}</p><p>{version}</p></header>
<div class="cards">{_cards(stats)}</div>
<section id="categories"><h2 id="fig1-title">Figure 1 · Share of each category</h2>
<p class="lead">Records per category, duplicates included (the seed's figure 1-1).</p>
{_donut(stats, colours)}</section>
<div class="two figs">
<section id="duplicates"><h2>Figure 2 · Duplicates per category</h2>
<p class="lead">Each bar is one category's records: kept after dedup, near duplicates (the same problem
reworded, same numbers) and exact duplicates (same text after normalisation); record counts on the right.</p>
{_dup_chart(stats)}
{_near_conflicts(stats)}
</section>
<section id="verification"><h2>Figure 3 · Answer verification per category</h2>
<p class="lead">Every record's answer recomputed exactly from its problem's numbers, duplicates included;
record counts on the right.</p>
{_status_chart(stats)}</section>
</div>
<section id="table"><h2>Per category</h2><div class="scroll">{_category_table(stats, colours)}</div></section>
<section id="clusters"><h2>Duplicate clusters</h2>{_clusters(stats)}</section>
<section id="examples"><h2>Examples of bad answers</h2>{_examples(stats)}</section>
{_bad_lines(stats)}
<section id="inputs"><h2>Inputs</h2>{_inputs(stats)}</section>
<footer>Rendered from the audit stats ({version}).</footer>
</main>"""
    return (f'<!DOCTYPE html>\n<html lang="zh-Hans">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>mathdata audit · {_n(records)} records</title>\n<style>{CSS}</style>\n</head>\n'
            f'<body>\n{body}\n</body>\n</html>\n')
