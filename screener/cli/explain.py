"""``screener explain``: why a listing is or is not flagged; one title, one --row, or many from stdin."""

from __future__ import annotations

import json
import sys

import click

from .app import main
from .common import EXIT_USAGE, errors, examples, load_ruleset, rules_options


def _row_of(text: str, what: str):
    """A listing from one input: a JSON object of fields, or else a title."""
    if text.lstrip().startswith("{"):
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(row, dict):
            raise click.UsageError(f"{what} must be a JSON object of listing fields")
        return row
    return text


@main.command(
    epilog=examples(
        "screener explain '老挝回流 象-牙手镯'",
        'screener explain --row \'{"title": "降血压茶", "category": "食品>茶"}\'',
        "screener explain - < titles.txt                # one title, or one JSON listing, a line",
        "screener explain - --json < listings.jsonl      # JSON lines out, one per listing",
    )
)
@click.argument("text", required=False)
@click.option("--row", "row_json", help='A listing as JSON, e.g. \'{"title": "...", "category": "..."}\'.')
@rules_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON lines when reading stdin).")
def explain(text, row_json, rules, overrides, as_json) -> None:
    """Show every rule that fires on TEXT (a title) or --row, and every suppressed candidate.

    TEXT '-' reads listings from stdin, one a line: a title, or a JSON object of fields.
    """
    from ..explain import explain_row

    if (text is None) == (row_json is None):
        raise click.UsageError("give either TEXT (or - for stdin) or --row JSON")
    if text == "-":
        _explain_stdin(explain_row, rules, overrides, as_json)
        return
    row = _row_of(row_json, "--row") if row_json is not None else text
    if row_json is not None and not isinstance(row, dict):
        raise click.UsageError("--row must be a JSON object of listing fields")
    with errors():
        rs = load_ruleset(rules, overrides)
        try:
            ex = explain_row(row, rs)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    click.echo(json.dumps(ex.as_dict(), ensure_ascii=False, indent=2) if as_json else str(ex))


def _explain_stdin(explain_row, rules, overrides, as_json: bool) -> None:
    """Every line of stdin explained; a line that cannot be read is reported and the rest go on (exit 2)."""
    with errors():
        rs = load_ruleset(rules, overrides)
    failed = 0
    for lineno, line in enumerate(sys.stdin, start=1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            row = _row_of(text, f"line {lineno}")
            ex = explain_row(row, rs)
        except (click.UsageError, ValueError) as exc:
            click.echo(f"error: line {lineno}: {getattr(exc, 'message', exc)}", err=True)
            failed += 1
            continue
        if as_json:
            click.echo(json.dumps({"line": lineno, "input": row, **ex.as_dict()}, ensure_ascii=False))
        else:
            title = row.get("title", "") if isinstance(row, dict) else row
            click.echo(f"== line {lineno}: {title}")
            click.echo(str(ex))
    if failed:
        sys.exit(EXIT_USAGE)
