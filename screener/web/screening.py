"""Screening listings given as JSON objects: what ``POST /api/v1/screen`` does, callable from Python."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from ..api import scan_table
from ..compile import RuleSet
from ..errors import InputError, Location
from ..model import CANONICAL_FIELDS
from ..schema import HITS_OUTPUT_SCHEMA, INPUT_SCHEMA

#: The canonical listing columns with their Arrow types (what a request's listings may carry).
LISTING_SCHEMA = pa.schema([INPUT_SCHEMA.field(name) for name in CANONICAL_FIELDS])
HIT_COLUMNS = tuple(HITS_OUTPUT_SCHEMA.names)

#: A compiled rule set's automata are not safe to use from two threads at once (hyperscan's scratch
#: space is per automaton): scans in one server process take turns. The GIL would serialize most of
#: the work anyway; more throughput comes from more processes (``--workers``).
ENGINE_LOCK = threading.Lock()


def screen_listings(listings: Sequence[Mapping[str, Any]], ruleset: RuleSet) -> list[dict]:
    """Scan listings (canonical column names) and return one result per listing, in order.

    Each result: ``item_id``, ``flagged``, ``max_severity``, ``score``,
    ``categories`` (list) and ``hits`` — rows with exactly the columns of
    hits.parquet, ``row_id`` being the listing's position in ``listings``. The
    same rows scanned by ``screener scan`` give the same hits.
    """
    if not listings:
        return []
    rows = [{**x, "item_id": None if x.get("item_id") is None else str(x["item_id"])} for x in listings]
    table = pa.Table.from_pylist(rows, schema=LISTING_SCHEMA)
    with ENGINE_LOCK:
        res = scan_table(table, ruleset)
    if res.rejects:  # the API's models refuse an empty item_id before this; a library caller may not
        r = res.rejects[0]
        raise InputError(f"listing {(r.row or 1) - 1}: {r.reason}", Location("listings", column="item_id"))
    by_row: dict[int, list[dict]] = defaultdict(list)
    for h in res.hits.to_pylist():
        by_row[h["row_id"]].append(h)
    flagged = {
        r["row_id"]: r for r in res.flagged.select(["row_id", "max_severity", "score", "categories"]).to_pylist()
    }
    out = []
    for i, listing in enumerate(listings):
        f = flagged.get(i)
        out.append(
            {
                "item_id": str(listing["item_id"]),
                "flagged": f is not None,
                "max_severity": f["max_severity"] if f else None,
                "score": int(f["score"]) if f else 0,
                "categories": f["categories"].split(";") if f and f["categories"] else [],
                "hits": by_row.get(i, []),
            }
        )
    return out
