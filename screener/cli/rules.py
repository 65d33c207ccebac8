"""``screener rules``: where the packs are, and validating, testing, linting and mass-checking them."""

from __future__ import annotations

import json
import sys

import click

from ..config import load_config
from .app import main
from .common import EXIT_FINDINGS, allow_empty_option, errors, examples, load_ruleset, map_option, rules_options


# -- rules -------------------------------------------------------------------------------
@main.group(
    epilog=examples(
        "screener rules path",
        "screener rules validate --rules rules/",
        "screener rules test --rules rules/wildlife.yaml --rule WL001 -v",
        "screener rules stats --corpus samples/devset/ --labels expected",
    )
)
def rules() -> None:
    """Where the rule packs in use are, and validating, testing, linting and mass-checking them."""


@rules.command("validate", epilog=examples("screener rules validate", "screener rules validate --rules my_rules/"))
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@rules_options
@allow_empty_option
def rules_validate(paths, rules, overrides, allow_empty) -> None:
    """Load the packs and report every error with file, line and rule id.

    PATHS: pack files or directories, the same as --rules.
    """
    with errors():
        rs = load_ruleset(paths + rules, overrides, announce=True, allow_empty=allow_empty)
    n_rules = len(rs.rules)
    click.echo(f"ok: {len(rs.packset.packs)} packs, {n_rules} rules, {len(rs.keys)} patterns · hash {rs.hash[:12]}")


@rules.command("path", epilog=examples("screener rules path", "cd my_office && screener rules path"))
def rules_path() -> None:
    """Show which rule packs the commands use here, and why (screener.toml, rules/ folder, bundled)."""
    from ..packs import bundled_rules_dir, rule_files

    with errors():
        cfg = load_config()
        source = cfg.rule_source(None)
    for p in source.paths:
        click.echo(str(p.resolve()))
    click.echo(f"  {source.describe()}")
    n = sum(1 for p in rule_files(source.paths) if p.name != "charmap.yaml")
    click.echo(f"  {n} pack files: edit them there, then run 'screener rules test'")
    for o in source.overrides:
        click.echo(f"  overrides: {o}")
    click.echo(f"  config: {cfg.path or 'none (a screener.toml sets packs, departments and categories)'}")
    bundled = bundled_rules_dir().resolve()
    if all(p.resolve() != bundled for p in source.paths):
        click.echo(f"  bundled packs (not used): {bundled}")
    unset = cfg.unset_placeholders()
    if unset:
        click.echo(
            f"  placeholder departments not named for this office: {', '.join(unset)} ([departments] in screener.toml)"
        )


@rules.command(
    "test", epilog=examples("screener rules test", "screener rules test --rules rules/wildlife.yaml --rule WL001 -v")
)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@rules_options
@click.option("--rule", "rule_ids", multiple=True, help="Only these rule ids (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="List passing examples too.")
def rules_test(paths, rules, overrides, rule_ids, verbose) -> None:
    """Run every rule's examples: each 'hit' must be flagged by its rule, each 'miss' must not.

    PATHS: pack files or directories, the same as --rules.
    """
    from ..ruletest import run_examples

    with errors():
        rs = load_ruleset(paths + rules, overrides)
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


@rules.command("lint", epilog=examples("screener rules lint", "screener rules lint --rules rules/ --show-silenced"))
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@rules_options
@click.option("--show-silenced", is_flag=True, help="Also list lints silenced by lint_ignore, with their reasons.")
def rules_lint(paths, rules, overrides, show_silenced) -> None:
    """Risky terms, duplicates, missing examples or articles, weak regex anchors.

    PATHS: pack files or directories, the same as --rules.
    """
    from ..lint import lint

    with errors():
        rs = load_ruleset(paths + rules, overrides)
    issues, silenced = lint(rs)
    for i in issues:
        click.echo(str(i))
    if show_silenced:
        for i, reason in silenced:
            click.echo(f"silenced {i} — {reason}")
    click.echo(f"{len(issues)} lint(s), {len(silenced)} silenced with a reason")
    if issues:
        sys.exit(EXIT_FINDINGS)


@rules.command(
    "stats",
    epilog=examples(
        "screener rules stats --corpus titles.csv",
        "screener rules stats --corpus samples/devset/ --labels expected --top 50",
        "screener rules stats --corpus dump.parquet --rules rules/wildlife.yaml --json",
    ),
)
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
@map_option("a corpus")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--top", default=20, show_default=True, help="Rows to show in the overlap and miss lists.")
def rules_stats(corpus, labels, paths, rules, overrides, maps, as_json, top) -> None:
    """Mass-check: hits and candidates per rule and category, overlaps, time per stage; precision/recall with --labels.

    PATHS: pack files or directories, the same as --rules.
    """
    from ..io.columns import parse_map_options
    from ..masscheck import load_corpus, mass_check

    with errors():
        rs = load_ruleset(tuple(paths) + tuple(rules), overrides)
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
        + " ("
        + ", ".join(f"{k} {v:.2f}s" for k, v in rep.stage_seconds.items())
        + ")"
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
    head = f"{'rule':<8}{'hits':>7}{'listings':>9}{'rate':>8}{'cands':>8}"
    if rep.labelled:
        head += f"{'tp':>6}{'fp':>5}{'prec':>8}"
    click.echo(head + "  name")
    for s in rep.rules:
        rate = _pct(s.listings / rep.rows if rep.rows else 0)
        line = f"{s.rule_id:<8}{s.hits:>7}{s.listings:>9}{rate:>8}{s.candidates:>8}"
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
