"""The ``screener`` command: parse options, call the library, print the result.

No screening logic lives here: every command calls the documented Python API.
Library errors become one-line messages (with file, line and rule id) in
:func:`.common.errors`; only unexpected errors show a traceback.
"""

from __future__ import annotations

from . import explain, reports, rules, scan, serve  # noqa: F401 - each registers its commands
from .app import main
from .common import EXIT_FINDINGS, EXIT_USAGE

__all__ = ["EXIT_FINDINGS", "EXIT_USAGE", "main"]
