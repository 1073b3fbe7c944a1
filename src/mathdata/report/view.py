"""What the renderers show of the audit stats: a view, nothing counted."""
from __future__ import annotations


def _basename(path) -> str:
    return str(path or "?").replace("\\", "/").rsplit("/", 1)[-1]


def short_sources(stats: dict):
    """source -> how a report names it: the file name, or the full path when two inputs share that name."""
    names = [_basename(i.get("path")) for i in stats.get("inputs", [])]
    return lambda source: _basename(source) if names.count(_basename(source)) <= 1 else str(source or "?")


def present(stats: dict) -> dict:
    """The stats with only the categories that have records (the JSON lists every category)."""
    return {**stats, "categories": {n: c for n, c in stats.get("categories", {}).items() if c.get("count", 0)}}


# what `near_conflicting_labels` counts, in both reports' words (docs/audit.md): the short form for
# a summary card, the long one where there is room
NEAR_CONFLICT_SHORT = "similar text, other answer"
NEAR_CONFLICT_NOTE = ("pairs of near-duplicate texts whose answers differ, never merged "
                      "(a different problem, or a bad label to check)")
