"""Rule regexes: RE2 (linear time, no backtracking) and their literal anchors.

A pack regex only runs on texts where its anchor — a literal every match must
contain — was already found by the automaton, so regexes cost nothing on the
vast majority of rows. RE2 refuses constructs that could backtrack
catastrophically (backreferences, lookaround), so no pattern can hang a scan.
"""

from __future__ import annotations

from functools import lru_cache

import re2

try:  # Python 3.11+
    import re._constants as _sre_c
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_c
    import sre_parse as _sre_parse

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are reported by us, with the rule's location


@lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> re2._Regexp:
    """Compile with RE2; a ValueError explains what RE2 refused."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        msg = exc.args[0] if exc.args else exc
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        raise ValueError(f"invalid regex {pattern!r}: {msg}") from None


def regex_set(patterns: list[str]):
    """One RE2 set over many patterns: a single pass tells which of them match a text."""
    rset = re2.Set.SearchSet(_OPTIONS)
    for p in patterns:
        rset.Add(p)
    rset.Compile()
    return rset


def required_literals(pattern: str) -> list[str] | None:
    """Literal runs that every match of ``pattern`` must contain.

    Returns None when the pattern cannot be analysed (RE2-only syntax); the
    rule must then name its anchor explicitly.
    """
    try:
        tree = _sre_parse.parse(pattern)
    except Exception:
        return None
    runs: list[str] = []
    _walk(list(tree), runs)
    return [r for r in runs if r]


def anchor_required(pattern: str, anchor: str) -> bool | None:
    """Whether every match of ``pattern`` contains ``anchor`` (None: cannot analyse).

    Understands sequences, groups, repeats with a minimum ≥ 1 and alternations
    (an anchor every branch requires is required).
    """
    try:
        tree = _sre_parse.parse(pattern)
    except Exception:
        return None
    return _requires(list(tree), anchor)


def _requires(items: list, anchor: str) -> bool:
    runs: list[str] = []
    _walk(items, runs)
    if any(anchor in r for r in runs):
        return True
    for op, av in items:
        if op is _sre_c.BRANCH:
            branches = av[1]
            if branches and all(_requires(list(b), anchor) for b in branches):
                return True
        elif op is _sre_c.SUBPATTERN:
            if _requires(list(av[-1]), anchor):
                return True
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[0] >= 1 and _requires(list(av[2]), anchor):
            return True
    return False


def branch_anchor(pattern: str) -> str | None:
    """The longest literal that every branch of an alternation requires, if any."""
    try:
        tree = list(_sre_parse.parse(pattern))
    except Exception:
        return None
    candidates: set[str] = set()

    def collect(items: list) -> None:
        runs: list[str] = []
        _walk(items, runs)
        for r in runs:
            for i in range(len(r)):
                for j in range(i + 1, min(len(r), i + 8) + 1):
                    candidates.add(r[i:j])
        for op, av in items:
            if op is _sre_c.BRANCH:
                for b in av[1]:
                    collect(list(b))
            elif op is _sre_c.SUBPATTERN:
                collect(list(av[-1]))

    collect(tree)
    good = [c for c in candidates if _requires(tree, c)]
    return max(good, key=lambda c: (len(c), c)) if good else None


def _walk(items: list, runs: list[str]) -> None:
    current: list[str] = []

    def flush() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    for op, av in items:
        if op is _sre_c.LITERAL:
            current.append(chr(av))
        elif op is _sre_c.SUBPATTERN:
            flush()
            _walk(list(av[-1]), runs)
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT):
            flush()
            lo, _hi, body = av
            if lo >= 1:
                _walk(list(body), runs)
        elif op in (_sre_c.AT,):
            continue  # ^ $ \b: zero-width, do not break a literal run
        else:
            flush()  # branches, classes, any: nothing required
    flush()
