"""Normalization: one-to-one canonical map, compact surface, offsets back to the original."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.normalize import SENTINEL, Normalizer

NORM = Normalizer()


def test_canonical_forms():
    assert NORM.canonical("ＶＸ１２３") == "vx123"
    assert NORM.canonical("槍枝 勳章 專供") == "枪枝 勋章 专供"
    assert NORM.canonical("①②❶⓵") == "1211"
    assert NORM.canonical("NO.1") == "no.1"


def test_compact_drops_separators_emoji_and_zero_width():
    assert NORM.compact("象*牙 穿 山 甲 象🌟牙 刷\u200b单") == "象牙穿山甲象牙刷单"
    assert NORM.compact("加❤V") == "加v"


def test_charmap_overlay():
    from screener.model import CharMapping

    n = Normalizer((CharMapping("🐘", "象", "test"),))
    assert n.compact("🐘牙") == "象牙" and NORM.compact("🐘牙") == "牙"


text_strategy = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("象牙穿山甲第一最ＶＸ①槍 *-·🐘🌟\u200b\u0301\u202e\ufe0f")),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
        st.just(SENTINEL),
    ),
    max_size=60,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(text_strategy, max_size=6))
def test_batch_normalization_never_crashes_and_keeps_offsets(texts):
    nb = NORM.batch(texts)
    assert len(nb.canon) == sum(len(t) + 1 for t in texts)
    for i, t in enumerate(texts):
        a, b = nb.seg_starts[i], nb.seg_starts[i + 1] - 1
        assert b - a == len(t)  # one canonical character per original character
    comp = nb.compact
    assert np.all(np.diff(comp.to_big) > 0)  # compact keeps order and maps inside the batch
    assert comp.utf8.decode("utf-8", "surrogatepass").count(SENTINEL) == len(texts)


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_single_string_forms_are_consistent(text):
    c = NORM.canonical(text)
    assert len(c) == len(text)
    assert NORM.compact(text) == "".join(ch for ch, orig in zip(c, text) if not NORM.is_separator(orig))


@settings(max_examples=200)
@given(
    st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(codec="utf-8"), max_size=20)), max_size=12),
    st.integers(min_value=0, max_value=3),
)
def test_arrow_batches_equal_string_batches(values, cut):
    import pyarrow as pa

    arr = pa.array(values, pa.string())
    parts = [arr.slice(0, cut), arr.slice(cut)]  # sliced arrays carry an offset
    nb = NORM.batch_arrow(parts)
    ref = NORM.batch([v or "" for v in values])
    assert np.array_equal(nb.raw, ref.raw) and np.array_equal(nb.seg_starts, ref.seg_starts)


@settings(max_examples=200)
@given(st.text(max_size=40), st.data())
def test_surface_char_index(text, data):
    from screener.normalize import Surface, _to_codepoints

    surf = Surface(_to_codepoints(text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")), None)
    starts = [len(text[:i].encode("utf-8", "surrogatepass")) for i in range(len(text) + 1)]
    picks = data.draw(st.lists(st.integers(0, len(text)), max_size=8))
    got = surf.char_index(np.asarray([starts[i] for i in picks], dtype=np.int64))
    assert got.tolist() == picks
