-- Bucket replication (docs/data-management.md "Replication").
--
-- The remote targets a source bucket replicates to, by their ARN
-- (arn:minio:replication::ID:BUCKET): the endpoint, the remote bucket, the access key
-- and the secret sealed under the root credentials, as JSON (core/replication.py).
-- The rules themselves live in the bucket's config, like lifecycle rules.
CREATE TABLE replication_targets (
    arn         TEXT PRIMARY KEY,
    bucket      TEXT NOT NULL,
    doc         TEXT NOT NULL,
    created     DOUBLE PRECISION NOT NULL
);
CREATE INDEX replication_targets_bucket ON replication_targets (bucket);

-- The replication queue: one row per version, target and operation ('put' a version,
-- 'marker' a delete marker, 'delete' a version's deletion), inserted by the transaction
-- that makes the change (put, copy, complete, delete), so a row exists exactly when its
-- change committed; or by a resync. The worker (core/replicate.py) takes the due rows
-- that are first in line for their key and target (so a key's changes reach a target
-- in order), leases them by moving not_before on, copies, then deletes them; a failure
-- retries with backoff, and after the configured attempts the row stays as 'dead'.
CREATE TABLE replication_queue (
    id          {{ID}},
    bucket      TEXT NOT NULL,
    key         {{BLOB}} NOT NULL,
    version_id  TEXT NOT NULL,
    target      TEXT NOT NULL,
    op          TEXT NOT NULL,
    size        BIGINT NOT NULL DEFAULT 0,
    created     DOUBLE PRECISION NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  DOUBLE PRECISION NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'pending',
    last_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX replication_queue_due ON replication_queue (state, not_before);
CREATE INDEX replication_queue_key ON replication_queue (bucket, key, target, id);
