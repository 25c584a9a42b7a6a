-- Business reports (core/src/reports): what subscriptions did over time, and the indexes the
-- reports read.
--
-- subscription_history: one row each time a subscription is created or changes status, plan or
-- access type, written by the use case in its transaction (store::subscription_history), with
-- the tenant-local calendar day the change takes effect on and the subscription's recurring value
-- before and after. The value is kept as mrr_x12 = 12 x monthly recurring revenue in minor units
-- (price x billing periods per year: monthly x12, quarterly x4, semi-annual x2, yearly x1,
-- weekly x52, daily x365), exact in integers; it is 0 unless the status is ACTIVE. The "before"
-- side of a row repeats the "after" side of the subscription's previous row, so movements add
-- up exactly even when a plan's price is edited between two changes.
--
-- report_subscription_days: the history summed per tenant, local day, plan and access type, kept
-- by a trigger on the (append-only) history, so that the acquisition, churn and MRR reports read
-- a few rows per day and plan instead of every change. A change that moves a subscription
-- between two plans (or access types) counts on both: moved_out and the "before" values on the
-- old pair, moved_in and the "after" values on the new one.
CREATE TABLE subscription_history (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    subscription_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    day TEXT NOT NULL,
    at BIGINT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    from_plan_id BIGINT,
    to_plan_id BIGINT NOT NULL,
    from_access_type TEXT,
    to_access_type TEXT NOT NULL,
    from_mrr_x12 BIGINT NOT NULL,
    to_mrr_x12 BIGINT NOT NULL,
    first_for_customer BIGINT NOT NULL
);
CREATE INDEX subscription_history_sub_idx ON subscription_history (tenant_id, subscription_id, id);
CREATE INDEX subscription_history_day_idx ON subscription_history (tenant_id, day, id);

CREATE TABLE report_subscription_days (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    plan_id BIGINT NOT NULL,
    access_type TEXT NOT NULL,
    new_customers BIGINT NOT NULL,
    new_subscriptions BIGINT NOT NULL,
    cancellations BIGINT NOT NULL,
    moved_in BIGINT NOT NULL,
    moved_out BIGINT NOT NULL,
    active_delta BIGINT NOT NULL,
    new_mrr_x12 BIGINT NOT NULL,
    reactivated_mrr_x12 BIGINT NOT NULL,
    expansion_mrr_x12 BIGINT NOT NULL,
    contraction_mrr_x12 BIGINT NOT NULL,
    churned_mrr_x12 BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, plan_id, access_type)
) WITHOUT ROWID;

-- The "after" pair: creations, cancellations, moves in, becoming ACTIVE and the MRR gained.
CREATE TRIGGER subscription_history_report_to AFTER INSERT ON subscription_history BEGIN
    INSERT INTO report_subscription_days (tenant_id, day, plan_id, access_type, new_customers, new_subscriptions,
        cancellations, moved_in, moved_out, active_delta, new_mrr_x12, reactivated_mrr_x12, expansion_mrr_x12,
        contraction_mrr_x12, churned_mrr_x12)
    VALUES (new.tenant_id, new.day, new.to_plan_id, new.to_access_type,
        CASE WHEN new.from_status IS NULL THEN new.first_for_customer ELSE 0 END,
        CASE WHEN new.from_status IS NULL THEN 1 ELSE 0 END,
        CASE WHEN new.to_status = 'CANCELLED' AND COALESCE(new.from_status, '') <> 'CANCELLED' THEN 1 ELSE 0 END,
        CASE WHEN new.from_status IS NOT NULL AND new.from_status <> 'CANCELLED' AND new.to_status <> 'CANCELLED'
            AND (new.from_plan_id <> new.to_plan_id OR new.from_access_type <> new.to_access_type) THEN 1 ELSE 0 END,
        0,
        CASE WHEN new.to_status = 'ACTIVE' THEN 1 ELSE 0 END,
        CASE WHEN new.to_status = 'ACTIVE' AND COALESCE(new.from_status, 'PENDING') = 'PENDING' THEN new.to_mrr_x12 ELSE 0 END,
        CASE WHEN new.to_status = 'ACTIVE' AND new.from_status = 'SUSPENDED' THEN new.to_mrr_x12 ELSE 0 END,
        CASE WHEN new.to_status = 'ACTIVE' AND new.from_status = 'ACTIVE' AND new.to_mrr_x12 > new.from_mrr_x12
            THEN new.to_mrr_x12 - new.from_mrr_x12 ELSE 0 END,
        CASE WHEN new.to_status = 'ACTIVE' AND new.from_status = 'ACTIVE' AND new.to_mrr_x12 < new.from_mrr_x12
            THEN new.from_mrr_x12 - new.to_mrr_x12 ELSE 0 END,
        0)
    ON CONFLICT (tenant_id, day, plan_id, access_type) DO UPDATE SET
        new_customers = new_customers + excluded.new_customers,
        new_subscriptions = new_subscriptions + excluded.new_subscriptions,
        cancellations = cancellations + excluded.cancellations,
        moved_in = moved_in + excluded.moved_in,
        active_delta = active_delta + excluded.active_delta,
        new_mrr_x12 = new_mrr_x12 + excluded.new_mrr_x12,
        reactivated_mrr_x12 = reactivated_mrr_x12 + excluded.reactivated_mrr_x12,
        expansion_mrr_x12 = expansion_mrr_x12 + excluded.expansion_mrr_x12,
        contraction_mrr_x12 = contraction_mrr_x12 + excluded.contraction_mrr_x12;
END;

-- The "before" pair: moves out, leaving ACTIVE and the MRR lost.
CREATE TRIGGER subscription_history_report_from AFTER INSERT ON subscription_history
WHEN new.from_status IS NOT NULL BEGIN
    INSERT INTO report_subscription_days (tenant_id, day, plan_id, access_type, new_customers, new_subscriptions,
        cancellations, moved_in, moved_out, active_delta, new_mrr_x12, reactivated_mrr_x12, expansion_mrr_x12,
        contraction_mrr_x12, churned_mrr_x12)
    VALUES (new.tenant_id, new.day, new.from_plan_id, new.from_access_type, 0, 0, 0, 0,
        CASE WHEN new.from_status <> 'CANCELLED' AND new.to_status <> 'CANCELLED'
            AND (new.from_plan_id <> new.to_plan_id OR new.from_access_type <> new.to_access_type) THEN 1 ELSE 0 END,
        CASE WHEN new.from_status = 'ACTIVE' THEN -1 ELSE 0 END,
        0, 0, 0, 0,
        CASE WHEN new.from_status = 'ACTIVE' AND new.to_status <> 'ACTIVE' THEN new.from_mrr_x12 ELSE 0 END)
    ON CONFLICT (tenant_id, day, plan_id, access_type) DO UPDATE SET
        moved_out = moved_out + excluded.moved_out,
        active_delta = active_delta + excluded.active_delta,
        churned_mrr_x12 = churned_mrr_x12 + excluded.churned_mrr_x12;
END;

-- What is already there: each subscription that is not cancelled, as created on its start date
-- straight into its status today (earlier changes and cancellations were not recorded).
INSERT INTO subscription_history (tenant_id, subscription_id, customer_id, day, at, from_status, to_status,
    from_plan_id, to_plan_id, from_access_type, to_access_type, from_mrr_x12, to_mrr_x12, first_for_customer)
SELECT s.tenant_id, s.id, s.customer_id, s.start_date, s.created_at, NULL, s.status, NULL, s.plan_id, NULL,
    s.access_type, 0,
    CASE WHEN s.status = 'ACTIVE' THEN p.price_minor * CASE p.billing_period WHEN 'MONTHLY' THEN 12
        WHEN 'QUARTERLY' THEN 4 WHEN 'SEMI_ANNUAL' THEN 2 WHEN 'YEARLY' THEN 1 WHEN 'WEEKLY' THEN 52
        WHEN 'DAILY' THEN 365 ELSE 12 END ELSE 0 END,
    CASE WHEN s.id = (SELECT MIN(o.id) FROM subscriptions o WHERE o.tenant_id = s.tenant_id
        AND o.customer_id = s.customer_id) THEN 1 ELSE 0 END
FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
WHERE s.status <> 'CANCELLED'
ORDER BY s.tenant_id, s.id;

-- Top data users: a tenant's usage periods by start date.
CREATE INDEX radius_usage_tenant_period_idx ON radius_usage (tenant_id, period_start);
