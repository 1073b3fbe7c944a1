"""The audit report for a terminal (rich), rendered from the stats dict of `mathdata.audit.audit`.

Only formatting happens here: every figure comes from the stats; percentages are the figure divided
by its stated base (records, or a category's count), shown for reading, never stored.
"""
from __future__ import annotations

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.constrain import Constrain
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..textsafe import clean, plain  # every data string is shown through these: no markup, no escapes
from ..verify import STATUSES  # the verifier's statuses, in report order
from .format import count as _n, pct as _pct
from .view import NEAR_CONFLICT_NOTE, short_sources

STATUS_STYLE = {"verified": "green", "wrong": "bold red", "implausible": "bold yellow", "unverifiable": "dim"}


def _with_pct(part, whole) -> str:
    return f"{_n(part)} ({_pct(part, whole)})"


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
        ("Near, answers differ", _nonzero(stats.get("near_conflicting_labels", 0), "bold magenta")),
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
    # wrapped to about the grid's width, so the note does not widen the panel
    note = Constrain(Text(f"Near, answers differ counts {NEAR_CONFLICT_NOTE}.", style="dim"), width=68)
    return Panel(Group(Text(clean(files), style="dim", overflow="fold"), Text(""), grid, Text(""), note), title=title,
                 subtitle=subtitle, border_style="cyan", expand=False, padding=(1, 2))


def _category_columns(stats: dict) -> list:
    """(header, footer, cell(name, category) -> renderable) for every column of the per-category table."""
    records = stats.get("records", 0)
    status = stats.get("status", {})

    def rate(_, c):
        r = c.get("duplicate_rate", 0.0)
        return Text(_pct(r, 1), style="bold" if r >= 0.25 else ("" if r else "dim"))

    def status_cell(s):
        return lambda _, c: _nonzero(c.get(s, 0), STATUS_STYLE[s])

    return [
        ("Category", "Total", lambda name, _: plain(name)),
        ("Count", _n(records), lambda _, c: _n(c.get("count", 0))),
        ("Share", _pct(records, records), lambda _, c: _pct(c.get("count", 0), records)),
        ("Unique", _n(stats.get("unique", 0)), lambda _, c: _n(c.get("unique", 0))),
        ("Dup rate", _pct(stats.get("exact_duplicates", 0), records), rate),
        ("Near dups", _n(stats.get("near_duplicates", 0)), lambda _, c: _nonzero(c.get("near_duplicates", 0), "")),
        ("Families", _n(stats.get("families", 0)), lambda _, c: _n(c.get("families", 0))),
        *[(s.capitalize(), _n(status.get(s, 0)), status_cell(s)) for s in STATUSES],
        ("Median chars", f"{stats.get('median_chars', 0):g}", lambda _, c: f"{c.get('median_chars', 0):g}"),
    ]


def _category_table(stats: dict, title: str, headers=None, stacked_headers: bool = False) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAVY, show_footer=True, title_justify="left", title_style="bold")
    columns = [c for c in _category_columns(stats) if headers is None or c[0] in headers]
    for i, (header, footer, _) in enumerate(columns):
        header = header.replace(" ", "\n") if stacked_headers else header
        table.add_column(header, justify="left" if i == 0 else "right", footer=footer, no_wrap=True)
    for name, c in stats.get("categories", {}).items():
        table.add_row(*[cell(name, c) for _, _, cell in columns])
    return table


def _categories(stats: dict, console: Console) -> list:
    """One table if it fits the console, else two: sizes and duplicates, then answers."""
    table = _category_table(stats, "Per category")
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    if natural <= console.width:
        return [table]
    return [_category_table(stats, "Per category: size and duplicates",
                            {"Category", "Count", "Share", "Unique", "Dup rate", "Near dups", "Families",
                             "Median chars"}, stacked_headers=True),
            _category_table(stats, "Per category: answers", {"Category", *(s.capitalize() for s in STATUSES)})]


def _ranked_table(title: str, size: str, text: str, rows, end_section: bool = False) -> Table:
    """A table of (size, category, text) rows: the clusters and the families. `end_section` rules off
    each row (a near cluster's text is several lines)."""
    t = Table(title=title, box=box.SIMPLE, title_justify="left", title_style="bold")
    t.add_column(size, justify="right", no_wrap=True)
    t.add_column("Category", no_wrap=True)
    t.add_column(text, overflow="fold")
    for n, category, shown in rows:
        t.add_row(_n(n), plain(category), plain(shown), end_section=end_section)
    return t


def _clusters(stats: dict) -> list:
    out = []
    exact = stats.get("top_exact_clusters", [])
    if exact:
        out.append(_ranked_table("Largest exact-duplicate clusters", "Copies", "Problem",
                                 [(c.get("copies", 0), c.get("category", ""), c.get("problem", "")) for c in exact]))
    near = stats.get("top_near_clusters", [])
    if near:
        out.append(_ranked_table("Largest near-duplicate clusters", "Size", "Problems (up to 5 shown)",
                                 [(c.get("size", 0), c.get("category", ""), "\n".join(map(str, c.get("problems", []))))
                                  for c in near], end_section=True))
    families = stats.get("top_families", [])
    if families:
        out.append(_ranked_table("Largest template families (numbers masked as #)", "Records", "Family",
                                 [(f.get("count", 0), f.get("category", ""), f.get("family", "")) for f in families]))
    if not exact and not near:
        out.append(Text("No duplicate clusters.", style="dim"))
    return out


def _examples(stats: dict, console: Console) -> list:
    """A table per status when the console leaves the problem and solution room, else one block per record."""
    out = []
    reasons = stats.get("reasons", {})
    short = short_sources(stats)
    for status in ("wrong", "implausible"):
        rows = stats.get("examples", {}).get(status, [])
        if not rows:
            continue
        counts = ", ".join(f"{r} {_n(n)}" for r, n in reasons.get(status, {}).items())
        total = stats.get("status", {}).get(status, len(rows))
        title = f"{status.capitalize()} answers: {_n(total)}" + (f" ({counts})" if counts else "")
        cells = [tuple(plain(x) for x in (f"{short(r.get('source'))}:{r.get('line', '?')}", r.get("category", ""),
                                          r.get("problem", ""), r.get("solution", ""), r.get("reason", "")))
                 for r in rows]
        fixed = sum(max(cell_len(str(row[i])) for row in cells + [("Where", "Category", "", "", "Reason")])
                    for i in (0, 1, 4))
        if fixed + 5 * 3 + 60 <= console.width:  # room for 60 columns of problem and solution
            t = Table(title=title, box=box.SIMPLE, title_justify="left", title_style=STATUS_STYLE[status])
            t.add_column("Where", style="dim", no_wrap=True)
            t.add_column("Category", no_wrap=True)
            t.add_column("Problem", overflow="fold", ratio=3)
            t.add_column("Solution", overflow="fold", ratio=2)
            t.add_column("Reason", style=STATUS_STYLE[status], no_wrap=True)
            for row in cells:
                t.add_row(*row)
            out.append(t)
            continue
        out.append(Text(title, style=STATUS_STYLE[status]))
        for where, category, problem, solution, reason in cells:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="dim", no_wrap=True)
            grid.add_column(overflow="fold")
            grid.add_row("problem", problem)
            grid.add_row("solution", solution)
            out.append(Group(Text.assemble((str(where), "dim"), "  ", category, "  ", (str(reason), STATUS_STYLE[status])),
                             Padding(grid, (0, 0, 1, 2))))
    unverifiable = stats.get("status", {}).get("unverifiable", 0)
    if unverifiable:
        counts = ", ".join(f"{r} {_n(n)}" for r, n in reasons.get("unverifiable", {}).items())
        out.append(Text(f"Unverifiable answers: {_n(unverifiable)}" + (f" ({counts})" if counts else ""),
                        style="bold"))
    return out


def _bad_lines(stats: dict) -> list:
    bad = stats.get("bad_examples", [])
    if not stats.get("bad_lines") and not bad:
        return []
    t = Table(title=f"Bad lines skipped: {_n(stats.get('bad_lines', 0))}", box=box.SIMPLE,
              title_justify="left", title_style="bold red", show_header=False)
    t.add_column(overflow="fold")
    for line in bad:
        t.add_row(plain(line))
    return [t]


def render_terminal(stats: dict, console: Console) -> None:
    """Print the audit report for `stats` (from `mathdata.audit.audit`) to `console`."""
    from .view import present
    stats = present(stats)
    console.print(_summary(stats))
    for part in _categories(stats, console) + _clusters(stats) + _examples(stats, console) + _bad_lines(stats):
        console.print(part)
