-- Billing at scale and draft invoices: a row per billing run (the invoices it created point
-- at it, so a run's result is a paginated list instead of every invoice at once), the
-- per-tenant switch that makes runs create drafts, and the indexes the set-based run reads.

ALTER TABLE billing_settings ADD COLUMN draft_invoices BIGINT NOT NULL DEFAULT 0;

CREATE TABLE billing_runs (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    as_of TEXT NOT NULL,
    actor TEXT NOT NULL,
    drafts BIGINT NOT NULL,
    invoices BIGINT NOT NULL DEFAULT 0,
    total_minor BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX billing_runs_tenant_idx ON billing_runs (tenant_id, id);

ALTER TABLE invoices ADD COLUMN billing_run_id BIGINT REFERENCES billing_runs (id);
CREATE INDEX invoices_billing_run_idx ON invoices (tenant_id, billing_run_id, id);

-- The walk for due customers reads only this index, in customer order.
CREATE INDEX subscriptions_billing_idx ON subscriptions (tenant_id, customer_id, status, start_date, id);
-- "Is anything billed beyond this date?" for one subscription is one index seek.
CREATE INDEX billed_periods_end_idx ON billed_periods (tenant_id, subscription_id, period_end);
-- Customers with charges waiting, without walking every billed charge.
CREATE INDEX charges_waiting_idx ON charges (tenant_id, customer_id) WHERE invoice_id IS NULL;
