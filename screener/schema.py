"""The output contract: column names and Arrow types of every output.

Reports and downstream tools key on these names; change them only with a
major version.
"""

from __future__ import annotations

import pyarrow as pa

from .model import CANONICAL_FIELDS, NUMERIC_FIELDS

#: A context span of a hit (a with/adjust condition's words, which concept they belong to).
SUPPORT_TYPE = pa.struct(
    [
        ("role", pa.string()),
        ("concept", pa.string()),
        ("field", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("matched", pa.string()),
    ]
)

#: Where a hit in ``image_text`` was read: the image (as the listing names it, the file read, its
#: position in the listing's images from 0, its SHA-256), the OCR line and its box in pixels.
IMAGE_EVIDENCE_TYPE = pa.struct(
    [
        ("index", pa.int32()),
        ("path", pa.string()),
        ("file", pa.string()),
        ("sha256", pa.string()),
        ("line", pa.string()),
        ("x0", pa.int32()),
        ("y0", pa.int32()),
        ("x1", pa.int32()),
        ("y1", pa.int32()),
        ("confidence", pa.float64()),
    ]
)

#: One row per hit, as scan_batch returns it. The first twelve columns are the published contract.
HITS_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("category", pa.string()),
        ("rule_id", pa.string()),
        ("severity", pa.string()),
        ("score", pa.int32()),
        ("field", pa.string()),
        ("term", pa.string()),
        ("matched", pa.string()),
        ("start", pa.int32()),  # character offsets in the ORIGINAL field text
        ("end", pa.int32()),
        ("snippet", pa.string()),
        ("normalizations", pa.string()),  # comma-separated; empty = literal match
        ("rule_name", pa.string()),
        ("row_id", pa.int64()),  # the listing's position in the scan's input
        # the context spans that made the rule fire: with-conditions and score adjustments
        ("support", pa.list_(SUPPORT_TYPE)),
    ]
)

#: hits.parquet (and every engine's hits): HITS_SCHEMA — what the scan core returns — and, at
#: the end, where a hit in image_text was read (screener.ocr.evidence; null for other fields).
#: Kept apart from HITS_SCHEMA so that the scan core knows nothing about images.
HITS_OUTPUT_SCHEMA = HITS_SCHEMA.append(pa.field("image", IMAGE_EVIDENCE_TYPE))

#: One row per flagged listing.
FLAGGED_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("title", pa.string()),
        ("shop_id", pa.string()),
        ("shop_name", pa.string()),
        ("url", pa.string()),
        ("categories", pa.string()),  # ;-separated category codes
        ("rule_ids", pa.string()),  # ;-separated
        ("max_severity", pa.string()),
        ("score", pa.int32()),
        ("legal_basis", pa.string()),
        ("departments", pa.string()),
        ("evidence", pa.string()),
        ("platform", pa.string()),
        ("row_id", pa.int64()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
    ]
)

REJECT_COLUMNS = ("source_file", "row", "reason", "raw")

#: Columns the readers attach to every batch besides the canonical ones.
ROW_ID, SOURCE_FILE, SOURCE_ROW = "row_id", "source_file", "source_row"

#: The canonical input batch: every canonical column, then provenance.
INPUT_SCHEMA = pa.schema(
    [(name, pa.float64() if name in NUMERIC_FIELDS else pa.string()) for name in CANONICAL_FIELDS]
    + [(ROW_ID, pa.int64()), (SOURCE_FILE, pa.string()), (SOURCE_ROW, pa.int64())]
)
