"""The report as an Excel workbook (opens in Excel and WPS): one sheet per table.

Chinese headers, sized columns, frozen header row, autofilter, clickable
listing URLs. Written with openpyxl's write-only mode, so memory does not grow
with the number of rows. Every text cell goes through
:func:`screener.io.safety.safe_cell`: seller-written text that starts like a
formula is stored as text, never evaluated.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..errors import Location, OutputError
from ..io.atomic import write_atomic
from ..io.safety import EXCEL_MAX_LINKS, EXCEL_MAX_ROWS, clean_text, link_target
from .labels import PERCENT_COLUMNS, SHEETS, URL_COLUMNS, WRAP_COLUMNS, headers

#: Rows per sheet by default: a ranked list beyond this is for the CSV, not for reading in Excel/WPS.
DEFAULT_MAX_ROWS = 100_000
MAX_WIDTH, MIN_WIDTH = 60, 6
WRAP_WIDTH = 48
_SAMPLE_ROWS = 500
_WIDE = re.compile(r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]")
_WRAP_SHEETS = {"cases", "overview"}


def _plain(v):
    """A DataFrame value as a cell value (None for missing)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, str):
        return clean_text(v)
    return v


def column_values(s: pd.Series) -> list:
    """A column as cell values, converted column-wise (numbers stay numbers, text is cleaned)."""
    if (
        pd.api.types.is_bool_dtype(s.dtype)
        or pd.api.types.is_integer_dtype(s.dtype)
        or pd.api.types.is_float_dtype(s.dtype)
    ):
        return s.astype(object).where(s.notna(), None).tolist()
    return [_plain(v) for v in s.tolist()]


def display_width(text: str) -> int:
    return len(text) + len(_WIDE.findall(text))


def column_widths(key: str, df: pd.DataFrame, header: list[str]) -> list[float]:
    out = []
    sample = df.head(_SAMPLE_ROWS)
    for c, h in zip(df.columns, header):
        vals = sample[c].astype(object).where(sample[c].notna(), "").astype(str)
        longest = max([display_width(h)] + [display_width(v) for v in vals.tolist()])
        w = min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)
        if key in _WRAP_SHEETS and c in WRAP_COLUMNS | {"title", "value"}:
            w = min(w, WRAP_WIDTH)
        out.append(float(w))
    return out


def _atomic_save(wb: Workbook, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write workbook: {exc.strerror or exc}", Location(str(path))) from None
    write_atomic(path, wb.save)


_FULL_DATA = {
    "diff_listings": "完整清单用 screener diff 上次目录 本次目录 导出（diff.csv / diff.parquet）",
    "diff_by_shop": "完整清单用 screener diff 上次目录 本次目录 导出（diff_by_shop.csv）",
    "shops": "完整清单可用 Python 接口 screener.report.build_report(目录).shops 导出",
}


#: The 图片截图 column, in characters: a crop is at most 360 px wide (screener.ocr.crops).
CROP_COLUMN_WIDTH = 52


def _add_crop(ws, crops, row: int, col: int) -> None:
    """A case's evidence crops, stacked into one picture anchored in its 图片截图 cell; the row
    made tall enough to show it (set before the row is written: the sheet is write-only)."""
    from ..ocr.crops import stack

    crop = stack(crops or [])
    if crop is None or crop.png is None:  # stack returns only crops with a picture
        return
    from openpyxl.drawing.image import Image as SheetImage

    ws.row_dimensions[row].height = max(15.0, crop.height * 0.75 + 4)  # points; a pixel is 0.75 pt
    ws.add_image(SheetImage(io.BytesIO(crop.png)), f"{get_column_letter(col)}{row}")


def write_workbook(report, path: str | Path, *, max_rows: int = DEFAULT_MAX_ROWS) -> Path:
    """Write ``report`` (:class:`~screener.report.Report`) to an .xlsx file; returns the path.

    A sheet holds at most ``max_rows`` rows (and never more than Excel's limit):
    the long lists (shops, the diff's listings) are ranked, so the first rows are
    the ones to act on; a cut is noted in 统计概况 with where the full list is.
    """
    path = Path(path)
    tables = report.tables()
    limit = max(1, min(max_rows, EXCEL_MAX_ROWS - 1))
    cut = {k: len(df) for k, df in tables.items() if len(df) > limit}
    if cut:
        extra = pd.DataFrame(
            [
                {
                    "item": f"说明：工作表“{SHEETS[k][0]}”未写全",
                    "value": f"共 {n:,} 行，仅写入排在前面的 {limit:,} 行；"
                    f"{_FULL_DATA.get(k, '完整数据见扫描的 Parquet/CSV 输出')}。",
                }
                for k, n in cut.items()
            ]
        )
        tables["overview"] = pd.concat([tables["overview"], extra], ignore_index=True)

    wb = Workbook(write_only=True)
    wb.properties.title = "网剑行动 商品筛查报告"
    wb.properties.creator = "screener"
    head_font = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    head_align = Alignment(wrap_text=True, vertical="center")
    wrap = Alignment(wrap_text=True, vertical="top")
    for key, df in tables.items():
        name, _ = SHEETS[key]
        ws = wb.create_sheet(name)
        df = df.head(limit)
        cols = list(df.columns)
        header = headers(key, cols)
        for i, w in enumerate(column_widths(key, df, header), start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = "A2"
        last = get_column_letter(max(len(cols), 1))
        ws.auto_filter.ref = f"A1:{last}{len(df) + 1}"
        head = []
        for h in header:
            c = WriteOnlyCell(ws, value=clean_text(h))
            c.font, c.fill, c.alignment = head_font, head_fill, head_align
            head.append(c)
        ws.append(head)
        url_idx = {i for i, c in enumerate(cols) if c in URL_COLUMNS}
        pct_idx = {i for i, c in enumerate(cols) if c in PERCENT_COLUMNS}
        wrap_idx = (
            {i for i, c in enumerate(cols) if c in WRAP_COLUMNS | {"title", "value"}} if key in _WRAP_SHEETS else set()
        )
        special = url_idx | pct_idx | wrap_idx
        links = 0
        crop_col = cols.index("image_crop") + 1 if key == "cases" and "image_crop" in cols else 0
        if crop_col:
            ws.column_dimensions[get_column_letter(crop_col)].width = CROP_COLUMN_WIDTH
        for n, values in enumerate(zip(*(column_values(df[c]) for c in cols)) if cols else (), start=2):
            row = list(values)
            if crop_col:
                _add_crop(ws, report.crops.get(df["case_no"].iloc[n - 2]), n, crop_col)
            if key == "overview" and isinstance(row[1], float):
                c = WriteOnlyCell(ws, value=row[1])
                c.number_format = "0.00%"
                row[1] = c
            for i in special:
                v = row[i]
                if isinstance(v, Cell):
                    continue
                if i in url_idx:
                    target = link_target(v)
                    if target and links < EXCEL_MAX_LINKS:
                        c = WriteOnlyCell(ws, value=v)
                        c.hyperlink = target
                        c.style = "Hyperlink"
                        row[i] = c
                        links += 1
                elif i in pct_idx and v is not None:
                    c = WriteOnlyCell(ws, value=v)
                    c.number_format = "0.0%"
                    row[i] = c
                elif i in wrap_idx and v is not None:
                    c = WriteOnlyCell(ws, value=v)
                    c.alignment = wrap
                    row[i] = c
            ws.append(row)
    _atomic_save(wb, path)
    return path
