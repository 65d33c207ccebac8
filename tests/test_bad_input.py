"""The bad-input matrix: every row of an export is scanned or rejected with a reason.

Each case states the exact outcome: which rows are scanned (record number,
item_id, title), which are rejected (record number, reason), the summary
counts (always rows_read = rows_scanned + rows_rejected) and the warnings.
Record numbers count the header as 1 and skip blank lines; a quoted
multi-line cell is one record (as Excel numbers rows).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import RULES

import screener
from screener.errors import InputError
from screener.io import csvrecords
from screener.io.formats import csv as csv_format
from screener.io.readers import ReadOptions, open_source, read_input

H = b"item_id,title,shop_name\n"


@dataclass
class Outcome:
    scanned: list[tuple[int, str, str]]  # (record, item_id, title) as the scan saw them
    rejects: list[tuple[int | None, str]]  # (record, reason) from rejects.csv
    raw: dict[int | None, str]  # record → raw content in rejects.csv
    summary: dict
    warnings: dict
    hits: list[dict]
    encoding: str | None


def run(
    tmp_path: Path,
    name: str,
    data: bytes | None,
    rules,
    chunk_rows: int = 2,
    path: Path | None = None,
    options: ReadOptions | None = None,
) -> Outcome:
    """Read the file (what the scan sees) and scan it (what it writes); check they agree."""
    p = path or tmp_path / name
    if data is not None:
        p.write_bytes(data)
    src = open_source(p)
    options = options or ReadOptions()
    chunks = list(read_input(src, None, replace(options, chunk_rows=chunk_rows)))
    tables = [c.table for c in chunks if c.table.num_rows]
    scanned = []
    for t in tables:
        scanned += zip(
            t.column("source_row").to_pylist(), t.column("item_id").to_pylist(), t.column("title").to_pylist()
        )
    out = tmp_path / f"out-{p.stem}"
    s = screener.scan_files([p], out, rules, chunk_rows=chunk_rows, read_options=options)
    with open(out / "rejects.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["source_file", "row", "reason", "raw"]
    rejects = [(int(r[1]) if r[1] else None, r[2]) for r in rows[1:]]
    assert all(r[0] == str(p) for r in rows[1:])
    # the invariant, and the reader agreeing with the scan
    assert s["rows_read"] == s["rows_scanned"] + s["rows_rejected"]
    assert s["rows_scanned"] == len(scanned) and s["rows_rejected"] == len(rejects)
    assert [(r.row, r.reason) for c in chunks for r in c.rejects] == rejects
    # no record counted twice; scanned and rejected records together are 2..N+1 for CSV
    numbers = sorted([n for n, *_ in scanned] + [n for n, _ in rejects if n is not None])
    assert len(numbers) == len(set(numbers))
    if src.format == "csv":
        assert numbers == list(range(2, 2 + len(numbers)))
    hits = pq.read_table(out / "hits.parquet").to_pylist()
    assert not (out / ".screener-work").exists()
    return Outcome(
        scanned,
        rejects,
        {(r[1] and int(r[1])) or None: r[3] for r in rows[1:]},
        s,
        s["inputs"][0]["warnings"],
        hits,
        s["inputs"][0]["encoding"],
    )


# -- CSV quoting ------------------------------------------------------------------------------
def test_stray_quotes_inside_unquoted_fields_are_characters(tmp_path, rules):
    o = run(tmp_path, "stray.csv", H + '1,他说"象牙"是真的,s\n2,6"屏 手机,s\n3,ok",s\n'.encode(), rules)
    assert o.scanned == [(2, "1", '他说"象牙"是真的'), (3, "2", '6"屏 手机'), (4, "3", 'ok"')]
    assert o.rejects == [] and o.summary["rows_read"] == 3
    assert [(h["item_id"], h["matched"], h["start"]) for h in o.hits if h["rule_id"] == "WL001"] == [("1", "象牙", 3)]


UNCLOSED = (
    "malformed CSV: the quote opening field 2 is never closed; "
    "the line where it opened is rejected and reading resumes on the next line"
)
CLOSED_LATER = (
    "malformed CSV: the quote opening field 2 closes on a later line followed by text, not a delimiter "
    "(a quote left open?); the line where it opened is rejected and reading resumes on the next line"
)


def test_unclosed_quote_rejects_its_line_not_the_rest_of_the_file(tmp_path, rules):
    # pyarrow alone would read records 3-5 as one ragged record: three rows lost inside one reject
    o = run(tmp_path, "unclosed.csv", H + b'1,ok,s\n2,"unclosed,s\n3,\xe8\xb1\xa1\xe7\x89\x99,s\n4,ok,s\n', rules)
    assert o.scanned == [(2, "1", "ok"), (4, "3", "象牙"), (5, "4", "ok")]
    assert o.rejects == [(3, UNCLOSED)]
    assert o.raw[3] == '2,"unclosed,s'
    assert (o.summary["rows_read"], o.summary["rows_scanned"], o.summary["rows_rejected"]) == (4, 3, 1)


def test_unclosed_quote_that_pairs_with_a_later_quote(tmp_path, rules):
    # pyarrow alone reads this as 3 well-formed rows: records 3-4 vanish inside item 2's title
    data = H + b'1,ok,s\n2,"unclosed,s\n3,x,s\n4,"quoted",s\n5,ok,s\n'
    o = run(tmp_path, "pair.csv", data, rules)
    assert o.scanned == [(2, "1", "ok"), (4, "3", "x"), (5, "4", "quoted"), (6, "5", "ok")]
    assert o.rejects == [(3, CLOSED_LATER)]


def test_quotes_that_are_well_formed_or_confined_to_one_line(tmp_path, rules):
    data = H + '1,"5"寸 象牙,s\n2,"a,b",s\n3,"多行\n描述 ""引号""",s\n4,"",s\r\n5,"x\r\ny",s\r6,last,s'.encode()
    o = run(tmp_path, "quotes.csv", data, rules)
    assert o.scanned == [
        (2, "1", "5寸 象牙"),
        (3, "2", "a,b"),
        (4, "3", '多行\n描述 "引号"'),
        (5, "4", ""),
        (6, "5", "x\r\ny"),
        (7, "6", "last"),
    ]
    assert o.rejects == []


def test_ragged_rows_and_blank_lines(tmp_path, rules):
    o = run(tmp_path, "ragged.csv", H + b"1,a,s\n2,b\n\n3,c,s,x\n   \n4,d,s\n,no id,s\n", rules)
    assert o.scanned == [(2, "1", "a"), (6, "4", "d")]
    assert o.rejects == [
        (3, "expected 3 fields, found 2"),
        (4, "expected 3 fields, found 4"),
        (5, "expected 3 fields, found 1"),
        (7, "item_id is empty"),
    ]
    assert o.raw[3] == "2,b" and o.raw[4] == "3,c,s,x"


def test_nul_and_control_characters_are_kept_and_read_as_separators(tmp_path, rules):
    data = H + "1,象\x00牙手镯,s\n2,a\x01\x07\x1bb,s\n3,\u202e象牙\u202c,s\n".encode()
    o = run(tmp_path, "nul.csv", data, rules)
    assert o.scanned == [(2, "1", "象\x00牙手镯"), (3, "2", "a\x01\x07\x1bb"), (4, "3", "\u202e象牙\u202c")]
    assert [(h["item_id"], h["matched"]) for h in o.hits if h["rule_id"] == "WL001"] == [
        ("1", "象\x00牙"),
        ("3", "象牙"),
    ]


# -- encodings -----------------------------------------------------------------------------------
def test_file_switching_from_utf8_to_gbk_midway(tmp_path, rules):
    data = (
        H
        + "1,天然象牙手镯,云南店\n".encode()
        + "2,穿山甲片,药材店\n3,象牙筷子,店\n".encode("gbk")
        + "4,茶杯,店\n".encode()
    )
    o = run(tmp_path, "mixed.csv", data, rules)
    assert o.encoding == "utf-8"
    assert o.scanned == [(2, "1", "天然象牙手镯"), (3, "2", "穿山甲片"), (4, "3", "象牙筷子"), (5, "4", "茶杯")]
    assert o.rejects == []
    assert o.warnings == {"rows read as gb18030, not utf-8 (the file mixes encodings)": 2}
    assert sorted(h["item_id"] for h in o.hits if h["rule_id"] == "WL001") == ["1", "3"]


def test_file_switching_from_gbk_to_utf8_midway(tmp_path, rules):
    data = "商品ID,商品标题\n1,象牙手镯\n".encode("gb18030") + "2,象牙筷子\n".encode()
    o = run(tmp_path, "gbk_first.csv", data, rules)
    assert o.encoding == "gb18030"
    assert o.scanned == [(2, "1", "象牙手镯"), (3, "2", "象牙筷子")]
    assert o.warnings == {"rows read as utf-8, not gb18030 (the file mixes encodings)": 1}


DAMAGED = "rows with bytes valid in neither utf-8 nor gb18030 (broken bytes read as U+FFFD)"


def test_invalid_bytes_are_read_as_replacement_characters_and_the_row_scanned(tmp_path, rules):
    # an export that cut a title in the middle of a character must not hide the rest of the title
    cut = "天然象牙手".encode()[:-1]
    data = "商品ID,商品标题,店铺\n".encode() + b"1,ok,s\n2,\xff\xfe\xfd,s\n3," + cut + b",s\n4,fine,\x80\n5,ok,s\n"
    o = run(tmp_path, "bad_bytes.csv", data, rules)
    assert o.scanned == [
        (2, "1", "ok"),
        (3, "2", "\ufffd\ufffd\ufffd"),
        (4, "3", "天然象牙\ufffd"),
        (5, "4", "fine"),
        (6, "5", "ok"),
    ]
    assert o.encoding == "utf-8" and o.rejects == [] and o.warnings == {DAMAGED: 3}
    assert [(h["item_id"], h["matched"]) for h in o.hits if h["rule_id"] == "WL001"] == [("3", "象牙")]


def test_gbk_file_with_a_ragged_row(tmp_path, rules):
    # pyarrow cannot report a ragged row that is not UTF-8: that run of records is parsed by Python's csv module
    data = "商品ID,商品标题,店铺\n1,象牙手镯,店\n2,茶杯\n3,保温杯,店\n".encode("gb18030")
    o = run(tmp_path, "gbk_ragged.csv", data, rules)
    assert o.scanned == [(2, "1", "象牙手镯"), (4, "3", "保温杯")]
    assert o.rejects == [(3, "expected 3 fields, found 2")] and o.raw[3] == "2,茶杯"
    assert o.warnings == {"records parsed by the Python csv module (pyarrow could not)": 3}


def test_only_the_records_pyarrow_cannot_parse_go_to_python(tmp_path, rules):
    rows = [f"{i},保温杯{i},店\n" for i in range(1, 301)]
    rows[149] = "150,茶杯\n"
    data = "商品ID,商品标题,店铺\n".encode("gb18030") + "".join(rows).encode("gb18030")
    # python_csv_bytes is 1 MiB in real runs
    o = run(tmp_path, "gbk_big.csv", data, rules, chunk_rows=1000, options=ReadOptions(python_csv_bytes=256))
    assert len(o.scanned) == 299 and o.rejects == [(151, "expected 3 fields, found 2")]
    assert [n for n, *_ in o.scanned] == list(range(2, 151)) + list(range(152, 302))
    assert 0 < o.warnings["records parsed by the Python csv module (pyarrow could not)"] < 30


def test_boms_and_concatenated_exports(tmp_path, rules):
    data = b"\xef\xbb\xbf" + H + b"1,a,s\n" + b"\xef\xbb\xbf" + H + b"2,b,s\nitem_id,title,shop_name\n"
    o = run(tmp_path, "bom.csv", data, rules)
    assert o.encoding == "utf-8-sig"
    assert o.scanned == [(2, "1", "a"), (4, "2", "b")]
    assert o.rejects == [
        (3, "the header row again (files joined together?)"),
        (5, "the header row again (files joined together?)"),
    ]


def test_empty_and_header_only_files(tmp_path, rules):
    for name, data, warnings in (
        ("empty.csv", b"", {"empty file": 1}),
        ("blank.csv", b"\n \r\n", {"empty file": 1}),
        ("header.csv", b"item_id,title", {}),
        ("header_nl.csv", b"\n\nitem_id,title\r\n", {}),
    ):
        o = run(tmp_path, name, data, rules)
        assert (o.scanned, o.rejects, o.warnings) == ([], [], warnings), name
        s = o.summary
        assert (s["rows_read"], s["rows_scanned"], s["rows_rejected"], s["rows_flagged"], s["hits"]) == (0, 0, 0, 0, 0)
    (tmp_path / "empty.jsonl").write_bytes(b"\n\n")
    assert screener.scan_files([tmp_path / "empty.jsonl"], tmp_path / "oj", rules)["inputs"][0]["warnings"] == {
        "empty file": 1
    }


# -- big fields ----------------------------------------------------------------------------------
def test_ten_megabyte_description(tmp_path, rules):
    unit = "质保一年，全国联保。额定功率以铭牌为准。"  # 20 characters, 60 bytes
    half = unit * ((5 << 20) // 60)
    desc = half + "象牙" + half + "\n第二段,含逗号"
    data = ('item_id,title,description\n1,普通商品,"' + desc + '"\n2,茶杯,短\n').encode()
    assert len(data) > 10 << 20
    o = run(tmp_path, "big.csv", data, rules, chunk_rows=20_000)
    assert [(n, i) for n, i, _ in o.scanned] == [(2, "1"), (3, "2")] and o.rejects == []
    assert [(h["item_id"], h["field"], h["start"], h["matched"]) for h in o.hits if h["rule_id"] == "WL001"] == [
        ("1", "description", len(half), "象牙")
    ]


def test_records_beyond_the_size_limit_are_rejected_without_losing_the_rest(tmp_path, rules):
    # the same code paths as a 64 MiB record, at 1 KiB
    small = ReadOptions(max_record_bytes=1024, block_bytes=256)
    long_quoted = b'2,"' + b"x" * 3000 + b'",s\n'  # quoted, too long
    long_line = b"3," + b"y" * 3000 + b",s\n"  # no quote, no line end within the limit
    open_quote = b'4,"never closed,s\n' + b"5,ok,s\n" * 300  # the quote stays open past the limit
    o = run(
        tmp_path, "limit.csv", H + b"1,a,s\n" + long_quoted + long_line + open_quote + b"6,z,s\n", rules, options=small
    )
    assert o.scanned[0] == (2, "1", "a") and o.scanned[-1] == (306, "6", "z") and len(o.scanned) == 302
    assert o.rejects == [
        (
            3,
            "malformed CSV: the quote opening field 2 is not closed within 1,024 bytes "
            "(a quote left open, or a field over the limit); "
            "the line where it opened is rejected and reading resumes on the next line",
        ),
        (4, "record longer than 1,024 bytes without a line end"),
        (
            5,
            "malformed CSV: the quote opening field 2 is not closed within 1,024 bytes "
            "(a quote left open, or a field over the limit); "
            "the line where it opened is rejected and reading resumes on the next line",
        ),
    ]
    assert len(o.raw[3]) < 3000 + 100


# -- duplicate item_ids ------------------------------------------------------------------------
def test_duplicate_item_ids_are_kept_scanned_and_counted(tmp_path, rules):
    a = tmp_path / "a.csv"
    a.write_bytes(H + "1,象牙手镯,s\n2,茶杯,s\n1,象牙手镯,s\n3,x,s\n2,茶杯,s\n2,茶杯,s\n".encode())
    b = tmp_path / "b.csv"
    b.write_bytes(H + b"3,y,s\n4,z,s\n")
    s = screener.scan_files([a, b], tmp_path / "out", rules, chunk_rows=2)
    assert (s["rows_read"], s["rows_scanned"], s["rows_rejected"]) == (8, 8, 0)
    assert s["duplicate_item_ids"] == 4  # 1 once, 2 twice (in a.csv), 3 once (in b.csv)
    assert s["inputs"][0]["warnings"] == {"item_id repeats an earlier row (kept and scanned)": 3}
    assert s["inputs"][1]["warnings"] == {"item_id repeats an earlier row (kept and scanned)": 1}
    hits = pq.read_table(tmp_path / "out" / "hits.parquet").to_pylist()
    assert [(h["item_id"], h["row_id"]) for h in hits if h["rule_id"] == "WL001"] == [("1", 0), ("1", 2)]


# -- a missing required column -------------------------------------------------------------------
def test_missing_required_column_is_a_clear_error_and_writes_nothing(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("item_id,title\n1,象牙\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,品名\n1,象牙\n", encoding="utf-8")
    out = tmp_path / "out"
    # a complete earlier scan in OUTDIR stays as it was
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "screener.cli",
            "scan",
            str(good),
            "-o",
            str(out),
            "-q",
            "-w",
            "1",
            "--rules",
            str(RULES),
        ],
        capture_output=True,
        text=True,
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert r.returncode == 0 and "summary.json" in before
    for args in ([str(good), str(bad)], [str(bad)]):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "screener.cli",
                "scan",
                *args,
                "-o",
                str(out),
                "-q",
                "-w",
                "1",
                "--rules",
                str(RULES),
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 2
        assert r.stderr.strip().splitlines()[-1] == (
            f"error: {bad}:1: missing required column(s) item_id, title; found columns: 编号, 品名"
            " — name them, or map them with --map SOURCE=item_id (in Python: mapping={'SOURCE': 'item_id'})"
        )
        assert "Traceback" not in r.stderr
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    fresh = tmp_path / "fresh"
    r = subprocess.run(
        [sys.executable, "-m", "screener.cli", "scan", str(bad), "-o", str(fresh), "-q", "--rules", str(RULES)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and not fresh.exists()


def test_missing_column_in_xlsx_fails_before_scanning(tmp_path, rules):
    import openpyxl

    wb = openpyxl.Workbook()
    for i in range(25):
        wb.active.append([f"说明 {i}"])
    wb.active.append(["商品编号", "商品名称"])
    wb.save(tmp_path / "late.xlsx")
    (tmp_path / "ok.csv").write_text("item_id,title\n1,象牙\n", encoding="utf-8")
    with pytest.raises(InputError) as ei:
        screener.scan_files([tmp_path / "ok.csv", tmp_path / "late.xlsx"], tmp_path / "out", rules)
    assert "late.xlsx:1: sheet 'Sheet': missing required column(s) item_id, title" in str(ei.value)
    assert "looked for the header in the first 20 rows" in str(ei.value)
    assert not (tmp_path / "out").exists()


# -- numbers that are text -------------------------------------------------------------------------
def test_numeric_columns_with_text(tmp_path, rules):
    data = (
        'item_id,title,price,original_price\n1,a,价格面议,"¥1,299.00元"\n2,b, 99 ,电议\n3,c,,NaN\n4,d,1e3,-\n'.encode()
    )
    o = run(tmp_path, "prices.csv", data, rules)
    assert [n for n, *_ in o.scanned] == [2, 3, 4, 5] and o.rejects == []
    src = open_source(tmp_path / "prices.csv")
    t = pa.concat_tables([c.table for c in read_input(src)])
    assert t.column("price").to_pylist() == [None, 99.0, None, None]  # 1e3 is not how a price is written
    assert t.column("original_price").to_pylist() == [1299.0, None, None, None]
    assert o.warnings == {
        "price: values that are not prices (e.g. 价格面议) read as empty": 2,
        "original_price: values that are not prices (e.g. 价格面议) read as empty": 3,
    }


# -- Parquet with unexpected types --------------------------------------------------------------
def test_parquet_with_unexpected_types(tmp_path, rules):
    import datetime
    import decimal

    table = pa.table(
        {
            "item_id": pa.array([1, 2, 3, 4, None, 6], pa.int64()),
            "title": pa.array([["象牙", "手镯"], ["茶杯"], None, [], ["x"], ["y"]], pa.list_(pa.string())),
            "description": pa.array(
                [{"k": "象牙"}, None, {"k": "v"}, {"k": None}, None, None], pa.struct([("k", pa.string())])
            ),
            "shop_name": pa.array(["店", "店", "铺", None, "店", "店"]).dictionary_encode(),
            "category": pa.array(["a", "b", "c", "d", "e", "f"], pa.large_string()),
            "url": pa.array([b"http://x/1", "象牙".encode("gbk"), b"\xff", None, b"u", b"v"], pa.binary()),
            "price": pa.array(
                [decimal.Decimal("9.90"), None, decimal.Decimal("1"), None, None, None], pa.decimal128(5, 2)
            ),
            "original_price": pa.array(["19.9", "价格面议", None, "NaN", None, "7"]).dictionary_encode(),
            "platform": pa.array([datetime.date(2024, 1, 2)] * 6, pa.date32()),
            "shop_id": pa.nulls(6),
        }
    )
    pq.write_table(table, tmp_path / "types.parquet")
    o = run(tmp_path, "types.parquet", None, rules, path=tmp_path / "types.parquet")
    assert o.scanned == [
        (1, "1", '["象牙", "手镯"]'),
        (2, "2", '["茶杯"]'),
        (3, "3", None),
        (4, "4", "[]"),
        (6, "6", '["y"]'),
    ]
    assert o.rejects == [(5, "item_id is empty")]
    src = open_source(tmp_path / "types.parquet")
    t = pa.concat_tables([c.table for c in read_input(src)])
    assert t.column("description").to_pylist() == ['{"k": "象牙"}', None, '{"k": "v"}', '{"k": null}', None]
    assert t.column("shop_name").to_pylist() == ["店", "店", "铺", None, "店"]
    assert t.column("category").to_pylist() == ["a", "b", "c", "d", "f"]
    assert t.column("url").to_pylist() == ["http://x/1", "象牙", "\ufffd", None, "v"]
    assert t.column("price").to_pylist() == [9.9, None, 1.0, None, None]
    assert t.column("original_price").to_pylist() == [19.9, None, None, None, 7.0]
    assert t.column("platform").to_pylist() == ["2024-01-02"] * 5
    assert t.column("shop_id").to_pylist() == [None] * 5
    assert o.warnings == {
        "rows read as gb18030, not utf-8 (the file mixes encodings)": 1,
        DAMAGED: 1,
        "original_price: values that are not prices (e.g. 价格面议) read as empty": 2,
    }
    assert sorted(h["item_id"] + ":" + h["field"] for h in o.hits if h["rule_id"] == "WL001") == [
        "1:description",
        "1:title",
    ]


def test_parquet_row_group_that_cannot_be_read_is_rejected_row_by_row(tmp_path, rules):
    t = pa.table({"item_id": [str(i) for i in range(30)], "title": ["象牙手镯" * 5 + str(i) for i in range(30)]})
    pq.write_table(t, tmp_path / "ok.parquet", row_group_size=10)
    data = bytearray((tmp_path / "ok.parquet").read_bytes())
    col = pq.ParquetFile(tmp_path / "ok.parquet").metadata.row_group(1).column(1)
    for i in range(col.data_page_offset + 5, col.data_page_offset + 60):
        data[i] ^= 0x5A
    o = run(tmp_path, "corrupt.parquet", bytes(data), rules, chunk_rows=4)
    assert [n for n, *_ in o.scanned] == list(range(1, 11)) + list(range(21, 31))
    assert [n for n, _ in o.rejects] == list(range(11, 21))
    assert all(r.startswith("unreadable Parquet data (row group 1): ") for _, r in o.rejects)


def test_parquet_that_is_not_parquet(tmp_path, rules):
    (tmp_path / "x.parquet").write_bytes(b"item_id,title\n1,a\n")
    with pytest.raises(InputError, match=r"x\.parquet: not a readable Parquet file"):
        screener.scan_files([tmp_path / "x.parquet"], tmp_path / "out", rules)
    assert not (tmp_path / "out").exists()


# -- XLSX with title rows -------------------------------------------------------------------------
def test_xlsx_with_title_rows_above_the_header(tmp_path, rules):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2024 网剑行动 平台导出"])
    ws.append(["导出时间", "2024-05-01"])
    ws.append([])
    ws.append(["商品编号", "商品名称", "店铺", "价格"])
    ws.append([5, "象牙手镯", "某店", "价格面议"])
    ws.append([6.0, "=cmd|' /C calc'!A0", None, 12.5])  # a formula cell: read as its cached value, never run
    ws.append([None, "无编号", "店", None])
    ws.append([])
    ws.append(["7", "茶杯", "店", "8"])
    wb.save(tmp_path / "d.xlsx")
    o = run(tmp_path, "d.xlsx", None, rules, path=tmp_path / "d.xlsx")
    assert o.scanned == [(5, "5", "象牙手镯"), (6, "6", None), (9, "7", "茶杯")]
    assert o.rejects == [(7, "item_id is empty")]
    assert o.warnings == {
        "header found on row 4; rows above it (titles) skipped": 1,
        "price: values that are not prices (e.g. 价格面议) read as empty": 1,
    }


# -- JSON lines -------------------------------------------------------------------------------------
def test_jsonl_hostile_lines(tmp_path, rules):
    lines = [
        b"\xef\xbb\xbf" + json.dumps({"item_id": "1", "title": "象牙"}, ensure_ascii=False).encode(),
        b"[" * 100_000 + b"]" * 100_000,  # nested too deeply for a recursive parser
        b'{"item_id": 3, "title": ' + b"9" * 5000 + b"}",  # an integer longer than Python converts
        json.dumps({"item_id": "4", "title": "象牙筷子"}, ensure_ascii=False).encode("gbk"),
        b"",
        b'{"item_id": 5, "title": NaN, "price": NaN}',
        b'"just a string"',
        b'{"item_id": "6", "title": "\\u0000\\ud800 x"}',
        b"\xff{}",
    ]
    o = run(tmp_path, "h.jsonl", b"\n".join(lines) + b"\n", rules)
    # a lone surrogate must not get a row skipped: it is read as U+FFFD and the row scanned
    assert o.scanned == [(1, "1", "象牙"), (4, "4", "象牙筷子"), (6, "5", None), (8, "6", "\x00\ufffd x")]
    assert [n for n, _ in o.rejects] == [2, 3, 7, 9]
    reasons = dict(o.rejects)
    assert reasons[2] == "invalid JSON: nested too deeply"
    assert reasons[3].startswith("invalid JSON: Exceeds the limit") and reasons[7] == "a line must hold one JSON object"
    assert reasons[9] == "invalid JSON: Expecting value at column 1" and o.raw[9] == "\ufffd{}"
    assert o.warnings == {
        "rows read as gb18030, not utf-8 (the file mixes encodings)": 1,
        DAMAGED: 1,
        "lone surrogates (invalid Unicode) in JSON strings read as U+FFFD": 1,
    }


# -- the Python csv module gives the same answer as pyarrow ---------------------------------------
def test_python_fallback_reads_exactly_like_pyarrow(tmp_path, rules, monkeypatch):
    data = (
        H
        + b'1,ok,s\n2,"unclosed,s\n3,x,s\n4,"q\n""x""",s\n5,few\n6,\xff,s\n,no id,s\n7,"5"\xe5\xaf\xb8,s\r\n'
        + "8,象牙\x00,s\n".encode()
        + "9,穿山甲,s\n".encode("gbk")
        + b"10,last,s"
    )
    want = run(tmp_path, "fb.csv", data, rules)

    def broken(*a, **k):
        raise pa.ArrowInvalid("simulated")

    monkeypatch.setattr(csvrecords, "parse_piece", broken)
    got = run(tmp_path, "fb2.csv", data, rules)
    assert got.scanned == want.scanned and got.rejects == want.rejects
    assert [(n, r) for n, r in got.raw.items()] == [(n, r) for n, r in want.raw.items()]
    assert got.warnings["records parsed by the Python csv module (pyarrow could not)"] == 10


# -- security: nothing in a listing is obeyed ---------------------------------------------------
def test_formulas_in_listings_are_neutralised_in_csv_outputs(tmp_path, rules):
    data = (
        'item_id,title,shop_name\n=1+1,"=HYPERLINK(""http://x"",""象牙"")",+cmd\n@SUM(A1),-象牙 2+3,\t=x\n'
        "=2+2,\"=cmd|' /C calc'!A0 象牙\"\n".encode()
    )
    o = run(tmp_path, "formula.csv", data, rules)
    assert o.rejects == [(4, "expected 3 fields, found 2")]
    with open(tmp_path / "out-formula" / "rejects.csv", encoding="utf-8-sig", newline="") as fh:
        raw = list(csv.reader(fh))[1][3]
    assert raw == "'=2+2,\"=cmd|' /C calc'!A0 象牙\""  # the line as written, neutralised
    with open(tmp_path / "out-formula" / "flagged.csv", encoding="utf-8-sig", newline="") as fh:
        flagged = list(csv.DictReader(fh))
    assert [(r["item_id"], r["title"], r["shop_name"]) for r in flagged] == [
        ("'=1+1", '\'=HYPERLINK("http://x","象牙")', "'+cmd"),
        ("'@SUM(A1)", "'-象牙 2+3", "'\t=x"),
    ]
    # the Parquet outputs keep the text exactly as the seller wrote it
    assert pq.read_table(tmp_path / "out-formula" / "flagged.parquet").column("item_id").to_pylist() == [
        "=1+1",
        "@SUM(A1)",
    ]


def test_output_paths_never_come_from_input(tmp_path, rules, monkeypatch):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    # shell syntax and paths in a listing are text: nothing runs, nothing is created from them
    (work / "x.csv").write_bytes(
        H + "../../evil,$(touch pwned) 象牙,`touch pwned2`\n/tmp/abs,;touch pwned3; 象牙,s\n".encode()
    )
    before = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    monkeypatch.chdir(work / "sub")
    s = screener.scan_files(["../x.csv"], "out", rules, workers=2)
    assert s["rows_scanned"] == 2 and s["inputs"][0]["path"] == "../x.csv"
    created = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")} - before
    assert created == {
        "work/sub/out",
        "work/sub/out/hits.parquet",
        "work/sub/out/flagged.parquet",
        "work/sub/out/flagged.csv",
        "work/sub/out/flagged.xlsx",
        "work/sub/out/rejects.csv",
        "work/sub/out/scanned.parquet",
        "work/sub/out/summary.json",
    }
    flagged = pq.read_table(work / "sub" / "out" / "flagged.parquet").column("item_id").to_pylist()
    assert flagged == ["../../evil", "/tmp/abs"]


def test_a_file_that_fails_stops_the_scan_before_anything_is_written(tmp_path, rules):
    (tmp_path / "a.csv").write_text("item_id,title\n1,象牙\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("item_id,title\n2,象牙\n", encoding="utf-8")  # CSV named .jsonl
    out = tmp_path / "out"
    screener.scan_files([tmp_path / "a.csv"], out, rules)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(InputError, match=r"b\.jsonl:1: no line holds a JSON object with listing fields"):
        screener.scan_files([tmp_path / "a.csv", tmp_path / "b.jsonl"], out, rules)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier complete scan is untouched


def test_a_scan_that_fails_midway_leaves_no_summary(tmp_path, rules, monkeypatch):
    (tmp_path / "a.csv").write_text("item_id,title\n1,象牙\n2,茶杯\n", encoding="utf-8")
    out = tmp_path / "out"
    screener.scan_files([tmp_path / "a.csv"], out, rules)
    assert (out / "summary.json").exists()

    def failing(*a, **k):
        raise InputError("simulated: the disk went away")

    monkeypatch.setattr(csv_format, "parse_records", failing)
    with pytest.raises(InputError, match="simulated"):
        screener.scan_files([tmp_path / "a.csv"], out, rules)
    # outputs of the earlier scan may remain, but without a summary nothing passes for a complete scan
    assert not (out / "summary.json").exists() and not list(out.glob(".*.partial"))
