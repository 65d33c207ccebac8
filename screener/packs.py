"""Loading rule files into the typed model, validating everything.

A rules path holds YAML documents of four kinds, told apart by their first key:

* ``pack:`` — one category's rules (see rules/README.md for the language);
* ``concepts:`` — named term lists shared by every pack;
* ``charmap:`` — characters the normalizer reads as others (🐘 → 象);
* ``overrides:`` — an analyst's local changes to bundled rules, each with a reason.

Shape (keys, types, allowed values) is checked against the rule schema
(:mod:`screener.ruleschema`), meaning by :mod:`screener.ruleparse`. Loading
collects every problem it finds (file, line, rule id) and raises them together
as :class:`~screener.errors.RuleErrors`; nothing is silently ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import ruleparse, ruleschema
from .errors import Location, RuleError, RuleErrors
from .model import CharMapping, Concept, Override, Pack, Rule, Term
from .normalize import Normalizer
from .taxonomy import Category, categories
from .yamlsrc import YList, YMap, load_yaml_file

DOCUMENT_KINDS = ("pack", "concepts", "charmap", "overrides")


@dataclass(frozen=True)
class PackSet:
    """Everything loaded from the rules paths, before compilation."""

    packs: tuple[Pack, ...]
    concepts: tuple[Concept, ...]  # shared concepts files (pack concepts live in their pack)
    charmap: tuple[CharMapping, ...]
    overrides: tuple[Override, ...]
    sources: tuple[tuple[str, str], ...]  # (path, sha256) of every file read
    hash: str  # one hash over all of it: recorded with every output
    # the taxonomy entries of the packs' categories (an office's own ones included), for the outputs
    categories: tuple[Category, ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for p in self.packs for r in p.rules)


def bundled_rules_dir() -> Path:
    """The packs shipped with the engine (installed copy, else the checkout's)."""
    here = Path(__file__).resolve().parent
    installed = here / "bundled_rules"
    if installed.is_dir() and any(installed.glob("*.yaml")):
        return installed
    return here.parent / "rules"


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(q for q in path.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise RuleError("no such rules file or directory", Location(str(path)))
    return out


def _shape_errors(doc: YMap, path: str) -> list[RuleError]:
    return list(ruleschema.validate(doc, path))


def parse_pack(
    doc: YMap,
    path: str,
    raw: bytes,
    normalizer: Normalizer,
    shared: dict[str, Concept] | None = None,
    taxonomy: Mapping[str, Category] | None = None,
    departments: Mapping[str, str] | None = None,
) -> tuple[Pack | None, list[RuleError]]:
    """One pack; ``taxonomy`` (default: the bundled one) and ``departments`` (a default name ->
    this office's, applied to the pack's list) come from the office's config (:mod:`screener.config`)."""
    errors = _shape_errors(doc, path)
    ctx = ruleparse.Context(path, normalizer, shared)
    code = doc["pack"]
    taxonomy = categories() if taxonomy is None else taxonomy
    rename = departments or {}
    if not isinstance(code, str) or code not in taxonomy:
        import difflib

        hint = difflib.get_close_matches(str(code), list(taxonomy), n=1)
        ctx.err(f"unknown category {code!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""), doc.line_of("pack"))
        return None, ctx.errors + errors
    outside_rules = [e for e in errors if e.location is None or e.location.rule_id is None]
    if outside_rules:
        return None, errors  # the pack's own keys are broken: its rules cannot be read safely
    skip = ruleschema.bad_rules(errors, doc)
    cat = taxonomy[code]
    legal = ruleparse.legal(ctx, doc.get("legal_basis"), doc.line_of("legal_basis"))
    named = ruleparse.as_tuple(doc.get("departments")) or cat.departments
    pack_departments = tuple(dict.fromkeys(rename.get(d, d) for d in named))
    missing = [d for d in cat.departments if d not in pack_departments]
    if missing:
        ctx.err(
            f"departments must include those the taxonomy names for {code}: {', '.join(missing)}",
            doc.line_of("departments"),
        )
    ruleparse.term_defaults(ctx, doc)
    concepts = ruleparse.parse_concepts(ctx, doc.get("concepts"), shared=False, known=shared or {})
    defaults = ruleparse.rule_defaults(doc)
    rules = []
    for i, node in enumerate(doc["rules"]):
        if i in skip:
            continue
        r = ruleparse.rule(ctx, node, code, doc["prefix"], defaults)
        if r is not None:
            rules.append(r)
    ctx.rule_id = None
    pack = Pack(
        category=code,
        name=doc.get("name", cat.name),
        prefix=doc["prefix"],
        version=doc.get("version", "1"),
        legal_basis=legal,
        departments=pack_departments,
        scope=cat.scope,
        rules=tuple(rules),
        description=str(doc.get("description") or ""),
        concepts=tuple(concepts.values()),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
    return pack, errors + ctx.errors


def parse_concepts_file(doc: YMap, path: str, normalizer: Normalizer, known: dict[str, Concept]):
    errors = _shape_errors(doc, path)
    if errors:
        return {}, errors
    ctx = ruleparse.Context(path, normalizer, known)
    found = ruleparse.parse_concepts(ctx, doc["concepts"], shared=True, known=known)
    return found, ctx.errors


def _next_line(items: YList, i: int) -> float:
    return items.line_of(i + 1) if i + 1 < len(items) else float("inf")


def parse_charmap(doc: YMap, path: str) -> tuple[list[CharMapping], list[RuleError]]:
    errors = _shape_errors(doc, path)
    if errors:
        return [], errors
    items: YList = doc["charmap"]
    return [
        CharMapping(source=m["from"], target=m["to"], reason=m["reason"], line=items.line_of(i))
        for i, m in enumerate(items)
    ], []


def parse_overrides(doc: YMap, path: str) -> tuple[list[Override], list[RuleError]]:
    errors = _shape_errors(doc, path)
    items = doc.get("overrides")
    if not isinstance(items, YList):
        return [], errors
    broken = {e.location.line for e in errors if e.location is not None and e.location.line is not None}
    out: list[Override] = []
    for i, item in enumerate(items):
        line = items.line_of(i)
        if not isinstance(item, YMap) or any(line <= b < _next_line(items, i) for b in broken):
            continue  # reported by the schema
        changes = ("disable", "severity", "score", "add_exclude", "departments")
        if not any(item.get(k) not in (None, False, []) for k in changes):
            errors.append(
                RuleError(
                    "override changes nothing: give disable, severity, score, add_exclude or departments",
                    Location(path, line, item["rule"]),
                )
            )
            continue
        out.append(
            Override(
                rule_id=item["rule"],
                reason=item["reason"].strip(),
                disable=item.get("disable", False),
                severity=item.get("severity"),
                score=item.get("score"),
                add_exclude=ruleparse.as_tuple(item.get("add_exclude")),
                departments=ruleparse.as_tuple(item.get("departments")),
                source=path,
                line=line,
            )
        )
    return out, errors


def apply_overrides(
    packs: Sequence[Pack], overrides: Sequence[Override], normalizer: Normalizer
) -> tuple[list[Pack], list[RuleError]]:
    """Return packs with overrides applied; an override naming no rule is an error."""
    errors: list[RuleError] = []
    by_rule: dict[str, list[Override]] = {}
    for o in overrides:
        by_rule.setdefault(o.rule_id, []).append(o)
    known = {r.id for p in packs for r in p.rules}
    for rid, os_ in by_rule.items():
        if rid not in known:
            for o in os_:
                errors.append(RuleError(f"override names unknown rule {rid!r}", Location(o.source, o.line, rid)))
    out = []
    for p in packs:
        rules = []
        for r in p.rules:
            disabled = False
            for o in by_rule.get(r.id, ()):
                if o.disable:
                    disabled = True
                    break
                if o.severity:
                    r = replace(r, severity=o.severity)
                if o.score is not None:
                    r = replace(r, score=o.score)
                if o.departments:
                    r = replace(r, departments=o.departments)
                if o.add_exclude:
                    ctx = ruleparse.Context(o.source, normalizer)
                    ctx.rule_id = r.id
                    anchors = r.terms + tuple(Term(text=x.anchor) for x in r.regexes)
                    for ex in o.add_exclude:
                        ruleparse.check_exclusion(ctx, ex, anchors, o.line)
                    errors.extend(ctx.errors)
                    r = replace(r, exclude=r.exclude + o.add_exclude)
            if not disabled:
                rules.append(r)
        out.append(replace(p, rules=tuple(rules)))
    return out, errors


def load_packs(
    paths: Iterable[str | Path] | None = None,
    overrides: Iterable[str | Path] = (),
    *,
    taxonomy: Mapping[str, Category] | None = None,
    departments: Mapping[str, str] | None = None,
) -> PackSet:
    """Load every pack (bundled ones when ``paths`` is None) and apply overrides.

    ``taxonomy`` (default: the bundled categories) and ``departments`` (default
    department names -> this office's) come from :mod:`screener.config`. Several
    packs may share a category (an office's own pack beside the bundled one).
    Raises :class:`RuleErrors` listing every problem found in every file.
    """
    files = rule_files([bundled_rules_dir()] if paths is None else list(paths))
    override_files = rule_files(list(overrides))
    docs: list[tuple[Path, Any, bytes]] = []
    errors: list[RuleError] = []
    for f in files + override_files:
        try:
            doc, raw = load_yaml_file(f)
        except RuleError as exc:
            errors.append(exc)
            continue
        docs.append((f, doc, raw))
    charmap: list[CharMapping] = []
    override_items: list[Override] = []
    by_kind: dict[str, list[tuple[Path, Any, bytes]]] = {k: [] for k in DOCUMENT_KINDS}
    for f, doc, raw in docs:
        kind = next((k for k in DOCUMENT_KINDS if isinstance(doc, YMap) and k in doc), None)
        if kind is None:
            line = doc.line if isinstance(doc, YMap) else 1
            errors.append(
                RuleError(
                    "expected a mapping starting with 'pack:', 'concepts:', 'charmap:' or 'overrides:'",
                    Location(str(f), line),
                )
            )
            continue
        by_kind[kind].append((f, doc, raw))
    for f, doc, _raw in by_kind["charmap"]:
        items, errs = parse_charmap(doc, str(f))
        charmap.extend(items)
        errors.extend(errs)
    for f, doc, _raw in by_kind["overrides"]:
        items2, errs = parse_overrides(doc, str(f))
        override_items.extend(items2)
        errors.extend(errs)
    seen_src: dict[str, CharMapping] = {}
    for m in charmap:
        if m.source in seen_src and seen_src[m.source].target != m.target:
            first = seen_src[m.source]
            errors.append(
                RuleError(
                    f"character {m.source!r} mapped twice (to {first.target!r} at line {first.line})",
                    Location("charmap", m.line),
                )
            )
        seen_src[m.source] = m
    normalizer = Normalizer(tuple(seen_src.values()))
    shared: dict[str, Concept] = {}
    for f, doc, _raw in by_kind["concepts"]:
        found, errs = parse_concepts_file(doc, str(f), normalizer, shared)
        shared.update(found)
        errors.extend(errs)
    packs: list[Pack] = []
    for f, doc, raw in by_kind["pack"]:
        pack, errs = parse_pack(doc, str(f), raw, normalizer, shared, taxonomy, departments)
        errors.extend(errs)
        if pack is not None:
            packs.append(pack)
    errors.extend(_cross_pack_errors(packs))
    packs, errs = apply_overrides(packs, override_items, normalizer)
    errors.extend(errs)
    if departments:  # rules and overrides may name departments too
        packs = [_rename_departments(p, departments) for p in packs]
    if errors:
        raise RuleErrors(errors)
    sources = tuple((str(f), hashlib.sha256(raw).hexdigest()) for f, _, raw in docs)
    digest = hashlib.sha256()
    for f, _, raw in sorted(docs, key=lambda d: d[0].name):
        digest.update(f.name.encode() + b"\0" + hashlib.sha256(raw).digest())
    if departments:  # an office's department names change the outputs too
        digest.update(repr(sorted(departments.items())).encode())
    tax = categories() if taxonomy is None else taxonomy
    return PackSet(
        packs=tuple(sorted(packs, key=lambda p: p.category)),
        concepts=tuple(shared.values()),
        charmap=tuple(seen_src.values()),
        overrides=tuple(override_items),
        sources=sources,
        hash=digest.hexdigest(),
        categories=tuple(tax[c] for c in sorted({p.category for p in packs})),
    )


def _rename_departments(pack: Pack, rename: Mapping[str, str]) -> Pack:
    def names(ds: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rename.get(d, d) for d in ds))

    rules = tuple(replace(r, departments=names(r.departments)) if r.departments else r for r in pack.rules)
    return replace(pack, departments=names(pack.departments), rules=rules)


def _cross_pack_errors(packs: Sequence[Pack]) -> list[RuleError]:
    errors = []
    seen_prefix: dict[str, Pack] = {}
    seen_rule: dict[str, Rule] = {}
    for p in packs:  # several packs may share a category (an office's own beside the bundled one)
        if p.prefix in seen_prefix and seen_prefix[p.prefix].category != p.category:
            errors.append(
                RuleError(f"prefix {p.prefix!r} already used by {seen_prefix[p.prefix].path}", Location(p.path, 1))
            )
        seen_prefix[p.prefix] = p
        for r in p.rules:
            if r.id in seen_rule:
                first = seen_rule[r.id].location
                errors.append(RuleError(f"duplicate rule id (first defined at {first})", r.location))
            seen_rule[r.id] = r
    return errors


def iter_terms(rule: Rule) -> Iterable[tuple[str, Term]]:
    """Every term a rule uses, with its role (anchor, with, without, adjust)."""
    for t in rule.terms:
        yield "anchor", t
    for role, conds in (("with", rule.with_), ("without", rule.without), ("adjust", rule.adjust)):
        for c in conds:
            for leaf in c.leaves():
                for t in leaf.terms:
                    yield role, t
            for u in c.unless:
                for leaf in u.leaves():
                    for t in leaf.terms:
                        yield "unless", t
