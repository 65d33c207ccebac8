"""What every command shares: error reporting, the rule options, loading the packs, usage examples."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click

from ..config import load_config
from ..errors import InputError, OutputError, RuleError, RuleErrors, ScreenerError

EXIT_FINDINGS = 1  # rules test failures
EXIT_USAGE = 2  # broken rules, unreadable input


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """Library errors as one-line messages (file, line, rule id) and exit code 2; others keep their traceback."""
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


def examples(*lines: str) -> str:
    """A command's help epilog: usage examples, printed as written (``\\b`` stops click rewrapping them)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def rules_options(fn):
    """``--rules`` and ``--overrides``: spelled the same in every command that loads packs."""
    fn = click.option(
        "--overrides",
        "overrides",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Local overrides file (disable rules, add exclusions, change severity); repeatable.",
    )(fn)
    fn = click.option(
        "--rules",
        "rules",
        multiple=True,
        type=click.Path(exists=True),
        help="Rule pack file or directory (repeatable). Default: the packs in use here (see 'screener rules path').",
    )(fn)
    return fn


def map_option(what: str):
    """``--map SOURCE=canonical`` (repeatable), for commands that read exports."""
    return click.option(
        "--map",
        "maps",
        multiple=True,
        metavar="SOURCE=canonical",
        help=f"Map {what} column onto a canonical one, e.g. --map 商品标题=title (repeatable).",
    )


def previous_option(help: str):
    """``--previous OLD_OUTDIR``: an earlier scan to compare with."""
    return click.option(
        "--previous", type=click.Path(exists=True, file_okay=False), default=None, metavar="OLD_OUTDIR", help=help
    )


def allow_empty_option(fn):
    return click.option(
        "--allow-empty-rules",
        "allow_empty",
        is_flag=True,
        help="Accept a rules path with no pack (normally an error: nothing would be screened).",
    )(fn)


def load_ruleset(
    rules: tuple[str, ...],
    overrides: tuple[str, ...],
    backend: str = "auto",
    *,
    announce: bool = False,
    allow_empty: bool = False,
):
    """The rule set for ``--rules`` (or the packs in use here); ``announce`` prints which packs, on stderr."""
    cfg = load_config()
    source = cfg.rule_source(list(rules) or None)
    if announce:
        click.echo(f"rules: {source.describe()}", err=True)
    from .. import api  # when a command runs, not when the CLI starts

    return api.load_rule_source(source, list(overrides), backend, config=cfg, allow_empty=allow_empty)


def _parse_date(_ctx, _param, value):
    if value is None:
        return None
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


#: --as-of DATE: the date listings are judged at (the citation in force, obsolete codes); default today.
as_of_option = click.option(
    "--as-of",
    "as_of",
    callback=_parse_date,
    metavar="YYYY-MM-DD",
    help="Judge listings as of this date (default: today): the legal basis in force then is cited, "
    "a rule with none in force says so, codes are judged by it (a capture from an earlier campaign).",
)
