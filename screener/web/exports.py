"""The campaign workbook and HTML report of a scan, with the reviewers' decisions.

Listings dismissed as 误报 are left out of every table; the confirmed ones are
the 典型案例 (all of them, with the decision, note and reviewer); the overview
counts the decisions. Built on :func:`screener.report.build_report` over a
copy of the scan's outputs without the dismissed listings.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..io.writers import FLAGGED_FILE, HITS_FILE, SUMMARY_FILE
from ..report import build_report, report_paths, write_html, write_workbook
from .decisions import REVIEW_STATES, STATES
from .leads import LeadFilter, query_leads
from .workspace import Workspace

#: Columns added to 典型案例 (Chinese names: the workbook shows a column's own name when it has no label).
DECISION_COLUMNS = {
    "decision": "审核结论",
    "decision_note": "审核备注",
    "decision_reviewer": "审核人",
    "decided_at": "审核时间",
}
ALL_CASES = 1_000_000


def _filtered_copy(src: Path, dst: Path, keep_rows: set[int] | None, drop_rows: set[int]) -> Path:
    """hits/flagged of ``src`` without ``drop_rows`` (and only ``keep_rows`` when given), summary copied."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in (HITS_FILE, FLAGGED_FILE):
        t = pq.read_table(src / name)
        ids = t.column("row_id")
        mask = pc.invert(pc.is_in(ids, value_set=pa.array(sorted(drop_rows), pa.int64())))
        if keep_rows is not None:
            mask = pc.and_(mask, pc.is_in(ids, value_set=pa.array(sorted(keep_rows), pa.int64())))
        pq.write_table(t.filter(mask), dst / name)
    shutil.copy(src / SUMMARY_FILE, dst / SUMMARY_FILE)
    return dst


def export_report(ws: Workspace, scan_id: int) -> tuple[Path, Path]:
    """Write ``scans/<id>/report.xlsx`` and ``report.html`` with the decisions; returns both paths."""
    outdir = ws.scan_dir(scan_id)
    leads = query_leads(ws.db, scan_id, LeadFilter(sort="row"), per_page=10**9).rows
    by_state: dict[str, dict[int, dict]] = {k: {} for k in REVIEW_STATES}
    for lead in leads:
        by_state[lead["review"]][lead["row_id"]] = lead
    dismissed = set(by_state["dismissed"])
    confirmed = by_state["confirmed"]
    work = outdir / ".export"
    kept = _filtered_copy(outdir, work / "kept", None, dismissed)
    rep = build_report(kept)
    if confirmed:  # 典型案例 = the confirmed leads, every one
        only = _filtered_copy(outdir, work / "confirmed", set(confirmed), set())
        rep.cases = build_report(only, cases_per_category=ALL_CASES).cases
    cases = rep.cases.copy()
    # a case is a (listing, category): its listing's decision, found by item_id within this scan
    by_item = {(lead["platform"], lead["item_id"]): lead for lead in leads}
    decided = [by_item.get((p or "", i)) for p, i in zip(cases.get("platform", []), cases.get("item_id", []))]
    for col, label in DECISION_COLUMNS.items():
        values = []
        for match in decided:
            v = (match or {}).get(col) or ""
            values.append(STATES.get(v, v) if col == "decision" else v)
        cases[label] = values if len(cases) else pd.Series(dtype=object)
    if len(cases):
        # the HTML report shows a fixed set of case fields: the decision goes into the 案情摘要 it prints
        cases["summary"] = [
            (f"【审核结论：{d}{'；备注：' + n if n else ''}{'；审核人：' + r if r else ''}】" if d else "【未审核】")
            + s
            for d, n, r, s in zip(cases["审核结论"], cases["审核备注"], cases["审核人"], cases["summary"])
        ]
    rep.cases = cases
    rep.totals["cases"] = len(cases)
    rep.overview.loc[rep.overview["item"] == "典型案例数", "value"] = len(cases)
    counts = {k: len(v) for k, v in by_state.items()}
    extra = pd.DataFrame(
        [
            {"item": f"审核：{REVIEW_STATES[k]}", "value": counts[k]}
            for k in ("confirmed", "dismissed", "pending", "changed", "unreviewed")
        ]
        + [
            {
                "item": "说明：审核",
                "value": "误报的商品不计入各表；典型案例为全部确认违规的商品（尚无确认时按风险分选取）。",
            }
        ]
    )
    rep.overview = pd.concat([rep.overview, extra], ignore_index=True)
    xlsx, html = report_paths(outdir)
    write_workbook(rep, xlsx)
    write_html(rep, html)
    shutil.rmtree(work, ignore_errors=True)
    return xlsx, html
