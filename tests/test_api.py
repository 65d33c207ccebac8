"""The Python API on ordinary DataFrames behaves like the CLI on the same data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import screener
from screener.errors import InputError

RULES = Path(__file__).parent / "fixtures" / "rules"


@pytest.fixture(scope="module")
def rs():
    return screener.load_rules([RULES])


def test_mixed_and_numeric_columns_read_as_the_cli_reads_them(rs, tmp_path):
    df = pd.DataFrame(
        {
            "商品ID": [612345678901234567, 2, 3, 4],  # ints
            "商品标题": ["天然象牙手镯", "茶杯", None, "象-牙筷子"],
            "价格": [199.0, "价格面议", 5, np.nan],  # mixed: numbers and text
            "店铺ID": ["S1", 42, None, 7.0],  # mixed ids
        }
    )
    res = screener.scan_dataframe(df, rs)
    assert res.rows_read == 4 and res.rows_scanned == 4
    assert res.flagged["item_id"].tolist() == ["612345678901234567", "4"]
    assert res.flagged["shop_id"].tolist() == ["S1", "7"]
    # the same rows through the CLI's reader give the same flags
    path = tmp_path / "same.csv"
    df.to_csv(path, index=False)
    s = screener.scan_files([path], tmp_path / "out", rs)
    assert s["rows_flagged"] == len(res.flagged)


def test_rejects_are_a_dataframe_and_offsets_nullable_integers(rs):
    df = pd.DataFrame({"item_id": ["1", "", "3"], "title": ["象牙", "象牙", "茶杯"], "shop_license_no": [None] * 3})
    res = screener.scan_dataframe(df, rs)
    assert isinstance(res.rejects, pd.DataFrame)
    assert res.rejects[["row", "reason"]].values.tolist() == [[2, "item_id is empty"]]
    assert str(res.hits["start"].dtype) == "Int32" and str(res.hits["end"].dtype) == "Int32"
    assert res.hits["start"].tolist()[0] == 0
    assert str(res.flagged["score"].dtype) == "Int32"


def test_a_missing_column_names_the_keyword_not_a_cli_flag(rs):
    with pytest.raises(InputError) as ei:
        screener.scan_dataframe(pd.DataFrame({"编号": ["1"], "品名": ["象牙"]}), rs)
    msg = str(ei.value)
    assert "mapping={'SOURCE': 'item_id'}" in msg and "--map" not in msg
    res = screener.scan_dataframe(
        pd.DataFrame({"编号": ["1"], "品名": ["象牙"]}), rs, mapping={"编号": "item_id", "品名": "title"}
    )
    assert res.flagged["item_id"].tolist() == ["1"]


def test_explain_row_prints_readably(rs):
    ex = screener.explain_row("象-牙手镯 象牙白T恤", rs)
    text = str(ex)
    assert "HIT  WL001" in text and "title[0:3] 「象-牙」" in text and "via separator" in text
    assert "SKIP WL001 title[6:8] 「象牙」" in text and "'象牙白'" in text
    assert str(screener.explain_row("茶杯", rs)).startswith("not flagged")
