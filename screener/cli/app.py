"""The ``screener`` command group; the commands are in the modules beside this one."""

from __future__ import annotations

import click

from .._version import __version__
from .common import examples


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=examples(
        "screener scan exports/ -o round1 --report    # scan, write the outputs and the campaign report",
        "screener explain '老挝回流 象-牙手镯'           # why a title is or is not flagged",
        "screener rules path                          # which rule packs are in use here",
    ),
)
@click.version_option(__version__, prog_name="screener")
def main() -> None:
    """Screen marketplace listings for violations with YAML rule packs."""
