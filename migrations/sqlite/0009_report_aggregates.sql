-- The billing dashboard's aggregates (core/src/billing/reports.rs), kept exact by triggers so
-- that a report reads a few rows per plan and day instead of every subscription, invoice line,
-- invoice and payment of the tenant. Each row carries the count of source rows it sums; a row
-- whose count reaches zero is deleted, so the reports show what the source rows would show.
--
-- What counts, as the reports always read it:
-- - an invoice counts (revenue, invoiced) when kind = 'INVOICE' and its status is not VOID or
--   DRAFT, on its issue date;
-- - an invoice is open (receivables) when kind = 'INVOICE' and its status is ISSUED,
--   PARTIALLY_PAID or OVERDUE, for total - paid, on its due date;
-- - a subscription line (kind 'SUBSCRIPTION' with a plan) counts while its invoice counts;
-- - a payment counts on the day it was received, less what was refunded of it.
--
-- Every trigger changes its aggregate by the difference between the row before and after, one
-- upsert by key per row (SQLite fires row triggers only; the PostgreSQL migration does the same
-- per statement). Invoice lines reference their invoice (a foreign key), so an invoice has no
-- lines when it is inserted or deleted; when it starts or stops counting, or its issue date
-- changes, its lines move with it.

-- ACTIVE subscriptions per plan (MRR).
CREATE TABLE report_plan_subscriptions (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    plan_id BIGINT NOT NULL,
    subscriptions BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plan_id)
) WITHOUT ROWID;

-- Subscription revenue (net) and lines per issue date and plan (revenue by plan).
CREATE TABLE report_plan_revenue_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    plan_id BIGINT NOT NULL,
    net_minor BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, plan_id)
) WITHOUT ROWID;

-- Invoiced totals per issue date (collections).
CREATE TABLE report_invoiced_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    invoices BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day)
) WITHOUT ROWID;

-- Money received per day, less refunds (collections).
CREATE TABLE report_collected_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    payments BIGINT NOT NULL,
    collected_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day)
) WITHOUT ROWID;

-- What open invoices still owe per due date (ageing).
CREATE TABLE report_receivables (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    due_date TEXT NOT NULL,
    invoices BIGINT NOT NULL,
    open_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, due_date)
) WITHOUT ROWID;

-- Subscriptions.
CREATE TRIGGER subscriptions_report_ai AFTER INSERT ON subscriptions WHEN new.status = 'ACTIVE' BEGIN
    INSERT INTO report_plan_subscriptions (tenant_id, plan_id, subscriptions) VALUES (new.tenant_id, new.plan_id, 1)
    ON CONFLICT (tenant_id, plan_id) DO UPDATE SET subscriptions = subscriptions + excluded.subscriptions;
END;
CREATE TRIGGER subscriptions_report_au AFTER UPDATE OF tenant_id, plan_id, status ON subscriptions
WHEN (old.status = 'ACTIVE' OR new.status = 'ACTIVE')
    AND (old.status <> new.status OR old.plan_id <> new.plan_id OR old.tenant_id <> new.tenant_id) BEGIN
    INSERT INTO report_plan_subscriptions (tenant_id, plan_id, subscriptions)
    SELECT old.tenant_id, old.plan_id, -1 WHERE old.status = 'ACTIVE'
    ON CONFLICT (tenant_id, plan_id) DO UPDATE SET subscriptions = subscriptions + excluded.subscriptions;
    INSERT INTO report_plan_subscriptions (tenant_id, plan_id, subscriptions)
    SELECT new.tenant_id, new.plan_id, 1 WHERE new.status = 'ACTIVE'
    ON CONFLICT (tenant_id, plan_id) DO UPDATE SET subscriptions = subscriptions + excluded.subscriptions;
    DELETE FROM report_plan_subscriptions WHERE tenant_id = old.tenant_id AND plan_id = old.plan_id AND subscriptions = 0;
END;
CREATE TRIGGER subscriptions_report_ad AFTER DELETE ON subscriptions WHEN old.status = 'ACTIVE' BEGIN
    INSERT INTO report_plan_subscriptions (tenant_id, plan_id, subscriptions) VALUES (old.tenant_id, old.plan_id, -1)
    ON CONFLICT (tenant_id, plan_id) DO UPDATE SET subscriptions = subscriptions + excluded.subscriptions;
    DELETE FROM report_plan_subscriptions WHERE tenant_id = old.tenant_id AND plan_id = old.plan_id AND subscriptions = 0;
END;

-- Invoices: invoiced totals.
CREATE TRIGGER invoices_report_invoiced_ai AFTER INSERT ON invoices
WHEN new.kind = 'INVOICE' AND new.status NOT IN ('VOID', 'DRAFT') BEGIN
    INSERT INTO report_invoiced_days (tenant_id, day, invoices, total_minor) VALUES (new.tenant_id, new.issue_date, 1, new.total_minor)
    ON CONFLICT (tenant_id, day) DO UPDATE SET invoices = invoices + excluded.invoices, total_minor = total_minor + excluded.total_minor;
END;
CREATE TRIGGER invoices_report_invoiced_au AFTER UPDATE OF tenant_id, kind, status, issue_date, total_minor ON invoices
WHEN (old.kind = 'INVOICE' AND old.status NOT IN ('VOID', 'DRAFT')) <> (new.kind = 'INVOICE' AND new.status NOT IN ('VOID', 'DRAFT'))
    OR (new.kind = 'INVOICE' AND new.status NOT IN ('VOID', 'DRAFT') AND (old.tenant_id <> new.tenant_id
        OR old.issue_date <> new.issue_date OR old.total_minor <> new.total_minor)) BEGIN
    INSERT INTO report_invoiced_days (tenant_id, day, invoices, total_minor)
    SELECT old.tenant_id, old.issue_date, -1, -old.total_minor WHERE old.kind = 'INVOICE' AND old.status NOT IN ('VOID', 'DRAFT')
    ON CONFLICT (tenant_id, day) DO UPDATE SET invoices = invoices + excluded.invoices, total_minor = total_minor + excluded.total_minor;
    INSERT INTO report_invoiced_days (tenant_id, day, invoices, total_minor)
    SELECT new.tenant_id, new.issue_date, 1, new.total_minor WHERE new.kind = 'INVOICE' AND new.status NOT IN ('VOID', 'DRAFT')
    ON CONFLICT (tenant_id, day) DO UPDATE SET invoices = invoices + excluded.invoices, total_minor = total_minor + excluded.total_minor;
    DELETE FROM report_invoiced_days WHERE tenant_id = old.tenant_id AND day = old.issue_date AND invoices = 0;
END;
CREATE TRIGGER invoices_report_invoiced_ad AFTER DELETE ON invoices
WHEN old.kind = 'INVOICE' AND old.status NOT IN ('VOID', 'DRAFT') BEGIN
    INSERT INTO report_invoiced_days (tenant_id, day, invoices, total_minor) VALUES (old.tenant_id, old.issue_date, -1, -old.total_minor)
    ON CONFLICT (tenant_id, day) DO UPDATE SET invoices = invoices + excluded.invoices, total_minor = total_minor + excluded.total_minor;
    DELETE FROM report_invoiced_days WHERE tenant_id = old.tenant_id AND day = old.issue_date AND invoices = 0;
END;

-- Invoices: receivables.
CREATE TRIGGER invoices_report_receivables_ai AFTER INSERT ON invoices
WHEN new.kind = 'INVOICE' AND new.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') BEGIN
    INSERT INTO report_receivables (tenant_id, due_date, invoices, open_minor)
    VALUES (new.tenant_id, new.due_date, 1, new.total_minor - new.paid_minor)
    ON CONFLICT (tenant_id, due_date) DO UPDATE SET invoices = invoices + excluded.invoices, open_minor = open_minor + excluded.open_minor;
END;
CREATE TRIGGER invoices_report_receivables_au AFTER UPDATE OF tenant_id, kind, status, due_date, total_minor, paid_minor ON invoices
WHEN (old.kind = 'INVOICE' AND old.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE'))
        <> (new.kind = 'INVOICE' AND new.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE'))
    OR (new.kind = 'INVOICE' AND new.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') AND (old.tenant_id <> new.tenant_id
        OR old.due_date <> new.due_date OR old.total_minor <> new.total_minor OR old.paid_minor <> new.paid_minor)) BEGIN
    INSERT INTO report_receivables (tenant_id, due_date, invoices, open_minor)
    SELECT old.tenant_id, old.due_date, -1, old.paid_minor - old.total_minor
    WHERE old.kind = 'INVOICE' AND old.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')
    ON CONFLICT (tenant_id, due_date) DO UPDATE SET invoices = invoices + excluded.invoices, open_minor = open_minor + excluded.open_minor;
    INSERT INTO report_receivables (tenant_id, due_date, invoices, open_minor)
    SELECT new.tenant_id, new.due_date, 1, new.total_minor - new.paid_minor
    WHERE new.kind = 'INVOICE' AND new.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')
    ON CONFLICT (tenant_id, due_date) DO UPDATE SET invoices = invoices + excluded.invoices, open_minor = open_minor + excluded.open_minor;
    DELETE FROM report_receivables WHERE tenant_id = old.tenant_id AND due_date = old.due_date AND invoices = 0;
END;
CREATE TRIGGER invoices_report_receivables_ad AFTER DELETE ON invoices
WHEN old.kind = 'INVOICE' AND old.status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') BEGIN
    INSERT INTO report_receivables (tenant_id, due_date, invoices, open_minor)
    VALUES (old.tenant_id, old.due_date, -1, old.paid_minor - old.total_minor)
    ON CONFLICT (tenant_id, due_date) DO UPDATE SET invoices = invoices + excluded.invoices, open_minor = open_minor + excluded.open_minor;
    DELETE FROM report_receivables WHERE tenant_id = old.tenant_id AND due_date = old.due_date AND invoices = 0;
END;

-- Invoices: their subscription lines move when the invoice starts or stops counting, or
-- moves to another issue date.
CREATE TRIGGER invoices_report_revenue_au AFTER UPDATE OF tenant_id, kind, status, issue_date ON invoices
WHEN (old.kind = 'INVOICE' AND old.status NOT IN ('VOID', 'DRAFT')) <> (new.kind = 'INVOICE' AND new.status NOT IN ('VOID', 'DRAFT'))
    OR (new.kind = 'INVOICE' AND new.status NOT IN ('VOID', 'DRAFT')
        AND (old.tenant_id <> new.tenant_id OR old.issue_date <> new.issue_date)) BEGIN
    INSERT INTO report_plan_revenue_days (tenant_id, day, plan_id, net_minor, lines)
    SELECT old.tenant_id, old.issue_date, l.plan_id, -SUM(l.net_minor), -COUNT(*) FROM invoice_lines l
    WHERE old.kind = 'INVOICE' AND old.status NOT IN ('VOID', 'DRAFT') AND l.invoice_id = old.id
        AND l.tenant_id = old.tenant_id AND l.kind = 'SUBSCRIPTION' AND l.plan_id IS NOT NULL
    GROUP BY l.plan_id
    ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = net_minor + excluded.net_minor, lines = lines + excluded.lines;
    INSERT INTO report_plan_revenue_days (tenant_id, day, plan_id, net_minor, lines)
    SELECT new.tenant_id, new.issue_date, l.plan_id, SUM(l.net_minor), COUNT(*) FROM invoice_lines l
    WHERE new.kind = 'INVOICE' AND new.status NOT IN ('VOID', 'DRAFT') AND l.invoice_id = new.id
        AND l.tenant_id = new.tenant_id AND l.kind = 'SUBSCRIPTION' AND l.plan_id IS NOT NULL
    GROUP BY l.plan_id
    ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = net_minor + excluded.net_minor, lines = lines + excluded.lines;
    DELETE FROM report_plan_revenue_days WHERE tenant_id = old.tenant_id AND day = old.issue_date AND lines = 0;
END;

-- Invoice lines: counted while their invoice counts, on its issue date.
CREATE TRIGGER invoice_lines_report_ai AFTER INSERT ON invoice_lines
WHEN new.kind = 'SUBSCRIPTION' AND new.plan_id IS NOT NULL BEGIN
    INSERT INTO report_plan_revenue_days (tenant_id, day, plan_id, net_minor, lines)
    SELECT i.tenant_id, i.issue_date, new.plan_id, new.net_minor, 1 FROM invoices i
    WHERE i.id = new.invoice_id AND i.tenant_id = new.tenant_id AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
    ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = net_minor + excluded.net_minor, lines = lines + excluded.lines;
END;
CREATE TRIGGER invoice_lines_report_au AFTER UPDATE OF tenant_id, invoice_id, kind, plan_id, net_minor ON invoice_lines
WHEN (old.kind = 'SUBSCRIPTION' AND old.plan_id IS NOT NULL) OR (new.kind = 'SUBSCRIPTION' AND new.plan_id IS NOT NULL) BEGIN
    INSERT INTO report_plan_revenue_days (tenant_id, day, plan_id, net_minor, lines)
    SELECT i.tenant_id, i.issue_date, old.plan_id, -old.net_minor, -1 FROM invoices i
    WHERE old.kind = 'SUBSCRIPTION' AND old.plan_id IS NOT NULL AND i.id = old.invoice_id AND i.tenant_id = old.tenant_id
        AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
    ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = net_minor + excluded.net_minor, lines = lines + excluded.lines;
    INSERT INTO report_plan_revenue_days (tenant_id, day, plan_id, net_minor, lines)
    SELECT i.tenant_id, i.issue_date, new.plan_id, new.net_minor, 1 FROM invoices i
    WHERE new.kind = 'SUBSCRIPTION' AND new.plan_id IS NOT NULL AND i.id = new.invoice_id AND i.tenant_id = new.tenant_id
        AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
    ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = net_minor + excluded.net_minor, lines = lines + excluded.lines;
    DELETE FROM report_plan_revenue_days WHERE tenant_id = old.tenant_id AND plan_id = old.plan_id AND lines = 0
        AND day = (SELECT issue_date FROM invoices WHERE id = old.invoice_id);
END;
CREATE TRIGGER invoice_lines_report_ad AFTER DELETE ON invoice_lines
WHEN old.kind = 'SUBSCRIPTION' AND old.plan_id IS NOT NULL BEGIN
    INSERT INTO report_plan_revenue_days (tenant_id, day, plan_id, net_minor, lines)
    SELECT i.tenant_id, i.issue_date, old.plan_id, -old.net_minor, -1 FROM invoices i
    WHERE i.id = old.invoice_id AND i.tenant_id = old.tenant_id AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
    ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = net_minor + excluded.net_minor, lines = lines + excluded.lines;
    DELETE FROM report_plan_revenue_days WHERE tenant_id = old.tenant_id AND plan_id = old.plan_id AND lines = 0
        AND day = (SELECT issue_date FROM invoices WHERE id = old.invoice_id);
END;

-- Payments.
CREATE TRIGGER payments_report_ai AFTER INSERT ON payments BEGIN
    INSERT INTO report_collected_days (tenant_id, day, payments, collected_minor)
    VALUES (new.tenant_id, new.received_on, 1, new.amount_minor - new.refunded_minor)
    ON CONFLICT (tenant_id, day) DO UPDATE SET payments = payments + excluded.payments,
        collected_minor = collected_minor + excluded.collected_minor;
END;
CREATE TRIGGER payments_report_au AFTER UPDATE OF tenant_id, received_on, amount_minor, refunded_minor ON payments
WHEN old.tenant_id <> new.tenant_id OR old.received_on <> new.received_on OR old.amount_minor <> new.amount_minor
    OR old.refunded_minor <> new.refunded_minor BEGIN
    INSERT INTO report_collected_days (tenant_id, day, payments, collected_minor)
    VALUES (old.tenant_id, old.received_on, -1, old.refunded_minor - old.amount_minor)
    ON CONFLICT (tenant_id, day) DO UPDATE SET payments = payments + excluded.payments,
        collected_minor = collected_minor + excluded.collected_minor;
    INSERT INTO report_collected_days (tenant_id, day, payments, collected_minor)
    VALUES (new.tenant_id, new.received_on, 1, new.amount_minor - new.refunded_minor)
    ON CONFLICT (tenant_id, day) DO UPDATE SET payments = payments + excluded.payments,
        collected_minor = collected_minor + excluded.collected_minor;
    DELETE FROM report_collected_days WHERE tenant_id = old.tenant_id AND day = old.received_on AND payments = 0;
END;
CREATE TRIGGER payments_report_ad AFTER DELETE ON payments BEGIN
    INSERT INTO report_collected_days (tenant_id, day, payments, collected_minor)
    VALUES (old.tenant_id, old.received_on, -1, old.refunded_minor - old.amount_minor)
    ON CONFLICT (tenant_id, day) DO UPDATE SET payments = payments + excluded.payments,
        collected_minor = collected_minor + excluded.collected_minor;
    DELETE FROM report_collected_days WHERE tenant_id = old.tenant_id AND day = old.received_on AND payments = 0;
END;

-- What is already there.
INSERT INTO report_plan_subscriptions (tenant_id, plan_id, subscriptions)
SELECT tenant_id, plan_id, COUNT(*) FROM subscriptions WHERE status = 'ACTIVE' GROUP BY tenant_id, plan_id;
INSERT INTO report_plan_revenue_days (tenant_id, day, plan_id, net_minor, lines)
SELECT l.tenant_id, i.issue_date, l.plan_id, SUM(l.net_minor), COUNT(*)
FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
WHERE l.kind = 'SUBSCRIPTION' AND l.plan_id IS NOT NULL AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
GROUP BY l.tenant_id, i.issue_date, l.plan_id;
INSERT INTO report_invoiced_days (tenant_id, day, invoices, total_minor)
SELECT tenant_id, issue_date, COUNT(*), SUM(total_minor) FROM invoices
WHERE kind = 'INVOICE' AND status NOT IN ('VOID', 'DRAFT') GROUP BY tenant_id, issue_date;
INSERT INTO report_collected_days (tenant_id, day, payments, collected_minor)
SELECT tenant_id, received_on, COUNT(*), SUM(amount_minor - refunded_minor) FROM payments GROUP BY tenant_id, received_on;
INSERT INTO report_receivables (tenant_id, due_date, invoices, open_minor)
SELECT tenant_id, due_date, COUNT(*), SUM(total_minor - paid_minor) FROM invoices
WHERE kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') GROUP BY tenant_id, due_date;
