"""Math accuracy: extract the answer from each model output and from each reference solution with
`mathdata.answers` (the same rules the data verifier uses), compare, and count per category."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from mathdata.answers import answers_match, extract_answer
from mathdata.errors import MathDataError

from .files import check_ids, load_predictions, read_jsonl

NO_CATEGORY = "(none)"


def category_order(rules_dir: Path | str | None = None) -> tuple[str, ...]:
    """The rules' category report order (rules/categories.toml); empty if the rules cannot be read."""
    try:
        from mathdata.rules import load_rules

        return load_rules(rules_dir).categories
    except (MathDataError, ImportError, OSError):
        return ()


@dataclass(frozen=True)
class Reference:
    id: str
    category: str
    problem: str
    solution: str


@dataclass(frozen=True)
class MathItem:
    id: str
    category: str
    correct: bool
    predicted: str | None   # answer extracted from the model output
    reference: str | None   # answer extracted from the reference solution

    def to_dict(self) -> dict:
        return {"id": self.id, "category": self.category, "correct": self.correct,
                "predicted": self.predicted, "reference": self.reference}


@dataclass
class MathScore:
    items: list[MathItem]
    rel_tol: float
    abs_tol: float | None
    per_category: dict[str, tuple[int, int]] = field(default_factory=dict)  # category -> (total, correct)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def correct(self) -> int:
        return sum(item.correct for item in self.items)

    @property
    def accuracy(self) -> float:
        """Fraction correct, 0..1 (0.0 for an empty set)."""
        return self.correct / self.total if self.total else 0.0

    @property
    def no_prediction(self) -> int:
        """Outputs with no extractable answer (empty, or no number) -- scored wrong."""
        return sum(item.predicted is None for item in self.items)

    @property
    def no_reference(self) -> int:
        """References whose solution yields no answer -- scored wrong; a data problem worth fixing."""
        return sum(item.reference is None for item in self.items)

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "rel_tol": self.rel_tol,
            "abs_tol": self.abs_tol,
            "no_prediction": self.no_prediction,
            "no_reference": self.no_reference,
            "per_category": {
                cat: {"total": t, "correct": c, "accuracy": c / t if t else 0.0}
                for cat, (t, c) in self.per_category.items()
            },
            "per_item": [item.to_dict() for item in self.items],
        }


def load_references(path: Path | str, rules_dir: Path | str | None = None) -> list[Reference]:
    """The build's JSONL (`id`, `category`, `problem`, `solution`); duplicate ids refused.

    A raw eval set with only `problem`/`solution` (the contest's format) works too: ids are then the line
    numbers ("1", "2", ...; all lines or none must have an id), and categories come from classifying the
    problems with the rules (`mathdata.classify`), as the audit does."""
    refs: list[Reference] = []
    seen: dict[str, int] = {}
    with_id: bool | None = None
    for lineno, obj in read_jsonl(path, ("solution",)):
        if with_id is None:
            with_id = "id" in obj
        elif with_id != ("id" in obj):
            raise MathDataError(f"{path}:{lineno}: {'missing' if with_id else 'unexpected'} field 'id' "
                                f"(line {next(iter(seen.values()))} {'has' if with_id else 'has none'})",
                                "give every line an id, or none (then ids are line numbers)")
        rid = str(obj["id"]) if with_id else str(lineno)
        if rid in seen:
            raise MathDataError(f"{path}:{lineno}: duplicate id {rid!r} (first on line {seen[rid]})",
                                "reference ids must be unique")
        seen[rid] = lineno
        if not isinstance(obj["solution"], str):
            raise MathDataError(f"{path}:{lineno}: solution of id {rid!r} is not text", "fix the reference file")
        category = obj.get("category")
        refs.append(Reference(id=rid, category=str(category) if category else "",
                              problem=str(obj.get("problem") or ""), solution=obj["solution"]))
    if not refs:
        raise MathDataError(f"{path}: no references", "pass the build's eval JSONL")
    if any(not r.category for r in refs):
        refs = _classify_missing(refs, rules_dir)
    return refs


def _classify_missing(refs: list[Reference], rules_dir: Path | str | None) -> list[Reference]:
    """Fill missing categories from the rules' templates (english / word_problem / other otherwise)."""
    try:
        import polars as pl

        from mathdata.classify import classify
        from mathdata.rules import load_rules

        todo = [r.problem for r in refs if not r.category]
        df = classify(pl.DataFrame({"problem": todo}, schema={"problem": pl.String}), load_rules(rules_dir))
        found = iter(df["category"].to_list())
    except (MathDataError, ImportError):
        found = iter([])
    out = []
    for r in refs:
        if r.category:
            out.append(r)
        else:
            cat = next(found, None) or NO_CATEGORY
            out.append(Reference(r.id, cat, r.problem, r.solution))
    return out


def score_math(predictions: Mapping[str, str | None], references: Sequence[Reference],
               rel_tol: float = 1e-4, abs_tol: float | None = None,
               category_order: Sequence[str] = ()) -> MathScore:
    """Score every reference (a missing prediction counts as an empty one, i.e. wrong).

    Per-category counts come in `category_order` (the rules' report order), then any others by name."""
    if rel_tol < 0 or (abs_tol is not None and abs_tol < 0):
        raise MathDataError("tolerances must be >= 0", f"got rel_tol={rel_tol}, abs_tol={abs_tol}")
    items = []
    totals: Counter[str] = Counter()
    rights: Counter[str] = Counter()
    for ref in references:
        predicted = extract_answer(predictions.get(ref.id) or "")
        reference = extract_answer(ref.solution)
        correct = reference is not None and answers_match(predicted, reference, rel_tol=rel_tol, abs_tol=abs_tol)
        items.append(MathItem(ref.id, ref.category, correct, predicted, reference))
        totals[ref.category] += 1
        rights[ref.category] += correct
    order = [c for c in category_order if c in totals] + sorted(c for c in totals if c not in category_order)
    per_category = {cat: (totals[cat], rights[cat]) for cat in order}
    return MathScore(items=items, rel_tol=rel_tol, abs_tol=abs_tol, per_category=per_category)


def score_math_files(predictions: Path | str, references: Path | str,
                     rel_tol: float = 1e-4, abs_tol: float | None = None,
                     category_order: Sequence[str] = (), rules_dir: Path | str | None = None) -> MathScore:
    """Read both files, insist the ids correspond one to one, and score."""
    refs = load_references(references, rules_dir)
    preds = load_predictions(predictions)
    check_ids(predictions, references, preds.keys(), [r.id for r in refs])
    return score_math(preds, refs, rel_tol=rel_tol, abs_tol=abs_tol, category_order=category_order)
