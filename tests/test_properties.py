"""Properties of every hit: spans lie in the field and re-normalize to the term."""

from __future__ import annotations

import pytest
from helpers import make_batch, term_pack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import screener

TERMS = ["象牙", "穿山甲", "猫池", "goip", "刷单"]
PACK = term_pack(TERMS)


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    d = tmp_path_factory.mktemp("prop")
    (d / "p.yaml").write_text(PACK, encoding="utf-8")
    return screener.load_rules([d])


separators = st.text(alphabet=st.sampled_from(list(" *-·.、🌟\u200b")), max_size=2)
noise = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


@st.composite
def seeded_text(draw):
    term = draw(st.sampled_from(TERMS))
    chars = list(term)
    evaded = chars[0] + "".join(draw(separators) + c for c in chars[1:])
    return term, draw(noise) + " " + evaded + " " + draw(noise)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(seeded_text(), min_size=1, max_size=5))
def test_every_hit_span_renormalizes_to_its_term(ruleset, cases):
    rs = ruleset
    rows = [{"title": text} for _term, text in cases]
    res = screener.scan_batch(make_batch(rows), rs)
    norm = rs.normalizer
    found = set()
    for h in res.hits.to_pylist():
        text = rows[h["row_id"]]["title"]
        assert 0 <= h["start"] < h["end"] <= len(text)
        assert text[h["start"] : h["end"]] == h["matched"]
        assert norm.compact(h["matched"]) == norm.compact(h["term"])
        found.add(h["row_id"])
    # the seeded, evaded term is always found (separators ≤ 2 ≤ max_gap; ascii edges are spaces)
    assert found == set(range(len(rows)))
