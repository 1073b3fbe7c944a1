"""Number-aware near duplicates with datasketch MinHash LSH (see rules/dedup.toml for the rule)."""
from __future__ import annotations

import numpy as np
import polars as pl
import xxhash
from datasketch import MinHash, MinHashLSH

from ..keys import Groups, group_ids
from ..answers import extract_answer, parse_number
from ..normalize import canonical_numbers, canonical_numbers_expr, mask_numbers_expr
from .chinese import block_words_expr, numeral_tokens
from .config import DedupConfig


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the root is the earliest: stable cluster ids


def _hash32(data: bytes) -> int:
    return xxhash.xxh32_intdigest(data)


OPERATORS = "+*/^√%=×÷<>"


def _operators_expr(col: pl.Expr) -> pl.Expr:
    """The operator characters a text holds, each once, in sorted order ("*+")."""
    return pl.concat_str([pl.when(col.str.contains(c, literal=True)).then(pl.lit(c)).otherwise(pl.lit(""))
                          for c in sorted(OPERATORS)])


def shingles(text: str, n: int) -> list[bytes]:
    """Character n-grams of the text with whitespace removed ("5 个" and "5个" read the same)."""
    text = "".join(text.split()).lower()
    if len(text) <= n:
        return [text.encode("utf-8")]
    return list({text[i:i + n].encode("utf-8") for i in range(len(text) - n + 1)})


def _label(solution: str | None) -> str | None:
    """The labelled answer's exact value as text, or None when the solution shows none."""
    if not solution:
        return None
    value = parse_number(extract_answer(solution))
    return None if value is None else str(value)


def signatures(texts: list[str], cfg: DedupConfig) -> list[MinHash]:
    return MinHash.bulk([shingles(t, cfg.ngram) for t in texts], num_perm=cfg.num_perm, seed=cfg.seed,
                        hashfunc=_hash32)


def _words_expr(cfg: DedupConfig) -> pl.Expr:
    if not cfg.distinguishing_words:
        return pl.lit("")
    import re
    pattern = "|".join(re.escape(w) for w in sorted(cfg.distinguishing_words, key=len, reverse=True))
    return pl.col("norm").str.to_lowercase().str.extract_all(pattern).list.unique().list.sort().list.join(",")


def blocking_key_expr(norm: pl.Expr) -> pl.Expr:
    """The numbers of a normalised text as a sorted multiset ("12 3 5.5"). Two records can only be
    duplicates when these agree: exact copies have the same text; rule 1 below needs the same numbers
    in the same order; rule 2 compares only within a block, which starts with this multiset. A
    partition on it therefore keeps every possible duplicate pair in one shard."""
    return canonical_numbers_expr(norm).list.sort().list.join(" ")


def _shared_blocks(blocks: Groups, free: np.ndarray) -> list[int]:
    """Rows (ascending) whose block has more than one row and at least one free-text row."""
    size = np.bincount(blocks.ids, minlength=blocks.count)
    has_free = np.bincount(blocks.ids, weights=free, minlength=blocks.count) > 0
    return np.flatnonzero((size > 1)[blocks.ids] & has_free[blocks.ids]).tolist()


def near_clusters(reps: pl.DataFrame, cfg: DedupConfig) -> tuple[list[int], dict]:
    """Cluster the exact-unique records `reps` (in keep order: the first of a cluster is kept).

    Returns each record's cluster root (an index into `reps`) and stats about the work done.
    """
    n = reps.height
    uf = UnionFind(n)
    keyed = reps.select(pl.col("norm"), pl.col("template"), nums=canonical_numbers(reps["norm"]),
                        ops=_operators_expr(pl.col("norm"))).with_row_index("i")
    # 1. Same template, same numbers in the same order: a reformatted copy (1044.40 vs 1044.4).
    tmpl_rows = keyed["template"].is_not_null().arg_true().to_numpy()
    same = group_ids(keyed.select("template", "nums")[tmpl_rows], ["template", "nums"])
    for member in np.flatnonzero(same.first[same.ids] != np.arange(len(tmpl_rows))):
        uf.union(int(tmpl_rows[same.first[same.ids[member]]]), int(tmpl_rows[member]))
    # 2. Free text: MinHash LSH among records that share their number multiset (and operators) with a
    #    free-text record. First on a cheap order-free digest of the multiset (a sum of the numbers'
    #    hashes, and their count), which only ever joins too many rows; the exact block follows.
    free = keyed["template"].is_null().to_numpy()
    digest = keyed.select(pl.col("nums").list.eval(pl.element().hash(seed=0) % (1 << 32)).list.sum().alias("h"),
                          pl.col("nums").list.len().alias("k"), "ops")
    candidates = _shared_blocks(group_ids(digest, ["h", "k", "ops"]), free)
    # 3. Among those, the exact block: the sorted numbers, the operators, the distinguishing words, and
    #    numbers written in Chinese (一, 两, 第一, 三分之一, 一半) and units of measure (厘米 vs 米);
    #    computed on these few rows only.
    if candidates:
        chinese = cfg.chinese
        rows = keyed[candidates]
        values = numeral_tokens(rows["norm"], chinese)
        rows = rows.with_columns(block=pl.concat_str(pl.col("nums").list.sort().list.join(" "), pl.col("ops"),
                                                     _words_expr(cfg), block_words_expr(pl.col("norm"), chinese, values),
                                                     separator="|"))
        candidates = [candidates[k] for k in _shared_blocks(group_ids(rows, "block"), free[candidates])]
        block_by_i = dict(zip(rows["i"].to_list(), rows["block"].to_list()))
    stats = {"minhash_candidates": len(candidates), "minhash_pairs": 0, "conflicting_labels": 0}
    if candidates:
        rows = keyed[candidates]
        texts, tmpl = rows["norm"].to_list(), rows["template"].to_list()
        block_of = [block_by_i[i] for i in candidates]
        family = rows.select(mask_numbers_expr(pl.col("norm")))["norm"].to_list()
        ordered = rows.select(pl.col("nums").list.join(" "))["nums"].to_list()
        labels = [_label(s) for s in reps["solution"].gather(candidates).to_list()] if "solution" in reps.columns \
            else [None] * len(candidates)
        sigs = signatures(texts, cfg)
        lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
        with lsh.insertion_session() as session:
            for k, sig in enumerate(sigs):
                session.insert(k, sig, check_duplication=False)
        for k, sig in enumerate(sigs):
            for j in lsh.query(sig):
                if j <= k or block_of[j] != block_of[k]:
                    continue
                if tmpl[j] is not None and tmpl[k] is not None:
                    continue  # two template records: only rule 1 applies
                if family[j] == family[k] and ordered[j] != ordered[k]:
                    continue  # same wording, numbers in another order ("3:12" vs "12:3"): siblings
                if sig.jaccard(sigs[j]) >= cfg.threshold:
                    if labels[j] is not None and labels[k] is not None and labels[j] != labels[k]:
                        stats["conflicting_labels"] += 1  # different answers: different problems (or a bad label)
                        continue
                    uf.union(candidates[k], candidates[j])
                    stats["minhash_pairs"] += 1
    return [uf.find(i) for i in range(n)], stats
