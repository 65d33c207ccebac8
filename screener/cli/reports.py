"""``screener report`` and ``screener diff``: the campaign report and the re-check of a later scan."""

from __future__ import annotations

from pathlib import Path

import click

from .app import main
from .common import errors, examples, previous_option


def diff_counts(s: dict) -> str:
    """``3 new, 2 still flagged, 1 fixed (已整改), 2 taken down (已下架)``, as far as the diff can tell."""
    parts = [f"{s['new']:,} new", f"{s['still']:,} still flagged"]
    parts += [
        f"{s[k]:,} {what}" for k, what in (("fixed", "fixed (已整改)"), ("removed", "taken down (已下架)")) if s[k]
    ]
    if s["gone"]:
        parts.append(f"{s['gone']:,} gone or fixed")
    return ", ".join(parts)


# -- report and diff -----------------------------------------------------------------------
def write_report(
    outdir, output, previous, *, cases: int = 5, formats=("xlsx", "html"), max_rows: int = 100_000, quiet: bool = False
) -> None:
    from ..report import make_report

    with errors():
        rep, files = make_report(
            outdir, output, previous=previous, cases_per_category=cases, formats=formats, max_rows=max_rows
        )
    if not quiet:
        t = rep.totals
        click.echo(
            f"report: {t['flagged']:,} flagged listings, {t['hits']:,} hits, {t['shops']:,} shops, "
            f"{t['cases']} typical cases"
            + (f"; vs previous: {diff_counts(rep.diff.summary)}" if rep.diff is not None else "")
        )
        for f in files:
            click.echo(f"  {f}")


@main.command(
    epilog=examples(
        "screener report screener-out",
        "screener report round2 --previous round1 -o reports/2026-06",
        "screener report round2 --format html --cases 10",
    )
)
@click.argument("outdir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="REPORT",
    help="Report path without extension: writes REPORT.xlsx and REPORT.html (default OUTDIR/report).",
)
@previous_option("An earlier scan's outputs: adds the 复查 sheets (new / still flagged / fixed / taken down).")
@click.option("--cases", default=5, show_default=True, type=click.IntRange(min=0), help="Typical cases per category.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["xlsx", "html"]),
    help="Only these formats (repeatable; default both).",
)
@click.option(
    "--max-sheet-rows",
    "max_rows",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows per workbook sheet; longer ranked lists (shops, diff listings) are cut, with a note.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing.")
def report(outdir, output, previous, cases, formats, max_rows, quiet) -> None:
    """Investigator report of the scan in OUTDIR: statistics (统计表), shops, typical cases, rules.

    An Excel workbook (one sheet per table) and a self-contained HTML page with
    charts, built from OUTDIR's hits.parquet, flagged.parquet and summary.json.
    """
    write_report(
        outdir,
        output,
        previous,
        cases=cases,
        formats=tuple(formats) or ("xlsx", "html"),
        max_rows=max_rows,
        quiet=quiet,
    )


@main.command(epilog=examples("screener diff round1 round2", "screener diff round1 round2 -o diff-06"))
@click.argument("old_outdir", type=click.Path(exists=True, file_okay=False))
@click.argument("new_outdir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-o",
    "--outdir",
    "output",
    default=None,
    type=click.Path(file_okay=False),
    help="Directory for the diff files (default NEW_OUTDIR/diff).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing.")
def diff(old_outdir, new_outdir, output, quiet) -> None:
    """Compare two scans: listings newly flagged, still flagged, fixed (整改) or taken down (下架).

    Listings are matched on (platform, item_id), or item_id alone when a scan
    has no platform column. Writes diff.parquet/.csv (one row per listing),
    diff_by_category.* and diff_by_shop.* and diff_summary.json.
    """
    from ..report import make_diff

    with errors():
        d, files = make_diff(old_outdir, new_outdir, output)
    if not quiet:
        s = d.summary
        click.echo(f"{diff_counts(s)} (previous {s['previous']:,}, current {s['current']:,}; key {'+'.join(s['key'])})")
        if not s["presence_known"]:
            click.echo("note: the newer scan does not say which listings it read: 整改 and 下架 are counted together")
        if s["rules_changed"]:
            click.echo("note: the two scans used different rule packs; some changes may come from the rules")
        click.echo(f"  files in {Path(files[0]).parent}/")
