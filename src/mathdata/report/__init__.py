"""Renderers for the audit stats dict (`mathdata.audit.audit`).

Every renderer only formats what the stats already hold; nothing is counted here.
"""
from __future__ import annotations

from .html import render_html
from .terminal import render_terminal
from .view import present


__all__ = ["present", "render_html", "render_terminal"]
