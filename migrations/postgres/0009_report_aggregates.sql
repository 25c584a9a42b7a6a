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
-- Statement triggers read the rows a statement changed (transition tables), net the old rows
-- against the new ones per key, and upsert only the keys whose sums moved, in key order (so
-- two transactions writing the same keys take their row locks in one order): a many-row
-- INSERT of a billing run is one upsert per day and plan, and a payment settling an invoice
-- leaves the invoiced and revenue rows alone. Invoice lines reference their invoice (a foreign
-- key), so an invoice has no lines when it is inserted or deleted; when it starts or stops
-- counting, or its issue date changes, its lines move with it. The functions read invoices and
-- invoice lines by key only; `enable_seqscan = off` keeps a plan cached while a table was
-- small from scanning it once it is large.

-- ACTIVE subscriptions per plan (MRR).
CREATE TABLE report_plan_subscriptions (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    plan_id BIGINT NOT NULL,
    subscriptions BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plan_id)
);

-- Subscription revenue (net) and lines per issue date and plan (revenue by plan).
CREATE TABLE report_plan_revenue_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    plan_id BIGINT NOT NULL,
    net_minor BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, plan_id)
);

-- Invoiced totals per issue date (collections).
CREATE TABLE report_invoiced_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    invoices BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

-- Money received per day, less refunds (collections).
CREATE TABLE report_collected_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    payments BIGINT NOT NULL,
    collected_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

-- What open invoices still owe per due date (ageing).
CREATE TABLE report_receivables (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    due_date TEXT NOT NULL,
    invoices BIGINT NOT NULL,
    open_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, due_date)
);

-- Subscriptions.
CREATE FUNCTION isp_report_subscriptions() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    k record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_plan_subscriptions AS r (tenant_id, plan_id, subscriptions)
        SELECT tenant_id, plan_id, COUNT(*) FROM new_rows WHERE status = 'ACTIVE'
        GROUP BY tenant_id, plan_id ORDER BY tenant_id, plan_id
        ON CONFLICT (tenant_id, plan_id) DO UPDATE SET subscriptions = r.subscriptions + EXCLUDED.subscriptions;
    ELSIF TG_OP = 'DELETE' THEN
        FOR k IN INSERT INTO report_plan_subscriptions AS r (tenant_id, plan_id, subscriptions)
            SELECT tenant_id, plan_id, -COUNT(*) FROM old_rows WHERE status = 'ACTIVE'
            GROUP BY tenant_id, plan_id ORDER BY tenant_id, plan_id
            ON CONFLICT (tenant_id, plan_id) DO UPDATE SET subscriptions = r.subscriptions + EXCLUDED.subscriptions
            RETURNING r.tenant_id, r.plan_id, r.subscriptions
        LOOP
            IF k.subscriptions = 0 THEN
                DELETE FROM report_plan_subscriptions WHERE tenant_id = k.tenant_id AND plan_id = k.plan_id AND subscriptions = 0;
            END IF;
        END LOOP;
    ELSE
        FOR k IN INSERT INTO report_plan_subscriptions AS r (tenant_id, plan_id, subscriptions)
            SELECT tenant_id, plan_id, SUM(n) FROM (
                SELECT tenant_id, plan_id, -1 AS n FROM old_rows WHERE status = 'ACTIVE'
                UNION ALL
                SELECT tenant_id, plan_id, 1 FROM new_rows WHERE status = 'ACTIVE'
            ) d GROUP BY tenant_id, plan_id HAVING SUM(n) <> 0 ORDER BY tenant_id, plan_id
            ON CONFLICT (tenant_id, plan_id) DO UPDATE SET subscriptions = r.subscriptions + EXCLUDED.subscriptions
            RETURNING r.tenant_id, r.plan_id, r.subscriptions
        LOOP
            IF k.subscriptions = 0 THEN
                DELETE FROM report_plan_subscriptions WHERE tenant_id = k.tenant_id AND plan_id = k.plan_id AND subscriptions = 0;
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_report_ins AFTER INSERT ON subscriptions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_subscriptions();
CREATE TRIGGER subscriptions_report_upd AFTER UPDATE ON subscriptions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_subscriptions();
CREATE TRIGGER subscriptions_report_del AFTER DELETE ON subscriptions REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_subscriptions();

-- Invoices: invoiced totals, receivables, and the subscription lines of the invoices that
-- start or stop counting or move to another issue date.
CREATE FUNCTION isp_report_invoices() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    k record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_invoiced_days AS r (tenant_id, day, invoices, total_minor)
        SELECT tenant_id, issue_date, COUNT(*), SUM(total_minor) FROM new_rows
        WHERE kind = 'INVOICE' AND status NOT IN ('VOID', 'DRAFT')
        GROUP BY tenant_id, issue_date ORDER BY tenant_id, issue_date
        ON CONFLICT (tenant_id, day) DO UPDATE SET invoices = r.invoices + EXCLUDED.invoices,
            total_minor = r.total_minor + EXCLUDED.total_minor;
        INSERT INTO report_receivables AS r (tenant_id, due_date, invoices, open_minor)
        SELECT tenant_id, due_date, COUNT(*), SUM(total_minor - paid_minor) FROM new_rows
        WHERE kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')
        GROUP BY tenant_id, due_date ORDER BY tenant_id, due_date
        ON CONFLICT (tenant_id, due_date) DO UPDATE SET invoices = r.invoices + EXCLUDED.invoices,
            open_minor = r.open_minor + EXCLUDED.open_minor;
    ELSIF TG_OP = 'DELETE' THEN
        FOR k IN INSERT INTO report_invoiced_days AS r (tenant_id, day, invoices, total_minor)
            SELECT tenant_id, issue_date, -COUNT(*), -SUM(total_minor) FROM old_rows
            WHERE kind = 'INVOICE' AND status NOT IN ('VOID', 'DRAFT')
            GROUP BY tenant_id, issue_date ORDER BY tenant_id, issue_date
            ON CONFLICT (tenant_id, day) DO UPDATE SET invoices = r.invoices + EXCLUDED.invoices,
                total_minor = r.total_minor + EXCLUDED.total_minor
            RETURNING r.tenant_id, r.day, r.invoices
        LOOP
            IF k.invoices = 0 THEN
                DELETE FROM report_invoiced_days WHERE tenant_id = k.tenant_id AND day = k.day AND invoices = 0;
            END IF;
        END LOOP;
        FOR k IN INSERT INTO report_receivables AS r (tenant_id, due_date, invoices, open_minor)
            SELECT tenant_id, due_date, -COUNT(*), -SUM(total_minor - paid_minor) FROM old_rows
            WHERE kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')
            GROUP BY tenant_id, due_date ORDER BY tenant_id, due_date
            ON CONFLICT (tenant_id, due_date) DO UPDATE SET invoices = r.invoices + EXCLUDED.invoices,
                open_minor = r.open_minor + EXCLUDED.open_minor
            RETURNING r.tenant_id, r.due_date, r.invoices
        LOOP
            IF k.invoices = 0 THEN
                DELETE FROM report_receivables WHERE tenant_id = k.tenant_id AND due_date = k.due_date AND invoices = 0;
            END IF;
        END LOOP;
    ELSE
        FOR k IN INSERT INTO report_invoiced_days AS r (tenant_id, day, invoices, total_minor)
            SELECT tenant_id, day, SUM(n), SUM(amount) FROM (
                SELECT tenant_id, issue_date AS day, -1 AS n, -total_minor AS amount FROM old_rows
                    WHERE kind = 'INVOICE' AND status NOT IN ('VOID', 'DRAFT')
                UNION ALL
                SELECT tenant_id, issue_date, 1, total_minor FROM new_rows
                    WHERE kind = 'INVOICE' AND status NOT IN ('VOID', 'DRAFT')
            ) d GROUP BY tenant_id, day HAVING SUM(n) <> 0 OR SUM(amount) <> 0 ORDER BY tenant_id, day
            ON CONFLICT (tenant_id, day) DO UPDATE SET invoices = r.invoices + EXCLUDED.invoices,
                total_minor = r.total_minor + EXCLUDED.total_minor
            RETURNING r.tenant_id, r.day, r.invoices
        LOOP
            IF k.invoices = 0 THEN
                DELETE FROM report_invoiced_days WHERE tenant_id = k.tenant_id AND day = k.day AND invoices = 0;
            END IF;
        END LOOP;
        FOR k IN INSERT INTO report_receivables AS r (tenant_id, due_date, invoices, open_minor)
            SELECT tenant_id, due_date, SUM(n), SUM(amount) FROM (
                SELECT tenant_id, due_date, -1 AS n, paid_minor - total_minor AS amount FROM old_rows
                    WHERE kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')
                UNION ALL
                SELECT tenant_id, due_date, 1, total_minor - paid_minor FROM new_rows
                    WHERE kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')
            ) d GROUP BY tenant_id, due_date HAVING SUM(n) <> 0 OR SUM(amount) <> 0 ORDER BY tenant_id, due_date
            ON CONFLICT (tenant_id, due_date) DO UPDATE SET invoices = r.invoices + EXCLUDED.invoices,
                open_minor = r.open_minor + EXCLUDED.open_minor
            RETURNING r.tenant_id, r.due_date, r.invoices
        LOOP
            IF k.invoices = 0 THEN
                DELETE FROM report_receivables WHERE tenant_id = k.tenant_id AND due_date = k.due_date AND invoices = 0;
            END IF;
        END LOOP;
        -- Lines follow their invoice by id (a line's foreign key keeps the id of its invoice).
        FOR k IN INSERT INTO report_plan_revenue_days AS r (tenant_id, day, plan_id, net_minor, lines)
            SELECT l.tenant_id, c.day, l.plan_id, SUM(c.sign * l.net_minor), SUM(c.sign) FROM (
                SELECT o.id, o.tenant_id, o.issue_date AS day, -1 AS sign FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE o.kind = 'INVOICE' AND o.status NOT IN ('VOID', 'DRAFT') AND NOT (n.kind = 'INVOICE'
                    AND n.status NOT IN ('VOID', 'DRAFT') AND n.tenant_id = o.tenant_id AND n.issue_date = o.issue_date)
                UNION ALL
                SELECT n.id, n.tenant_id, n.issue_date, 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE n.kind = 'INVOICE' AND n.status NOT IN ('VOID', 'DRAFT') AND NOT (o.kind = 'INVOICE'
                    AND o.status NOT IN ('VOID', 'DRAFT') AND o.tenant_id = n.tenant_id AND o.issue_date = n.issue_date)
            ) c JOIN invoice_lines l ON l.invoice_id = c.id AND l.tenant_id = c.tenant_id
            WHERE l.kind = 'SUBSCRIPTION' AND l.plan_id IS NOT NULL
            GROUP BY l.tenant_id, c.day, l.plan_id HAVING SUM(c.sign) <> 0 OR SUM(c.sign * l.net_minor) <> 0
            ORDER BY l.tenant_id, c.day, l.plan_id
            ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = r.net_minor + EXCLUDED.net_minor,
                lines = r.lines + EXCLUDED.lines
            RETURNING r.tenant_id, r.day, r.plan_id, r.lines
        LOOP
            IF k.lines = 0 THEN
                DELETE FROM report_plan_revenue_days WHERE tenant_id = k.tenant_id AND day = k.day AND plan_id = k.plan_id AND lines = 0;
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER invoices_report_ins AFTER INSERT ON invoices REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_invoices();
CREATE TRIGGER invoices_report_upd AFTER UPDATE ON invoices REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_invoices();
CREATE TRIGGER invoices_report_del AFTER DELETE ON invoices REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_invoices();

-- Invoice lines: counted while their invoice counts, on its issue date.
CREATE FUNCTION isp_report_invoice_lines() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    k record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_plan_revenue_days AS r (tenant_id, day, plan_id, net_minor, lines)
        SELECT i.tenant_id, i.issue_date, l.plan_id, SUM(l.net_minor), COUNT(*)
        FROM new_rows l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
        WHERE l.kind = 'SUBSCRIPTION' AND l.plan_id IS NOT NULL AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
        GROUP BY i.tenant_id, i.issue_date, l.plan_id ORDER BY i.tenant_id, i.issue_date, l.plan_id
        ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = r.net_minor + EXCLUDED.net_minor,
            lines = r.lines + EXCLUDED.lines;
    ELSIF TG_OP = 'DELETE' THEN
        FOR k IN INSERT INTO report_plan_revenue_days AS r (tenant_id, day, plan_id, net_minor, lines)
            SELECT i.tenant_id, i.issue_date, l.plan_id, -SUM(l.net_minor), -COUNT(*)
            FROM old_rows l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
            WHERE l.kind = 'SUBSCRIPTION' AND l.plan_id IS NOT NULL AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
            GROUP BY i.tenant_id, i.issue_date, l.plan_id ORDER BY i.tenant_id, i.issue_date, l.plan_id
            ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = r.net_minor + EXCLUDED.net_minor,
                lines = r.lines + EXCLUDED.lines
            RETURNING r.tenant_id, r.day, r.plan_id, r.lines
        LOOP
            IF k.lines = 0 THEN
                DELETE FROM report_plan_revenue_days WHERE tenant_id = k.tenant_id AND day = k.day AND plan_id = k.plan_id AND lines = 0;
            END IF;
        END LOOP;
    ELSE
        FOR k IN INSERT INTO report_plan_revenue_days AS r (tenant_id, day, plan_id, net_minor, lines)
            SELECT i.tenant_id, i.issue_date, d.plan_id, SUM(d.net), SUM(d.n) FROM (
                SELECT tenant_id, invoice_id, plan_id, -net_minor AS net, -1 AS n FROM old_rows
                WHERE kind = 'SUBSCRIPTION' AND plan_id IS NOT NULL
                UNION ALL
                SELECT tenant_id, invoice_id, plan_id, net_minor, 1 FROM new_rows
                WHERE kind = 'SUBSCRIPTION' AND plan_id IS NOT NULL
            ) d JOIN invoices i ON i.tenant_id = d.tenant_id AND i.id = d.invoice_id
            WHERE i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT')
            GROUP BY i.tenant_id, i.issue_date, d.plan_id HAVING SUM(d.n) <> 0 OR SUM(d.net) <> 0
            ORDER BY i.tenant_id, i.issue_date, d.plan_id
            ON CONFLICT (tenant_id, day, plan_id) DO UPDATE SET net_minor = r.net_minor + EXCLUDED.net_minor,
                lines = r.lines + EXCLUDED.lines
            RETURNING r.tenant_id, r.day, r.plan_id, r.lines
        LOOP
            IF k.lines = 0 THEN
                DELETE FROM report_plan_revenue_days WHERE tenant_id = k.tenant_id AND day = k.day AND plan_id = k.plan_id AND lines = 0;
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER invoice_lines_report_ins AFTER INSERT ON invoice_lines REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_invoice_lines();
CREATE TRIGGER invoice_lines_report_upd AFTER UPDATE ON invoice_lines REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_invoice_lines();
CREATE TRIGGER invoice_lines_report_del AFTER DELETE ON invoice_lines REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_invoice_lines();

-- Payments.
CREATE FUNCTION isp_report_payments() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    k record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_collected_days AS r (tenant_id, day, payments, collected_minor)
        SELECT tenant_id, received_on, COUNT(*), SUM(amount_minor - refunded_minor) FROM new_rows
        GROUP BY tenant_id, received_on ORDER BY tenant_id, received_on
        ON CONFLICT (tenant_id, day) DO UPDATE SET payments = r.payments + EXCLUDED.payments,
            collected_minor = r.collected_minor + EXCLUDED.collected_minor;
    ELSIF TG_OP = 'DELETE' THEN
        FOR k IN INSERT INTO report_collected_days AS r (tenant_id, day, payments, collected_minor)
            SELECT tenant_id, received_on, -COUNT(*), -SUM(amount_minor - refunded_minor) FROM old_rows
            GROUP BY tenant_id, received_on ORDER BY tenant_id, received_on
            ON CONFLICT (tenant_id, day) DO UPDATE SET payments = r.payments + EXCLUDED.payments,
                collected_minor = r.collected_minor + EXCLUDED.collected_minor
            RETURNING r.tenant_id, r.day, r.payments
        LOOP
            IF k.payments = 0 THEN
                DELETE FROM report_collected_days WHERE tenant_id = k.tenant_id AND day = k.day AND payments = 0;
            END IF;
        END LOOP;
    ELSE
        FOR k IN INSERT INTO report_collected_days AS r (tenant_id, day, payments, collected_minor)
            SELECT tenant_id, day, SUM(n), SUM(amount) FROM (
                SELECT tenant_id, received_on AS day, -1 AS n, refunded_minor - amount_minor AS amount FROM old_rows
                UNION ALL
                SELECT tenant_id, received_on, 1, amount_minor - refunded_minor FROM new_rows
            ) d GROUP BY tenant_id, day HAVING SUM(n) <> 0 OR SUM(amount) <> 0 ORDER BY tenant_id, day
            ON CONFLICT (tenant_id, day) DO UPDATE SET payments = r.payments + EXCLUDED.payments,
                collected_minor = r.collected_minor + EXCLUDED.collected_minor
            RETURNING r.tenant_id, r.day, r.payments
        LOOP
            IF k.payments = 0 THEN
                DELETE FROM report_collected_days WHERE tenant_id = k.tenant_id AND day = k.day AND payments = 0;
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER payments_report_ins AFTER INSERT ON payments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_payments();
CREATE TRIGGER payments_report_upd AFTER UPDATE ON payments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_payments();
CREATE TRIGGER payments_report_del AFTER DELETE ON payments REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION isp_report_payments();

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
