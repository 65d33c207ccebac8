"""Why candidates did not make it, for ``explain``: codes, their text, and a tracer.

Stages report what they drop to a tracer. The default one does nothing, so a
scan pays nothing for the explanations it does not ask for; ``explain`` passes
a :class:`Recorder`, which turns the dropped arrays into :class:`Suppressed`
entries. Tests assert codes, never prose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: code -> what it means. ``unless`` is a note, not a suppression: a blocker
#: was voided by an overriding signal and the hit may still fire.
SUPPRESSION_CODES = {
    "boundary": "runs into neighbouring Latin letters/digits",
    "gap": "characters too far apart",
    "punctuation": "context word read across sentence punctuation",
    "exclude": "inside an exclusion phrase",
    "only_via": "written plainly; the rule counts it only via an evasion",
    "word": "not a whole word (jieba segmentation splits it differently)",
    "scope": "listing category outside the rule's categories",
    "where": "structural check not met",
    "with": "'with' condition not met",
    "without": "'without' condition present",
    "contained": "inside a longer hit of the same rule",
    "unless": "a blocker was voided by an overriding signal",
}
NOTE_CODES = frozenset({"unless"})


@dataclass
class Suppressed:
    """A candidate hit that did not make it, and why (for ``explain``)."""

    rule_id: str
    field: str
    term: str
    matched: str
    start: int
    end: int
    reason: str
    code: str = ""

    @property
    def is_note(self) -> bool:
        return self.code in NOTE_CODES


class Tracer:
    """Receives what each stage drops; this base class ignores it (the scan's default)."""

    enabled = False

    def drop(self, code: str, rules: np.ndarray, segs, starts, ends, terms, detail: Callable[[int], str] | None = None):
        """Candidates of ``rules`` (arrays) dropped for ``code``; ``detail(k)`` says more about the k-th."""


class Recorder(Tracer):
    """Keeps every drop as a :class:`Suppressed` (for ``explain``: one listing, few candidates)."""

    enabled = True

    def __init__(self, rule_id: Callable[[int], str], field_of: Callable[[int], str], text_of: Callable[[int], str]):
        self._rule_id, self._field_of, self._text_of = rule_id, field_of, text_of
        self.suppressed: list[Suppressed] = []

    def drop(self, code, rules, segs, starts, ends, terms, detail=None):
        for k in range(len(rules)):
            seg, a, z = int(segs[k]), int(starts[k]), int(ends[k])
            reason = SUPPRESSION_CODES[code] + (f": {detail(k)}" if detail else "")
            if seg < 0:  # a rule without a span (checks only)
                entry = Suppressed(self._rule_id(int(rules[k])), "", terms[k], "", -1, -1, reason, code)
            else:
                text = self._text_of(seg)
                entry = Suppressed(
                    self._rule_id(int(rules[k])), self._field_of(seg), terms[k], text[a:z], a, z, reason, code
                )
            self.suppressed.append(entry)
