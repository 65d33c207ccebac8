"""Every lint, table-driven: a rule that trips it, and the same rule fixed that does not."""

from __future__ import annotations

import pytest
from helpers import write_pack

import screener
from screener.lint import LINTS, lint

HEAD = "pack: wildlife\nprefix: WL\nlegal_basis: [{law: 《野生动物保护法》, article: 第二十八条}]\nrules:\n"
EXAMPLES = "    examples: {hit: [象牙手镯 出售, 象牙手镯 老料, 象牙手镯 回流], miss: [手镯, 牙刷, 象棋]}\n"


def rule(rid: str = "WL001", terms: str = "[象牙手镯]", extra: str = "", examples: str = EXAMPLES) -> str:
    return f"  - id: {rid}\n    name: t\n    severity: high\n    score: 50\n    terms: {terms}\n{extra}{examples}"


CLEAN = rule()
# lint code -> (a pack that trips it, the same pack fixed)
CASES = {
    "single-char-term": (
        rule(terms="[象]", examples="    examples: {hit: [象 出售, 象 老料, 象 回流], miss: [手镯, 牙刷, 马]}\n"),
        CLEAN,
    ),
    "common-word-term": (
        rule(terms="[手机]", examples="    examples: {hit: [手机 a, 手机 b, 手机 c], miss: [电脑, 平板, 耳机]}\n"),
        rule(
            terms="[手机]",
            extra="    with:\n      - any: [象牙]\n        within: 10\n",
            examples="    examples: {hit: [象牙 手机壳 a, 象牙 手机 b, 象牙 手机 c], miss: [手机, 平板, 耳机]}\n",
        ),
    ),
    "duplicate-term": (
        CLEAN + rule("WL002"),
        CLEAN + rule("WL002", terms="[犀角杯]", examples=EXAMPLES.replace("象牙手镯", "犀角杯")),
    ),
    "shadowed-term": (rule(terms="[象牙手镯, 象牙]"), rule(terms="[象牙手镯, 犀角杯]", examples=EXAMPLES)),
    "few-examples": (rule(examples="    examples: {hit: [象牙手镯], miss: [手镯]}\n"), CLEAN),
    "no-legal-article": (
        rule(extra="    legal_basis: [{law: 《野生动物保护法》, article: ' '}]\n"),
        rule(extra="    legal_basis: [{law: 《野生动物保护法》, article: 第二十八条}]\n"),
    ),
    "weak-regex-anchor": (
        rule(extra="    regex:\n      - pattern: '牙\\d+克'\n        anchor: 牙\n"),
        rule(extra="    regex:\n      - pattern: '象牙\\d+克'\n        anchor: 象牙\n"),
    ),
    "short-pinyin": (
        rule(
            terms="[{term: 阿胶, pinyin: [full]}]",
            examples="    examples: {hit: [阿胶 a, ejiao b, 阿胶 c], miss: [胶水, 牙刷, 象棋]}\n",
        ),
        rule(
            terms="[{term: 阿胶, pinyin: [mixed]}]",
            examples="    examples: {hit: [阿胶 a, a胶 b, 阿胶 c], miss: [胶水, 牙刷, 象棋]}\n",
        ),
    ),
    "unused-lint-ignore": (
        rule(extra="    lint_ignore: {single-char-term: no such term any more}\n"),
        rule(
            terms="[象]",
            extra="    lint_ignore: {single-char-term: the test needs a one-character term}\n",
            examples="    examples: {hit: [象 出售, 象 老料, 象 回流], miss: [手镯, 牙刷, 马]}\n",
        ),
    ),
}


def codes(tmp_path, rules: str) -> set[str]:
    rs = screener.load_rules([write_pack(tmp_path, HEAD + rules)])
    open_, _silenced = lint(rs)
    return {i.code for i in open_}


def test_every_lint_has_a_case():
    assert set(CASES) == set(LINTS)


@pytest.mark.parametrize("code", sorted(CASES))
def test_lint_fires_and_the_fix_silences_it(tmp_path, code):
    tripped, fixed = CASES[code]
    assert code in codes(tmp_path, tripped)
    assert code not in codes(tmp_path, fixed)


def test_clean_rule_has_no_lints(tmp_path):
    assert codes(tmp_path, CLEAN) == set()
