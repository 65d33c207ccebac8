"""The report as one self-contained HTML page: opens offline, on an isolated network.

No JavaScript, no CDN, no web fonts, no image files: charts are inline SVG
(:mod:`.charts`), the crops of image evidence inline PNG (``data:``), styles are
inline, fonts are the system's. A
Content-Security-Policy forbids loading anything at all, so even a listing
text that slipped through escaping could not pull in a script. Listing URLs
are plain links (http/https only), opened by the reader's choice.

The figures are the report's tables, the same ones the workbook shows; each
table cell carries its column in ``data-col`` so tests compare the rendered
page with the workbook.
"""

from __future__ import annotations

import base64
import math
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import Location, OutputError
from ..io.atomic import write_atomic
from ..io.safety import link_target
from .charts import PALETTE, hbar_chart, stacked_chart
from .labels import PERCENT_COLUMNS, SHEETS, STATUS_LABELS, STATUS_ORDER, URL_COLUMNS, headers

TOP_SHOPS_CHART = 15
TOP_SHOPS_TABLE = 50
TOP_RULES_TABLE = 200

_CSS = """
body{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",
"Hiragino Sans GB",SimSun,sans-serif;margin:24px auto;max-width:1280px;color:#222;padding:0 16px;line-height:1.5}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;border-left:5px solid #2f6db5;padding-left:8px;margin-top:36px}
.meta{color:#555;font-size:13px}.meta code{font-size:12px}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
.kpi{border:1px solid #d6dde6;border-radius:6px;padding:10px 16px;min-width:130px;background:#f7f9fc}
.kpi .v{font-size:24px;font-weight:bold;color:#1d4f8a}.kpi .k{font-size:13px;color:#555}
table.data{border-collapse:collapse;font-size:13px;margin:8px 0 4px;width:100%}
table.data th,table.data td{border:1px solid #d6dde6;padding:4px 6px;vertical-align:top;text-align:left}
table.data th{background:#ddebf7;position:sticky;top:0;white-space:nowrap}
.scroll{overflow-x:auto}
td[data-col=platform],td[data-col=shop_id],td[data-col=shop_name],td[data-col=department],td[data-col=category],
td[data-col=licence_status],td[data-col=rule_id],td[data-col=status_name],td[data-col=item_id],
td[data-col=severity_name],td[data-col=category_name],td[data-col=task]{white-space:nowrap}
table.data td.num{text-align:right;white-space:nowrap}
table.data tr:nth-child(even) td{background:#fafbfd}
.note{color:#666;font-size:12px}.warn{color:#a15c00;font-weight:bold}
svg.chart{max-width:100%;height:auto;font-size:12px}svg .lbl{fill:#333}svg .val{fill:#333;font-weight:bold}
.case{border:1px solid #d6dde6;border-radius:6px;padding:10px 14px;margin:10px 0;background:#fff}
.case h3{font-size:15px;margin:0 0 6px}
.case dl{display:grid;grid-template-columns:120px 1fr;gap:2px 10px;margin:0;font-size:13px}
.case dt{color:#555}.case dd{margin:0;word-break:break-all}
.grid2{display:grid;grid-template-columns:1fr;gap:8px}
figure.crop{display:inline-block;margin:2px 8px 4px 0;vertical-align:top}
figure.crop img{border:1px solid #d6dde6;display:block}figure.crop figcaption{font-size:12px;color:#555}
a{color:#1d4f8a}a.kpi-link{text-decoration:none;color:inherit}
.toc{border:1px solid #d6dde6;border-radius:6px;padding:6px 16px;margin:14px 0;background:#f7f9fc;font-size:14px}
.toc h2{font-size:15px;border:0;padding:0;margin:6px 0}.toc ol{margin:4px 0;padding-left:18px;list-style:none}
@media print{table.data th{position:static}.case{break-inside:avoid}}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def fmt(col: str, v) -> str:
    """A table value as shown on the page (the workbook holds the same value unformatted)."""
    if _is_missing(v):
        return ""
    if col in PERCENT_COLUMNS:
        return f"{float(v) * 100:.1f}%"
    if isinstance(v, (bool, np.bool_)):
        return "是" if v else "否"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):,.2f}".rstrip("0").rstrip(".") if not float(v).is_integer() else f"{int(v):,}"
    return str(v)


def _cell(col: str, v) -> str:
    text = fmt(col, v)
    numeric = not _is_missing(v) and isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    cls = ' class="num"' if numeric or col in PERCENT_COLUMNS else ""
    body = escape(text)
    if col in URL_COLUMNS and (target := link_target(v)):
        body = f'<a href="{escape(target, quote=True)}" rel="noopener noreferrer nofollow" target="_blank">{body}</a>'
    return f'<td data-col="{escape(col)}"{cls}>{body}</td>'


def table_html(key: str, df: pd.DataFrame, limit: int | None = None) -> str:
    shown = df if limit is None else df.head(limit)
    cols = list(shown.columns)
    out = [
        f'<div class="scroll"><table class="data" id="tbl-{key}" data-sheet="{escape(SHEETS[key][0])}" '
        f'data-rows="{len(df)}" data-shown="{len(shown)}"><thead><tr>'
    ]
    out += [f'<th data-col="{escape(c)}">{escape(h)}</th>' for c, h in zip(cols, headers(key, cols))]
    out.append("</tr></thead><tbody>")
    for values in shown.itertuples(index=False, name=None):
        out.append("<tr>" + "".join(_cell(c, v) for c, v in zip(cols, values)) + "</tr>")
    out.append("</tbody></table></div>")
    if limit is not None and len(df) > limit:
        out.append(
            f'<p class="note">共 {len(df):,} 行，此处显示前 {limit:,} 行；'
            f"完整内容见工作簿“{escape(SHEETS[key][0])}”。</p>"
        )
    return "".join(out)


def _kpis(report) -> str:
    t = report.totals
    items = [
        ("rows_scanned", "扫描商品数", t["rows_scanned"]),
        ("rows_rejected", "拒收行数", t["rows_rejected"]),
        ("flagged", "违规商品数", t["flagged"]),
        ("high", "高风险商品数", t["high"]),
        ("hits", "命中次数", t["hits"]),
        ("shops", "涉及店铺数", t["shops"]),
        ("platforms", "涉及平台数", t["platforms"]),
        ("categories", "涉及类别数", t["categories"]),
    ]
    if report.diff is not None:
        d = report.diff.summary
        items += [(f"diff_{k}", STATUS_LABELS[k], d[k]) for k in STATUS_ORDER]
    cells = []
    for k, label, v in items:
        cell = (
            f'<div class="kpi" data-key="{k}"><div class="v">{int(v):,}</div><div class="k">{escape(label)}</div></div>'
        )
        if k.startswith("diff_"):  # the 复查 figures lead to their section
            cell = f'<a class="kpi-link" href="#{SECTION_IDS["recheck"]}">{cell}</a>'
        cells.append(cell)
    return '<div class="kpis">' + "".join(cells) + "</div>"


def _crop_html(crop) -> str:
    """One image-evidence crop: the PNG inline, its label under it (or why there is none)."""
    label = escape(crop.label)
    if not crop.png:
        return f'<p class="note">{label}：{escape(crop.note)}</p>'
    data = base64.b64encode(crop.png).decode("ascii")
    return (
        f'<figure class="crop"><img src="data:image/png;base64,{data}" width="{crop.width}" '
        f'height="{crop.height}" alt="{label}"><figcaption>{label}</figcaption></figure>'
    )


def _cases_html(cases: pd.DataFrame, crops: dict | None = None) -> str:
    if cases.empty:
        return '<p class="note">本次扫描没有违规商品。</p>'
    fields = [
        ("category_name", "类别"),
        ("category_score", "本类风险分"),
        ("score", "商品风险分"),
        ("severity", "严重程度"),
        ("platform", "平台"),
        ("item_id", "商品ID"),
        ("title", "商品标题"),
        ("shop_name", "店铺名称"),
        ("shop_id", "店铺ID"),
        ("url", "商品链接"),
        ("rules", "命中规则"),
        ("matched", "命中内容"),
        ("context", "上下文"),
        ("legal_basis", "法律依据"),
        ("departments", "责任部门"),
        ("source", "来源(文件:行)"),
        ("summary", "案情摘要"),
    ]
    if "image_evidence" in cases.columns:
        fields.append(("image_evidence", "图片证据"))
    out = []
    for r in cases.to_dict("records"):
        dl = "".join(
            f'<dt>{escape(label)}</dt><dd data-col="{c}">'
            + (
                f'<a href="{escape(t, quote=True)}" rel="noopener noreferrer nofollow" target="_blank">'
                f"{escape(str(r[c]))}</a>"
                if c == "url" and (t := link_target(r[c]))
                else escape(fmt(c, r[c]))
            )
            + "</dd>"
            for c, label in fields
        )
        shown = (crops or {}).get(r["case_no"])
        if shown:
            dl += '<dt>图片截图</dt><dd data-col="image_crop">' + "".join(_crop_html(c) for c in shown) + "</dd>"
        out.append(
            f'<div class="case" data-case="{escape(str(r["case_no"]))}"><h3>案例 {escape(str(r["case_no"]))}：'
            f"{escape(str(r['title']))}</h3><dl>{dl}</dl></div>"
        )
    return "".join(out)


#: section key -> the anchor the table of contents links to
SECTION_IDS = {
    "stats": "sec-stats",
    "shops": "sec-shops",
    "cases": "sec-cases",
    "recheck": "sec-recheck",
    "rules": "sec-rules",
    "inputs": "sec-inputs",
}


def _sections(report) -> dict[str, str]:
    """Section key -> numbered title, in page order (复查 only with a previous scan)."""
    titles = {"stats": "专项行动情况统计", "shops": "重点店铺", "cases": "典型案例"}
    if report.diff is not None:
        titles["recheck"] = "复查对比（与上次扫描）"
    titles["rules"] = "规则命中"
    numerals = "一二三四五六七八九"
    out = {k: f"{numerals[i]}、{v}" for i, (k, v) in enumerate(titles.items())}
    out["inputs"] = "附：扫描输入"
    return out


def _toc(sections: dict[str, str]) -> str:
    links = "".join(f'<li><a href="#{SECTION_IDS[k]}">{escape(v)}</a></li>' for k, v in sections.items())
    return f'<nav class="toc" id="toc"><h2>目录</h2><ol>{links}</ol></nav>'


def render_html(report, *, top_shops: int = TOP_SHOPS_TABLE) -> str:
    """The report page as a string (see :func:`write_html`)."""
    sections = _sections(report)
    s = report.summary
    rules = s.get("rules") or {}
    eng = s.get("engine") or {}
    cat = report.by_category[report.by_category["flagged"] > 0]
    cat_chart = hbar_chart(
        [(r.category_name, int(r.flagged)) for r in cat.itertuples()],
        chart_id="chart-category",
        title="各类别违规商品数",
    )
    shops = report.shops.head(TOP_SHOPS_CHART)
    shop_chart = hbar_chart(
        [(f"{r.shop_name or r.shop_id}（{r.platform}）", int(r.flagged)) for r in shops.itertuples()],
        chart_id="chart-shops",
        title=f"违规商品数最多的 {len(shops)} 家店铺",
    )
    sev = report.by_severity
    sev_chart = hbar_chart(
        [(r.severity_name, int(r.flagged)) for r in sev.itertuples()],
        chart_id="chart-severity",
        title="违规商品按最高严重程度",
        colors=[PALETTE.get(x, PALETTE["bar"]) for x in sev["severity"]],
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>网剑行动 商品筛查报告</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>网剑行动 网络商品筛查报告</h1>",
        f'<p class="meta">生成时间 {escape(report.generated_at)} · '
        f"扫描时间 {escape(report.local(s.get('started_at')))} 至 "
        f"{escape(report.local(s.get('finished_at')))} · 筛查引擎 {escape(str(eng.get('name', 'screener')))} "
        f'{escape(str(eng.get("version", "")))} · 规则包哈希 <code id="rules-hash" '
        f'title="{escape(str(rules.get("hash", "")), quote=True)}">{escape(report.rules_hash)}</code></p>',
        _toc(sections),
        _kpis(report),
    ]
    for n in report.notes:
        cls = "warn" if n.startswith("注意") else "note"
        parts.append(f'<p class="{cls}">{escape(n)}</p>')
    parts += [
        f'<h2 id="{SECTION_IDS["stats"]}">{sections["stats"]}</h2>',
        "<h3>按类别</h3>",
        cat_chart,
        table_html("by_category", report.by_category),
        "<h3>按严重程度</h3>",
        sev_chart,
        table_html("by_severity", report.by_severity),
        "<h3>按责任部门</h3>",
        table_html("by_department", report.by_department),
        "<h3>按平台</h3>",
        table_html("by_platform", report.by_platform),
        f'<h2 id="{SECTION_IDS["shops"]}">{sections["shops"]}</h2>',
        shop_chart,
        table_html("shops", report.shops, top_shops),
        f'<h2 id="{SECTION_IDS["cases"]}">{sections["cases"]}</h2>',
        _cases_html(report.cases, report.crops),
    ]
    if report.diff is not None:
        d = report.diff
        rows = [(r.category_name, {k: int(getattr(r, k)) for k in STATUS_ORDER}) for r in d.by_category.itertuples()]
        parts += [
            f'<h2 id="{SECTION_IDS["recheck"]}">{sections["recheck"]}</h2>',
            f'<p class="meta">上次扫描：{escape(d.summary["previous_dir"])}'
            f"（{escape(report.local(d.summary['previous_finished_at']))}）"
            f" · 商品识别方式：{escape(d.summary['key_label'])}</p>",
            stacked_chart(rows, STATUS_ORDER, STATUS_LABELS, chart_id="chart-diff", title="各类别复查结果"),
            table_html("diff_by_category", d.by_category),
            "<h3>按店铺（仍未清理最多的在前）</h3>",
            table_html("diff_by_shop", d.by_shop, top_shops),
        ]
    parts += [
        f'<h2 id="{SECTION_IDS["rules"]}">{sections["rules"]}</h2>',
        table_html("rules", report.rules, TOP_RULES_TABLE),
        f'<h2 id="{SECTION_IDS["inputs"]}">{sections["inputs"]}</h2>',
        table_html("inputs", report.inputs),
        '<p class="note">本报告由 screener 根据扫描结果（hits.parquet、flagged.parquet、summary.json）自动生成；'
        "筛查结果为线索，需经人工核实后方可作为执法依据。</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_html(report, path: str | Path, *, top_shops: int = TOP_SHOPS_TABLE) -> Path:
    """Write the self-contained HTML report; returns the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write HTML report: {exc.strerror or exc}", Location(str(path))) from None
    html = render_html(report, top_shops=top_shops)
    return write_atomic(path, lambda tmp: tmp.write_text(html, encoding="utf-8"))
