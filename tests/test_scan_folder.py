"""Scanning a folder of exports as it is found on a desk: stray files, subfolders, old outputs;
a new scan into an old output folder; warnings printed at the end of the scan."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import screener
from screener.cli import main
from screener.errors import InputError
from screener.io.columns import map_headers

RULES = Path(__file__).parent / "fixtures" / "rules"


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, res.output


@pytest.fixture
def desk(tmp_path):
    d = tmp_path / "dumps"
    (d / "2026-05").mkdir(parents=True)
    (d / "a.csv").write_text("item_id,title\n1,象牙手镯\n", encoding="utf-8")
    (d / "2026-05" / "b.csv").write_text("item_id,title\n2,象牙筷子\n", encoding="utf-8")
    (d / "README.txt").write_text("导出说明：每月一个文件\n", encoding="utf-8")
    (d / "notes.md").write_text("# notes\n", encoding="utf-8")
    (d / "summary.json").write_text('{"rows": 3}\n', encoding="utf-8")
    return d


def test_a_folder_with_stray_files_and_subfolders(desk, tmp_path):
    code, out = run("scan", desk, "-o", tmp_path / "out", "--rules", RULES)
    assert code == 0, out
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert [Path(i["path"]).name for i in s["inputs"]] == ["a.csv"]
    reasons = {Path(x["path"]).name: x["reason"] for x in s["skipped_inputs"]}
    assert set(reasons) == {"README.txt", "notes.md", "summary.json", "2026-05"}
    assert reasons["README.txt"].startswith("not a listing export: missing required column(s)")
    assert "--recursive" in reasons["2026-05"]
    assert "skipped 4 input(s):" in out and "README.txt: not a listing export" in out
    code, out = run("scan", desk, "-o", tmp_path / "out2", "--rules", RULES, "--recursive", "-q")
    s = json.loads((tmp_path / "out2" / "summary.json").read_text(encoding="utf-8"))
    assert [Path(i["path"]).name for i in s["inputs"]] == ["b.csv", "a.csv"] and s["rows_flagged"] == 2


def test_a_named_file_that_is_not_an_export_still_stops_the_scan(desk, tmp_path):
    code, out = run("scan", desk / "README.txt", "-o", tmp_path / "out", "--rules", RULES)
    assert code == 2 and "README.txt:1: missing required column(s)" in out


def test_screener_output_folders_are_never_read_as_listings(desk, tmp_path):
    out = desk / "2026-05" / "scan-out"  # an earlier scan, written inside the exports folder
    screener.scan_files([desk / "a.csv"], out, screener.load_rules([RULES]))
    s = screener.scan_files([desk], tmp_path / "o", screener.load_rules([RULES]), recursive=True)
    assert [Path(i["path"]).name for i in s["inputs"]] == ["b.csv", "a.csv"]
    assert {"path": str(out), "reason": "a screener output folder, not listing exports"} in s["skipped_inputs"]
    with pytest.raises(InputError, match="screener output folder"):
        screener.scan_files([out], tmp_path / "o2", screener.load_rules([RULES]))
    # the scan's own output folder inside the input folder is not read either
    s = screener.scan_files([desk], desk / "out", screener.load_rules([RULES]), recursive=True)
    s = screener.scan_files([desk], desk / "out", screener.load_rules([RULES]), recursive=True)
    assert [Path(i["path"]).name for i in s["inputs"]] == ["b.csv", "a.csv"]


def test_a_new_scan_replaces_the_old_report_and_says_so(desk, tmp_path):
    out = tmp_path / "out"
    code, _ = run("scan", desk / "a.csv", "-o", out, "--rules", RULES, "--report", "-q")
    assert code == 0 and (out / "report.xlsx").is_file() and (out / "report.html").is_file()
    code, _ = run("diff", out, out, "-q")
    assert (out / "diff" / "diff.csv").is_file()
    (out / "diff" / "mine.txt").write_text("an investigator's own note", encoding="utf-8")
    (out / "notes.txt").write_text("kept", encoding="utf-8")
    code, text = run("scan", desk / "2026-05" / "b.csv", "-o", out, "--rules", RULES)
    assert code == 0
    assert "replaced the earlier scan in this folder" in text and "report.xlsx, report.html" in text
    assert not (out / "report.xlsx").exists() and not (out / "report.html").exists()
    assert not (out / "diff" / "diff.csv").exists() and (out / "diff" / "mine.txt").is_file()
    assert (out / "notes.txt").read_text(encoding="utf-8") == "kept"
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["replaced_previous_scan"]["rows_read"] == 1 and "report.html" in s["replaced_previous_scan"]["removed"]
    assert pq.read_table(out / "flagged.parquet").column("item_id").to_pylist() == ["2"]
    # with --report the report is written again, of the new scan
    code, _ = run("scan", desk / "a.csv", "-o", out, "--rules", RULES, "--report", "-q")
    assert (out / "report.xlsx").is_file()


def test_warnings_and_unread_columns_are_printed_grouped_and_counted(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("商品ID,宝贝标题,价格,销量\n1,象牙手镯,价格面议,3\n1,茶杯,面议,4\n2,象牙,12,5\n", encoding="utf-8")
    b = tmp_path / "b.csv"
    b.write_text("商品ID,宝贝标题,价格\n3,茶杯,电议\n", encoding="utf-8")
    code, out = run("scan", a, b, "-o", tmp_path / "out", "--rules", RULES)
    assert code == 0, out
    lines = out.splitlines()
    price = next(x for x in lines if "价格面议" in x)
    assert price.split("×")[0].strip() == "3" and "a.csv 2" in price and "b.csv 1" in price
    dup = next(x for x in lines if "item_id repeats" in x)
    assert dup.split("×")[0].strip() == "1"
    assert "  a.csv: 销量" in lines


def test_common_platform_headers_are_mapped():
    m = map_headers(["宝贝ID", "宝贝标题", "一口价", "卖家昵称", "宝贝链接"])
    assert {c: m.source_name(c) for c in m.sources} == {
        "item_id": "宝贝ID",
        "title": "宝贝标题",
        "price": "一口价",
        "shop_name": "卖家昵称",
        "url": "宝贝链接",
    }
    assert m.ignored == ()
