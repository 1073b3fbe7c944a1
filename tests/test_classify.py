import polars as pl
import pytest

from mathdata.classify import classify

REAL = [
    ("计算 4204.22 + -2369.17 等于多少？", "add"),
    ("计算 967.09 - -688.16 等于多少？", "sub"),
    ("计算 7469.98 * -2455.65 等于多少？", "mul"),
    ("计算 2415.96 / -2695.89 等于多少？", "div"),
    ("计算 183.94 的 5 次方？", "power"),
    ("计算 -711.31 的 4 次方？", "power"),
    ("计算 5636.97 的平方根？", "sqrt"),
    ("将分数 5/6 进行简化。", "simplify"),
    ("求以下数据的平均值：[41, 63, 52]", "mean"),
    ("解方程 -39x + 20 = 0", "equation"),
    ("解方程 -81x + -45 = 0", "equation"),
    ("当 x = 3.5 时，求函数 y = 7x^3 的值", "function"),
    ("一个长方形的长为 12 厘米，宽为 29 厘米，请计算其面积。", "area"),
    ("某物体的密度为 3 克/立方厘米，体积为 7 立方厘米，请计算该物体的质量。", "mass"),
    ("商品原价为 16 元，打折后的价格为 90 元，请计算打折的折扣比例。", "discount"),
    ("去年销售额为 50 万元，今年销售额增加了 99%，请计算今年的销售额。", "sales"),
    ("小明有 5 个苹果，小红给了他 3 个，他现在有几个苹果？", "word_problem"),
    ("解方程 3x+5=20", "word_problem"),
    ("What is the value of $\\frac{1}{2}+\\frac{1}{3}$?", "english"),
    ("Let $f(x)=x^2+1$. Find $f(3)$.", "english"),
    ("3.5*(20.6-16.8/4.8)", "other"),
    ("计算 １２.５０ + ３.２５ 等于多少？", "add"),  # full-width digits
]


def test_every_real_template_and_fallback_category(rules):
    df = classify(pl.DataFrame({"problem": [p for p, _ in REAL]}), rules)
    assert df["category"].to_list() == [c for _, c in REAL]


def test_templates_need_the_real_wording(rules):
    near_misses = ["计算 4204.22 加 -2369.17 等于多少？", "计算 4204.22 + -2369.17", "将分数 5/6 约分。"]
    df = classify(pl.DataFrame({"problem": near_misses}), rules)
    assert df["template"].to_list() == [None, None, None]
    assert df["category"].to_list() == ["word_problem"] * 3


def test_a_new_template_needs_no_code(tmp_path, rules):
    """Adding a [[template]] block to rules/ is enough to classify and verify a new kind of problem."""
    from mathdata.rules import load_rules
    from mathdata.verify import verify
    text = (rules.directory / "templates.toml").read_text(encoding="utf-8") + '''
[[template]]
name = "perimeter"
category = "perimeter"
problem = "一个长方形的长为 {l} 厘米，宽为 {w} 厘米，请计算其周长。"
solution = "周长为 {answer} 厘米"
answer = "2 * (l + w)"
answer_format = "int"
slots.l = { kind = "int", min = 1, max = 100 }
slots.w = { kind = "int", min = 1, max = 100 }
'''
    (tmp_path / "templates.toml").write_text(text, encoding="utf-8")
    (tmp_path / "categories.toml").write_text((rules.directory / "categories.toml").read_text(encoding="utf-8"), encoding="utf-8")
    new = load_rules(tmp_path)
    df = pl.DataFrame({"problem": ["一个长方形的长为 12 厘米，宽为 29 厘米，请计算其周长。"] * 2,
                       "solution": ["周长为 82 厘米", "周长为 83 厘米"]})
    out = verify(classify(df, new), new)
    assert out["category"].to_list() == ["perimeter", "perimeter"]
    assert out["status"].to_list() == ["verified", "wrong"]
    assert "perimeter" in new.categories


@pytest.mark.parametrize("bad, message", [
    ('[[template]]\nname = "x"\n', "lacks `category`"),
    ('[[template]]\nname="x"\ncategory="x"\nproblem="{a}"\nsolution="{answer}"\nanswer="a"\nanswer_format="bogus"\n', "answer_format"),
    ('[[template]]\nname="x"\ncategory="x"\nproblem="{a} {b}"\nsolution="{answer}"\nanswer="a"\nanswer_format="int"\nslots.a={kind="int"}\n', "differ from declared slots"),
    ('[[template]]\nname="x"\ncategory="x"\nproblem="{a}"\nsolution="{answer}"\nanswer="a + zz"\nanswer_format="int"\nslots.a={kind="int"}\n', "unknown name 'zz'"),
    ('[[template\n', "bad TOML"),
])
def test_bad_template_rules_name_the_problem(tmp_path, bad, message):
    from mathdata.errors import MathDataError
    from mathdata.rules import load_rules
    (tmp_path / "templates.toml").write_text(bad, encoding="utf-8")
    (tmp_path / "categories.toml").write_text("order = []\n", encoding="utf-8")
    with pytest.raises(MathDataError, match=message) as err:
        load_rules(tmp_path)
    assert "templates.toml" in str(err.value)
