-- Data usage per bucket, kept current by the writes themselves (docs/metadata.md "Usage").
-- Every transaction that adds, removes or re-ranks versions appends its change to
-- usage_deltas (insert only: concurrent writers to one bucket never wait on a counter
-- row); a fold moves the deltas into bucket_usage now and then. Usage is bucket_usage
-- plus the deltas not folded yet: exact at any moment, and its cost grows with the
-- number of buckets and pending deltas, never with the number of objects.
CREATE TABLE bucket_usage (
    bucket          TEXT PRIMARY KEY,
    objects         BIGINT NOT NULL DEFAULT 0,     -- latest versions that are not delete markers
    bytes           BIGINT NOT NULL DEFAULT 0,     -- their sizes
    versions        BIGINT NOT NULL DEFAULT 0,     -- every version, delete markers included
    delete_markers  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE usage_deltas (
    id              {{ID}},
    bucket          TEXT NOT NULL,
    objects         BIGINT NOT NULL,
    bytes           BIGINT NOT NULL,
    versions        BIGINT NOT NULL,
    delete_markers  BIGINT NOT NULL
);

-- what the store holds when this migration runs: counted once
INSERT INTO bucket_usage (bucket, objects, bytes, versions, delete_markers)
SELECT v.bucket,
       COALESCE(SUM(CASE WHEN v.is_latest = 1 AND v.delete_marker = 0 THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN v.is_latest = 1 AND v.delete_marker = 0 THEN v.size ELSE 0 END), 0),
       COUNT(*),
       COALESCE(SUM(v.delete_marker), 0)
FROM versions v GROUP BY v.bucket;
