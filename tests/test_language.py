import pytest

from mathdata.language import is_english


@pytest.mark.parametrize("text, english", [
    ("解方程 3x+5=20", False),
    ("当 x = 3.5 时，求函数 y = 7x^3 的值", False),
    ("长为 12 cm，宽 5 cm，求面积", False),
    ("3.5*(20.6-16.8/4.8)", False),
    ("sin(30)+cos(60)", False),
    ("Solve $x^2+3x=4$.", True),
    ("Compute $\\sqrt{2}\\cdot\\sqrt{8}$.", True),
    ("What is the value of $\\frac{1}{2}+\\frac{1}{3}$?", True),
    ("Find x if 2x+1=5", True),
    ("If $\\log_2 x = 5$, what is $x$?", True),
])
def test_language_on_short_math_text(text, english):
    assert is_english(text) is english
