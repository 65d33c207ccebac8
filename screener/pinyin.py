"""Pinyin forms of terms, and homophone classes of characters.

Sellers write a banned word in pinyin (xiangya, xiang牙) or with a character
that sounds the same (橡牙 for 象牙, 特贡 for 特供). Terms ask for their pinyin
variants (``pinyin:``) and for homophone matching (``homophones: true``); both
come from pypinyin's readings, so no hand-kept table goes stale.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from .model import PinyinMode
from .normalize import _cache_dir, has_cjk

MAX_MIXED_PINYIN_CHARS = 4  # 2^n − 2 mixed variants; longer terms get full pinyin only
#: A pack default (``defaults: pinyin``) adds full pinyin only from this many letters:
#: shorter ones (diao, lao, mao) are everyday Latin text.
MIN_DEFAULT_FULL_PINYIN = 6
#: The CJK block whose characters get homophone classes.
CJK_FIRST, CJK_LAST = 0x4E00, 0x9FFF


def pinyin_variants(text: str, modes: Iterable[str]) -> list[str]:
    """Full, mixed (some characters as pinyin) and initials variants of a term."""
    from pypinyin import lazy_pinyin

    items = lazy_pinyin(text)
    parts: list[tuple[str, str | None]] = []  # (chars, pinyin or None)
    k = 0
    i = 0
    while i < len(text):
        if has_cjk(text[i]):
            parts.append((text[i], items[k].lower() if k < len(items) else None))
            k += 1
            i += 1
        else:
            j = i
            while j < len(text) and not has_cjk(text[j]):
                j += 1
            parts.append((text[i:j], None))
            k += 1
            i = j
    cjk_idx = [n for n, (_, py) in enumerate(parts) if py]
    out: list[str] = []
    modes = set(modes)
    if "full" in modes:
        out.append("".join(py or ch for ch, py in parts))
    if "mixed" in modes and 2 <= len(cjk_idx) <= MAX_MIXED_PINYIN_CHARS:
        for r in range(1, len(cjk_idx)):
            for chosen in itertools.combinations(cjk_idx, r):
                out.append("".join(py if n in chosen and py else ch for n, (ch, py) in enumerate(parts)))
    if "initials" in modes and len(cjk_idx) >= 2:
        out.append("".join(py[0] if py else ch for ch, py in parts))
    return out


def full_pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text)).lower()


def default_modes(text: str, modes: tuple[PinyinMode, ...]) -> tuple[PinyinMode, ...]:
    """The pinyin modes a pack default gives a term: none for fewer than two Chinese
    characters, and no full pinyin when it would be shorter than MIN_DEFAULT_FULL_PINYIN."""
    if sum(1 for ch in text if has_cjk(ch)) < 2:
        return ()
    if "full" in modes and len(full_pinyin(text)) < MIN_DEFAULT_FULL_PINYIN:
        return tuple(m for m in modes if m != "full")
    return modes


@lru_cache(maxsize=1)
def homophone_classes() -> np.ndarray:
    """uint32 per code point: for a CJK character, one representative of the characters
    read the same (toneless pinyin, the most common reading); else the code point itself.

    Built once (~1 s) and kept on disk beside the normalization tables.
    """
    import pypinyin

    path = _cache_dir() / f"homophones-{getattr(pypinyin, '__version__', '?')}-v1.npy"
    try:
        return np.load(path)
    except (OSError, ValueError):
        pass
    table = _build_homophones()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, table)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home just means building it again next time
    return table


def _no_reading(_char: str) -> list[str]:
    return [""]


def _build_homophones() -> np.ndarray:
    from pypinyin import Style, pinyin

    table = np.arange(0x110000, dtype=np.uint32)
    first: dict[str, int] = {}
    chars = [chr(cp) for cp in range(CJK_FIRST, CJK_LAST + 1)]
    # pypinyin's stub types the callback as returning str, but a str "" drops the character
    # (misaligning the zip below) where a list keeps an empty reading in its place.
    readings = pinyin(chars, style=Style.NORMAL, heteronym=False, errors=_no_reading)  # type: ignore[arg-type]
    for cp, reading in zip(range(CJK_FIRST, CJK_LAST + 1), readings):
        syllable = reading[0] if reading else ""
        if syllable and syllable.isascii() and syllable.isalpha():
            table[cp] = first.setdefault(syllable, cp)
    return table
