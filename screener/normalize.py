"""Text normalization, in bulk, with offsets back to the original text.

Every character is first mapped one-to-one to a *canonical* character
(NFKC full-width → half-width, lower case, ①/❶ → 1, traditional → simplified
via OpenCC, plus the pack-declared character map such as 🐘 → 象). Because the
map is one-to-one, an offset in canonical text *is* an offset in the original
field. A second *compact* surface drops separators (spaces, punctuation,
symbols, emoji, zero-width and control characters) so that 象*牙, 穿 山 甲 and
象🐘牙 read as 象牙; an index array maps each compact character back.

Both maps are numpy lookup tables over all of Unicode, applied to a whole
batch at once: per-row calls into OpenCC or ``unicodedata`` cost more than the
match itself (see the matcher measurements in the README).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._version import __version__

if TYPE_CHECKING:
    import pyarrow as pa
from .model import CharMapping

N_CODEPOINTS = 0x110000
#: Separates the texts of a batch on both surfaces. A noncharacter: no term can
#: contain it and occurrences inside input text are mapped to a space first.
SENTINEL = "\uffff"
SENTINEL_CP = 0xFFFF

R_NFKC, R_CASE, R_DIGITS, R_T2S, R_CHARMAP, R_ACCENT = 1, 2, 4, 8, 16, 32
REASON_NAMES = (
    (R_NFKC, "nfkc"),
    (R_CASE, "case"),
    (R_DIGITS, "digits"),
    (R_T2S, "t2s"),
    (R_CHARMAP, "charmap"),
    (R_ACCENT, "accents"),
)

# Separator classes of the compact surface: whitespace, punctuation, symbols
# (emoji included), controls, format characters (zero-width), marks
# (variation selectors, combining accents), unassigned and surrogates.
_SEPARATOR_CATEGORIES = {
    "Zs",
    "Zl",
    "Zp",
    "Pc",
    "Pd",
    "Ps",
    "Pe",
    "Pi",
    "Pf",
    "Po",
    "Sm",
    "Sc",
    "Sk",
    "So",
    "Cc",
    "Cf",
    "Cs",
    "Co",
    "Cn",
    "Mn",
    "Me",
    "Mc",
}

# Circled/negative-circled digits that NFKC leaves alone.
_EXTRA_DIGITS = {}
for _base in (0x2776, 0x2780, 0x278A):  # ❶.. ➀.. ➊..
    for _i in range(9):
        _EXTRA_DIGITS[_base + _i] = ord("1") + _i
for _i in range(9):  # ⓵..⓽
    _EXTRA_DIGITS[0x24F5 + _i] = ord("1") + _i
_EXTRA_DIGITS[0x24FF] = ord("0")  # ⓿

# Blocks where OpenCC's traditional → simplified table has entries.
_CJK_RANGES = ((0x2E80, 0x2FE0), (0x3400, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2FA20))

_UNASSIGNED_CATEGORY = "Cn"


# Sentence punctuation: sellers split a word with spaces, * · - or emoji, not with
# a comma or a full stop, so context words do not reach across these.
# Where a sentence ends (for ``within: sentence``), after width folding (！ → !).
SENTENCE_END = "。！？!?；;\n\r"
HARD_PUNCTUATION = "，。；！？、：,.;!?:（）()【】[]《》<>“”\"‘’'…\n\r\t|/"


@dataclass(frozen=True)
class Tables:
    """canonical code point, reason bits and separator flag per code point."""

    canon: np.ndarray  # uint32[N]
    reason: np.ndarray  # uint8[N]
    sep: np.ndarray  # bool[N], indexed by the ORIGINAL code point


def _cache_dir() -> Path:
    root = os.environ.get("SCREENER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "screener"
    )
    return Path(root)


def _tables_key() -> str:
    import opencc

    parts = [__version__, unicodedata.unidata_version, getattr(opencc, "__version__", "?"), "tables-v4"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _build_tables() -> Tables:
    import opencc

    canon = np.arange(N_CODEPOINTS, dtype=np.uint32)
    reason = np.zeros(N_CODEPOINTS, dtype=np.uint8)
    sep = np.zeros(N_CODEPOINTS, dtype=bool)
    for cp in range(N_CODEPOINTS):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat == _UNASSIGNED_CATEGORY and not (0x3400 <= cp < 0x2FA20):
            sep[cp] = True
            continue
        if 0xD800 <= cp <= 0xDFFF:
            sep[cp] = True
            continue
        out, bits = ch, 0
        nf = unicodedata.normalize("NFKC", ch)
        if len(nf) == 1 and nf != ch:
            out, bits = nf, bits | R_NFKC
        low = out.lower()
        if len(low) == 1 and low != out:
            out, bits = low, bits | R_CASE
        if not out.isascii():
            # tone-marked pinyin and accented Latin: xiàng → xiang
            nfd = unicodedata.normalize("NFD", out)
            if (
                len(nfd) > 1
                and nfd[0].isascii()
                and nfd[0].isalpha()
                and all(unicodedata.combining(c) for c in nfd[1:])
            ):
                # ü (ǖǘǚǜ) is written v in toneless pinyin, as pypinyin writes it (绿 → lv)
                base = "v" if nfd[0] == "u" and "\u0308" in nfd else nfd[0]
                out, bits = base, bits | R_ACCENT
        if cp in _EXTRA_DIGITS:
            out, bits = chr(_EXTRA_DIGITS[cp]), bits | R_DIGITS
        elif bits & R_NFKC and out.isdigit() and not ch.isascii() and unicodedata.category(ch) == "No":
            bits = (bits & ~R_NFKC) | R_DIGITS  # ① → 1 reads better as "digits"
        canon[cp] = ord(out)
        reason[cp] = bits
        sep[cp] = unicodedata.category(out) in _SEPARATOR_CATEGORIES
    # traditional → simplified, one character at a time so offsets never move
    converter = opencc.OpenCC("t2s")
    cps = [cp for lo, hi in _CJK_RANGES for cp in range(lo, hi)]
    src = [chr(cp) for cp in cps]
    dst = converter.convert("\n".join(src)).split("\n")
    if len(dst) == len(src):
        # applied to every code point's canonical character, so that what NFKC
        # turns into a traditional character (🈚 → 無) is simplified too (→ 无)
        t2s = np.arange(N_CODEPOINTS, dtype=np.uint32)
        for a, b in zip(src, dst):
            if len(b) == 1 and a != b:
                t2s[ord(a)] = ord(b)
        simplified = t2s[canon]
        changed = simplified != canon
        canon = simplified
        reason[changed] |= R_T2S
    # input occurrences of the sentinel must not look like one
    canon[SENTINEL_CP] = ord(" ")
    sep[SENTINEL_CP] = True
    return Tables(canon, reason, sep)


@lru_cache(maxsize=1)
def base_tables() -> Tables:
    """The Unicode-wide tables, built once (~1 s) and cached on disk."""
    path = _cache_dir() / f"normtables-{_tables_key()}.npz"
    try:
        with np.load(path) as data:
            return Tables(data["canon"], data["reason"], data["sep"])
    except (OSError, KeyError, ValueError):
        pass
    tables = _build_tables()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, canon=tables.canon, reason=tables.reason, sep=tables.sep)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home just means rebuilding next time
    return tables


def _to_codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _from_codepoints(cps: np.ndarray) -> str:
    return cps.astype(np.uint32, copy=False).tobytes().decode("utf-32-le", "surrogatepass")


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def reason_names(bits: int) -> list[str]:
    return [name for bit, name in REASON_NAMES if bits & bit]


class Normalizer:
    """Immutable normalizer: the base tables plus the packs' character map."""

    def __init__(self, charmap: Sequence[CharMapping] = ()):
        base = base_tables()
        self.charmap = tuple(charmap)
        if self.charmap:
            canon, reason, sep = base.canon.copy(), base.reason.copy(), base.sep.copy()
            for m in self.charmap:
                src = ord(m.source)
                target = int(canon[ord(m.target)])  # the target is itself normalized
                canon[src] = target
                reason[src] = R_CHARMAP
                sep[src] = bool(base.sep[ord(m.target)])
            self.tables = Tables(canon, reason, sep)
        else:
            self.tables = base

    def __reduce__(self):
        # the Unicode tables come from the disk cache; only the char map travels
        return (Normalizer, (self.charmap,))

    @property
    def hard(self) -> np.ndarray:
        """bool per code point: sentence punctuation (after width folding)."""
        if not hasattr(self, "_hard"):
            hard = np.zeros(N_CODEPOINTS, dtype=bool)
            hard[[ord(c) for c in HARD_PUNCTUATION]] = True
            self._hard = hard[self.tables.canon]
        return self._hard

    @property
    def sentence_end(self) -> np.ndarray:
        """bool per canonical code point: ends a sentence."""
        if not hasattr(self, "_sentence_end"):
            end = np.zeros(N_CODEPOINTS, dtype=bool)
            end[[ord(c) for c in SENTENCE_END]] = True
            self._sentence_end = end
        return self._sentence_end

    # -- single strings (terms, examples, explain) ---------------------------------
    def canonical(self, text: str) -> str:
        if not text:
            return ""
        return _from_codepoints(self.tables.canon[_to_codepoints(text)])

    def compact(self, text: str) -> str:
        if not text:
            return ""
        cps = _to_codepoints(text)
        return _from_codepoints(self.tables.canon[cps][~self.tables.sep[cps]])

    def has_separator(self, text: str) -> bool:
        return bool(text) and bool(self.tables.sep[_to_codepoints(text)].any())

    def is_separator(self, ch: str) -> bool:
        return bool(self.tables.sep[ord(ch)])

    def reason_bits(self, text: str) -> int:
        if not text:
            return 0
        return int(np.bitwise_or.reduce(self.tables.reason[_to_codepoints(text)]))

    # -- batches -------------------------------------------------------------------
    def batch(self, texts: Sequence[str]) -> NormalizedBatch:
        return NormalizedBatch(self, texts)

    def batch_arrow(self, arrays) -> NormalizedBatch:
        return NormalizedBatch.from_arrow(self, arrays)


class Surface:
    """One text surface of a batch, as the matcher reads it (UTF-8 bytes).

    ``to_big`` maps a surface character index to its index in the batch's
    concatenated canonical text (identity for the canonical surface).
    """

    __slots__ = ("_cont", "to_big", "utf8")

    def __init__(self, cps: np.ndarray, to_big: np.ndarray | None):
        self.utf8 = _from_codepoints(cps).encode("utf-8", "surrogatepass")
        self.to_big = to_big
        self._cont: np.ndarray | None = None

    def char_index(self, byte_offsets: np.ndarray) -> np.ndarray:
        """Character index for byte offsets that fall on character starts.

        An offset's character index is the offset minus the UTF-8 continuation
        bytes before it; they are counted only up to the offsets asked for
        (matches are few), never as a running total over the whole batch.
        """
        if not len(byte_offsets):
            return np.zeros(0, dtype=np.int64)
        u8 = np.frombuffer(self.utf8, dtype=np.uint8)
        if self._cont is not None or len(byte_offsets) * 1000 > len(u8):
            # many offsets (a running count costs ~1 ns a byte, the loop ~1 µs an offset):
            # one running count of continuation bytes, kept for the next call on this surface
            if self._cont is None:
                cont = np.zeros(len(u8) + 1, dtype=np.int32)
                np.cumsum((u8 >> 6) == 2, out=cont[1:])
                self._cont = cont
            return byte_offsets - self._cont[byte_offsets]
        order = np.argsort(byte_offsets, kind="stable")
        sorted_offsets = byte_offsets[order]
        counts = np.empty(len(sorted_offsets), dtype=np.int64)
        total, prev = 0, 0
        for k, b in enumerate(sorted_offsets.tolist()):
            if b > prev:
                total += int(np.count_nonzero((u8[prev:b] >> 6) == 2))
                prev = b
            counts[k] = total
        out = np.empty_like(counts)
        out[order] = sorted_offsets - counts
        return out


class NormalizedBatch:
    """A batch of texts normalized together, each followed by :data:`SENTINEL`.

    Build it from Python strings (``Normalizer.batch``) or, without converting
    any text to Python objects, from Arrow string arrays (:meth:`from_arrow`).
    """

    def __init__(
        self,
        normalizer: Normalizer,
        texts: Sequence[str] | None = None,
        *,
        raw: np.ndarray | None = None,
        seg_starts: np.ndarray | None = None,
    ):
        self.normalizer = normalizer
        if raw is None:
            texts = texts or []
            lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
            seg_starts = np.zeros(len(texts) + 1, dtype=np.int64)
            np.cumsum(lengths + 1, out=seg_starts[1:])
            raw = _to_codepoints(SENTINEL.join(texts) + SENTINEL) if texts else np.zeros(0, np.uint32)
        elif seg_starts is None:
            raise TypeError("NormalizedBatch: raw code points need their seg_starts")
        self.seg_starts: np.ndarray = seg_starts  # text i occupies [seg_starts[i], seg_starts[i+1] - 1)
        tables = normalizer.tables
        canon = tables.canon[raw]
        keep = ~tables.sep[raw]
        sentinel_pos = seg_starts[1:] - 1
        canon[sentinel_pos] = SENTINEL_CP
        keep[sentinel_pos] = True
        self.raw = raw
        self.canon = canon
        self._keep = keep
        self._compact: Surface | None = None
        self._canonical: Surface | None = None
        self._homophone: Surface | None = None
        self._canon_str: str | None = None
        self._raw_str: str | None = None

    @classmethod
    def from_arrow(cls, normalizer: Normalizer, arrays: Sequence[pa.Array]) -> NormalizedBatch:
        """Texts of Arrow string arrays (nulls read as empty), in order, as one batch.

        Arrow appends the sentinel to every value and hands over one buffer, so
        no text becomes a Python object.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        if not arrays or not sum(len(a) for a in arrays):
            return cls(normalizer, [])
        nbytes = sum(a.nbytes for a in arrays) + 3 * sum(len(a) for a in arrays)
        kind = pa.string() if nbytes < (1 << 31) - 1 else pa.large_string()  # 32-bit offsets when they fit
        combined = pa.concat_arrays([a if a.type == kind else a.cast(kind) for a in arrays])
        joined = pc.binary_join_element_wise(
            pc.fill_null(combined, pa.scalar("", kind)), pa.scalar(SENTINEL, kind), pa.scalar("", kind)
        )
        lengths = pc.fill_null(pc.utf8_length(joined), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        seg_starts = np.zeros(len(joined) + 1, dtype=np.int64)
        np.cumsum(lengths, out=seg_starts[1:])
        width = np.int32 if kind == pa.string() else np.int64
        offsets = np.frombuffer(joined.buffers()[1], dtype=width)[joined.offset : joined.offset + len(joined) + 1]
        data = joined.buffers()[2].to_pybytes()[int(offsets[0]) : int(offsets[-1])]
        raw = _to_codepoints(data.decode("utf-8"))
        return cls(normalizer, raw=raw, seg_starts=seg_starts)

    @property
    def compact(self) -> Surface:
        if self._compact is None:
            idx = np.flatnonzero(self._keep)
            self._compact = Surface(self.canon[idx], idx)
        return self._compact

    @property
    def homophone(self) -> Surface:
        """The compact surface with every Chinese character replaced by its homophone class
        (橡 and 象 read the same), for terms that ask for homophones."""
        if self._homophone is None:
            from .pinyin import homophone_classes

            idx = self.compact.to_big
            assert idx is not None  # the compact surface always maps back
            self._homophone = Surface(homophone_classes()[self.canon[idx]], idx)
        return self._homophone

    @property
    def canonical(self) -> Surface:
        if self._canonical is None:
            self._canonical = Surface(self.canon, None)
        return self._canonical

    def segment_of(self, big_index: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.seg_starts, big_index, side="right") - 1

    def canonical_text(self, seg: int) -> str:
        # one decode per batch, then plain string slices (a decode per text costs more than the slice)
        if self._canon_str is None:
            self._canon_str = _from_codepoints(self.canon)
        return self._canon_str[self.seg_starts[seg] : self.seg_starts[seg + 1] - 1]

    def original_text(self, seg: int) -> str:
        if self._raw_str is None:
            self._raw_str = _from_codepoints(self.raw)
        return self._raw_str[self.seg_starts[seg] : self.seg_starts[seg + 1] - 1]

    def reason_bits(self, seg: int, start: int, end: int) -> int:
        base = int(self.seg_starts[seg])
        span = self.raw[base + start : base + end]
        if not len(span):
            return 0
        return int(np.bitwise_or.reduce(self.normalizer.tables.reason[span]))
