"""jieba word boundaries, computed only around candidate hits that need them.

jieba is ~1000× slower than the automaton, so it never sees a whole batch:
only a window of canonical text around a hit whose term asks for
``boundary: word`` (第一 ≠ 第一次, 最 ≠ 最近). Words far from the hit do not
change how the characters next to it are segmented.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from .normalize import _from_codepoints

WINDOW = 24
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _tokenizer():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _lock:
        tk = jieba.Tokenizer()
        tk.initialize()
    return tk


@lru_cache(maxsize=65536)
def _bounds(text: str) -> tuple[frozenset[int], frozenset[int]]:
    starts, ends = set(), set()
    for _word, a, z in _tokenizer().tokenize(text):
        starts.add(a)
        ends.add(z)
    return frozenset(starts), frozenset(ends)


def tokens(text: str) -> list[tuple[str, int, int]]:
    """jieba tokens of a text with offsets (for explain output)."""
    return list(_tokenizer().tokenize(text))


def word_bounds(nb, seg: int, start: int, end: int) -> tuple[set[int], set[int]]:
    """Token start and end offsets (in field coordinates) around [start, end)."""
    base = int(nb.seg_starts[seg])
    length = int(nb.seg_starts[seg + 1]) - 1 - base
    a = max(0, start - WINDOW)
    z = min(length, end + WINDOW)
    text = _from_codepoints(nb.canon[base + a : base + z])
    s, e = _bounds(text)
    return {x + a for x in s}, {x + a for x in e}
