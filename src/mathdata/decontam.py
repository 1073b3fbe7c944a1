"""Decontamination against evaluation sets (`mathdata build --exclude EVAL.jsonl`).

Two rules, both on the normalised problem with all whitespace removed and numbers kept as they are
(masking numbers would make every template sibling of an eval problem "contaminated"):
- `eval_exact`   the text equals an eval problem's text;
- `eval_ngram`   it shares character n-grams (n = 13 by default, as Qwen2-Math's 13-gram filter) with
                 one eval problem, and the shared n-grams cover at least `overlap` (0.8) of the shorter
                 text's n-grams. An eval problem embedded in a longer training text, or a long text
                 with a word changed, is caught; a short template problem with different numbers is
                 not, since its numbers break most of its n-grams. Texts shorter than n have one
                 n-gram, themselves, so for them the rule is exact match.

Candidates are found in one vectorised pass (polars' Aho-Corasick `str.contains_any` over the eval
n-grams); only those are scored in Python.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .errors import MathDataError
from .io import read_records, sha256_file
from .normalize import normalize_expr

NGRAM = 13
OVERLAP = 0.8


def squeeze(norm: str) -> str:
    return "".join(norm.split())


def ngrams(text: str, n: int) -> set[str]:
    if len(text) <= n:
        return {text}
    return {text[i:i + n] for i in range(len(text) - n + 1)}


@dataclass
class EvalIndex:
    """The eval problems and their n-gram index."""
    texts: list[str]                     # squeezed normalised eval problems (distinct)
    n: int = NGRAM
    overlap: float = OVERLAP
    sources: list[dict] = field(default_factory=list)
    exact: set[str] = field(init=False)
    short: list[str] = field(init=False)            # eval texts shorter than n
    grams: dict[str, list[int]] = field(init=False)  # n-gram -> eval texts (of length >= n) holding it
    sizes: list[int] = field(init=False)

    def __post_init__(self):
        if self.n < 1 or not 0 < self.overlap <= 1:
            raise MathDataError(f"decontamination: need n >= 1 and 0 < overlap <= 1 (got {self.n}, {self.overlap})",
                                "e.g. --ngram 13")
        self.exact = set(self.texts)
        self.short = sorted(t for t in self.texts if len(t) < self.n)
        self.grams, self.sizes = {}, []
        for i, text in enumerate(self.texts):
            g = ngrams(text, self.n) if len(text) >= self.n else set()
            self.sizes.append(len(g))
            for gram in g:
                self.grams.setdefault(gram, []).append(i)

    def __len__(self) -> int:
        return len(self.texts)

    def settings(self) -> dict:
        return {"ngram": self.n, "overlap": self.overlap, "eval_problems": len(self.texts), "sources": self.sources}

    def ngram_overlap(self, squeezed: str) -> bool:
        """Shares n-grams covering >= `overlap` of the shorter text's n-grams with one eval text."""
        mine = ngrams(squeezed, self.n)
        shared = Counter(i for g in mine if g in self.grams for i in self.grams[g])
        return any(k >= self.overlap * min(len(mine), self.sizes[i]) for i, k in shared.items())

    def check_norms(self, norms: list[str]) -> list[bool]:
        """Contaminated or not, for normalised texts (used for generated top-up records)."""
        frame = pl.DataFrame({"norm": norms}, schema={"norm": pl.String})
        return flag(frame, self)["drop_reason"].is_not_null().to_list()


def load_eval_sets(paths: list[Path | str], n: int = NGRAM, overlap: float = OVERLAP) -> EvalIndex:
    """Read eval files (any format `read_records` accepts) into an index."""
    texts, sources = [], []
    for path in paths:
        loaded = read_records([path])
        frame = loaded.frame
        norms = frame.select(normalize_expr(pl.col("problem")).alias("n"))["n"].to_list()
        texts += [squeeze(x) for x in norms]
        sources.append({"path": str(path), "sha256": loaded.sha256.get(str(path)) or sha256_file(path), "records": frame.height})
    return EvalIndex(texts=list(dict.fromkeys(texts)), n=n, overlap=overlap, sources=sources)


def flag(df: pl.DataFrame, index: EvalIndex) -> pl.DataFrame:
    """`df` (with `norm`) plus `drop_reason`: eval_exact, eval_ngram or null.

    eval_ngram is any of: n-gram overlap (see module doc) between texts of at least n characters;
    an eval text shorter than n contained in the text; a text shorter than n contained in an eval text.
    """
    sq = df.select(pl.col("norm").str.replace_all(r"\s+", "").alias("sq"))["sq"]
    reason = [None] * df.height
    if len(index) and df.height:
        frame = pl.DataFrame({"sq": sq}).with_row_index("i")
        for i in frame.filter(pl.col("sq").is_in(list(index.exact)))["i"].to_list():
            reason[i] = "eval_exact"
        if index.grams:
            cand = frame.filter(pl.col("sq").str.contains_any(sorted(index.grams)))
            for i, text in zip(cand["i"].to_list(), cand["sq"].to_list()):
                if reason[i] is None and index.ngram_overlap(text):
                    reason[i] = "eval_ngram"
        if index.short:
            for i in frame.filter(pl.col("sq").str.contains_any(index.short))["i"].to_list():
                reason[i] = reason[i] or "eval_ngram"
        short_mine = frame.filter(pl.col("sq").str.len_chars() < index.n)
        if short_mine.height:
            patterns = short_mine["sq"].unique().to_list()
            evals = pl.DataFrame({"e": index.texts})
            hits = set(evals.select(pl.col("e").str.extract_many(patterns, overlapping=True).explode())["e"].drop_nulls().to_list())
            for i, text in zip(short_mine["i"].to_list(), short_mine["sq"].to_list()):
                if text in hits:
                    reason[i] = reason[i] or "eval_ngram"
    return df.with_columns(drop_reason=pl.Series(reason, dtype=pl.String))


def decontaminate(df: pl.DataFrame, index: EvalIndex) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, dropped) for a frame with `norm`; dropped has `drop_reason` eval_exact or eval_ngram."""
    flagged = flag(df, index)
    return (flagged.filter(pl.col("drop_reason").is_null()).drop("drop_reason"),
            flagged.filter(pl.col("drop_reason").is_not_null()))
