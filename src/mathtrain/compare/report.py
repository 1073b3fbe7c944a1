"""compare.json -> a terminal table and compare.html (per-category grouped bars, inline SVG, no scripts)."""
from __future__ import annotations

import html
from pathlib import Path

# one colour per model row (base first); colour-blind-safe (Okabe-Ito)
COLOURS = ["#999999", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]


def terminal_table(doc: dict):
    from rich.table import Table

    cats = _categories(doc)
    t = Table(title=f"mathtrain compare: {doc['eval']['items']} eval items, {doc['budget']['steps']} steps x "
                    f"batch {doc['budget']['batch_size']} x seq {doc['budget']['seq_length']} per run")
    for col in ("recipe", "seeds", "train -> eval prompt", "accuracy (mean)", "min..max", "tokens seen"):
        t.add_column(col, justify="left" if col in ("recipe", "train -> eval prompt") else "right")
    for c in cats:
        t.add_column(c, justify="right")
    for row in doc["summary"]:
        prompts = (f"{row['train_prompt']} -> {row['eval_prompt']}" if row["seeds"] else f"(none) -> {row['eval_prompt']}")
        t.add_row(row["model"], str(row["seeds"] or "-"), prompts, f"{row['accuracy_mean']:.1%}",
                  f"{row['accuracy_min']:.1%}..{row['accuracy_max']:.1%}" if row["seeds"] else "-",
                  f"{row['tokens_seen_mean']:,}" if row["seeds"] else "-",
                  *[f"{row['per_category_mean'][c]:.0%}" if c in row["per_category_mean"] else "" for c in cats])
    return t


def _categories(doc: dict) -> list[str]:
    cats: list[str] = []
    for m in doc["models"]:
        for c in m["per_category"]:
            if c not in cats:
                cats.append(c)
    return cats


def svg_chart(doc: dict) -> str:
    """Grouped bars: x = category (+ 'all'), one bar per summary row (mean over seeds), a line from min to max
    over seeds, seed values as dots."""
    cats = ["all", *_categories(doc)]
    rows = doc["summary"]
    per_seed = {}
    for m in doc["models"]:
        if m["recipe"] != "base":
            per_seed.setdefault(m["recipe"], []).append(m)
    n = max(len(rows), 1)
    bar, gap = 14, 18
    group = n * bar + gap
    left, top, height = 48, 20, 220
    longest = max((len(r["model"]) + len(r["eval_prompt"]) for r in rows), default=0)
    width = max(left + len(cats) * group + 10, left + 18 + 6.5 * (longest + 62))  # room for the legend text
    legend_h = 18 * len(rows) + 10
    total_h = top + height + 60 + legend_h
    y = lambda acc: top + height * (1 - acc)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{total_h}" '
             f'viewBox="0 0 {width:.0f} {total_h}" font-family="sans-serif" font-size="11" role="img" '
             f'aria-label="accuracy per category">']
    for tick in range(0, 101, 20):
        ty = y(tick / 100)
        parts.append(f'<line x1="{left}" x2="{left + len(cats) * group:.0f}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick}%</text>')
    for ci, cat in enumerate(cats):
        gx = left + ci * group + gap / 2
        for ri, row in enumerate(rows):
            acc = row["accuracy_mean"] if cat == "all" else row["per_category_mean"].get(cat)
            if acc is None:
                continue
            x = gx + ri * bar
            colour = COLOURS[ri % len(COLOURS)]
            h = max(height * acc, 0.0)
            title = f"{row['model']} · {cat}: {acc:.1%}"
            parts.append(f'<rect x="{x:.1f}" y="{y(acc):.1f}" width="{bar - 2}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{html.escape(title)}</title></rect>')
            if acc == 0:  # a zero bar still shows its colour: a 3 px stub
                parts.append(f'<rect x="{x:.1f}" y="{y(0) - 3:.1f}" width="{bar - 2}" height="3" fill="{colour}"/>')
            seeds = per_seed.get(row["recipe"], []) if row["seeds"] else []
            vals = [s["accuracy"] if cat == "all" else s["per_category"].get(cat, {}).get("accuracy") for s in seeds]
            vals = [v for v in vals if v is not None]
            if len(vals) > 1:
                cx = x + (bar - 2) / 2
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(max(vals)):.1f}" y2="{y(min(vals)):.1f}" '
                             f'stroke="#222" stroke-width="1.5"/>')
                for v in vals:
                    parts.append(f'<circle cx="{cx:.1f}" cy="{y(v):.1f}" r="2" fill="#222"/>')
        parts.append(f'<text x="{gx + n * bar / 2:.1f}" y="{top + height + 16}" text-anchor="middle">'
                     f'{html.escape(cat)}</text>')
    parts.append(f'<line x1="{left}" x2="{left + len(cats) * group:.0f}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
                 f'stroke="#444"/>')
    ly = top + height + 40
    for ri, row in enumerate(rows):
        label = (f"{row['model']}: mean of {row['seeds']} seeds (line = min..max, dots = seeds), eval prompt "
                 f"{row['eval_prompt']}" if row["seeds"] else f"{row['model']}: untrained, eval prompt {row['eval_prompt']}")
        parts.append(f'<rect x="{left}" y="{ly + ri * 18 - 10}" width="12" height="12" '
                     f'fill="{COLOURS[ri % len(COLOURS)]}"/>')
        parts.append(f'<text x="{left + 18}" y="{ly + ri * 18}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_html(doc: dict, path: Path) -> None:
    from mathdata.io import write_text

    cats = _categories(doc)
    e = html.escape
    head_cells = "".join(f"<th>{e(c)}</th>" for c in cats)
    rows = []
    for m in doc["models"]:
        cells = "".join(f"<td>{m['per_category'][c]['correct']}/{m['per_category'][c]['total']}</td>"
                        if c in m["per_category"] else "<td></td>" for c in cats)
        train = m["train_prompt"]["name"] if m["train_prompt"] else "(untrained)"
        seen = f"{m['tokens_seen']:,}" if "tokens_seen" in m else "-"
        loss = f"{m['first_loss']:.3f} → {m['last_loss']:.3f}" if "first_loss" in m else "-"
        rows.append(f"<tr><td>{e(m['model'])}</td><td>{e(train)} → {e(m['eval_prompt']['name'])}</td>"
                    f"<td>{m['accuracy']:.1%} ({m['correct']}/{m['total']})</td><td>{seen}</td><td>{loss}</td>{cells}</tr>")
    b = doc["budget"]
    text = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mathtrain compare</title>
<style>body{{font-family:sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} td:first-child,th:first-child{{text-align:left}}
.note{{color:#555;font-size:13px;max-width:900px}}</style></head><body>
<h1>mathtrain compare</h1>
<p class="note">Model <b>{e(doc['model']['name'])}</b>; every run: {b['steps']} steps × batch {b['batch_size']} ×
seq {b['seq_length']} (token budget {b['token_budget']:,}); seeds {', '.join(map(str, doc['seeds']))}.
Eval: {doc['eval']['items']} items of {e(Path(doc['eval']['path']).name)} (sha256 {doc['eval']['sha256'][:12]}…),
greedy, at most {doc['eval']['max_new_tokens']} new tokens.</p>
<h2>Accuracy per category</h2>
{svg_chart(doc)}
<h2>Every model</h2>
<table><tr><th>model</th><th>prompt (train → eval)</th><th>accuracy</th><th>tokens seen</th><th>loss</th>{head_cells}</tr>
{chr(10).join(rows)}
</table>
</body></html>
"""
    write_text(path, text)
