"""Mapping an export's headers and values onto the canonical listing columns."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from ..errors import InputError, Location
from ..model import CANONICAL_FIELDS, REQUIRED_FIELDS

_PUNCT = re.compile(r"[\s_\-·.:：()（）\[\]【】/]+")


@lru_cache(maxsize=4096)  # the same few dozen headers, file after file and request after request
def _key(header: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", str(header)).lower())


LISTING_STATUS = "listing_status"  # carried beside the canonical columns, for screener diff


@lru_cache(maxsize=1)
def _document() -> dict:
    return yaml.safe_load(resources.files("screener.data").joinpath("columns.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _aliases() -> tuple[dict[str, str], dict[str, str]]:
    doc = _document()
    headers = {_key(c): c for c in CANONICAL_FIELDS}
    for canonical, names in doc["headers"].items():
        for n in names:
            headers.setdefault(_key(n), canonical)
    seller = {}
    for canonical, names in doc["seller_types"].items():
        seller[_key(canonical)] = canonical
        for n in names:
            seller[_key(n)] = canonical
    return headers, seller


def parse_map_options(items: Iterable[str]) -> dict[str, str]:
    """``["商品标题=title", ...]`` → {source header: canonical column}."""
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--map expects SOURCE=canonical, got {item!r}")
        src, dst = (s.strip() for s in item.rsplit("=", 1))
        if dst not in CANONICAL_FIELDS:
            raise InputError(f"--map {item!r}: {dst!r} is not a canonical column ({', '.join(CANONICAL_FIELDS)})")
        out[src] = dst
    return out


@dataclass(frozen=True)
class ColumnMapping:
    """How one file's columns become canonical: source index per canonical name."""

    sources: dict[str, int]  # canonical -> column index in the file
    headers: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    status: int | None = None  # the listing-status column (商品状态), if the export has one

    def source_name(self, canonical: str) -> str:
        return self.headers[self.sources[canonical]]

    @property
    def columns(self) -> dict[str, int]:
        """Every column read: the canonical ones and the listing status."""
        return self.sources if self.status is None else {**self.sources, LISTING_STATUS: self.status}


#: How to name a column in an error: the CLI's option, and the keyword of the Python API.
MAP_HINT = "map them with --map SOURCE={field} (in Python: mapping={{'SOURCE': '{field}'}})"


def map_headers(
    headers: Sequence[str], explicit: Mapping[str, str] | None = None, path: str = "", *, hint: str = MAP_HINT
) -> ColumnMapping:
    """Resolve headers; a missing required column is an :class:`InputError` naming the file.

    ``hint`` tells how to map a column (``{field}`` is the missing one).
    """
    known, _ = _aliases()
    explicit = dict(explicit or {})
    explicit_keys = {_key(k): v for k, v in explicit.items()}
    sources: dict[str, int] = {}
    notes: list[str] = []
    # explicit mappings first, then exact canonical names, then aliases
    for priority in ("explicit", "exact", "alias"):
        for i, h in enumerate(headers):
            k = _key(h)
            if priority == "explicit":
                target = explicit.get(h) or explicit_keys.get(k)
            elif priority == "exact":
                target = h.strip() if h.strip() in CANONICAL_FIELDS else None
            else:
                target = known.get(k)
            if target is None or i in sources.values():
                continue
            if target in sources:
                if priority == "alias":
                    notes.append(f"column {h!r} also looks like {target}; using {headers[sources[target]]!r}")
                continue
            sources[target] = i
    missing = [c for c in REQUIRED_FIELDS if c not in sources]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)}; found columns: "
            f"{', '.join(map(str, headers)) or '(none)'} — name them, or {hint.format(field=missing[0])}",
            Location(path, 1),
        )
    used = set(sources.values())
    status_keys = {_key(n) for n in _document().get("listing_status", ())}
    status = next((i for i, h in enumerate(headers) if i not in used and _key(h) in status_keys), None)
    if status is not None:
        used.add(status)
    ignored = tuple(str(h) for i, h in enumerate(headers) if i not in used)
    return ColumnMapping(
        sources=sources, headers=tuple(str(h) for h in headers), ignored=ignored, notes=tuple(notes), status=status
    )


@lru_cache(maxsize=4096)
def is_offline(status: str | None) -> bool:
    """Whether a listing-status value (已下架, 仓库中 …) means the listing is off sale."""
    if status is None or not status.strip():
        return False
    return _key(status) in {_key(v) for v in _document().get("offline_statuses", ())}


def canonical_seller_type(value: str | None) -> str | None:
    """企业店 → enterprise, 个人 → natural_person …; unknown values pass through."""
    if value is None:
        return None
    _, seller = _aliases()
    v = value.strip()
    return seller.get(_key(v), v) if v else v
