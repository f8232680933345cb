-- Lifecycle (docs/data-management.md). The rules themselves live in the bucket's
-- config (the "lifecycle" entry, read with the bucket record every gateway caches);
-- this migration adds what the lifecycle worker needs to find due work with index
-- range scans instead of a walk of every version:

-- current versions (and delete markers that are latest) of a bucket by age: Expiration
-- Days/Date and ExpiredObjectDeleteMarker read the oldest first, below a cutoff
CREATE INDEX versions_latest_by_mtime ON versions (bucket, mtime) WHERE is_latest = 1;
-- noncurrent versions by age: NoncurrentVersionExpiration reads those older than its
-- cutoff (a version became noncurrent after it was written: its successor's time, found
-- through versions_by_seq, is later than its own)
CREATE INDEX versions_noncurrent_by_mtime ON versions (bucket, mtime) WHERE is_latest = 0;
-- multipart uploads by age, every bucket: the server-wide expiry of stale uploads
CREATE INDEX uploads_by_initiated ON uploads (initiated);

-- One applier per bucket at a time, whatever the number of gateways: a gateway takes
-- a bucket's lease (a compare-and-set on this row), applies its rules, and renews the
-- lease while it works; a lease not renewed before it expires (a gateway that died)
-- is taken over by the next gateway that asks. name: a bucket, or "*uploads" for the
-- server-wide stale-upload sweep.
CREATE TABLE lifecycle_leases (
    name      TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    expires   DOUBLE PRECISION NOT NULL,
    last_pass DOUBLE PRECISION NOT NULL DEFAULT 0
);
