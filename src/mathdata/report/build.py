"""The terminal summary of `mathdata build`, rendered from its stats (the manifest plus timings) and
plan: the quota plan, the stages, the built set per category, the files written. Nothing is computed
here."""
from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..textsafe import plain
from .format import count as _n


def plan_table(plan) -> Table:
    """Quota vs available real records vs top-up, one row per quota."""
    t = Table(title="Quota plan", box=box.SIMPLE_HEAVY, title_justify="left", title_style="bold", show_footer=True)
    rows = [r.to_dict() if hasattr(r, "to_dict") else r for r in plan]
    t.add_column("Quota", footer="Total")
    t.add_column("Categories", overflow="fold")
    for name, key in (("Wanted", "wanted"), ("Available", "available"), ("From data", "taken"), ("Top-up", "top_up")):
        t.add_column(name, justify="right", footer=_n(sum(r[key] for r in rows)))
    for r in rows:
        short = r["top_up"] > 0
        t.add_row(plain(r["quota"]), plain(", ".join(f"{c} {_n(r['available_by_category'].get(c, 0))}" for c in r["categories"])),
                  _n(r["wanted"]), _n(r["available"]), _n(r["taken"]),
                  f"[bold yellow]{_n(r['top_up'])}[/]" if short else "[dim]0[/]")
    return t


def stage_table(stats: dict) -> Table:
    t = Table(title="Stages", box=box.SIMPLE_HEAVY, title_justify="left", title_style="bold")
    for col, just in (("Stage", "left"), ("In", "right"), ("Out", "right"), ("Dropped by reason", "left"),
                      ("Added", "right"), ("Seconds", "right")):
        t.add_column(col, justify=just)
    timings = stats.get("timings_s", {})
    for s in stats["stages"]:
        reasons = ", ".join(f"{k} {_n(v)}" for k, v in s["dropped"].items()) or "[dim]–[/]"
        t.add_row(s["stage"], _n(s["in"]), _n(s["out"]), reasons, _n(s["added"]) if s["added"] else "[dim]–[/]",
                  f"{timings.get(s['stage'], 0):.2f}")
    return t


def category_table(stats: dict) -> Table:
    t = Table(title="Built set per category", box=box.SIMPLE_HEAVY, title_justify="left", title_style="bold",
              show_footer=True)
    cats = stats["categories"]
    t.add_column("Category", footer="Total")
    for name, key in (("From data", "real"), ("Generated", "generated"), ("Total", "total")):
        t.add_column(name, justify="right", footer=_n(sum(c[key] for c in cats.values())))
    for name, c in cats.items():
        t.add_row(plain(name), _n(c["real"]), _n(c["generated"]), _n(c["total"]))
    return t


def render_build(stats: dict, console: Console) -> None:
    console.print(stage_table(stats))
    console.print(category_table(stats))
    outs = stats["outputs"]
    console.print(Text.assemble(("wrote", "bold green"), " ", plain(
        f"{stats['out_dir']}: " + ", ".join(f"{k} ({_n(v['records'])})" for k, v in outs.items())
        + f" · prompt {stats['prompt']['name']!r} · seed {stats['seed']}")))
