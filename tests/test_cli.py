"""The command line end to end, and the output contract."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner
from conftest import RULES

from screener.cli import main
from screener.schema import FLAGGED_SCHEMA, HITS_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_HITS = [
    "item_id",
    "category",
    "rule_id",
    "severity",
    "score",
    "field",
    "term",
    "matched",
    "start",
    "end",
    "snippet",
    "normalizations",
]
CONTRACT_FLAGGED = [
    "item_id",
    "title",
    "shop_id",
    "shop_name",
    "url",
    "categories",
    "rule_ids",
    "max_severity",
    "score",
    "legal_basis",
    "departments",
    "evidence",
]


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, res.output


def test_scan_samples_with_bundled_packs_writes_the_contract(tmp_path):
    code, out = run("scan", ROOT / "samples", "-o", tmp_path, "-q")
    assert code == 0, out
    hits = pq.read_table(tmp_path / "hits.parquet")
    flagged = pq.read_table(tmp_path / "flagged.parquet")
    assert hits.schema.names[: len(CONTRACT_HITS)] == CONTRACT_HITS and hits.schema == HITS_SCHEMA
    assert flagged.schema.names[: len(CONTRACT_FLAGGED)] == CONTRACT_FLAGGED and flagged.schema == FLAGGED_SCHEMA
    raw = (tmp_path / "flagged.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    s = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert s["rows_read"] == s["rows_scanned"] + s["rows_rejected"] == 200
    assert s["rows_flagged"] == flagged.num_rows and s["hits"] == hits.num_rows
    assert s["engine"]["version"] and len(s["rules"]["hash"]) == 64
    gbk = next(i for i in s["inputs"] if i["path"].endswith("gb18030.csv"))
    assert gbk["encoding"] == "gb18030" and gbk["columns"]["title"] == "商品标题" and len(gbk["sha256"]) == 64
    # every hit's span is the original text
    listings = {r["item_id"]: r for r in csv.DictReader(open(ROOT / "samples/listings.csv", encoding="utf-8"))}
    for h in hits.to_pylist():
        row = listings.get(h["item_id"])
        if row and h["start"] is not None:
            assert row[h["field"]][h["start"] : h["end"]] == h["matched"]


def test_explain_separator_exclusion_and_word_boundary():
    code, out = run("explain", "--rules", RULES, "象-牙手镯 象牙白T恤")
    assert code == 0
    assert "HIT  WL001" in out and "「象-牙」" in out and "via separator" in out
    assert "SKIP WL001 title[6:8] 「象牙」" in out and "[exclude]" in out and "'象牙白'" in out
    code, out = run("explain", "--rules", RULES, "第一品牌")
    assert "HIT  AT001" in out
    code, out = run("explain", "--rules", RULES, "第一次使用")
    assert "not flagged" in out and "[word] not a whole word" in out


def test_explain_row_json():
    code, out = run("explain", "--rules", RULES, "--row", json.dumps({"title": "降血压茶", "category": "食品>茶"}))
    assert code == 0 and "HIT  WL003" in out
    code, out = run("explain", "--rules", RULES, "--row", json.dumps({"title": "降血压茶", "category": "图书"}))
    assert "not flagged" in out and "[scope] listing category outside the rule's categories" in out


def test_rules_validate_and_test_exit_codes(tmp_path):
    assert run("rules", "validate", RULES)[0] == 0
    assert run("rules", "test", RULES)[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (RULES / "absolute_terms.yaml").read_text(encoding="utf-8").replace("最便宜的手机", "便宜的手机"),
        encoding="utf-8",
    )
    code, out = run("rules", "test", bad)
    assert code == 1 and "FAIL" in out and "AT001 should hit: '便宜的手机'" in out and "bad.yaml:" in out
    bad.write_text(
        "pack: absolute_terms\nprefix: AT\nlegal_basis: [{law: x, article: y}]\nrules:\n  - id: AT001\n    nme: x\n",
        encoding="utf-8",
    )
    code, out = run("rules", "validate", bad)
    assert code == 2 and "bad.yaml:6 (rule AT001): unknown key 'nme'" in out


def test_missing_required_column_fails_without_complete_outputs(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("foo,bar\n1,x\n", encoding="utf-8")
    out = tmp_path / "out"
    code, text = run("scan", inp, "-o", out, "--rules", RULES)
    assert code == 2 and "missing required column(s) item_id, title" in text and "in.csv:1" in text
    assert not (out / "summary.json").exists() and not (out / "hits.parquet").exists()
    assert not list(out.glob(".*.partial"))


def test_map_option(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("编码,品名\n1,象牙手镯\n", encoding="utf-8")
    code, _ = run(
        "scan", inp, "-o", tmp_path / "o", "--rules", RULES, "--map", "编码=item_id", "--map", "品名=title", "-q"
    )
    assert code == 0
    assert pq.read_table(tmp_path / "o" / "hits.parquet").column("rule_id").to_pylist() == ["WL001"]


def test_hostile_cells_are_neutralised_in_csv(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text('item_id,title,shop_name\n1,"=HYPERLINK(""http://evil"",""象牙"")",@SUM(1+1)\n', encoding="utf-8")
    assert run("scan", inp, "-o", tmp_path / "o", "--rules", RULES, "-q")[0] == 0
    rows = list(csv.DictReader(open(tmp_path / "o" / "flagged.csv", encoding="utf-8-sig")))
    assert rows[0]["title"].startswith("'=HYPERLINK") and rows[0]["shop_name"] == "'@SUM(1+1)"
