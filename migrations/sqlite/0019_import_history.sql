-- Imports and the business reports: imported subscriptions are recorded in subscription_history
-- (on their start date, as the 0017 backfill recorded what was there), and an import's rollback
-- takes them out of the report sums again. To make that exact, what a history row adds to the
-- sums is now defined once, by a view both the insert trigger and the rollback read.
--
-- What each subscription_history row adds to report_subscription_days, written once as a view:
-- the "after" pair (creations, cancellations, moves in, becoming ACTIVE and the MRR gained) and,
-- for a change of an existing subscription, the "before" pair (moves out, leaving ACTIVE and the
-- MRR lost). The insert trigger adds a new row's effects; an import's rollback subtracts the
-- effects of the rows it removes (store::subscription_history::forget_import), so the sums stay
-- the sums of the history that is there.
CREATE VIEW subscription_history_effects AS
SELECT id, tenant_id, subscription_id, day, to_plan_id AS plan_id, to_access_type AS access_type,
    CASE WHEN from_status IS NULL THEN first_for_customer ELSE 0 END AS new_customers,
    CASE WHEN from_status IS NULL THEN 1 ELSE 0 END AS new_subscriptions,
    CASE WHEN to_status = 'CANCELLED' AND COALESCE(from_status, '') <> 'CANCELLED' THEN 1 ELSE 0 END AS cancellations,
    CASE WHEN from_status IS NOT NULL AND from_status <> 'CANCELLED' AND to_status <> 'CANCELLED'
        AND (from_plan_id <> to_plan_id OR from_access_type <> to_access_type) THEN 1 ELSE 0 END AS moved_in,
    0 AS moved_out,
    CASE WHEN to_status = 'ACTIVE' THEN 1 ELSE 0 END AS active_delta,
    CASE WHEN to_status = 'ACTIVE' AND COALESCE(from_status, 'PENDING') = 'PENDING' THEN to_mrr_x12 ELSE 0 END
        AS new_mrr_x12,
    CASE WHEN to_status = 'ACTIVE' AND from_status = 'SUSPENDED' THEN to_mrr_x12 ELSE 0 END AS reactivated_mrr_x12,
    CASE WHEN to_status = 'ACTIVE' AND from_status = 'ACTIVE' AND to_mrr_x12 > from_mrr_x12
        THEN to_mrr_x12 - from_mrr_x12 ELSE 0 END AS expansion_mrr_x12,
    CASE WHEN to_status = 'ACTIVE' AND from_status = 'ACTIVE' AND to_mrr_x12 < from_mrr_x12
        THEN from_mrr_x12 - to_mrr_x12 ELSE 0 END AS contraction_mrr_x12,
    0 AS churned_mrr_x12
FROM subscription_history
UNION ALL
SELECT id, tenant_id, subscription_id, day, from_plan_id, from_access_type, 0, 0, 0, 0,
    CASE WHEN from_status <> 'CANCELLED' AND to_status <> 'CANCELLED'
        AND (from_plan_id <> to_plan_id OR from_access_type <> to_access_type) THEN 1 ELSE 0 END,
    CASE WHEN from_status = 'ACTIVE' THEN -1 ELSE 0 END,
    0, 0, 0, 0,
    CASE WHEN from_status = 'ACTIVE' AND to_status <> 'ACTIVE' THEN from_mrr_x12 ELSE 0 END
FROM subscription_history WHERE from_status IS NOT NULL;

-- The two insert triggers of 0017, replaced by one that reads the view.
DROP TRIGGER subscription_history_report_to;
DROP TRIGGER subscription_history_report_from;
CREATE TRIGGER subscription_history_report AFTER INSERT ON subscription_history BEGIN
    INSERT INTO report_subscription_days (tenant_id, day, plan_id, access_type, new_customers, new_subscriptions,
        cancellations, moved_in, moved_out, active_delta, new_mrr_x12, reactivated_mrr_x12, expansion_mrr_x12,
        contraction_mrr_x12, churned_mrr_x12)
    SELECT e.tenant_id, e.day, e.plan_id, e.access_type, SUM(e.new_customers), SUM(e.new_subscriptions), SUM(e.cancellations), SUM(e.moved_in),
        SUM(e.moved_out), SUM(e.active_delta), SUM(e.new_mrr_x12), SUM(e.reactivated_mrr_x12),
        SUM(e.expansion_mrr_x12), SUM(e.contraction_mrr_x12), SUM(e.churned_mrr_x12)
    FROM subscription_history_effects e WHERE e.id = new.id
    GROUP BY e.tenant_id, e.day, e.plan_id, e.access_type
    ON CONFLICT (tenant_id, day, plan_id, access_type) DO UPDATE SET
        new_customers = new_customers + excluded.new_customers,
        new_subscriptions = new_subscriptions + excluded.new_subscriptions,
        cancellations = cancellations + excluded.cancellations,
        moved_in = moved_in + excluded.moved_in,
        moved_out = moved_out + excluded.moved_out,
        active_delta = active_delta + excluded.active_delta,
        new_mrr_x12 = new_mrr_x12 + excluded.new_mrr_x12,
        reactivated_mrr_x12 = reactivated_mrr_x12 + excluded.reactivated_mrr_x12,
        expansion_mrr_x12 = expansion_mrr_x12 + excluded.expansion_mrr_x12,
        contraction_mrr_x12 = contraction_mrr_x12 + excluded.contraction_mrr_x12,
        churned_mrr_x12 = churned_mrr_x12 + excluded.churned_mrr_x12;
END;
