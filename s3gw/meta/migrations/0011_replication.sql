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
