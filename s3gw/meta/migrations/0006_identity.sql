-- Service accounts (access keys), temporary credentials (STS) and groups
-- (docs/operations.md: "Service accounts", "Groups", "Temporary credentials").

-- Every credential that signs requests lives in iam_users, so an access key is
-- unique across users, service accounts and temporary credentials (as MinIO's)
-- and a request's key is found with one lookup. ``kind`` says which:
--   user     a user (parent NULL);
--   svcacct  a service account / access key of ``parent`` (a user, or root's key);
--   sts      temporary credentials of ``parent`` (AssumeRole), gone after ``expires``.
-- ``expires``: seconds since the epoch, 0 for never. ``info`` (JSON): name,
-- description, the embedded or session policy (``policy``), and for sts the
-- SHA-256 of the session token (``token``; the token itself is never stored).
-- The secret stays sealed in secret_enc, as users' are (core/iam.py).
ALTER TABLE iam_users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';
ALTER TABLE iam_users ADD COLUMN parent TEXT;
ALTER TABLE iam_users ADD COLUMN expires DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE iam_users ADD COLUMN info TEXT NOT NULL DEFAULT '{}';
CREATE INDEX iam_users_parent ON iam_users (parent);
CREATE INDEX iam_users_kind_expires ON iam_users (kind, expires);

-- Groups: a status, policies attached to the group (comma-separated, as users'),
-- and members (users only). A member's effective policies are its own and those
-- of its enabled groups (core/iam.py).
CREATE TABLE iam_groups (
    name      TEXT PRIMARY KEY,
    status    TEXT NOT NULL DEFAULT 'enabled',
    policies  TEXT NOT NULL DEFAULT '',
    created   DOUBLE PRECISION NOT NULL,
    updated   DOUBLE PRECISION NOT NULL
);

CREATE TABLE iam_group_members (
    group_name  TEXT NOT NULL,
    access_key  TEXT NOT NULL,
    PRIMARY KEY (group_name, access_key)
);
CREATE INDEX iam_group_members_user ON iam_group_members (access_key);
