-- Every accounting update moves a session's updated_at, and with it its entry in an index on
-- (open, updated_at) that only the stale-session sweep used. The sweep walks open sessions by
-- id instead, on an index that changes only when a session opens or closes.
DROP INDEX radius_sessions_open_updated_idx;
CREATE INDEX radius_sessions_open_idx ON radius_sessions (open, id);
