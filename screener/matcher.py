"""Multi-pattern literal matchers over a batch surface.

Every backend gets the same input — a batch's text as UTF-8 bytes — and
returns, for every occurrence of every key (overlaps included), the byte
offset just past its end and the key's id. UTF-8 is self-synchronising, so a
key only matches on character boundaries. Backends must agree exactly; a
differential test holds them to it.

* ``pyahocorasick`` (default, always installed): fed the bytes as a latin-1
  ``str`` (one character per byte). On ``str`` with thousands of Chinese keys
  its root has thousands of children and it is ~6× slower; on bytes every
  node has ≤ 256.
* ``hyperscan``, ``daachorse``, ``ahocorasick_rs`` (``pip install .[fast]``):
  compiled automata, used automatically when importable (fastest first, in
  the order measured in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64))


class Matcher(Protocol):
    name: str

    def find(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(end byte offsets, exclusive; key ids) of all occurrences, overlaps included."""


class AhoCorasickMatcher:
    """pyahocorasick on UTF-8 bytes carried as latin-1 text."""

    name = "pyahocorasick"

    def __init__(self, keys: Sequence[bytes]):
        import ahocorasick

        self._automaton = ahocorasick.Automaton()
        for kid, key in enumerate(keys):
            self._automaton.add_word(key.decode("latin-1"), kid)
        self._empty = not len(keys)
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        if self._empty or not data:
            return _EMPTY
        ends: list[int] = []
        ids: list[int] = []
        add_end, add_id = ends.append, ids.append
        for end, kid in self._automaton.iter(data.decode("latin-1")):
            add_end(end)
            add_id(kid)
        return _ordered(np.asarray(ends, dtype=np.int64) + 1, ids)


HS_CACHE_KEEP = 32  # serialized databases kept; the oldest beyond that are removed


def _hyperscan_database(keys: list[bytes]):
    """The compiled database for ``keys``, from the on-disk cache when it holds one.

    Compiling the packs' ~65,000 keys (terms in pinyin too) takes ~1.5 s, paid by every
    scan, every worker process and every server start; a serialized database loads in
    milliseconds. Keyed by the keys' exact bytes and Hyperscan's version; an entry that
    does not load (another CPU, a torn file) is recompiled and replaced.
    """
    import hyperscan

    from .normalize import _cache_dir

    h = hashlib.sha256(f"hs-literal-v1|{getattr(hyperscan, '__version__', '?')}|{len(keys)}".encode())
    for k in keys:
        h.update(len(k).to_bytes(4, "little") + k)
    path = _cache_dir() / "hyperscan" / f"{h.hexdigest()[:32]}.hsdb"
    use_cache = not os.environ.get("SCREENER_NO_CACHE")
    if use_cache:
        try:
            return hyperscan.loadb(path.read_bytes(), mode=hyperscan.HS_MODE_BLOCK)
        except (OSError, hyperscan.error, ValueError, TypeError):
            pass
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=keys, ids=list(range(len(keys))), elements=len(keys), flags=0, literal=True)
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(hyperscan.dumpb(db))
            os.replace(tmp, path)
            old = sorted(path.parent.glob("*.hsdb"), key=lambda p: p.stat().st_mtime, reverse=True)
            for stale in old[HS_CACHE_KEEP:]:
                stale.unlink(missing_ok=True)
        except OSError:
            pass
    return db


class HyperscanMatcher:
    """Intel Hyperscan, literal mode (x86-64 wheels)."""

    name = "hyperscan"

    def __init__(self, keys: Sequence[bytes]):
        self._empty = not len(keys)
        self._keys = list(keys)
        if not self._empty:
            self._db = _hyperscan_database(self._keys)
        # Hyperscan's scratch space may serve one scan at a time: one per thread, so a
        # compiled rule set can be shared by the threads of a server.
        self._local = threading.local()

    def _scratch(self):
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            import hyperscan

            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        return scratch

    def find(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        if self._empty or not data:
            return _EMPTY
        shift = _id_bits(len(self._keys))
        if not _packable(len(data), shift):
            return self._find_pairs(data)
        # One Python call per match is the cost of this binding (a second pass finds
        # hundreds of thousands of everyday words): the callback packs (end, id) into
        # one int and appends it, the least work a callback can do.
        codes: list[int] = []
        add = codes.append

        def on_match(kid: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add(end << shift | kid)

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return _unpack(np.fromiter(codes, dtype=np.int64, count=len(codes)), shift)

    def _find_pairs(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        ends: list[int] = []
        ids: list[int] = []

        def on_match(kid: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            ends.append(end)
            ids.append(kid)

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return _ordered(ends, ids)

    def __getstate__(self) -> dict:  # databases are rebuilt, not pickled
        return {"keys": self._keys}

    def __setstate__(self, state: dict) -> None:
        HyperscanMatcher.__init__(self, state["keys"])


class DaachorseMatcher:
    """daachorse's byte-wise double-array Aho-Corasick."""

    name = "daachorse"

    def __init__(self, keys: Sequence[bytes]):
        import daachorse

        self._empty = not len(keys)
        if not self._empty:
            self._pma = daachorse.DoubleArrayAhoCorasick(list(keys))

    def find(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        if self._empty or not data:
            return _EMPTY
        found = self._pma.find_overlapping(data)
        if not found:
            return _EMPTY
        arr = _triples(found)
        return _ordered(arr[:, 1], arr[:, 2])


class AhoCorasickRsMatcher:
    """ahocorasick_rs (Rust aho-corasick) on bytes."""

    name = "ahocorasick_rs"

    def __init__(self, keys: Sequence[bytes]):
        import ahocorasick_rs

        self._empty = not len(keys)
        if not self._empty:
            self._ac = ahocorasick_rs.BytesAhoCorasick(list(keys))

    def find(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        if self._empty or not data:
            return _EMPTY
        found = self._ac.find_matches_as_indexes(data, overlapping=True)
        if not found:
            return _EMPTY
        arr = _triples(found)
        return _ordered(arr[:, 2], arr[:, 0])


def _triples(found: list) -> np.ndarray:
    """A list of 3-tuples as an (n, 3) array (faster than np.asarray on tuples)."""
    return np.fromiter(itertools.chain.from_iterable(found), dtype=np.int64, count=3 * len(found)).reshape(-1, 3)


def _ordered(ends, ids) -> tuple[np.ndarray, np.ndarray]:
    """Matches sorted by (end, id): backends report the same set in different orders."""
    e = np.asarray(ends, dtype=np.int64)
    i = np.asarray(ids, dtype=np.int64)
    if not len(e):
        return _EMPTY
    shift = _id_bits(int(i.max()) + 1)
    if not _packable(int(e.max()), shift):
        order = np.lexsort((i, e))
        return e[order], i[order]
    return _unpack(e << shift | i, shift)


def _id_bits(n_ids: int) -> int:
    return max(1, (n_ids - 1).bit_length())


def _packable(max_end: int, shift: int) -> bool:
    """(end, id) fits one int64 as end << shift | id."""
    return max_end.bit_length() + shift < 63


def _unpack(codes: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed (end, id) codes sorted, split. Backends report matches nearly in end
    order, where numpy's stable sort (timsort/radix) is ~30x faster than a lexsort."""
    codes.sort(kind="stable")
    return codes >> shift, codes & ((1 << shift) - 1)


BACKENDS: dict[str, Callable[[Sequence[bytes]], Matcher]] = {
    "pyahocorasick": AhoCorasickMatcher,
    "hyperscan": HyperscanMatcher,
    "daachorse": DaachorseMatcher,
    "ahocorasick_rs": AhoCorasickRsMatcher,
}
#: Preference of ``auto``, fastest first (measured: benchmarks/RESULTS.md).
AUTO_ORDER = ("hyperscan", "daachorse", "ahocorasick_rs", "pyahocorasick")
_IMPORTS = {
    "pyahocorasick": "ahocorasick",
    "hyperscan": "hyperscan",
    "daachorse": "daachorse",
    "ahocorasick_rs": "ahocorasick_rs",
}


def available_backends() -> list[str]:
    import importlib.util

    return [name for name in AUTO_ORDER if importlib.util.find_spec(_IMPORTS[name]) is not None]


def resolve_backend(name: str) -> str:
    """``auto`` → the fastest installed backend; otherwise check that ``name`` is usable."""
    available = available_backends()
    if name == "auto":
        return available[0]
    if name not in BACKENDS:
        raise ValueError(f"unknown matcher backend {name!r}; choose from auto, {', '.join(BACKENDS)}")
    if name not in available:
        raise ValueError(f"matcher backend {name!r} is not installed (pip install 'screener[fast]')")
    return name


def build_matcher(keys: Sequence[bytes], backend: str = "pyahocorasick") -> Matcher:
    return BACKENDS[resolve_backend(backend)](keys)
