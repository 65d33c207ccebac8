"""The ``screener`` command: parse options, call the library, print the result.

No screening logic lives here. Library errors become one-line messages (with
file, line and rule id) in :func:`_errors`; only unexpected errors show a
traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Iterator

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


def rules_options(fn):
    fn = click.option("--overrides", "overrides", multiple=True, type=click.Path(exists=True, dir_okay=False),
                      help="Local overrides file (disable rules, add exclusions, change severity).")(fn)
    fn = click.option("--rules", "rules", multiple=True, type=click.Path(exists=True),
                      help="Rule pack file or directory (repeatable). Default: the bundled packs.")(fn)
    return fn


def _load(rules: tuple[str, ...], overrides: tuple[str, ...]):
    return api.load_rules(list(rules) or None, list(overrides))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="screener")
def main() -> None:
    """Screen marketplace listings for violations with YAML rule packs."""


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--outdir", default="screener-out", show_default=True, type=click.Path(file_okay=False),
              help="Directory for hits.parquet, flagged.parquet/.csv, rejects.csv, summary.json.")
@rules_options
@click.option("--map", "maps", multiple=True, metavar="SOURCE=canonical",
              help="Map an export column onto a canonical one, e.g. --map 商品标题=title.")
@click.option("--chunk-rows", default=20_000, show_default=True, type=click.IntRange(min=1),
              help="Rows per scan batch.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
def scan(inputs, outdir, rules, overrides, maps, chunk_rows, quiet) -> None:
    """Scan INPUT files, directories or globs (CSV/TSV, JSONL, Parquet, XLSX)."""
    from .io.columns import parse_map_options
    from .runner import scan_files

    with _errors():
        mapping = parse_map_options(maps)
        rs = _load(rules, overrides)
        with _progress(quiet) as on_progress:
            summary = scan_files(inputs, outdir, rs, mapping=mapping, chunk_rows=chunk_rows, on_progress=on_progress)
    if not quiet:
        _print_summary(summary, outdir)


@contextlib.contextmanager
def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("scanning"), BarColumn(), TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task("scan", total=None, rate="")

        def update(p) -> None:
            import time

            dt = max(time.perf_counter() - p.started, 1e-9)
            bar.update(task, total=p.bytes_total or None, completed=p.bytes_done,
                       rate=f"{p.rows:,} rows · {p.rows / dt:,.0f} rows/s · {p.bytes_done / 1e6 / dt:,.1f} MB/s")

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
    click.echo(f"{len(results) - len(failed) - len(todo)} passed, {len(failed)} failed, {len(todo)} todo "
               f"({len(results)} examples in {n_rules} rules)")
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
@click.option("--corpus", "corpus", multiple=True, required=True, type=click.Path(exists=True),
              help="Listings to mass-check (CSV/TSV, JSONL, Parquet, XLSX; file or directory).")
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
    click.echo(f"{rep.rows:,} listings ({rep.rows_rejected} rejected) in {rep.seconds:.2f}s "
               f"(matching {rep.match_seconds:.2f}s)")
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
                click.echo(f"  {m.item_id}: expected {','.join(m.expected) or '-'} got {','.join(m.got) or '-'} "
                           f"{' '.join(m.rules)} | {m.title[:60]}")


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
        click.echo(json.dumps({"hits": ex.hits, "suppressed": [s.__dict__ for s in ex.suppressed]}, ensure_ascii=False, indent=2))
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


if __name__ == "__main__":  # pragma: no cover
    main()
