"""Readers: formats, encodings, header mapping, and no row lost."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import RULES

import screener
from screener.errors import InputError
from screener.io.readers import ReadOptions, discover, open_source, preflight, read_input


def read_all(path, mapping=None, chunk_rows=1000):
    src = open_source(path)
    chunks = list(read_input(src, mapping, ReadOptions(chunk_rows=chunk_rows)))
    table = pa.concat_tables([c.table for c in chunks]) if chunks else None
    rejects = [r for c in chunks for r in c.rejects]
    return src, table, rejects, sum(c.rows_read for c in chunks)


def test_csv_utf8_bom_and_gb18030_with_chinese_headers(tmp_path):
    text = (
        "商品ID,商品标题,店铺名称,价格,原价,主体类型\n"
        "1,天然象牙手镯,云南玉石阁,199,1999,企业店\n2,保温杯,杯子店,价格面议,,个人\n"
    )
    (tmp_path / "bom.csv").write_bytes(text.encode("utf-8-sig"))
    (tmp_path / "gbk.csv").write_bytes(text.encode("gb18030"))
    for name, enc in (("bom.csv", "utf-8-sig"), ("gbk.csv", "gb18030")):
        src, t, rejects, n = read_all(tmp_path / name)
        assert src.encoding == enc and n == 2 and not rejects
        assert t.column("title").to_pylist() == ["天然象牙手镯", "保温杯"]
        assert t.column("shop_name").to_pylist() == ["云南玉石阁", "杯子店"]
        assert t.column("price").to_pylist() == [199.0, None]
        assert t.column("original_price").to_pylist() == [1999.0, None]
        assert t.column("seller_type").to_pylist() == ["enterprise", "natural_person"]
        assert any("价格面议" in w for w in src.warnings)


def test_tsv_jsonl_parquet_xlsx(tmp_path):
    (tmp_path / "a.tsv").write_text("item_id\ttitle\n1\t象牙\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"item_id": 2, "title": "象牙", "price": 5}) + "\n{broken\n[1]\n", encoding="utf-8"
    )
    pq.write_table(
        pa.table({"item_id": [3, 4], "title": ["象牙", None], "price": ["9.9", "x"]}), tmp_path / "c.parquet"
    )
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2021网剑行动 平台导出"])  # a title row above the header
    ws.append([])
    ws.append(["商品编号", "商品名称", "店铺"])
    ws.append([5, "象牙手镯", "某店"])
    ws.append([6.0, "茶杯", None])
    wb.save(tmp_path / "d.xlsx")
    _, t, rej, n = read_all(tmp_path / "a.tsv")
    assert t.column("item_id").to_pylist() == ["1"] and n == 1
    _, t, rej, n = read_all(tmp_path / "b.jsonl")
    assert t.column("item_id").to_pylist() == ["2"] and t.column("price").to_pylist() == [5.0]
    assert [(r.row, r.reason.split(":")[0]) for r in rej] == [
        (2, "invalid JSON"),
        (3, "a line must hold one JSON object"),
    ]
    assert n == 3
    _, t, rej, n = read_all(tmp_path / "c.parquet")
    assert t.column("price").to_pylist() == [9.9, None] and n == 2
    src, t, rej, n = read_all(tmp_path / "d.xlsx")
    assert t.column("item_id").to_pylist() == ["5", "6"] and t.column("source_row").to_pylist() == [4, 5]
    assert any("row 3" in w for w in src.warnings)


def test_map_option_and_missing_required_column(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("编号,品名\n1,象牙\n", encoding="utf-8")
    with pytest.raises(InputError) as ei:
        read_all(p)
    assert "missing required column(s) item_id, title" in str(ei.value) and "x.csv:1" in str(ei.value)
    _, t, _, _ = read_all(p, {"编号": "item_id", "品名": "title"})
    assert t.column("title").to_pylist() == ["象牙"]


def test_broken_csv_lines_are_rejected_with_line_numbers(tmp_path):
    p = tmp_path / "broken.csv"
    p.write_bytes(
        b'item_id,title,shop_name\n1,ok,s\n2,"multi\nline",s\n3,too,many,fields\n4,few\n,no id,s\n'
        b"5,\xff\xfe bad bytes,s\n6,fine,s\n"
    )
    _, t, rejects, n = read_all(p)
    assert t.column("item_id").to_pylist() == ["1", "2", "5", "6"]
    assert t.column("title").to_pylist()[1] == "multi\nline"
    # bytes valid in no encoding are read as U+FFFD and the row scanned (test_bad_input.py)
    assert t.column("title").to_pylist()[2] == "\ufffd\ufffd bad bytes"
    reasons = {r.row: r.reason for r in rejects}
    assert set(reasons) == {4, 5, 6}  # record numbers: the header is 1, the quoted two-line cell one record
    assert "expected 3 fields, found 4" in reasons[4] and "found 2" in reasons[5]
    assert reasons[6] == "item_id is empty"
    assert n == 7 == t.num_rows + len(rejects)


def test_scan_files_counts_add_up(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("item_id,title\n1,象牙手镯\n2,x,y\n3,第一品牌\n", encoding="utf-8")
    s = screener.scan_files([p], tmp_path / "out", screener.load_rules([RULES]))
    assert (s["rows_read"], s["rows_scanned"], s["rows_rejected"], s["rows_flagged"]) == (3, 2, 1, 2)
    rej = (tmp_path / "out" / "rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rej[0] == "source_file,row,reason,raw" and ',3,"expected 2 fields, found 3",' in rej[1]


def test_discover_directories_and_globs(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("a.csv", "b.jsonl", "notes.md"):
        (tmp_path / "d" / name).write_text("item_id,title\n", encoding="utf-8")
    assert [p.name for p in discover([tmp_path / "d"])] == ["a.csv", "b.jsonl"]
    assert [p.name for p in discover([str(tmp_path / "d" / "*.csv")])] == ["a.csv"]
    with pytest.raises(InputError):
        discover([tmp_path / "nope.csv"])


# -- XLSX sheets and Excel's "Unicode 文本" -------------------------------------------------------
def _workbook(path, sheets):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def test_xlsx_listings_are_found_on_a_later_sheet(tmp_path):
    path = _workbook(
        tmp_path / "export.xlsx",
        [
            ("说明", [["本表为平台导出数据"], ["字段说明：商品ID 为平台编号"]]),
            ("商品列表", [["商品ID", "商品标题"], ["1", "象牙手镯"], ["2", "茶杯"]]),
        ],
    )
    src, t, _, _ = read_all(path)
    assert t.column("title").to_pylist() == ["象牙手镯", "茶杯"] and src.sheet == "商品列表"
    assert any("sheet '商品列表'" in w and "'说明'" in w for w in src.warnings)
    s = screener.scan_files([path], tmp_path / "out", screener.load_rules([RULES]))
    assert s["inputs"][0]["sheet"] == "商品列表" and s["rows_flagged"] == 1


def test_xlsx_sheet_option_and_errors_name_the_sheet(tmp_path):
    path = _workbook(
        tmp_path / "export.xlsx",
        [
            ("说明", [["本表为平台导出数据"]]),
            ("旧表", [["编号", "名称"], ["1", "x"]]),
            ("新表", [["商品ID", "商品标题"], ["9", "象牙"]]),
        ],
    )
    src = open_source(path)
    t = pa.concat_tables(c.table for c in read_input(src, None, ReadOptions(sheet="新表")))
    assert t.column("item_id").to_pylist() == ["9"]
    with pytest.raises(InputError) as ei:
        preflight(open_source(path), None, ReadOptions(sheet="旧表"))
    assert "export.xlsx:1: sheet '旧表': missing required column(s) item_id, title" in str(ei.value)
    with pytest.raises(InputError, match=r"no sheet '商品' \(the sheets are: 说明, 旧表, 新表\)"):
        preflight(open_source(path), None, ReadOptions(sheet="商品"))
    bad = _workbook(tmp_path / "bad.xlsx", [("说明", [["导出说明"]]), ("数据", [["编号", "名称"]])])
    with pytest.raises(InputError) as ei:
        preflight(open_source(bad))
    msg = str(ei.value)
    assert "no sheet holds listings" in msg and "sheet '说明':" in msg and "sheet '数据':" in msg and "--sheet" in msg


def test_excel_unicode_text_utf16_tsv_is_read(tmp_path):
    text = "商品ID\t商品标题\t价格\r\n000123\t天然象牙手镯\t199\r\n2\t保温杯\t价格面议\r\n"
    path = tmp_path / "导出.txt"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))  # what Excel's "Unicode 文本" writes
    src, t, rej, n = read_all(path, chunk_rows=1)
    assert src.encoding == "utf-16" and src.delimiter == "\t" and not rej
    assert t.column("item_id").to_pylist() == ["000123", "2"]
    assert t.column("title").to_pylist() == ["天然象牙手镯", "保温杯"] and t.column("price").to_pylist() == [
        199.0,
        None,
    ]
    s = screener.scan_files([path], tmp_path / "out", screener.load_rules([RULES]))
    assert s["rows_scanned"] == 2 and s["rows_flagged"] == 1 and s["inputs"][0]["encoding"] == "utf-16"
    big = tmp_path / "big.txt"  # several blocks of the transcoder, and a big-endian BOM
    rows = "".join(f"{i}\t象牙{i}\r\n" for i in range(30_000))
    big.write_bytes(("item_id\ttitle\r\n" + rows).encode("utf-16-be").join([b"\xfe\xff", b""]))
    _, t, rej, n = read_all(big, chunk_rows=7000)
    assert n == 30_000 and t.column("title").to_pylist()[-1] == "象牙29999" and not rej
