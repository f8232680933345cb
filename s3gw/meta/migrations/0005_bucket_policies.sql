-- Bucket policies (PutBucketPolicy): one JSON document per bucket, validated
-- and normalised by s3gw/core/policy.py before it is stored. Kept out of the
-- bucket row's config so a policy change never races a tag or lock-rule change
-- (those rewrite config whole), and so GetBucket stays small. DeleteBucket
-- removes the row in the same transaction as the bucket.
CREATE TABLE bucket_policies (
    bucket    TEXT PRIMARY KEY,
    document  TEXT NOT NULL,
    updated   DOUBLE PRECISION NOT NULL
);
