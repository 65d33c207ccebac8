"""Loading validates everything and says where: file, line, rule id."""

from __future__ import annotations

import textwrap

import pytest
from helpers import RULES, write_pack

import screener
from screener.errors import RuleErrors

HEAD = """\
pack: wildlife
prefix: WL
legal_basis:
  - {law: 《野生动物保护法》, article: 第二十八条}
rules:
"""
EXAMPLES = """\
      examples:
        hit: [象牙手镯]
        miss: [手镯]
"""


def load_errors(tmp_path, body: str, head: str = HEAD) -> list[str]:
    path = write_pack(tmp_path, head + textwrap.indent(textwrap.dedent(body), "  "))
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([path])
    return [str(e) for e in ei.value.errors]


def test_unknown_key_names_file_line_rule_and_suggests(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      terms: [象牙]
      exlude: [象牙白]
"""
        + EXAMPLES,
    )
    assert len(errs) == 1
    assert "pack.yaml:11 (rule WL001)" in errs[0] and "'exlude'" in errs[0] and "did you mean 'exclude'" in errs[0]


def test_bad_regex_and_regex_without_anchor(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      regex: ['(象牙']
"""
        + EXAMPLES
        + """\
    - id: WL002
      name: y
      severity: high
      score: 50
      regex: ['[0-9]+']
"""
        + EXAMPLES,
    )
    assert any("WL001" in e and "invalid regex" in e and ":10" in e for e in errs)
    assert any("WL002" in e and "no literal" in e for e in errs)


def test_catastrophic_regex_is_refused(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      regex: ['(象牙)\\1']
"""
        + EXAMPLES,
    )
    assert any("invalid regex" in e for e in errs)


def test_unknown_category_and_check(tmp_path):
    errs = load_errors(tmp_path, "", head="pack: wildlif\nprefix: WL\nrules: []\n")
    # every problem is reported, the unknown category first
    assert errs[0] == f"{tmp_path / 'pack.yaml'}:1: unknown category 'wildlif' (did you mean 'wildlife'?)"
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      where: [{check: uscc_ok, field: shop_license_no}]
"""
        + EXAMPLES,
    )
    assert any("unknown check 'uscc_ok'" in e and "(rule WL001)" in e for e in errs)


def test_check_parameters_are_validated(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      where: [{check: compare, left: title, op: "=>", value: 3}]
"""
        + EXAMPLES,
    )
    assert any("not a numeric field" in e for e in errs) and any("'=>' is not one of" in e for e in errs)


def test_term_that_normalizes_to_nothing(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      terms: ["🐾🐾"]
"""
        + EXAMPLES,
    )
    assert any("normalizes to nothing" in e and "WL001" in e for e in errs)


def test_exclusion_must_contain_the_term(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      terms: [象牙]
      exclude: [树脂]
"""
        + EXAMPLES,
    )
    assert any("does not contain any of the rule's terms" in e for e in errs)


def test_yaml_booleans_are_not_terms(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      terms: [no, 象牙]
"""
        + EXAMPLES,
    )
    assert any("must be text" in e and "YAML reads 'no' as the boolean false; quote it ('no')" in e for e in errs)


def test_examples_are_required(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: high
      score: 50
      terms: [象牙]
      examples: {hit: [象牙]}
""",
    )
    assert any("at least one 'miss'" in e for e in errs)


def test_duplicate_rule_ids_across_packs(tmp_path):
    a = write_pack(
        tmp_path,
        HEAD
        + textwrap.indent(
            textwrap.dedent(
                """\
    - id: WL001
      name: x
      severity: high
      score: 50
      terms: [象牙]
"""
                + EXAMPLES
            ),
            "  ",
        ),
        "a.yaml",
    )
    b = write_pack(tmp_path, a.read_text(encoding="utf-8").replace("pack: wildlife", "pack: medals"), "b.yaml")
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([a, b])
    assert any("duplicate rule id" in str(e) for e in ei.value.errors)


def test_duplicate_yaml_keys_and_syntax_errors(tmp_path):
    p = write_pack(tmp_path, "pack: wildlife\npack: medals\n")
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([p])
    assert "pack.yaml:2" in str(ei.value) and "duplicate key 'pack'" in str(ei.value)
    p.write_text("pack: [wildlife\n", encoding="utf-8")
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([p])
    assert "YAML syntax error" in str(ei.value)


def test_yaml_is_loaded_safely(tmp_path):
    p = write_pack(tmp_path, "pack: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([p])
    assert "YAML" in str(ei.value)


def test_all_errors_are_collected(tmp_path):
    errs = load_errors(
        tmp_path,
        """\
    - id: WL001
      name: x
      severity: extreme
      score: 500
      terms: [象牙]
"""
        + EXAMPLES
        + """\
    - id: WX2
      name: y
      severity: high
      score: 5
      terms: [象牙]
"""
        + EXAMPLES,
    )
    assert len(errs) >= 3
    assert any("severity" in e for e in errs) and any("between 0 and 100" in e for e in errs)
    assert any("prefix 'WL'" in e for e in errs)


def test_pack_hash_changes_with_content_not_location(tmp_path):
    a = screener.load_packs([RULES]).hash
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in RULES.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert screener.load_packs([copy]).hash == a
    f = copy / "absolute_terms.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("score: 30", "score: 31"), encoding="utf-8")
    assert screener.load_packs([copy]).hash != a


def test_legal_basis_unverified_is_marked(rules):
    flagged_basis = [str(ref) for cr in rules.rules if cr.id == "WL001" for ref in cr.legal_basis]
    assert flagged_basis[0] == "《野生动物保护法》第二十八条"
    assert flagged_basis[1].endswith("(unverified)")


def test_overrides_disable_exclude_and_severity(tmp_path, scan):
    o = write_pack(
        tmp_path,
        """\
overrides:
  - rule: AT001
    disable: true
    reason: 本轮不查绝对化用语
  - rule: WL001
    add_exclude: [象牙瓷]
    severity: low
    reason: local porcelain trade name
""",
        "overrides.yaml",
    )
    rs = screener.load_rules([RULES], overrides=[o])
    assert "AT001" not in rs.rule_index
    hits = scan(["第一 象牙瓷 象牙手镯"], ruleset=rs)
    assert [(h["rule_id"], h["matched"], h["start"], h["severity"]) for h in hits] == [("WL001", "象牙", 7, "low")]
    assert len(rs.packset.overrides) == 2


def test_overrides_need_reason_and_known_rule(tmp_path):
    o = write_pack(
        tmp_path,
        "overrides:\n  - rule: ZZ001\n    disable: true\n    reason: x\n  - rule: WL001\n    disable: true\n",
        "o.yaml",
    )
    with pytest.raises(RuleErrors) as ei:
        screener.load_rules([RULES], overrides=[o])
    msgs = [str(e) for e in ei.value.errors]
    assert any("unknown rule 'ZZ001'" in m for m in msgs) and any("needs a written 'reason'" in m for m in msgs)


def test_regex_anchor_required_by_every_branch(tmp_path):
    from screener.regexes import anchor_required, branch_anchor

    assert anchor_required(r"(?:\d+元原价|原价\d{2,})", "原价") is True
    assert anchor_required(r"(?:\d+元原价|划线价\d+)", "原价") is False
    assert branch_anchor(r"(?:\d+元原价|原价\d{2,})") == "原价"
    p = write_pack(
        tmp_path,
        HEAD
        + textwrap.indent(
            textwrap.dedent("""\
    - id: WL001
      name: x
      severity: high
      score: 50
      regex: ['(?:\\d+元原价|原价\\d{2,})']
      examples:
        hit: [100元原价]
        miss: [原价]
"""),
            "  ",
        ),
    )
    rs = screener.load_rules([p])
    assert rs.rules[0].rule.regexes[0].anchor == "原价"


def test_bad_rules_name_file_line_and_rule(tmp_path):
    a = write_pack(
        tmp_path,
        HEAD
        + textwrap.indent(
            textwrap.dedent(
                """\
    - id: WL001
      name: x
      severity: high
      score: 50
      regex: ['象牙(?!白)']
"""
                + EXAMPLES
                + """\
    - id: WL002
      name: y
      severity: high
      score: 50
      terms: [象牙]
"""
                + EXAMPLES
                + """    - id: WL003
      name: z
      severity: high
      score: 50
      terms: ["🐾 ", 象牙]
"""
                + EXAMPLES
            ),
            "  ",
        ),
        "a.yaml",
    )
    b = write_pack(
        tmp_path,
        HEAD.replace("wildlife", "medals").replace("WL", "MD")
        + textwrap.indent(
            textwrap.dedent(
                """\
    - id: MD001
      name: x
      severity: high
      score: 50
      terms: [勋章]
"""
                + EXAMPLES
            ),
            "  ",
        ),
        "b.yaml",
    )
    b.write_text(
        b.read_text(encoding="utf-8").replace("MD001", "WL002").replace("prefix: MD", "prefix: WL"), encoding="utf-8"
    )
    c = write_pack(
        tmp_path, "pack: wildlife\nprefix: WL\nrules:\n  - id: WL001\n    terms: [象牙\n    name: x\n", "c.yaml"
    )
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([a, b, c])
    errs = [str(e) for e in ei.value.errors]
    assert f"{c}:6: YAML syntax error: did not find expected ',' or ']'" in errs
    assert f"{a}:10 (rule WL001): invalid regex '象牙(?!白)': invalid perl operator: (?!" in errs  # lookaround: refused
    assert (
        f"{a}:26 (rule WL003): term '🐾 ' normalizes to nothing (only separators/emoji); it could never match" in errs
    )
    assert f"{b}:6 (rule WL002): duplicate rule id (first defined at {a}:14 (rule WL002))" in errs


def test_nested_quantifiers_cannot_hang_a_scan(tmp_path, scan):
    # (a+)+$ backtracks exponentially in Python's re on "aaa…b"; RE2 runs in linear time, so the
    # scan of a 200,000-character adversarial title simply finishes with the right answer
    p = write_pack(
        tmp_path,
        HEAD
        + textwrap.indent(
            textwrap.dedent("""\
    - id: WL001
      name: x
      severity: high
      score: 50
      regex: ['象牙(a+)+$']
      examples:
        hit: [象牙aaa]
        miss: [象牙aab]
"""),
            "  ",
        ),
    )
    rs = screener.load_rules([p])
    evil = "象牙" + "a" * 200_000
    hits = scan([evil + "b", evil, "象牙aab"], ruleset=rs)
    assert [(h["row_id"], h["start"], h["end"]) for h in hits] == [(1, 0, len(evil))]


def test_alias_bomb_is_refused_quickly(tmp_path):
    chain = "".join(f"  - &a{k} [" + ",".join([f"*a{k - 1}"] * 9) + "]\n" for k in range(1, 9))
    p = write_pack(
        tmp_path,
        "pack: wildlife\nprefix: WL\nlegal_basis:\n  - &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
        + chain
        + "rules:\n  - id: WL001\n    name: x\n    severity: high\n    score: 50\n    terms: *a8\n"
        "    examples: {hit: *a8, miss: *a8}\n",
    )
    with pytest.raises(RuleErrors) as ei:  # 9⁸ strings if expanded; the loader never expands them
        screener.load_packs([p])
    assert 0 < len(ei.value.errors) < 50
