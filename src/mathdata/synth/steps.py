"""Step-by-step solution writers, one small function per `steps` name in rules/templates.toml.

A writer gets a `StepContext` (the slot texts as printed in the problem, their exact values, the exact
answer and its printed form) and returns the working as lines. The engine appends the one final line
`答案：VALUE`, with VALUE the same printed answer the working ends on, so rounding is applied
consistently. Every intermediate number is exact (Decimal/Fraction); a value that had to be rounded is
written with "≈".

A new template points `steps = "NAME"` at an existing writer, or at a new one registered here with
`@writer("NAME")`; `formula` is the generic writer (substitute the values into the answer formula).
"""
from __future__ import annotations

import decimal
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Callable

from ..errors import MathDataError
from ..limits import default_limits
from ..rules import Template
from .answer import fixed, trim

Writer = Callable[["StepContext"], list[str]]
WRITERS: dict[str, Writer] = {}
FINAL_PREFIX = "答案："
_CTX = decimal.Context(prec=120, Emax=10**6, Emin=-(10**6))


@dataclass
class StepContext:
    template: Template
    texts: dict          # slot name -> text as printed in the problem
    env: dict            # slot name -> exact value (Decimal, or list of Decimal)
    answer: object       # exact answer (Decimal or Fraction)
    answer_text: str     # the printed answer (answer_format + rounding), used in the final line
    round_to: int | None

    def exact(self) -> bool:
        """Is the printed answer the exact value?"""
        try:
            shown = Fraction(self.answer_text) if "/" in self.answer_text else Fraction(Decimal(self.answer_text))
        except (ValueError, decimal.InvalidOperation, ZeroDivisionError):
            return False
        return shown == Fraction(self.answer)

    def result(self, expr: str, exact_text: str | None = None) -> str:
        """'expr = ANSWER', or 'expr = EXACT ≈ ANSWER' / 'expr ≈ ANSWER' when the printed answer is rounded."""
        if self.exact():
            return f"{expr} = {self.answer_text}"
        if exact_text and exact_text != self.answer_text:
            return f"{expr} = {exact_text} ≈ {self.answer_text}"
        return f"{expr} ≈ {self.answer_text}"


def writer(name: str) -> Callable[[Writer], Writer]:
    def register(fn: Writer) -> Writer:
        if name in WRITERS:
            raise ValueError(f"step writer {name!r} registered twice")
        WRITERS[name] = fn
        return fn
    return register


def get_writer(name: str) -> Writer:
    try:
        return WRITERS[name]
    except KeyError:
        raise MathDataError(f"no step writer named {name!r}",
                            f"set `steps` in rules/templates.toml to one of: {', '.join(sorted(WRITERS))}") from None


def write_steps(ctx: StepContext) -> str:
    lines = get_writer(ctx.template.steps)(ctx)
    return "\n".join(lines + [FINAL_PREFIX + ctx.answer_text])


# --- helpers ------------------------------------------------------------------------------------------

def t(x: Decimal) -> str:
    """An exact intermediate value in positional notation, trailing fractional zeros removed."""
    return trim(fixed(x))


def p(text: str) -> str:
    """Parenthesise a negative number inside an expression."""
    return f"({text})" if text.startswith("-") else text


def _places(x: Decimal) -> int:
    return max(0, -x.as_tuple().exponent)


def _split(x: Decimal) -> tuple[Decimal, Decimal]:
    """|x| as (integer part, fractional part)."""
    a = abs(x)
    i = Decimal(int(a))
    return i, a - i


def _by_parts(i1: Decimal, f1: Decimal, i2: Decimal, f2: Decimal, op: str) -> tuple[list[str], Decimal]:
    """(i1 + f1) op (i2 + f2), op '+' or '-': integer parts, decimal parts, then both together (one line
    when there are no decimal parts); and the result."""
    ri, rf = (i1 + i2, f1 + f2) if op == "+" else (i1 - i2, f1 - f2)
    if f1 or f2:
        return [f"整数部分：{t(i1)} {op} {t(i2)} = {t(ri)}", f"小数部分：{t(f1)} {op} {t(f2)} = {t(rf)}",
                f"合起来：{t(ri)} + {p(t(rf))} = {t(ri + rf)}"], ri + rf
    return [f"{t(i1)} {op} {t(i2)} = {t(ri)}"], ri + rf


def _sum_lines(a: Decimal, b: Decimal) -> list[str]:
    """Signed addition a + b explained by sign rule, integer parts and decimal parts."""
    lines = []
    ia, fa = _split(a)
    ib, fb = _split(b)
    if (a >= 0) == (b >= 0) or a == 0 or b == 0:
        sign = "-" if (a < 0 or b < 0) else ""
        lines.append("两数同号，绝对值相加，符号不变。" if sign else "两个非负数相加。")
        parts, total = _by_parts(ia, fa, ib, fb, "+")
        lines += parts
        if sign:
            lines.append(f"加上负号：-{t(total)}")
        return lines
    big, small = (a, b) if abs(a) >= abs(b) else (b, a)
    ib_, fb_ = _split(big)
    is_, fs_ = _split(small)
    lines.append("两数异号，用较大的绝对值减去较小的绝对值，结果取绝对值较大的数的符号。")
    parts, diff = _by_parts(ib_, fb_, is_, fs_, "-")
    lines += parts
    if big < 0 and diff:
        lines.append(f"绝对值较大的数是负数，结果为 -{t(diff)}")
    return lines


def _digits_of(n: int) -> list[tuple[int, int]]:
    """(digit, place value) of a positive integer, highest place first, zero digits skipped."""
    s = str(n)
    return [(int(c), 10 ** (len(s) - 1 - i)) for i, c in enumerate(s) if c != "0"]


def _product_lines(a: Decimal, b: Decimal) -> tuple[list[str], Decimal]:
    """|a| x |b| by place value: as integers, partial products, then the decimal point."""
    pa, pb = _places(a), _places(b)
    A, B = int(abs(a).scaleb(pa)), int(abs(b).scaleb(pb))
    if len([d for d in str(A) if d != "0"]) < len([d for d in str(B) if d != "0"]):
        A, B, pa, pb, a, b = B, A, pb, pa, b, a
    lines = []
    if pa or pb:
        lines.append(f"先去掉小数点：{t(abs(a))} → {A}，{t(abs(b))} → {B}，共 {pa + pb} 位小数。")
    parts = _digits_of(B)
    if B == 0 or A == 0:
        lines.append(f"{A} × {B} = 0")
        product = 0
    elif len(parts) == 1:
        product = A * B
        lines.append(f"{A} × {B} = {product}")
    else:
        lines.append(f"按位拆开：{B} = " + " + ".join(str(d * v) for d, v in parts))
        partial = [A * d * v for d, v in parts]
        for (d, v), pp in zip(parts, partial):
            lines.append(f"{A} × {d * v} = {pp}")
        product = sum(partial)
        lines.append("部分积相加：" + " + ".join(map(str, partial)) + f" = {product}")
    value = Decimal(product).scaleb(-(pa + pb))
    if pa or pb:
        lines.append(f"点回 {pa + pb} 位小数：{fixed(value)}")
    return lines, value


def _sign_rule(a: Decimal, b: Decimal, op: str) -> tuple[str, bool]:
    negative = (a < 0) != (b < 0) and a != 0 and b != 0
    return (f"{op}：异号得负。" if negative else f"{op}：同号得正。"), negative


# --- writers ------------------------------------------------------------------------------------------

@writer("add")
def add_steps(ctx: StepContext) -> list[str]:
    a, b = ctx.env["a"], ctx.env["b"]
    lines = _sum_lines(a, b)
    return lines + [ctx.result(f"所以 {ctx.texts['a']} + {p(ctx.texts['b'])}", t(ctx.answer))]


@writer("sub")
def sub_steps(ctx: StepContext) -> list[str]:
    a, b = ctx.env["a"], ctx.env["b"]
    neg_b = t(-b)
    lines = [f"减去一个数等于加上它的相反数：{ctx.texts['a']} - {p(ctx.texts['b'])} = {ctx.texts['a']} + {p(neg_b)}"]
    more = _sum_lines(a, -b)
    return lines + more + [ctx.result(f"所以 {ctx.texts['a']} - {p(ctx.texts['b'])}", t(ctx.answer))]


@writer("mul")
def mul_steps(ctx: StepContext) -> list[str]:
    a, b = ctx.env["a"], ctx.env["b"]
    if a == 0 or b == 0:
        return ["有一个因数是 0，积就是 0。", ctx.result(f"所以 {ctx.texts['a']} × {p(ctx.texts['b'])}", t(ctx.answer))]
    rule, negative = _sign_rule(a, b, "先定符号")
    lines, value = _product_lines(a, b)
    lines = [rule] + lines
    if negative and value:
        lines.append(f"加上负号：-{fixed(value)}")
    return lines + [ctx.result(f"所以 {ctx.texts['a']} × {p(ctx.texts['b'])}", t(ctx.answer))]


def _long_division(A: int, B: int, decimals: int, detail: int) -> tuple[list[str], str]:
    """Long division of positive integers A ÷ B to `decimals` digits; the first `detail` digits
    are shown one by one. Returns the lines and the quotient text (truncated)."""
    q, r = divmod(A, B)
    lines = [f"{A} ÷ {B}：商的整数部分为 {q}，余 {r}"]
    digits = []
    for i in range(decimals):
        if r == 0:
            break
        r10 = r * 10
        d, r = divmod(r10, B)
        digits.append(str(d))
        if i < detail:
            lines.append(f"余数补 0：{r10} ÷ {B} = {d} 余 {r}")
    if r == 0:
        lines.append("余数为 0，除尽。")
    elif len(digits) > detail:
        lines.append(f"继续这样除下去，小数部分依次得到 {''.join(digits)}……")
    text = str(q) + ("." + "".join(digits) if digits else "")
    return lines, text


def _needed_decimals(ctx: StepContext) -> int:
    if ctx.round_to is not None:
        return ctx.round_to + 1
    text = ctx.answer_text
    if "e" in text.lower():
        return 30
    return len(text.split(".")[1]) if "." in text else 0


@writer("div")
def div_steps(ctx: StepContext) -> list[str]:
    a, b = ctx.env["a"], ctx.env["b"]
    ta, tb = ctx.texts["a"], ctx.texts["b"]
    if a == 0:
        return ["被除数是 0，除以任何非零数都得 0。", ctx.result(f"所以 {ta} ÷ {p(tb)}", t(ctx.answer))]
    rule, negative = _sign_rule(a, b, "先定符号")
    lines = [rule]
    k = max(_places(a), _places(b))
    A, B = int(abs(a).scaleb(k)), int(abs(b).scaleb(k))
    if k:
        lines.append(f"被除数和除数同时乘以 {10 ** k}，化成整数：{t(abs(a))} ÷ {t(abs(b))} = {A} ÷ {B}")
    more, quotient = _long_division(A, B, _needed_decimals(ctx), 4)
    lines += more
    sign = "-" if negative else ""
    exact = _CTX.divide(abs(a), abs(b)) * (-1 if negative else 1)
    exact_text = sign + quotient if Fraction(sign + quotient) == Fraction(exact) else None
    return lines + [ctx.result(f"所以 {ta} ÷ {p(tb)}", exact_text)]


def _power_lines(x: Decimal, tx: str, n: int) -> tuple[list[str], Decimal]:
    if n == 0:
        return [f"任何非零数的 0 次方都等于 1：{p(tx)}^0 = 1"], Decimal(1)
    if n == 1:
        return [f"{p(tx)}^1 = {tx}"], x
    lines, value = [], x
    shown = default_limits().power_step_lines + 1   # rules/limits.toml: a huge n writes no huge text
    for k in range(2, n + 1):
        prev = value
        value = _CTX.multiply(value, x)
        if k <= shown:
            left = f"{p(tx)} × {p(tx)}" if k == 2 else f"{p(t(prev))} × {p(tx)}"
            lines.append(f"{p(tx)}^{k} = {left} = {t(value)}")
    if n > shown:
        lines.append(f"……照这样再连乘 {n - shown} 次，得到 {p(tx)}^{n}。")
    return lines, value


@writer("power")
def power_steps(ctx: StepContext) -> list[str]:
    tx, n = ctx.texts["a"], int(ctx.env["n"])
    lines, value = _power_lines(ctx.env["a"], tx, n)
    if n >= 2:
        lines.insert(0, f"{n} 次方就是把 {tx} 连乘 {n} 次，逐次相乘：")
    return lines + [ctx.result(f"所以 {p(tx)}^{n}", t(value))]


@writer("sqrt")
def sqrt_steps(ctx: StepContext) -> list[str]:
    a, ta = ctx.env["a"], ctx.texts["a"]
    if a == 0:
        return [ctx.result("√0")]
    k = math.isqrt(int(a))
    lines = [f"先找相邻的平方数：{k}^2 = {k * k} ≤ {ta} < {(k + 1) ** 2} = {k + 1}^2，所以 √{ta} 在 {k} 和 {k + 1} 之间。"]
    ctx12 = decimal.Context(prec=12)
    x = Decimal(k) if k else Decimal(1)
    if x * x == a:
        return lines + [ctx.result(f"{k} × {k} = {ta}，所以 √{ta}")]
    lines.append("用牛顿迭代 x ← (x + a ÷ x) ÷ 2 逐步逼近：")
    for i in range(3):
        nxt = ctx12.divide(ctx12.add(x, ctx12.divide(a, x)), Decimal(2))
        lines.append(f"x{i + 1} = ({t(x)} + {ta} ÷ {t(x)}) ÷ 2 ≈ {t(nxt)}")
        if nxt == x:
            break
        x = nxt
    lines.append("继续迭代到所需精度。")
    return lines + [ctx.result(f"所以 √{ta}")]


@writer("simplify")
def simplify_steps(ctx: StepContext) -> list[str]:
    a, b = int(ctx.env["a"]), int(ctx.env["b"])
    lines = [f"用辗转相除法求 {a} 和 {b} 的最大公约数："]
    x, y = max(abs(a), abs(b)), min(abs(a), abs(b))
    while y:
        q, r = divmod(x, y)
        lines.append(f"{x} = {q} × {y} + {r}")
        x, y = y, r
    g = x
    lines.append(f"最大公约数为 {g}。")
    if g == 1:
        lines.append(f"分子分母互质，{a}/{b} 已是最简分数。")
        return lines + [f"最简形式为 {ctx.answer_text}"]
    lines.append(f"分子分母同时除以 {g}：{a} ÷ {g} = {a // g}，{b} ÷ {g} = {b // g}")
    return lines + [f"所以 {a}/{b} = {ctx.answer_text}"]


@writer("mean")
def mean_steps(ctx: StepContext) -> list[str]:
    xs = ctx.env["xs"]
    total = sum(xs, Decimal(0))
    n = len(xs)
    lines = ["平均值 = 数据之和 ÷ 数据个数。",
             f"数据之和：{' + '.join(p(t(x)) for x in xs)} = {t(total)}",
             f"数据个数：{n}"]
    quotient = _CTX.divide(total, Decimal(n))
    exact_text = t(quotient) if Fraction(total) / n == Fraction(quotient) else None
    return lines + [ctx.result(f"平均值 = {t(total)} ÷ {n}", exact_text)]


@writer("equation")
def equation_steps(ctx: StepContext) -> list[str]:
    a, b = ctx.env["a"], ctx.env["b"]
    ta = ctx.texts["a"]
    lines = [f"把常数项移到等号右边：{ta}x = {t(-b)}",
             f"两边同时除以 {ta}：x = {t(-b)} ÷ {p(ta)}"]
    frac = Fraction(-b) / Fraction(a)
    if frac.denominator != 1 and not ctx.exact():
        lines.append(f"x = {frac}")
    return lines + [ctx.result("x", None)]


@writer("function")
def function_steps(ctx: StepContext) -> list[str]:
    x, k, n = ctx.env["x"], ctx.env["k"], int(ctx.env["n"])
    tx, tk = ctx.texts["x"], ctx.texts["k"]
    lines = [f"把 x = {tx} 代入 y = {tk}x^{n}。"]
    more, power = _power_lines(x, tx, n)
    lines += more
    return lines + [ctx.result(f"y = {tk} × {p(t(power))}", t(_CTX.multiply(k, power)))]


@writer("area")
def area_steps(ctx: StepContext) -> list[str]:
    tl, tw = ctx.texts["l"], ctx.texts["w"]
    return ["长方形的面积 = 长 × 宽。", ctx.result(f"面积 = {tl} × {tw}") + " 平方厘米"]


@writer("mass")
def mass_steps(ctx: StepContext) -> list[str]:
    td, tv = ctx.texts["d"], ctx.texts["v"]
    return ["质量 = 密度 × 体积。", ctx.result(f"质量 = {td} × {tv}") + " 克"]


@writer("discount")
def discount_steps(ctx: StepContext) -> list[str]:
    pp, q = ctx.env["p"], ctx.env["q"]
    tp, tq = ctx.texts["p"], ctx.texts["q"]
    diff = pp - q
    ratio = Fraction(diff) / Fraction(pp)
    lines = ["折扣比例 = (原价 - 折后价) ÷ 原价 × 100。",
             f"降价：{tp} - {tq} = {t(diff)} 元",
             f"{t(diff)} ÷ {tp} = {ratio}"]
    return lines + [ctx.result(f"{ratio} × 100")]


@writer("sales")
def sales_steps(ctx: StepContext) -> list[str]:
    s, r = ctx.env["s"], ctx.env["r"]
    ts, tr = ctx.texts["s"], ctx.texts["r"]
    factor = 1 + r / 100
    return ["今年销售额 = 去年销售额 × (1 + 增长率)。",
            f"增长率 {tr}% = {t(r / 100)}，1 + {t(r / 100)} = {t(factor)}",
            ctx.result(f"今年销售额 = {ts} × {t(factor)}", t(s * factor)) + " 万元"]


_NAME = re.compile(r"\b([A-Za-z_]\w*)\b")


@writer("formula")
def formula_steps(ctx: StepContext) -> list[str]:
    """Generic: the answer formula, then the same with the slot values substituted."""
    formula = ctx.template.answer
    filled = _NAME.sub(lambda m: p(ctx.texts[m.group(1)]) if m.group(1) in ctx.texts else m.group(1), formula)
    return [f"按公式计算：{formula}", ctx.result(f"代入数值：{filled}")]
