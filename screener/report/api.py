"""The report API: what ``screener report`` and ``screener diff`` do, callable from Python.

The click commands only parse options and call these.
"""

from __future__ import annotations

from pathlib import Path

from ..io.writers import DIFF_DIR, REPORT_STEM
from .diff import diff_scans, write_diff
from .html import write_html
from .tables import DEFAULT_CASES_PER_CATEGORY, Report, build_report
from .workbook import DEFAULT_MAX_ROWS, write_workbook

FORMATS = ("xlsx", "html")


def report_paths(outdir: str | Path, output: str | Path | None = None) -> tuple[Path, Path]:
    """Where the workbook and the page go.

    ``output`` is a path stem: ``-o round2`` writes round2.xlsx and round2.html; a
    .xlsx/.html suffix is dropped; an existing directory gets report.xlsx/.html.
    Default: report.xlsx and report.html inside the scan's output directory.
    """
    if output is None:
        stem = Path(outdir) / REPORT_STEM
    else:
        out = Path(output)
        if out.is_dir():
            stem = out / REPORT_STEM
        elif out.suffix.lower() in (".xlsx", ".html", ".htm"):
            stem = out.with_suffix("")
        else:
            stem = out
    return stem.with_name(stem.name + ".xlsx"), stem.with_name(stem.name + ".html")


def make_report(
    outdir: str | Path,
    output: str | Path | None = None,
    *,
    previous: str | Path | None = None,
    cases_per_category: int = DEFAULT_CASES_PER_CATEGORY,
    formats: tuple[str, ...] = FORMATS,
    max_rows: int = DEFAULT_MAX_ROWS,
    timezone: str | None = None,
) -> tuple[Report, list[Path]]:
    """Build the report of the scan in ``outdir`` and write it; returns the report and the files written.

    ``timezone``: where times are shown (default: screener.toml's ``[report] timezone``, else Asia/Shanghai).
    """
    rep = build_report(outdir, previous, cases_per_category=cases_per_category, timezone=timezone)
    xlsx, html = report_paths(outdir, output)
    written = []
    if "xlsx" in formats:
        written.append(write_workbook(rep, xlsx, max_rows=max_rows))
    if "html" in formats:
        written.append(write_html(rep, html))
    return rep, written


def make_diff(previous: str | Path, current: str | Path, output: str | Path | None = None):
    """Diff two scans and write the diff files (default: ``CURRENT/diff/``); returns the diff and the files."""
    d = diff_scans(previous, current)
    out = Path(output) if output is not None else Path(current) / DIFF_DIR
    return d, write_diff(d, out)
