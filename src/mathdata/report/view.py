"""What the renderers show of the audit stats: a view, nothing counted."""
from __future__ import annotations


def present(stats: dict) -> dict:
    """The stats with only the categories that have records (the JSON lists every category)."""
    return {**stats, "categories": {n: c for n, c in stats.get("categories", {}).items() if c.get("count", 0)}}
