"""Quantities read from listing text: a number with its unit, in a base unit.

``read_quantities(text, "length", near=["刃长"])`` finds 刃长约15-20cm and gives
150 mm and 200 mm, each with its span in the original text. Three dimensions:

* ``length`` in mm: 毫米/mm, 厘米/cm/公分, 米/m, 英寸/inch/″/", and 寸. In product
  listings 寸 is the inch (screens, wheels, photos, "8寸厨师刀" with a 20 cm
  blade); the 市寸 (33.3 mm) is the larger reading, so taking 25.4 mm never
  overstates a blade — a threshold is only crossed when it is crossed on the
  smaller reading. ``市寸`` written out is read as 33.3 mm.
* ``percent`` in %: 20%, 百分之二十, 三成 (= 30 %), and 折 as a discount: 八折 =
  pays 80 %, 八五折 / 85折 / 8.5折 = 85 %.
* ``money`` in 元: ¥/￥/RMB before, 元/块钱/万元 after; 块, 万 and w only right
  after a label (``3块电池``, ``50w电机`` are not prices). After a label a bare
  number is money too: 原价999 现价99.

Numbers are Arabic (full-width folded, 1,299.5) or simple Chinese numerals
(十五, 二十, 一百五十, 两, 一点五). Ranges and dimension chains (15-20cm, 15到20厘米,
30x5cm) give every end, with the unit written after the last. Traps kept out: a
number glued to Latin letters or digits (型号X150, 2021款 has no unit), ratios and
fractions (1:1, 1/6), phone-length digit runs, 三折叠/三折款, 米色.

A label (``near``) binds to the first quantity after it, at most ``within``
characters later and not across a clause break (，。；！？ or a new line), so
"刀刃锋利，总长30cm" does not read the total length as the blade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .codes import normalized

DIMENSIONS = ("length", "percent", "money")
BASE_UNIT = {"length": "mm", "percent": "%", "money": "元"}
DEFAULT_WITHIN = 8

_CN_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9)))
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


@dataclass(frozen=True, slots=True)
class Unit:
    dimension: str
    factor: float  # base units per unit
    needs_label: bool = False  # ambiguous alone (3块电池, 50w电机)


# Written forms after normalization (lower case, half-width, simplified). Longest
# first in the pattern; Latin units must not run into more Latin letters or digits.
SUFFIX_UNITS: dict[str, Unit] = {
    "毫米": Unit("length", 1),
    "mm": Unit("length", 1),
    "厘米": Unit("length", 10),
    "公分": Unit("length", 10),
    "cm": Unit("length", 10),
    "米": Unit("length", 1000),
    "m": Unit("length", 1000),
    "英寸": Unit("length", 25.4),
    "inches": Unit("length", 25.4),
    "inch": Unit("length", 25.4),
    "″": Unit("length", 25.4),
    '"': Unit("length", 25.4),
    "市寸": Unit("length", 100 / 3),
    "寸": Unit("length", 25.4),
    "%": Unit("percent", 1),
    "成": Unit("percent", 10),
    "折": Unit("percent", 10),
    "万元": Unit("money", 10000),
    "元": Unit("money", 1),
    "块钱": Unit("money", 1),
    "rmb": Unit("money", 1),
    "块": Unit("money", 1, needs_label=True),
    "万": Unit("money", 10000, needs_label=True),
    "w": Unit("money", 10000, needs_label=True),
}
PREFIX_UNITS: dict[str, Unit] = {"¥": Unit("money", 1), "rmb": Unit("money", 1), "百分之": Unit("percent", 1)}

# What a unit character must not be followed by to be that unit: 米色, 三折叠, 一成不变.
_NOT_AFTER = {"米": "色白黄粒饭粉酒糕", "折": "叠纸扣页线射痕款", "成": "人品本功交分年长为员套型不", "元": "素气旦宵"}
# A bare number after a label is not money when a counter or date word follows it.
_BARE_STOP = "年月日号个件款期次天岁克斤人位台只套张包盒瓶码g"
_CLAUSE_BREAK = "，。；！？,;!?\n"
_MAX_INT_DIGITS = 9  # longer runs are phone numbers, ids and barcodes

_NUM_AR = r"\d+(?:,\d{3})*(?:\.\d+)?"
# a Chinese numeral has a digit, or starts with 十 (十五); 点 only between digits
_CN_D = "".join(_CN_DIGITS)
_NUM_CN = rf"(?:[{_CN_D}]|十)(?:[{_CN_D}十百千万]|点(?=[{_CN_D}]))*"
_NUM_ANY = rf"(?:{_NUM_AR}|{_NUM_CN}|(?<=百分之)百)"
_NUM = re.compile(rf"(?<![a-z0-9.,])(?<!\d[:/]){_NUM_ANY}")  # where an expression may start
_NUM_NEXT = re.compile(_NUM_ANY)  # the next number of a range or chain (30x5: after the x)


def _unit_pattern(units: list[str]) -> str:
    alts = []
    for u in sorted(units, key=len, reverse=True):
        alt = re.escape(u)
        if u.isascii() and u.isalpha():
            alt += "(?![a-z0-9])"  # 5ml, 5min, 1200m3f are not metres
        if u in _NOT_AFTER:
            alt += f"(?![{_NOT_AFTER[u]}])"
        alts.append(alt)
    return "|".join(alts)


_SUFFIX = re.compile(rf" ?({_unit_pattern(list(SUFFIX_UNITS))})")
_PREFIX = re.compile(rf"({_unit_pattern(list(PREFIX_UNITS))}) ?$")
# a range (15-20, 15到20) or a dimension chain (30x5): the next number belongs to this expression
_LINK = re.compile(r" ?(?:-|~|—|到|至|x|×|\*) ?(?:¥|rmb|百分之)? ?")
_RATIO_AFTER = re.compile(r"[:/]\d")


def parse_number(s: str) -> float | None:
    """The value of an Arabic or simple Chinese numeral (一百五十 → 150, 两 → 2), or None."""
    s = s.replace(",", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    if s == "百":  # 百分之百
        return 100.0
    whole, _, frac = s.partition("点")
    if frac:
        if not all(c in _CN_DIGITS for c in frac):
            return None
        base = parse_number(whole)
        return None if base is None else base + float("0." + "".join(str(_CN_DIGITS[c]) for c in frac))
    if "万" in whole:
        high, _, low = whole.rpartition("万")
        h = _cn_section(high) if high else 1
        lo = _cn_section(low) if low else 0
        if len(low) == 1 and lo:  # 一万五 = 15,000
            lo *= 1000
        return None if h is None or lo is None else float(h * 10000 + lo)
    value = _cn_section(whole)
    return None if value is None else float(value)


def _cn_section(s: str) -> int | None:
    """A Chinese numeral below 10,000: 一百零五 → 105; 八五 (digits only) → 85."""
    if not s:
        return None
    if all(c in _CN_DIGITS for c in s):  # 八五折, 二〇二一: digit by digit
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total, digit = 0, None
    for c in s:
        if c in _CN_DIGITS:
            if digit is not None and _CN_DIGITS[c] != 0:
                return None  # 三四百: an estimate, not a number
            digit = _CN_DIGITS[c] or None
        elif c in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[c]
            digit = None
        else:
            return None
    if digit and len(s) > 2 and s[-2] in "百千":  # 一百五 = 150, 三千五 = 3,500
        return total + digit * _CN_UNITS[s[-2]] // 10
    return total + (digit or 0)


@dataclass(frozen=True, slots=True)
class Quantity:
    """One number read with its unit; spans index the original text."""

    value: float  # in the base unit of ``dimension``
    dimension: str
    unit: str  # as written (normalized); "" for a bare number after a label
    start: int  # the number
    end: int
    expr_start: int  # the whole expression: prefix, range or chain, unit
    expr_end: int
    label: str | None = None
    label_start: int | None = None

    def evidence(self, text: str) -> str:
        """The text read, from the label (when there is one) to the end of the expression."""
        return text[self.label_start if self.label_start is not None else self.expr_start : self.expr_end]


@dataclass(frozen=True, slots=True)
class _Item:
    raw: str
    start: int
    end: int
    unit: str | None


@dataclass(frozen=True, slots=True)
class _Expr:
    items: tuple[_Item, ...]
    prefix: str | None
    start: int
    end: int


def _expressions(norm: str) -> list[_Expr]:
    out: list[_Expr] = []
    pos = 0
    while m := _NUM.search(norm, pos):
        start = m.start()
        pm = _PREFIX.search(norm, max(0, start - 4), start)
        prefix = pm.group(1) if pm else None
        items: list[_Item] = []
        end = m.end()
        cur = m
        while True:
            um = _SUFFIX.match(norm, cur.end())
            unit = um.group(1) if um else None
            items.append(_Item(cur.group(), cur.start(), cur.end(), unit))
            end = um.end() if um else cur.end()
            lm = _LINK.match(norm, end)
            nxt = _NUM_NEXT.match(norm, lm.end()) if lm else None
            if nxt is None:
                break
            cur = nxt
        pos = end
        if _RATIO_AFTER.match(norm, items[0].end) or any(_too_long(i.raw) for i in items):
            continue
        out.append(_Expr(tuple(items), prefix, pm.start() if pm else start, end))
    return out


def _too_long(raw: str) -> bool:
    return len(re.sub(r"\D", "", raw.split(".")[0])) > _MAX_INT_DIGITS


def _value(raw: str, unit: Unit, written: str) -> float | None:
    n = parse_number(raw)
    if n is None:
        return None
    if written == "折":  # 八折 pays 80 %; 八五折 / 85折 pay 85 %
        return n * 10 if n <= 10 else (n if n < 100 else None)
    if written == "成":
        return n * 10 if n <= 10 else None
    return n * unit.factor


@lru_cache(maxsize=1024)
def _normalized_label(label: str) -> str:
    return normalized(label)


def _labels(norm: str, near: tuple[str, ...]) -> list[tuple[int, int, str]]:
    found = []
    for label in near:
        key = _normalized_label(label)
        i = norm.find(key)
        while i >= 0:
            found.append((i, i + len(key), label))
            i = norm.find(key, i + 1)
    return sorted(found)


def _bound(norm: str, exprs: list[_Expr], label_end: int, within: int) -> _Expr | None:
    for e in exprs:
        if e.start < label_end:
            continue
        gap = norm[label_end : e.start]
        if len(gap) > within or any(c in _CLAUSE_BREAK for c in gap):
            return None
        return e
    return None


def read_quantities(
    text: str | None, dimension: str, near: tuple[str, ...] | list[str] = (), within: int = DEFAULT_WITHIN
) -> list[Quantity]:
    """Quantities of ``dimension`` in ``text``; with ``near``, only those right after one of the labels."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r} (one of {', '.join(DIMENSIONS)})")
    if not text:
        return []
    norm = normalized(text)
    if not near:
        return [q for e in _expressions(norm) for q in _quantities(norm, e, dimension, labelled=False)]
    labels = _labels(norm, tuple(near))
    if not labels:
        return []
    exprs = _expressions(norm)
    out: list[Quantity] = []
    seen: set[tuple[int, int]] = set()
    for ls, le, label in labels:
        e = _bound(norm, exprs, le, within)
        if e is None or (e.start, e.end) in seen:
            continue
        seen.add((e.start, e.end))
        out.extend(_quantities(norm, e, dimension, labelled=True, label=label, label_start=ls))
    return out


def _quantities(
    norm: str, e: _Expr, dimension: str, labelled: bool, label: str | None = None, label_start: int | None = None
) -> list[Quantity]:
    out = []
    for k, item in enumerate(e.items):
        # a number without its own unit takes the next one written after it (15-20cm)
        written = next((i.unit for i in e.items[k:] if i.unit), None)
        if written is not None:
            unit = SUFFIX_UNITS[written]
        elif e.prefix is not None:
            written, unit = e.prefix, PREFIX_UNITS[e.prefix]
        elif labelled and dimension == "money" and (e.end >= len(norm) or norm[e.end] not in _BARE_STOP):
            written, unit = "", Unit("money", 1)
        else:
            continue
        if unit.dimension != dimension or (unit.needs_label and not labelled):
            continue
        value = _value(item.raw, unit, written)
        if value is None:
            continue
        out.append(Quantity(value, dimension, written, item.start, item.end, e.start, e.end, label, label_start))
    return out
