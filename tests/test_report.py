"""The investigator report: figures against hits.parquet, shops, cases, workbook, HTML, formula safety."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from screener.cli import main
from screener.io.safety import FORMULA_TRIGGERS, clean_text
from screener.report import build_report, render_html, write_html, write_workbook
from screener.report.labels import SHEETS
from screener.report.scandir import open_scan

_spec = importlib.util.spec_from_file_location(
    "report_scans", Path(__file__).parent / "fixtures" / "report" / "scans.py"
)
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return S.load_rules(tmp_path_factory.mktemp("packs"))


@pytest.fixture(scope="module")
def outdir(tmp_path_factory, rules) -> Path:
    out = tmp_path_factory.mktemp("scan") / "out"
    S.scan(S.LISTINGS, out, rules)
    return out


@pytest.fixture(scope="module")
def rep(outdir):
    return build_report(outdir)


@pytest.fixture(scope="module")
def workbook(rep, tmp_path_factory):
    path = write_workbook(rep, tmp_path_factory.mktemp("wb") / "report.xlsx")
    return load_workbook(path)


def _hits(outdir) -> pd.DataFrame:
    return pd.read_parquet(outdir / "hits.parquet")


def _flagged(outdir) -> pd.DataFrame:
    f = pd.read_parquet(outdir / "flagged.parquet")
    for c in ("platform", "shop_id", "shop_name"):
        f[c] = f[c].fillna("").astype(str)
    return f


# -- figures -------------------------------------------------------------------------------
def test_category_figures_equal_hits_parquet(outdir, rep):
    h = _hits(outdir)
    bc = rep.by_category.set_index("category")
    assert bc["hits"].to_dict() == h["category"].value_counts().to_dict()
    assert bc["flagged"].to_dict() == h.groupby("category")["row_id"].nunique().to_dict()
    f = _flagged(outdir)
    # shops per category: distinct (platform, shop_id) among the category's listings that have a shop
    pairs = h[["row_id", "category"]].drop_duplicates().merge(f[["row_id", "platform", "shop_id"]], on="row_id")
    shops = pairs[pairs["shop_id"] != ""].groupby("category").apply(lambda g: len(set(zip(g.platform, g.shop_id))))
    assert bc["shops"].to_dict() == shops.to_dict()
    assert (bc.loc["wildlife", "flagged_share"] - bc.loc["wildlife", "flagged"] / len(f)) < 1e-12
    # the category table names every pack of the scan, even one without hits
    assert set(rep.by_category["category"]) == {"wildlife", "absolute_terms", "license_display"}


def test_totals_severity_platform_and_rules_equal_the_outputs(outdir, rep):
    h, f = _hits(outdir), _flagged(outdir)
    s = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    t = rep.totals
    assert (t["flagged"], t["hits"], t["rows_scanned"], t["rows_rejected"]) == (
        len(f),
        len(h),
        s["rows_scanned"],
        s["rows_rejected"],
    )
    assert t["shops"] == len({(p, i) for p, i in zip(f.platform, f.shop_id) if i})
    sev = rep.by_severity.set_index("severity")
    assert sev["hits"][sev["hits"] > 0].to_dict() == h["severity"].value_counts().to_dict()
    assert sev["flagged"][sev["flagged"] > 0].to_dict() == f["max_severity"].value_counts().to_dict()
    bp = rep.by_platform.set_index("platform")
    f["platform"] = f["platform"].replace("", "(未填写)")
    assert bp["flagged"].to_dict() == f["platform"].value_counts().to_dict()
    hp = h.merge(f[["row_id", "platform"]], on="row_id")["platform"].value_counts().to_dict()
    assert bp["hits"].to_dict() == hp
    r = rep.rules.set_index("rule_id")
    assert r["hits"].to_dict() == h["rule_id"].value_counts().to_dict() == s["hits_per_rule"]
    assert r["listings"].to_dict() == h.groupby("rule_id")["row_id"].nunique().to_dict()
    assert r.loc["WL001", "rule_name"] == "象牙制品" and r.loc["WL001", "severity"] == "高"
    ov = dict(zip(rep.overview["item"], rep.overview["value"]))
    assert ov["规则包哈希"] == s["rules"]["hash"][:12] and ov["违规商品数"] == len(f)  # short, for people
    assert ov["筛查引擎版本"].endswith(s["engine"]["version"])


def test_departments_come_from_the_packs(outdir, rep, tmp_path):
    h, f = _hits(outdir), _flagged(outdir)
    d = rep.by_department.set_index("department")
    exploded = f["departments"].str.split(";").explode()
    assert d["flagged"].to_dict() == exploded.value_counts().to_dict()
    # the pack's own department (not in the taxonomy) carries wildlife's hits
    assert d.loc["海关缉私分局", "hits"] == (h["category"] == "wildlife").sum()
    assert d.loc["区市场监管局", "hits"] == len(h)
    assert "海关缉私分局" in rep.by_category.set_index("category").loc["wildlife", "departments"]
    # a scan whose summary predates pack departments: derived from the flagged listings
    old = tmp_path / "old"
    shutil.copytree(outdir, old)
    s = json.loads((old / "summary.json").read_text(encoding="utf-8"))
    for p in s["rules"]["packs"]:
        p.pop("departments", None)
    (old / "summary.json").write_text(json.dumps(s, ensure_ascii=False), encoding="utf-8")
    again = build_report(old)
    pd.testing.assert_frame_equal(again.by_department, rep.by_department)


def test_shops_ranked_with_licence_status(outdir, rep):
    shops = rep.shops
    assert list(shops["rank"]) == list(range(1, len(shops) + 1))
    key = shops.set_index(["platform", "shop_id"])
    f = _flagged(outdir)
    counts = f[f.shop_id != ""].groupby(["platform", "shop_id"]).size()
    assert key["flagged"].to_dict() == counts.to_dict()
    # ranked by flagged listings, then best score
    assert list(zip(shops["flagged"], shops["max_score"])) == sorted(
        zip(shops["flagged"], shops["max_score"]), reverse=True
    )
    bad = key.loc[("淘宝", S.HOSTILE_SHOP_ID)]
    assert bad["licence_status"] == "未依法亮照亮证" and bad["licence_rules"].startswith("LD001 企业未亮照（3件）")
    assert (
        key.loc[("淘宝", "T1"), "licence_status"] == "未发现亮照问题" and key.loc[("淘宝", "T1"), "licence_rules"] == ""
    )
    assert set(key.loc[("淘宝", "T1"), "categories"].split("、")) == {
        "野生动植物及其制品",
        "广告绝对化用语 (《广告法》第九条)",
    }
    assert key.loc[("淘宝", "T1"), "sample_url"] == "https://item.example.com/I02"  # its highest-scoring listing


def test_typical_cases_carry_the_evidence(rep):
    c = rep.cases
    assert len(c) >= 5
    w = c[c["category"] == "wildlife"]
    assert list(w["rank"]) == list(range(1, len(w) + 1)) and len(w) == 5
    # best first, and one listing per shop before a shop's second listing
    owners = [(p, s) if s else ("", i) for p, s, i in zip(w.platform, w.shop_id, w.item_id)]
    assert len(set(owners[:4])) == 4 and owners[4] in owners[:4]  # 4 owners sell ivory/rhino horn
    assert w.iloc[0]["item_id"] == "I02" and w.iloc[0]["category_score"] == 98
    first = w.iloc[0]
    assert first["matched"] == "标题第1–2字「象牙」；标题第9–10字「犀角」"  # as a reader counts
    assert first["url"] == "https://item.example.com/I02" and first["shop_name"] == "象牙工艺店"
    assert "《野生动物保护法》第二十八条" in first["legal_basis"] and "海关缉私分局" in first["departments"]
    assert first["context"] and first["source"].endswith(":3")
    for part in (
        "淘宝平台店铺“象牙工艺店”",
        "I02",
        "https://item.example.com/I02",
        "涉嫌野生动植物及其制品",
        "《野生动物保护法》",
    ):
        assert part in first["summary"]
    # a shop-level check has no span: its evidence is the check's finding
    lic = c[c["category"] == "license_display"].iloc[0]
    assert "（字段核查）" in lic["matched"] and "统一社会信用代码" in lic["context"]
    # a category's cases are first the listings whose strongest hit is in it, ranked by the category's
    # own score: I03 (全网第一 象牙筷子, 绝对化 score 72) is an ivory case and I07 a licence one, so they come
    # after the three listings flagged only for 绝对化用语
    at = c[c["category"] == "absolute_terms"]
    assert list(at["item_id"]) == ["I08", "I12", "I09", "I03", "I07"]


def test_cases_per_category_option(outdir):
    assert len(build_report(outdir, cases_per_category=0).cases) == 0
    one = build_report(outdir, cases_per_category=1).cases
    assert list(one["category"].value_counts()) == [1, 1, 1]


def test_streaming_batches_do_not_change_figures(outdir, rep, tmp_path):
    # tiny batches: listings straddle batch boundaries and must be merged
    small = build_report(open_scan(outdir, batch_rows=2))
    for key in ("by_category", "by_severity", "by_department", "by_platform", "shops", "rules"):
        pd.testing.assert_frame_equal(getattr(small, key), getattr(rep, key))
    pd.testing.assert_frame_equal(small.cases, rep.cases)
    # hits not in row order (another writer): everything is re-aggregated
    shuffled = tmp_path / "shuffled"
    shutil.copytree(outdir, shuffled)
    t = pq.read_table(shuffled / "hits.parquet")
    pq.write_table(t.take(list(range(t.num_rows))[::-1]), shuffled / "hits.parquet", row_group_size=3)
    rev = build_report(open_scan(shuffled, batch_rows=2))
    for key in ("by_category", "by_platform", "shops", "rules"):
        pd.testing.assert_frame_equal(getattr(rev, key), getattr(rep, key))


def test_an_empty_scan_reports_zeros(rules, tmp_path):
    out = tmp_path / "empty"
    S.scan([S.T1("C1", "竹筷子"), S.J1("C2", "耳机")], out, rules)
    r = build_report(out)
    assert r.totals["flagged"] == r.totals["hits"] == 0 and r.cases.empty and r.shops.empty
    assert set(r.by_category["flagged"]) == {0}
    write_workbook(r, tmp_path / "e.xlsx")
    assert "本次扫描没有违规商品" in render_html(r)


def test_not_a_scan_is_an_input_error(tmp_path):
    from screener.errors import InputError

    with pytest.raises(InputError, match=r"summary\.json"):
        build_report(tmp_path)
    code = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert code.exit_code == 2 and "not a finished scan" in code.output


# -- workbook ------------------------------------------------------------------------------
def test_workbook_sheets_headers_and_layout(workbook, rep):
    assert workbook.sheetnames == [SHEETS[k][0] for k in rep.tables()]
    assert workbook.sheetnames[:8] == [
        "统计概况",
        "按类别",
        "按严重程度",
        "按责任部门",
        "按平台",
        "重点店铺",
        "典型案例",
        "规则命中",
    ]
    for key, df in rep.tables().items():
        ws = workbook[SHEETS[key][0]]
        header = [c.value for c in ws[1]]
        assert header == [SHEETS[key][1][c] for c in df.columns]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(df.columns)).column_letter}{len(df) + 1}"
        assert ws.max_row == len(df) + 1
        assert all(ws.column_dimensions[ws.cell(1, i).column_letter].width >= 6 for i in range(1, len(df.columns) + 1))
    cat = workbook["按类别"]
    rows = {r[0]: r for r in cat.iter_rows(min_row=2, values_only=True)}
    for r in rep.by_category.itertuples():
        assert rows[r.category][3:5] == (r.flagged, r.hits)


def test_workbook_links_are_clickable_and_only_http(workbook, rep):
    ws = workbook["典型案例"]
    col = list(rep.cases.columns).index("url") + 1
    cells = [ws.cell(i, col) for i in range(2, ws.max_row + 1)]
    http = [c for c in cells if str(c.value).startswith("https://")]
    assert http and all(c.hyperlink is not None and c.hyperlink.target == c.value for c in http)
    others = [c for c in cells if c.value and not str(c.value).startswith("https://")]
    assert others and all(c.hyperlink is None for c in others)  # javascript:, =cmd… are text, not links
    shops = workbook["重点店铺"]
    ucol = list(rep.shops.columns).index("sample_url") + 1
    assert shops.cell(2, ucol).hyperlink.target.startswith("https://")


def _all_text_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    yield ws.title, c


def test_workbook_neutralises_formulas(workbook):
    texts = list(_all_text_cells(workbook))
    assert all(c.data_type != "f" for _, c in texts)
    assert not [c.value for _, c in texts if c.value.startswith(FORMULA_TRIGGERS)]
    values = {c.value for _, c in texts}
    assert "'" + S.HOSTILE_TITLE in values  # the title itself, shown as text
    assert "'" + S.HOSTILE_SHOP_NAME in values and "'" + S.HOSTILE_SHOP_ID in values
    assert "'+1 老犀角 摆件" in values and "'=cmd|' /C calc'!A0" in values


def test_clean_text_strips_what_could_hide_a_formula():
    assert clean_text("\x01=1+1") == "'=1+1"  # the control character goes first, then the = is neutralised
    assert clean_text("-2+3") == "'-2+3" and clean_text("@SUM(1+1)") == "'@SUM(1+1)"
    assert clean_text("\t=1") == "'\t=1" and clean_text("象牙") == "象牙"
    assert len(clean_text("x" * 40_000)) <= 32_767


def test_report_figures_in_csv_of_diff_are_safe_too(outdir, tmp_path):
    from screener.report import diff_scans, write_diff

    write_diff(diff_scans(outdir, outdir), tmp_path / "d")
    text = (tmp_path / "d" / "diff.csv").read_text(encoding="utf-8-sig")
    import csv as _csv

    cells = [c for row in _csv.reader(text.splitlines()) for c in row]
    assert "'" + S.HOSTILE_TITLE in cells and not [c for c in cells if c.startswith(FORMULA_TRIGGERS)]


# -- HTML ----------------------------------------------------------------------------------
def test_html_is_self_contained_and_escaped(rep, tmp_path):
    html = write_html(rep, tmp_path / "r.html").read_text(encoding="utf-8")
    low = html.lower()
    for bad in ("<script", "src=", "<link", "@import", "url(", "<img", "<iframe", "@font-face", 'http://evil" '):
        assert bad not in low, bad
    assert "content-security-policy" in low and "default-src 'none'" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;象牙 犀角挂件" in html
    assert 'href="javascript' not in low and 'href="=cmd' not in low
    assert 'href="https://item.example.com/I02"' in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 3
    for r in rep.by_category[rep.by_category["flagged"] > 0].itertuples():
        assert f'data-label="{r.category_name}" data-value="{r.flagged}"' in html


# -- CLI -----------------------------------------------------------------------------------
def test_cli_report_and_scan_report(outdir, tmp_path):
    res = CliRunner().invoke(main, ["report", str(outdir), "-o", str(tmp_path / "round1.xlsx")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "round1.xlsx").is_file() and (tmp_path / "round1.html").is_file()
    assert "12 flagged listings" in res.output
    res = CliRunner().invoke(main, ["report", str(outdir), "-o", str(tmp_path / "only"), "--format", "html", "-q"])
    assert res.exit_code == 0 and res.output == ""
    assert (tmp_path / "only.html").is_file() and not (tmp_path / "only.xlsx").exists()
    packs = S.write_packs(tmp_path / "packs")
    src = S.write_listings(tmp_path / "in.csv", S.LISTINGS)
    res = CliRunner().invoke(
        main,
        [
            "scan",
            str(src),
            "-o",
            str(tmp_path / "o"),
            "--rules",
            str(packs),
            "-w",
            "1",
            "--report",
            "--previous",
            str(outdir),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "report.xlsx").is_file() and (tmp_path / "o" / "report.html").is_file()
    assert "vs previous: 0 new, 12 still flagged" in res.output


# -- written for officers: prose, contents, local time -------------------------------------------
def test_case_summaries_read_as_chinese_prose(rep):
    import re

    for summary in rep.cases["summary"]:
        text = re.sub(r"https?://\S+?(?=[），；])|javascript:\S+?(?=[），；])", "", summary)
        assert not re.search(r"\((?:self_declaration|seller_type|shop_license_no|title|description)\)", text), summary
        assert not re.search(r"\[\d+:\d+\]", text), summary  # offsets as 标题第1–2字, never title[0:2]
        assert not re.search(r"natural_person|individual_business|enterprise", text), summary
    lic = rep.cases[rep.cases["category"] == "license_display"].iloc[0]["summary"]
    assert "统一社会信用代码为空；主体类型为企业" in lic


def test_html_has_contents_with_the_recheck_section(outdir, tmp_path):
    rep2 = build_report(outdir, previous=outdir)
    html = render_html(rep2)
    toc = html[html.index('<nav class="toc"') : html.index("</nav>")]
    for anchor in ("sec-stats", "sec-shops", "sec-cases", "sec-recheck", "sec-rules", "sec-inputs"):
        assert f'href="#{anchor}"' in toc and f'id="{anchor}"' in html
    assert "复查对比" in toc and html.index('<nav class="toc"') < html.index('class="kpis"')
    assert 'class="kpi-link" href="#sec-recheck"' in html
    assert "sec-recheck" not in render_html(build_report(outdir))


def test_times_are_local_and_the_rule_hash_short(outdir):
    from datetime import datetime, timedelta

    s = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    rep_sh = build_report(outdir, timezone="Asia/Shanghai")
    ov = dict(zip(rep_sh.overview["item"], rep_sh.overview["value"]))
    started = datetime.fromisoformat(s["started_at"]) + timedelta(hours=8)
    assert ov["扫描开始时间"] == f"{started:%Y-%m-%d %H:%M:%S} (Asia/Shanghai)"
    assert rep_sh.generated_at.endswith("(Asia/Shanghai)")
    html = render_html(rep_sh)
    assert f'<code id="rules-hash" title="{s["rules"]["hash"]}">{s["rules"]["hash"][:12]}</code>' in html
    assert "(Asia/Shanghai)" in html
    assert build_report(outdir, timezone="Europe/Berlin").generated_at.endswith("(Europe/Berlin)")


def test_the_office_time_zone_comes_from_screener_toml(outdir, tmp_path, monkeypatch):
    monkeypatch.delenv("SCREENER_CONFIG", raising=False)
    (tmp_path / "screener.toml").write_text('[report]\ntimezone = "Asia/Urumqi"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["report", str(outdir), "-o", str(tmp_path / "r"), "--format", "html", "-q"])
    assert res.exit_code == 0, res.output
    assert "(Asia/Urumqi)" in (tmp_path / "r.html").read_text(encoding="utf-8")
