"""flagged.xlsx, the lead list for people: ids as text, Chinese headers and names, readable evidence."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq

import screener
from screener.flagged import evidence_line
from screener.io.leads import LEAD_COLUMNS, write_leads_workbook

RULES = Path(__file__).parent / "fixtures" / "rules"


def test_lead_workbook_keeps_ids_as_text_and_speaks_chinese(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text(
        "商品ID,商品标题,店铺ID,链接\n"
        "000123,天然象牙手镯,0042,https://item.example.com/1\n"
        "612345678901234567,象-牙筷子 第一品牌,9,=HYPERLINK(1)\n"
        "7,保温杯,9,\n",
        encoding="utf-8",
    )
    s = screener.scan_files([inp], tmp_path / "out", screener.load_rules([RULES]))
    assert s["rows_flagged"] == 2 and "flagged.xlsx" in s["outputs"]
    ws = openpyxl.load_workbook(tmp_path / "out" / "flagged.xlsx").active
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    assert ws.title == "线索清单" and list(head) == list(LEAD_COLUMNS.values())
    got = [dict(zip(head, r)) for r in rows[1:]]
    assert [r["商品ID"] for r in got] == ["000123", "612345678901234567"]  # text, not 123 / 6.12346E+17
    assert [r["店铺ID"] for r in got] == ["0042", "9"]
    first = got[0]
    assert first["违规类别"] == "野生动植物及其制品" and first["类别代码"] == "wildlife"
    assert first["严重程度"] == "高" and first["证据"] == "WL001 象牙制品（高）：标题第3–4字「象牙」"
    assert ws.cell(row=2, column=list(LEAD_COLUMNS).index("url") + 1).hyperlink.target == "https://item.example.com/1"
    second = got[1]
    assert second["类别代码"] == "absolute_terms;wildlife" and second["违规类别"].count("、") == 1
    assert second["证据"].startswith("AT001 ") and "标题第1–3字「象-牙」（去除间隔符）" in second["证据"]
    assert second["商品链接"] == "'=HYPERLINK(1)"  # neutralised like the CSV
    # flagged.csv keeps the machine columns for programs
    with open(tmp_path / "out" / "flagged.csv", encoding="utf-8-sig", newline="") as fh:
        machine = list(csv.DictReader(fh))
    assert machine[0]["item_id"] == "000123" and machine[0]["categories"] == "wildlife"
    assert list(machine[0])[:3] == ["item_id", "title", "shop_id"]


def test_evidence_reads_as_a_sentence():
    hits = [
        {"rule_id": "WL001", "rule_name": "象牙", "severity": "high", "field": "title", "start": 7, "end": 9}
        | {"matched": "象牙", "normalizations": "", "snippet": ""},
        {"rule_id": "LD003", "rule_name": "未公示", "severity": "medium", "field": "seller_type", "start": 0}
        | {"end": 14, "matched": "natural_person", "normalizations": "", "snippet": ""},
        {"rule_id": "LD001", "rule_name": "无照", "severity": "low", "field": "shop_license_no", "start": None}
        | {"end": None, "matched": "", "normalizations": "", "snippet": "统一社会信用代码为空"},
        {"rule_id": "WL002", "rule_name": "穿山甲", "severity": "high", "field": "description", "start": 3, "end": 4}
        | {"matched": "甲", "normalizations": "t2s,separator", "snippet": ""},
    ]
    assert evidence_line(hits) == (
        "LD001 无照（低）：统一社会信用代码：统一社会信用代码为空；"
        "LD003 未公示（中）：主体类型第1–14字「自然人（免登记）」；"
        "WL001 象牙（高）：标题第8–9字「象牙」；"
        "WL002 穿山甲（高）：详情第4字「甲」（繁体、去除间隔符）"
    )
    many = [hits[0] | {"start": i, "end": i + 2} for i in range(5)]
    assert evidence_line(many).endswith("、标题第3–4字「象牙」 等5处")


def test_lead_workbook_continues_on_a_second_sheet(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("item_id,title\n" + "".join(f"{i},象牙{i}\n" for i in range(5)), encoding="utf-8")
    screener.scan_files([inp], tmp_path / "out", screener.load_rules([RULES]))
    path = write_leads_workbook(tmp_path / "out" / "flagged.parquet", tmp_path / "x.xlsx", {}, max_rows=3)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["线索清单", "线索清单(2)"]
    ids = [r[0] for ws in wb.worksheets for r in ws.iter_rows(min_row=2, values_only=True)]
    assert ids == pq.read_table(tmp_path / "out" / "flagged.parquet").column("item_id").to_pylist()
    assert wb.worksheets[1].auto_filter.ref == "A1:Q3"
