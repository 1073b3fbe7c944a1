"""`mathdata build`: raw data -> a training set that meets per-category quotas.

Stages (each a pure function over a polars frame returning kept rows, dropped rows with a fixed
`drop_reason`, and mergeable `StageStats`):

    load -> normalise -> english -> answers -> exact_dedup -> near_dedup -> decontaminate -> quota
         -> top_up -> style -> canonical -> shuffle -> write

Drop reasons: english; wrong, implausible, unverifiable (a template record whose answer is undefined);
exact_duplicate, near_duplicate; eval_exact, eval_ngram; no_quota, over_quota. Every input record is
either in train.jsonl or in dropped.jsonl with its reason.

Canonical training text (canonical.py, recorded as `canonical` in the manifest): every kept record is
written in one form -- a template record re-rendered in its template's wording with canonical numbers,
free text with full-width digits/letters made ASCII, whitespace collapsed and Chinese punctuation kept.
Among exact copies the kept one is a verified copy whose problem is already canonical, if there is one.

Outputs (written into a temporary folder beside OUTDIR, then renamed into place, so an interrupted
build leaves no complete-looking output): train.jsonl, train_conversations.json, dropped.jsonl,
manifest.json. Which folders may be replaced, the lock and stale clean-up: outputs.py. Same inputs, rules, quota file, settings and seed => byte-identical outputs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import polars as pl

from . import __version__
from .classify import classify
from .decontam import NGRAM, OVERLAP, EvalIndex, decontaminate, load_eval_sets
from .dedup import find_duplicates, load_dedup_config
from .errors import MathDataError
from .io import read_records, sha256_file
from .canonical import canonical_frame
from .normalize import is_canonical_expr, normalize_series
from .outputs import BuildFolder
from .progress import Steps
from .prompts import PromptSpec, load_prompts
from .quota import PlanRow, QuotaTable, load_quotas, make_plan, sample, shortfall_error, top_up
from .rules import Rules, load_rules
from .synth import STYLES, SynthSettings, record_id, rewrite_solution
from .synth.answer import check_round
from .verify import verify

SCHEMA = "mathdata.build/1"
OUTPUT_FILES = ("train.jsonl", "train_conversations.json", "dropped.jsonl")
STAGE_NAMES = ["load", "normalise", "english", "answers", "exact_dedup", "near_dedup", "decontaminate",
               "quota", "top_up", "style", "canonical", "shuffle", "write"]
RULE_FILES = ("templates.toml", "categories.toml", "prompts.toml", "dedup.toml", "numerals.toml", "units.toml")
DROPPED_COLUMNS = ["source", "line", "id", "category", "problem", "solution", "reason", "detail"]


# --- stage plumbing -----------------------------------------------------------------------------------

@dataclass
class StageStats:
    """Records in, out, dropped by reason, added (top-up). Mergeable: shards of one stage add up."""
    name: str
    records_in: int = 0
    records_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    added: int = 0

    def __add__(self, other: "StageStats") -> "StageStats":
        if other.name != self.name:
            raise ValueError(f"cannot merge stage stats {self.name!r} and {other.name!r}")
        reasons = dict(self.dropped)
        for k, v in other.dropped.items():
            reasons[k] = reasons.get(k, 0) + v
        return StageStats(self.name, self.records_in + other.records_in, self.records_out + other.records_out,
                          dict(sorted(reasons.items())), self.added + other.added)

    def to_dict(self) -> dict:
        return {"stage": self.name, "in": self.records_in, "out": self.records_out,
                "dropped": dict(sorted(self.dropped.items())), "added": self.added}


@dataclass
class StageResult:
    kept: pl.DataFrame
    dropped: pl.DataFrame      # the removed rows, with `drop_reason` (and `drop_detail` when known)
    stats: StageStats


def _result(name: str, kept: pl.DataFrame, dropped: pl.DataFrame, added: int = 0) -> StageResult:
    counts = {}
    if dropped.height:
        counts = {r: n for r, n in dropped.group_by("drop_reason").len().sort("drop_reason").iter_rows()}
    return StageResult(kept, dropped, StageStats(name, kept.height + dropped.height - added, kept.height, counts, added))


def _split(df: pl.DataFrame, drop: pl.Expr, reason: pl.Expr | str, name: str,
           detail: pl.Expr | None = None) -> StageResult:
    reason = pl.lit(reason) if isinstance(reason, str) else reason
    flagged = df.with_columns(_drop=drop.fill_null(False))
    dropped = flagged.filter(pl.col("_drop")).drop("_drop").with_columns(drop_reason=reason)
    if detail is not None:
        dropped = dropped.with_columns(drop_detail=detail)
    return _result(name, flagged.filter(~pl.col("_drop")).drop("_drop"), dropped)


# --- the stages ---------------------------------------------------------------------------------------

def stage_normalise(df: pl.DataFrame, rules: Rules) -> StageResult:
    """Add norm, template, category (classify) and id (hash of the normalised problem)."""
    df = classify(df, rules)
    uniq = df.select(pl.col("norm").unique(maintain_order=True))
    uniq = uniq.with_columns(id=pl.Series([record_id(n) for n in uniq["norm"].to_list()], dtype=pl.String))
    df = df.join(uniq, on="norm", how="left", maintain_order="left")
    return _result("normalise", df, df.head(0).with_columns(drop_reason=pl.lit("", dtype=pl.String)))


def stage_english(df: pl.DataFrame, keep_english: bool) -> StageResult:
    return _split(df, pl.lit(not keep_english) & (pl.col("category") == "english"), "english", "english")


def stage_answers(df: pl.DataFrame, rules: Rules, keep_wrong: bool = False, keep_implausible: bool = False,
                  workers: int = 1) -> StageResult:
    """Verify template records; drop wrong, implausible and undefined answers (unless kept)."""
    df = verify(df, rules, workers=workers)
    status = pl.col("status")
    drop = (((status == "wrong") & pl.lit(not keep_wrong))
            | ((status == "implausible") & pl.lit(not keep_implausible))
            | ((status == "unverifiable") & pl.col("template").is_not_null()))
    return _split(df, drop, status, "answers", detail=pl.col("reason"))


def mark_duplicates(df: pl.DataFrame, rules_dir=None) -> pl.DataFrame:
    """Mark exact and near duplicates. Kept first: verified records, then (among those) records whose
    problem is already in canonical form, then input order."""
    cfg = load_dedup_config(rules_dir)
    # one vectorised pass over the problems (the solutions of exact copies are rewritten anyway)
    canonical = is_canonical_expr(pl.col("problem")) if "problem" in df.columns else pl.lit(True)
    df = df.with_columns(_priority=pl.when(pl.col("status") == "verified").then(0).otherwise(2)
                         + pl.when(canonical).then(0).otherwise(1))
    return find_duplicates(df, cfg, priority="_priority").drop("_priority")


def stage_exact_dedup(df: pl.DataFrame) -> StageResult:
    """Needs `exact_dup` (mark_duplicates). A copy's detail is its kept record's id (the same id)."""
    return _split(df, pl.col("exact_dup"), "exact_duplicate", "exact_dedup", detail=pl.concat_str(pl.lit("of "), pl.col("id")))


def stage_near_dedup(df: pl.DataFrame) -> StageResult:
    """Needs `near_dup`/`near_group` (mark_duplicates); detail names the kept record's id."""
    kept_id = df.filter(~pl.col("near_dup")).group_by("near_group").agg(_kept=pl.col("id").first())
    df = df.join(kept_id, on="near_group", how="left", maintain_order="left")
    res = _split(df, pl.col("near_dup"), "near_duplicate", "near_dedup", detail=pl.concat_str(pl.lit("of "), pl.col("_kept")))
    return StageResult(res.kept.drop("_kept"), res.dropped.drop("_kept"), res.stats)


def stage_decontaminate(df: pl.DataFrame, index: EvalIndex | None) -> StageResult:
    if index is None or not len(index):
        return _result("decontaminate", df, df.head(0).with_columns(drop_reason=pl.lit("", dtype=pl.String)))
    kept, dropped = decontaminate(df, index)
    return _result("decontaminate", kept, dropped)


def stage_quota(df: pl.DataFrame, table: QuotaTable, seed: int) -> StageResult:
    kept, dropped = sample(df, table, seed)
    return _result("quota", kept, dropped)


def stage_style(df: pl.DataFrame, rules: Rules, style: str | None, round_to: int | None) -> StageResult:
    """Rewrite the solutions of template records in `style` (plain: the real wording) with `round_to`."""
    if style is None:
        return _result("style", df, df.head(0).with_columns(drop_reason=pl.lit("", dtype=pl.String)))
    templates = {t.name: t for t in rules.templates}
    solutions = [rewrite_solution(templates[t], n, style, round_to) or s if t is not None else s
                 for t, n, s in df.select("template", "norm", "solution").iter_rows()]
    df = df.with_columns(solution=pl.Series(solutions, dtype=pl.String))
    return _result("style", df, df.head(0).with_columns(drop_reason=pl.lit("", dtype=pl.String)))


def stage_canonical(df: pl.DataFrame, rules: Rules) -> tuple[StageResult, dict]:
    """Write every kept record's problem and solution in canonical form (canonical.py); returns the
    stage result and the manifest's `canonical` entry (scheme and how many texts were rewritten)."""
    df, info = canonical_frame(df, rules)
    return _result("canonical", df, df.head(0).with_columns(drop_reason=pl.lit("", dtype=pl.String))), info


def shuffle(df: pl.DataFrame, seed: int) -> pl.DataFrame:
    """A seeded order that depends only on the records' ids, not on the input order."""
    prefix = f"shuffle:{seed}:".encode()
    keys = [hashlib.blake2b(prefix + i.encode(), digest_size=8).digest() for i in df["id"].to_list()]
    return df.with_columns(_k=pl.Series(keys, dtype=pl.Binary)).sort("_k").drop("_k")


# --- outputs ------------------------------------------------------------------------------------------

def write_outputs(folder: Path, train: pl.DataFrame, dropped: pl.DataFrame, spec: PromptSpec) -> dict:
    """Write the three data files; returns {name: {"sha256", "records"}}."""
    train.select("id", "category", "problem", "solution").write_ndjson(folder / "train.jsonl")
    convs = [json.dumps({"id": i, "conversations": [{"from": "human", "value": spec.human_turn(p)},
                                                     {"from": "gpt", "value": s}]}, ensure_ascii=False)
             for i, p, s in train.select("id", "problem", "solution").iter_rows()]
    (folder / "train_conversations.json").write_text("[\n" + ",\n".join(convs) + "\n]\n" if convs else "[]\n",
                                                     encoding="utf-8")
    dropped.select(DROPPED_COLUMNS).write_ndjson(folder / "dropped.jsonl")
    counts = {"train.jsonl": train.height, "train_conversations.json": train.height, "dropped.jsonl": dropped.height}
    return {name: {"sha256": sha256_file(folder / name), "records": counts[name]} for name in OUTPUT_FILES}


# --- the build ----------------------------------------------------------------------------------------

@dataclass
class BuildOptions:
    seed: int = 0
    top_up: bool = True
    excludes: tuple = ()
    keep_english: bool = False
    keep_wrong: bool = False
    keep_implausible: bool = False
    style: str | None = None
    round_to: int | None = None
    prompt: str = "raw"
    rules_dir: Path | str | None = None
    ngram: int = NGRAM
    overlap: float = OVERLAP
    workers: int = 2
    skip_bad: bool = False   # skip malformed input records (counted as the load stage's bad_record)
    problem_field: str | None = None   # as audit's --problem-field / --solution-field / --no-header
    solution_field: str | None = None
    no_header: bool = False

    def check(self) -> "BuildOptions":
        """A checked copy; --round alone means --style plain (the real wording, rounded answers)."""
        opts = replace(self, style="plain") if self.round_to is not None and self.style is None else replace(self)
        if opts.style is not None and opts.style not in STYLES:
            raise MathDataError(f"--style {opts.style!r}: unknown", f"valid: {', '.join(STYLES)}")
        check_round(opts.round_to)
        return opts

    def to_dict(self) -> dict:
        return {"top_up": self.top_up, "keep_english": self.keep_english, "keep_wrong": self.keep_wrong,
                "keep_implausible": self.keep_implausible, "style": self.style, "round": self.round_to,
                "prompt": self.prompt, "decontam": {"ngram": self.ngram, "overlap": self.overlap},
                "skip_bad": self.skip_bad, **self._reading()}

    def _reading(self) -> dict:
        # only when set, so manifests of builds that read with the defaults stay as they were
        read = {"problem_field": self.problem_field, "solution_field": self.solution_field,
                "no_header": self.no_header or None}
        return {"reading": {k: v for k, v in read.items() if v is not None}} if any(read.values()) else {}


@dataclass
class BuildResult:
    out_dir: Path
    manifest: dict
    plan: list[PlanRow]
    stages: list[StageStats]
    timings: dict

    def stats(self) -> dict:
        """Everything a report needs (the manifest plus timings)."""
        return {**self.manifest, "out_dir": str(self.out_dir), "timings_s": self.timings}


def _dropped_frame(parts: list[pl.DataFrame]) -> pl.DataFrame:
    frames = []
    for d in parts:
        if d.height == 0:
            continue
        if "drop_detail" not in d.columns:
            d = d.with_columns(drop_detail=pl.lit(None, dtype=pl.String))
        frames.append(d.select("_in", "source", "line", "id", "category", "problem", "solution",
                               reason=pl.col("drop_reason"), detail=pl.col("drop_detail").cast(pl.String)))
    if not frames:
        return pl.DataFrame(schema={"_in": pl.UInt32, **{c: pl.String for c in DROPPED_COLUMNS}}).with_columns(pl.col("line").cast(pl.Int64))
    return pl.concat(frames, how="vertical_relaxed").sort("_in").drop("_in")


def build(inputs: list[Path | str], out_dir: Path | str, quota_path: Path | str, options: BuildOptions = BuildOptions(),
          quiet: bool = True, on_plan: Callable[[list[PlanRow]], None] | None = None) -> BuildResult:
    """Run every stage and write OUTDIR. `on_plan` sees the plan table before anything is written
    (also when the build then stops for a shortfall)."""
    opts = options.check()
    out_dir = Path(out_dir)
    if not inputs:
        raise MathDataError("no input files", "pass one or more data files, e.g. train.json")
    rules = load_rules(opts.rules_dir)
    table = load_quotas(quota_path, rules)
    prompts = load_prompts(rules.directory / "prompts.toml")
    if opts.prompt not in prompts:
        raise MathDataError(f"--prompt {opts.prompt!r}: unknown", f"valid: {', '.join(prompts)} (rules/prompts.toml)")
    spec = prompts[opts.prompt]
    load_dedup_config(opts.rules_dir)
    index = load_eval_sets(list(opts.excludes), opts.ngram, opts.overlap) if opts.excludes else None
    folder = BuildFolder(out_dir, [*inputs, quota_path, *opts.excludes, rules.directory], OUTPUT_FILES)

    stages: list[StageStats] = []
    dropped: list[pl.DataFrame] = []

    def run(res: StageResult) -> pl.DataFrame:
        stages.append(res.stats)
        if res.dropped.height:
            dropped.append(res.dropped)
        return res.kept

    steps = Steps(STAGE_NAMES, quiet=quiet)
    with steps, folder.locked():
        with steps.step("load"):
            loaded = read_records(list(inputs), opts.problem_field, opts.solution_field, skip_bad=opts.skip_bad,
                                  no_header=opts.no_header)
            df = loaded.frame.with_row_index("_in")
            stages.append(StageStats("load", df.height + loaded.bad_lines, df.height,
                                     {"bad_record": loaded.bad_lines} if loaded.bad_lines else {}))
        with steps.step("normalise"):
            df = run(stage_normalise(df, rules))
        with steps.step("english"):
            df = run(stage_english(df, opts.keep_english))
        with steps.step("answers"):
            df = run(stage_answers(df, rules, opts.keep_wrong, opts.keep_implausible, opts.workers))
        with steps.step("exact_dedup"):
            df = mark_duplicates(df, opts.rules_dir)
            df = run(stage_exact_dedup(df))
        with steps.step("near_dedup"):
            df = run(stage_near_dedup(df))
        with steps.step("decontaminate"):
            df = run(stage_decontaminate(df, index))
        available = dict(df.group_by("category").len().iter_rows())
        with steps.step("quota"):
            df = run(stage_quota(df, table, opts.seed))
        plan = make_plan(table, available, rules)
        if on_plan:
            on_plan(plan)
        err = shortfall_error(plan, opts.top_up)
        if err:
            raise err
        with steps.step("top_up"):
            df = _top_up(df, loaded.frame, plan, rules, opts, index, stages)
        with steps.step("style"):
            df = run(stage_style(df, rules, opts.style, opts.round_to))
        with steps.step("canonical"):
            res, canonical_info = stage_canonical(df, rules)
            df = run(res)
        with steps.step("shuffle"):
            df = shuffle(df, opts.seed)
            stages.append(StageStats("shuffle", df.height, df.height))
        with steps.step("write"):
            drops = _dropped_frame(dropped)
            manifest = _manifest(inputs, loaded, rules, table, quota_path, opts, spec, index, plan, stages, df,
                                 canonical_info)
            with folder.staging() as tmp:
                manifest["outputs"] = write_outputs(tmp, df, drops, spec)
                (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                                   encoding="utf-8")
    return BuildResult(out_dir, manifest, plan, stages, steps.timings)


def _top_up(df: pl.DataFrame, raw: pl.DataFrame, plan: list[PlanRow], rules: Rules, opts: BuildOptions,
            index: EvalIndex | None, stages: list[StageStats]) -> pl.DataFrame:
    """Fill each quota's shortfall from the generator; the made records are checked against the kept
    ones with the same duplicate finder, and replaced if flagged (they never are in practice)."""
    before = df.height
    if not any(r.top_up > 0 for r in plan):
        stages.append(StageStats("top_up", before, before))
        return df
    # never repeat any input problem (kept or dropped) nor one made in an earlier round
    exclude = set(normalize_series(raw["problem"]).to_list())
    check = index.check_norms if index is not None and len(index) else None
    settings = SynthSettings(split="train")
    pending = [PlanRow(r.quota, r.categories, r.wanted, r.available, r.taken, r.top_up, r.generatable) for r in plan]
    made_frames, generated = [], {r.quota: 0 for r in plan}
    for _ in range(5):
        made = top_up(pending, rules, opts.seed, exclude, check, settings)
        if made.height == 0:
            break
        made = made.with_columns(source=pl.lit("generated"), line=pl.lit(None, dtype=pl.Int64),
                                 status=pl.lit("verified"), reason=pl.lit("verified"))
        combined = pl.concat([df.select("id", "norm", "template", "category", "status"),
                              *[m.select("id", "norm", "template", "category", "status") for m in made_frames],
                              made.select("id", "norm", "template", "category", "status")], how="vertical_relaxed")
        marked = mark_duplicates(combined, opts.rules_dir).tail(made.height)
        bad = marked["exact_dup"] | marked["near_dup"]
        made = made.filter(~bad)
        made_frames.append(made)
        quota_of = {c: r.quota for r in plan for c in r.categories}
        for cat, n in made.group_by("category").len().iter_rows():
            generated[quota_of[cat]] += n
        pending = [PlanRow(r.quota, r.categories, r.wanted, r.available, r.taken, r.top_up - generated[r.quota],
                           r.generatable) for r in plan]
        if all(r.top_up <= 0 for r in pending):
            break
    for r in plan:
        r.generated = generated[r.quota]
    if any(r.top_up > 0 for r in pending):
        raise MathDataError("top-up could not make enough distinct, uncontaminated problems",
                            "lower the quotas or widen the templates' number ranges")
    out = pl.concat([df, *made_frames], how="diagonal_relaxed")
    stages.append(StageStats("top_up", before, out.height, {}, out.height - before))
    return out


def _file_hash(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def _manifest(inputs, loaded, rules: Rules, table: QuotaTable, quota_path, opts: BuildOptions, spec: PromptSpec,
              index: EvalIndex | None, plan: list[PlanRow], stages: list[StageStats], df: pl.DataFrame,
              canonical: dict) -> dict:
    counts = df.group_by("category", (pl.col("source") == "generated").alias("gen")).len()
    per: dict[str, dict] = {}
    for cat, gen, n in counts.iter_rows():
        entry = per.setdefault(cat, {"real": 0, "generated": 0, "total": 0})
        entry["generated" if gen else "real"] += n
        entry["total"] += n
    order = [c for c in rules.categories if c in per] + sorted(set(per) - set(rules.categories))
    frame = loaded.frame
    return {
        "schema": SCHEMA,
        "tool": "mathdata",
        "tool_version": __version__,
        "seed": opts.seed,
        "inputs": [{"path": str(p), "sha256": loaded.sha256.get(str(p)) or sha256_file(p),
                    "records": int(frame.filter(pl.col("source") == str(p)).height)} for p in map(Path, inputs)],
        "excludes": index.settings()["sources"] if index is not None else [],
        "rules": {"dir": str(rules.directory),
                  "files": {name: _file_hash(Path(rules.directory) / name) for name in RULE_FILES}},
        "quota": {**table.to_dict(), "sha256": table.sha256},
        "settings": opts.to_dict(),
        "dedup_config": load_dedup_config(opts.rules_dir).to_dict() | {
            "distinguishing_words": list(load_dedup_config(opts.rules_dir).distinguishing_words)},
        "prompt": spec.to_dict(),
        "plan": [r.to_dict() for r in plan],
        "stages": [s.to_dict() for s in stages],
        "canonical": canonical,
        "records": df.height,
        "categories": {c: per[c] for c in order},
    }
