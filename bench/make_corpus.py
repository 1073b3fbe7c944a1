"""Write a file shaped like the contest's real train.json (the real file is not redistributable).

    python bench/make_corpus.py [OUT] [--seed 0] [--scale 1.0]

Default OUT: bench/data/train_like.json. At scale 1 it has what domain.md measured on the real file:
809,993 JSON Lines (`problem`/`solution`), 800,000 Chinese template problems first, then 9,993 English
competition-style problems (LaTeX, \\boxed{}); 548,942 unique problems, with the per-template unique
counts of the real file (add/sub/mul/div 359,347 together, power 39,207, sqrt 39,227, simplify 45 with
one problem 480 times, mean 19,709, equation 40,080, function 20,028, area 8,665, mass 100,
discount 6,275 including its implausible "discounted price above the original" records, sales 6,266).
The Chinese part comes from mathdata's own generator (the real wording and answer formats); the
261,051 duplicate lines are exact copies drawn from each template's problems, more for the small
value spaces (equation, area, discount, sales, mass, simplify) as in the real file. English problems
are 20 hand-written competition-style templates varied by their numbers, answers computed exactly.
Same seed and scale => byte-identical file.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from fractions import Fraction
from pathlib import Path
from random import Random

from mathdata.rules import load_rules
from mathdata.synth import SynthSettings, TemplateGenerator

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "train_like.json"
CHINESE_LINES = 800_000
# template -> (unique problems, duplicate lines beyond them). The four arithmetic templates take the
# duplicate lines left over (ARITH_EXTRA is computed).
UNIQUE = {"add": 89_837, "sub": 89_837, "mul": 89_837, "div": 89_836, "power": 39_207, "sqrt": 39_227,
          "simplify": 45, "mean": 19_709, "equation": 40_080, "function": 20_028, "area": 8_665, "mass": 100,
          "discount": 6_275, "sales": 6_266}
EXTRA = {"power": 1_000, "sqrt": 1_000, "simplify": 1_955, "mean": 800, "equation": 190_000, "function": 400,
         "area": 11_335, "mass": 1_900, "discount": 4_325, "sales": 3_634}
ENGLISH = 9_993
SIMPLIFY_TOP = 480  # the most repeated simplification appears this many times


# --- English competition-style problems -------------------------------------------------------------

def _frac_tex(q: Fraction) -> str:
    if q.denominator == 1:
        return str(q.numerator)
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def _en_remainder(r: Random):
    n, m = r.randint(100, 99999), r.randint(3, 97)
    q, rem = divmod(n, m)
    return (f"What is the remainder when ${n}$ is divided by ${m}$?",
            f"We have ${n} = {m} \\cdot {q} + {rem}$, so the remainder is $\\boxed{{{rem}}}$.")


def _en_divisor_sum(r: Random):
    n = r.randint(12, 5000)
    divs = [d for d in range(1, n + 1) if n % d == 0]
    return (f"Find the sum of all positive divisors of ${n}$.",
            f"The positive divisors of ${n}$ are ${', '.join(map(str, divs))}$. Their sum is $\\boxed{{{sum(divs)}}}$.")


def _en_linear(r: Random):
    a, b, c = r.choice([k for k in range(-30, 31) if k]), r.randint(-200, 200), r.randint(-200, 200)
    x = Fraction(c - b, a)
    return (f"If ${a}x + {b} = {c}$, what is the value of $x$?".replace("+ -", "- "),
            f"Subtracting ${b}$ from both sides gives ${a}x = {c - b}$. Dividing by ${a}$, $x = \\boxed{{{_frac_tex(x)}}}$.")


def _en_multiples(r: Random):
    n, k = r.randint(50, 20000), r.randint(2, 99)
    return (f"How many positive integers less than ${n}$ are multiples of ${k}$?",
            f"The multiples are ${k}, {2 * k}, \\ldots, {k * ((n - 1) // k)}$, so there are "
            f"$\\left\\lfloor \\frac{{{n - 1}}}{{{k}}} \\right\\rfloor = \\boxed{{{(n - 1) // k}}}$ of them.")


def _en_sum_diff(r: Random):
    big, small = r.randint(20, 2000), r.randint(1, 1000)
    if small >= big:
        big, small = small + big, small
    s, d = big + small, big - small
    return (f"The sum of two numbers is ${s}$ and their difference is ${d}$. What is the larger of the two numbers?",
            f"Adding the two equations $x + y = {s}$ and $x - y = {d}$ gives $2x = {s + d}$, so the larger number is $\\boxed{{{big}}}$.")


def _en_binom(r: Random):
    n = r.randint(5, 60)
    k = r.randint(1, n - 1)
    return (f"Compute $\\dbinom{{{n}}}{{{k}}}$.",
            f"$\\dbinom{{{n}}}{{{k}}} = \\dfrac{{{n}!}}{{{k}!\\,{n - k}!}} = \\boxed{{{math.comb(n, k)}}}$.")


def _en_gcd(r: Random):
    g = r.randint(2, 60)
    a, b = g * r.randint(2, 300), g * r.randint(2, 300)
    return (f"What is the greatest common divisor of ${a}$ and ${b}$?",
            f"By the Euclidean algorithm, $\\gcd({a}, {b}) = \\boxed{{{math.gcd(a, b)}}}$.")


def _en_lcm(r: Random):
    a, b = r.randint(4, 400), r.randint(4, 400)
    return (f"What is the least common multiple of ${a}$ and ${b}$?",
            f"$\\operatorname{{lcm}}({a}, {b}) = \\frac{{{a} \\cdot {b}}}{{\\gcd({a}, {b})}} = \\frac{{{a * b}}}{{{math.gcd(a, b)}}} = \\boxed{{{a * b // math.gcd(a, b)}}}$.")


def _en_rectangle(r: Random):
    length, width = r.randint(2, 300), r.randint(2, 300)
    perimeter = 2 * (length + width)
    return (f"A rectangle has a perimeter of ${perimeter}$ units and a length of ${length}$ units. What is its area, in square units?",
            f"The width is $\\frac{{{perimeter}}}{{2}} - {length} = {width}$, so the area is ${length} \\times {width} = \\boxed{{{length * width}}}$.")


def _en_ceil(r: Random):
    a, b = r.randint(-500, 500), r.randint(2, 40)
    return (f"Evaluate $\\left\\lceil \\frac{{{a}}}{{{b}}} \\right\\rceil$.",
            f"Since $\\frac{{{a}}}{{{b}}} \\approx {a / b:.3f}$, the ceiling is $\\boxed{{{-((-a) // b)}}}$.")


def _en_diff_squares(r: Random):
    a, b = r.randint(10, 999), r.randint(1, 999)
    return (f"What is the value of $a^2 - b^2$ when $a = {a}$ and $b = {b}$?",
            f"$a^2 - b^2 = (a + b)(a - b) = ({a + b})({a - b}) = \\boxed{{{a * a - b * b}}}$.")


def _en_mean_removed(r: Random):
    k = r.randint(3, 30)
    mean = r.randint(10, 100)
    x = r.randint(1, 200)
    rest = Fraction(k * mean - x, k - 1)
    return (f"The arithmetic mean of ${k}$ numbers is ${mean}$. If the number ${x}$ is removed, what is the mean of the remaining numbers?",
            f"The total is ${k} \\cdot {mean} = {k * mean}$. Removing ${x}$ leaves ${k * mean - x}$ over ${k - 1}$ numbers, "
            f"so the mean is $\\boxed{{{_frac_tex(rest)}}}$.")


def _en_arith_seq(r: Random):
    a, d, n = r.randint(-50, 50), r.choice([k for k in range(-12, 13) if k]), r.randint(10, 200)
    return (f"What is the ${n}$th term of the arithmetic sequence ${a}, {a + d}, {a + 2 * d}, \\ldots$?",
            f"The common difference is ${d}$, so the ${n}$th term is ${a} + ({n} - 1)({d}) = \\boxed{{{a + (n - 1) * d}}}$.")


def _en_percent(r: Random):
    pct, q = r.randint(1, 250), r.randint(2, 2000)
    value = Fraction(pct * q, 100)
    shown = str(value.numerator) if value.denominator == 1 else f"{float(value):g}"
    return (f"What is ${pct}\\%$ of ${q}$?",
            f"${pct}\\%$ of ${q}$ is $\\frac{{{pct}}}{{100}} \\cdot {q} = \\boxed{{{shown}}}$.")


def _en_frac_eq(r: Random):
    a, b, c = r.randint(2, 40), r.randint(-50, 50), r.randint(-50, 50)
    return (f"Solve for $x$: $\\frac{{x}}{{{a}}} + {b} = {c}$.".replace("+ -", "- "),
            f"Subtract ${b}$: $\\frac{{x}}{{{a}}} = {c - b}$. Multiply by ${a}$: $x = \\boxed{{{a * (c - b)}}}$.")


def _en_odd_sum(r: Random):
    n = r.randint(5, 5000)
    return (f"What is the sum of the first ${n}$ positive odd integers?",
            f"The sum of the first $n$ odd integers is $n^2$, so the answer is ${n}^2 = \\boxed{{{n * n}}}$.")


def _en_quadratic_value(r: Random):
    a, b, c, k = r.randint(1, 9), r.randint(-20, 20), r.randint(-50, 50), r.randint(-10, 10)
    return (f"If $f(x) = {a}x^2 + {b}x + {c}$, what is $f({k})$?".replace("+ -", "- "),
            f"$f({k}) = {a}({k})^2 + ({b})({k}) + ({c}) = \\boxed{{{a * k * k + b * k + c}}}$.")


def _en_ratio(r: Random):
    a, b = r.randint(1, 12), r.randint(1, 12)
    n = (a + b) * r.randint(2, 40)
    return (f"The ratio of boys to girls in a class is ${a}:{b}$. If there are ${n}$ students in the class, how many girls are there?",
            f"The girls are $\\frac{{{b}}}{{{a + b}}}$ of the class, so there are $\\frac{{{b}}}{{{a + b}}} \\cdot {n} = \\boxed{{{n * b // (a + b)}}}$ girls.")


def _en_triangle_angle(r: Random):
    a, b = r.randint(10, 120), r.randint(10, 120)
    if a + b >= 179:
        a, b = a // 2, b // 2
    return (f"Two angles of a triangle measure ${a}^\\circ$ and ${b}^\\circ$. What is the measure, in degrees, of the third angle?",
            f"The angles of a triangle sum to $180^\\circ$, so the third angle is $180 - {a} - {b} = \\boxed{{{180 - a - b}}}$.")


def _en_geometric(r: Random):
    a, q, n = r.randint(1, 20), r.randint(2, 5), r.randint(3, 12)
    return (f"What is the sum of the first ${n}$ terms of the geometric series ${a} + {a * q} + {a * q * q} + \\cdots$?",
            f"The sum is ${a} \\cdot \\frac{{{q}^{{{n}}} - 1}}{{{q} - 1}} = \\boxed{{{a * (q ** n - 1) // (q - 1)}}}$.")


ENGLISH_TEMPLATES = [_en_remainder, _en_divisor_sum, _en_linear, _en_multiples, _en_sum_diff, _en_binom, _en_gcd,
                     _en_lcm, _en_rectangle, _en_ceil, _en_diff_squares, _en_mean_removed, _en_arith_seq,
                     _en_percent, _en_frac_eq, _en_odd_sum, _en_quadratic_value, _en_ratio, _en_triangle_angle,
                     _en_geometric]


def english_problems(count: int, rng: Random) -> list[tuple[str, str]]:
    seen, out, misses = set(), [], 0
    while len(out) < count:
        problem, solution = ENGLISH_TEMPLATES[len(out) % len(ENGLISH_TEMPLATES)](rng)
        if problem in seen:
            misses += 1
            if misses > 100_000:  # the templates' value space is spent (scale 10): the rest are copies
                return out + [out[int(rng.random() * len(out))] for _ in range(count - len(out))]
            continue
        seen.add(problem)
        out.append((problem, solution))
    return out


# --- the corpus -------------------------------------------------------------------------------------

def plan(scale: float) -> tuple[dict[str, int], dict[str, int], int, int]:
    """(unique per template, extra lines per template, English count, total lines) at `scale`."""
    s = lambda n: max(1, round(n * scale))  # noqa: E731
    unique = {k: s(v) for k, v in UNIQUE.items()}
    extra = {k: (round(v * scale) if k != "simplify" else max(SIMPLIFY_TOP - 1, round(v * scale)) if scale >= 1 else round(v * scale))
             for k, v in EXTRA.items()}
    chinese = round(CHINESE_LINES * scale)
    left = chinese - sum(unique.values()) - sum(extra.values())
    arith = ["add", "sub", "mul", "div"]
    for i, k in enumerate(arith):
        extra[k] = max(0, left // 4 + (1 if i < left % 4 else 0))
    english = s(ENGLISH)
    return unique, extra, english, sum(unique.values()) + sum(extra.values()) + english


def make_corpus(out: Path, seed: int = 0, scale: float = 1.0, quiet: bool = False) -> dict:
    rules = load_rules()
    unique, extra, english, total = plan(scale)
    rng = Random(f"corpus/{seed}")
    lines: list[str] = []
    for t in rules.templates:
        gen = TemplateGenerator(t, seed, SynthSettings(split="any", allow_implausible=(t.name == "discount")))
        # beyond a template's value space (equation has 40,200 problems) its unique count is capped and
        # its lines are filled with copies, so the file keeps its line count and template mix
        pairs = gen.generate(unique[t.name], max_misses=200_000, strict=False)
        rows = [json.dumps({"problem": p, "solution": s}, ensure_ascii=False) for p, s in pairs]
        copies = []
        n_extra = extra[t.name] + unique[t.name] - len(rows)
        if t.name == "simplify" and n_extra >= SIMPLIFY_TOP - 1 and rows:
            copies += [rows[0]] * (SIMPLIFY_TOP - 1)
            n_extra -= SIMPLIFY_TOP - 1
            pool = rows[1:] or rows
        else:
            pool = rows
        copies += [pool[int(rng.random() * len(pool))] for _ in range(n_extra)]
        lines += rows + copies
        if not quiet:
            print(f"{t.name:10s} unique {len(rows):7d}  lines {len(rows) + len(copies):7d}", file=sys.stderr)
    rng.shuffle(lines)
    en = english_problems(english, Random(f"english/{seed}"))
    lines += [json.dumps({"problem": p, "solution": s}, ensure_ascii=False) for p, s in en]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    return {"lines": len(lines), "unique": len(set(lines)), "english": english, "path": str(out)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the real counts (e.g. 0.01 for a quick file)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    info = make_corpus(args.out, args.seed, args.scale, args.quiet)
    print(f"wrote {info['path']}: {info['lines']:,} lines, {info['unique']:,} unique problems "
          f"({info['english']:,} English) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
