-- The outbox: one row per message written by Enqueue, removed once delivered.
-- A queue table: small when healthy, every row inserted, updated once per
-- claim (a HOT update: no indexed column changes, and fillfactor leaves the
-- room on the page) and deleted. Autovacuum is made eager for it.
CREATE TABLE IF NOT EXISTS "analytics_outbox" (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    text        NOT NULL,
    type          text        NOT NULL,
    event         text        NOT NULL DEFAULT '',
    data          bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    claimed_until timestamptz,
    claimed_by    text,
    last_error    text
) WITH (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 50000
);

-- Messages that failed for good: refused by the endpoint, or out of relay
-- attempts. Kept for inspection and replay; purge them by failed_at.
CREATE TABLE IF NOT EXISTS "analytics_outbox_dead" (
    id          bigint      PRIMARY KEY,
    message_id  text        NOT NULL,
    type        text        NOT NULL,
    event       text        NOT NULL DEFAULT '',
    data        bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    attempts    integer     NOT NULL,
    reason      text        NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS "analytics_outbox_dead_failed_at" ON "analytics_outbox_dead" (failed_at);
