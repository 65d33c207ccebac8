"""Terms and concepts: their texts checked, pack defaults applied (pinyin, homophones), concepts resolved by name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from ..model import (
    Concept,
    PinyinMode,
    Term,
)
from ..normalize import has_cjk
from ..pinyin import default_modes
from ..yamlsrc import YMap
from .context import Context, as_tuple, lines_of
from .examples import parse_examples

#: A pack default ``homophones: true`` applies to terms of this many Chinese characters or more:
#: two-character words have everyday homophones (特供 / 特攻).
MIN_HOMOPHONE_CHARS = 3


def check_term_text(ctx: Context, text: str, line: int | None, what: str) -> bool:
    compact = ctx.norm.compact(text)
    if not ctx.norm.canonical(text).strip() or not compact:
        ctx.err(f"{what} {text!r} normalizes to nothing (only separators/emoji); it could never match", line)
        return False
    dropped = [ch for ch in text if ctx.norm.is_separator(ch) and not ch.isspace() and ord(ch) > 0x2E7F]
    if len(compact) == 1 and dropped:
        # 炸🍊 would match every 炸 (炸锅, 炸鸡): the emoji is read as a separator
        ctx.err(
            f"{what} {text!r} normalizes to the single character {compact!r}: {''.join(dropped)!r} is read as a "
            "separator; map it in charmap.yaml or drop the term",
            line,
        )
        return False
    return True


def terms(ctx: Context, node: Any, line: int | None, what: str = "term", defaults: bool = True) -> tuple[Term, ...]:
    """A terms list; ``{concept: name}`` items expand to the concept's terms.

    The pack's pinyin/homophone defaults apply to a rule's terms and to concepts
    (``defaults``), not to plain context word lists: the evasion is in the banned word.
    """
    out: list[Term] = []
    for item, iline in zip(as_tuple(node), lines_of(node, line)):
        if isinstance(item, YMap) and "concept" in item:
            out.extend(concept_terms(ctx, item["concept"], item.line_of("concept")))
        else:
            t = term(ctx, item, iline, what, defaults)
            if t is not None:
                out.append(t)
    return tuple(out)


def concept_terms(ctx: Context, name: str, line: int | None) -> tuple[Term, ...]:
    concept = ctx.concepts.get(name)
    if concept is None:
        import difflib

        hint = difflib.get_close_matches(name, list(ctx.concepts), n=1)
        ctx.err(f"unknown concept {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""), line)
        return ()
    return concept.terms


def pinyin_modes(value: Any) -> tuple[PinyinMode, ...]:
    if value is True:
        return ("full", "mixed")
    # the schema admits only the modes' names
    return () if value is False else cast(tuple[PinyinMode, ...], as_tuple(value))


def _defaulted(ctx: Context, text: str, node: YMap | None, apply: bool) -> tuple[tuple[PinyinMode, ...], bool]:
    """(pinyin modes, homophones) a term gets from the pack's defaults when it sets none."""
    if not apply:
        return (), False
    pinyin = () if node is not None and "pinyin" in node else default_modes(text, ctx.pinyin_default)
    cjk = sum(1 for ch in text if has_cjk(ch))
    homophones = ctx.homophones_default and cjk >= MIN_HOMOPHONE_CHARS and (node is None or "homophones" not in node)
    return pinyin, homophones


def term(ctx: Context, node: Any, line: int | None, what: str = "term", defaults: bool = True) -> Term | None:
    if not isinstance(node, YMap):
        if not check_term_text(ctx, node, line, what):
            return None
        pinyin, homophones = _defaulted(ctx, node, None, defaults)
        return Term(text=node, pinyin=pinyin, homophones=homophones, line=line)
    line = node.line
    text = node["term"]
    if not check_term_text(ctx, text, line, what):
        return None
    aliases = as_tuple(node.get("aliases"))
    for a in aliases:
        check_term_text(ctx, a, node.line_of("aliases"), "alias")
    pinyin, homophones = _defaulted(ctx, text, node, defaults)
    if "pinyin" in node:
        pinyin = pinyin_modes(node["pinyin"])
        if pinyin and not has_cjk(text):
            ctx.err(f"pinyin asked for {text!r}, which has no Chinese characters", node.line_of("pinyin"))
    if "homophones" in node:
        homophones = node["homophones"]
        if homophones and not has_cjk(text):
            ctx.err(f"homophones asked for {text!r}, which has no Chinese characters", node.line_of("homophones"))
    max_gap = node.get("max_gap")
    only_via = as_tuple(node.get("only_via"))
    if "separator" in only_via and max_gap == 0:
        ctx.err("only_via: separator needs separators to be allowed (max_gap > 0)", node.line_of("only_via"))
    t = Term(
        text=text,
        aliases=aliases,
        pinyin=pinyin,
        homophones=homophones,
        boundary=node.get("boundary", "latin"),
        exclude=as_tuple(node.get("exclude")),
        max_gap=max_gap,
        only_via=only_via,
        source=as_tuple(node.get("source")),
        line=line,
    )
    for ex in t.exclude:
        check_exclusion(ctx, ex, (t,), node.line_of("exclude"))
    return t


def check_exclusion(ctx: Context, phrase: str, anchor_terms: Sequence[Term], line: int | None) -> None:
    """An exclusion suppresses a hit it *contains*; one that contains no term is a mistake."""
    if not check_term_text(ctx, phrase, line, "exclusion"):
        return
    cphrase = ctx.norm.compact(phrase)
    for t in anchor_terms:
        for variant in (t.text, *t.aliases):
            if ctx.norm.compact(variant) in cphrase:
                return
    names = ", ".join(t.text for t in anchor_terms[:5])
    ctx.err(
        f"exclusion {phrase!r} does not contain any of the rule's terms ({names}); "
        "an exclusion must be a longer phrase around the hit — use 'without:' for context words",
        line,
    )


def parse_concepts(ctx: Context, node: YMap | None, shared: bool, known: dict[str, Concept]) -> dict[str, Concept]:
    """Concepts by name. A concept may use other concepts (no cycles); names are unique."""
    if not node:
        return {}
    out: dict[str, Concept] = {}
    pending = dict(node)
    visiting: list[str] = []

    def build(name: str) -> Concept | None:
        if name in out:
            return out[name]
        if name in visiting:
            ctx.err(f"concept {name!r} uses itself ({' → '.join([*visiting, name])})", node.line_of(name))
            return None
        body = pending[name]
        visiting.append(name)
        # concepts used inside this one: build them first, so references resolve
        for item in as_tuple(body.get("terms")):
            if isinstance(item, YMap) and "concept" in item and item["concept"] in pending:
                build(item["concept"])
        ctx.concepts.update(out)
        items = terms(ctx, body.get("terms"), body.line_of("terms"), f"concept {name} term")
        visiting.pop()
        labelled = tuple(t if t.concept else replace(t, concept=name) for t in items)
        examples = parse_examples(ctx, body.get("examples"), body.line_of("examples"))
        c = Concept(
            name=name,
            terms=labelled,
            description=str(body.get("description") or ""),
            examples=examples,
            shared=shared,
            location=ctx.loc(node.line_of(name)),
        )
        out[name] = c
        return c

    for name in pending:
        if name in known:
            first = known[name].location
            ctx.err(f"concept {name!r} is already defined (at {first})", node.line_of(name))
            continue
        build(name)
    ctx.concepts.update(out)
    return out
