"""Renderers for the audit stats dict (`mathdata.audit.audit`).

Every renderer only formats what the stats already hold; nothing is counted here.
"""
from __future__ import annotations

from .html import render_html
from .terminal import render_terminal


def present(stats: dict) -> dict:
    """The stats with only the categories that have records (the JSON lists every category)."""
    return {**stats, "categories": {n: c for n, c in stats.get("categories", {}).items() if c.get("count", 0)}}

__all__ = ["present", "render_html", "render_terminal"]
