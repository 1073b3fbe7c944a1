"""The generator: exact answers, every record verifies, determinism, splits, difficulty, errors."""
import re
import shutil
from decimal import Decimal
from fractions import Fraction

import pytest

from mathdata.errors import MathDataError
from mathdata.normalize import normalize_text
from mathdata.rules import load_rules
from mathdata.synth import SynthSettings, TemplateGenerator, format_answer, record_id, rewrite_solution, synthesize
from mathdata.synth.values import decimal_text, split_of
from mathdata.verify import verify_record

from conftest import ROOT

NUM = re.compile(r"-?\d+(?:\.\d+)?")


def _check_all_verify(rules, records):
    by_cat = {t.category: t for t in rules.templates}
    for rec in records:
        status = verify_record(by_cat[rec["category"]], normalize_text(rec["problem"]), rec["solution"])
        assert status == ("verified", "verified"), (rec, status)


@pytest.mark.parametrize("style", ["plain", "steps"])
def test_thousands_per_category_all_verify(rules, style):
    records = synthesize(rules, "all", 1500, seed=11, settings=SynthSettings(style=style))
    assert len(records) == 1500 * len(rules.template_categories)
    _check_all_verify(rules, records)


@pytest.mark.parametrize("style", ["plain", "steps"])
def test_rounded_answers_verify_and_have_at_most_n_decimals(rules, style):
    records = synthesize(rules, "all", 300, seed=5, settings=SynthSettings(style=style, round_to=2))
    _check_all_verify(rules, records)
    for rec in records:
        if rec["category"] == "simplify":
            continue
        final = rec["solution"].splitlines()[-1]
        value = final.split("：")[-1] if style == "steps" else NUM.findall(final)[-1]
        assert "." not in value or len(value.split(".")[1]) <= 2, rec


def test_plain_wording_and_exact_answers(rules):
    gen = TemplateGenerator(rules.template("add"), 3)
    for problem, solution in gen.generate(200):
        m = re.fullmatch(r"计算 (\S+) \+ (\S+) 等于多少？", problem)
        a, b = Decimal(m.group(1)), Decimal(m.group(2))
        assert solution == f"{m.group(1)} + {m.group(2)} = {a + b}"
    for problem, solution in TemplateGenerator(rules.template("simplify"), 3).generate(100):
        a, b = map(int, re.search(r"(\d+)/(\d+)", problem).groups())
        assert solution == f"最简化的形式为：{Fraction(a, b)}"
    for problem, solution in TemplateGenerator(rules.template("equation"), 3).generate(100):
        a, b = map(int, re.fullmatch(r"解方程 (-?\d+)x \+ (-?\d+) = 0", problem).groups())
        assert solution == f"方程的解为：{float(Fraction(-b, a))!r}"
        assert not solution.endswith("：-0.0")
    for problem, solution in TemplateGenerator(rules.template("discount"), 3).generate(300):
        p, q = map(int, re.findall(r"\d+", problem))
        assert q <= p  # never an implausible draw
        assert solution == repr(float(Fraction(p - q, p) * 100))


def test_format_answer_per_format():
    assert format_answer(Decimal("1835.05"), "decimal") == "1835.05"
    assert format_answer(Decimal("-18343656.3870"), "decimal") == "-18343656.3870"
    root = Decimal("5636.97").sqrt(__import__("decimal").Context(prec=120))
    assert format_answer(root, "decimal28") == "75.07975759151064280958687335"
    assert format_answer(Decimal(143) / Decimal(3), "float") == "47.666666666666664"
    assert format_answer(Decimal("52"), "float") == "52.0"
    assert format_answer(Decimal("348"), "int") == "348"
    assert format_answer(Decimal("-0.00"), "decimal") == "0.00"  # a product with a zero operand
    assert format_answer(Decimal("-0"), "float") == "0.0"
    assert format_answer(Fraction(10, 12), "fraction") == "5/6"
    assert format_answer(Fraction(4, 2), "fraction") == "2"
    # rounding: half-up, trailing zeros removed, fractions stay exact
    assert format_answer(root, "decimal28", round_to=2) == "75.08"
    assert format_answer(Decimal("1835.05"), "decimal", round_to=1) == "1835.1"
    assert format_answer(Decimal("52"), "float", round_to=2) == "52"
    assert format_answer(Decimal("-0.001"), "float", round_to=2) == "0"
    assert format_answer(Fraction(1, 3), "fraction", round_to=2) == "1/3"


def test_decimal_slot_text():
    assert decimal_text(420422, 2) == "4204.22"
    assert decimal_text(-7, 2) == "-0.07"
    assert decimal_text(1250, 2) == "12.5"
    assert decimal_text(1200, 2) == "12.0"
    assert decimal_text(5, 0) == "5"


def test_same_seed_same_records_other_seed_differs(rules):
    one = synthesize(rules, "all", 50, seed=1, settings=SynthSettings(style="steps", round_to=3))
    two = synthesize(rules, "all", 50, seed=1, settings=SynthSettings(style="steps", round_to=3))
    other = synthesize(rules, "all", 50, seed=2, settings=SynthSettings(style="steps", round_to=3))
    assert one == two
    assert one != other
    assert len({r["problem"] for r in one}) == len(one)  # distinct problems
    assert all(r["id"] == record_id(normalize_text(r["problem"])) for r in one)


def test_train_and_test_splits_are_disjoint_by_values(rules):
    t = rules.template("equation")
    train = TemplateGenerator(t, 1, SynthSettings(split="train")).generate(3000)
    test = TemplateGenerator(t, 99, SynthSettings(split="test")).generate(1500)
    assert not {p for p, _ in train} & {p for p, _ in test}
    for p, _ in test[:200]:
        assert split_of("equation", NUM.findall(p)[:2], 0.1) == "test"
    for p, _ in train[:200]:
        assert split_of("equation", NUM.findall(p)[:2], 0.1) == "train"


def test_extrapolate_draws_outside_the_train_range(rules):
    for problem, _ in TemplateGenerator(rules.template("add"), 1, SynthSettings(split="extrapolate")).generate(300):
        a, b = (Decimal(x) for x in NUM.findall(problem))
        assert 10000 < abs(a) <= 100000 and 10000 < abs(b) <= 100000
    for problem, _ in TemplateGenerator(rules.template("power"), 1, SynthSettings(split="extrapolate")).generate(100):
        n = int(NUM.findall(problem)[1])
        assert 6 <= n <= 10
    records = synthesize(rules, "all", 100, seed=3, settings=SynthSettings(split="extrapolate", style="steps"))
    _check_all_verify(rules, records)


def test_digits_and_places_control_difficulty(rules):
    gen = TemplateGenerator(rules.template("mul"), 1, SynthSettings(digits=2, places=1))
    for problem, solution in gen.generate(300):
        a, b = NUM.findall(problem)
        assert abs(Decimal(a)) < 100 and len(a.split(".")[1]) <= 1
    sqrt = TemplateGenerator(rules.template("sqrt"), 1, SynthSettings(digits=1))
    assert all(0 <= Decimal(NUM.findall(p)[0]) < 10 for p, _ in sqrt.generate(100))


def test_rewrite_solution_of_a_real_record(rules):
    t = rules.template("div")
    assert rewrite_solution(t, "计算 1 / 8 等于多少", "plain") == "1 / 8 = 0.125"
    steps = rewrite_solution(t, "计算 1 / 3 等于多少", "steps", round_to=2)
    assert steps.splitlines()[-1] == "答案：0.33"
    assert rewrite_solution(t, "计算 1 / 0 等于多少", "plain") is None
    assert rewrite_solution(t, "not a division", "plain") is None


def test_errors_name_the_problem(rules):
    with pytest.raises(MathDataError, match="no template generates it") as err:
        synthesize(rules, "word_problem", 10, seed=1)
    assert "equation" in err.value.hint
    with pytest.raises(MathDataError, match="must be >= 0"):
        synthesize(rules, "add", -1, seed=1)
    with pytest.raises(MathDataError, match="unknown style"):
        synthesize(rules, "add", 1, seed=1, settings=SynthSettings(style="fancy"))
    with pytest.raises(MathDataError, match="unknown split"):
        synthesize(rules, "add", 1, seed=1, settings=SynthSettings(split="dev"))
    with pytest.raises(MathDataError, match="out of range"):
        synthesize(rules, "add", 1, seed=1, settings=SynthSettings(round_to=-1))
    with pytest.raises(MathDataError, match="only .* distinct problems found"):
        TemplateGenerator(rules.template("simplify"), 1).generate(20000, max_misses=2000)


def test_a_new_template_is_data_only(tmp_path):
    shutil.copy(ROOT / "rules" / "categories.toml", tmp_path)
    text = (ROOT / "rules" / "templates.toml").read_text(encoding="utf-8") + '''
[[template]]
name = "perimeter"
category = "perimeter"
problem = "一个长方形的长为 {l} 米，宽为 {w} 米，求它的周长。"
solution = "周长为 {answer} 米"
answer = "2 * (l + w)"
answer_format = "int"
steps = "formula"
slots.l = { kind = "int", min = 1, max = 50 }
slots.w = { kind = "int", min = 1, max = 50 }

[[template]]
name = "cube"
category = "cube"
problem = "计算 {a} 的立方？"
solution = "{a}^3 = {answer}"
answer = "a * a * a"
answer_format = "decimal"
steps = "mul_free"
slots.a = { kind = "decimal", min = 0, max = 10, places = 1 }
'''
    (tmp_path / "templates.toml").write_text(text, encoding="utf-8")
    rules = load_rules(tmp_path)
    for style in ("plain", "steps"):
        recs = synthesize(rules, "perimeter", 200, seed=1, settings=SynthSettings(style=style))
        _check_all_verify(rules, recs)
    assert recs[0]["solution"].splitlines()[0] == "按公式计算：2 * (l + w)"
    assert len(synthesize(rules, "cube", 50, seed=1)) == 50  # plain needs no writer
    with pytest.raises(MathDataError, match="no step writer named 'mul_free'") as err:
        synthesize(rules, "cube", 5, seed=1, settings=SynthSettings(style="steps"))
    assert "formula" in err.value.hint


def test_slot_ranges_from_the_command_line(rules):
    from mathdata.synth.values import range_overrides
    adds = [rules.template("add")]
    overrides = range_overrides(["a=-5:5:1", "b=100:200"], adds)
    assert overrides == {"add": {"a": {"min": -5, "max": 5, "places": 1}, "b": {"min": 100, "max": 200}}}
    gen = TemplateGenerator(rules.template("add"), 1, SynthSettings(overrides=overrides))
    for problem, _ in gen.generate(200):
        a, b = NUM.findall(problem)
        assert -5 <= Decimal(a) <= 5 and len(a.split(".")[-1]) <= 1 and 100 <= Decimal(b) <= 200
    with pytest.raises(MathDataError, match="no slot 'x' in the chosen templates") as err:
        range_overrides(["x=1:2"], adds)
    assert err.value.hint == "slots: a, b"
    with pytest.raises(MathDataError, match="expected SLOT=MIN:MAX"):
        range_overrides(["a=1"], adds)
    with pytest.raises(MathDataError, match="slot 'a' has an empty range"):
        TemplateGenerator(rules.template("add"), 1, SynthSettings(overrides=range_overrides(["a=5:1"], adds)))
