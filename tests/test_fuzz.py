"""Properties under arbitrary input: nothing crashes, no row is lost or doubled, spans stay true.

* the rule loader answers any file with RuleError(s), never a traceback;
* normalization takes any Unicode (surrogates, combining marks, RTL, emoji
  sequences, the batch separator itself) and keeps its one-to-one offsets;
* for any term and any text, every hit's span lies in its field and
  re-normalizes to the term (test_properties.py checks seeded, evaded terms);
* readers take any bytes after a CSV header or in a JSONL file: every record
  is scanned or rejected exactly once, whatever the block size, and the
  Python csv fallback parses exactly like pyarrow.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from helpers import make_batch, term_pack
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import screener
from screener.compile import compile_rules
from screener.errors import RuleError, RuleErrors
from screener.io import csvrecords
from screener.io.csvrecords import CsvGrammar
from screener.io.readers import ReadOptions, open_source, read_input

SETTINGS = {
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
}
# -- the rule loader ---------------------------------------------------------------------------
PACK_KEYS = [
    "pack",
    "prefix",
    "version",
    "legal_basis",
    "rules",
    "charmap",
    "overrides",
    "departments",
    "defaults",
    "description",
    "name",
]
RULE_KEYS = [
    "id",
    "name",
    "severity",
    "score",
    "terms",
    "regex",
    "exclude",
    "with",
    "without",
    "adjust",
    "where",
    "examples",
    "fields",
    "scope",
    "todo",
    "lint_ignore",
    "any",
    "within",
    "check",
    "field",
    "term",
    "pinyin",
    "aliases",
    "hit",
    "miss",
    "rule",
    "disable",
    "reason",
    "add_exclude",
    "law",
    "article",
    "verified",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["象牙", "WL001", "high", "(a+)+$", "\\1", "🐾", "", " ", "wildlife", "WL", "(?=x)", "[", "第一"]),
)
yaml_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(PACK_KEYS + RULE_KEYS) | st.text(max_size=6), children, max_size=5),
    ),
    max_leaves=25,
)


def _load(tmp: Path, data: bytes) -> None:
    p = tmp / "pack.yaml"
    p.write_bytes(data)
    try:
        screener.load_packs([p])
    except (RuleErrors, RuleError) as exc:
        assert str(exc)  # a message, with the file
        for e in getattr(exc, "errors", [exc]):
            assert str(p) in str(e) or e.location is None


@settings(max_examples=150, **SETTINGS)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8"))))
def test_yaml_loader_never_crashes_on_any_bytes(tmp_path_factory, data):
    _load(tmp_path_factory.mktemp("y"), data)


@settings(max_examples=300, **SETTINGS)
@given(yaml_values, st.sampled_from(["pack", "overrides", "charmap", None]))
def test_yaml_loader_never_crashes_on_any_document_shape(tmp_path_factory, doc, kind):
    if kind and isinstance(doc, dict):
        doc = {kind: "wildlife" if kind == "pack" else doc.get(kind, []), "prefix": "WL", **doc}
    text = yaml.safe_dump(doc, allow_unicode=True)
    _load(tmp_path_factory.mktemp("y"), text.encode("utf-8"))


def test_pack_that_is_a_list_or_mapping(tmp_path):
    p = tmp_path / "pack.yaml"
    for body in (b"pack: []\nprefix: WL\n", b"pack: {a: 1}\nprefix: WL\n"):
        p.write_bytes(body)
        with pytest.raises(RuleErrors) as ei:
            screener.load_packs([p])
        assert f"{p}:1: unknown category" in str(ei.value)


@settings(max_examples=100, **SETTINGS)
@given(
    st.lists(
        st.sampled_from(
            [
                "pack: wildlife\n",
                "prefix: WL\n",
                "rules:\n",
                "  - id: WL001\n",
                "    terms: [象牙]\n",
                "    regex: ['(a+)+$']\n",
                "    score: 500\n",
                "  - &a [x]\n",
                "    terms: *a\n",
                "    terms: *b\n",
                "!!python/object/apply:os.system ['x']\n",
                "key: !!binary aGVsbG8=\n",
                "? [a, b]\n: c\n",
                "<<: *a\n",
                "\t- tab\n",
                "---\n",
                "...\n",
                "%YAML 1.1\n",
                "x: 2001-13-45\n",
                "x: 1e99999\n",
                "'unterminated\n",
                "  examples: {hit: [象牙], miss: [x]}\n",
            ]
        ),
        max_size=12,
    )
)
def test_yaml_loader_never_crashes_on_yaml_fragments(tmp_path_factory, lines):
    _load(tmp_path_factory.mktemp("y"), "".join(lines).encode("utf-8"))


# -- normalization -----------------------------------------------------------------------------
SPECIAL = [
    "\u0301",
    "\u0338",
    "\u202e",
    "\u202c",
    "\u200f",
    "\u200b",
    "\u200d",
    "\ufe0f",
    "\ufeff",
    "\uffff",
    "\ufffd",
    "👨\u200d👩\u200d👧\u200d👦",
    "🇨🇳",
    "👍🏽",
    "1\ufe0f\u20e3",
    "🏴\U000e0067\U000e0062\U000e007f",
    "مرحبا",
    "שלום",
    "\U0010ffff",
    "\x00",
    "\r\n",
    "象",
    "牙",
    "ｇｏｉｐ",
    "象🐘牙",
    "𠀀",
    "\ud800",
    "\udfff",
    "\udc80",
]
any_unicode = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40
)
mixed = st.lists(st.one_of(any_unicode, st.sampled_from(SPECIAL)), max_size=8).map("".join)


@settings(max_examples=300, **SETTINGS)
@given(st.lists(mixed, max_size=5))
def test_normalization_never_crashes_and_keeps_offsets(rules, texts):
    norm = rules.normalizer
    for t in texts:
        canon = norm.canonical(t)
        assert len(canon) == len(t)  # one character for one: offsets carry over
        assert len(norm.compact(t)) <= len(t)
        norm.has_separator(t)
        norm.reason_bits(t)
    batch = norm.batch(texts)
    for i, t in enumerate(texts):
        assert batch.original_text(i) == t.replace("\uffff", " ") or batch.original_text(i) == t


@settings(max_examples=150, **SETTINGS)
@given(st.lists(mixed.map(lambda t: re.sub("[\ud800-\udfff]", "", t)), min_size=1, max_size=6))
def test_scanning_any_valid_unicode_never_crashes(rules, texts):
    rs = rules
    rows = [{"title": t, "description": t[::-1], "shop_name": t[:3]} for t in texts]
    res = screener.scan_batch(make_batch(rows), rs)
    for h in res.hits.to_pylist():
        if h["start"] is None:
            continue
        text = rows[h["row_id"]][h["field"]]
        assert 0 <= h["start"] < h["end"] <= len(text) and text[h["start"] : h["end"]] == h["matched"]


# -- spans, for any term ----------------------------------------------------------------------------
term_alphabet = st.sampled_from(
    list("象牙穿山甲猫池刷单第一國際麝香犀角虎骨熊胆") + list("goipxyz") + list("0123456789")
)
separators = st.text(alphabet=st.sampled_from(list(" *-·.、🌟\u200b\u0301\u202e👍🏽")), max_size=2)


@settings(max_examples=60, **SETTINGS)
@given(
    st.text(alphabet=term_alphabet, min_size=2, max_size=4),
    st.lists(st.tuples(mixed, separators, mixed), min_size=1, max_size=4),
)
def test_any_term_any_text_spans_renormalize_to_the_term(tmp_path_factory, term, parts):
    d = tmp_path_factory.mktemp("t")
    (d / "p.yaml").write_text(term_pack([term], hit=term), encoding="utf-8")
    try:
        rs = compile_rules([d], cache=False)
    except RuleErrors:
        assume(False)  # e.g. a term the loader refuses
    norm = rs.normalizer
    texts = []
    for before, sep, after in parts:
        before, after = (re.sub("[\ud800-\udfff\uffff]", "", x) for x in (before, after))
        texts.append(before + " " + sep.join(term) + " " + after)
    res = screener.scan_batch(make_batch([{"title": t} for t in texts]), rs)
    for h in res.hits.to_pylist():
        text = texts[h["row_id"]]
        assert 0 <= h["start"] < h["end"] <= len(text)
        assert text[h["start"] : h["end"]] == h["matched"]
        assert norm.compact(h["matched"]) == norm.compact(term)


# -- readers ------------------------------------------------------------------------------------
CSV_HEAD = b"item_id,title,shop_name\n"
csv_pieces = st.sampled_from(
    [
        b",",
        b'"',
        b'""',
        b"\n",
        b"\r\n",
        b"\r",
        b" ",
        b"a",
        b"1",
        b"\x00",
        "象牙".encode(),
        "穿山甲".encode("gbk"),
        b"\xff",
        b"\xe8\xb1",
        b"\xef\xbb\xbf",
        b"item_id,title,shop_name",
        b"=1+1",
        b"\t",
    ]
)
csv_bodies = st.one_of(st.binary(max_size=200), st.lists(csv_pieces, max_size=60).map(b"".join))


def _accounting(path: Path, chunk_rows: int = 3, block_bytes: int | None = None) -> tuple[list, list]:
    src = open_source(path)
    options = ReadOptions(chunk_rows=chunk_rows)
    if block_bytes is not None:
        options = replace(options, block_bytes=block_bytes)
    chunks = list(read_input(src, None, options))
    scanned = [
        (n, i, t)
        for c in chunks
        for n, i, t in zip(
            c.table.column("source_row").to_pylist(),
            c.table.column("item_id").to_pylist(),
            c.table.column("title").to_pylist(),
        )
    ]
    rejects = [(r.row, r.reason) for c in chunks for r in c.rejects]
    return scanned, rejects


@settings(max_examples=200, **SETTINGS)
@given(csv_bodies)
def test_csv_any_bytes_every_record_scanned_or_rejected_once(tmp_path_factory, body):
    p = tmp_path_factory.mktemp("c") / "x.csv"
    p.write_bytes(CSV_HEAD + body)
    scanned, rejects = _accounting(p)
    numbers = sorted([n for n, *_ in scanned] + [n for n, _ in rejects])
    assert numbers == list(range(2, 2 + len(numbers)))  # none lost, none doubled, in order
    if b'"' not in body:  # without quotes a record is a line: count the lines independently
        lines = [ln for ln in re.split(rb"\r\n|\n|\r", body) if ln]
        assert len(numbers) == len(lines)


@settings(max_examples=100, **SETTINGS)
@given(csv_bodies, st.integers(1, 64))
def test_csv_outcome_does_not_depend_on_the_block_size(tmp_path_factory, body, block):
    p = tmp_path_factory.mktemp("c") / "x.csv"
    p.write_bytes(CSV_HEAD + body)
    want = _accounting(p)
    got = _accounting(p, block_bytes=block)
    assert got == want


@settings(max_examples=300, **SETTINGS)
@given(csv_bodies)
def test_python_csv_fallback_parses_like_pyarrow(body):
    g = csvrecords.grammar(",")
    names = ["c0", "c1", "c2"]
    for piece, _bad, _end in csvrecords.split_records(io.BytesIO(body), g, 0, 1 << 20, 1 << 20):
        if piece is None or csvrecords.CONTENT.search(piece) is None:
            continue
        try:
            batch, invalid = csvrecords.parse_piece(piece, names, ",")
        except pa.ArrowInvalid:
            continue  # pyarrow refused (a ragged row it cannot decode): the fallback is all there is
        py_batch, py_invalid = csvrecords.parse_piece_python(piece, names, ",")
        assert py_batch.to_pylist() == batch.to_pylist()
        assert [(n, e, a) for n, _, e, a in py_invalid] == [(n, e, a) for n, _, e, a in invalid]


@settings(max_examples=300, **SETTINGS)
@given(csv_bodies)
def test_grammar_without_atomic_syntax_agrees(body):
    # Python 3.10 has no (?>...): the grammar is then built from lookahead captures
    native, emulated = CsvGrammar(",", native=True), CsvGrammar(",", native=False)
    for start in range(0, len(body), 7):
        buf = body[start:]
        assert native.valid_end(buf) == emulated.valid_end(buf)
        if native.valid_end(buf) == 0 and buf:
            assert native.diagnose(buf) == emulated.diagnose(buf)


jsonl_lines = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b'{"item_id": "1", "title": "\\u8c61\\u7259"}',
            b"[1, 2]",
            b"{",
            b"",
            b"   ",
            b"\r",
            b"null",
            b'{"item_id": null, "title": "x"}',
            b'{"item_id": "\\ud800"}',
            b'{"item_id": 1e999}',
            '{"item_id": "2", "title": "象牙"}'.encode("gbk"),
            b"[" * 3000,
            b"\xef\xbb\xbf{}",
        ]
    ),
)


@settings(max_examples=300, **SETTINGS)
@given(st.lists(jsonl_lines, max_size=12))
def test_jsonl_any_bytes_every_line_scanned_or_rejected_once(tmp_path_factory, lines):
    p = tmp_path_factory.mktemp("j") / "x.jsonl"
    data = b'{"item_id": "0", "title": "x"}\n' + b"\n".join(lines) + b"\n"
    p.write_bytes(data)
    scanned, rejects = _accounting(p)
    numbers = sorted([n for n, *_ in scanned] + [n for n, _ in rejects])
    with_content = [
        i
        for i, ln in enumerate(data.split(b"\n")[:-1], start=1)
        if (ln[3:] if i == 1 and ln.startswith(b"\xef\xbb\xbf") else ln).strip()
    ]
    assert numbers == with_content


@settings(max_examples=40, **SETTINGS)
@given(csv_bodies, st.lists(jsonl_lines, max_size=6))
def test_scan_files_on_any_bytes_counts_add_up(tmp_path_factory, rules, body, lines):
    d = tmp_path_factory.mktemp("s")
    (d / "a.csv").write_bytes(CSV_HEAD + body)
    (d / "b.jsonl").write_bytes(b'{"item_id": "0", "title": "x"}\n' + b"\n".join(lines))
    s = screener.scan_files([d / "a.csv", d / "b.jsonl"], d / "out", rules, chunk_rows=4)
    assert s["rows_read"] == s["rows_scanned"] + s["rows_rejected"]
    for f in s["inputs"]:
        assert f["rows_read"] == f["rows_scanned"] + f["rows_rejected"]
    text = (d / "out" / "rejects.csv").read_text(encoding="utf-8-sig")
    import csv

    assert len(list(csv.reader(io.StringIO(text, newline="")))) == s["rows_rejected"] + 1
