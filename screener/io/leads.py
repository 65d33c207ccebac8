"""flagged.xlsx: every lead of a scan for investigators, safe to open in Excel or WPS.

flagged.csv keeps the machine columns for programs, but Excel reads its long
numeric ids as numbers (6.12346E+17; 000123 becomes 123). The workbook holds
the same listings with ids as text, Chinese headers, category names beside
their codes, severities in Chinese and clickable links; every text cell is
neutralised like the CSV's. Written by XlsxWriter row by row (its constant-memory mode) as a scan's
chunks complete, so memory does not grow with the number of leads; beyond
Excel's row limit the list continues on a further sheet. XlsxWriter, not
openpyxl: it writes the same workbook in about half the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..labels import severity_label
from .safety import EXCEL_MAX_LINKS, EXCEL_MAX_ROWS, clean_text, link_target

SHEET = "线索清单"

#: flagged.parquet column -> header of flagged.xlsx, in the sheet's order ("category_names" is derived)
LEAD_COLUMNS: dict[str, str] = {
    "item_id": "商品ID",
    "title": "商品标题",
    "category_names": "违规类别",
    "categories": "类别代码",
    "max_severity": "严重程度",
    "score": "风险分",
    "rule_ids": "命中规则",
    "evidence": "证据",
    "legal_basis": "法律依据",
    "departments": "责任部门",
    "platform": "平台",
    "shop_name": "店铺名称",
    "shop_id": "店铺ID",
    "url": "商品链接",
    "source_file": "来源文件",
    "source_row": "来源行",
    "row_id": "扫描行号",
}
_WIDTHS = {"title": 40, "evidence": 60, "legal_basis": 40, "category_names": 24, "url": 30, "departments": 24}
_TEXT_IDS = ("item_id", "shop_id")  # written as text: Excel would turn long digits into 6.1E+17


class LeadsWorkbook:
    """flagged.xlsx written as the leads arrive: :meth:`add` flagged listings (with the
    :data:`~screener.schema.FLAGGED_SCHEMA` columns) in order, then :meth:`close`.

    A scan adds each chunk's leads as the chunk completes, so the workbook is done
    when the scan is, instead of being written from flagged.parquet afterwards.
    """

    def __init__(self, path: str | Path, category_names: Mapping[str, str], *, max_rows: int = EXCEL_MAX_ROWS - 1):
        import xlsxwriter

        self.path = Path(path)
        self._names = category_names
        self._max_rows = max_rows
        # constant_memory: each row goes to disk as it is written; no automatic conversion of text
        # (seller text that looks like a formula, a number or a link stays text)
        self._wb = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._wb.set_properties({"title": "网剑行动 商品筛查线索清单", "author": "screener"})
        self._head = self._wb.add_format({"bold": True, "bg_color": "#DDEBF7", "pattern": 1})
        self._text = self._wb.add_format({"num_format": "@"})
        self._link = self._wb.get_default_url_format()
        self._ws: Any = None  # the sheet being written
        self._rows = self._links = self._sheets = 0  # rows and links on it; sheets so far
        self._new_sheet()

    def _finish_sheet(self) -> None:
        if self._ws is not None:  # the filter covers the sheet's rows
            self._ws.autofilter(0, 0, self._rows, len(_COLS) - 1)

    def _new_sheet(self) -> None:
        self._finish_sheet()
        self._sheets += 1
        ws = self._ws = self._wb.add_worksheet(SHEET if self._sheets == 1 else f"{SHEET}({self._sheets})")
        for i, c in enumerate(_COLS):
            ws.set_column(i, i, _WIDTHS.get(c, 14))
        ws.freeze_panes(1, 0)
        for i, c in enumerate(_COLS):
            ws.write_string(0, i, LEAD_COLUMNS[c], self._head)
        self._rows = self._links = 0

    def add(self, flagged: pa.Table | pa.RecordBatch | Mapping[str, list]) -> None:
        """Add leads: a table or batch, or its columns already as Python lists (``to_pydict()``)."""
        data = flagged if isinstance(flagged, Mapping) else {c: flagged.column(c).to_pylist() for c in _FROM_TABLE}
        names = self._names
        for i in range(len(data["item_id"])):
            if self._rows >= self._max_rows:
                self._new_sheet()
            ws, r = self._ws, self._rows + 1
            self._rows = r
            codes = [c for c in (data["categories"][i] or "").split(";") if c]
            for k, c in enumerate(_COLS):
                if c == "category_names":
                    v: Any = "、".join(names.get(x, x) for x in codes)
                elif c == "max_severity":
                    v = severity_label(data[c][i])
                elif c == "departments":
                    v = (data[c][i] or "").replace(";", "、")
                else:
                    v = data[c][i]
                if v is None:
                    continue
                if k in _TEXT_AT:
                    ws.write_string(r, k, clean_text(str(v)), self._text)
                elif k == _URL_AT and self._links < EXCEL_MAX_LINKS and (target := link_target(v)):
                    ws.write_url(r, k, target, self._link, string=clean_text(v))
                    self._links += 1
                elif isinstance(v, str):
                    ws.write_string(r, k, clean_text(v))
                else:
                    ws.write_number(r, k, v)

    def close(self) -> Path:
        self._finish_sheet()
        self._wb.close()
        return self.path


_COLS = list(LEAD_COLUMNS)
_FROM_TABLE = [c for c in _COLS if c != "category_names"]  # category_names is derived
_TEXT_AT = {_COLS.index(c) for c in _TEXT_IDS}
_URL_AT = _COLS.index("url")


def write_leads_workbook(
    flagged_parquet: str | Path,
    path: str | Path,
    category_names: Mapping[str, str],
    *,
    max_rows: int = EXCEL_MAX_ROWS - 1,
) -> Path:
    """Write flagged.parquet's listings to ``path`` as the lead workbook; returns ``path``."""
    book = LeadsWorkbook(path, category_names, max_rows=max_rows)
    for batch in pq.ParquetFile(flagged_parquet).iter_batches(batch_size=50_000, columns=_FROM_TABLE):
        book.add(batch)
    return book.close()
