"""Where the parser is (file, rule), the errors it collected, and helpers for list-or-scalar nodes."""

from __future__ import annotations

from typing import Any

from ..errors import Location, RuleError
from ..model import (
    Concept,
    PinyinMode,
)
from ..normalize import Normalizer
from ..yamlsrc import YList


def as_tuple(node: Any) -> tuple:
    """A scalar or a list, as a tuple (the schema allows both for lists of texts)."""
    if node is None:
        return ()
    return tuple(node) if isinstance(node, list) else (node,)


def lines_of(node: Any, line: int | None) -> list[int | None]:
    """The line of each item of a list node (or ``line`` for a single scalar)."""
    if isinstance(node, YList):
        return [node.line_of(i) for i in range(len(node))]
    return [line] * len(as_tuple(node))


class Context:
    """Where we are (file, rule) and the errors collected so far."""

    def __init__(self, path: str, normalizer: Normalizer, concepts: dict[str, Concept] | None = None):
        self.path = path
        self.norm = normalizer
        self.concepts: dict[str, Concept] = dict(concepts or {})
        self.errors: list[RuleError] = []
        self.rule_id: str | None = None
        # the pack's defaults for terms that do not set their own (pinyin, homophones)
        self.pinyin_default: tuple[PinyinMode, ...] = ()
        self.homophones_default = False

    def err(self, msg: str, line: int | None) -> None:
        self.errors.append(RuleError(msg, Location(self.path, line, self.rule_id)))

    def loc(self, line: int | None) -> Location:
        return Location(self.path, line, self.rule_id)
