-- Run-time configuration (mc admin config set|reset|history|restore; docs/operations.md
-- "Run-time configuration"): the values set through the admin API, each overriding the
-- start-up configuration of every gateway on this store, and the history of the changes.
CREATE TABLE config_kv (
    subsys   TEXT NOT NULL,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    updated  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (subsys, name)
);

-- One row per change: what was set (MinIO's history holds the KV text of each set), newest last.
CREATE TABLE config_history (
    id          {{ID}},
    restore_id  TEXT NOT NULL UNIQUE,
    created     DOUBLE PRECISION NOT NULL,
    data        TEXT NOT NULL
);
