"""Robustness: limits as data, exact arithmetic that cannot overflow or run away, a verifier that
never calls a wrong answer verified, and data text shown literally (issue 12 items 2, 3, 4)."""
import json
import sys
import time
from decimal import Decimal

import pytest

from mathdata.formula import compile_formula
from mathdata.limits import load_limits
from mathdata.normalize import normalize_text
from mathdata.verify import exact_answer, verify_calculations, verify_equation, verify_record

from conftest import ROOT
from robust_helpers import SAMPLE, cli, snapshot


@pytest.fixture(scope="module")
def templates(rules):
    return {t.name: t for t in rules.templates}


def test_limits_come_from_rules_limits_toml(tmp_path):
    limits = load_limits()
    assert limits.path == str(ROOT / "rules" / "limits.toml")
    assert "records.per_quota" in limits.key("per_quota") and "limits.toml" in limits.key("per_quota")
    own = tmp_path / "limits.toml"
    own.write_text((ROOT / "rules" / "limits.toml").read_text(encoding="utf-8").replace(
        "per_quota = 2_000_000", "per_quota = 7"), encoding="utf-8")
    assert load_limits(tmp_path).per_quota == 7
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "limits.toml").write_text("[records]\nper_quota = -1\n", encoding="utf-8")
    from mathdata.errors import MathDataError
    with pytest.raises(MathDataError, match=r"limits.toml: records.per_quota = -1: must be a whole number >= 1"):
        load_limits(tmp_path / "bad")


def test_runaway_record_counts_stop_at_once(tmp_path, capsys):
    quota = tmp_path / "q.toml"
    quota.write_text("[quotas]\nadd = 1000000000000\n", encoding="utf-8")
    many = tmp_path / "many.toml"
    many.write_text("[quotas]\n" + "".join(f"{c} = 1500000\n" for c in ("add", "sub", "mul", "div")), encoding="utf-8")
    before = snapshot(tmp_path)
    start = time.monotonic()
    cli(capsys, "build", SAMPLE, "--quota", quota, "-o", tmp_path / "o", "-q").one_line_error(
        "quotas.add = 1,000,000,000,000", "records.per_quota")
    cli(capsys, "build", SAMPLE, "--quota", many, "-o", tmp_path / "o", "-q").one_line_error(
        "add up to 6,000,000", "records.total")
    cli(capsys, "synth", "-c", "add", "-n", "1000000000000", "-o", tmp_path / "x.jsonl", "-q").one_line_error(
        "--count 1,000,000,000,000", "records.per_quota")
    cli(capsys, "synth", "-c", "all", "-n", "1000000", "-o", tmp_path / "x.jsonl", "-q").one_line_error(
        "14,000,000 records", "records.total")
    assert time.monotonic() - start < 20 and snapshot(tmp_path) == before


def test_generator_loops_are_bounded_and_name_the_slot(tmp_path, capsys):
    start = time.monotonic()
    cli(capsys, "synth", "-c", "div", "--range", "b=0:0", "-n", "5", "-o", tmp_path / "x.jsonl").one_line_error(
        "slot 'b' must be non-zero but its range holds only 0")
    cli(capsys, "synth", "-c", "simplify", "--range", "b=0:0", "-n", "5", "-o", tmp_path / "x.jsonl").one_line_error(
        "slot 'b' must be non-zero")
    cli(capsys, "synth", "-c", "add", "--range", "a=0:1e400", "-o", tmp_path / "x.jsonl").one_line_error(
        "--range 'a=0:1e400': out of range")
    cli(capsys, "synth", "-c", "add", "--range", "a=0:inf", "-o", tmp_path / "x.jsonl").one_line_error(
        "expected SLOT=MIN:MAX")
    # every draw has an undefined answer (beyond numbers.result_digits): the template runs dry, not forever
    cli(capsys, "synth", "-c", "power", "--range", "a=900:999", "--range", "n=9000:9000", "-n", "3",
        "-o", tmp_path / "x.jsonl").one_line_error("template 'power': only 0 distinct problems found of 3")
    assert time.monotonic() - start < 30 and not (tmp_path / "x.jsonl").exists()


def test_huge_exponent_with_steps_is_dropped_not_grown(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(SAMPLE.read_text(encoding="utf-8")
                    + '{"problem": "计算 9.99 的 999999999999 次方？", "solution": "1"}\n'
                    + '{"problem": "计算 10 的 2000000 次方？", "solution": "0"}\n', encoding="utf-8")
    start = time.monotonic()
    run = cli(capsys, "build", data, "--quota", ROOT / "fixtures" / "build" / "quotas-tiny.toml", "-o",
              tmp_path / "o", "--style", "steps", "-q", "--workers", "1")
    assert run.code == 0, run.err
    assert time.monotonic() - start < 60
    dropped = [json.loads(x) for x in (tmp_path / "o" / "dropped.jsonl").read_text(encoding="utf-8").splitlines()]
    huge = {d["problem"]: (d["reason"], d["detail"]) for d in dropped
            if d["problem"] in ("计算 9.99 的 999999999999 次方？", "计算 10 的 2000000 次方？")}
    assert huge == {"计算 9.99 的 999999999999 次方？": ("unverifiable", "undefined_answer"),
                    "计算 10 的 2000000 次方？": ("unverifiable", "undefined_answer")}
    assert (tmp_path / "o" / "train.jsonl").stat().st_size < 1_000_000


def test_power_steps_write_a_bounded_working(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    run = cli(capsys, "synth", "-c", "power", "--style", "steps", "--range", "n=2000:2000", "--range", "a=1:2:2",
              "-n", "2", "-o", out, "-q")
    assert run.code == 0, run.err
    for rec in map(json.loads, out.read_text(encoding="utf-8").splitlines()):
        lines = rec["solution"].splitlines()
        assert len(lines) <= load_limits().power_step_lines + 4 and "再连乘" in rec["solution"]
        assert lines[-1].startswith("答案：")


@pytest.mark.parametrize("source", ["10 ** 2000000", "9 ** 9 ** 9 ** 9", "a ** b", "(a * 10) ** 9999",
                                    "sqrt(a) ** 99999999", "a ** b - a ** b"])
def test_formulas_never_evaluate_to_infinity(source):
    f = compile_formula(source, {"a", "b"}, "test")

    class T:
        evaluate = staticmethod(f)
    assert exact_answer(T, {"a": Decimal("9.99"), "b": Decimal("999999999999")}) is None


def test_the_verifier_never_calls_an_overflow_or_a_far_off_long_answer_verified(templates):
    sys.set_int_max_str_digits(0)  # only to write the test's own long numbers
    power = templates["power"]
    assert verify_record(power, normalize_text("计算 10 的 2000000 次方？"), "0")[0] == "unverifiable"
    assert verify_record(power, normalize_text("计算 10 的 2000000 次方？"), "1" + "0" * 200)[0] == "unverifiable"
    assert verify_calculations("先算 <<9**9**9**9=1>> 得 1")[0] == "unverifiable"
    assert verify_calculations("<<10^2000000=0>>")[0] == "unverifiable"
    assert verify_equation("x=10**2000000", "0")[0] == "unverifiable"
    exact = 7 ** 4500                                       # 3,803 digits
    assert verify_calculations(f"<<7**4500={exact}>>") == ("verified", "verified")
    assert verify_calculations(f"<<7**4500={exact + 10 ** 3700}>>") == ("wrong", "calculation_mismatch")
    assert verify_equation("x=7**4500", str(exact)) == ("verified", "verified")
    assert verify_equation("x=7**4500", str(exact - 10 ** 3000)) == ("wrong", "equation_mismatch")
    big = 99 ** 2100                                         # a > 120-digit template answer
    assert verify_record(power, normalize_text("计算 99 的 2100 次方？"), str(big))[0] == "verified"
    assert verify_record(power, normalize_text("计算 99 的 2100 次方？"), str(big + 10 ** 4000)) == \
        ("wrong", "answer_mismatch")
    assert verify_record(power, normalize_text("计算 99 的 2100 次方？"), f"{big}.000")[0] == "verified"
    # float-printed answers keep their double tolerance (at most 17 significant digits)
    div = templates["div"]
    assert verify_record(div, normalize_text("计算 143 / 3 等于多少？"), "143 / 3 = 47.666666666666664")[0] == "verified"


def test_long_numbers_take_linear_time():
    digits = "7" * 100_000
    cases = [(verify_equation, ("x=" + digits + "+1", "2")), (verify_equation, ("x=" + digits + "(1/", "2")),
             (verify_equation, ("x=" + digits + "%(", "2")), (verify_calculations, ("<<" + digits + "*2=1>>",)),
             (verify_calculations, ("<<1=" + digits,)), (verify_equation, ("x=1", digits + "(")),
             (verify_equation, ("x=" + "9" * 9_000 + "(1/", "2"))]
    for f, args in cases:
        start = time.monotonic()
        result = f(*args)
        assert time.monotonic() - start < 1.0, (f.__name__, args[0][:20])
        assert result is None or result[0] != "verified"


def test_markup_and_escapes_in_data_are_shown_literally(tmp_path, capsys):
    data = tmp_path / "m.jsonl"
    rows = [{"problem": "计算 [link=http://evil.example]1 + 2[/link] 等于多少？", "solution": "3 [/b]"},
            {"problem": "求 [x] 的值 \x1b[31mRED\x1b[0m \u202e", "solution": "答案：[x] \x1b]8;;http://e\x07"},
            {"problem": "计算 1.5 + 2.5 等于多少？", "solution": "1.5 + 2.5 = 5.0 [/b][bold]"}]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run = cli(capsys, "audit", data, "--workers", "1", "--json", tmp_path / "s.json", "--html", tmp_path / "s.html")
    assert run.code == 0, run.err
    out = run.out
    # (the family table masks numbers: ESC[31m shows as \x1b[#m)
    for literal in ("[/b]", "[x]", "[link=http://evil.example]", "[/link]", "[/b][bold]", "\\x1b[#mRED", "\\u202e"):
        assert literal in out, literal
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    stats = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert stats["records"] == 3                             # the files are written too
    html = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert "<link=" not in html and "[link=http://evil.example]" in html


def test_top_up_never_spins_when_every_made_problem_is_contaminated(rules):
    from mathdata.errors import MathDataError
    from mathdata.quota import PlanRow, top_up
    start = time.monotonic()
    with pytest.raises(MathDataError, match=r"quota add: every generated problem is flagged by the eval sets"):
        top_up([PlanRow("add", ("add",), 10, 0, 0, 10, True)], rules, 0, set(), lambda norms: [True] * len(norms))
    assert time.monotonic() - start < 10
    assert top_up([PlanRow("add", ("add",), 10, 0, 0, 10, True)], rules, 0, set()).height == 10


def test_float_answers_beyond_a_double_are_printed_exactly_not_inf():
    from mathdata.synth.answer import format_answer
    assert format_answer(Decimal("1E+400"), "float") == "1E+400"
    assert format_answer(Decimal("-3E+999"), "float") == "-3E+999"
    assert format_answer(Decimal("52"), "float") == "52.0"


def test_decimal_literals_in_data_are_read_exactly():
    """A literal in an equation or a <<...>> note is its written value, not Python's float of it:
    a float would round 12345678901234567890.1 and call a wrong answer verified, and make 1e400 inf."""
    assert verify_calculations("<<12345678901234567890.1+0=12345678901234567000>>") == ("wrong", "calculation_mismatch")
    assert verify_calculations("<<12345678901234567890.1+0=12345678901234567890.1>>") == ("verified", "verified")
    assert verify_calculations("<<1e999999999=1e999999999>>")[0] == "unverifiable"
    assert verify_equation("x=0.1+0.2", "0.3") == ("verified", "verified")


def test_a_correctly_rounded_long_answer_is_verified(templates):
    """A 190-digit quotient printed to 20 places: checked at its own precision, rounding included."""
    import decimal
    a = 7 ** 200
    exact = decimal.Context(prec=400).divide(Decimal(a), Decimal(3))
    shown = str(exact.quantize(Decimal(1).scaleb(-20), context=decimal.Context(prec=400)))
    problem = normalize_text(f"计算 {a} / 3 等于多少？")
    assert verify_record(templates["div"], problem, f"{a} / 3 = {shown}") == ("verified", "verified")
    last = "1" if shown[-1] != "1" else "2"
    assert verify_record(templates["div"], problem, f"{a} / 3 = {shown[:-1]}{last}") == ("wrong", "answer_mismatch")
