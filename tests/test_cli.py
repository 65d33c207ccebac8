"""The command line end to end, and the output contract."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner
from helpers import RULES

from screener.cli import main
from screener.schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA

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
    assert hits.schema.names[: len(CONTRACT_HITS)] == CONTRACT_HITS and hits.schema == HITS_OUTPUT_SCHEMA
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
    with open(ROOT / "samples/listings.csv", encoding="utf-8") as fh:
        listings = {r["item_id"]: r for r in csv.DictReader(fh)}
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
    with open(tmp_path / "o" / "flagged.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["title"].startswith("'=HYPERLINK") and rows[0]["shop_name"] == "'@SUM(1+1)"


# -- the CLI explains itself ----------------------------------------------------------------
def _commands(group, path=()):
    import click

    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


def test_every_command_has_examples_and_every_option_a_description():
    for path, cmd in _commands(main):
        code, out = run(*path, "--help")
        assert code == 0 and "Examples:" in out and f"screener {' '.join(path)}" in out, path
        for p in cmd.params:
            if p.param_type_name == "option":
                assert p.help, f"screener {' '.join(path)} {p.opts[0]} has no description"


def test_the_rule_path_is_spelled_rules_in_every_command_that_loads_packs():
    loads = {("scan",), ("explain",), ("rules", "validate"), ("rules", "test"), ("rules", "lint"), ("rules", "stats")}
    for path, cmd in _commands(main):
        if path in loads:
            assert "--rules" in [o for p in cmd.params for o in getattr(p, "opts", [])], path
    assert run("rules", "test", "--rules", RULES)[0] == 0  # and as arguments, as before
    assert run("rules", "test", RULES)[0] == 0


def test_explain_reads_listings_from_stdin():
    from click.testing import CliRunner

    lines = '象-牙手镯\n\n{"title": "降血压茶", "category": "食品>茶"}\n茶杯\n{broken\n'
    res = CliRunner().invoke(main, ["explain", "-", "--rules", str(RULES)], input=lines)
    assert res.exit_code == 2  # one line could not be read; the others were explained
    out = res.output
    assert "== line 1: 象-牙手镯" in out and "HIT  WL001" in out
    assert "== line 3: 降血压茶" in out and "HIT  WL003" in out
    assert "== line 4: 茶杯\nnot flagged" in out and "error: line 5: line 5 is not valid JSON" in out
    res = CliRunner().invoke(main, ["explain", "-", "--json", "--rules", str(RULES)], input="象-牙手镯\n茶杯\n")
    docs = [json.loads(x) for x in res.output.splitlines()]
    assert [(d["line"], len(d["hits"])) for d in docs] == [(1, 1), (2, 0)] and docs[0]["hits"][0]["rule_id"] == "WL001"


def test_progress_bar_is_not_red_and_the_spark_hint_matches_the_readme():
    from screener.cli.scan import SPARK_INSTALL, progress_columns

    bar = progress_columns()[1]
    assert {bar.complete_style, bar.finished_style, bar.pulse_style} == {"green"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install '.[spark]'" in SPARK_INSTALL and "pip install '.[spark]'" in readme
    assert "'.[spark]'" in run("scan", "--help")[1]


def test_readme_quick_start_and_skipped_tests():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme[readme.index("## Quick start") : readme.index("## Where the rule packs are")]
    assert quick.index("python3 -m venv .venv") < quick.index("pip install .")  # Debian's pip refuses system installs
    assert "pytest -rs" in quick and "fonts-noto-cjk" in quick
    # every test module that can skip is named, with what enables it
    skips = re.compile(r"^(?:pytestmark = pytest\.mark\.skipif|@pytest\.mark\.skipif|pytest\.importorskip)\(", re.M)
    skipping = sorted(p.name for p in (ROOT / "tests").glob("test_*.py") if skips.search(p.read_text(encoding="utf-8")))
    assert skipping and all(f"tests/{name}" in quick for name in skipping), skipping
    for path, _ in _commands(main):
        assert f"screener {' '.join(path)}" in readme, path
