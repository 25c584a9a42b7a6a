-- Counts of the desk's queues (measured on the benchmark's 100,000 tickets, 2,300 open): an
-- agent's open tickets were counted by walking all of the agent's tickets (40,000 for the
-- busiest) to test each status, 14.7 ms; breached tickets by walking the tenant's tickets
-- until 1,001 matched, 2 ms; breached and open through the breached flag, 7 ms. These indexes
-- let each count (and the breached page, newest or oldest first) read only the index entries
-- that match: 0.06-0.1 ms each.
CREATE INDEX tickets_assignee_status_idx ON tickets (tenant_id, assignee_id, status);
CREATE INDEX tickets_breached_idx ON tickets (tenant_id, breached, created_at, id);
CREATE INDEX tickets_status_breached_idx ON tickets (tenant_id, status, breached);
