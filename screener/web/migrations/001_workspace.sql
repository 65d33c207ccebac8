-- The workbench's SQLite schema (one migration; applied on first start).
-- Decisions are keyed by (platform, item_id, text_hash): an unchanged listing
-- keeps its decision in later scans; a changed one shows up for re-review.

CREATE TABLE scans (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,          -- the input file as the user named it
    input_path   TEXT NOT NULL,          -- relative to the workspace
    outdir       TEXT NOT NULL,          -- relative to the workspace
    mapping      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'interrupted')),
    error        TEXT,
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    rows_read    INTEGER,
    rows_flagged INTEGER,
    hits         INTEGER,
    rules_hash   TEXT,
    summary      TEXT                     -- summary.json of the finished scan
);

-- One row per flagged listing of a scan, with the text an investigator reads.
CREATE TABLE leads (
    scan_id      INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    row_id       INTEGER NOT NULL,
    platform     TEXT NOT NULL,           -- '' when the export has none
    item_id      TEXT NOT NULL,
    text_hash    TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    shop_id      TEXT NOT NULL,
    shop_name    TEXT NOT NULL,
    url          TEXT NOT NULL,
    categories   TEXT NOT NULL,           -- ;-joined
    rule_ids     TEXT NOT NULL,           -- ;-joined
    departments  TEXT NOT NULL,           -- ;-joined
    max_severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    score        INTEGER NOT NULL,
    flagged      TEXT NOT NULL,           -- the flagged.parquet row, JSON
    hits         TEXT NOT NULL,           -- its hits.parquet rows, JSON
    PRIMARY KEY (scan_id, row_id)
);
CREATE INDEX leads_score ON leads (scan_id, score DESC);
CREATE INDEX leads_key ON leads (platform, item_id);

-- The decision in force for one version of a listing (the latest one written).
CREATE TABLE decisions (
    platform    TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    text_hash   TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('confirmed', 'dismissed', 'pending')),
    note        TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL DEFAULT '',
    rule_ids    TEXT NOT NULL DEFAULT '',  -- the rules that fired when it was decided
    scan_id     INTEGER,
    row_id      INTEGER,
    decided_at  TEXT NOT NULL,
    version     INTEGER NOT NULL,          -- decision_history.id of this decision
    PRIMARY KEY (platform, item_id, text_hash)
);

-- Every decision ever written, never updated: two reviewers deciding the same
-- lead at once both end up here, whichever of them wrote last.
CREATE TABLE decision_history (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    text_hash   TEXT NOT NULL,
    state       TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL DEFAULT '',
    rule_ids    TEXT NOT NULL DEFAULT '',
    scan_id     INTEGER,
    row_id      INTEGER,
    decided_at  TEXT NOT NULL,
    replaced    INTEGER                    -- the version this one replaced (NULL: first)
);
CREATE INDEX history_key ON decision_history (platform, item_id, text_hash);
