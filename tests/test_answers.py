"""Answer extraction and comparison (mathdata.answers), hand-made cases of every form."""
from fractions import Fraction

import pytest

from mathdata.answers import answers_match, extract_answer, parse_number


@pytest.mark.parametrize(
    "text, expected",
    [
        # the real solution templates of train.json
        ("4204.22 + -2369.17 = 1835.05", "1835.05"),
        ("183.94^5 = 210562442992.2269624224", "210562442992.2269624224"),
        ("√5636.97 = 75.0797575915106428", "75.0797575915106428"),
        ("最简化的形式为：5/6", "5/6"),
        ("平均值为 52.0", "52.0"),
        ("方程的解为：0.5128205128205128", "0.5128205128205128"),
        ("函数的值为：300.125", "300.125"),
        ("面积为 348 平方厘米", "348"),
        ("21 克", "21"),
        ("-462.5", "-462.5"),
        # answer phrase beats everything, and the last phrase wins
        ("第一步 3+4=7\n第二步 7*2=14\n答案：14", "14"),
        ("答案: 3\n更正，答案是 -462.5%。最后 9", "-462.5%"),
        ("答案为 1,234.5 元，验算 1234.5 - 1 = 1233.5", "1,234.5"),
        ("答案：\n42", "42"),
        ("答案：x = 5", "5"),
        ("答案：4204.22 + -2369.17 = 1835.05\n再见 3", "1835.05"),
        ("答案：0.83 (保留2位)", "0.83"),
        ("答案：无解", "无解"),
        ("The answer is $\\boxed{\\frac{5}{6}}$. Check: 1/2 + 1/3", "\\frac{5}{6}"),
        ("Final answer: 17 apples", "17"),
        ("The answer is \\boxed{(2, 3)}, done", "(2, 3)"),
        ("The answer is 5. Then 6 more", "5"),
        # boxed (nested braces), beats `=` and last number
        ("so x = 3 and \\boxed{\\frac{1}{2}} then 7", "\\frac{1}{2}"),
        ("\\boxed{-\\dfrac{1}{2}}", "-\\dfrac{1}{2}"),
        ("\\boxed{(2,3)}", "(2,3)"),
        ("\\boxed{5 \\text{ cm}}", "5"),
        ("\\boxed{x = 12}", "12"),
        ("truncated \\boxed{\\frac{1}{2", "2"),  # unclosed box ignored -> last number
        # `= VALUE` at the end
        ("x = -\\frac{3}{4}", "-\\frac{3}{4}"),
        ("面积 = 12 × 29 = 348 平方厘米", "348"),
        ("√2 ≈ 1.4142", "1.4142"),
        # last number, signs, full-width, separators, sci, percent
        ("计算 10-3 得 7", "7"),
        ("结果等于-5", "-5"),
        ("结果是 ２．５", "2.5"),
        ("共 １，２３４ 个", "1,234"),
        ("value 1,2345", "2345"),
        ("about 2.7E+34 atoms", "2.7E+34"),
        ("tiny 1e-5", "1e-5"),
        ("3.1 \\times 10^{5}", "3.1 \\times 10^{5}"),
        ("增长了 12.5%", "12.5%"),
        ("\\frac56", "\\frac56"),
        ("no numbers here", None),
        ("", None),
        (None, None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "s, value",
    [
        ("42", Fraction(42)),
        ("-3.5", Fraction(-7, 2)),
        (".5", Fraction(1, 2)),
        ("+7", Fraction(7)),
        ("1,234.5", Fraction(2469, 2)),
        ("1,234,567", Fraction(1234567)),
        ("５/６", Fraction(5, 6)),
        ("-5/6", Fraction(-5, 6)),
        ("\\frac{5}{6}", Fraction(5, 6)),
        ("-\\frac{3}{4}", Fraction(-3, 4)),
        ("\\dfrac{-1}{2}", Fraction(-1, 2)),
        ("\\frac56", Fraction(5, 6)),
        ("12.5%", Fraction(1, 8)),
        ("12.5\\%", Fraction(1, 8)),
        ("2.7E+34", Fraction(27 * 10**33)),
        ("1e-5", Fraction(1, 100000)),
        ("3.1 \\times 10^{5}", Fraction(310000)),
        ("$75.08$.", Fraction(7508, 100)),
        ("－１２", Fraction(-12)),
        ("−12", Fraction(-12)),  # U+2212 minus sign
        ("90°", Fraction(90)),
        ("1/0", None),
        ("5 平方厘米", None),
        ("abc", None),
        ("1e99999", None),  # absurd exponent refused
        ("", None),
        (None, None),
    ],
)
def test_parse_number(s, value):
    assert parse_number(s) == value


@pytest.mark.parametrize(
    "pred, ref, kwargs, expected",
    [
        ("5/6", "5/6", {}, True),
        ("10/12", "5/6", {}, True),  # same value
        ("0.8333", "5/6", {}, False),  # reference is a fraction: exact only
        ("0.8333", "5/6", {"abs_tol": 1e-2}, False),  # ...even with the contest tolerance
        ("\\frac{5}{6}", "5/6", {}, True),
        ("5/6", "0.8333333", {}, True),  # decimal reference: relative tolerance
        ("75.08", "75.0797575915106428", {}, True),  # 4e-6 relative
        ("75.1", "75.0797575915106428", {}, False),  # 2.7e-4 relative
        ("75.1", "75.0797575915106428", {"rel_tol": 1e-3}, True),
        ("75.1", "75.0797575915106428", {"abs_tol": 1e-2}, False),
        ("75.08", "75.0797575915106428", {"rel_tol": 0.0}, False),
        ("0.011", "0.001", {}, False),
        ("0.011", "0.001", {"abs_tol": 1e-2}, True),  # np.isclose(atol=1e-2)-style
        ("52", "52.0", {}, True),
        ("1,234.5", "1234.5", {}, True),
        ("2.70001e34", "2.7E+34", {}, True),
        ("2.71e34", "2.7E+34", {}, False),
        ("-462.5%", "-462.5", {}, True),  # percent sign optional
        ("12.5%", "0.125", {}, True),
        ("12.5", "12.5%", {}, True),
        ("-462.5", "462.5", {}, False),
        ("无解", "无解", {}, True),
        ("(2, 3)", "(2,3)", {}, True),
        ("x", "5", {}, False),
        ("5", "无解", {}, False),
        (None, "5", {}, False),
        ("", "5", {}, False),
        ("   ", "5", {}, False),
    ],
)
def test_answers_match(pred, ref, kwargs, expected):
    assert answers_match(pred, ref, **kwargs) is expected


def test_extract_then_match_round_trip():
    solution = "√5636.97 = 75.0797575915106428"
    output = "我们计算平方根。\n答案：75.0798"
    assert answers_match(extract_answer(output), extract_answer(solution)) is True
    assert answers_match(extract_answer("答案：75.2"), extract_answer(solution)) is False


def test_long_and_pathological_outputs_stay_fast():
    import time

    start = time.perf_counter()
    assert extract_answer("\\boxed{" * 3000 + "1") == "1"  # 3000 unclosed boxes: was quadratic
    assert extract_answer("1," * 20000) == "1"
    assert extract_answer("答案：" * 5000) is None
    assert parse_number("1" * 5000) is None  # beyond int's digit limit: no value, no crash
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("text, value", [
    ("((7)/(15))", Fraction(7, 15)), ("(7)/(15)", Fraction(7, 15)), ("(1/4)", Fraction(1, 4)),
    ("19((3)/(4))", Fraction(79, 4)), ("5(1/3)", Fraction(16, 3)), ("-1(1/2)", Fraction(-3, 2)),
    ("(-1/2)", Fraction(-1, 2)), ("(27/2)", Fraction(27, 2)), ("12,000", Fraction(12000)), ("150%", Fraction(3, 2)),
])
def test_answer_forms_of_word_problem_corpora(text, value):
    assert parse_number(text) == value


def test_corpus_fraction_answers_are_compared_exactly():
    assert answers_match("7/15", "((7)/(15))") and answers_match("79/4", "19((3)/(4))")
    assert answers_match("19.75", "19((3)/(4))")            # the same value exactly
    assert not answers_match("19.7499", "19((3)/(4))")      # a fraction reference admits no tolerance


def test_expressions_and_lists():
    from mathdata.answers import answer_list, is_expression
    assert is_expression("(45+39)/(45-39)") and is_expression("8*3") and is_expression("6**2")
    assert not is_expression("((7)/(15))") and not is_expression("12,000") and not is_expression("30%")
    assert answer_list("[23, 12]") == ["23", "12"] and answer_list("[2.6666666666666665]") == ["2.6666666666666665"]
    assert answer_list("23；12") == ["23", "12"] and answer_list("[1,000, 2]") == ["1,000", "2"]
    assert answer_list("1,000") is None and answer_list("5") is None and answer_list("[a, b]") is None
