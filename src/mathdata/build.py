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
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable

import polars as pl

from . import __version__
from .classify import classify
from .decontam import NGRAM, OVERLAP, EvalIndex, decontaminate, load_eval_sets
from .dedup import DedupConfig, blocking_key_expr, find_duplicates, load_dedup_config
from .dedup.exact import mark_exact, order_columns
from .dedup.minhash import near_clusters
from .errors import MathDataError
from .io import read_records, sha256_file
from .keys import group_ids
from .canonical import canonical_frame
from .normalize import is_canonical_expr
from .outputs import BuildFolder
from .pipeline import BY_KEY, GLOBAL, MAP, Stage, StageResult, StageStats, result, run_local, split
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
# what the build reads of the dropped rows: dropped.jsonl's columns (and `_in`, their order) and the
# normalised problem (top-up's exclusion)
DROPPED_READ = ("_in", "source", "line", "id", "category", "problem", "solution", "norm")
ENGINES = ("local", "ray")
__all__ = ["BuildOptions", "BuildResult", "StageResult", "StageStats", "build", "clean_stages", "fill_stages",
           "quota_stage"]


# --- the stages ---------------------------------------------------------------------------------------
# Each is a pure function over a polars frame returning a pipeline.StageResult; `clean_stages`,
# `quota_stage` and `fill_stages` declare them (kind, needed columns, drop reasons) for a runner.

def stage_classify(df: pl.DataFrame, rules: Rules) -> StageResult:
    """Add norm, template, category (classify) and id (hash of the normalised problem). Its stage
    name is `normalise`, as the manifest has always called it."""
    df = classify(df, rules)
    norms = group_ids(df, "norm")
    ids = pl.Series("id", [record_id(n) for n in df["norm"].gather(norms.first).to_list()], dtype=pl.String)
    return result("normalise", df.with_columns(norms.spread(ids)))


def stage_english(df: pl.DataFrame, keep_english: bool) -> StageResult:
    return split(df, pl.lit(not keep_english) & (pl.col("category") == "english"), "english", "english")


def stage_answers(df: pl.DataFrame, rules: Rules, keep_wrong: bool = False, keep_implausible: bool = False,
                  workers: int = 1) -> StageResult:
    """Verify template records; drop wrong, implausible and undefined answers (unless kept). The reason
    is the record's status (verify.STATUSES), the detail its verification reason."""
    df = verify(df, rules, workers=workers)
    status = pl.col("status")
    drop = (((status == "wrong") & pl.lit(not keep_wrong))
            | ((status == "implausible") & pl.lit(not keep_implausible))
            | ((status == "unverifiable") & pl.col("template").is_not_null()))
    return split(df, drop, status, "answers", detail=pl.col("reason"))


PRIORITY = "dedup_priority"


def dedup_priority(df: pl.DataFrame) -> pl.Expr:
    """Which copy a dedup keeps (lowest first): verified records, then (among those) records whose
    problem is already in canonical form, then input order."""
    canonical = is_canonical_expr(pl.col("problem")) if "problem" in df.columns else pl.lit(True)
    return (pl.when(pl.col("status") == "verified").then(0).otherwise(2)
            + pl.when(canonical).then(0).otherwise(1))


def mark_duplicates(df: pl.DataFrame, cfg: DedupConfig) -> pl.DataFrame:
    """Mark exact and near duplicates in one pass (dedup.find_duplicates) with the build's priority."""
    return find_duplicates(df.with_columns(_priority=dedup_priority(df)), cfg, priority="_priority").drop("_priority")


def stage_exact_dedup(df: pl.DataFrame) -> StageResult:
    """Drop exact copies: the same normalised problem. The kept copy has the lowest `dedup_priority`
    (kept as a column for near_dedup). A copy's detail is `of <id>` with the kept record's id, which is
    its own id too, since an id hashes the normalised problem."""
    marked = mark_exact(df.with_row_index("_row").with_columns(dedup_priority(df).alias(PRIORITY)), PRIORITY)
    res = split(marked, pl.col("exact_dup"), "exact_duplicate", "exact_dedup",
                detail=pl.concat_str(pl.lit("of "), pl.col("id")))
    helper = ["_row", "exact_group", "exact_dup"]
    return result("exact_dedup", res.kept.drop(helper), res.dropped.drop(helper))


def stage_near_dedup(df: pl.DataFrame, cfg: DedupConfig) -> StageResult:
    """Drop number-aware near duplicates among exact-unique records (dedup.near_clusters); the detail
    names the kept record's id. Needs `dedup_priority` (exact_dedup)."""
    reps = df.select("id", "norm", "template", "solution", PRIORITY).with_row_index("_row").sort(order_columns(df, PRIORITY))
    roots, work = near_clusters(reps, cfg)
    roots = pl.Series(roots, dtype=pl.Int64)
    rows = reps["_row"]   # each rep's row in df: the results go back by position
    near = pl.repeat(False, df.height, eager=True).scatter(rows, roots != pl.int_range(reps.height, eager=True))
    kept = reps["id"].gather(roots)
    df = df.drop(PRIORITY).with_columns(_near=near, _kept=pl.repeat(None, df.height, dtype=pl.String, eager=True).scatter(rows, kept))
    res = split(df, pl.col("_near"), "near_duplicate", "near_dedup", detail=pl.concat_str(pl.lit("of "), pl.col("_kept")))
    return result("near_dedup", res.kept.drop("_near", "_kept"), res.dropped.drop("_near", "_kept"), info=work)


def stage_decontaminate(df: pl.DataFrame, index: EvalIndex | None) -> StageResult:
    if index is None or not len(index):
        return result("decontaminate", df)
    kept, dropped = decontaminate(df, index)
    return result("decontaminate", kept, dropped)


def stage_quota(df: pl.DataFrame, table: QuotaTable, seed: int) -> StageResult:
    """Keep each quota's `count` records of lowest rank hash(seed, id); `info` has the unique, clean
    records available per category (for the plan)."""
    available = dict(df.group_by("category").len().iter_rows())
    kept, dropped = sample(df, table, seed)
    return result("quota", kept, dropped, info={"available": available})


def stage_style(df: pl.DataFrame, rules: Rules, style: str | None, round_to: int | None) -> StageResult:
    """Rewrite the solutions of template records in `style` (plain: the real wording) with `round_to`."""
    if style is None:
        return result("style", df)
    templates = {t.name: t for t in rules.templates}
    solutions = [rewrite_solution(templates[t], n, style, round_to) or s if t is not None else s
                 for t, n, s in df.select("template", "norm", "solution").iter_rows()]
    return result("style", df.with_columns(solution=pl.Series(solutions, dtype=pl.String)))


def stage_canonical(df: pl.DataFrame, rules: Rules) -> StageResult:
    """Write every kept record's problem and solution in canonical form (canonical.py); `info` is the
    manifest's `canonical` entry (scheme and how many texts were rewritten)."""
    df, info = canonical_frame(df, rules)
    return result("canonical", df, info=info)


def stage_shuffle(df: pl.DataFrame, seed: int) -> StageResult:
    """A seeded order that depends only on the records' ids, not on the input order."""
    prefix = f"shuffle:{seed}:".encode()
    keys = [hashlib.blake2b(prefix + i.encode(), digest_size=8).digest() for i in df["id"].to_list()]
    return result("shuffle", df.with_columns(_k=pl.Series(keys, dtype=pl.Binary)).sort("_k").drop("_k"))


def stage_top_up(df: pl.DataFrame, plan: tuple[PlanRow, ...], exclude: frozenset[str], rules: Rules, cfg: DedupConfig,
                 seed: int, index: EvalIndex | None) -> StageResult:
    """Fill each quota's shortfall (plan rows' `top_up`) from the generator, never repeating a problem
    in `exclude` (every input problem its templates could make, normalised: `_top_up_exclude`). The
    made records are checked against the kept ones with the same duplicate finder -- on the kept
    records that share a blocking key with them, which is where a duplicate of theirs can be -- and
    replaced if flagged (they never are in practice). `info["generated"]`: records made per quota."""
    before = df.height
    generated = {r.quota: 0 for r in plan}
    if not any(r.top_up > 0 for r in plan):
        return result("top_up", df, info={"generated": generated})
    exclude = set(exclude)   # grows with what is made; the caller's set is not changed
    check = index.check_norms if index is not None and len(index) else None
    settings = SynthSettings(split="train")
    pending = [replace(r) for r in plan]
    quota_of = {c: r.quota for r in plan for c in r.categories}
    cols = ["id", "norm", "template", "category", "status"]
    key = blocking_key_expr(pl.col("norm"))
    kept = df.select(cols).with_columns(_key=key)
    made_frames = []
    # a round replaces what the duplicate check removed; five is ample: it never removes any in practice
    for _ in range(5):
        made = top_up(pending, rules, seed, exclude, check, settings)
        if made.height == 0:
            break
        made = made.with_columns(source=pl.lit("generated"), line=pl.lit(None, dtype=pl.Int64),
                                 status=pl.lit("verified"), reason=pl.lit("verified"))
        near = kept.join(made.select(_key=key).unique(), on="_key", how="semi", maintain_order="left").drop("_key")
        combined = pl.concat([near, *[m.select(cols) for m in made_frames], made.select(cols)], how="vertical_relaxed")
        marked = mark_duplicates(combined, cfg).tail(made.height)
        made = made.filter(~(marked["exact_dup"] | marked["near_dup"]))
        made_frames.append(made)
        for cat, n in made.group_by("category").len().iter_rows():
            generated[quota_of[cat]] += n
        pending = [replace(r, top_up=r.top_up - generated[r.quota], generated=0) for r in plan]
        if all(r.top_up <= 0 for r in pending):
            break
    if any(r.top_up > 0 for r in pending):
        raise MathDataError("top-up could not make enough distinct, uncontaminated problems",
                            "lower the quotas or widen the templates' number ranges")
    out = pl.concat([df, *made_frames], how="diagonal_relaxed")
    return result("top_up", out, added=out.height - before, info={"generated": generated})


def clean_stages(rules: Rules, opts: "BuildOptions", cfg: DedupConfig, index: EvalIndex | None) -> list[Stage]:
    """The stages before the quota: normalise, english, answers, exact_dedup, near_dedup, decontaminate."""
    return [
        Stage("normalise", partial(stage_classify, rules=rules), MAP, needs=("problem",)),
        Stage("english", partial(stage_english, keep_english=opts.keep_english), MAP, needs=("category",),
              reasons=("english",)),
        Stage("answers", partial(stage_answers, rules=rules, keep_wrong=opts.keep_wrong,
                                 keep_implausible=opts.keep_implausible, workers=opts.workers), MAP,
              needs=("norm", "template", "solution"), reasons=None),
        Stage("exact_dedup", stage_exact_dedup, BY_KEY, needs=("norm", "id", "status"), reasons=("exact_duplicate",),
              key="norm"),
        Stage("near_dedup", partial(stage_near_dedup, cfg=cfg), BY_KEY, needs=("norm", "id", PRIORITY),
              reasons=("near_duplicate",), key=blocking_key_expr(pl.col("norm"))),
        Stage("decontaminate", partial(stage_decontaminate, index=index), MAP, needs=("norm",),
              reasons=("eval_exact", "eval_ngram")),
    ]


def quota_stage(table: QuotaTable, seed: int) -> Stage:
    return Stage("quota", partial(stage_quota, table=table, seed=seed), GLOBAL, needs=("id", "category"),
                 reasons=("no_quota", "over_quota"))


def fill_stages(plan: list[PlanRow], exclude: frozenset[str], rules: Rules, opts: "BuildOptions", cfg: DedupConfig,
                index: EvalIndex | None) -> list[Stage]:
    """The stages after the quota: top_up, style, canonical, shuffle."""
    return [
        Stage("top_up", partial(stage_top_up, plan=tuple(plan), exclude=exclude, rules=rules, cfg=cfg, seed=opts.seed,
                                index=index), GLOBAL, needs=("norm", "category")),
        Stage("style", partial(stage_style, rules=rules, style=opts.style, round_to=opts.round_to), MAP,
              needs=("template", "norm", "solution")),
        Stage("canonical", partial(stage_canonical, rules=rules), MAP, needs=("template", "norm", "problem", "solution")),
        Stage("shuffle", partial(stage_shuffle, seed=opts.seed), GLOBAL, needs=("id",)),
    ]


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

@dataclass(frozen=True)
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
    engine: str = "local"    # the runner (ENGINES); not in the manifest: every engine writes the same outputs
    ray_address: str | None = None

    def check(self) -> "BuildOptions":
        """A checked copy; --round alone means --style plain (the real wording, rounded answers)."""
        opts = replace(self, style="plain") if self.round_to is not None and self.style is None else replace(self)
        if opts.style is not None and opts.style not in STYLES:
            raise MathDataError(f"--style {opts.style!r}: unknown", f"valid: {', '.join(STYLES)}")
        check_round(opts.round_to)
        if opts.engine not in ENGINES:
            raise MathDataError(f"--engine {opts.engine!r}: unknown", f"valid: {', '.join(ENGINES)}")
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
    (also when the build then stops for a shortfall). `options.engine` picks the runner."""
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
    cfg = load_dedup_config(opts.rules_dir)
    index = load_eval_sets(list(opts.excludes), opts.ngram, opts.overlap) if opts.excludes else None
    folder = BuildFolder(out_dir, [*inputs, quota_path, *opts.excludes, rules.directory], OUTPUT_FILES)
    run = runner(opts.engine, opts.ray_address)

    steps = Steps(STAGE_NAMES, quiet=quiet)
    with steps, folder.locked():
        with steps.step("load"):
            loaded = read_records(list(inputs), opts.problem_field, opts.solution_field, skip_bad=opts.skip_bad,
                                  no_header=opts.no_header)
            df = loaded.frame.with_row_index("_in")
            load = StageStats("load", df.height + loaded.bad_lines, df.height,
                              {"bad_record": loaded.bad_lines} if loaded.bad_lines else {})
            inputs_block = _inputs_block(inputs, loaded)
            del loaded
        front = run([*clean_stages(rules, opts, cfg, index), quota_stage(table, opts.seed)], df, steps,
                    keep_dropped=DROPPED_READ)
        del df
        plan = make_plan(table, front.info["quota"]["available"], rules)
        if on_plan:
            on_plan(plan)
        err = shortfall_error(plan, opts.top_up)
        if err:
            raise err
        exclude = _top_up_exclude(plan, rules, front)
        back = run(fill_stages(plan, exclude, rules, opts, cfg, index), front.frame, steps, keep_dropped=DROPPED_READ)
        del exclude
        generated = back.info["top_up"]["generated"]
        plan = [replace(r, generated=generated[r.quota]) for r in plan]
        stages = [load, *front.stats, *back.stats]
        df = back.frame
        with steps.step("write"):
            drops = _dropped_frame(front.dropped + back.dropped)
            front.dropped.clear()   # (their rows live on in `drops` only)
            back.dropped.clear()
            manifest = _manifest(inputs_block, rules, table, opts, spec, index, plan, stages, df,
                                 back.info["canonical"], cfg)
            with folder.staging() as tmp:
                outputs = write_outputs(tmp, df, drops, spec)
                manifest = {**manifest, "outputs": outputs}
                (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                                   encoding="utf-8")
    return BuildResult(out_dir, manifest, plan, stages, steps.timings)


def _top_up_exclude(plan: list[PlanRow], rules: Rules, front) -> frozenset[str]:
    """The input problems (kept or dropped), normalised, that top-up must never make again: those a
    template it draws from can make, i.e. that match such a template's regex (a made problem always
    matches its own template's; the other input problems cannot collide with one)."""
    categories = {c for r in plan if r.top_up > 0 for c in r.categories}
    if not categories:
        return frozenset()
    norms = pl.concat([front.frame["norm"], *[d["norm"] for d in front.dropped]]).to_frame("norm")
    could = [pl.col("norm").str.contains(t.problem_regex) for t in rules.templates if t.category in categories]
    return frozenset(norms.filter(pl.any_horizontal(could))["norm"].unique().to_list()) if could else frozenset()


def runner(engine: str, address: str | None = None):
    """`(stages, frame, steps) -> RunResult` for `--engine local|ray`."""
    if engine == "local":
        return run_local
    if engine == "ray":
        from .ray_runner import run_ray
        return partial(run_ray, address=address)
    raise MathDataError(f"--engine {engine!r}: unknown", f"valid: {', '.join(ENGINES)}")


def _inputs_block(inputs, loaded) -> list[dict]:
    """The manifest's `inputs`: each file's path, the sha256 of the bytes read and its record count."""
    counts = dict(loaded.frame.group_by("source").len().iter_rows())
    return [{"path": str(p), "sha256": loaded.sha256.get(str(p)) or sha256_file(p), "records": int(counts.get(str(p), 0))}
            for p in map(Path, inputs)]


def _file_hash(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def _manifest(inputs: list[dict], rules: Rules, table: QuotaTable, opts: BuildOptions, spec: PromptSpec,
              index: EvalIndex | None, plan: list[PlanRow], stages: list[StageStats], df: pl.DataFrame,
              canonical: dict, cfg: DedupConfig) -> dict:
    counts = df.group_by("category", (pl.col("source") == "generated").alias("gen")).len()
    per: dict[str, dict] = {}
    for cat, gen, n in counts.iter_rows():
        entry = per.setdefault(cat, {"real": 0, "generated": 0, "total": 0})
        entry["generated" if gen else "real"] += n
        entry["total"] += n
    order = [c for c in rules.categories if c in per] + sorted(set(per) - set(rules.categories))
    return {
        "schema": SCHEMA,
        "tool": "mathdata",
        "tool_version": __version__,
        "seed": opts.seed,
        "inputs": inputs,
        "excludes": index.settings()["sources"] if index is not None else [],
        "rules": {"dir": str(rules.directory),
                  "files": {name: _file_hash(Path(rules.directory) / name) for name in RULE_FILES}},
        "quota": {**table.to_dict(), "sha256": table.sha256},
        "settings": opts.to_dict(),
        "dedup_config": cfg.to_dict(),
        "prompt": spec.to_dict(),
        "plan": [r.to_dict() for r in plan],
        "stages": [s.to_dict() for s in stages],
        "canonical": canonical,
        "records": df.height,
        "categories": {c: per[c] for c in order},
    }
