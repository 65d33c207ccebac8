"""Typed request and response bodies of the screening API (they make its OpenAPI document).

The listing and hit models are built from :mod:`screener.schema`: a column
added to the canonical listing or to hits.parquet appears in the API without
an edit here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pyarrow as pa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema, create_model

from ..model import CANONICAL_FIELDS, NUMERIC_FIELDS, REQUIRED_FIELDS
from ..schema import HITS_OUTPUT_SCHEMA

#: A text field longer than this is refused (a listing is a few KB; this is ~1,000× that).
MAX_FIELD_CHARS = 1_000_000


def _id_text(v: Any) -> Any:
    # ids are often numbers in JSON exports; kept as text, as the file readers do (bool is no id)
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


ItemId = Annotated[
    str,
    BeforeValidator(_id_text),
    StringConstraints(min_length=1, max_length=1000, pattern=r"\S"),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 1000, "pattern": r"\S"}, {"type": "integer"}]}
    ),
]


def _listing_fields() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in CANONICAL_FIELDS:
        if name in NUMERIC_FIELDS:
            out[name] = (float | None, Field(default=None, allow_inf_nan=False))
        elif name == "item_id":
            out[name] = (ItemId, ...)
        elif name in REQUIRED_FIELDS:
            out[name] = (str, Field(max_length=MAX_FIELD_CHARS))
        else:
            out[name] = (str | None, Field(default=None, max_length=MAX_FIELD_CHARS))
    return out


Listing = create_model(
    "Listing",
    __config__=ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"example": {"item_id": "1", "title": "象牙手镯"}}
    ),
    **_listing_fields(),
)
Listing.__doc__ = "One listing in canonical column names (only item_id and title are required)."


def _py_type(t: pa.DataType, name: str) -> Any:
    """The Python type of an Arrow column, nested types included (a struct becomes a model)."""
    if pa.types.is_integer(t):
        return int | None
    if pa.types.is_floating(t):
        return float | None
    if pa.types.is_boolean(t):
        return bool | None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return list[_py_type(t.value_type, name)] | None  # type: ignore[misc]
    if pa.types.is_struct(t):
        return create_model(f"Hit_{name}", **_model_fields(t, f"{name}_")) | None
    return str | None


def _model_fields(fields: pa.Schema | pa.StructType, prefix: str = "") -> dict[str, Any]:
    """create_model's field definitions for Arrow fields: every one required, nullable or not."""
    return {f.name: (_py_type(f.type, f"{prefix}{f.name}"), ...) for f in fields}


Hit = create_model("Hit", **_model_fields(HITS_OUTPUT_SCHEMA))
Hit.__doc__ = "One hit, with exactly the columns of hits.parquet (row_id = the listing's position in the request)."


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listings: list[Listing] = Field(min_length=1)  # type: ignore[valid-type]


def screen_request(max_listings: int) -> type[ScreenRequest]:
    """The request model with the server's listing limit in it (so the OpenAPI document states it)."""
    return create_model(
        "ScreenRequest",
        __base__=ScreenRequest,
        listings=(list[Listing], Field(min_length=1, max_length=max_listings)),  # type: ignore[valid-type]
    )


class ScreenResult(BaseModel):
    item_id: str
    flagged: bool
    max_severity: Literal["low", "medium", "high"] | None
    score: int
    categories: list[str]
    hits: list[Hit]  # type: ignore[valid-type]


class ScreenResponse(BaseModel):
    results: list[ScreenResult]
    rules_hash: str
    engine_version: str


class PackInfo(BaseModel):
    category: str
    version: str
    rules: int
    sha256: str
    file: str
    departments: list[str]


class RulesResponse(BaseModel):
    hash: str
    backend: str
    generation: int
    loaded_at: str
    engine_version: str
    packs: list[PackInfo]
    overrides: list[dict[str, Any]]
    last_reload_error: str | None = None


class ReloadResponse(BaseModel):
    reloaded: bool
    hash: str
    generation: int
    previous_hash: str


class Health(BaseModel):
    status: Literal["ok"]
    rules_hash: str
    generation: int


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
