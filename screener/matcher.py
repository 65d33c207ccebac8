"""Multi-pattern literal matchers over a batch surface.

Every backend gets the same input — a batch's text as UTF-8 bytes, carried in
a latin-1 ``str`` (one character per byte) — and returns, for every occurrence
of every key (overlaps included), the byte offset just past its end and the
key's id. Feeding bytes keeps pyahocorasick's trie nodes at ≤ 256 children:
on ``str`` with thousands of Chinese keys its root has thousands of children
and it is ~6× slower. UTF-8 is self-synchronising, so a key only matches on
character boundaries.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class Matcher(Protocol):
    name: str

    def find(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(end byte offsets, exclusive; key ids) of all occurrences."""


class AhoCorasickMatcher:
    """The default backend: pyahocorasick on UTF-8 bytes."""

    name = "pyahocorasick"

    def __init__(self, keys: Sequence[str]):
        import ahocorasick

        self._automaton = ahocorasick.Automaton()
        for kid, key in enumerate(keys):
            self._automaton.add_word(key, kid)
        if len(keys):
            self._automaton.make_automaton()
        self._empty = not len(keys)

    def find(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if self._empty or not text:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ends: list[int] = []
        ids: list[int] = []
        add_end, add_id = ends.append, ids.append
        for end, kid in self._automaton.iter(text):
            add_end(end)
            add_id(kid)
        return np.asarray(ends, dtype=np.int64) + 1, np.asarray(ids, dtype=np.int64)

    def __getstate__(self) -> dict:
        return {"automaton": self._automaton, "empty": self._empty}

    def __setstate__(self, state: dict) -> None:
        self._automaton = state["automaton"]
        self._empty = state["empty"]


BACKENDS = {"pyahocorasick": AhoCorasickMatcher}


def available_backends() -> list[str]:
    return list(BACKENDS)


def build_matcher(keys: Sequence[str], backend: str = "pyahocorasick") -> Matcher:
    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown matcher backend {backend!r}; available: {', '.join(BACKENDS)}") from None
    return cls(keys)
