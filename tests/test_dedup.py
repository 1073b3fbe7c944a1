import polars as pl

from mathdata.classify import classify
from mathdata.dedup import find_duplicates, load_dedup_config


def marks(rules, problems, priority=None, extra=None):
    df = pl.DataFrame({"problem": problems, "solution": ["x"] * len(problems), **(extra or {})})
    return find_duplicates(classify(df, rules), load_dedup_config(rules.directory), priority=priority)


def test_template_siblings_that_differ_in_numbers_are_never_duplicates(rules):
    problems = [f"计算 {a}.{b:02d} + -2369.17 等于多少？" for a in range(1000, 1040) for b in (0, 1, 2)]
    out = marks(rules, problems)
    assert out["exact_dup"].sum() == 0 and out["near_dup"].sum() == 0


def test_same_template_same_numbers_reformatted_is_a_near_duplicate(rules):
    out = marks(rules, ["计算 1044.40 + 5.00 等于多少？", "计算 1044.4 + 5 等于多少？", "计算 1044.40 - 5.00 等于多少？"])
    assert out["near_dup"].to_list() == [False, True, False]      # add vs sub is a different problem
    assert out["near_group"][1] == out["near_group"][0]


def test_reworded_free_text_with_same_numbers_is_a_near_duplicate(rules):
    out = marks(rules, [
        "小明有 5 个苹果，小红给了他 3 个，他现在有几个苹果？",
        "小明有5个苹果,小红给了他3个,他现在有几个苹果",        # same words, other spacing/punctuation
        "小明有 6 个苹果，小红给了他 3 个，他现在有几个苹果？",  # other numbers: a different problem
        "一个长方形的长为 12 米，宽为 29 米，请计算其面积。",
        "一个长方形的长为 12 米，宽为 29 米，请计算其周长。",    # other operation word: different
        "3.5*(20.6-16.8/4.8)", "3.5*(20.6*16.8/4.8)",            # other operator: different
    ])
    assert out["near_dup"].to_list() == [False, True, False, False, False, False, False]


def test_exact_duplicates_after_normalisation_and_priority(rules):
    out = marks(rules, ["将分数 5/6 进行简化。", "将分数 5/6 进行简化.", "将分数５/６进行简化？", " 将分数 5/6 进行简化。 "],
                priority="p", extra={"p": [1, 1, 1, 0]})
    # full-width digits without spaces are a different text (spacing is kept by normalisation)
    assert out["exact_dup"].to_list() == [True, True, False, False]
    assert out["exact_group"][0] == out["exact_group"][1] == out["exact_group"][3]


def test_english_near_duplicates_with_minhash(rules):
    base = "Let $f(x) = 3x^2 - 5x + 7$. What is the value of $f(4)$ when computed exactly?"
    out = marks(rules, [base, base.replace("What is", "Find").replace("?", "."),
                        base.replace("f(4)", "f(5)")])
    assert out["near_dup"].to_list() == [False, True, False]


def test_same_wording_with_numbers_in_another_order_is_a_different_problem(rules):
    a = "The ratio of boys to girls in a class is $3:12$. If there are $60$ students in the class, how many girls are there?"
    out = marks(rules, [a, a.replace("3:12", "12:3"), a.replace("how many girls are there", "how many girls does it have")])
    assert out["near_dup"].to_list() == [False, False, True]


def test_chinese_numerals_are_read_by_value():
    from mathdata.dedup.chinese import load_chinese_rules, numeral_value
    r = load_chinese_rules()
    cases = {"三百零五": "305", "两千": "2000", "一万五千": "15000", "十二": "12", "二十": "20", "十": "10",
             "第一": "第1", "三分之一": "1/3", "一半": "1/2", "两": "2", "五十万": "500000", "万": "万"}
    assert {t: numeral_value(t, r) for t in cases} == cases


def test_numbers_in_words_units_and_answers_keep_near_duplicates_apart(rules):
    texts = ["一个乘数的末尾有一个0，另一个乘数的末尾有一个0，积的末尾至少有几个0？",
             "一个乘数的末尾有两个0，另一个乘数的末尾有一个0，积的末尾至少有几个0？",
             "一根绳子长5米，剪去2米，还剩多少厘米？", "一根绳子长5米，剪去2米，还剩多少米？",
             "小华有二十本故事书，他送给小明五本故事书以后，还剩多少本故事书？",
             "小华有二十本故事书，他送给小明五本故事书后，还剩多少本故事书？"]
    out = marks(rules, texts)
    assert out["near_dup"].to_list() == [False, False, False, False, False, True]
    # the same two rewordings with different labelled answers: a label conflict, never a merge
    df = pl.DataFrame({"problem": texts[4:], "solution": ["15", "16"]})
    conflict = find_duplicates(classify(df, rules), load_dedup_config(rules.directory), stats=(work := {}))
    assert conflict["near_dup"].to_list() == [False, False] and work["conflicting_labels"] == 1
