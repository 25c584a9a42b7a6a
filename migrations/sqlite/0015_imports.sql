-- Bulk imports of customers with their subscriptions (core/src/import). An import is written
-- in chunks, each its own transaction, so that its progress is visible while it runs; every
-- customer and subscription it creates carries its id, so a failed import (or one staff roll
-- back) is removed as a whole.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    user_id BIGINT,
    actor TEXT NOT NULL,
    file_name TEXT NOT NULL,
    -- RUNNING, DONE, FAILED or ROLLED_BACK.
    status TEXT NOT NULL,
    on_duplicate TEXT NOT NULL,
    rows_total BIGINT NOT NULL,
    rows_done BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX imports_tenant_idx ON imports (tenant_id, id);

ALTER TABLE customers ADD COLUMN import_id BIGINT REFERENCES imports (id);
ALTER TABLE subscriptions ADD COLUMN import_id BIGINT REFERENCES imports (id);
CREATE INDEX customers_import_idx ON customers (tenant_id, import_id) WHERE import_id IS NOT NULL;
CREATE INDEX subscriptions_import_idx ON subscriptions (tenant_id, import_id) WHERE import_id IS NOT NULL;
