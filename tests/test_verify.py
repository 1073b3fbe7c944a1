from decimal import Decimal

import pytest

from mathdata.normalize import normalize_text
from mathdata.verify import matches_shown, verify_record

# (template, problem, solution, status, reason): real records (domain brief and public reports) and
# hand-made faults of each kind.
CASES = [
    ("add", "计算 4204.22 + -2369.17 等于多少？", "4204.22 + -2369.17 = 1835.05", "verified", "verified"),
    ("add", "计算 4204.22 + -2369.17 等于多少？", "4204.22 + -2369.17 = 1835.06", "wrong", "answer_mismatch"),
    ("add", "计算 4204.22 + -2369.17 等于多少？", "4204.22 + 2369.17 = 1835.05", "wrong", "restated_numbers_differ"),
    ("mul", "计算 7469.98 * -2455.65 等于多少？", "7469.98 * -2455.65 = -18343656.3870", "verified", "verified"),
    ("div", "计算 2415.96 / -2695.89 等于多少？", "2415.96 / -2695.89 = -0.8961641610006342988771797069", "verified", "verified"),
    ("div", "计算 2415.96 / -2695.89 等于多少？", "2415.96 / -2695.89 = -0.8961641", "verified", "verified"),   # truncated
    ("div", "计算 2415.96 / -2695.89 等于多少？", "2415.96 / -2695.89 = -0.8961643", "wrong", "answer_mismatch"),
    ("div", "计算 2415.96 / 0.00 等于多少？", "2415.96 / 0.00 = 0", "implausible", "division_by_zero"),
    ("power", "计算 183.94 的 5 次方？", "183.94^5 = 210562442992.2269624224", "verified", "verified"),
    ("power", "计算 -711.31 的 4 次方？", "-711.31^4 = 255997460543.58343921", "verified", "verified"),
    ("sqrt", "计算 6145.00 的平方根？", "√6145.00 = 78.39005038906404479030928703", "verified", "verified"),
    ("sqrt", "计算 6145.00 的平方根？", "√6145.00 = 78.390050389065", "wrong", "answer_mismatch"),
    ("simplify", "将分数 5/6 进行简化。", "最简化的形式为：5/6", "verified", "verified"),
    ("simplify", "将分数 4/6 进行简化。", "最简化的形式为：4/6", "wrong", "not_lowest_terms"),
    ("simplify", "将分数 4/6 进行简化。", "最简化的形式为：2/3", "verified", "verified"),
    ("mean", "求以下数据的平均值：[79, 69, 19, 3, 23, 93]", "平均值为 47.666666666666664", "verified", "verified"),
    ("mean", "求以下数据的平均值：[41, 63, 52]", "平均值为 52.0", "verified", "verified"),
    ("mean", "求以下数据的平均值：[41, 63, 52]", "平均值为 52.5", "wrong", "answer_mismatch"),
    ("equation", "解方程 -81x + -45 = 0", "方程的解为：-0.5555555555555556", "verified", "verified"),
    ("equation", "解方程 0x + 5 = 0", "方程的解为：0", "implausible", "no_unique_solution"),
    ("function", "当 x = 4.03 时，求函数 y = 57x^54 的值", "函数的值为：2.769155521409239378157128235E+34", "verified", "verified"),
    ("function", "当 x = 3.5 时，求函数 y = 7x^3 的值", "函数的值为：300.125", "verified", "verified"),
    ("area", "一个长方形的长为 57 厘米，宽为 84 厘米，请计算其面积。", "面积为 4788 平方厘米", "verified", "verified"),
    ("area", "一个长方形的长为 12 厘米，宽为 29 厘米，请计算其面积。", "面积为 349 平方厘米", "wrong", "answer_mismatch"),
    ("mass", "某物体的密度为 10 克/立方厘米，体积为 3 立方厘米，请计算该物体的质量。", "30 克", "verified", "verified"),
    ("discount", "商品原价为 51 元，打折后的价格为 28 元，请计算打折的折扣比例。", "45.09803921568628", "verified", "verified"),
    ("discount", "商品原价为 16 元，打折后的价格为 90 元，请计算打折的折扣比例。", "-462.5", "implausible", "discounted_price_above_original"),
    ("sales", "去年销售额为 32 万元，今年销售额增加了 28%，请计算今年的销售额。", "40.96", "verified", "verified"),
    ("sales", "去年销售额为 50 万元，今年销售额增加了 99%，请计算今年的销售额。", "99.5", "verified", "verified"),
    # a rewritten (step-by-step) solution is checked through its final answer line
    ("add", "计算 12.50 + 3.25 等于多少？", "先算整数部分：12 + 3 = 15\n再算小数部分：0.50 + 0.25 = 0.75\n答案：15.75", "verified", "verified"),
    ("add", "计算 12.50 + 3.25 等于多少？", "答案：15.76", "wrong", "answer_mismatch"),
    ("add", "计算 12.50 + 3.25 等于多少？", "不知道", "wrong", "no_answer_in_solution"),
]


@pytest.mark.parametrize("name, problem, solution, status, reason", CASES)
def test_verify_record(rules, name, problem, solution, status, reason):
    assert verify_record(rules.template(name), normalize_text(problem), solution) == (status, reason)


def test_precision_rules():
    third = Decimal(1) / Decimal(3)
    assert matches_shown(Decimal(52), "52.0")
    assert matches_shown(third, "0.33")                   # rounded and truncated agree
    assert not matches_shown(third, "0.34")               # within one unit, but neither
    assert matches_shown(Decimal(2) / Decimal(3), "0.67")  # rounded
    assert matches_shown(Decimal(2) / Decimal(3), "0.66")  # truncated
    assert not matches_shown(Decimal(2) / Decimal(3), "0.65")
    assert not matches_shown(Decimal("1835.05"), "1835.06")  # fits the places shown: must be exact
    assert matches_shown(Decimal("47.6666666666666666666"), "47.666666666666664")  # float repr


@pytest.mark.parametrize("equation, answer, expected", [
    ("x=(11-1)*2", "20", ("verified", "verified")),
    ("x=(11-1)*2", "21", ("wrong", "equation_mismatch")),
    ("x=20%*50", "10", ("verified", "verified")),
    ("x=1/3", "1/3", ("verified", "verified")),
    ("x=1/3", "0.33", ("verified", "verified")),
    ("x=3(1/2)+1", "4(1/2)", ("verified", "verified")),
    ("x=0.25", "25%", ("verified", "verified")),
    ("x=10÷4", "2.5", ("verified", "verified")),
    ("x=3+", "1", ("unverifiable", "equation_unparsed")),
])
def test_word_problems_with_an_equation_field(equation, answer, expected):
    from mathdata.verify import verify_equation
    assert verify_equation(equation, answer) == expected


def test_ape210k_style_file_is_verified_through_its_equations(tmp_path):
    import json
    from mathdata.audit import audit
    rows = [{"id": "1", "original_text": "甲有 3 个，乙有 4 个，一共几个？", "equation": "x=3+4", "ans": "7"},
            {"id": "2", "original_text": "5 的 2 倍是多少？", "equation": "x=5*2", "ans": "11"},
            {"id": "3", "original_text": "一本书 120 页，看了 25%，看了几页？", "equation": "x=120*25%", "ans": "30"}]
    f = tmp_path / "ape.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    stats = audit([f], quiet=True, workers=1)
    assert stats["categories"]["word_problem"]["verified"] == 2
    assert stats["reasons"]["wrong"] == {"equation_mismatch": 1}


def test_gsm8k_calculator_annotations():
    from mathdata.verify import verify_calculations
    good = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nAltogether she sold 48+24 = <<48+24=72>>72 clips.\n#### 72"
    assert verify_calculations(good) == ("verified", "verified")
    assert verify_calculations(good.replace("<<48+24=72>>", "<<48+24=73>>")) == ("wrong", "calculation_mismatch")
    assert verify_calculations("It costs 5 dollars.\n#### 5") is None


@pytest.mark.parametrize("equation, answer, expected", [
    ("x=1-(1/3)-(1/5)", "((7)/(15))", "verified"),
    ("x=20-(1/4)", "19((3)/(4))", "verified"),
    ("x=16/3", "5(1/3)", "verified"),
    ("x=0-(3/2)", "-1(1/2)", "verified"),
    ("x=(36+12)/(36-12)", "(36+12)/(36-12)", "verified"),     # 列式: the expression is the answer
    ("x=(36+12)/(36-12)", "(36+12)/(36-11)", "wrong"),
    ("x=12/40", "30%", "verified"),
    ("x=3000*4", "12,000", "verified"),
    ("x=10/3", "3.33", "verified"),
    ("x=1-(1/3)-(1/5)", "((8)/(15))", "wrong"),
    ("2*100", "200", "verified"),
])
def test_corpus_answer_forms_against_their_equation(equation, answer, expected):
    from mathdata.verify import verify_equation
    assert verify_equation(equation, answer)[0] == expected


@pytest.mark.parametrize("equation, answer, expected", [
    ("x + y = 35.0 ; 2.0 * x + 4.0 * y = 94.0", "[23, 12]", ("verified", "verified")),
    ("x + y = 35.0 ; 2.0 * x + 4.0 * y = 94.0", "[12, 23]", ("verified", "verified")),  # another order
    ("x + y = 35.0 ; 2.0 * x + 4.0 * y = 94.0", "[22, 13]", ("wrong", "equation_mismatch")),
    ("3.0 * x + 2.0 = 10.0", "[2.6666666666666665]", ("verified", "verified")),
    ("3.0 * x + 2.0 = 10.0", "[2.67]", ("verified", "verified")),                   # rounded to its places
    ("( x - 2.0 ) * ( x - 5.0 ) = 0.0", "[5, 2]", ("verified", "verified")),        # both roots
    ("( x - 2.0 ) * ( x - 5.0 ) = 0.0", "[5, 3]", ("wrong", "equation_mismatch")),
    ("100.0 * ( 1.0 + x ) ^ 2.0 = 121.0", "[0.1]", ("verified", "verified")),
    ("x * y = 24.0 ; x + y = 10.0", "[6, 4]", ("verified", "verified")),
    ("x * y = 24.0 ; x + y = 10.0", "[5, 5]", ("unverifiable", "system_unconfirmed")),
    ("x + y = 35.0 ; 2.0 * x + 4.0 * y = 94.0", "[23]", ("verified", "verified")),  # asked for one of them
    ("x + y = 35.0 ; 2.0 * x + 4.0 * y = 94.0", "[22]", ("wrong", "equation_mismatch")),
    ("( 4900.0 - 1300.0 ) * ( 1.0 + x ) ^ 2.0 = 4900.0", "[0.16699999999999998]", ("verified", "verified")),  # float noise
    ("100.0 * ( 1.0 - x ) ^ 2.0 = 64.0", "[20]", ("verified", "verified")),   # a rate of 0.2 written as 20 (%)
    ("3.0 x + 2.0 = 11.0", "[3]", ("verified", "verified")),                 # implicit multiplication
    ("x + y = 1 ; x - y = 1", "[]", ("wrong", "no_answer_in_solution")),      # HMWP's empty answer lists
    ("x + y = 35 ; x - y = = 1", "[1, 2]", ("unverifiable", "equation_unparsed")),
    ("x + y = 35.0 ; x - y = 1.0", "鸡23只", ("unverifiable", "answer_unparsed")),
    ("x + y = 2 ; 2 * x + 2 * y = 4", "[1, 1]", ("verified", "verified")),   # singular: the values satisfy it
    ("x + y = 2 ; 2 * x + 2 * y = 4", "[1, 2]", ("unverifiable", "system_unconfirmed")),  # not decided
    ("x + y + z = 6 ; x - y = 0", "[1, 2]", ("unverifiable", "answer_count")),
])
def test_hmwp_systems_with_list_answers(equation, answer, expected):
    from mathdata.verify import verify_equation
    assert verify_equation(equation, answer) == expected


def test_the_batch_path_equals_verify_record_on_every_case_and_in_worker_processes():
    """verify() matches the template regexes in polars and checks in two forked workers (above 50,000
    keys); every status and reason equals verify_record's, one record at a time in Python."""
    import polars as pl

    from mathdata.classify import classify
    from mathdata.rules import load_rules
    from mathdata.verify import verify
    rules = load_rules()
    base = [(p, s) for _, p, s, _, _ in CASES]
    # 60,000 distinct keys: the CASES plus sums and wrong sums with fresh numbers
    rows = base + [(f"计算 {i}.5 + {i % 97} 等于多少？", f"{i}.5 + {i % 97} = {i + i % 97 + (i % 3 == 0)}.5")
                   for i in range(60_000)]
    df = classify(pl.DataFrame({"problem": [p for p, _ in rows], "solution": [s for _, s in rows]}), rules)
    expected = [verify_record(rules.template(t), n, s) if t else ("unverifiable", "no_template")
                for t, n, s in df.select("template", "norm", "solution").iter_rows()]
    for workers in (1, 2):
        out = verify(df, rules, workers=workers)
        assert list(zip(out["status"], out["reason"])) == expected
    assert sum(e == ("wrong", "answer_mismatch") for e in expected) == 20_000 + sum(c[3:] == ("wrong", "answer_mismatch") for c in CASES)
