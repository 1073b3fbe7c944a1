"""Renderers for the audit stats dict (`mathdata.audit.audit`).

Every renderer only formats what the stats already hold; nothing is counted here. The renderers are
imported on first use, so `mathdata.report.format` (used by the CLI's build summary) stays cheap.
"""
from __future__ import annotations

import importlib

_HOME = {"present": ".view", "render_html": ".html", "render_terminal": ".terminal"}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name], __name__), name)
