"""Every bundled rule's examples, as pytest cases (the same harness as `screener rules test`)."""

from __future__ import annotations

import pytest

import screener

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
