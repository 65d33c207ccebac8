"""Investigator deliverables from a scan's outputs: statistics, shops, typical cases, rules, diff.

>>> from screener.report import build_report, write_workbook, write_html, diff_scans
>>> rep = build_report("out/", previous="out-round1/")   # every table as a pandas DataFrame
>>> rep.by_category, rep.shops, rep.cases, rep.rules, rep.diff.listings
>>> write_workbook(rep, "out/report.xlsx"); write_html(rep, "out/report.html")
>>> d = diff_scans("out-round1/", "out/"); write_diff(d, "out/diff")

The CLI (``screener report``, ``screener diff``, ``screener scan --report``)
is a thin layer over these functions.
"""

from .aggregate import aggregate_hits
from .api import make_diff, make_report, report_paths
from .diff import ScanDiff, diff_scans, write_diff
from .html import render_html, write_html
from .scandir import ScanDir, open_scan
from .tables import Report, build_report
from .workbook import write_workbook

__all__ = [
    "Report",
    "ScanDiff",
    "ScanDir",
    "aggregate_hits",
    "build_report",
    "diff_scans",
    "make_diff",
    "make_report",
    "open_scan",
    "render_html",
    "report_paths",
    "write_diff",
    "write_html",
    "write_workbook",
]
