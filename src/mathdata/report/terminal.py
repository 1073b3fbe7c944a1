"""The audit report for a terminal (rich), rendered from the stats dict of `mathdata.audit.audit`.

Only formatting happens here: every figure comes from the stats; percentages are the figure divided
by its stated base (records, or a category's count), shown for reading, never stored.
"""
from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

STATUSES = ("verified", "wrong", "implausible", "unverifiable")
STATUS_STYLE = {"verified": "green", "wrong": "bold red", "implausible": "bold yellow", "unverifiable": "dim"}


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pct(part, whole) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _with_pct(part, whole) -> str:
    return f"{_n(part)} ({_pct(part, whole)})"


def _short_sources(stats: dict):
    """Show a record's file by its name, or by its full path when two inputs share that name."""
    names = [str(i.get("path", "")).replace("\\", "/").rsplit("/", 1)[-1] for i in stats.get("inputs", [])]

    def short(source) -> str:
        name = str(source or "?").replace("\\", "/").rsplit("/", 1)[-1]
        return name if names.count(name) <= 1 else str(source)
    return short


def _nonzero(value: int, style: str) -> Text:
    return Text(_n(value), style=style if value else "dim")


def _summary(stats: dict) -> Panel:
    records = stats.get("records", 0)
    status = stats.get("status", {})
    left = [
        ("Records", _n(records)),
        ("Bad lines", _n(stats.get("bad_lines", 0))),
        ("Unique problems", _with_pct(stats.get("unique", 0), records)),
        ("Exact duplicates", _with_pct(stats.get("exact_duplicates", 0), records)),
        ("Near duplicates", _with_pct(stats.get("near_duplicates", 0), records)),
        ("Template families", _n(stats.get("families", 0))),
    ]
    right = [(s.capitalize(), _with_pct(status.get(s, 0), records)) for s in STATUSES]
    right.append(("Conflicting solutions", _n(stats.get("conflicting_solutions", 0))))
    grid = Table.grid(padding=(0, 2))
    for _ in range(2):
        grid.add_column(style="bold")
        grid.add_column(justify="right")
    styles = [STATUS_STYLE[s] for s in STATUSES] + ["bold magenta" if stats.get("conflicting_solutions") else ""]
    for i in range(max(len(left), len(right))):
        a, b = left[i] if i < len(left) else ("", "")
        c, d = right[i] if i < len(right) else ("", "")
        grid.add_row(a, b, Text(c, style=styles[i] if i < len(styles) else ""), d)
    inputs = stats.get("inputs", [])
    files = ", ".join(i.get("path", "?") for i in inputs) or "?"
    title = f"[bold]mathdata audit[/] · {_n(records)} records from {len(inputs)} file{'s' * (len(inputs) != 1)}"
    subtitle = f"{stats.get('schema', '')} · mathdata {stats.get('tool_version', '')}".strip(" ·")
    return Panel(Group(Text(files, style="dim", overflow="fold"), Text(""), grid), title=title,
                 subtitle=subtitle, border_style="cyan", expand=False, padding=(1, 2))


def _categories(stats: dict) -> Table:
    table = Table(title="Per category", box=box.SIMPLE_HEAVY, show_footer=True, title_justify="left",
                  title_style="bold")
    cats = stats.get("categories", {})
    records = stats.get("records", 0)
    status = stats.get("status", {})
    columns = [
        ("Category", "left", "Total"),
        ("Count", "right", _n(records)),
        ("Share", "right", _pct(records, records)),
        ("Unique", "right", _n(stats.get("unique", 0))),
        ("Dup rate", "right", _pct(stats.get("exact_duplicates", 0), records)),
        ("Near dups", "right", _n(stats.get("near_duplicates", 0))),
        ("Families", "right", _n(stats.get("families", 0))),
        *[(s.capitalize(), "right", _n(status.get(s, 0))) for s in STATUSES],
        ("Median chars", "right", "–"),  # the stats hold no overall median
    ]
    for header, justify, footer in columns:
        table.add_column(header, justify=justify, footer=footer, no_wrap=True)
    for name, c in cats.items():
        rate = c.get("duplicate_rate", 0.0)
        table.add_row(
            name, _n(c.get("count", 0)), _pct(c.get("count", 0), records), _n(c.get("unique", 0)),
            Text(f"{rate:.1%}", style="bold" if rate >= 0.25 else ("" if rate else "dim")),
            _nonzero(c.get("near_duplicates", 0), ""), _n(c.get("families", 0)),
            *[_nonzero(c.get(s, 0), STATUS_STYLE[s]) for s in STATUSES],
            f"{c.get('median_chars', 0):g}",
        )
    return table


def _clusters(stats: dict) -> list:
    out = []
    exact = stats.get("top_exact_clusters", [])
    if exact:
        t = Table(title="Largest exact-duplicate clusters", box=box.SIMPLE, title_justify="left",
                  title_style="bold")
        t.add_column("Copies", justify="right", no_wrap=True)
        t.add_column("Category", no_wrap=True)
        t.add_column("Problem", overflow="fold")
        for c in exact:
            t.add_row(_n(c.get("copies", 0)), c.get("category", ""), c.get("problem", ""))
        out.append(t)
    near = stats.get("top_near_clusters", [])
    if near:
        t = Table(title="Largest near-duplicate clusters", box=box.SIMPLE, title_justify="left",
                  title_style="bold")
        t.add_column("Size", justify="right", no_wrap=True)
        t.add_column("Category", no_wrap=True)
        t.add_column("Problems (up to 5 shown)", overflow="fold")
        for c in near:
            t.add_row(_n(c.get("size", 0)), c.get("category", ""), "\n".join(c.get("problems", [])),
                      end_section=True)
        out.append(t)
    families = stats.get("top_families", [])
    if families:
        t = Table(title="Largest template families (numbers masked as #)", box=box.SIMPLE,
                  title_justify="left", title_style="bold")
        t.add_column("Records", justify="right", no_wrap=True)
        t.add_column("Category", no_wrap=True)
        t.add_column("Family", overflow="fold")
        for f in families:
            t.add_row(_n(f.get("count", 0)), f.get("category", ""), f.get("family", ""))
        out.append(t)
    if not exact and not near:
        out.append(Text("No duplicate clusters.", style="dim"))
    return out


def _examples(stats: dict) -> list:
    out = []
    reasons = stats.get("reasons", {})
    short = _short_sources(stats)
    for status in ("wrong", "implausible"):
        rows = stats.get("examples", {}).get(status, [])
        if not rows:
            continue
        counts = ", ".join(f"{r} {_n(n)}" for r, n in reasons.get(status, {}).items())
        total = stats.get("status", {}).get(status, len(rows))
        title = f"{status.capitalize()} answers: {_n(total)}" + (f" ({counts})" if counts else "")
        t = Table(title=title, box=box.SIMPLE, title_justify="left", title_style=STATUS_STYLE[status])
        t.add_column("Where", style="dim", overflow="fold", max_width=32)
        t.add_column("Category", no_wrap=True)
        t.add_column("Problem", overflow="fold", ratio=3)
        t.add_column("Solution", overflow="fold", ratio=2)
        t.add_column("Reason", style=STATUS_STYLE[status], no_wrap=True)
        for r in rows:
            t.add_row(f"{short(r.get('source'))}:{r.get('line', '?')}", r.get("category", ""),
                      r.get("problem", ""), r.get("solution", ""), r.get("reason", ""))
        out.append(t)
    return out


def _bad_lines(stats: dict) -> list:
    bad = stats.get("bad_examples", [])
    if not stats.get("bad_lines") and not bad:
        return []
    t = Table(title=f"Bad lines skipped: {_n(stats.get('bad_lines', 0))}", box=box.SIMPLE,
              title_justify="left", title_style="bold red", show_header=False)
    t.add_column(overflow="fold")
    for line in bad:
        t.add_row(line)
    return [t]


def render_terminal(stats: dict, console: Console) -> None:
    """Print the audit report for `stats` (from `mathdata.audit.audit`) to `console`."""
    console.print(_summary(stats))
    console.print(_categories(stats))
    for part in _clusters(stats) + _examples(stats) + _bad_lines(stats):
        console.print(part)
