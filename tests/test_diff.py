"""Scan-to-scan diff on two crafted rounds: new, still flagged, fixed (整改) or taken down (下架) — by listing,
category and shop."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from screener.cli import main
from screener.report import build_report, diff_scans, write_diff, write_workbook
from screener.report.diff import DIFF_FILES

_spec = importlib.util.spec_from_file_location(
    "report_scans", Path(__file__).parent / "fixtures" / "report" / "scans.py"
)
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return S.load_rules(tmp_path_factory.mktemp("packs"))


@pytest.fixture(scope="module")
def rounds(tmp_path_factory, rules) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("rounds")
    S.scan(S.ROUND1, base / "round1", rules)
    S.scan(S.ROUND2, base / "round2", rules)
    return base / "round1", base / "round2"


@pytest.fixture(scope="module")
def d(rounds):
    return diff_scans(*rounds)


def _status(d) -> dict:
    return {(r.platform, r.item_id): r.status for r in d.listings.itertuples()}


def test_listing_statuses(d):
    assert _status(d) == {
        ("淘宝", "A1"): "still",
        ("拼多多", "A5"): "still",
        ("淘宝", "A4"): "new",
        ("京东", "SAME"): "new",
        ("京东", "A7"): "new",
        ("淘宝", "A2"): "removed",  # absent from round 2: taken down
        ("淘宝", "A3"): "fixed",  # still listed, no longer flagged
        ("拼多多", "SAME"): "removed",
    }
    s = d.summary
    assert (s["new"], s["still"], s["fixed"], s["removed"], s["gone"]) == (3, 2, 1, 2, 0)
    assert (s["cleared"], s["previous"], s["current"], s["presence_known"]) == (3, 5, 5, True)
    assert s["key"] == ["platform", "item_id"] and not s["rules_changed"]
    # still-flagged rows show both rounds; gone rows show the listing as it was
    a5 = d.listings.set_index("item_id").loc["A5"]
    assert a5["categories_previous"] == "absolute_terms;wildlife" and a5["categories_current"] == "wildlife"
    assert a5["status_name"] == "仍未清理" and a5["score_current"] < a5["score_previous"]
    assert d.listings.set_index("item_id").loc["A3", "status_name"] == "已整改"
    a2 = d.listings.set_index("item_id").loc["A2"]
    assert a2["title"] == "象牙雕件" and a2["categories_current"] == "" and pd.isna(a2["score_current"])
    # rows are grouped new, still, fixed, removed
    order = list(d.listings["status"])
    assert order == sorted(order, key=["new", "still", "fixed", "removed", "gone"].index)


def test_by_category_is_per_listing_and_category(d):
    bc = d.by_category.set_index("category")
    cols = ["previous", "current", "new", "still", "fixed", "removed", "gone"]
    assert bc.loc["wildlife", cols].tolist() == [5, 3, 1, 2, 1, 2, 0]
    # A5 is still flagged for wildlife, no longer for 绝对化用语: fixed there
    assert bc.loc["absolute_terms", cols].tolist() == [1, 2, 2, 0, 1, 0, 0]
    assert bc.loc["wildlife", "cleared_share"] == pytest.approx(3 / 5)
    assert bc.loc["wildlife", "category_name"] == "野生动植物及其制品"


def test_by_shop(d):
    bs = d.by_shop.set_index(["platform", "shop_id"])
    cols = ["previous", "current", "new", "still", "fixed", "removed", "gone"]
    assert bs.loc[("淘宝", "T1"), cols].tolist() == [3, 2, 1, 1, 1, 1, 0]
    assert bs.loc[("拼多多", "P1"), cols].tolist() == [2, 1, 0, 1, 0, 1, 0]
    assert bs.loc[("京东", "J1"), cols].tolist() == [0, 2, 2, 0, 0, 0, 0]
    assert pd.isna(bs.loc[("京东", "J1"), "cleared_share"])
    assert bs.loc[("淘宝", "T1"), "shop_name"] == "象牙工艺店"
    # listings still not taken down first
    assert list(d.by_shop["still"]) == sorted(d.by_shop["still"], reverse=True)


def test_key_falls_back_to_item_id_without_platform(rules, rounds, tmp_path):
    cols = [c for c in S.COLUMNS if c != "platform"]
    i = S.COLUMNS.index("platform")
    S.scan([r[:i] + r[i + 1 :] for r in S.ROUND2], tmp_path / "noplat", rules, columns=cols)
    nd = diff_scans(rounds[0], tmp_path / "noplat")
    assert nd.summary["key"] == ["item_id"]
    st = {r.item_id: r.status for r in nd.listings.itertuples()}
    assert st["SAME"] == "still"  # one id, one listing, when platforms cannot be told apart
    assert (nd.summary["new"], nd.summary["still"], nd.summary["fixed"], nd.summary["removed"]) == (2, 3, 1, 1)


def test_duplicate_keys_counted_once(rules, rounds, tmp_path):
    S.scan([*S.ROUND2, S.T1("A1", "天然象牙手镯 重复上架")], tmp_path / "dup", rules)
    dd = diff_scans(rounds[0], tmp_path / "dup")
    assert dd.summary["duplicate_keys"] == {"previous": 0, "current": 1}
    assert (dd.listings["item_id"] == "A1").sum() == 1 and dd.summary["still"] == 2


def test_changed_rules_are_flagged(rounds, tmp_path):
    packs = S.write_packs(tmp_path / "packs2")
    text = (packs / "absolute_terms.yaml").read_text(encoding="utf-8").replace("score: 30", "score: 35")
    (packs / "absolute_terms.yaml").write_text(text, encoding="utf-8")
    import screener

    S.scan(S.ROUND2, tmp_path / "r2b", screener.load_rules([packs]))
    assert diff_scans(rounds[0], tmp_path / "r2b").summary["rules_changed"]
    rep = build_report(tmp_path / "r2b", previous=rounds[0])
    assert any(n.startswith("注意：两次扫描使用的规则包不同") for n in rep.notes)


def test_written_files(d, tmp_path):
    files = write_diff(d, tmp_path / "diff")
    assert [f.name for f in files] == list(DIFF_FILES) and all(f.is_file() for f in files)
    back = pd.read_parquet(tmp_path / "diff" / "diff.parquet")
    assert len(back) == len(d.listings) and list(back.columns) == list(d.listings.columns)
    csv = pd.read_csv(tmp_path / "diff" / "diff_by_category.csv", encoding="utf-8-sig")
    assert csv.set_index("category")["gone"].to_dict() == d.by_category.set_index("category")["gone"].to_dict()
    s = json.loads((tmp_path / "diff" / "diff_summary.json").read_text(encoding="utf-8"))
    assert s["still"] == 2 and s["key"] == ["platform", "item_id"]


def test_report_with_previous_has_the_diff_sheets(rounds, d, tmp_path):
    rep = build_report(rounds[1], previous=rounds[0])
    wb = load_workbook(write_workbook(rep, tmp_path / "r.xlsx"))
    assert {"复查汇总", "复查店铺", "复查明细"} <= set(wb.sheetnames)
    ws = wb["复查明细"]
    assert ws.max_row == len(d.listings) + 1 and ws.freeze_panes == "A2" and ws.auto_filter.ref
    summ = {r[0]: r for r in wb["复查汇总"].iter_rows(min_row=2, values_only=True)}
    assert summ["wildlife"][2:9] == (5, 3, 1, 2, 1, 2, 0)
    ov = {r[0]: r[1] for r in wb["统计概况"].iter_rows(min_row=2, values_only=True)}
    assert (ov["复查：新增违规"], ov["复查：仍未清理"], ov["复查：已整改"], ov["复查：已下架"]) == (3, 2, 1, 2)
    rules = rep.rules.set_index("rule_id")
    prev = json.loads((rounds[0] / "summary.json").read_text(encoding="utf-8"))["hits_per_rule"]
    assert rules["previous_hits"].to_dict() == {r: prev.get(r, 0) for r in rules.index}
    assert (rules["change"] == rules["hits"] - rules["previous_hits"]).all()


def test_cli_diff(rounds):
    res = CliRunner().invoke(main, ["diff", str(rounds[0]), str(rounds[1])])
    assert res.exit_code == 0, res.output
    assert "3 new, 2 still flagged, 1 fixed (已整改), 2 taken down (已下架)" in res.output
    assert (rounds[1] / "diff" / "diff.csv").is_file()
    res = CliRunner().invoke(main, ["diff", str(rounds[0]), str(rounds[0].parent)])
    assert res.exit_code == 2 and "not a finished scan" in res.output


def test_a_status_column_tells_taken_down_listings(rules, rounds, tmp_path):
    # round 2 exported with the platform's status column: A1 is still flagged but off sale, A3 is in the
    # warehouse (仓库中), A4 on sale
    status = {"A1": "已下架", "A3": "仓库中", "A4": "出售中"}
    rows = [[*r, status.get(r[0], "出售中")] for r in S.ROUND2]
    S.scan(rows, tmp_path / "r2s", rules, columns=[*S.COLUMNS, "商品状态"])
    s = json.loads((tmp_path / "r2s" / "summary.json").read_text(encoding="utf-8"))
    assert "商品状态" not in s["inputs"][0]["ignored_columns"]  # read, not ignored
    ds = diff_scans(rounds[0], tmp_path / "r2s")
    st = {r.item_id: r.status for r in ds.listings.itertuples() if r.platform != "京东"}
    assert st == {"A1": "removed", "A3": "removed", "A2": "removed", "A5": "still", "A4": "new", "SAME": "removed"}
    assert ds.summary["status_column"] and ds.summary["still"] == 1
    a1 = ds.listings.set_index("item_id").loc["A1"]
    assert a1["categories_current"] == "wildlife"  # still flagged, shown as it is now


def test_without_a_record_of_the_listings_read_fixed_and_taken_down_are_one(rounds, tmp_path):
    import shutil

    old_style = tmp_path / "r2old"
    shutil.copytree(rounds[1], old_style)
    (old_style / "scanned.parquet").unlink()  # a scan by an older version, or by the Spark engine
    dg = diff_scans(rounds[0], old_style)
    assert (dg.summary["fixed"], dg.summary["removed"], dg.summary["gone"]) == (0, 0, 3)
    assert not dg.summary["presence_known"]
    assert set(dg.listings.loc[dg.listings["status"] == "gone", "status_name"]) == {"已下架或已整改"}
    res = CliRunner().invoke(main, ["diff", str(rounds[0]), str(old_style)])
    assert "3 gone or fixed" in res.output and "整改 and 下架 are counted together" in res.output
