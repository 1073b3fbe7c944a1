"""Corpus equations: the `equation` field of word-problem corpora, read with the safe exact evaluator.

Two kinds (both written with + - * / ^ ** × ÷, parentheses, `a%`, mixed numbers `3(1/2)`):
- an **expression for the answer** (Math23K, Ape210K): `x=(11-1)*2`, `x=20%*50`, or without `x=`;
  `equation_value` gives its exact value;
- a **system of equations in unknowns** (HMWP): `x + y = 35.0 ; 2.0 * x + 4.0 * y = 94.0`, one equation
  per `;`, any unknown names (x, y, t ...). `parse_system` reads it; a linear square system is solved
  exactly (`solve_linear`); any system can be checked at given values (`satisfied`).
The answer list of a system is in the order the unknowns first appear in the equation text (HMWP's
convention: `2y + 4x = 100 ; y + x = 30` has the answer `[y, x]`); a checker may also accept another
order of the same values. One unknown with several answers (a quadratic's roots) means each value is a
solution. Nothing here raises on bad input: unreadable text gives None.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Callable

from .errors import MathDataError
from .formula import FUNCTIONS, compile_formula, evaluate_at

_MIXED = re.compile(r"(?<!\d)(\d+)\((\d+)/(\d+)\)")   # Math23K writes 3 1/2 as 3(1/2)
# (the look-behinds start a match only at a number's first digit: linear time on a long digit run)
_PERCENT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)%")
_EQ_PREFIX = re.compile(r"^\s*[xX]\s*=")
_EQ_CHARS = str.maketrans({"×": "*", "÷": "/", "（": "(", "）": ")", "[": "(", "]": ")", "{": "(", "}": ")",
                           "^": "**", "：": "/", "﹣": "-", "−": "-"})
_NAME = re.compile(r"[A-Za-z_]\w*")
_IMPLICIT_TIMES = re.compile(r"(\d)\s*([A-Za-z_(])")   # HMWP's `3.0 x`, `2x`: a number times an unknown
_ERRORS = (MathDataError, ArithmeticError, TypeError, ValueError, RecursionError, MemoryError, KeyError)
REL_TOL = Fraction(1, 10**9)   # a system checked at printed values: |lhs - rhs| within 1e-9 of the terms


def expression_source(text: str) -> str:
    """Corpus notation -> the evaluator's: ^ and × ÷, a ratio `a:b` as a division, mixed numbers,
    percentages (also of a bracket: `(2/5)%`)."""
    expr = text.translate(_EQ_CHARS).replace(":", "/")
    expr = _MIXED.sub(r"(\1+\2/\3)", expr)
    return _PERCENT.sub(r"(\1/100)", expr).replace(")%", ")/100")


def is_system(equation: str) -> bool:
    """True for equations in unknowns (HMWP), False for an expression of the answer (`x=...`)."""
    expr = _EQ_PREFIX.sub("", equation)
    return "=" in expr or ";" in expr or bool(_NAME.search(expr.replace("**", "")))


def equation_value(equation: str, prec: int | None = None):
    """Exact value of a corpus equation like `x=(11-1)*2`, `x=20%*50`, `x=3(1/2)+1`; None if unreadable."""
    expr = expression_source(_EQ_PREFIX.sub("", equation))
    try:
        fn = compile_formula(expr.strip(), set(), "equation")
        return evaluate_at(fn, {}, prec) if prec else fn({})
    except _ERRORS:
        return None  # ArithmeticError: decimal's traps and rules/limits.toml (never an Infinity)


def _exact(v) -> Fraction:
    return v if isinstance(v, Fraction) else Fraction(v)


@dataclass(frozen=True)
class System:
    names: tuple[str, ...]                              # unknowns in order of first appearance
    sides: tuple[tuple[Callable, Callable], ...]        # (lhs, rhs) per equation

    def residuals(self, values: dict) -> list[Fraction]:
        env = {k: Decimal(v.numerator) / Decimal(v.denominator) if isinstance(v, Fraction) else v
               for k, v in values.items()}
        return [_exact(lhs(env)) - _exact(rhs(env)) for lhs, rhs in self.sides]

    def scale(self, values: dict) -> list[Fraction]:
        env = {k: Decimal(v.numerator) / Decimal(v.denominator) if isinstance(v, Fraction) else v
               for k, v in values.items()}
        return [max(Fraction(1), abs(_exact(lhs(env))), abs(_exact(rhs(env)))) for lhs, rhs in self.sides]


def parse_system(equation: str) -> System | None:
    """The equations of `equation` (separated by `;`), or None if any part is not `lhs = rhs`."""
    parts = [p.strip() for p in re.split(r"[;；]", equation) if p.strip()]
    if not parts:
        return None
    names: list[str] = []
    for p in parts:
        for n in _NAME.findall(p):
            if n not in names and n not in FUNCTIONS:
                names.append(n)
    sides = []
    try:
        for p in parts:
            if p.count("=") != 1:
                return None
            lhs, rhs = (_IMPLICIT_TIMES.sub(r"\1*\2", side) for side in p.split("="))
            sides.append((compile_formula(expression_source(lhs).strip(), set(names), "equation"),
                          compile_formula(expression_source(rhs).strip(), set(names), "equation")))
    except _ERRORS:
        return None
    return System(tuple(names), tuple(sides)) if names else None


def satisfied(system: System, values: dict) -> bool:
    """Do these values satisfy every equation (within REL_TOL of the size of its terms)?"""
    try:
        res, scale = system.residuals(values), system.scale(values)
    except _ERRORS:
        return False
    return all(abs(r) <= REL_TOL * s for r, s in zip(res, scale))


def solve_linear(system: System) -> list[Fraction] | None:
    """The exact solution of a square linear system (Gaussian elimination over fractions); None when
    the system is not linear, not square or singular."""
    k = len(system.names)
    if len(system.sides) != k:
        return None
    try:
        zero = {n: Fraction(0) for n in system.names}
        f0 = system.residuals(zero)
        cols = []
        for n in system.names:
            fj = system.residuals({**zero, n: Fraction(1)})
            f2 = system.residuals({**zero, n: Fraction(2)})
            col = [a - b for a, b in zip(fj, f0)]
            if any(c2 - b != 2 * c for c2, b, c in zip(f2, f0, col)):
                return None  # not linear in this unknown
            cols.append(col)
        ones = system.residuals({n: Fraction(1) for n in system.names})
        if any(o != b + sum(c[i] for c in cols) for i, (o, b) in enumerate(zip(ones, f0))):
            return None  # cross terms (x * y)
    except _ERRORS:
        return None
    rows = [[cols[j][i] for j in range(k)] + [-f0[i]] for i in range(k)]
    for c in range(k):
        pivot = next((r for r in range(c, k) if rows[r][c] != 0), None)
        if pivot is None:
            return None
        rows[c], rows[pivot] = rows[pivot], rows[c]
        for r in range(k):
            if r != c and rows[r][c] != 0:
                factor = rows[r][c] / rows[c][c]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[c])]
    return [rows[i][k] / rows[i][i] for i in range(k)]


def root_near(system: System, value: Fraction, half_unit: Fraction) -> bool:
    """One unknown: is there a root within `half_unit` of `value` (the printed value's rounding)?
    True when the equations hold at `value`, or the residual of each changes sign across the interval."""
    name = system.names[0]
    if satisfied(system, {name: value}):
        return True
    try:
        lo = system.residuals({name: value - half_unit})
        hi = system.residuals({name: value + half_unit})
    except _ERRORS:
        return False
    return all(a == 0 or b == 0 or (a < 0) != (b < 0) for a, b in zip(lo, hi))


def orders(names: tuple[str, ...], count: int):
    """Assignments of `count` printed values to unknowns: first-appearance order first, then the other
    orders; fewer values than unknowns (the question asks for some of them) go to any of them."""
    if count > len(names) or len(names) > 4:
        return [names] if count == len(names) else []
    first = names[:count]
    return [first] + [p for p in itertools.permutations(names, count) if p != first]
