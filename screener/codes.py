"""Identification numbers found in listing text and checked against their published format.

Each kind (食品生产许可 SC, obsolete QS, 医疗器械注册/备案, 国药准字, 保健食品, 专利号)
has a finder over the normalized text — full-width folded, traditional characters
simplified, spaces and hyphens tolerated between digit groups as sellers type
them — and two verdicts on a found code:

* ``structure``: why the code is not well formed (length, field values, check
  digit), or None;
* ``status``: why a well-formed code can no longer be used (QS after
  2018-10-01), or None.

``problem`` is the first of the two; ``well_formed`` is the absence of the
first. Reasons are short Chinese sentences: they go into evidence that
investigators read. Normalization is one character to one character, so every
span found on the normalized text is the same span in the original.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .normalize import Normalizer

# GB/T 2260 province-level codes (mainland; 71/81/82 issue none of these numbers).
PROVINCE_CODES = frozenset(
    str(n)
    for r in (range(11, 16), range(21, 24), range(31, 38), range(41, 47), range(50, 55), range(61, 66))
    for n in r
)
# Short names used as the issuing authority in device numbers (粤械注准, 苏苏械备).
PROVINCE_SHORT = frozenset("京津沪渝冀豫云滇辽黑湘皖鲁新苏浙赣鄂桂甘陇晋蒙陕吉闽贵黔粤青藏川宁琼")


@dataclass(frozen=True, slots=True)
class Code:
    """A code found in a text: its kind, canonical form and span in the original text."""

    kind: str
    code: str  # canonical: separators dropped, Latin letters upper case
    text: str  # as written
    start: int
    end: int


Verdict = Callable[[str, date], str | None]


@dataclass(frozen=True)
class CodeKind:
    name: str
    label: str  # what investigators call it, for evidence
    # on the raw text, something every candidate contains in any of its written forms (full-width,
    # traditional): most texts are ruled out before they are normalized
    prefilter: re.Pattern[str]
    pattern: re.Pattern[str]  # over normalized text
    canonical: Callable[[re.Match[str]], tuple[str, int] | None]  # (code, end offset) or not a candidate
    structure: Verdict
    status: Verdict = lambda code, as_of: None
    # what every candidate contains once normalized: the scan looks for the code only where
    # one of these is found (the prefilter's forms, simplified and lower-cased)
    literals: tuple[str, ...] = ()

    def problem(self, code: str, as_of: date | None = None) -> str | None:
        """Why ``code`` is not acceptable (malformed, or obsolete at ``as_of``), or None."""
        day = as_of or date.today()
        return self.structure(code, day) or self.status(code, day)

    def well_formed(self, code: str, as_of: date | None = None) -> bool:
        return self.structure(code, as_of or date.today()) is None


@lru_cache(maxsize=1)
def _normalizer() -> Normalizer:
    return Normalizer()


def normalized(text: str) -> str:
    """Width-folded, lower-cased, simplified text of the same length as ``text``."""
    return _normalizer().canonical(text)


# -- digit runs -------------------------------------------------------------------
#: digit groups separated by single spaces or hyphens (SC1063 2011 5001 23)
DIGIT_RUN = r"\d+(?:[ \-]\d+)*"


def _cut(run: str, want: tuple[int, ...], slack: int = 4) -> tuple[str, int] | None:
    """The digits of ``run`` a code of ``want`` digits takes, and how many characters they span.

    Groups are taken while they fit: a code ends at a group boundary when it has
    one of the wanted lengths, so a date or phone number typed after it is not
    swallowed. Otherwise the first group alone is the (malformed) candidate,
    kept only when it is within ``slack`` digits of a wanted length — a model
    number such as SC3000 is not a botched licence.
    """
    groups = re.finditer(r"\d+", run)
    digits, end = "", 0
    for g in groups:
        if len(digits) + len(g.group()) > max(want):
            break
        digits, end = digits + g.group(), g.end()
        if len(digits) in want:
            return digits, end
    first = re.match(r"\d+", run)
    assert first is not None
    digits, end = first.group(), first.end()
    if min(abs(len(digits) - n) for n in want) <= slack:
        return digits, end
    return None


def _year_ok(year: int, lo: int, as_of: date) -> bool:
    return lo <= year <= as_of.year


def _digits_problem(digits: str, n: int, what: str) -> str | None:
    if len(digits) != n:
        return f"{what}应为{n}位数字，此处为{len(digits)}位"
    return None


# -- SC 食品生产许可证编号 ---------------------------------------------------------
# 《食品生产许可管理办法》(2020, 市场监管总局令第24号) 第十一条 lists the food
# categories 01–31; additives are 01–03 (一般添加剂、香精、复配). The structure:
# 1 digit 食品(1)/添加剂(2), 2 category, 2+2+2 GB/T 2260 region, 4 serial, 1 check.
# The check digit's algorithm has not been published (the measures only say
# "1位校验码"; we found no public source that states it), so only the structure
# is validated here.
_SC_CATEGORIES = {"1": range(1, 32), "2": range(1, 4)}


def _sc_structure(code: str, as_of: date) -> str | None:
    digits = code[2:]
    if p := _digits_problem(digits, 14, "SC后"):
        return p
    kind, category, province = digits[0], int(digits[1:3]), digits[3:5]
    if kind not in _SC_CATEGORIES:
        return f"第1位应为1（食品）或2（食品添加剂），此处为{kind}"
    if category not in _SC_CATEGORIES[kind]:
        what = "食品" if kind == "1" else "食品添加剂"
        top = _SC_CATEGORIES[kind][-1]
        return f"{what}类别编码应为01–{top:02d}，此处为{digits[1:3]}"
    if province not in PROVINCE_CODES:
        return f"省级行政区划代码{province}不存在（GB/T 2260）"
    return None


def _prefixed(prefix: str, want: tuple[int, ...]) -> Callable[[re.Match[str]], tuple[str, int] | None]:
    def canonical(m: re.Match[str]) -> tuple[str, int] | None:
        cut = _cut(m.group("run"), want)
        if cut is None:
            return None
        digits, used = cut
        return prefix + digits, m.start("run") + used

    return canonical


# -- QS (obsolete) ------------------------------------------------------------------
# 《食品生产许可管理办法》(2015, 原国家食药监总局令第16号) replaced QS by SC; the
# transition let old packaging be used up until 2018-09-30 (第十六号令配套公告), so
# from 2018-10-01 a QS number on food being produced or sold as new is a violation.
QS_ABOLISHED = date(2018, 10, 1)


def _qs_structure(code: str, as_of: date) -> str | None:
    return _digits_problem(code[2:], 12, "QS后")


def _qs_status(code: str, as_of: date) -> str | None:
    if as_of >= QS_ABOLISHED:
        return "QS标志已废止：2018年10月1日起食品不得再标注QS编号（应为SC食品生产许可证编号）"
    return None


# -- 医疗器械注册证 / 备案 --------------------------------------------------------
# 《医疗器械注册与备案管理办法》(2021) 第一百一十九条 (same layout since the 2014
# measures, 局令第4号): ×1械注×2 ××××3 ×4 ××5 ××××6 — authority (国 for domestic
# class III and all imports; a province's short name for domestic class II), form
# 准 (domestic) / 进 (imported) / 许 (HK, Macao, Taiwan), year of first
# registration, management class (2 or 3), category code, serial. Renewals keep
# year and serial, and the layout began with the 2014 measures, so a year before
# 2014 or after the as-of year is implausible. Filing (Class I): ×1械备 ××××2 ××××3
# — 国 for imports, else a province (+ city) short name, year, serial.
DEVICE_LAYOUT_FROM = 2014
# Before 2014-10-01: 国食药监械(准)字2012第3660123号; valid 4 years (2004 measures), so
# none is still in force after 2018-09-30.
DEVICE_OLD_EXPIRED = date(2018, 10, 1)


def _device_canonical(m: re.Match[str]) -> tuple[str, int] | None:
    if m.group("old"):
        return m.group("old").replace(" ", ""), m.end()
    run, want, head = (
        ("run", (11,), m.group("org") + "械注" + m.group("form"))
        if m.group("form")
        else ("brun", (8, 9), m.group("borg") + "械备")
    )
    cut = _cut(m.group(run), want)
    if cut is None:
        return None
    digits, used = cut
    return head + digits, m.start(run) + used


def _device_structure(code: str, as_of: date) -> str | None:
    if old := re.fullmatch(r"(.+?)械\((准|进|许)\)字(\d{4})第(\d+)号", code):
        if len(old.group(4)) != 7:
            return f"旧版注册号“第”后应为7位数字，此处为{len(old.group(4))}位"
        return None
    if m := re.fullmatch(r"(.+)械注(.)(\d*)", code):
        org, form, digits = m.groups()
        if org != "国" and org not in PROVINCE_SHORT:
            return f"注册审批部门简称“{org}”不存在（应为国或省级简称）"
        if p := _digits_problem(digits, 11, "械注" + form + "后"):
            return p
        year, klass = int(digits[:4]), digits[4]
        if not _year_ok(year, DEVICE_LAYOUT_FROM, as_of):
            return f"首次注册年份{year}不合理（此编号格式自{DEVICE_LAYOUT_FROM}年启用）"
        if klass not in "23":
            return f"管理类别位应为2或3，此处为{klass}"
        if org == "国" and form == "准" and klass != "3":
            return "国械注准为境内第三类医疗器械，管理类别位应为3"
        if org != "国" and form != "准":
            return f"进口/港澳台医疗器械由国家局注册，不应为{org}械注{form}"
        if org != "国" and klass != "2":
            return f"省级注册的为境内第二类医疗器械，管理类别位应为2，此处为{klass}"
        return None
    m = re.fullmatch(r"(.+)械备(\d*)", code)
    assert m is not None
    org, digits = m.groups()
    if org != "国" and org[0] not in PROVINCE_SHORT:
        return f"备案部门简称“{org}”不存在（应为国或省级简称）"
    if len(digits) not in (8, 9):
        return f"械备后应为4位年份加4位流水号，此处为{len(digits)}位数字"
    year = int(digits[:4])
    if not _year_ok(year, DEVICE_LAYOUT_FROM, as_of):
        return f"备案年份{year}不合理"
    return None


def _device_status(code: str, as_of: date) -> str | None:
    if "械(" in code and as_of >= DEVICE_OLD_EXPIRED:
        return "2014年10月前的旧版注册证号，有效期4年，最迟2018年9月已届满"
    return None


# -- 国药准字 -----------------------------------------------------------------------
# 国家药监局 2001 批准文号换发 scheme: 国药准字 + letter + 8 digits. H 化学药品, Z 中药,
# S 生物制品, J 进口分包装, B 保健药品, F 药用辅料, T 体外化学诊断试剂. Digits 1–2:
# 10 (原卫生部), 19/20 (原国家药监局, with the year), or the province code of the
# province that first approved it; new approvals since 2002 are year (4) + serial (4).
DRUG_LETTERS = "HZSJBFT"


def _drug_canonical(m: re.Match[str]) -> tuple[str, int] | None:
    cut = _cut(m.group("run"), (8,))
    if cut is None:
        return None
    digits, used = cut
    return "国药准字" + (m.group("letter") or "").upper() + digits, m.start("run") + used


def _drug_structure(code: str, as_of: date) -> str | None:
    rest = code[4:]
    letter, digits = (rest[0], rest[1:]) if rest[:1].isalpha() else ("", rest)
    if not letter:
        return "国药准字后缺少类别字母（H/Z/S/J/B/F/T）"
    if letter not in DRUG_LETTERS:
        return f"类别字母应为H/Z/S/J/B/F/T之一，此处为{letter}"
    if p := _digits_problem(digits, 8, "字母后"):
        return p
    source = digits[:2]
    if source in ("19", "20"):
        year = int(digits[:4])
        if not (source == "19" or year <= as_of.year):
            return f"批准年份{year}不合理"
    elif source != "10" and source not in PROVINCE_CODES:
        return f"第1–2位来源代码{source}不存在（应为10、19、20或省级行政区划代码）"
    return None


# -- 保健食品 -----------------------------------------------------------------------
# 卫食健字(YYYY)第NNNN号: 原卫生部 approvals, 1996 to 2003. 国食健字G/J + year + serial:
# 原国家食药监局, 2003 to 2016. 《保健食品注册与备案管理办法》(2016) 第六十五条:
# 国食健注G/J + year + serial (registration, from 2016); 食健备G + year + 2-digit
# province code + 6-digit serial, 食健备J + year + 00 + serial (filing, from 2016).
HEALTH_FOOD_YEARS = {"卫食健": (1996, 2003), "国食健字": (2003, 2016), "国食健注": (2016, None), "食健备": (2016, None)}


def _health_canonical(m: re.Match[str]) -> tuple[str, int] | None:
    if m.group("wei"):
        return m.group(0).replace(" ", "").replace("[", "(").replace("]", ")"), m.end()
    head = m.group("head")
    cut = _cut(m.group("run"), (12,) if head == "食健备" else (8,))
    if cut is None:
        return None
    digits, used = cut
    return head + (m.group("gj") or "").upper() + digits, m.start("run") + used


def _health_year(head: str, year: int, as_of: date) -> str | None:
    lo, hi = HEALTH_FOOD_YEARS[head]
    if year < lo or year > (hi or as_of.year):
        span = f"{lo}–{hi}年" if hi else f"{lo}年起"
        return f"{head}批准年份{year}不合理（该格式用于{span}）"
    return None


def _health_structure(code: str, as_of: date) -> str | None:
    if m := re.fullmatch(r"卫食健(进)?字\((\d+)\)第(\d+)号?", code):
        if len(m.group(2)) != 4:
            return "卫食健字括号内应为4位年份"
        if len(m.group(3)) != 4:
            return f"卫食健字“第”后应为4位顺序号，此处为{len(m.group(3))}位"
        return _health_year("卫食健", int(m.group(2)), as_of)
    m = re.fullmatch(r"(国食健字|国食健注|食健备)([A-Z]?)(\d*)", code)
    assert m is not None
    head, gj, digits = m.groups()
    if gj not in ("G", "J"):
        return f"{head}后应为G（国产）或J（进口）" + (f"，此处为{gj}" if gj else "，此处缺少")
    n = 12 if head == "食健备" else 8
    if p := _digits_problem(digits, n, f"{head}{gj}后"):
        return p
    if p := _health_year(head, int(digits[:4]), as_of):
        return p
    if head == "食健备":
        region = digits[4:6]
        if gj == "J" and region != "00":
            return f"进口保健食品备案号年份后应为00，此处为{region}"
        if gj == "G" and region not in PROVINCE_CODES:
            return f"省级行政区划代码{region}不存在（GB/T 2260）"
    return None


# -- 专利号 -------------------------------------------------------------------------
# 国家知识产权局《专利申请号标准》(ZC 0006-2003): since 2003-10-01 an application
# number is year (4) + type (1) + serial (7); before, year (2) + type (1) + serial
# (5). Type: 1 发明, 2 实用新型, 3 外观设计, 8 PCT 发明, 9 PCT 实用新型. The check digit
# after the dot: the digits times 2,3,4,5,6,7,8,9,2,3,4,5 (in order), summed, mod 11,
# 10 written X. (Worked example: 201710601862 → 157 mod 11 = 3 → 201710601862.3.)
# A patent number is ZL + the application number.
PATENT_TYPES = "12389"
_PATENT_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def patent_check_digit(number: str) -> str:
    """The check character of an 8- or 12-digit application number."""
    total = sum(int(d) * w for d, w in zip(number, _PATENT_WEIGHTS))
    r = total % 11
    return "X" if r == 10 else str(r)


def _patent_canonical(m: re.Match[str]) -> tuple[str, int] | None:
    digits = re.sub(r"\D", "", m.group("num"))
    check = m.group("check")
    if check is None and len(digits) in (9, 13):  # the check digit typed without its dot
        digits, check = digits[:-1], digits[-1]
    if len(digits) < 7:
        return None
    return "ZL" + digits + ("." + check.upper() if check else ""), m.end()


def _patent_structure(code: str, as_of: date) -> str | None:
    number, _, check = code[2:].partition(".")
    if len(number) not in (8, 12):
        return f"专利申请号应为8位（2003年前）或12位数字，此处为{len(number)}位"
    year = int(number[:4]) if len(number) == 12 else 1900 + int(number[:2])
    if len(number) == 8 and year < 1985:
        year += 100  # 00–03
    kind = number[4] if len(number) == 12 else number[2]
    if len(number) == 12 and not _year_ok(year, 2003, as_of):
        return f"申请年份{year}不合理（12位申请号自2003年启用）"
    if len(number) == 8 and not 1985 <= year <= 2003:
        return f"申请年份{year}不合理（8位申请号用于1985–2003年）"
    if kind not in PATENT_TYPES:
        return f"专利类型位应为1、2、3、8或9，此处为{kind}"
    if check and check != (expected := patent_check_digit(number)):
        return f"校验位为{check}，按申请号计算应为{expected}"
    return None


# -- the kinds ------------------------------------------------------------------------
# Patterns run on normalized (lower-case, half-width, simplified) text.
_SEP = r"[\s:：#\-]*"


def _lettered(name: str, label: str, digits: int, structure: Verdict, status: Verdict | None = None) -> CodeKind:
    """Two Latin letters (not inside a Latin word) and a run of digits: SC…, QS…."""
    a, b = name[0], name[1]
    fullwidth = f"[{a}{chr(ord(a) + 0xFEE0)}][{b}{chr(ord(b) + 0xFEE0)}]"
    return CodeKind(
        name,
        label,
        re.compile(fullwidth, re.IGNORECASE),
        re.compile(rf"(?<![a-z]){name}{_SEP}(?P<run>{DIGIT_RUN})"),
        _prefixed(name.upper(), (digits,)),
        structure,
        status or (lambda code, as_of: None),
        (name,),
    )


KINDS: dict[str, CodeKind] = {
    k.name: k
    for k in (
        _lettered("sc", "食品生产许可证编号", 14, _sc_structure),
        _lettered("qs", "QS编号", 12, _qs_structure, _qs_status),
        CodeKind(
            "device",
            "医疗器械注册证/备案编号",
            re.compile("械"),
            re.compile(
                r"(?P<old>[\u4e00-\u9fff]?食?药监械\((?:准|进|许)\)字 ?\d{4} ?第 ?\d+ ?号)"
                rf"|(?P<org>[\u4e00-\u9fff])械注(?P<form>[准进许]){_SEP}(?P<run>{DIGIT_RUN})"
                rf"|(?P<borg>国|[{''.join(sorted(PROVINCE_SHORT))}][\u4e00-\u9fff]?)械备{_SEP}(?P<brun>{DIGIT_RUN})"
            ),
            _device_canonical,
            _device_structure,
            _device_status,
            ("械",),
        ),
        CodeKind(
            "drug",
            "药品批准文号",
            re.compile("[准準]字"),
            re.compile(rf"国药准字{_SEP}(?P<letter>[a-z])?[ \-]?(?P<run>{DIGIT_RUN})"),
            _drug_canonical,
            _drug_structure,
            literals=("准字",),
        ),
        CodeKind(
            "health_food",
            "保健食品批准/备案编号",
            re.compile("食健"),
            re.compile(
                r"(?P<wei>卫食健(?:进)?字 ?[(\[] ?\d+ ?[)\]] ?第 ?\d+ ?号?)"
                rf"|(?P<head>国食健字|国食健注|食健备){_SEP}(?P<gj>[a-z])?[ \-]?(?P<run>{DIGIT_RUN})"
            ),
            _health_canonical,
            _health_structure,
            literals=("食健",),
        ),
        CodeKind(
            "patent",
            "专利号",
            re.compile("[zｚ][lｌ]|[专專]利", re.IGNORECASE),
            re.compile(
                r"(?:(?<![a-z])zl|专利(?:申请)?号)[\s:：]*(?:zl)?[\s:：]*"
                r"(?P<num>\d(?: ?\d){6,12})(?: ?[.·] ?(?P<check>[0-9x]))?(?![0-9a-z])"
            ),
            _patent_canonical,
            _patent_structure,
            literals=("zl", "专利"),
        ),
    )
}


def find_codes(text: str | None, kind: str) -> list[Code]:
    """Codes of ``kind`` in ``text``, well formed or not, with their spans in ``text``."""
    if not text:
        return []
    spec = KINDS[kind]
    if not spec.prefilter.search(text):
        return []
    norm = normalized(text)
    found = []
    for m in spec.pattern.finditer(norm):
        got = spec.canonical(m)
        if got is None:
            continue
        code, end = got
        found.append(Code(kind, code, text[m.start() : end], m.start(), end))
    return found


def problem(kind: str, code: str, as_of: date | None = None) -> str | None:
    """Why a canonical ``code`` of ``kind`` is not acceptable, or None."""
    return KINDS[kind].problem(code, as_of)
