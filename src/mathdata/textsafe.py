"""Data text made safe to show in a terminal.

Text from a data set is never read as markup and never drives the terminal: `clean` writes every
control character (C0 but newline and tab, DEL, C1 -- so ESC sequences, carriage returns, bells) and
every bidirectional override (U+202A..U+202E, U+2066..U+2069) as a visible `\\xNN` / `\\uNNNN` escape;
`plain` wraps the result in a rich `Text`, which rich prints literally (`[/b]`, `[link=...]`, `[x]`
stay as written). Every terminal renderer passes data through `plain`; error messages through `clean`.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(text) -> str:
    """`text` (any value, shown as str) with control characters and bidi overrides escaped."""
    text = str(text)
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def plain(text, style: str = ""):
    """A rich Text of `clean(text)`: printed as written, never parsed as markup."""
    from rich.text import Text
    return Text(clean(text), style=style)
