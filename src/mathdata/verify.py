"""Re-solve every template record from its own numbers and compare with its label.

Status per record (fixed strings, with a reason):
- verified      the solution's final value equals the exact answer within the precision it shows
- wrong         it does not (reasons: answer_mismatch, no_answer_in_solution, restated_numbers_differ,
                not_lowest_terms)
- implausible   the problem's numbers meet a template's `implausible` rule (reason from the rule)
- unverifiable  no template matched, or the answer is undefined (reason: no_template, undefined_answer,
                equation_unparsed)

Word-problem corpora that carry an `equation` field are re-solved from that equation instead of a
template (reasons: verified, equation_mismatch; unverifiable: equation_unparsed, answer_unparsed,
answer_count, system_unconfirmed): Math23K/Ape210K's expression of the answer ("x=(11-1)*2") with
answers written `((7)/(15))`, `19((3)/(4))`, `5(1/3)`, `30%`, `12,000` or as an expression (列式:
`(45+39)/(45-39)`), and HMWP's systems ("x + y = 35 ; 2*x + 4*y = 94") with list answers `[23, 12]`
(equations.py). GSM8K-style solutions have every `<<expr=result>>` calculator annotation checked
(reason: calculation_mismatch).

Tolerance respects the precision the solution shows. When the exact answer fits in the places shown
(a sum of two 2-decimal numbers), the printed value must equal it: "1835.06" for 1835.05 is wrong.
When it does not fit (a quotient, a root), the printed value must be the exact answer rounded
(half-even or half-up) or truncated to the places shown: real data does both
("-0.8961641" for -0.89616416...). Either way a double-precision difference (2^-50 relative) is
allowed, because much of the real data was printed from Python floats ("47.666666666666664").
"""
from __future__ import annotations

import decimal
import re
from array import array
from decimal import Decimal
from fractions import Fraction
from typing import Iterator

import numpy as np
import polars as pl

from .answers import answer_list, extract_answer, is_expression, paren_value, parse_number
from .equations import equation_value, is_system, orders, parse_system, root_near, satisfied, solve_linear
from .formula import CONTEXT, evaluate_at
from .keys import group_ids, placed
from .limits import default_limits
from .normalize import normalize_series, normalize_text
from .rules import Rules, Template

STATUSES = ("verified", "wrong", "implausible", "unverifiable")   # every record gets one (see above)
DOUBLE_REL = Decimal(2) ** -50
_ROUNDINGS = (decimal.ROUND_HALF_EVEN, decimal.ROUND_HALF_UP, decimal.ROUND_DOWN)
_NUM_IN_LIST = re.compile(r"-?\d+(?:\.\d+)?")
_DIGIT_RUN = re.compile(r"\d+")
_LIMITS = default_limits()


def slot_values(t: Template, captures) -> dict:
    """The slots' values (Decimal, or a list of Decimals) from a problem's captures: a regex match, or
    a dict slot name -> captured text."""
    get = captures.__getitem__ if type(captures) is dict else captures.group
    env = {}
    for slot in t.slots:
        raw = get(slot.name)
        env[slot.name] = [Decimal(x) for x in _NUM_IN_LIST.findall(raw)] if slot.kind == "list" else Decimal(raw)
    return env


def exact_answer(t: Template, env: dict, prec: int | None = None):
    """The template's answer for these slot values (Decimal or Fraction), or None if undefined
    (also beyond rules/limits.toml: an overflow is never Infinity). `prec`: more significant digits."""
    try:
        return evaluate_at(t.evaluate, env, prec) if prec else t.evaluate(env)
    except (ArithmeticError, ValueError, RecursionError):  # ArithmeticError: decimal's, LimitExceeded
        return None


def _significant(text: str) -> int:
    """Significant digits of a printed number (for deciding the precision it must be checked at)."""
    digits = "".join(c for c in text.split("e")[0].split("E")[0] if c.isdigit())
    return len(digits.lstrip("0"))


def _precision_for(shown: str | None) -> int | None:
    """A precision for re-evaluating when the printed answer has more digits than 120 can check."""
    if shown is None or len(shown) <= CONTEXT.prec - 20:   # too short to hold that many digits
        return None
    n = _significant(shown)
    return n + 20 if n > CONTEXT.prec - 20 else None


def _too_long(text: str) -> bool:
    """A number with more digits than rules/limits.toml numbers.digits (checked in linear time)."""
    return len(text) > _LIMITS.digits and any(len(run) > _LIMITS.digits for run in _DIGIT_RUN.findall(text))


def implausible_reason(t: Template, env: dict, answer) -> str | None:
    for rule in t.implausible:
        try:
            if rule.test({**env, "answer": answer if answer is not None else Decimal(0)}):
                return rule.reason
        except (ArithmeticError, TypeError):
            continue
    return None


def parse_value(text: str) -> Decimal | Fraction | None:
    text = text.replace(",", "").strip()
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return Fraction(int(num), int(den))
        return Decimal(text)
    except (ValueError, ZeroDivisionError, decimal.InvalidOperation):
        return None


def matches_shown(exact, shown_text: str) -> bool:
    """Is the printed value `shown_text` the exact value `exact`, to the precision it shows?
    Never for an overflow or NaN on either side; a printed value beyond the context is no match."""
    try:
        shown = parse_value(shown_text)
        if shown.__class__ is Decimal:  # the common case first: both plain decimals
            if exact.__class__ is Decimal:
                if shown == exact:
                    return exact.is_finite()
                if not (exact.is_finite() and shown.is_finite()):
                    return False
                return _decimal_matches(exact, shown, shown_text)
            if not shown.is_finite():
                return False
        return _matches_shown(exact, shown, shown_text)
    except (ArithmeticError, ValueError):  # 1e999999999 and the like
        return False


def _matches_shown(exact, shown, shown_text: str) -> bool:
    if exact.__class__ is Decimal and not exact.is_finite():
        return False
    if shown is None and exact is not None:  # \frac{5}{6}, 1,234.5 ...: the shared parser reads it
        from .answers import parse_number
        value = parse_number(shown_text)
        if value is None:
            return False
        if isinstance(exact, Fraction):
            return value == exact
        return abs(Decimal(value.numerator) / Decimal(value.denominator) - exact) <= abs(exact) * DOUBLE_REL
    if shown is None or exact is None:
        return False
    if isinstance(shown, Fraction) and isinstance(exact, Fraction):
        return shown == exact
    if isinstance(shown, Fraction) or isinstance(exact, Fraction):  # 1/3 against 0.333... (120 digits)
        return abs(Fraction(shown) - Fraction(exact)) <= abs(Fraction(exact)) * Fraction(DOUBLE_REL)
    if shown == exact:
        return True
    return _decimal_matches(exact, shown, shown_text)


def _decimal_matches(exact: Decimal, shown: Decimal, shown_text: str) -> bool:
    digits = shown.as_tuple()
    # the float tolerance is for values printed from a double (at most 17 significant digits)
    if len(digits.digits) <= 17 and abs(shown - exact) <= abs(exact) * DOUBLE_REL:
        return True
    unit = Decimal(1).scaleb(digits.exponent)
    context = CONTEXT
    if len(digits.digits) > CONTEXT.prec - 20:  # a long printed value: round the exact one that precisely
        context = CONTEXT.copy()
        context.prec = len(digits.digits) + 20
    try:
        return any(shown == exact.quantize(unit, rounding=r, context=context) for r in _ROUNDINGS)
    except decimal.InvalidOperation:  # a quantum far outside the answer's magnitude
        return False


def _close(value, shown: Fraction) -> bool:
    """An exact printed value (a fraction, a mixed number, an expression's value) against the answer."""
    return abs(Fraction(value) - shown) <= abs(shown) * Fraction(DOUBLE_REL)


def _shown_matches(value, shown: str) -> bool:
    """One printed answer of a corpus (any of its forms) against the exact value."""
    exact_form = paren_value(shown) if "(" in shown else None
    if exact_form is not None:
        return _close(value, exact_form)
    if is_expression(shown):          # Ape210K's 列式 answers: the expression itself
        shown_value = equation_value(shown)
        return shown_value is not None and _close(value, Fraction(shown_value))
    if isinstance(value, Fraction) and parse_value(shown) is not None and "/" not in shown:
        value = CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))  # so rounding applies
    ok = matches_shown(value, shown)
    if not ok and shown.rstrip().endswith("%"):  # "25%" for an equation worth 25 or 0.25
        ok = matches_shown(value, shown.rstrip()[:-1]) or matches_shown(value * 100, shown.rstrip()[:-1])
    return ok


def denoised(shown: str) -> str | None:
    """A value printed from a float with binary noise (`0.16699999999999998`, 17 significant digits)
    as the value meant (`0.167`: 12 significant digits, zeros stripped); None when it has no noise."""
    value = parse_value(shown)
    if not isinstance(value, Decimal) or _significant(shown) < 16:
        return None
    text = format(CONTEXT.plus(value).quantize(Decimal(1).scaleb(value.adjusted() - 11)).normalize(), "f")
    return text if text != shown else None


def _system_matches(value, shown: str) -> bool:
    """A printed answer of a system: at its precision, its float noise removed, or as a percentage
    without its sign (HMWP writes a rate of 0.2 as 20)."""
    for text in filter(None, (shown, denoised(shown))):
        if _shown_matches(value, text) or _shown_matches(Fraction(value) * 100, text):
            return True
    return False


def _root_near(system, shown: str) -> bool:
    for text in filter(None, (shown, denoised(shown))):
        v = parse_number(text)
        if v is not None and (root_near(system, v, _half_unit(text)) or root_near(system, v / 100, _half_unit(text) / 100)):
            return True
    return False


def _half_unit(shown: str) -> Fraction:
    exp = Decimal(shown.replace(",", "")).as_tuple().exponent if parse_value(shown) is not None else 0
    return Fraction(1, 2) * Fraction(10) ** exp if isinstance(exp, int) else Fraction(0)


def verify_system(equation: str, solution: str) -> tuple[str, str]:
    """HMWP-style: equations in unknowns and a list answer. Linear square systems are solved exactly and
    each printed value compared at its precision; otherwise the printed values are put into the
    equations (one unknown: each value must be a root, to its printed precision)."""
    system = parse_system(equation)
    if system is None:
        return "unverifiable", "equation_unparsed"
    texts = answer_list(solution) or ([solution.strip()] if parse_number(solution) is not None else None)
    if not texts:
        return "unverifiable", "answer_unparsed"
    values = [parse_number(t) for t in texts]
    k = len(system.names)
    exact = solve_linear(system)
    if exact is not None:
        if len(texts) > k:
            return "wrong", "equation_mismatch"
        sol = dict(zip(system.names, exact))
        for order in orders(system.names, len(texts)):
            if all(_system_matches(sol[n], t) for n, t in zip(order, texts)):
                return "verified", "verified"
        return "wrong", "equation_mismatch"
    if k == 1:
        ok = all(_root_near(system, t) for t in texts)
        return ("verified", "verified") if ok else ("wrong", "equation_mismatch")
    if len(texts) != k:
        return "unverifiable", "answer_count"
    if any(satisfied(system, dict(zip(order, values))) for order in orders(system.names, k)):
        return "verified", "verified"
    return "unverifiable", "system_unconfirmed"   # a nonlinear or singular system, values not exact: undecided


def verify_equation(equation: str, solution: str) -> tuple[str, str]:
    """A corpus record with an `equation`: the expression of the answer (Math23K, Ape210K) or a system of
    equations (HMWP). Every answer form of those corpora is read exactly (answers.py)."""
    if _too_long(equation) or _too_long(solution):
        return "unverifiable", "number_too_long"
    if re.fullmatch(r"\[\s*\]", solution.strip()):
        return "wrong", "no_answer_in_solution"   # HMWP's empty answer lists
    if is_system(equation):
        return verify_system(equation, solution)
    shown = solution.strip()
    listed = answer_list(shown)
    if listed is not None:
        if len(listed) != 1:
            return "unverifiable", "answer_count"
        shown = listed[0]
    if not (paren_value(shown) if "(" in shown else None) and not is_expression(shown):
        shown = extract_answer(shown)
        if shown is None:
            return "wrong", "no_answer_in_solution"
    value = equation_value(equation, _precision_for(shown))
    if value is None:
        return "unverifiable", "equation_unparsed"
    return ("verified", "verified") if _shown_matches(value, shown) else ("wrong", "equation_mismatch")


_CALC = re.compile(r"<<([^<>=]+)=([^<>]+)>>")  # GSM8K's calculator annotations: <<48/2=24>>


def verify_calculations(solution: str) -> tuple[str, str] | None:
    """Check every `<<expr=result>>` in a solution exactly; None if it has none."""
    if "<<" not in solution:
        return None
    if _too_long(solution):
        return "unverifiable", "number_too_long"
    calcs = _CALC.findall(solution)
    if not calcs:
        return None
    for expr, result in calcs:
        value = equation_value(expr, _precision_for(result))
        if value is None:
            return "unverifiable", "equation_unparsed"
        if not matches_shown(value, result.strip()):
            return "wrong", "calculation_mismatch"
    return "verified", "verified"


def verify_record(t: Template, norm_problem: str, solution: str) -> tuple[str, str]:
    """One record against its template (the batch path, `verify`, matches the regexes in polars)."""
    m = t.problem_pattern.match(norm_problem)
    if m is None:
        return "unverifiable", "no_template"
    return check_captured(t, m.groupdict(), solution, _LAZY)


_LAZY = object()   # check_captured matches the solution itself, and only when it gets that far


def check_captured(t: Template, slots: dict, solution: str, solution_groups) -> tuple[str, str]:
    """A record whose problem matched `t` with these slot captures. `solution_groups`: the groups of
    `t.solution_pattern` on the normalised solution (None when it does not match), or _LAZY."""
    env = slot_values(t, slots)
    answer = exact_answer(t, env)
    reason = implausible_reason(t, env, answer)
    if reason:
        return "implausible", reason
    if answer is None:
        return "unverifiable", "undefined_answer"
    if len(solution) > _LIMITS.digits and _too_long(solution):
        return "unverifiable", "number_too_long"
    if solution_groups is _LAZY:
        sm = t.solution_pattern.match(normalize_text(solution))
        solution_groups = sm.groupdict() if sm is not None else None
    if solution_groups is not None:
        for name, value in solution_groups.items():
            if name != "answer" and name in env and not isinstance(env[name], list) and Decimal(value) != env[name]:
                return "wrong", "restated_numbers_differ"
        shown = solution_groups["answer"]
    else:
        shown = extract_answer(solution)
        if shown is None:
            return "wrong", "no_answer_in_solution"
    prec = _precision_for(shown) if len(shown) > CONTEXT.prec - 20 else None
    if prec:  # printed with more digits than 120 can check: compute it that precisely
        answer = exact_answer(t, env, prec)
        if answer is None:
            return "unverifiable", "undefined_answer"
    if not matches_shown(answer, shown):
        return "wrong", "answer_mismatch"
    if t.answer_format == "fraction" and "/" in shown:
        value = parse_value(shown)
        num, den = (int(x) for x in shown.split("/"))
        if isinstance(value, Fraction) and (num, den) != (value.numerator, value.denominator):
            return "wrong", "not_lowest_terms"
    return "verified", "verified"


_MATCHED = "_matched"   # an outer group around a template regex: present exactly when it matched


def _work_parts(keys: pl.DataFrame, templates: dict) -> Iterator[tuple[np.ndarray, Template, pl.DataFrame]]:
    """Per template that has keys (template, norm, solution): the keys' positions and a frame of the
    solution, `p.<slot>` the problem's captures and `s.<group>` the normalised solution's (null where
    the regex does not match; `p._matched`/`s._matched` tell). The regexes run in polars, once per
    distinct key; Python then only does arithmetic. Made one template at a time (only one exists at
    once), each one contiguous frame, so workers can slice it without polars' thread pool."""
    for name, t in templates.items():
        rows = (keys["template"] == name).arg_true()
        if not len(rows):
            continue
        solutions = keys["solution"].gather(rows)
        p = keys["norm"].gather(rows).str.extract_groups(f"(?P<{_MATCHED}>{t.problem_regex})").struct.unnest()
        sol = normalize_series(solutions).str.extract_groups(f"(?P<{_MATCHED}>{t.solution_regex})").struct.unnest()
        work = pl.concat([solutions.to_frame(), p.select(pl.all().name.prefix("p.")),
                          sol.select(pl.all().name.prefix("s."))], how="horizontal").rechunk()
        yield rows.to_numpy(), t, work


def _verify_rows(work: pl.DataFrame, t: Template) -> tuple[list, list]:
    """(status, reason) of each row of one template's `_work_parts` frame. Rows are read one small
    batch at a time (`iter_rows`), so a large input never exists as Python objects all at once. Runs
    in forked workers too, so it may call no parallel polars operation (a forked child has no polars
    thread pool: it would wait forever) -- slice and iter_rows are serial."""
    names = work.columns
    p_matched, s_matched = names.index(f"p.{_MATCHED}"), names.index(f"s.{_MATCHED}")
    slot_fields = [(s.name, names.index(f"p.{s.name}")) for s in t.slots]
    sol_fields = [(g, names.index(f"s.{g}")) for g in t.solution_pattern.groupindex]
    statuses, reasons = [], []
    for row in work.iter_rows():
        if row[p_matched] is None:
            status, reason = "unverifiable", "no_template"
        else:
            groups = {g: row[i] for g, i in sol_fields} if row[s_matched] is not None else None
            status, reason = check_captured(t, {n: row[i] for n, i in slot_fields}, row[0], groups)
        statuses.append(status)
        reasons.append(reason)
    return statuses, reasons


_WORK: tuple = ()  # (template, frame) handed to forked workers without pickling them


def _verify_slice(bounds: tuple[int, int]) -> tuple[list, bytes]:
    """A worker's share, sent back compactly: its distinct (status, reason) pairs and a 32-bit code
    per row naming its pair (millions of separately unpickled strings would cost the driver gigabytes)."""
    t, work = _WORK
    statuses, reasons = _verify_rows(work.slice(bounds[0], bounds[1] - bounds[0]), t)
    pairs: dict[tuple, int] = {}
    codes = array("I", [pairs.setdefault(pr, len(pairs)) for pr in zip(statuses, reasons)])
    return list(pairs), codes.tobytes()


def _decode(pairs: list, codes: bytes) -> tuple[pl.Series, pl.Series]:
    picked, index = pl.Series(np.frombuffer(codes, dtype=np.uint32)), list(range(len(pairs)))
    return (picked.replace_strict(index, [p[0] for p in pairs], return_dtype=pl.String),
            picked.replace_strict(index, [p[1] for p in pairs], return_dtype=pl.String))


def _verify_part(t: Template, work: pl.DataFrame, workers: int) -> tuple[pl.Series, pl.Series]:
    """Status and reason of each row of one template's frame; over `workers` forked processes when
    it is large (the frame reaches them by fork, only codes travel back)."""
    if workers <= 1 or work.height <= 50_000:   # below that, starting processes costs more than it saves
        statuses, reasons = _verify_rows(work, t)
        return pl.Series(statuses, dtype=pl.String), pl.Series(reasons, dtype=pl.String)
    global _WORK
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    step = -(-work.height // workers)
    _WORK = (t, work)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            decoded = [_decode(*r) for r in pool.map(_verify_slice, [(i, i + step) for i in range(0, work.height, step)])]
    finally:
        _WORK = ()
    return pl.concat([d[0] for d in decoded]), pl.concat([d[1] for d in decoded])


def verify(df: pl.DataFrame, rules: Rules, workers: int = 1) -> pl.DataFrame:
    """Add `status` and `reason` to a classified frame (columns template, norm, solution).
    Each distinct (template, problem, solution) is checked once (keys.group_ids), its template's
    regexes run in polars (`_work_parts`); large inputs are split over `workers` forked processes."""
    groups = group_ids(df, ["template", "norm", "solution"])   # rows without a template form groups too
    keys = groups.firsts(df.select("template", "norm", "solution"))
    templates = {t.name: t for t in rules.templates}
    rows, status, reason = [], [], []
    for key_rows, t, work in _work_parts(keys, templates):   # (only keys with a template)
        part_status, part_reason = _verify_part(t, work, workers)
        rows.append(key_rows)
        status.append(part_status)
        reason.append(part_reason)
    del keys
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    status = pl.concat(status) if status else pl.Series([], dtype=pl.String)
    reason = pl.concat(reason) if reason else pl.Series([], dtype=pl.String)
    # each key's result, back on its rows by position (rows without a template stay null)
    out = df.with_columns(status=groups.spread(placed(groups.count, rows, status.alias("status"))),
                          reason=groups.spread(placed(groups.count, rows, reason.alias("reason"))))
    calc = (out.filter(pl.col("template").is_null() & pl.col("solution").str.contains("<<", literal=True))
            .select("solution").unique(maintain_order=True))
    if calc.height:
        checked = [verify_calculations(sol) or (None, None) for sol in calc["solution"]]
        calc = calc.with_columns(_s=pl.Series([c[0] for c in checked], dtype=pl.String),
                                 _r=pl.Series([c[1] for c in checked], dtype=pl.String))
        out = out.join(calc, on="solution", how="left", maintain_order="left")
        out = out.with_columns(status=pl.coalesce("status", "_s"), reason=pl.coalesce("reason", "_r")).drop("_s", "_r")
    if "equation" in out.columns:
        eq = (out.filter(pl.col("template").is_null() & pl.col("equation").is_not_null())
              .select("equation", "solution").unique(maintain_order=True))
        if eq.height:
            checked = [verify_equation(e, sol) for e, sol in eq.rows()]
            eq = eq.with_columns(_s=pl.Series([c[0] for c in checked], dtype=pl.String),
                                 _r=pl.Series([c[1] for c in checked], dtype=pl.String))
            out = out.join(eq, on=["equation", "solution"], how="left", maintain_order="left", nulls_equal=False)
            out = out.with_columns(status=pl.coalesce("status", "_s"), reason=pl.coalesce("reason", "_r")).drop("_s", "_r")
    return out.with_columns(status=pl.col("status").fill_null("unverifiable"),
                            reason=pl.col("reason").fill_null("no_template"))
