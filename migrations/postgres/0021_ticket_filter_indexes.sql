-- The helpdesk's list filters that a desk uses on every page: by assignee (with or without
-- statuses), by priority and by category, newest first. Without these a page and its count
-- walked the tenant's tickets by creation time and read each row to test the filter: at
-- 100,000 tickets an agent's open tickets (1 in 150) meant ~7,500 rows per page of 50, and
-- counting the URGENT ones read rows until 1,001 matched (~14,000). Each index seeks to
-- the filter's value and serves the newest-first order (and oldest-first, walked backwards).
CREATE INDEX tickets_assignee_idx ON tickets (tenant_id, assignee_id, created_at, id);
CREATE INDEX tickets_priority_idx ON tickets (tenant_id, priority, created_at, id);
CREATE INDEX tickets_category_idx ON tickets (tenant_id, category_id, created_at, id);
