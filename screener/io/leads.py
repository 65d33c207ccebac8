"""flagged.xlsx: every lead of a scan for investigators, safe to open in Excel or WPS.

flagged.csv keeps the machine columns for programs, but Excel reads its long
numeric ids as numbers (6.12346E+17; 000123 becomes 123). The workbook holds
the same listings with ids as text, Chinese headers, category names beside
their codes, severities in Chinese and clickable links; every text cell is
neutralised like the CSV's. Written in openpyxl's write-only mode, streaming
flagged.parquet, so memory does not grow with the number of leads; beyond
Excel's row limit the list continues on a further sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def write_leads_workbook(
    flagged_parquet: str | Path,
    path: str | Path,
    category_names: Mapping[str, str],
    *,
    max_rows: int = EXCEL_MAX_ROWS - 1,
) -> Path:
    """Write flagged.parquet's listings to ``path`` as the lead workbook; returns ``path``."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    wb.properties.title = "网剑行动 商品筛查线索清单"
    wb.properties.creator = "screener"
    cols = list(LEAD_COLUMNS)
    url_at = cols.index("url")
    id_at = [cols.index(c) for c in _TEXT_IDS]
    ws: Any = None  # the sheet being written
    rows = links = sheets = 0  # rows and links on it; sheets so far
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")

    def finish_sheet() -> None:
        if ws is not None:  # the filter covers the sheet's rows
            ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{rows + 1}"

    def new_sheet() -> None:
        nonlocal ws, rows, links, sheets
        finish_sheet()
        sheets += 1
        ws = wb.create_sheet(SHEET if sheets == 1 else f"{SHEET}({sheets})")
        for i, c in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(c, 14)
        ws.freeze_panes = "A2"
        head = []
        for c in cols:
            cell = WriteOnlyCell(ws, value=LEAD_COLUMNS[c])
            cell.font, cell.fill = bold, fill
            head.append(cell)
        ws.append(head)
        rows = links = 0

    new_sheet()
    pf = pq.ParquetFile(flagged_parquet)
    wanted = [c for c in cols if c != "category_names"]
    for batch in pf.iter_batches(batch_size=50_000, columns=wanted):
        data = batch.to_pydict()
        for i in range(batch.num_rows):
            if rows >= max_rows:
                new_sheet()
            codes = [c for c in (data["categories"][i] or "").split(";") if c]
            row: list = []
            for c in cols:
                if c == "category_names":
                    v = "、".join(category_names.get(x, x) for x in codes)
                elif c == "max_severity":
                    v = severity_label(data[c][i])
                elif c == "departments":
                    v = (data[c][i] or "").replace(";", "、")
                else:
                    v = data[c][i]
                row.append(clean_text(v) if isinstance(v, str) else v)
            for k in id_at:
                if row[k] is not None:
                    cell = WriteOnlyCell(ws, value=str(row[k]))
                    cell.number_format = "@"
                    row[k] = cell
            target = link_target(data["url"][i])
            if target and links < EXCEL_MAX_LINKS:
                cell = WriteOnlyCell(ws, value=row[url_at])
                cell.hyperlink = target
                cell.style = "Hyperlink"
                row[url_at] = cell
                links += 1
            ws.append(row)
            rows += 1
    finish_sheet()
    wb.save(path)
    return Path(path)
