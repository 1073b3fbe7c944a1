"""`mathdata audit`: what is in a data set and what is wrong with it, as one stats dict.

Reports (terminal, JSON, HTML) are rendered from this dict; nothing is computed in a renderer.
Counting rules: `exact_duplicates` / `near_duplicates` count records a dedup would remove (copies
beyond the kept one of each cluster); verification statuses count every record, duplicates included.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from . import __version__
from .classify import classify
from .dedup import DedupConfig, blocking_key_expr, find_duplicates, load_dedup_config
from .io import read_records, sha256_file
from .keys import group_ids
from .normalize import mask_numbers_expr
from .pipeline import BY_KEY, GLOBAL, MAP, Stage, StageResult, result
from .progress import Steps
from .rules import Rules, load_rules
from .verify import STATUSES, verify

SCHEMA = "mathdata.audit/1"
EXAMPLES = 8


STEPS = ["read", "classify", "verify", "deduplicate", "summarise"]


def _classify(df: pl.DataFrame, rules: Rules) -> StageResult:
    return result("classify", classify(df, rules))


def _verify(df: pl.DataFrame, rules: Rules, workers: int) -> StageResult:
    return result("verify", verify(df, rules, workers=workers))


def _deduplicate(df: pl.DataFrame, cfg: DedupConfig) -> StageResult:
    """Mark (never drop) exact and near duplicates; verified records are the kept copies. `info` has the
    near-dup work counts. Groups are numbered by the input position `_in`, so shards agree."""
    work: dict = {}
    df = df.with_columns(_priority=pl.when(pl.col("status") == "verified").then(0).otherwise(1))
    df = find_duplicates(df, cfg, priority="_priority", stats=work, order="_in").drop("_priority")
    return result("deduplicate", df, info=work)


def _summarise(df: pl.DataFrame, category_order: tuple[str, ...]) -> StageResult:
    """The stats dict (`summarise`) as the stage's info; every row is kept."""
    return result("summarise", df, info=summarise(df, category_order))


def audit_stages(rules: Rules, cfg: DedupConfig, workers: int = 2) -> list[Stage]:
    """classify, verify, deduplicate (marks only), summarise (the stats dict, as the stage's info)."""
    return [
        Stage("classify", partial(_classify, rules=rules), MAP, needs=("problem",)),
        Stage("verify", partial(_verify, rules=rules, workers=workers), MAP, needs=("norm", "template", "solution")),
        Stage("deduplicate", partial(_deduplicate, cfg=cfg), BY_KEY, needs=("_in", "norm", "status"),
              key=blocking_key_expr(pl.col("norm"))),
        Stage("summarise", partial(_summarise, category_order=tuple(rules.categories)), GLOBAL,
              needs=("exact_dup", "near_dup")),
    ]


def audit(paths, problem_field=None, solution_field=None, skip_bad=False, rules_dir=None,
          quiet=False, workers: int = 2, no_header: bool = False, engine: str = "local",
          ray_address: str | None = None) -> dict:
    from .build import runner   # the runner for --engine (local or ray)
    run = runner(engine, ray_address)
    steps = Steps(STEPS, quiet=quiet)
    rules = load_rules(rules_dir)
    cfg = load_dedup_config(rules_dir)
    with steps:
        with steps.step("read"):
            loaded = read_records(paths, problem_field, solution_field, skip_bad, no_header=no_header)
            df = loaded.frame.with_row_index("_in")
            counts = dict(df.group_by("source").len().iter_rows())
        res = run(audit_stages(rules, cfg, workers), df, steps)
    del df
    stats = res.info["summarise"]
    work = res.info.get("deduplicate", {})
    stats.update({
        "bad_lines": loaded.bad_lines,
        "bad_examples": loaded.bad_examples,
        "inputs": [{"path": str(p), "sha256": loaded.sha256.get(str(p)) or sha256_file(p), "fields": loaded.fields.get(str(p)),
                    "records": int(counts.get(str(p), 0))} for p in map(Path, paths)],
        "dedup_config": cfg.to_dict(),
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
    # per distinct normalised text (keys.py): its category, wording family and number of records
    norms = group_ids(df, "norm")
    uniq = norms.firsts(df.select("norm", "category")).with_columns(
        family=mask_numbers_expr(pl.col("norm")), count=pl.Series(np.bincount(norms.ids), dtype=pl.UInt32))
    fams = group_ids(uniq, ["category", "family"])
    families = fams.firsts(uniq.select("category", "family")).with_columns(
        count=pl.Series(np.bincount(fams.ids, weights=uniq["count"].to_numpy()).astype(np.uint32)))
    families_of = dict(families.group_by("category").len().iter_rows())
    df = df.with_columns(chars=pl.col("problem").str.len_chars())
    per = (df.group_by("category").agg(
        count=pl.len(),
        unique=(~pl.col("exact_dup")).sum(),
        exact_duplicates=pl.col("exact_dup").sum(),
        near_duplicates=pl.col("near_dup").sum(),
        median_chars=pl.col("chars").median(),
        **{s: (pl.col("status") == s).sum() for s in STATUSES},
    ))
    by_name = {r["category"]: {**r, "families": families_of.get(r["category"], 0)} for r in per.to_dicts()}
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
    copies = uniq["count"].to_numpy()
    exact_clusters = (pl.DataFrame({"exact_group": df["exact_group"].gather(norms.first), "copies": uniq["count"]})
                      .with_columns(problem=df["problem"].gather(norms.first), category=uniq["category"])
                      .filter(pl.Series(copies > 1))
                      .sort(["copies", "exact_group"], descending=[True, False]).head(10))
    near = df.filter(~pl.col("exact_dup"))
    in_cluster = np.bincount(near["near_group"].to_numpy())[near["near_group"].to_numpy()] > 1
    near_clusters = (near.filter(pl.Series(in_cluster))
                     .group_by("near_group").agg(pl.col("problem"), pl.col("category").first(), size=pl.len())
                     .sort(["size", "near_group"], descending=[True, False]).head(10))
    top_families = families.sort(["count", "family"], descending=[True, False]).head(10)
    # the same problem labelled with different solutions
    pairs = group_ids(df, ["norm", "solution"])   # groups of (problem, solution): more than one per problem = a conflict
    conflicts = int((np.bincount(norms.ids[pairs.first], minlength=norms.count) > 1).sum())
    reasons = (df.group_by("status", "reason").agg(n=pl.len()).sort("status", "reason").to_dicts())
    return {
        "schema": SCHEMA,
        "tool_version": __version__,
        "records": df.height,
        "unique": int((~df["exact_dup"]).sum()),
        "exact_duplicates": int(df["exact_dup"].sum()),
        "near_duplicates": int(df["near_dup"].sum()),
        "kept": int((~df["exact_dup"] & ~df["near_dup"]).sum()),
        "families": group_ids(uniq, "family").count,
        "median_chars": float(df["chars"].median() or 0),
        "conflicting_solutions": conflicts,
        "status": {s: int((df["status"] == s).sum()) for s in STATUSES},
        "reasons": {s: {r["reason"]: r["n"] for r in reasons if r["status"] == s} for s in STATUSES},
        "categories": categories,
        "top_exact_clusters": exact_clusters.select("problem", "category", "copies").to_dicts(),
        "top_near_clusters": [{"category": r["category"], "size": r["size"], "problems": r["problem"][:5]}
                              for r in near_clusters.to_dicts()],
        "top_families": top_families.to_dicts(),
        "examples": {"wrong": _examples(df, "wrong"), "implausible": _examples(df, "implausible")},
    }
