"""Final-answer extraction and comparison for arithmetic problems (stdlib only).

Shared by the math scorer (`mathtrain score math`) and the data layer's verifier, so a model output and
a reference solution are always read by the same rules.

`extract_answer(text)` returns the answer as a short string, or None when the text holds none. It first
maps full-width characters to ASCII (`１２３．５` -> `123.5`, `：` -> `:`, `－` and the minus sign `−` ->
`-`), then tries, in this order, and the first rule that yields something wins:

1. **Answer phrase** -- the *last* `答案：` / `答案:` / `答案是` / `答案为` (or English `answer:` /
   `answer is`). Its segment runs to the end of that line (the next non-empty line if the marker ends
   its line) and, unless it holds a box, only to the end of its sentence (`。`, `；`, `. `, or a comma
   not followed by a digit group). Inside the segment: a `\\boxed{}`, else a trailing `= VALUE`, else
   the *first* number, else the segment text itself (so `答案：无解` gives `无解`).
2. **`\\boxed{...}`** -- the last one, nested braces handled (`\\boxed{\\frac{1}{2}}`); a number inside is
   returned as that number, anything else as the box's text. An unclosed box (truncated output) is
   ignored.
3. **`= VALUE` at the end** -- the last `=` (or `≈`) in the text, followed by one number and then no
   further digits (unit words such as `平方厘米` may follow): `√5636.97 = 75.0797` -> `75.0797`.
4. **The last number** in the text.

A *number* is any of: an integer or decimal (`42`, `-3.5`, `.5`), with thousands separators (`1,234.5`;
groups of exactly three digits), scientific notation (`2.7E+34`, `1e-5`, `3.1 \\times 10^{5}`), a
fraction `5/6`, a LaTeX fraction `\\frac{5}{6}` / `-\\dfrac{1}{2}` / `\\frac56`, or a percentage `12.5%`.
A `-` is a sign only when it touches the digits and does not follow a digit, letter or closing bracket
(`10-3` is 10 and 3; `= -3` is -3).

`parse_number(s)` gives the exact value (`fractions.Fraction`) of a string that is one such number
(surrounding spaces, `$`, and trailing `.`/`。` allowed); percentages are divided by 100. It also reads
the answer forms of word-problem corpora (`paren_value`): fractions in parentheses `(7/15)`,
`((7)/(15))`, `(7)/(15)`, and mixed numbers `5(1/3)`, `19((3)/(4))`, `-1(1/2)` (the sign applies to
the whole number).

`answer_list(s)` splits a list answer (`[23, 12]`, `23; 12`) into its values' texts;
`is_expression(s)` tells an arithmetic expression given as the answer (`(45+39)/(45-39)`, Ape210K's
列式 questions) from a number.

`answers_match(pred, ref, rel_tol=1e-4, abs_tol=None)`:
- a missing or empty prediction is wrong;
- if both parse as numbers: when the reference is written as a fraction (`5/6`, `\\frac{5}{6}`) the
  values must be equal exactly (`10/12` matches, `0.8333` does not); otherwise
  `|p - r| <= max(rel_tol * max(|p|, |r|), abs_tol or 0)`, computed exactly (so `abs_tol=1e-2` gives the
  contest competitors' `np.isclose(atol=1e-2)`-style leniency on top of the relative tolerance);
  a percentage on either side may also be read without its `%` (`-462.5%` matches `-462.5`);
- if neither parses, the texts are compared after removing spaces, `$`, `\\left`/`\\right` and trailing
  punctuation, case-insensitively; if only one parses, no match.
"""
from __future__ import annotations

import re
from fractions import Fraction

from .fullwidth import TABLE as _FULLWIDTH_TABLE

__all__ = ["extract_answer", "parse_number", "answers_match", "to_ascii", "paren_value", "answer_list",
           "is_expression"]

# --- full-width -> ASCII, plus the minus signs models print ------------------------------------------
_TO_ASCII = {**_FULLWIDTH_TABLE, 0x2212: 0x2D, 0xFE63: 0x2D, 0x2013: 0x2D}


def to_ascii(text: str) -> str:
    """Full-width digits, letters and punctuation to ASCII; Unicode minus signs to `-`."""
    return text.translate(_TO_ASCII)


# --- the number grammar ------------------------------------------------------------------------------
_SIGN = r"(?:(?<![0-9A-Za-z)\]}])[-+])?"
_UNSIGNED = r"(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_EXP = r"(?:[eE][-+]?\d+(?![\d.])|\s*(?:\\times|×|\\cdot)\s*10\^(?:\{\s*[-+]?\d+\s*\}|[-+]?\d+))"
_DEC = rf"{_UNSIGNED}{_EXP}?"
_LATEX_FRAC = r"\\[dt]?frac\s*(?:\{\s*-?\s*" + _DEC + r"\s*\}\s*\{\s*-?\s*" + _DEC + r"\s*\}|\d\d)"
_PLAIN_FRAC = r"\d+(?:\.\d+)?/\d+(?:\.\d+)?(?![\d/])"
_PERCENT_TAIL = r"(?:\s?(?:\\?%))?"
NUMBER_RE = re.compile(
    rf"(?<![\d.]){_SIGN}(?:{_LATEX_FRAC}|{_PLAIN_FRAC}|{_DEC}{_PERCENT_TAIL})"
)
_LATEX_FRAC_PARTS = re.compile(
    r"^([-+]?)\\[dt]?frac\s*(?:\{\s*(-?)\s*([^{}]+?)\s*\}\s*\{\s*(-?)\s*([^{}]+?)\s*\}|(\d)(\d))$"
)
_TIMES_TEN = re.compile(r"^(.*?)\s*(?:\\times|×|\\cdot)\s*10\^(?:\{\s*([-+]?\d+)\s*\}|([-+]?\d+))$")
_MAX_EXPONENT = 10000  # refuse absurd exponents rather than build a gigantic integer

_MARKER_RE = re.compile(r"答案\s*(?:[是为]\s*[:]?|[:])|\banswer\s*(?:is\s*[:]?|[:])", re.IGNORECASE)
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")
_EQ_RE = re.compile(r"[=≈]")
_DIGIT_RE = re.compile(r"\d")
# the answer phrase ends at the end of its sentence: 。 ； ; a comma not followed by a digit group, ". "
_SENTENCE_END = re.compile(r"[。；;]|,(?!\d{3})|\.(?=\s|$)")


def _clean(s: str) -> str:
    s = s.strip().strip("$").strip()
    s = s.rstrip(" \t.。,，;；!！?？").strip().strip("$").strip()
    return s


def _strip_units(s: str) -> str:
    s = re.sub(r"\\(?:text|mbox|mathrm)\s*\{[^{}]*\}\s*$", "", s).strip()
    s = re.sub(r"(?:\^\s*\{?\\circ\}?|°)$", "", s).strip()
    return s


def _decimal_value(s: str) -> Fraction | None:
    s = s.replace(",", "").replace(" ", "")
    m = _TIMES_TEN.match(s)
    if m:
        base = _decimal_value(m.group(1))
        exp = int(m.group(2) or m.group(3))
        if base is None or abs(exp) > _MAX_EXPONENT:
            return None
        return base * Fraction(10) ** exp
    mexp = re.search(r"[eE]([-+]?\d+)$", s)
    if mexp and abs(int(mexp.group(1))) > _MAX_EXPONENT:
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _token_value(tok: str) -> Fraction | None:
    """Exact value of one token matched by NUMBER_RE."""
    tok = tok.strip()
    m = _LATEX_FRAC_PARTS.match(tok)
    if m:
        sign, nsign, num, dsign, den, d1, d2 = m.groups()
        if d1 is not None:
            n, d = Fraction(int(d1)), Fraction(int(d2))
        else:
            n, d = _decimal_value(num), _decimal_value(den)
            if n is None or d is None:
                return None
            n = -n if nsign else n
            d = -d if dsign else d
        if d == 0:
            return None
        value = n / d
        return -value if sign == "-" else value
    percent = tok.endswith("%")
    if percent:
        tok = tok.rstrip("%").rstrip("\\").strip()
    if "/" in tok:
        num, _, den = tok.partition("/")
        n, d = _decimal_value(num), _decimal_value(den)
        if n is None or d is None or d == 0:
            return None
        value = n / d
    else:
        value = _decimal_value(tok)
    if value is None:
        return None
    return value / 100 if percent else value


def _is_fraction_form(s: str) -> bool:
    return ("/" in s or "frac" in s) and not s.rstrip().endswith("%")


def _is_percent(s: str) -> bool:
    return s.rstrip().endswith("%")


def parse_number(s: str | None) -> Fraction | None:
    """The exact value of a string that is a single number (see module docstring), else None."""
    if s is None:
        return None
    t = _strip_units(_clean(to_ascii(s)))
    if not t:
        return None
    m = NUMBER_RE.fullmatch(t)
    if not m:
        return paren_value(t) if "(" in t else None
    return _token_value(t)


# --- answer forms of word-problem corpora -------------------------------------------------------------
_NUM_IN_PARENS = re.compile(r"\((-?\d+(?:\.\d+)?)\)")
_FRACTION_FORM = re.compile(r"(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")
_MIXED_FORM = re.compile(r"([-+]?)(\d+)\((\d+)/(\d+)\)")
_EXPRESSION = re.compile(r"[-+]?[\d.(]+(?:\s*(?:\*\*|[-+*/×÷^])\s*[-+]?[\d.()]+|\)|%)+")
_LIST_SPLIT = re.compile(r"\s*[;；，]\s*|,\s+|\s*,(?!\d{3}(?!\d))\s*")


def _unwrap(s: str) -> str:
    """Remove parentheses that enclose the whole text: ((7/15)) -> 7/15."""
    while s.startswith("(") and s.endswith(")"):
        depth = 0
        for i, ch in enumerate(s):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(s) - 1:
                return s
        s = s[1:-1].strip()
    return s


def paren_value(s: str) -> Fraction | None:
    """A fraction or mixed number written with parentheses (Math23K, Ape210K), else None."""
    t = to_ascii(s).replace(" ", "")
    if len(t) > 200:
        return None
    for _ in range(4):   # ((7))/((15)): numbers in parentheses lose them, innermost first
        t2 = _NUM_IN_PARENS.sub(r"\1", t)
        if t2 == t:
            break
        t = t2
    t = _unwrap(t)
    m = _FRACTION_FORM.fullmatch(t)
    if m:
        den = Fraction(m.group(2))
        return Fraction(m.group(1)) / den if den else None
    m = _MIXED_FORM.fullmatch(t)
    if m:
        sign, whole, num, den = m.groups()
        if int(den) == 0:
            return None
        value = int(whole) + Fraction(int(num), int(den))
        return -value if sign == "-" else value
    return None


def is_expression(s: str) -> bool:
    """An arithmetic expression (digits, + - * / × ÷ ^ %, parentheses) with at least one operation."""
    t = to_ascii(s).strip()
    return len(t) <= 500 and bool(_EXPRESSION.fullmatch(t)) and parse_number(t) is None


def answer_list(s: str) -> list[str] | None:
    """The value texts of a list answer (`[23, 12]`, `23; 12`, `23，12`), or None if `s` is no list."""
    t = to_ascii(s).strip()
    bracketed = t.startswith("[") and t.endswith("]")
    if bracketed:
        t = t[1:-1].strip()
    parts = [p for p in _LIST_SPLIT.split(t) if p]
    if not parts or (len(parts) == 1 and not bracketed):
        return None
    return parts if all(parse_number(p) is not None for p in parts) else None


def _numbers(text: str) -> list[re.Match]:
    return list(NUMBER_RE.finditer(text))


def _boxed(text: str) -> str | None:
    """Content of the last complete \\boxed{...} (nested braces), or None. Linear time."""
    boxes = list(_BOX_RE.finditer(text))
    if not boxes:
        return None
    closing: dict[int, int] = {}
    stack: list[int] = []
    for j, ch in enumerate(text):
        if ch == "{":
            stack.append(j)
        elif ch == "}" and stack:
            closing[stack.pop()] = j
    for m in reversed(boxes):
        i = m.end()
        if i < len(text) and text[i] == "{":
            if i in closing:
                return text[i + 1:closing[i]].strip()
            continue  # unclosed: try an earlier box
        nm = NUMBER_RE.match(text, i)
        if nm:
            return nm.group(0).strip()
    return None


def _from_box_content(content: str) -> str | None:
    if not content:
        return None
    c = _strip_units(_clean(content))
    if parse_number(c) is not None:
        return c
    after = _value_after_last_equals(c)
    if after is not None:
        return after
    return c or None


def _value_after_last_equals(text: str) -> str | None:
    """`... = VALUE` where VALUE is the only number after the last `=`/`≈` (unit words may follow)."""
    eqs = list(_EQ_RE.finditer(text))
    if not eqs:
        return None
    tail = text[eqs[-1].end():]
    m = NUMBER_RE.match(tail.lstrip(" \t$"), 0)
    if not m:
        return None
    rest = tail.lstrip(" \t$")[m.end():]
    if _DIGIT_RE.search(rest):
        return None
    return m.group(0).strip()


def _answer_segment(text: str) -> str | None:
    marks = list(_MARKER_RE.finditer(text))
    if not marks:
        return None
    rest = text[marks[-1].end():]
    lines = rest.split("\n")
    seg = lines[0].strip()
    if not _clean(seg):
        seg = next((ln.strip() for ln in lines[1:] if ln.strip()), "")
    if "\\boxed" in seg or "\\fbox" in seg:
        return seg
    return _SENTENCE_END.split(seg, maxsplit=1)[0].strip()


def extract_answer(text: str | None) -> str | None:
    """The final answer in a solution or model output (precedence in the module docstring)."""
    if not text:
        return None
    t = to_ascii(text)
    seg = _answer_segment(t)
    if seg is not None and _clean(seg):
        found = _value_in(seg, 0)   # after an answer marker: its first number
        return found if found is not None else (_clean(seg) or None)
    return _value_in(t, -1)         # the whole text: its last number


def _value_in(text: str, which: int) -> str | None:
    """A boxed answer, else the value after the last '=', else number `which` of `text` (None: none)."""
    box = _boxed(text)
    if box is not None:
        found = _from_box_content(box)
        if found:
            return found
    after = _value_after_last_equals(text)
    if after is not None:
        return after
    nums = _numbers(text)
    return nums[which].group(0).strip() if nums else None


def _canon_text(s: str) -> str:
    s = to_ascii(s)
    s = re.sub(r"\\left|\\right|\\[,!;]|\s+|\$", "", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return s.rstrip(".。,，;；").lower()


def _close(p: Fraction, r: Fraction, rel_tol: float, abs_tol: float | None) -> bool:
    if p == r:
        return True
    allowed = max(Fraction(rel_tol) * max(abs(p), abs(r)), Fraction(abs_tol or 0))
    return abs(p - r) <= allowed


def answers_match(pred: str | None, ref: str, rel_tol: float = 1e-4, abs_tol: float | None = None) -> bool:
    """Does the predicted answer equal the reference answer? (rules in the module docstring)"""
    if pred is None or not str(pred).strip() or ref is None:
        return False
    p, r = parse_number(pred), parse_number(ref)
    if p is None and r is None:
        a, b = _canon_text(pred), _canon_text(ref)
        return bool(a) and a == b
    if p is None or r is None:
        return False
    pred_values = [p, p * 100] if _is_percent(to_ascii(pred)) else [p]
    ref_values = [r, r * 100] if _is_percent(to_ascii(ref)) else [r]
    exact = _is_fraction_form(to_ascii(ref))
    for pv in pred_values:
        for rv in ref_values:
            if exact:
                if pv == rv:
                    return True
            elif _close(pv, rv, rel_tol, abs_tol):
                return True
    return False
