"""The values that flow between the stages: occurrences as arrays.

A stage takes arrays and returns arrays; Python objects are made only for the
hits that survive every stage (:mod:`screener.scan.hits`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

_I = np.int64


@dataclass
class KeyMatches:
    """Every occurrence of an automaton key, in field coordinates (one entry each)."""

    kid: np.ndarray
    seg: np.ndarray  # field index × rows + row: one text of the batch
    start: np.ndarray
    end: np.ndarray
    gap: np.ndarray  # widest run of separators inside the span (compact surface)
    hard: np.ndarray  # bool: a gap holds sentence punctuation
    ascii_ok: np.ndarray  # bool: Latin/digit ends do not run into more Latin/digits
    alnum_ok: np.ndarray  # bool: Latin/digit ends touch no Latin letter or digit

    @classmethod
    def empty(cls) -> KeyMatches:
        z, b = np.zeros(0, _I), np.zeros(0, bool)
        return cls(z, z, z, z, z, b, b, b)

    def __len__(self) -> int:
        return len(self.kid)

    @classmethod
    def concat(cls, parts: list[KeyMatches]) -> KeyMatches:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


@dataclass
class Spans:
    """Candidate occurrences of slots (a term in a role of a rule), one entry each.

    ``order`` is the discovery order: ties between equal candidates are broken
    by it, so results never depend on the matcher backend.
    """

    slot: np.ndarray
    seg: np.ndarray
    start: np.ndarray
    end: np.ndarray
    gap: np.ndarray
    variant: np.ndarray  # compile.LITERAL / ALIAS / PINYIN / REGEX
    hard: np.ndarray
    ascii_ok: np.ndarray
    alnum_ok: np.ndarray
    order: np.ndarray

    @classmethod
    def empty(cls) -> Spans:
        z, b = np.zeros(0, _I), np.zeros(0, bool)
        return cls(z, z, z, z, z, np.zeros(0, np.int8), b, b, b, z)

    def __len__(self) -> int:
        return len(self.slot)

    def take(self, index: np.ndarray) -> Spans:
        """A subset (a boolean mask or positions)."""
        return Spans(*(getattr(self, f.name)[index] for f in fields(self)))

    @classmethod
    def concat(cls, parts: list[Spans]) -> Spans:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


def csr_expand(ptr: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each owner, every position of its CSR list: (owner index repeated, flat position)."""
    starts = ptr[owners]
    counts = ptr[owners + 1] - starts
    owner_idx = np.repeat(np.arange(len(owners), dtype=_I), counts)
    if not len(owner_idx):
        return owner_idx, owner_idx
    offsets = np.arange(len(owner_idx), dtype=_I) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner_idx, np.repeat(starts, counts) + offsets


def join_on(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j) with left[i] == right[j] (an equi-join of two key arrays)."""
    if not len(left) or not len(right):
        z = np.zeros(0, _I)
        return z, z
    order = np.argsort(right, kind="stable")
    keys = right[order]
    lo = np.searchsorted(keys, left, side="left")
    hi = np.searchsorted(keys, left, side="right")
    counts = hi - lo
    li = np.repeat(np.arange(len(left), dtype=_I), counts)
    offsets = np.arange(len(li), dtype=_I) - np.repeat(np.cumsum(counts) - counts, counts)
    return li, order[np.repeat(lo, counts) + offsets]


def any_by(group: np.ndarray, flags: np.ndarray, size: int) -> np.ndarray:
    """Per group id in [0, size): does any of its entries have the flag."""
    out = np.zeros(size, dtype=bool)
    out[group[flags]] = True
    return out
