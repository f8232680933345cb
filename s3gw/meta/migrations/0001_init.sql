-- Buckets, object versions and the background queues.
-- Keys are stored as bytes (BLOB / bytea) so ordering is UTF-8 binary order.
-- {{BLOB}} and {{ID}} are filled in per backend (see s3gw/meta/migrate.py).
CREATE TABLE buckets (
    name        TEXT PRIMARY KEY,
    created     DOUBLE PRECISION NOT NULL,
    versioning  TEXT NOT NULL DEFAULT '',
    object_lock INTEGER NOT NULL DEFAULT 0,
    config      TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE versions (
    bucket        TEXT NOT NULL,
    key           {{BLOB}} NOT NULL,
    version_id    TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    is_latest     INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL DEFAULT 0,
    size          BIGINT NOT NULL DEFAULT 0,
    etag          TEXT NOT NULL DEFAULT '',
    mtime         DOUBLE PRECISION NOT NULL,
    info          TEXT NOT NULL DEFAULT '{}',
    layout        TEXT,
    inline_data   {{BLOB}},
    PRIMARY KEY (bucket, key, version_id)
);
-- newest version of a key first: ListObjectVersions and "find the latest"
CREATE INDEX versions_by_seq ON versions (bucket, key, seq);
-- ListObjects walks only live latest versions: an index range scan
CREATE INDEX versions_live ON versions (bucket, key) WHERE is_latest = 1 AND delete_marker = 0;

-- shard sets no longer referenced (overwritten, deleted, aborted): removed by the GC worker
CREATE TABLE gc_queue (
    id        {{ID}},
    layout    TEXT NOT NULL,
    queued_at DOUBLE PRECISION NOT NULL
);

-- shard sets found degraded on read or write: rebuilt by the healer
CREATE TABLE heal_queue (
    id        {{ID}},
    bucket    TEXT NOT NULL,
    key       {{BLOB}} NOT NULL,
    version_id TEXT NOT NULL,
    reason    TEXT NOT NULL DEFAULT '',
    queued_at DOUBLE PRECISION NOT NULL
);
