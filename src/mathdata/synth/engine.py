"""The generator: draw slot values, compute the exact answer, then write the text.

Answers are right by construction: the answer is evaluated exactly from the drawn values (the
template's formula, Decimal/Fraction) before any text exists, and draws that meet an `implausible`
rule or have no defined answer are redrawn. Nothing here reads global randomness: every generator
owns a `random.Random` seeded from (seed, template name, split), so adding a template does not change
the records of the others.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from random import Random
from typing import Callable, Iterator

from ..errors import MathDataError
from ..limits import default_limits, load_limits
from ..normalize import normalize_text
from ..rules import Rules, Template
from ..verify import exact_answer, implausible_reason, slot_values
from .answer import check_round, format_answer
from .steps import StepContext, get_writer, write_steps
from .values import SPLITS, effective_slots, slot_drawer, split_of

STYLES = ("plain", "steps")
_SLOT = re.compile(r"\{(\w+)\}")


def record_id(norm_problem: str) -> str:
    """A stable id for a record: 16 hex digits of a hash of its normalised problem."""
    return hashlib.blake2b(norm_problem.encode("utf-8"), digest_size=8).hexdigest()


def compile_fill(pattern: str) -> Callable[[dict], str]:
    """'{a} + {b} = {answer}' -> a function filling it from a dict (no str.format, so braces in
    LaTeX wording are safe)."""
    parts = _SLOT.split(pattern)
    fmt = "".join(part.replace("{", "{{").replace("}", "}}") if i % 2 == 0 else "{" + part + "}"
                  for i, part in enumerate(parts))
    return fmt.format_map


@dataclass(frozen=True)
class SynthSettings:
    """What to generate. `split`: train | test | extrapolate | any (see values.py)."""
    style: str = "plain"
    round_to: int | None = None
    split: str = "train"
    digits: int | None = None
    places: int | None = None
    overrides: dict = field(default_factory=dict)   # template name -> slot name -> {min, max, ...}
    test_fraction: float = 0.1
    allow_implausible: bool = False   # emit draws that meet an implausible rule (to imitate defective data)

    def check(self) -> "SynthSettings":
        if self.style not in STYLES:
            raise MathDataError(f"unknown style {self.style!r}", f"valid: {', '.join(STYLES)}")
        if self.split not in SPLITS:
            raise MathDataError(f"unknown split {self.split!r}", f"valid: {', '.join(SPLITS)}")
        if not 0 < self.test_fraction < 1:
            raise MathDataError(f"test_fraction {self.test_fraction}: must be between 0 and 1", "e.g. 0.1")
        if self.digits is not None and not 0 <= self.digits <= 30:
            raise MathDataError(f"--digits {self.digits}: out of range", "use 0..30")
        if self.places is not None and not 0 <= self.places <= 10:
            raise MathDataError(f"--places {self.places}: out of range", "use 0..10")
        check_round(self.round_to)
        return self


def render_solution(template: Template, texts: dict, env: dict, answer, style: str = "plain",
                    round_to: int | None = None) -> str:
    """The solution text for slot values whose exact answer is `answer`."""
    answer_text = format_answer(answer, template.answer_format, round_to)
    if style == "plain":
        return compile_fill(template.solution)({**texts, "answer": answer_text})
    if style == "steps":
        return write_steps(StepContext(template, texts, env, answer, answer_text, round_to))
    raise MathDataError(f"unknown style {style!r}", f"valid: {', '.join(STYLES)}")


def rewrite_solution(template: Template, norm_problem: str, style: str, round_to: int | None = None) -> str | None:
    """Re-solve a real record (by its normalised problem) and write its solution in `style`;
    None when the problem does not match the template or has no defined answer."""
    m = template.problem_pattern.match(norm_problem)
    if m is None:
        return None
    env = slot_values(template, m)
    answer = exact_answer(template, env)
    if answer is None:
        return None
    texts = {s.name: m.group(s.name) for s in template.slots}
    return render_solution(template, texts, env, answer, style, round_to)


class TemplateGenerator:
    """Records of one template, drawn with its own seeded RNG."""

    def __init__(self, template: Template, seed: int, settings: SynthSettings = SynthSettings()):
        self.template = template
        self.settings = settings.check()
        self.rng = Random(f"{seed}/{template.name}/{settings.split}")
        slots = effective_slots(template, settings.digits, settings.places, settings.overrides.get(template.name))
        extrapolate = settings.split == "extrapolate"
        self._drawers = [(s.name, slot_drawer(s, self.rng, extrapolate)) for s in slots]
        self._fill_problem = compile_fill(template.problem)
        self._fill_solution = compile_fill(template.solution)
        if settings.style == "steps":
            get_writer(template.steps)  # fail early on an unknown writer name

    def draw(self) -> tuple[dict, dict, object] | None:
        """(texts, env, exact answer) for one acceptable draw, or None if this draw is rejected."""
        texts, env = {}, {}
        for name, draw in self._drawers:
            texts[name], env[name] = draw()
        st = self.settings
        if st.split in ("train", "test") and split_of(self.template.name, list(texts.values()), st.test_fraction) != st.split:
            return None
        answer = exact_answer(self.template, env)
        if answer is None:
            return None
        if not st.allow_implausible and self.template.implausible and implausible_reason(self.template, env, answer):
            return None
        return texts, env, answer

    def record(self, texts: dict, env: dict, answer, problem: str | None = None) -> tuple[str, str]:
        st = self.settings
        problem = problem if problem is not None else self._fill_problem(texts)
        if st.style == "plain":
            texts = dict(texts)
            texts["answer"] = format_answer(answer, self.template.answer_format, st.round_to)
            return problem, self._fill_solution(texts)
        return problem, render_solution(self.template, texts, env, answer, "steps", st.round_to)

    def generate(self, count: int, exclude: set[str] | None = None, max_misses: int | None = None,
                 strict: bool = True) -> list[tuple[str, str]]:
        """`count` (problem, solution) pairs: `generate_normalised` without the normalised texts."""
        return [(p, s) for p, s, _ in self.generate_normalised(count, exclude, max_misses, strict)]

    def generate_normalised(self, count: int, exclude: set[str] | None = None, max_misses: int | None = None,
                            strict: bool = True) -> list[tuple[str, str, str]]:
        """`count` (problem, solution, normalised problem) triples with distinct normalised problems,
        none in `exclude`. When the value space runs out (`max_misses` draws in a row give nothing
        new), raise if `strict`, else return what was found."""
        # Within one template the filled text determines its normalised text one-to-one (the wording
        # is fixed and slot texts hold no spaces or full-width forms), so `seen` holds raw problems and
        # a problem is normalised once, when it is new: for the `exclude` check and the caller.
        seen: set[str] = set()
        out: list[tuple[str, str, str]] = []
        misses = 0
        max_misses = max_misses or default_limits().max_misses
        while len(out) < count:
            got = self.draw()
            if got is None:
                misses += 1
            else:
                problem = self._fill_problem(got[0])
                norm = normalize_text(problem) if problem not in seen else None
                if norm is None or (exclude and norm in exclude):
                    misses += 1
                else:
                    seen.add(problem)
                    out.append((*self.record(*got, problem=problem), norm))
                    misses = 0
                    continue
            if misses >= max_misses:
                if strict:
                    raise MathDataError(
                        f"template {self.template.name!r}: only {len(out)} distinct problems found of {count} "
                        f"asked ({self.settings.split} split)",
                        "ask for fewer, or widen the number ranges (--digits/--places, or the template's slots)")
                break
        return out


def templates_for(rules: Rules, category: str) -> list[Template]:
    if category == "all":
        return list(rules.templates)
    found = [t for t in rules.templates if t.category == category or t.name == category]
    if not found:
        raise MathDataError(f"--category {category!r}: no template generates it",
                            f"valid: all, {', '.join(rules.template_categories)}")
    return found


def synthesize(rules: Rules, category: str, count: int, seed: int,
               settings: SynthSettings = SynthSettings()) -> list[dict]:
    """`count` records per category (`category` a template category, or 'all' for every one), as
    dicts {id, category, problem, solution}. A category with several templates shares its count
    evenly among them. Deterministic in (rules, category, count, seed, settings)."""
    if count < 0:
        raise MathDataError(f"--count {count}: must be >= 0", "e.g. --count 1000")
    settings.check()
    templates = templates_for(rules, category)
    limits = load_limits(rules.directory)
    categories = len({t.category for t in templates})
    if count > limits.per_quota or count * categories > limits.total:
        raise MathDataError(f"--count {count:,}: {count * categories:,} records is more than one run may make",
                            f"a typo? limits: {limits.key('per_quota')} per category, {limits.key('total')}")
    by_category: dict[str, list[Template]] = {}
    for t in templates:
        by_category.setdefault(t.category, []).append(t)
    records = []
    for cat, members in by_category.items():
        for i, t in enumerate(members):
            n = count // len(members) + (1 if i < count % len(members) else 0)
            for problem, solution, norm in TemplateGenerator(t, seed, settings).generate_normalised(n):
                records.append({"id": record_id(norm), "category": cat,
                                "problem": problem, "solution": solution})
    return records


def iter_generate(template: Template, seed: int, settings: SynthSettings) -> Iterator[tuple[str, str]]:
    """An endless stream of (problem, solution) for benchmarks (duplicates not removed)."""
    gen = TemplateGenerator(template, seed, settings)
    while True:
        got = gen.draw()
        if got is not None:
            yield gen.record(*got)
