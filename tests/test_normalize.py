import polars as pl

from mathdata.normalize import canonical_numbers_expr, mask_numbers_expr, normalize_expr, normalize_text

CASES = {
    "计算 ４２０４.２２ + -2369.17 等于多少？": "计算 4204.22 + -2369.17 等于多少",
    "  将分数 5/6   进行简化。 ": "将分数 5/6 进行简化",
    "求以下数据的平均值：[41, 63, 52]": "求以下数据的平均值:[41, 63, 52]",
    "What is 2+2?!": "What is 2+2",
    "长为\u300012 厘米．": "长为 12 厘米",
}


def test_normalize_text_documented_steps():
    for raw, expected in CASES.items():
        assert normalize_text(raw) == expected


def test_polars_normalisation_equals_python():
    df = pl.DataFrame({"t": list(CASES)})
    assert df.select(normalize_expr(pl.col("t"))).to_series().to_list() == list(CASES.values())


def test_canonical_numbers_and_family_mask():
    df = pl.DataFrame({"t": ["长为 1,044.40 厘米,宽 007 和 -0.0", "x 5.000 1.50 -3"]})
    out = df.select(n=canonical_numbers_expr(pl.col("t")), f=mask_numbers_expr(pl.col("t")))
    assert out["n"].to_list() == [["1044.4", "7", "0"], ["5", "1.5", "-3"]]
    assert out["f"].to_list() == ["长为 # 厘米,宽 # 和 #", "x # # #"]


def test_canonical_numbers_equals_the_expression_on_random_number_texts():
    """The Series fast path (only texts with a non-canonical number are rewritten) gives exactly
    canonical_numbers_expr's lists, on texts dense in commas, zeros, dots and signs."""
    import random

    from mathdata.normalize import canonical_numbers, canonical_numbers_expr
    rng = random.Random(7)
    texts = ["".join(rng.choice("0123456789,.-+ a一") for _ in range(rng.randint(0, 14))) for _ in range(30000)]
    s = pl.Series("t", texts)
    fast = canonical_numbers(s)
    assert fast.to_list() == s.to_frame().select(canonical_numbers_expr(pl.col("t")))["t"].to_list()
    assert canonical_numbers(pl.Series(["1,044.40 与 007", "3 + 4"])).to_list() == [["1044.4", "7"], ["3", "4"]]
