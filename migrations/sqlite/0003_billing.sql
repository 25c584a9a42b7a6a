-- Billing: settings, tax rates, gapless number sequences, invoices and their lines, the
-- billed-period guard, one-off charges, payments, allocations, refunds, gateway events and
-- dunning events. Money is BIGINT minor units, dates 'YYYY-MM-DD', instants Unix ms.

ALTER TABLE plans ADD COLUMN tax_class TEXT NOT NULL DEFAULT 'standard';

CREATE TABLE billing_settings (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants (id),
    billing_day BIGINT NOT NULL DEFAULT 0,
    mode TEXT NOT NULL DEFAULT 'PREPAID',
    payment_terms_days BIGINT NOT NULL DEFAULT 14,
    invoice_template TEXT NOT NULL DEFAULT 'INV-{YYYY}-{SEQ:5}',
    receipt_template TEXT NOT NULL DEFAULT 'RCT-{YYYY}-{SEQ:5}',
    credit_note_template TEXT NOT NULL DEFAULT 'CN-{YYYY}-{SEQ:5}',
    reminder_days_before BIGINT NOT NULL DEFAULT 3,
    overdue_after_days BIGINT NOT NULL DEFAULT 0,
    suspend_after_days BIGINT NOT NULL DEFAULT 7,
    webhook_secret_enc TEXT,
    brand_color TEXT NOT NULL DEFAULT '#1E66F5',
    legal_address TEXT,
    tax_id TEXT,
    payment_instructions TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE tax_rates (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    tax_class TEXT NOT NULL,
    name TEXT NOT NULL,
    rate_bp BIGINT NOT NULL,
    inclusive BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT tax_rates_tenant_class_key UNIQUE (tenant_id, tax_class)
);

-- One row per tenant, document kind and scope (the year for templates with {YYYY}); the
-- row is updated in the transaction that issues the document, so numbers have no gaps.
CREATE TABLE number_sequences (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    next_value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, scope)
);

CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL,
    number TEXT,
    status TEXT NOT NULL,
    issue_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    paid_minor BIGINT NOT NULL DEFAULT 0,
    original_invoice_id BIGINT,
    void_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT invoices_tenant_number_key UNIQUE (tenant_id, number)
);
CREATE INDEX invoices_tenant_customer_idx ON invoices (tenant_id, customer_id, id);
CREATE INDEX invoices_tenant_status_idx ON invoices (tenant_id, status, due_date);

CREATE TABLE invoice_lines (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    invoice_id BIGINT NOT NULL REFERENCES invoices (id),
    kind TEXT NOT NULL,
    subscription_id BIGINT,
    plan_id BIGINT,
    description TEXT NOT NULL,
    period_start TEXT,
    period_end TEXT,
    net_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    tax_rate_bp BIGINT NOT NULL,
    tax_inclusive BIGINT NOT NULL
);
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (invoice_id, id);

-- The guard that makes billing a subscription twice for one period impossible.
CREATE TABLE billed_periods (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    plan_id BIGINT NOT NULL,
    invoice_id BIGINT NOT NULL REFERENCES invoices (id),
    CONSTRAINT billed_periods_pkey PRIMARY KEY (tenant_id, subscription_id, period_start)
);
CREATE INDEX billed_periods_invoice_idx ON billed_periods (invoice_id);

CREATE TABLE charges (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    subscription_id BIGINT,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    tax_class TEXT NOT NULL,
    invoice_id BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX charges_pending_idx ON charges (tenant_id, customer_id, invoice_id);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    method TEXT NOT NULL,
    reference TEXT,
    amount_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    receipt_number TEXT NOT NULL,
    received_on TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT payments_tenant_receipt_key UNIQUE (tenant_id, receipt_number)
);
CREATE INDEX payments_tenant_customer_idx ON payments (tenant_id, customer_id, id);

CREATE TABLE payment_allocations (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    invoice_id BIGINT NOT NULL REFERENCES invoices (id),
    amount_minor BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX payment_allocations_payment_idx ON payment_allocations (payment_id);
CREATE INDEX payment_allocations_invoice_idx ON payment_allocations (invoice_id);

CREATE TABLE refunds (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    amount_minor BIGINT NOT NULL,
    reason TEXT NOT NULL,
    refunded_on TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);

-- One row per gateway event: a replayed webhook cannot record a second payment.
CREATE TABLE payment_gateway_events (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payment_id BIGINT REFERENCES payments (id),
    received_at BIGINT NOT NULL,
    CONSTRAINT payment_gateway_events_pkey PRIMARY KEY (tenant_id, provider, event_id)
);

-- Reminders, overdue notices, suspensions and reactivations, for a notifications feature.
CREATE TABLE dunning_events (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    invoice_id BIGINT NOT NULL DEFAULT 0,
    subscription_id BIGINT NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    notified_at BIGINT,
    CONSTRAINT dunning_events_once_key UNIQUE (tenant_id, kind, invoice_id, subscription_id)
);
CREATE INDEX dunning_events_tenant_idx ON dunning_events (tenant_id, id);
