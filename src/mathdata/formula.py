"""A tiny, safe evaluator for the answer formulas and conditions in rules/templates.toml.

Formulas are parsed once with `ast` into closures. Values are Decimal (120 significant digits,
so + - * and integer powers of the data's numbers are exact and / and sqrt are far below any
displayed precision) or Fraction where exactness matters (`frac(a, b)`). Nothing is ever computed
in binary floating point.

Guards (rules/limits.toml [numbers]): a value with more than `result_digits` digits before the point
raises (decimal's Overflow is trapped, so nothing ever becomes Infinity), and so does `a ** n` with
|n| > `exponent` (unless a is 0, 1 or -1); callers treat both as an undefined answer. `evaluate_at`
evaluates a compiled formula at a higher precision (to check an answer printed with more than 120
significant digits).
"""
from __future__ import annotations

import ast
import decimal
import operator
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Mapping

from .errors import MathDataError
from .limits import LimitExceeded, default_limits

_LIMITS = default_limits()
CONTEXT = decimal.Context(prec=120, Emax=_LIMITS.result_digits, Emin=-_LIMITS.result_digits,
                          traps=[decimal.DivisionByZero, decimal.InvalidOperation, decimal.Overflow])

Value = Decimal | Fraction | list
Env = Mapping[str, Value]


def _to_decimal(v):
    if isinstance(v, Fraction):
        return CONTEXT.divide(Decimal(v.numerator), Decimal(v.denominator))
    return v


def _power(a, b):
    a, b = _to_decimal(a), _to_decimal(b)
    if abs(b) > _LIMITS.exponent and a not in (0, 1, -1):
        raise LimitExceeded(f"exponent {b} beyond numbers.exponent = {_LIMITS.exponent}")
    return CONTEXT.power(a, b)


def _negate(v):
    return CONTEXT.minus(v) if isinstance(v, Decimal) else -v


def evaluate_at(fn: Callable, env, prec: int):
    """`fn(env)` with `prec` significant digits instead of 120 (same limits otherwise). The
    compiled closures hold CONTEXT's bound methods (fast), so its precision is raised and restored."""
    default = CONTEXT.prec
    CONTEXT.prec = max(default, prec)
    try:
        return fn(env)
    finally:
        CONTEXT.prec = default


def _binop(op):
    def apply(a, b):
        if isinstance(a, Fraction) or isinstance(b, Fraction):
            a = a if isinstance(a, Fraction) else Fraction(a)
            b = b if isinstance(b, Fraction) else Fraction(b)
            return op[1](a, b)
        return op[0](a, b)
    return apply


_BINOPS = {
    ast.Add: _binop((CONTEXT.add, operator.add)),
    ast.Sub: _binop((CONTEXT.subtract, operator.sub)),
    ast.Mult: _binop((CONTEXT.multiply, operator.mul)),
    ast.Div: _binop((CONTEXT.divide, operator.truediv)),
    ast.Pow: _power,
}
_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge}


def _mean(xs):
    return CONTEXT.divide(sum_(xs), Decimal(len(xs)))


def sum_(xs):
    total = Decimal(0)
    for x in xs:
        total = CONTEXT.add(total, x)
    return total


def _frac(a, b):
    return Fraction(int(a), int(b))


FUNCTIONS: dict[str, Callable] = {
    "sqrt": lambda a: CONTEXT.sqrt(_to_decimal(a)),
    "mean": _mean,
    "sum": sum_,
    "len": lambda xs: Decimal(len(xs)),
    "abs": abs,
    "frac": _frac,
}


def compile_formula(source: str, names: set[str], where: str) -> Callable[[Env], Value]:
    """Compile `source` (a formula or condition over `names`) into a function of an environment."""
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as err:
        raise MathDataError(f"{where}: cannot parse formula {source!r}: {err.msg}", "fix the formula") from None
    return _compile(tree, names, where, source)


def _compile(node, names, where, source):
    def sub(n):
        return _compile(n, names, where, source)

    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        # the literal as written, not Python's float of it (1e400 is inf, 12345678901234567890.1 rounds)
        text = ast.get_source_segment(source, node) if isinstance(node.value, float) else None
        value = Decimal(text.replace("_", "")) if text else Decimal(node.value)
        plus = CONTEXT.plus
        return lambda env: plus(value)  # beyond numbers.result_digits: Overflow, never Infinity
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise MathDataError(f"{where}: formula {source!r} uses unknown name {node.id!r}",
                                f"known: {', '.join(sorted(names))}")
        key = node.id
        return lambda env: env[key]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        f, left, right = _BINOPS[type(node.op)], sub(node.left), sub(node.right)
        return lambda env: f(left(env), right(env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = sub(node.operand)
        if isinstance(node.op, ast.UAdd):
            return inner
        return lambda env: _negate(inner(env))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords:
        f, args = FUNCTIONS[node.func.id], [sub(a) for a in node.args]
        return lambda env: f(*(a(env) for a in args))
    if isinstance(node, ast.Compare):
        left, ops = sub(node.left), [(_CMP[type(o)], sub(c)) for o, c in zip(node.ops, node.comparators)]

        def compare(env):
            a = left(env)
            for op, right in ops:
                b = right(env)
                if not op(a, b):
                    return False
                a = b
            return True
        return compare
    if isinstance(node, ast.BoolOp):
        parts = [sub(v) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: all(p(env) for p in parts)
        return lambda env: any(p(env) for p in parts)
    raise MathDataError(f"{where}: formula {source!r} uses an unsupported construct ({type(node).__name__})",
                        f"allowed: numbers, slot names, + - * / **, comparisons, and/or, {', '.join(FUNCTIONS)}")
