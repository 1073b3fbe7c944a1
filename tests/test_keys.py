"""keys.group_ids: the groups polars' exact grouping gives, numbered by first appearance, also when
the first 64-bit hashes collide."""
import numpy as np
import polars as pl

from mathdata.keys import group_ids, group_min, placed


def _exact(df, cols):
    """The reference: polars' own grouping of the texts (unique in order, then a join)."""
    uniq = df.select(cols).unique(maintain_order=True).with_row_index("g")
    return df.select(cols).join(uniq, on=cols, how="left", maintain_order="left", nulls_equal=True)["g"].to_list()


def test_ids_follow_first_appearance_and_match_exact_grouping():
    rng = np.random.default_rng(3)
    texts = [f"计算 {x} + 1" for x in rng.integers(0, 50, 2000)]
    df = pl.DataFrame({"t": texts})
    g = group_ids(df, "t")
    assert g.ids.tolist() == _exact(df, ["t"])
    assert g.first.tolist() == df.with_row_index().unique("t", keep="first", maintain_order=True)["index"].to_list()
    assert g.count == df["t"].n_unique()


def test_several_columns_and_nulls():
    df = pl.DataFrame({"a": ["x", "x", None, None, "x", "y"], "b": ["1", "2", None, "1", "1", None]})
    g = group_ids(df, ["a", "b"])
    assert g.ids.tolist() == [0, 1, 2, 3, 0, 4]
    assert g.first.tolist() == [0, 1, 2, 3, 5]


def test_colliding_hashes_never_merge_different_texts():
    df = pl.DataFrame({"t": ["a", "b", "a", "c", "b"]})
    g = group_ids(df, "t", hashes=np.zeros(5, dtype=np.uint64))   # every first hash equal
    assert g.ids.tolist() == [0, 1, 0, 2, 1]
    assert g.first.tolist() == [0, 1, 3]


def test_spread_firsts_group_min_and_placed():
    df = pl.DataFrame({"t": ["p", "q", "p", "q", "r"], "v": [5, 3, 1, 9, 4]})
    g = group_ids(df, "t")
    assert g.firsts(df)["t"].to_list() == ["p", "q", "r"]
    assert g.spread(pl.Series(["P", "Q", "R"])).to_list() == ["P", "Q", "P", "Q", "R"]
    assert group_min(g, df["v"].to_numpy()).tolist() == [1, 3, 4]
    assert placed(5, pl.Series([1, 3], dtype=pl.UInt32), pl.Series("s", ["x", "y"])).to_list() == [None, "x", None, "y", None]


def test_empty_frame():
    g = group_ids(pl.DataFrame({"t": []}, schema={"t": pl.String}), "t")
    assert g.count == 0 and len(g.ids) == 0
