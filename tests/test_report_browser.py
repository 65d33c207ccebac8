"""The HTML report in a real headless browser: it renders offline and shows the workbook's figures.

Needs a Chromium binary (Debian: ``apt-get install -y chromium``); set
SCREENER_CHROMIUM to use another one. Skipped, with the reason, when none exists.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from screener.io.safety import FORMULA_TRIGGERS
from screener.report import build_report, write_html, write_workbook
from screener.report.labels import PERCENT_COLUMNS, SHEETS

_spec = importlib.util.spec_from_file_location(
    "report_scans", Path(__file__).parent / "fixtures" / "report" / "scans.py"
)
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)


def _chromium() -> str | None:
    env = os.environ.get("SCREENER_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        if path := shutil.which(name):
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install -y chromium, or set SCREENER_CHROMIUM)"
)


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}",
        *args,
    ]
    res = subprocess.run(cmd, capture_output=True, timeout=180, env={**os.environ, "HOME": str(tmp)})
    assert res.returncode == 0, res.stderr.decode("utf-8", "replace")[-2000:]
    return res


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(report, workbook, DOM as rendered by Chromium, screenshot path)."""
    tmp = tmp_path_factory.mktemp("browser")
    rules = S.load_rules(tmp)
    S.scan(S.ROUND1, tmp / "round1", rules)
    S.scan(S.LISTINGS + S.ROUND2, tmp / "out", rules)
    rep = build_report(tmp / "out", previous=tmp / "round1")
    wb = load_workbook(write_workbook(rep, tmp / "report.xlsx"))
    html = write_html(rep, tmp / "report.html")
    dom = run_chromium(tmp, "--dump-dom", html.as_uri()).stdout.decode("utf-8")
    shot = tmp / "shot.png"
    run_chromium(tmp, f"--screenshot={shot}", "--window-size=1280,2400", html.as_uri())
    return rep, wb, dom, shot


class _Dom(HTMLParser):
    """Tables (by id: header texts, rows of cell texts), KPI cards and chart bars of the dumped DOM."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.kpis: dict[str, str] = {}
        self.bars: dict[str, list[tuple[str, int, str]]] = {}
        self._table = self._cell = self._kpi = self._chart = self._bar = None
        self._val = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id", "").startswith("tbl-"):
            self._table = {"headers": [], "rows": []}
            self.tables[a["id"][4:]] = self._table
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("th", "td") and self._table is not None:
            self._cell, self._text = tag, []
        elif tag == "div" and a.get("class") == "kpi":
            self._kpi = a["data-key"]
        elif tag == "div" and a.get("class") == "v" and self._kpi:
            self._text = []
            self._cell = "kpi"
        elif tag == "svg":
            self._chart = a.get("id")
            self.bars[self._chart] = []
        elif tag == "g" and a.get("class") == "bar":
            self._bar = (a["data-label"], int(a["data-value"]))
        elif tag == "text" and a.get("class") == "val" and self._bar:
            self._val, self._text = True, []

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell in ("th", "td"):
            text = "".join(self._text)
            if tag == "th":
                self._table["headers"].append(text)
            else:
                self._row.append(text)
            self._cell = None
        elif tag == "tr" and self._table is not None and getattr(self, "_row", None):
            self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "div" and self._cell == "kpi":
            self.kpis[self._kpi] = "".join(self._text)
            self._cell = self._kpi = None
        elif tag == "text" and self._val:
            self.bars[self._chart].append((*self._bar, "".join(self._text)))
            self._val, self._bar = False, None

    def handle_data(self, data):
        if self._cell or self._val:
            self._text.append(data)


def _as_shown(col: str, v) -> str:
    """A workbook value as the page must show it."""
    if v is None:
        return ""
    if col in PERCENT_COLUMNS:
        return f"{float(v) * 100:.1f}%"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{int(v):,}" if v.is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")
    if v.startswith("'") and v[1:].startswith(FORMULA_TRIGGERS):
        return v[1:]  # the workbook's neutralising apostrophe; the page shows the text as written
    return v


@pytest.mark.parametrize(
    "key",
    [
        "by_category",
        "by_severity",
        "by_department",
        "by_platform",
        "shops",
        "rules",
        "inputs",
        "diff_by_category",
        "diff_by_shop",
    ],
)
def test_page_tables_equal_workbook_sheets(rendered, key):
    rep, wb, dom, _ = rendered
    page = _Dom()
    page.feed(dom)
    t = page.tables[key]
    ws = wb[SHEETS[key][0]]
    sheet = list(ws.iter_rows(values_only=True))
    cols = list(rep.tables()[key].columns)
    assert t["headers"] == list(sheet[0])
    assert t["rows"], key
    assert len(t["rows"]) == min(len(sheet) - 1, 50 if key in ("shops", "diff_by_shop") else 200)
    for shown, row in zip(t["rows"], sheet[1:]):
        assert shown == [_as_shown(c, v) for c, v in zip(cols, row)]


def test_kpis_and_charts_equal_workbook(rendered):
    _, wb, dom, _ = rendered
    page = _Dom()
    page.feed(dom)
    ov = {r[0]: r[1] for r in wb["统计概况"].iter_rows(min_row=2, values_only=True)}
    for key, item in [
        ("rows_scanned", "扫描行数"),
        ("rows_rejected", "拒收行数(无法读取)"),
        ("flagged", "违规商品数"),
        ("high", "高风险商品数"),
        ("hits", "命中次数"),
        ("shops", "涉及店铺数"),
        ("platforms", "涉及平台数"),
        ("diff_new", "复查：新增违规"),
        ("diff_still", "复查：仍未清理"),
        ("diff_fixed", "复查：已整改"),
        ("diff_removed", "复查：已下架"),
        ("diff_gone", "复查：已下架或已整改(无法区分)"),
    ]:
        assert page.kpis[key] == f"{ov[item]:,}", key
    cats = [r for r in wb["按类别"].iter_rows(min_row=2, values_only=True) if r[3] > 0]
    assert [(lbl, v, txt) for lbl, v, txt in page.bars["chart-category"]] == [(r[1], r[3], f"{r[3]:,}") for r in cats]
    sev = list(wb["按严重程度"].iter_rows(min_row=2, values_only=True))
    assert [(lbl, v) for lbl, v, _ in page.bars["chart-severity"]] == [(r[1], r[2]) for r in sev]
    shops = [r for r in wb["重点店铺"].iter_rows(min_row=2, max_row=16, values_only=True) if r[0] is not None]
    assert [v for _, v, _ in page.bars["chart-shops"]] == [r[4] for r in shops]
    assert [lbl for lbl, _, _ in page.bars["chart-shops"]] == [
        f"{_as_shown('', r[3]) or r[2]}（{r[1]}）" for r in shops
    ]
    assert "chart-diff" in page.bars


def test_cases_shown_with_their_evidence(rendered):
    _, wb, dom, _ = rendered
    ws = wb["典型案例"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2, values_only=True):
        case = dict(zip(header, row))
        assert f'data-case="{case["案例编号"]}"' in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "<script>alert" not in dom


def _png_pixels(path: Path) -> tuple[int, int, np.ndarray]:
    """An 8-bit, non-interlaced RGB(A) PNG (what Chromium writes) as an (h, w, 3) array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h, bpp = 8, b"", 0, 0, 3
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w * bpp + 1)
    out = np.zeros((h, w * bpp), np.uint8)
    prev = np.zeros(w * bpp, np.int64)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if f == 1:  # sub: a running sum per channel
            line = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) % 256
        elif f == 2:
            line = (line + prev) % 256
        elif f in (3, 4):  # average, paeth: sequential along the row
            cur = line.tolist()
            up = prev.tolist()
            for i in range(len(cur)):
                a = cur[i - bpp] if i >= bpp else 0
                b = up[i]
                if f == 3:
                    cur[i] = (cur[i] + (a + b) // 2) & 255
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            line = np.array(cur, np.int64)
        out[y] = line
        prev = line
    return w, h, out.reshape(h, w, bpp)[:, :, :3]


def test_charts_are_painted(rendered):
    """The screenshot holds the bar colour: the inline SVG was drawn, offline, with nothing to fetch."""
    *_, shot = rendered
    w, h, px = _png_pixels(shot)
    assert (w, h) == (1280, 2400)
    bar = np.all(px == np.array([0x2F, 0x6D, 0xB5], np.uint8), axis=2)
    assert bar.sum() > 2000, int(bar.sum())
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 10  # not a blank page
