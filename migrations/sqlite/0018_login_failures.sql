-- The helpdesk's check for subscribers whose logins keep failing reads the recent rejects of
-- a tenant by time; accepted logins (most of the log) stay out of this index.
CREATE INDEX auth_log_rejects_idx ON auth_log (tenant_id, at) WHERE result = 'REJECT';
-- A subscription's tickets (the check looks for the last resolved one of a cause).
CREATE INDEX tickets_subscription_idx ON tickets (tenant_id, subscription_id, id);
