"""Per-category quotas (rules/quotas.toml): parsing, the plan table, seeded sampling, top-up.

The file's keys are documented at the top of rules/quotas.toml. A quota is a category or a group of
categories with one count. Sampling is a pure function of the records' ids and the seed: every record
of a pool gets the rank hash(seed, id) and the lowest `count` ranks are kept, so the choice does not
depend on input order. A shortfall is filled from the generator (split train, plain wording) spread
evenly over the quota's templates, never repeating a problem in `exclude` (kept, input and eval
problems) and never one that `is_contaminated` flags.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import polars as pl

from .errors import MathDataError
from .limits import Limits, default_limits, load_limits
from .rules import Rules
from .tomlfile import read_toml_hashed
from .synth import SynthSettings, TemplateGenerator, record_id

TOP_KEYS = ("total", "quotas")
GROUP_KEYS = ("categories", "count")


@dataclass(frozen=True)
class Quota:
    name: str
    categories: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class QuotaTable:
    path: str
    quotas: tuple[Quota, ...]
    total: int | None = None
    sha256: str | None = None    # of the bytes read (the file is read once)

    @property
    def count(self) -> int:
        return sum(q.count for q in self.quotas)

    def quota_of(self) -> dict[str, str]:
        """category -> quota name"""
        return {c: q.name for q in self.quotas for c in q.categories}

    def to_dict(self) -> dict:
        return {"path": self.path, "total": self.count,
                "quotas": [{"name": q.name, "categories": list(q.categories), "count": q.count} for q in self.quotas]}


def _count(value, where: str, path: Path, limits: Limits) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MathDataError(f"{path}: {where} = {value!r}: must be a whole number >= 0", f"e.g. {where} = 5000")
    if value > limits.per_quota and where != "total":
        raise MathDataError(f"{path}: {where} = {value:,}: more records than one quota may ask for",
                            f"a typo? limit: {limits.key('per_quota')}")
    return value


def load_quotas(path: Path | str, rules: Rules) -> QuotaTable:
    """Read and check a quota file; every error names the file and the key, and lists valid names."""
    path = Path(path)
    limits = load_limits(rules.directory)
    data, sha256 = read_toml_hashed(path)
    unknown = set(data) - set(TOP_KEYS)
    table = data.get("quotas")
    if not isinstance(table, dict) or not table:
        stray = f" (found {', '.join(sorted(unknown))} at the top level)" if unknown else ""
        raise MathDataError(f"{path}: no [quotas] table{stray}", "put the counts under [quotas], e.g. `equation = 25000`")
    if unknown:
        raise MathDataError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}", f"valid top-level keys: {', '.join(TOP_KEYS)}")
    valid = list(rules.categories)
    quotas, owner = [], {}
    for name, value in table.items():
        if isinstance(value, dict):
            extra = set(value) - set(GROUP_KEYS)
            if extra:
                raise MathDataError(f"{path}: quotas.{name} has unknown key(s) {', '.join(sorted(extra))}",
                                    f"valid: {', '.join(GROUP_KEYS)}")
            if "count" not in value or "categories" not in value:
                raise MathDataError(f"{path}: quotas.{name} needs `categories` and `count`",
                                    f'e.g. {name} = {{ categories = ["power", "sqrt"], count = 17000 }}')
            cats = value["categories"]
            if not isinstance(cats, list) or not cats or not all(isinstance(c, str) for c in cats):
                raise MathDataError(f"{path}: quotas.{name}.categories must be a non-empty list of names",
                                    f"valid names: {', '.join(valid)}")
            count = _count(value["count"], f"quotas.{name}.count", path, limits)
        else:
            cats, count = [name], _count(value, f"quotas.{name}", path, limits)
        for c in cats:
            if c not in valid:
                key = f"quotas.{name}" + (".categories" if isinstance(value, dict) else "")
                raise MathDataError(f"{path}: {key}: unknown category {c!r}", f"valid categories: {', '.join(valid)}")
            if c in owner:
                raise MathDataError(f"{path}: category {c!r} is in both quotas.{owner[c]} and quotas.{name}",
                                    "put each category in one quota only")
            owner[c] = name
        quotas.append(Quota(name=name, categories=tuple(dict.fromkeys(cats)), count=count))
    qt = QuotaTable(path=str(path), quotas=tuple(quotas), sha256=sha256)
    if qt.count > limits.total:
        raise MathDataError(f"{path}: the quotas add up to {qt.count:,} records, more than one build may make",
                            f"a typo? limit: {limits.key('total')}")
    if "total" in data:
        total = _count(data["total"], "total", path, limits)
        if total != qt.count:
            raise MathDataError(f"{path}: total = {total} but the quotas add up to {qt.count}",
                                "fix a count, or the total")
        qt = QuotaTable(path=qt.path, quotas=qt.quotas, total=total, sha256=sha256)
    return qt


@dataclass(frozen=True)
class PlanRow:
    quota: str
    categories: tuple[str, ...]
    wanted: int
    available: int          # unique, clean real records of these categories
    taken: int              # real records kept
    top_up: int             # records the generator must add
    generatable: bool       # some template generates one of these categories
    generated: int = 0      # set after the top-up (dataclasses.replace: a plan row is never changed)
    by_category: dict = field(default_factory=dict)   # category -> available

    def to_dict(self) -> dict:
        return {"quota": self.quota, "categories": list(self.categories), "wanted": self.wanted,
                "available": self.available, "taken": self.taken, "top_up": self.top_up,
                "generated": self.generated, "available_by_category": self.by_category}


def make_plan(table: QuotaTable, available: dict[str, int], rules: Rules) -> list[PlanRow]:
    """quota vs available real records vs what the generator must add."""
    generated = set(rules.template_categories)
    rows = []
    for q in table.quotas:
        have = sum(available.get(c, 0) for c in q.categories)
        taken = min(have, q.count)
        rows.append(PlanRow(quota=q.name, categories=q.categories, wanted=q.count, available=have, taken=taken,
                            top_up=q.count - taken, generatable=any(c in generated for c in q.categories),
                            by_category={c: available.get(c, 0) for c in q.categories}))
    return rows


def shortfall_error(plan: list[PlanRow], top_up: bool) -> MathDataError | None:
    short = [r for r in plan if r.top_up > 0]
    if not short:
        return None
    listing = ", ".join(f"{r.quota} {r.taken}/{r.wanted}" for r in short)
    if not top_up:
        return MathDataError(f"quotas not met from the real data: {listing}",
                             "pass --top-up to fill the shortfall from the generator, or lower those quotas")
    impossible = [r for r in short if not r.generatable]
    if impossible:
        return MathDataError(f"no generator for quota(s) {', '.join(r.quota for r in impossible)} "
                             f"({', '.join(c for r in impossible for c in r.categories)}), short: {listing}",
                             "lower those quotas, add data, or group them with a template category")
    return None


def _rank(seed: int, ids: list[str]) -> list[bytes]:
    prefix = f"{seed}:".encode()
    return [hashlib.blake2b(prefix + i.encode(), digest_size=8).digest() for i in ids]


def sample(df: pl.DataFrame, table: QuotaTable, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, dropped) where dropped has `drop_reason` no_quota or over_quota. `df` needs `id` and
    `category` (one row per distinct problem)."""
    quota_of = table.quota_of()
    df = df.with_columns(_quota=pl.col("category").replace_strict(quota_of, default=None))
    no_quota = df.filter(pl.col("_quota").is_null())
    df = df.filter(pl.col("_quota").is_not_null())
    df = df.with_columns(_rank=pl.Series(_rank(seed, df["id"].to_list()), dtype=pl.Binary))
    wanted = pl.col("_quota").replace_strict({q.name: q.count for q in table.quotas}, return_dtype=pl.Int64)
    df = df.with_columns(_keep=pl.col("_rank").rank(method="ordinal").over("_quota") <= wanted)
    kept = df.filter(pl.col("_keep")).drop("_quota", "_rank", "_keep")
    over = df.filter(~pl.col("_keep")).drop("_quota", "_rank", "_keep").with_columns(drop_reason=pl.lit("over_quota"))
    dropped = pl.concat([no_quota.drop("_quota").with_columns(drop_reason=pl.lit("no_quota")), over], how="diagonal_relaxed")
    return kept, dropped


def top_up(plan: list[PlanRow], rules: Rules, seed: int, exclude: set[str],
           is_contaminated: Callable[[list[str]], list[bool]] | None = None,
           settings: SynthSettings = SynthSettings()) -> pl.DataFrame:
    """Generated records (id, category, template, problem, solution, norm) filling each row's `top_up`.
    The count is spread evenly over the quota's templates; a template whose value space runs out
    passes its remainder to the others. `exclude` (normalised problems) grows with what is made; the
    plan rows are not changed."""
    rows: list[dict] = []
    for row in plan:
        need = row.top_up
        if need <= 0:
            continue
        templates = [t for t in rules.templates if t.category in row.categories]
        gens = {t.name: TemplateGenerator(t, seed, settings) for t in templates}
        made, flagged_in_a_row = 0, 0
        max_flagged = default_limits().max_misses
        active = list(templates)
        while made < need and active:
            before, drawn = made, 0
            share = [(need - made) // len(active) + (1 if i < (need - made) % len(active) else 0)
                     for i in range(len(active))]
            exhausted = []
            for t, n in zip(active, share):
                if n == 0:
                    continue
                triples = gens[t.name].generate_normalised(n, exclude=exclude, strict=False)
                drawn += len(triples)
                norms = [norm for _, _, norm in triples]
                flags = is_contaminated(norms) if is_contaminated and triples else [False] * len(triples)
                good = 0
                for (problem, solution, norm), bad in zip(triples, flags):
                    exclude.add(norm)
                    if bad:
                        continue
                    rows.append({"id": record_id(norm), "category": t.category, "template": t.name,
                                 "problem": problem, "solution": solution, "norm": norm})
                    good += 1
                made += good
                if len(triples) < n:
                    exhausted.append(t)
            active = [t for t in active if t not in exhausted]
            flagged_in_a_row = flagged_in_a_row + drawn if made == before else 0
            if flagged_in_a_row >= max_flagged:  # every new problem contaminated, round after round: never spin
                raise MathDataError(f"quota {row.quota}: every generated problem is flagged by the eval sets "
                                    f"({row.taken} real + {made} generated of {row.wanted})",
                                    "lower the quota, or check the --exclude sets and --ngram/--overlap")
        if made < need:
            raise MathDataError(f"quota {row.quota}: the generator ran out of distinct problems "
                                f"({row.taken} real + {made} generated of {row.wanted})",
                                "lower the quota, or widen the templates' number ranges in rules/templates.toml")
    schema = {"id": pl.String, "category": pl.String, "template": pl.String, "problem": pl.String,
              "solution": pl.String, "norm": pl.String}
    return pl.DataFrame(rows, schema=schema)
