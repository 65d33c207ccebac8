"""Exceptions raised by the library.

Every error carries where it came from (a rule file and line, an input file and
row) so that the CLI can print one actionable line; only the CLI turns them into
messages and exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    """A place in a file: ``path:line``, with an optional rule id or column."""

    path: str
    line: int | None = None
    rule_id: str | None = None
    column: str | None = None

    def __str__(self) -> str:
        out = self.path
        if self.line is not None:
            out += f":{self.line}"
        if self.rule_id:
            out += f" (rule {self.rule_id})"
        if self.column:
            out += f" [field {self.column}]"
        return out


class ScreenerError(Exception):
    """Base class: a message plus an optional location."""

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class RuleError(ScreenerError):
    """A rule pack or override file is malformed or inconsistent."""


@dataclass
class RuleErrors(ScreenerError):
    """Several rule errors collected by a validating load."""

    errors: list[RuleError] = field(default_factory=list)

    def __post_init__(self) -> None:
        ScreenerError.__init__(self, f"{len(self.errors)} rule error(s)")

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class InputError(ScreenerError):
    """An input file cannot be scanned at all (unreadable, no required column)."""


class OutputError(ScreenerError):
    """Outputs cannot be written where asked."""
