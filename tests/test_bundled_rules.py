"""Every bundled rule's examples, as pytest cases (the same harness as `screener rules test`)."""

from __future__ import annotations

import pytest
import yaml

import screener
from screener.packs import bundled_rules_dir

RULES = screener.load_rules()
RESULTS = screener.run_examples(RULES)


@pytest.mark.parametrize("result", RESULTS, ids=[r.name for r in RESULTS])
def test_rule_example(result):
    if result.todo and not result.passed:
        pytest.xfail(result.example.todo)
    assert result.passed, result.describe()


def test_every_category_has_a_pack():
    from screener.taxonomy import categories

    assert {p.category for p in RULES.packset.packs} == set(categories())


@pytest.mark.parametrize("path", sorted(bundled_rules_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_yaml_reads_the_same_without_libyaml(path):
    # screener reads packs with libyaml when PyYAML has it and with the pure-Python parser when
    # it does not; the two disagree on some plain scalars (a URL with "?" inside a flow mapping is
    # fine for libyaml and a syntax error for the pure parser), so every bundled file must read
    # identically with both.
    text = path.read_text(encoding="utf-8")
    pure = yaml.load(text, Loader=yaml.SafeLoader)
    if hasattr(yaml, "CSafeLoader"):
        assert pure == yaml.load(text, Loader=yaml.CSafeLoader)
    assert pure
