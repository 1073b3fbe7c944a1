"""Step-by-step writers: the working is right line by line and ends in one `答案：VALUE` line."""
import re
from decimal import Decimal

import pytest

from mathdata.answers import extract_answer
from mathdata.errors import MathDataError
from mathdata.synth import SynthSettings, TemplateGenerator, rewrite_solution
from mathdata.synth.steps import WRITERS, get_writer, writer


def steps(rules, template, problem, round_to=None):
    text = rewrite_solution(rules.template(template), problem, "steps", round_to)
    assert text is not None
    return text.splitlines()


def test_every_template_has_a_registered_writer(rules):
    for t in rules.templates:
        assert t.steps in WRITERS, t.name
    assert "formula" in WRITERS


def test_add_by_integer_and_decimal_parts(rules):
    lines = steps(rules, "add", "计算 4204.22 + -2369.17 等于多少")
    assert lines == [
        "两数异号，用较大的绝对值减去较小的绝对值，结果取绝对值较大的数的符号。",
        "整数部分：4204 - 2369 = 1835",
        "小数部分：0.22 - 0.17 = 0.05",
        "合起来：1835 + 0.05 = 1835.05",
        "所以 4204.22 + (-2369.17) = 1835.05",
        "答案：1835.05",
    ]


def test_sub_becomes_adding_the_opposite(rules):
    lines = steps(rules, "sub", "计算 -6996.63 - -5702.07 等于多少")
    assert lines[0] == "减去一个数等于加上它的相反数：-6996.63 - (-5702.07) = -6996.63 + 5702.07"
    assert "绝对值较大的数是负数，结果为 -1294.56" in lines
    assert lines[-1] == "答案：-1294.56"


def test_mul_by_place_value(rules):
    lines = steps(rules, "mul", "计算 -12.5 * 3.04 等于多少")
    assert lines == [
        "先定符号：异号得负。",
        "先去掉小数点：12.5 → 125，3.04 → 304，共 3 位小数。",
        "按位拆开：304 = 300 + 4",  # the factor with fewer non-zero digits is split
        "125 × 300 = 37500",
        "125 × 4 = 500",
        "部分积相加：37500 + 500 = 38000",
        "点回 3 位小数：38.000",
        "加上负号：-38.000",
        "所以 -12.5 × 3.04 = -38.000",
        "答案：-38.000",
    ]


def test_long_division_digit_by_digit(rules):
    lines = steps(rules, "div", "计算 1 / 8 等于多少")
    assert lines == [
        "先定符号：同号得正。",
        "1 ÷ 8：商的整数部分为 0，余 1",
        "余数补 0：10 ÷ 8 = 1 余 2",
        "余数补 0：20 ÷ 8 = 2 余 4",
        "余数补 0：40 ÷ 8 = 5 余 0",
        "余数为 0，除尽。",
        "所以 1 ÷ 8 = 0.125",
        "答案：0.125",
    ]
    rounded = steps(rules, "div", "计算 -2 / 3 等于多少", round_to=2)
    assert "先定符号：异号得负。" in rounded
    assert rounded[1:4] == ["2 ÷ 3：商的整数部分为 0，余 2", "余数补 0：20 ÷ 3 = 6 余 2", "余数补 0：20 ÷ 3 = 6 余 2"]
    assert rounded[-2] == "所以 -2 ÷ 3 ≈ -0.67"
    assert rounded[-1] == "答案：-0.67"


def test_power_by_repeated_multiplication(rules):
    lines = steps(rules, "power", "计算 -1.5 的 3 次方")
    assert lines == [
        "3 次方就是把 -1.5 连乘 3 次，逐次相乘：",
        "(-1.5)^2 = (-1.5) × (-1.5) = 2.25",
        "(-1.5)^3 = 2.25 × (-1.5) = -3.375",
        "所以 (-1.5)^3 = -3.375",
        "答案：-3.375",
    ]
    assert steps(rules, "power", "计算 7.5 的 0 次方")[0] == "任何非零数的 0 次方都等于 1：7.5^0 = 1"


def test_sqrt_brackets_then_newton(rules):
    lines = steps(rules, "sqrt", "计算 20 的平方根", round_to=4)
    assert lines[0] == "先找相邻的平方数：4^2 = 16 ≤ 20 < 25 = 5^2，所以 √20 在 4 和 5 之间。"
    assert lines[2].startswith("x1 = (4 + 20 ÷ 4) ÷ 2 ≈ 4.5")
    assert lines[-2] == "所以 √20 ≈ 4.4721"
    assert lines[-1] == "答案：4.4721"
    assert steps(rules, "sqrt", "计算 6.25 的平方根")[-1] == "答案：2.5"


def test_simplify_by_euclid(rules):
    lines = steps(rules, "simplify", "将分数 28/80 进行简化")
    assert lines == [
        "用辗转相除法求 28 和 80 的最大公约数：",
        "80 = 2 × 28 + 24",
        "28 = 1 × 24 + 4",
        "24 = 6 × 4 + 0",
        "最大公约数为 4。",
        "分子分母同时除以 4：28 ÷ 4 = 7，80 ÷ 4 = 20",
        "所以 28/80 = 7/20",
        "答案：7/20",
    ]


def test_mean_is_sum_then_divide(rules):
    lines = steps(rules, "mean", "求以下数据的平均值:[41, 63, 52]")
    assert lines[1] == "数据之和：41 + 63 + 52 = 156"
    assert lines[2] == "数据个数：3"
    assert lines[3] == "平均值 = 156 ÷ 3 = 52.0"
    assert lines[-1] == "答案：52.0"
    assert steps(rules, "mean", "求以下数据的平均值:[1, 2, 2]", round_to=2)[-1] == "答案：1.67"


def test_equation_by_isolating_x(rules):
    lines = steps(rules, "equation", "解方程 -39x + 20 = 0")
    assert lines[0] == "把常数项移到等号右边：-39x = -20"
    assert lines[1] == "两边同时除以 -39：x = -20 ÷ (-39)"
    assert lines[2] == "x = 20/39"
    assert lines[-1] == "答案：0.5128205128205128"


def test_word_problems(rules):
    assert steps(rules, "area", "一个长方形的长为 12 厘米,宽为 29 厘米,请计算其面积")[1:] == [
        "面积 = 12 × 29 = 348 平方厘米", "答案：348"]
    assert steps(rules, "mass", "某物体的密度为 3 克/立方厘米,体积为 7 立方厘米,请计算该物体的质量")[1:] == [
        "质量 = 3 × 7 = 21 克", "答案：21"]
    disc = steps(rules, "discount", "商品原价为 80 元,打折后的价格为 60 元,请计算打折的折扣比例")
    assert disc[1:] == ["降价：80 - 60 = 20 元", "20 ÷ 80 = 1/4", "1/4 × 100 = 25.0", "答案：25.0"]
    sales = steps(rules, "sales", "去年销售额为 50 万元,今年销售额增加了 99%,请计算今年的销售额")
    assert sales[1:] == ["增长率 99% = 0.99，1 + 0.99 = 1.99", "今年销售额 = 50 × 1.99 = 99.5 万元", "答案：99.5"]


@pytest.mark.parametrize("round_to", [None, 0, 2, 6])
def test_final_line_is_what_an_extractor_reads(rules, round_to):
    for t in rules.templates:
        gen = TemplateGenerator(t, 4, SynthSettings(style="steps", round_to=round_to))
        for problem, solution in gen.generate(60):
            lines = solution.splitlines()
            assert lines[-1].startswith("答案：") and sum("答案" in ln for ln in lines) == 1
            value = lines[-1][len("答案："):]
            assert extract_answer(solution) == value
            # the working ends on the same printed value (rounding applied consistently)
            assert value in lines[-2] or t.name == "simplify" and value in lines[-2]
            if round_to is not None and t.answer_format != "fraction":
                assert "." not in value or len(value.split(".")[1]) <= round_to


def test_intermediate_values_are_exact(rules):
    gen = TemplateGenerator(rules.template("mul"), 9, SynthSettings(style="steps"))
    for problem, solution in gen.generate(200):
        for line in solution.splitlines():
            m = re.fullmatch(r"(\d+) × (\d+) = (\d+)", line)
            if m:
                assert int(m.group(1)) * int(m.group(2)) == int(m.group(3))
            m = re.fullmatch(r"部分积相加：(.*) = (\d+)", line)
            if m:
                assert sum(int(x) for x in m.group(1).split(" + ")) == int(m.group(2))
        a, b = (Decimal(x) for x in re.findall(r"-?\d+(?:\.\d+)?", problem))
        assert Decimal(solution.splitlines()[-1][3:]) == a * b


def test_registry_errors():
    with pytest.raises(MathDataError, match="no step writer named 'nope'") as err:
        get_writer("nope")
    assert "add" in err.value.hint and "formula" in err.value.hint
    with pytest.raises(ValueError, match="registered twice"):
        writer("add")(lambda ctx: [])


def test_zero_operands(rules):
    assert steps(rules, "mul", "计算 0 * -7.5 等于多少") == ["有一个因数是 0，积就是 0。", "所以 0 × (-7.5) = 0.0", "答案：0.0"]
    assert steps(rules, "div", "计算 0 / 7 等于多少") == ["被除数是 0，除以任何非零数都得 0。", "所以 0 ÷ 7 = 0", "答案：0"]
    assert steps(rules, "simplify", "将分数 0/5 进行简化")[-2:] == ["所以 0/5 = 0", "答案：0"]
