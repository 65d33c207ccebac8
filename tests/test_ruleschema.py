"""The rule syntax is defined once (screener/data/rules.schema.json): the loader, the docs
and editors read it; YAML 1.1 values that are not text where text is expected are refused."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from helpers import write_pack
from hypothesis import given
from hypothesis import strategies as st

import screener
from screener import ruleschema
from screener.errors import RuleErrors
from screener.model import TEXT_FIELDS
from screener.yamlsrc import load_yaml_file

ROOT = Path(__file__).resolve().parents[1]
RULE_TEMPLATE = """\
pack: wildlife
prefix: WL
legal_basis: [{{law: 《野生动物保护法》, article: 第二十八条}}]
rules:
  - id: WL001
    name: {name}
    severity: high
    score: 50
    terms: [象牙, {term}, {{term: 犀角, aliases: [{alias}]}}]
    exclude: [{exclude}]
    without: [{{any: [{context}], within: 5}}]
    examples: {{hit: [象牙], miss: [{example}]}}
"""
SLOTS = ("name", "term", "alias", "exclude", "context", "example")
SAFE = {"name": "x", "term": "牙雕", "alias": "xj", "exclude": "象牙白", "context": "树脂", "example": "手镯"}

# What PyYAML (YAML 1.1) reads as something other than text when written plainly.
NOT_TEXT = ["1:1", "1:30:00", "yes", "No", "on", "OFF", "True", "false", "2021-07-01", "0x1F", "017",
            "1.5", "1.0e+3", "~", "null", "12", "-3", ".inf", ".NaN", "0b101"]  # fmt: skip
# ... and what it reads as text: these load as written.
TEXT = ["1e3", "y", "n", "0o17", "1.2.3", "12a", "六一"]


def _pack(tmp_path: Path, **values: str) -> Path:
    return write_pack(tmp_path, RULE_TEMPLATE.format(**{**SAFE, **values}))


@given(form=st.sampled_from(NOT_TEXT), slot=st.sampled_from(SLOTS))
def test_non_text_scalars_are_refused_with_a_quote_hint(tmp_path_factory, form, slot):
    p = _pack(tmp_path_factory.mktemp("p"), **{slot: form})
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([p])
    msgs = [str(e) for e in ei.value.errors]
    line = next(i for i, x in enumerate(RULE_TEMPLATE.splitlines()) if "{" + slot + "}" in x)
    want = f"{p}:{line + 1} (rule WL001): "
    # an empty value is its own message; every other form is quoted back to the author
    hint = "it is empty" if form in ("~", "null") else f"YAML reads {form!r} as"
    assert any(m.startswith(want) and "must be text" in m and hint in m for m in msgs), msgs
    if form not in ("~", "null"):
        assert any(f"quote it ('{form}')" in m for m in msgs)
    # quoted, the same value is text (an exclusion must still contain a term: that is another matter)
    quoted = _pack(tmp_path_factory.mktemp("q"), **{slot: f'"{form}"'})
    try:
        screener.load_packs([quoted])
    except RuleErrors as exc:
        assert not any("must be text" in str(e) for e in exc.errors)


@pytest.mark.parametrize("form", TEXT)
def test_scalars_yaml_reads_as_text_load_as_written(tmp_path, form):
    pack = screener.load_packs([_pack(tmp_path, term=form)]).packs[0]
    assert form in [t.text for t in pack.rules[0].terms]


def test_keys_that_are_not_text_are_refused(tmp_path):
    p = write_pack(tmp_path, "pack: wildlife\nyes: 1\n")
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([p])
    assert "a mapping key must be text: YAML reads 'yes' as the boolean true; quote it ('yes')" in str(ei.value)


# -- malformed documents: each mistake, one located message ------------------------------
MALFORMED = [
    ("score: 500", "score: must be between 0 and 100, got 500"),
    ("severity: extreme", "severity: 'extreme' is not one of low, medium, high"),
    ("terms: [{term: 象牙, boundry: word}]", "terms[0]: unknown key 'boundry' (did you mean 'boundary'?)"),
    ("terms: [{term: 象牙, boundary: words}]", "'words' is not one of latin, alnum, word, none (did you mean 'word'?)"),
    ("terms: [{term: 象牙, max_gap: 11}]", "terms[0].max_gap: must be between 0 and 10, got 11"),
    ("terms: [{aliases: [xy]}]", "terms[0]: needs 'term'"),
    ("with: [{any: [x], all: [y]}]", "with[0]: give only one of any, all, concept, any_of (got any, all)"),
    ("with: [{within: 3}]", "with[0]: needs one of any, all, concept, any_of"),
    ("with: [{any: [x], within: paragraph}]", "with[0].within"),
    ("with: [{any_of: [{any: [x]}]}]", "with[0].any_of: needs at least 2 item(s)"),
    ("where: [{any_of: [{check: missing, field: title}]}]", "where[0].any_of: needs at least 2 item(s)"),
    ("fields: [title, descripton]", "fields"),
    ("categories: {include: [食品], excluded: [宠物]}", "unknown key 'excluded' (did you mean 'exclude'?)"),
    ("legal_basis: [{law: x, effective_form: '2021-01-01'}]", "did you mean 'effective_from'?"),
    ("terms: [{concept: Supply-Label}]", "terms[0].concept: 'Supply-Label' is not valid"),
]


@pytest.mark.parametrize("line, message", MALFORMED)
def test_malformed_rules_get_one_located_message(tmp_path, line, message):
    body = textwrap.dedent(
        """\
        pack: wildlife
        prefix: WL
        legal_basis: [{law: 《野生动物保护法》, article: 第二十八条}]
        rules:
          - id: WL001
            name: x
            severity: high
            score: 50
            terms: [象牙]
            examples: {hit: [象牙], miss: [手镯]}
        """
    )
    key = line.split(":")[0]
    lines = [x for x in body.splitlines() if not x.strip().startswith(f"{key}:")]
    lines.insert(9, "    " + line)
    p = write_pack(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([p])
    msgs = [str(e) for e in ei.value.errors]
    assert any(f"{p}:10 (rule WL001): " in m and message in m for m in msgs), msgs


# -- one definition, read by everything ------------------------------------------------------
def test_every_bundled_pack_fits_the_schema_and_names_it_for_editors():
    files = sorted((ROOT / "rules").glob("*.yaml"))
    assert files
    for f in files:
        doc, _ = load_yaml_file(f)
        assert list(ruleschema.validate(doc, str(f))) == [], f
        first = f.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../screener/data/rules.schema.json", f


def test_the_rules_readme_documents_every_key_of_the_schema():
    readme = (ROOT / "rules" / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\s*-?\s*(?:-\s)?\{?([a-z_]+):", readme, flags=re.M))
    documented |= set(re.findall(r"`([a-z_]+)`", readme))
    for name in ("pack", "rule", "term", "condition", "concept", "legal", "examples", "regex"):
        missing = [k for k in ruleschema.keys_of(name) if k not in documented]
        assert not missing, f"rules/README.md does not document {name} keys {missing}"


def test_schema_field_names_are_the_canonical_text_columns():
    assert ruleschema.definition("field")["enum"] == list(TEXT_FIELDS)
