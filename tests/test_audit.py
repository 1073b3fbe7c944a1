"""Audit figures on fixtures/audit/mixed.jsonl, a hand-written file of 39 records:
7 add (2 exact copies, 1 reformatted near copy, 1 wrong answer, 1 with full-width digits), every
other template, 4 simplifications (3 copies) + 1 not in lowest terms, a wrong area, an implausible
discount, 4 Chinese word problems (1 near copy), 3 English (1 copy) and 1 bare expression."""


def test_totals(mixed_stats):
    s = mixed_stats
    assert s["records"] == 39 and s["bad_lines"] == 0
    assert s["exact_duplicates"] == 6 and s["near_duplicates"] == 2 and s["unique"] == 33 and s["kept"] == 31
    assert s["median_chars"] == 27.0
    assert s["status"] == {"verified": 27, "wrong": 3, "implausible": 1, "unverifiable": 8}
    assert s["reasons"]["wrong"] == {"answer_mismatch": 2, "not_lowest_terms": 1}
    assert s["reasons"]["implausible"] == {"discounted_price_above_original": 1}


def test_categories(mixed_stats):
    cats = mixed_stats["categories"]
    counts = {k: v["count"] for k, v in cats.items()}
    assert counts == {"add": 7, "sub": 1, "mul": 1, "div": 1, "power": 2, "sqrt": 1, "simplify": 5, "mean": 2,
                      "equation": 2, "function": 2, "area": 2, "mass": 1, "discount": 2, "sales": 2,
                      "word_problem": 4, "english": 3, "other": 1}
    assert list(cats)[:3] == ["add", "sub", "mul"]  # report order from rules/categories.toml
    add = cats["add"]
    assert (add["unique"], add["exact_duplicates"], add["near_duplicates"], add["wrong"]) == (5, 2, 1, 1)
    assert cats["simplify"]["exact_duplicates"] == 3 and cats["simplify"]["duplicate_rate"] == 0.6
    assert cats["english"]["exact_duplicates"] == 1
    assert cats["word_problem"]["near_duplicates"] == 1
    assert cats["discount"]["implausible"] == 1
    # families: all add records share one masked wording; the two means have different list lengths
    assert cats["add"]["families"] == 1 and cats["mean"]["families"] == 2


def test_clusters_and_examples(mixed_stats):
    top = mixed_stats["top_exact_clusters"][0]
    assert top == {"problem": "将分数 5/6 进行简化。", "category": "simplify", "copies": 4}
    wrong = {e["problem"]: e["reason"] for e in mixed_stats["examples"]["wrong"]}
    assert wrong["将分数 4/6 进行简化。"] == "not_lowest_terms"
    assert wrong["计算 100.00 + 200.00 等于多少？"] == "answer_mismatch"
    imp = mixed_stats["examples"]["implausible"][0]
    assert imp["line"] == 28 and imp["reason"] == "discounted_price_above_original"
    near = {c["category"]: c["size"] for c in mixed_stats["top_near_clusters"]}
    assert near == {"add": 2, "word_problem": 2}


def test_every_category_is_listed_even_when_empty(tmp_path):
    from mathdata.audit import audit
    f = tmp_path / "one.jsonl"
    f.write_text('{"problem": "将分数 5/6 进行简化。", "solution": "最简化的形式为：5/6"}\n', encoding="utf-8")
    cats = audit([f], quiet=True, workers=1)["categories"]
    assert len(cats) == 17 and cats["simplify"]["count"] == 1
    assert cats["english"] == {"count": 0, "unique": 0, "exact_duplicates": 0, "near_duplicates": 0, "kept": 0,
                               "duplicate_rate": 0.0, "families": 0, "verified": 0, "wrong": 0, "implausible": 0,
                               "unverifiable": 0, "median_chars": 0.0}
