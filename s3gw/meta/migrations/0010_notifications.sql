-- Bucket notifications (docs/data-management.md "Bucket notifications").
--
-- A bucket's notification configuration, as JSON (the rules core/notify.py parses and
-- matches); a bucket without one has no row.
CREATE TABLE bucket_notifications (
    bucket      TEXT PRIMARY KEY,
    config      TEXT NOT NULL,
    updated     DOUBLE PRECISION NOT NULL
);

-- The outbox: one row per event and target, inserted by the transaction that changes
-- the object (put, copy, complete, delete), so an event exists exactly when its change
-- committed. The sender takes due rows (state 'pending', not_before passed), leases
-- them by moving not_before on, delivers, then deletes them; a failure retries with
-- backoff, and after the configured attempts the row stays as 'dead' (counted, shown).
CREATE TABLE notify_outbox (
    id          {{ID}},
    target      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created     DOUBLE PRECISION NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  DOUBLE PRECISION NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'pending',
    last_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notify_outbox_due ON notify_outbox (state, not_before);
