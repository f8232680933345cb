-- Cluster maintenance: write intents (orphan detection), a retryable heal
-- queue, and deferred GC of shards on drives that were down.

-- A shard set being written: recorded before the first shard is sent, removed
-- once its version commits (or the write is undone). An intent older than the
-- grace period whose data id no version references is an orphan: its shards
-- are deleted by the repair worker.
CREATE TABLE write_intents (
    data_id   TEXT PRIMARY KEY,
    placement TEXT NOT NULL,
    started   DOUBLE PRECISION NOT NULL
);
CREATE INDEX write_intents_by_start ON write_intents (started);

-- The heal queue becomes a retryable work list: one row per version
-- (degraded reads of the same object do not pile up), retried with backoff
-- while shards are on drives that are down, kept as 'failed' when the object
-- is unrecoverable (s3gw admin info shows them).
ALTER TABLE heal_queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE heal_queue ADD COLUMN not_before DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE heal_queue ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';
ALTER TABLE heal_queue ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
DELETE FROM heal_queue WHERE id NOT IN (SELECT MIN(id) FROM heal_queue GROUP BY bucket, key, version_id);
CREATE UNIQUE INDEX heal_queue_version ON heal_queue (bucket, key, version_id);
CREATE INDEX heal_queue_due ON heal_queue (state, not_before);

-- GC of a shard set whose drives were not all reachable is retried later.
ALTER TABLE gc_queue ADD COLUMN not_before DOUBLE PRECISION NOT NULL DEFAULT 0;
