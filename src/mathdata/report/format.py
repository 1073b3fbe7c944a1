"""How the reports (terminal, HTML, the build summary) write a count and a percentage: one owner, so
the same figure reads the same everywhere."""
from __future__ import annotations


def count(value) -> str:
    """An int with thousands separators (`548,942`); anything else as its text."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def pct(part, whole, digits: int = 1) -> str:
    """`part / whole` as a percentage (`84.6%`); `–` when `whole` is 0.

    `100 * part / whole` rounds once (for counts, 100 * part is exact), so a share that is exactly
    on a half (23 of 80 = 28.75%) is written from that exact value; `part / whole` first and then
    `:.1%` rounds twice and can land on the other side (28.7%)."""
    return f"{100 * part / whole:.{digits}f}%" if whole else "–"
