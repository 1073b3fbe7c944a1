"""The canonical training text: what `mathdata build` writes for every kept record.

- A **template record** (its problem matched a template of rules/templates.toml) is re-rendered in its
  template's wording with its numbers in canonical form: decimal slots as the data prints them
  (`1,044.40` -> `1044.4`, `12` -> `12.0`, `007.5` -> `7.5`), int slots as integers without leading zeros,
  list slots as `[a, b, c]`. Its solution is re-rendered in the template's solution wording with the
  same numbers and the answer as the record shows it, when it is in that wording; a solution in another
  wording (e.g. `--style steps`) gets the free-text rules.
- A **free-text record** gets `normalize.canonical_text` on problem and solution (full-width digits and
  letters to ASCII, whitespace collapsed, Chinese punctuation kept, an ASCII `?` after Chinese text
  becomes `？` ...; the rules are in normalize.py).

Record ids are not changed (they hash the normalised input problem, so dropped.jsonl's `of <id>`
references stay valid); `normalize_text(canonical)` equals `normalize_text(input)` for free text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from .normalize import canonical_number, canonical_text, is_canonical_expr, normalize_text
from .rules import NUM, Rules, Template, _escape

SCHEME = "mathdata.canonical/1"
_SLOT = re.compile(r"\{(\w+)\}")
_NUM_RE = re.compile(NUM)
_CANON_INT = r"-?(?:0|[1-9]\d*)"
_CANON_DEC = r"-?(?:0|[1-9]\d*)\.(?:0|\d*[1-9])"
CANON_SLOT = {"int": _CANON_INT, "decimal": _CANON_DEC,
              "list": rf"\[{_CANON_INT}(?:, {_CANON_INT})*\]"}
ANSWER_SHOWN = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:/\d+)?"


def slot_text(kind: str, raw: str) -> str:
    """A slot's number(s) in canonical form (see module docstring)."""
    if kind == "list":
        return "[" + ", ".join(canonical_number(x) for x in _NUM_RE.findall(raw)) + "]"
    text = canonical_number(raw)
    if kind == "decimal" and "." not in text:
        text += ".0"
    return text


def _same_number(a: str, b: str) -> bool:
    return canonical_number(a) == canonical_number(b)


def _fill(pattern: str, texts: dict) -> str:
    return _SLOT.sub(lambda m: texts[m.group(1)], pattern)


def _wording_regex(pattern: str, groups: dict[str, str]) -> str:
    """An anchored regex of a wording as written (not normalised), each slot in canonical form."""
    parts, pos = ["^"], 0
    for m in _SLOT.finditer(pattern):
        parts.append(_escape(pattern[pos:m.start()]))
        parts.append(f"(?:{groups.get(m.group(1), _CANON_DEC)})")
        pos = m.end()
    parts.append(_escape(pattern[pos:]) + "$")
    return "".join(parts)


@dataclass(frozen=True)
class TemplateCanon:
    template: Template
    problem_regex: str      # matches a problem already in canonical form
    solution_regex: str     # matches a solution already in canonical form

    @classmethod
    def of(cls, t: Template) -> "TemplateCanon":
        kinds = {s.name: CANON_SLOT[s.kind] for s in t.slots}
        return cls(t, _wording_regex(t.problem, kinds), _wording_regex(t.solution, {**kinds, "answer": ANSWER_SHOWN}))

    def render(self, norm_problem: str, solution: str) -> tuple[str, str] | None:
        """(problem, solution) in canonical form, or None if the problem does not match."""
        t = self.template
        m = t.problem_pattern.match(norm_problem)
        if m is None:
            return None
        texts = {s.name: slot_text(s.kind, m.group(s.name)) for s in t.slots}
        problem = _fill(t.problem, texts)
        sm = t.solution_pattern.match(normalize_text(solution))
        if sm is not None and all(_same_number(v, m.group(k)) for k, v in sm.groupdict().items() if k in texts):
            solution = _fill(t.solution, {**texts, "answer": sm.group("answer")})
        else:
            solution = canonical_text(solution)
        return problem, solution


def canonical_frame(df: pl.DataFrame, rules: Rules) -> tuple[pl.DataFrame, dict]:
    """Rewrite `problem` and `solution` of every row in canonical form. Needs columns template, norm,
    problem, solution. Returns the frame and counts of rewritten texts. Rows already in canonical form
    are found with vectorised checks; only the others are rewritten in Python."""
    df = df.with_row_index("_c")
    canons = {t.name: TemplateCanon.of(t) for t in rules.templates}
    cols = df.select("_c", "template", "norm", "problem", "solution")
    todo = [cols.filter(pl.col("template").is_null()
                        & ~(is_canonical_expr(pl.col("problem")) & is_canonical_expr(pl.col("solution"))))]
    for name, part in cols.filter(pl.col("template").is_not_null()).group_by("template", maintain_order=True):
        c = canons[name[0]]
        problem_ok = pl.col("problem").str.contains(c.problem_regex)
        solution_ok = pl.col("solution").str.contains(c.solution_regex) | (
            ~pl.col("solution").str.contains(_solution_family(c.template)) & is_canonical_expr(pl.col("solution")))
        todo.append(part.filter(~(problem_ok & solution_ok)))
    todo = pl.concat(todo).sort("_c")
    problems, solutions = [], []
    for _, name, norm, problem, solution in todo.iter_rows():
        out = canons[name].render(norm, solution) if name is not None else None
        if out is None:
            out = canonical_text(problem), canonical_text(solution)
        problems.append(out[0])
        solutions.append(out[1])
    info = {"scheme": SCHEME, "problems_rewritten": 0, "solutions_rewritten": 0}
    if todo.height:
        new = todo.select("_c", "problem", "solution").with_columns(
            _p=pl.Series(problems, dtype=pl.String), _s=pl.Series(solutions, dtype=pl.String))
        info["problems_rewritten"] = int((new["_p"] != new["problem"]).sum())
        info["solutions_rewritten"] = int((new["_s"] != new["solution"]).sum())
        df = df.join(new.select("_c", "_p", "_s"), on="_c", how="left", maintain_order="left").with_columns(
            problem=pl.coalesce("_p", "problem"), solution=pl.coalesce("_s", "solution")).drop("_p", "_s")
    return df.drop("_c"), info


def _solution_family(t: Template) -> str:
    """A loose regex of the template's solution wording (any numbers): a solution that does not look
    like it is in another wording and gets the free-text rules."""
    parts, pos = ["^"], 0
    for m in _SLOT.finditer(t.solution):
        parts.append(_escape(t.solution[pos:m.start()]))
        parts.append(r"[-+\d.,eE/\[\] ]+")
        pos = m.end()
    parts.append(_escape(t.solution[pos:]) + r"\s*$")
    return "".join(parts)
