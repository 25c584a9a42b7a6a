-- Live events that cross processes. Every change a `changes` subscriber may see is written
-- here in the transaction that makes it, so it commits or rolls back with the change; each
-- process relays the rows written by the others to its own subscribers (core/src/relay.rs):
-- SQLite processes sharing the file poll by id, PostgreSQL ones are woken by NOTIFY.
-- AUTOINCREMENT: an id is never given twice, even after old rows are pruned, so a process's
-- cursor (the last id it relayed) stays valid.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    -- The process that wrote it (random per process): it has published the event already.
    origin BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX events_at_idx ON events (at);
