"""The ``screener`` command: parse options, call the library, print the result.

No screening logic lives here. Library errors become one-line messages (with
file, line and rule id) in :func:`_errors`; only unexpected errors show a
traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from . import api
from ._version import __version__
from .errors import InputError, OutputError, RuleError, RuleErrors, ScreenerError

EXIT_FINDINGS = 1  # rules test failures
EXIT_USAGE = 2  # broken rules, unreadable input


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except RuleErrors as exc:
        for e in exc.errors:
            click.echo(f"error: {e}", err=True)
        click.echo(f"{len(exc.errors)} rule error(s)", err=True)
        sys.exit(EXIT_USAGE)
    except (RuleError, InputError, OutputError, ScreenerError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except ValueError as exc:  # e.g. a matcher backend that is not installed
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def rules_options(fn):
    fn = click.option(
        "--overrides",
        "overrides",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Local overrides file (disable rules, add exclusions, change severity).",
    )(fn)
    fn = click.option(
        "--rules",
        "rules",
        multiple=True,
        type=click.Path(exists=True),
        help="Rule pack file or directory (repeatable). Default: the bundled packs.",
    )(fn)
    return fn


def _load(rules: tuple[str, ...], overrides: tuple[str, ...]):
    return api.load_rules(list(rules) or None, list(overrides))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="screener")
def main() -> None:
    """Screen marketplace listings for violations with YAML rule packs."""


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--outdir",
    default="screener-out",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory for hits.parquet, flagged.parquet/.csv, rejects.csv, summary.json.",
)
@rules_options
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="SOURCE=canonical",
    help="Map an export column onto a canonical one, e.g. --map 商品标题=title.",
)
@click.option(
    "--chunk-rows", default=20_000, show_default=True, type=click.IntRange(min=1), help="Rows per scan batch."
)
@click.option(
    "-w",
    "--workers",
    default=0,
    type=click.IntRange(min=0),
    help="Worker processes (default 0 = all cores; 1 = scan in this process).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "pyahocorasick", "hyperscan", "daachorse", "ahocorasick_rs", "spark"]),
    default="auto",
    show_default=True,
    help="auto: scan here with the fastest installed matcher; a matcher name forces it; "
    "spark: run on Apache Spark (Parquet, CSV or JSONL input; pip install 'screener[spark]').",
)
@click.option("--master", default=None, metavar="URL", help="Spark master for --engine spark, e.g. local[4], yarn.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option(
    "--report",
    "make_report",
    is_flag=True,
    help="Also write the investigator report (OUTDIR/report.xlsx and report.html); see 'screener report'.",
)
@click.option(
    "--previous",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    metavar="OLD_OUTDIR",
    help="With --report: compare with an earlier scan's outputs (new / still flagged / gone).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue a killed or interrupted scan into OUTDIR from its last completed chunk "
    "(same inputs, rules and options; refused if any changed).",
)
def scan(
    inputs, outdir, rules, overrides, maps, chunk_rows, workers, engine, master, quiet, make_report, previous, resume
) -> None:
    """Scan INPUT files, directories or globs (CSV/TSV, JSONL, Parquet, XLSX)."""
    from .io.columns import parse_map_options
    from .runner import scan_files

    with _errors():
        mapping = parse_map_options(maps)
        if engine == "spark":
            if resume:
                raise click.UsageError("--resume works with the local engine, not --engine spark")
            from .spark import scan_files_spark

            summary = scan_files_spark(
                inputs,
                outdir,
                list(rules) or None,
                list(overrides),
                mapping=mapping,
                master=master,
                chunk_rows=chunk_rows,
            )
            if not quiet:
                _print_summary(summary, outdir)
            if make_report:
                _write_report(outdir, None, previous, quiet=quiet)
            return
        rs = api.load_rules(list(rules) or None, list(overrides), backend=engine)
        from .runner import default_workers

        with _progress(quiet) as on_progress:
            summary = scan_files(
                inputs,
                outdir,
                rs,
                mapping=mapping,
                chunk_rows=chunk_rows,
                workers=workers or default_workers(),
                on_progress=on_progress,
                resume=resume,
            )
    if not quiet:
        _print_summary(summary, outdir)
    if make_report:
        _write_report(outdir, None, previous, quiet=quiet)


@contextlib.contextmanager
def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("scanning"), BarColumn(), TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=True
    ) as bar:
        task = bar.add_task("scan", total=None, rate="")

        def update(p) -> None:
            import time

            dt = max(time.perf_counter() - p.started, 1e-9)
            bar.update(
                task,
                total=p.bytes_total or None,
                completed=p.bytes_done,
                rate=f"{p.rows:,} rows · {p.rows / dt:,.0f} rows/s · {p.bytes_done / 1e6 / dt:,.1f} MB/s",
            )

        yield update


def _print_summary(s: dict, outdir: str) -> None:
    click.echo(
        f"read {s['rows_read']:,} rows: scanned {s['rows_scanned']:,}, rejected {s['rows_rejected']:,}; "
        f"flagged {s['rows_flagged']:,} listings with {s['hits']:,} hits in {s['seconds']:.1f}s "
        f"({s['throughput']['rows_per_second'] or 0:,.0f} rows/s)"
    )
    for cat, n in sorted(s["flagged_per_category"].items(), key=lambda kv: -kv[1]):
        click.echo(f"  {cat:<22} {n:>8,} flagged")
    click.echo(f"rules {s['rules']['hash'][:12]} · engine {s['engine']['version']} · outputs in {outdir}/")
    if s["rows_rejected"]:
        click.echo(f"{s['rows_rejected']:,} rows could not be read: see {outdir}/rejects.csv")


# -- rules -------------------------------------------------------------------------------
@main.group()
def rules() -> None:
    """Validate and test rule packs."""


@rules.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--overrides", multiple=True, type=click.Path(exists=True, dir_okay=False))
def rules_validate(paths, overrides) -> None:
    """Load PATHS (default: bundled packs) and report every error with file, line and rule id."""
    with _errors():
        rs = api.load_rules(list(paths) or None, list(overrides))
    n_rules = len(rs.rules)
    click.echo(f"ok: {len(rs.packset.packs)} packs, {n_rules} rules, {len(rs.keys)} patterns · hash {rs.hash[:12]}")


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--overrides", multiple=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--rule", "rule_ids", multiple=True, help="Only these rule ids.")
@click.option("-v", "--verbose", is_flag=True, help="List passing examples too.")
def rules_test(paths, overrides, rule_ids, verbose) -> None:
    """Run every rule's examples: each 'hit' must be flagged by its rule, each 'miss' must not."""
    from .ruletest import run_examples

    with _errors():
        rs = api.load_rules(list(paths) or None, list(overrides))
    results = run_examples(rs, set(rule_ids) or None)
    failed = [r for r in results if r.failed]
    todo = [r for r in results if r.todo]
    for r in results:
        if r.failed:
            click.echo(f"FAIL {r.describe()}")
        elif r.todo:
            state = "now passes — remove 'todo'" if r.passed else f"known gap ({r.example.todo})"
            click.echo(f"TODO {r.name}: {state}")
        elif verbose:
            click.echo(f"ok   {r.name} {r.detail}")
    n_rules = len({r.rule.id for r in results})
    click.echo(
        f"{len(results) - len(failed) - len(todo)} passed, {len(failed)} failed, {len(todo)} todo "
        f"({len(results)} examples in {n_rules} rules)"
    )
    if failed:
        sys.exit(EXIT_FINDINGS)


@rules.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--overrides", multiple=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--show-silenced", is_flag=True, help="Also list lints silenced by lint_ignore, with their reasons.")
def rules_lint(paths, overrides, show_silenced) -> None:
    """Risky terms, duplicates, missing examples or articles, weak regex anchors."""
    from .lint import lint

    with _errors():
        rs = api.load_rules(list(paths) or None, list(overrides))
    issues, silenced = lint(rs)
    for i in issues:
        click.echo(str(i))
    if show_silenced:
        for i, reason in silenced:
            click.echo(f"silenced {i} — {reason}")
    click.echo(f"{len(issues)} lint(s), {len(silenced)} silenced with a reason")
    if issues:
        sys.exit(EXIT_FINDINGS)


@rules.command("stats")
@click.option(
    "--corpus",
    "corpus",
    multiple=True,
    required=True,
    type=click.Path(exists=True),
    help="Listings to mass-check (CSV/TSV, JSONL, Parquet, XLSX; file or directory).",
)
@click.option("--labels", "labels", help="Column with the expected category codes (;-separated, empty = clean).")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@rules_options
@click.option("--map", "maps", multiple=True, metavar="SOURCE=canonical")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--top", default=20, show_default=True, help="Rows to show in the overlap and miss lists.")
def rules_stats(corpus, labels, paths, rules, overrides, maps, as_json, top) -> None:
    """Mass-check: hits per rule and category, overlaps, time per rule; precision/recall with --labels."""
    from .io.columns import parse_map_options
    from .stats import load_corpus, mass_check

    with _errors():
        rs = _load(tuple(paths) + tuple(rules), overrides)
        report = mass_check(rs, load_corpus(corpus), labels, parse_map_options(maps))
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    _print_stats(report, top)


def _pct(x) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def _print_stats(rep, top: int) -> None:
    click.echo(
        f"{rep.rows:,} listings ({rep.rows_rejected} rejected) in {rep.seconds:.2f}s "
        f"(matching {rep.match_seconds:.2f}s)"
    )
    head = f"{'category':<22}{'flagged':>9}{'rate':>8}"
    if rep.labelled:
        head += f"{'pos':>6}{'tp':>6}{'fp':>5}{'fn':>5}{'prec':>8}{'recall':>8}"
    click.echo(head)
    for c in rep.categories:
        line = f"{c.category:<22}{c.flagged:>9}{_pct(c.flagged / rep.rows if rep.rows else 0):>8}"
        if rep.labelled:
            line += f"{c.positives:>6}{c.tp:>6}{c.fp:>5}{c.fn:>5}{_pct(c.precision):>8}{_pct(c.recall):>8}"
        click.echo(line)
    click.echo("")
    head = f"{'rule':<8}{'hits':>7}{'listings':>9}{'rate':>8}{'ms':>8}"
    if rep.labelled:
        head += f"{'tp':>6}{'fp':>5}{'prec':>8}"
    click.echo(head + "  name")
    for s in rep.rules:
        line = f"{s.rule_id:<8}{s.hits:>7}{s.listings:>9}{_pct(s.listings / rep.rows if rep.rows else 0):>8}{1000 * s.seconds:>8.1f}"
        if rep.labelled:
            line += f"{s.tp:>6}{s.fp:>5}{_pct(s.precision):>8}"
        click.echo(line + f"  {s.name}")
    if rep.overlaps:
        click.echo("\noverlaps (rules firing on the same listings):")
        for a, b, n, j in rep.overlaps[:top]:
            click.echo(f"  {a} & {b}: {n} listings (jaccard {j:.2f})")
    for title, items in (("missed (false negatives)", rep.false_negatives), ("false hits", rep.false_positives)):
        if items:
            click.echo(f"\n{title}: {len(items)}")
            for m in items[:top]:
                click.echo(
                    f"  {m.item_id}: expected {','.join(m.expected) or '-'} got {','.join(m.got) or '-'} "
                    f"{' '.join(m.rules)} | {m.title[:60]}"
                )


# -- explain -----------------------------------------------------------------------------
@main.command()
@click.argument("text", required=False)
@click.option("--row", "row_json", help='A listing as JSON, e.g. \'{"title": "...", "category": "..."}\'.')
@rules_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def explain(text, row_json, rules, overrides, as_json) -> None:
    """Show every rule that fires on TEXT (a title) or --row, and every suppressed candidate."""
    from .explain import explain_row

    if (text is None) == (row_json is None):
        raise click.UsageError("give either TEXT or --row JSON")
    if row_json is not None:
        try:
            row = json.loads(row_json)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"--row is not valid JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(row, dict):
            raise click.UsageError("--row must be a JSON object of listing fields")
    else:
        row = text
    with _errors():
        rs = _load(rules, overrides)
        try:
            ex = explain_row(row, rs)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(
            json.dumps(
                {"hits": ex.hits, "suppressed": [s.__dict__ for s in ex.suppressed]}, ensure_ascii=False, indent=2
            )
        )
        return
    if not ex.hits:
        click.echo("not flagged")
    for h in ex.hits:
        span = f"[{h['start']}:{h['end']}]" if h["start"] is not None else ""
        how = h["normalizations"] or "literal"
        click.echo(f"HIT  {h['rule_id']} {h['rule_name']} ({h['category']}, {h['severity']}, score {h['score']})")
        click.echo(f"     {h['field']}{span} 「{h['matched']}」 term {h['term']!r} via {how}")
        click.echo(f"     {h['snippet']}")
    for s in ex.suppressed:
        span = f"[{s.start}:{s.end}]" if s.start >= 0 else ""
        click.echo(f"SKIP {s.rule_id} {s.field}{span} 「{s.matched}」 term {s.term!r}: {s.reason}")


# -- report and diff -----------------------------------------------------------------------
def _write_report(
    outdir, output, previous, *, cases: int = 5, formats=("xlsx", "html"), max_rows: int = 100_000, quiet: bool = False
) -> None:
    from .report import make_report

    with _errors():
        rep, files = make_report(
            outdir, output, previous=previous, cases_per_category=cases, formats=formats, max_rows=max_rows
        )
    if not quiet:
        t = rep.totals
        click.echo(
            f"report: {t['flagged']:,} flagged listings, {t['hits']:,} hits, {t['shops']:,} shops, "
            f"{t['cases']} typical cases"
            + (
                f"; vs previous: {rep.diff.summary['new']:,} new, "
                f"{rep.diff.summary['still']:,} still flagged, {rep.diff.summary['gone']:,} gone or fixed"
                if rep.diff is not None
                else ""
            )
        )
        for f in files:
            click.echo(f"  {f}")


@main.command()
@click.argument("outdir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="REPORT",
    help="Report path without extension: writes REPORT.xlsx and REPORT.html (default OUTDIR/report).",
)
@click.option(
    "--previous",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    metavar="OLD_OUTDIR",
    help="An earlier scan's outputs: adds the 复查 sheets (new / still flagged / gone or fixed).",
)
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
    _write_report(
        outdir,
        output,
        previous,
        cases=cases,
        formats=tuple(formats) or ("xlsx", "html"),
        max_rows=max_rows,
        quiet=quiet,
    )


@main.command()
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
    """Compare two scans: listings newly flagged, still flagged (not taken down), gone or fixed.

    Listings are matched on (platform, item_id), or item_id alone when a scan
    has no platform column. Writes diff.parquet/.csv (one row per listing),
    diff_by_category.* and diff_by_shop.* and diff_summary.json.
    """
    from .report import make_diff

    with _errors():
        d, files = make_diff(old_outdir, new_outdir, output)
    if not quiet:
        s = d.summary
        click.echo(
            f"{s['new']:,} new, {s['still']:,} still flagged, {s['gone']:,} gone or fixed "
            f"(previous {s['previous']:,}, current {s['current']:,}; key {'+'.join(s['key'])})"
        )
        if s["rules_changed"]:
            click.echo("note: the two scans used different rule packs; some changes may come from the rules")
        click.echo(f"  files in {Path(files[0]).parent}/")


if __name__ == "__main__":  # pragma: no cover
    main()
