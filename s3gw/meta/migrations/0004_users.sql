-- Users, their policies, and deployment-wide settings (docs/operations.md).

-- One row per (non-root) user. The secret key is never stored in plain text:
-- SigV4 needs the secret itself to verify a signature (a one-way hash cannot
-- be used), so it is sealed with AES-256-GCM under a key derived from the root
-- credentials (s3gw/core/iam.py); key_id names that key, so a change of root
-- credentials is detected instead of yielding garbage.
CREATE TABLE iam_users (
    access_key  TEXT PRIMARY KEY,
    secret_enc  {{BLOB}} NOT NULL,
    key_id      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'enabled',
    policies    TEXT NOT NULL DEFAULT '',
    created     DOUBLE PRECISION NOT NULL,
    updated     DOUBLE PRECISION NOT NULL
);

-- Stored IAM policy documents (the canned ones are built in, not stored).
CREATE TABLE iam_policies (
    name      TEXT PRIMARY KEY,
    document  TEXT NOT NULL,
    created   DOUBLE PRECISION NOT NULL,
    updated   DOUBLE PRECISION NOT NULL
);

-- Deployment-wide switches every gateway follows (maintenance mode).
CREATE TABLE settings (
    name     TEXT PRIMARY KEY,
    value    TEXT NOT NULL,
    updated  DOUBLE PRECISION NOT NULL
);
