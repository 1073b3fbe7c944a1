"""`mathdata audit`: what is in a data set and what is wrong with it, as one stats dict.

Reports (terminal, JSON, HTML) are rendered from this dict; nothing is computed in a renderer.
Counting rules: `exact_duplicates` / `near_duplicates` count records a dedup would remove (copies
beyond the kept one of each cluster); verification statuses count every record, duplicates included.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from . import __version__
from .classify import classify
from .dedup import find_duplicates, load_dedup_config
from .io import read_records, sha256_file
from .normalize import mask_numbers_expr
from .progress import Steps
from .rules import load_rules
from .verify import verify

SCHEMA = "mathdata.audit/1"
STATUSES = ("verified", "wrong", "implausible", "unverifiable")
EXAMPLES = 8


def annotate(paths, problem_field=None, solution_field=None, skip_bad=False, rules_dir=None,
             steps: Steps | None = None, workers: int = 2, no_header: bool = False):
    """Read, classify, verify and mark duplicates. Returns (frame, load result, dedup work stats)."""
    steps = steps or Steps(["read"], quiet=True)
    rules = load_rules(rules_dir)
    cfg = load_dedup_config(rules_dir)
    with steps.step("read"):
        loaded = read_records(paths, problem_field, solution_field, skip_bad, no_header=no_header)
    with steps.step("classify"):
        df = classify(loaded.frame, rules)
    with steps.step("verify"):
        df = verify(df, rules, workers=workers)
    work: dict = {}
    with steps.step("deduplicate"):
        df = df.with_columns(_priority=pl.when(pl.col("status") == "verified").then(0).otherwise(1))
        df = find_duplicates(df, cfg, priority="_priority", stats=work).drop("_priority")
    return df, loaded, work, rules, cfg


def audit(paths, problem_field=None, solution_field=None, skip_bad=False, rules_dir=None,
          quiet=False, workers: int = 2, no_header: bool = False) -> dict:
    steps = Steps(["read", "classify", "verify", "deduplicate", "summarise"], quiet=quiet)
    with steps:
        df, loaded, work, rules, cfg = annotate(paths, problem_field, solution_field, skip_bad, rules_dir,
                                                steps, workers, no_header)
        with steps.step("summarise"):
            stats = summarise(df, rules.categories)
    stats.update({
        "bad_lines": loaded.bad_lines,
        "bad_examples": loaded.bad_examples,
        "inputs": [{"path": str(p), "sha256": loaded.sha256.get(str(p)) or sha256_file(p), "fields": loaded.fields.get(str(p)),
                    "records": int(df.filter(pl.col("source") == str(p)).height)} for p in map(Path, paths)],
        "dedup_config": cfg.to_dict() | {"distinguishing_words": list(cfg.distinguishing_words)},
        "dedup_work": work,
        # near-duplicate texts whose labelled answers differ: never merged, reported here
        "near_conflicting_labels": work.get("conflicting_labels", 0),
        "rules_dir": str(rules.directory),
        "timings_s": steps.timings,
    })
    return stats


def _examples(df: pl.DataFrame, status: str) -> list[dict]:
    rows = df.filter(pl.col("status") == status).unique("norm", keep="first", maintain_order=True).head(EXAMPLES)
    return rows.select("source", "line", "category", "problem", "solution", "reason").to_dicts()


def summarise(df: pl.DataFrame, category_order) -> dict:
    df = df.with_columns(family=mask_numbers_expr(pl.col("norm")), chars=pl.col("problem").str.len_chars())
    per = (df.group_by("category").agg(
        count=pl.len(),
        unique=(~pl.col("exact_dup")).sum(),
        exact_duplicates=pl.col("exact_dup").sum(),
        near_duplicates=pl.col("near_dup").sum(),
        families=pl.col("family").n_unique(),
        median_chars=pl.col("chars").median(),
        **{s: (pl.col("status") == s).sum() for s in STATUSES},
    ))
    by_name = {r["category"]: r for r in per.to_dicts()}
    categories = {}
    empty = {"count": 0, "unique": 0, "exact_duplicates": 0, "near_duplicates": 0, "families": 0,
             "median_chars": 0, **{s: 0 for s in STATUSES}}
    # every category of the rules is listed (zeros included), so scripts can index any of them
    for name in list(category_order) + sorted(set(by_name) - set(category_order)):
        r = by_name.get(name, empty)
        categories[name] = {
            "count": r["count"], "unique": r["unique"], "exact_duplicates": r["exact_duplicates"],
            "near_duplicates": r["near_duplicates"], "kept": r["unique"] - r["near_duplicates"],
            "duplicate_rate": round(r["exact_duplicates"] / r["count"], 4) if r["count"] else 0.0,
            "families": r["families"], **{s: r[s] for s in STATUSES},
            "median_chars": float(r["median_chars"] or 0),
        }
    exact_clusters = (df.group_by("exact_group").agg(pl.col("problem").first(), pl.col("category").first(),
                                                     copies=pl.len())
                      .filter(pl.col("copies") > 1).sort(["copies", "exact_group"], descending=[True, False]).head(10))
    near = df.filter(~pl.col("exact_dup"))
    near_clusters = (near.group_by("near_group").agg(pl.col("problem"), pl.col("category").first(), size=pl.len())
                     .filter(pl.col("size") > 1).sort(["size", "near_group"], descending=[True, False]).head(10))
    families = (df.group_by("category", "family").agg(count=pl.len())
                .sort(["count", "family"], descending=[True, False]).head(10))
    # the same problem labelled with different solutions
    conflicts = df.group_by("exact_group").agg(n=pl.col("solution").n_unique()).filter(pl.col("n") > 1).height
    reasons = (df.group_by("status", "reason").agg(n=pl.len()).sort("status", "reason").to_dicts())
    return {
        "schema": SCHEMA,
        "tool_version": __version__,
        "records": df.height,
        "unique": int((~df["exact_dup"]).sum()),
        "exact_duplicates": int(df["exact_dup"].sum()),
        "near_duplicates": int(df["near_dup"].sum()),
        "kept": int((~df["exact_dup"] & ~df["near_dup"]).sum()),
        "families": int(df["family"].n_unique()),
        "median_chars": float(df["chars"].median() or 0),
        "conflicting_solutions": conflicts,
        "status": {s: int((df["status"] == s).sum()) for s in STATUSES},
        "reasons": {s: {r["reason"]: r["n"] for r in reasons if r["status"] == s} for s in STATUSES},
        "categories": categories,
        "top_exact_clusters": exact_clusters.select("problem", "category", "copies").to_dicts(),
        "top_near_clusters": [{"category": r["category"], "size": r["size"], "problems": r["problem"][:5]}
                              for r in near_clusters.to_dicts()],
        "top_families": families.to_dicts(),
        "examples": {"wrong": _examples(df, "wrong"), "implausible": _examples(df, "implausible")},
    }
