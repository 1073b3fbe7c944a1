"""`mathdata synth` in one call: generated records written as JSON Lines to a file (atomically) or stdout."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from .engine import SynthSettings, synthesize, templates_for
from .values import range_overrides


def write_synth(out: Path | str, category: str, count: int, seed: int, settings: SynthSettings = SynthSettings(),
                ranges: list[str] | tuple = (), rules_dir: Path | str | None = None) -> dict[str, int]:
    """`synthesize` into `out` ('-' for stdout), which is checked first as a safe file output (never a
    rule file, a folder ...). `ranges` (`SLOT=MIN:MAX[:PLACES]`) override the slots of the templates
    chosen by `category`. Returns the records written per category, in the order written."""
    from ..io import write_jsonl
    from ..outputs import check_file_output, rules_files
    from ..rules import load_rules

    check_file_output(out, rules_files(rules_dir), "-o")
    rules = load_rules(rules_dir)
    if ranges:
        settings = replace(settings, overrides=range_overrides(list(ranges), templates_for(rules, category)))
    records = synthesize(rules, category, count, seed, settings)
    if str(out) == "-":
        sys.stdout.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        write_jsonl(out, records)
    per: dict[str, int] = {}
    for r in records:
        per[r["category"]] = per.get(r["category"], 0) + 1
    return per
