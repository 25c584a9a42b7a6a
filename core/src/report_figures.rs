//! The business reports ([`crate::reports`]) against figures computed by hand: a small history
//! built through the workflows with the injected clock, in a tenant on Europe/Berlin time (so
//! changes near midnight UTC land on the next local day, across the March DST change), on
//! SQLite and (with `TEST_DATABASE_URL`) PostgreSQL. It sits above the workflows it drives, like
//! the report histories test.

use crate::auth::Actor;
use crate::billing::payments::NewPayment;
use crate::billing::{run, PaymentMethod};
use crate::clock::ManualClock;
use crate::db::query_as;
use crate::error::CoreError;
use crate::patch::Patch;
use crate::report_histories::{scratch_ctx, scratch_tenant};
use crate::reports::{self, AcquisitionRow, MrrRow, Range, ReportBucket};
use crate::store::plans::{BillingPeriod, PlanInput};
use crate::store::subscriptions::{AccessType, SubscriptionStatus};
use crate::store::{subscription_history, usage};
use crate::workflows::customers::CustomerPatch;
use crate::workflows::subscriptions::SubscriptionPatch;
use crate::workflows::{charges, customers, payments, plans, subscriptions};
use crate::Ctx;
use chrono::{NaiveDate, TimeZone, Utc};

struct Shop {
    ctx: Ctx,
    clock: ManualClock,
    actor: Actor,
    n: usize,
}

impl Shop {
    async fn new(ctx: &Ctx, clock: &ManualClock) -> Shop {
        let actor = scratch_tenant(ctx, "fig", "EUR", "Europe/Berlin", "figures").await;
        Shop { ctx: ctx.clone(), clock: clock.clone(), actor, n: 0 }
    }

    /// Sets the clock to `at` (UTC, `YYYY-MM-DD HH:MM`).
    fn at(&self, at: &str) {
        let t = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").unwrap();
        self.clock.set(Utc.from_utc_datetime(&t));
    }

    async fn plan(&self, name: &str, price: i64, period: BillingPeriod, access: Vec<AccessType>) -> i64 {
        let input = PlanInput {
            name: name.into(),
            description: None,
            price_minor: price,
            billing_period: period,
            download_kbps: 50_000,
            upload_kbps: 10_000,
            burst: None,
            data_quota: None,
            time_quota_secs: None,
            access_types: access,
            ip_pool: None,
        };
        plans::create(&self.ctx, &self.actor, &input).await.unwrap().id
    }

    async fn customer(&self, name: &str) -> i64 {
        let p = CustomerPatch { name: Some(name.into()), ..Default::default() };
        customers::create(&self.ctx, &self.actor, &p).await.unwrap().id
    }

    async fn subscribe(&mut self, customer: i64, plan: i64, access: AccessType, status: SubscriptionStatus) -> i64 {
        self.n += 1;
        let p = SubscriptionPatch {
            customer_id: Some(customer),
            plan_id: Some(plan),
            access_type: Some(access),
            username: Some(format!("fig{}-{}", self.actor.tenant_id, self.n)),
            password: Patch::Set("s3cret-pw".into()),
            status: Some(status),
            ..Default::default()
        };
        subscriptions::create(&self.ctx, &self.actor, &p).await.unwrap().id
    }

    async fn status(&self, id: i64, to: SubscriptionStatus) {
        subscriptions::change_status(&self.ctx, &self.actor, id, to, None).await.unwrap();
    }

    async fn plan_change(&self, id: i64, plan: i64) {
        subscriptions::change_plan(&self.ctx, &self.actor, id, plan, None).await.unwrap();
    }

    async fn cancel(&self, id: i64) {
        subscriptions::cancel(&self.ctx, &self.actor, id, None, None).await.unwrap();
    }

    fn range(&self, from: &str, to: &str, bucket: ReportBucket) -> Range {
        Range::parse(from, to, bucket).unwrap()
    }
}

#[allow(clippy::too_many_arguments)]
fn acq(
    bucket: &str,
    plan: Option<(i64, &str, AccessType)>,
    open_at_start: i64,
    new_customers: i64,
    new_subscriptions: i64,
    cancellations: i64,
    moved: (i64, i64),
    churn_rate_bp: Option<i64>,
) -> AcquisitionRow {
    let net_growth = new_subscriptions + moved.0 - moved.1 - cancellations;
    let (first_day, last_day) = bounds(bucket);
    AcquisitionRow {
        bucket: bucket.into(),
        first_day,
        last_day,
        plan_id: plan.map(|p| p.0),
        plan_name: plan.map(|p| p.1.to_string()),
        access_type: plan.map(|p| p.2),
        open_at_start,
        new_customers,
        new_subscriptions,
        cancellations,
        moved_in: moved.0,
        moved_out: moved.1,
        net_growth,
        open_at_end: open_at_start + net_growth,
        churn_rate_bp,
    }
}

/// First and last day of a bucket label of the ranges below (whole months of 2026, or a day).
fn bounds(bucket: &str) -> (String, String) {
    match bucket {
        "2026-01" => ("2026-01-01".into(), "2026-01-31".into()),
        "2026-02" => ("2026-02-01".into(), "2026-02-28".into()),
        "2026-03" => ("2026-03-01".into(), "2026-03-31".into()),
        day => (day.into(), day.into()),
    }
}

#[allow(clippy::too_many_arguments)]
fn mrr_row(bucket: &str, start: i64, new: i64, react: i64, exp: i64, contr: i64, churn: i64, active: i64) -> MrrRow {
    let net = new + react + exp - contr - churn;
    let (first_day, last_day) = bounds(bucket);
    MrrRow {
        bucket: bucket.into(),
        first_day,
        last_day,
        starting_mrr_minor: start,
        new_mrr_minor: new,
        reactivation_mrr_minor: react,
        expansion_mrr_minor: exp,
        contraction_mrr_minor: contr,
        churned_mrr_minor: churn,
        net_mrr_minor: net,
        ending_mrr_minor: start + net,
        active_subscriptions: active,
        arpu_minor: (active > 0).then(|| {
            let end = start + net;
            (end * 2 + active) / (2 * active)
        }),
    }
}

async fn figures(ctx: Ctx, clock: ManualClock) {
    use AccessType::{Hotspot, Pppoe};
    use SubscriptionStatus::{Active, Pending, Suspended};
    let mut s = Shop::new(&ctx, &clock).await;
    s.at("2026-01-02 09:00");
    let annual = s.plan("Annual", 30_000, BillingPeriod::Yearly, vec![Pppoe]).await;
    let basic = s.plan("Basic", 3_000, BillingPeriod::Monthly, vec![Pppoe, Hotspot]).await;
    let pro = s.plan("Pro", 6_000, BillingPeriod::Monthly, vec![Pppoe]).await;

    // January (Berlin is UTC+1).
    s.at("2026-01-05 10:00");
    let a = s.customer("Ana").await;
    let a1 = s.subscribe(a, basic, Pppoe, Active).await; // new customer, new MRR 3000
    s.at("2026-01-10 10:00");
    let b = s.customer("Bruno").await;
    let b1 = s.subscribe(b, pro, Pppoe, Pending).await; // new customer, no MRR yet
    s.at("2026-01-12 10:00");
    let a2 = s.subscribe(a, basic, Hotspot, Active).await; // Ana's second: not a new customer
    s.at("2026-01-20 10:00");
    s.status(b1, Active).await; // new MRR 6000
                                // 23:30 UTC on 31 January is 00:30 on 1 February in Berlin: a February customer.
    s.at("2026-01-31 23:30");
    let c = s.customer("Carla").await;
    let _c1 = s.subscribe(c, annual, Pppoe, Active).await; // new MRR 30000 / 12 = 2500

    // February.
    s.at("2026-02-10 10:00");
    s.plan_change(a1, pro).await; // expansion 3000, Basic/PPPoE -> Pro/PPPoE
    s.at("2026-02-15 10:00");
    s.status(b1, Suspended).await; // churned 6000
    s.at("2026-02-20 10:00");
    s.status(b1, Active).await; // reactivation 6000
    s.at("2026-02-25 10:00");
    s.cancel(a2).await; // cancellation, churned 3000

    // March: Berlin moves to UTC+2 at 01:00 UTC on 29 March.
    s.at("2026-03-05 10:00");
    s.plan_change(a1, basic).await; // contraction 3000, Pro/PPPoE -> Basic/PPPoE
    s.at("2026-03-28 23:30"); // 00:30 CET on 29 March
    s.cancel(b1).await; // cancellation, churned 6000
    s.at("2026-03-29 22:30"); // 00:30 CEST on 30 March
    let d = s.customer("Dora").await;
    let _d1 = s.subscribe(d, basic, Pppoe, Pending).await;
    // An edit that changes neither status, plan nor access type is no history.
    let p = SubscriptionPatch {
        olt_port: Patch::Unchanged,
        mac_address: Patch::Set("AA:BB:CC:DD:EE:01".into()),
        ..Default::default()
    };
    subscriptions::update(&ctx, &s.actor, _d1, &p).await.unwrap();
    assert_eq!(subscription_history::of_subscription(&ctx.db, s.actor.tenant_id, _d1).await.unwrap().len(), 1);
    let hist = subscription_history::of_subscription(&ctx.db, s.actor.tenant_id, b1).await.unwrap();
    let days: Vec<&str> = hist.iter().map(|h| h.day.as_str()).collect();
    assert_eq!(days, ["2026-01-10", "2026-01-20", "2026-02-15", "2026-02-20", "2026-03-29"]);

    let (an, ba, pr) = ((annual, "Annual", Pppoe), (basic, "Basic", Pppoe), (pro, "Pro", Pppoe));
    let bh = (basic, "Basic", Hotspot);
    let q1 = s.range("2026-01-01", "2026-03-31", ReportBucket::Month);
    let got = reports::acquisition(&ctx.db, &s.actor, &q1, true).await.unwrap();
    let want = vec![
        acq("2026-01", Some(bh), 0, 0, 1, 0, (0, 0), None),
        acq("2026-01", Some(ba), 0, 1, 1, 0, (0, 0), None),
        acq("2026-01", Some(pr), 0, 1, 1, 0, (0, 0), None),
        acq("2026-02", Some(an), 0, 1, 1, 0, (0, 0), None),
        acq("2026-02", Some(bh), 1, 0, 0, 1, (0, 0), Some(10_000)),
        acq("2026-02", Some(ba), 1, 0, 0, 0, (0, 1), Some(0)),
        acq("2026-02", Some(pr), 1, 0, 0, 0, (1, 0), Some(0)),
        acq("2026-03", Some(an), 1, 0, 0, 0, (0, 0), Some(0)),
        acq("2026-03", Some(ba), 0, 1, 1, 0, (1, 0), None),
        acq("2026-03", Some(pr), 2, 0, 0, 1, (0, 1), Some(5_000)),
    ];
    assert_eq!(got, want);
    let got = reports::acquisition(&ctx.db, &s.actor, &q1, false).await.unwrap();
    let want = vec![
        acq("2026-01", None, 0, 2, 3, 0, (0, 0), None),
        acq("2026-02", None, 3, 1, 1, 1, (0, 0), Some(3_333)),
        acq("2026-03", None, 3, 1, 1, 1, (0, 0), Some(3_333)),
    ];
    assert_eq!(got, want);
    // Daily across the zone and DST boundaries: the changes land on Berlin's days.
    let days = s.range("2026-01-31", "2026-02-01", ReportBucket::Day);
    let got = reports::acquisition(&ctx.db, &s.actor, &days, false).await.unwrap();
    assert_eq!(
        got,
        vec![
            acq("2026-01-31", None, 3, 0, 0, 0, (0, 0), Some(0)),
            acq("2026-02-01", None, 3, 1, 1, 0, (0, 0), Some(0))
        ]
    );
    let days = s.range("2026-03-28", "2026-03-31", ReportBucket::Day);
    let got = reports::acquisition(&ctx.db, &s.actor, &days, false).await.unwrap();
    assert_eq!(
        got,
        vec![
            acq("2026-03-28", None, 3, 0, 0, 0, (0, 0), Some(0)),
            acq("2026-03-29", None, 3, 0, 0, 1, (0, 0), Some(3_333)),
            acq("2026-03-30", None, 2, 1, 1, 0, (0, 0), Some(0)),
            acq("2026-03-31", None, 3, 0, 0, 0, (0, 0), Some(0)),
        ]
    );

    // MRR: Jan new 3000 + 3000 + 6000; Feb new 2500, reactivation 6000, expansion 3000, churned
    // 6000 + 3000; Mar contraction 3000, churned 6000.
    let got = reports::mrr_movement(&ctx.db, &s.actor, &q1).await.unwrap();
    let want = vec![
        mrr_row("2026-01", 0, 12_000, 0, 0, 0, 0, 3),
        mrr_row("2026-02", 12_000, 2_500, 6_000, 3_000, 0, 9_000, 3),
        mrr_row("2026-03", 14_500, 0, 0, 0, 3_000, 6_000, 2),
    ];
    assert_eq!(got, want);
    assert_eq!(want[1].arpu_minor, Some(4_833)); // 14500 / 3
                                                 // The ending MRR is what the billing report's MRR says today.
    assert_eq!(crate::billing::reports::mrr(&ctx.db, &s.actor).await.unwrap(), 5_500);

    // Collections: one-off charges invoiced by runs, payments on Berlin days.
    let t = Shop::new(&ctx, &clock).await;
    t.at("2026-01-02 09:00");
    let x = t.customer("Xavier").await;
    let y = t.customer("Yara").await;
    let charge = |c: i64, amount: i64| charges::NewCharge {
        customer_id: c,
        subscription_id: None,
        description: "installation",
        amount_minor: amount,
        credit: false,
        tax_class: None,
    };
    charges::add(&ctx, &t.actor, &charge(x, 10_000)).await.unwrap();
    charges::add(&ctx, &t.actor, &charge(y, 5_000)).await.unwrap();
    t.at("2026-01-15 10:00");
    run::run(&ctx, &t.actor, NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()).await.unwrap(); // invoiced 15000
    let pay = |c: i64, amount: i64, on: &str| NewPayment {
        customer_id: c,
        amount_minor: amount,
        method: PaymentMethod::Cash,
        reference: None,
        received_on: Some(on.into()),
        invoice_ids: None,
    };
    payments::record(&ctx, &t.actor, &pay(x, 10_000, "2026-01-20")).await.unwrap();
    payments::record(&ctx, &t.actor, &pay(y, 2_000, "2026-02-03")).await.unwrap();
    t.at("2026-02-10 10:00");
    charges::add(&ctx, &t.actor, &charge(x, 8_000)).await.unwrap();
    run::run(&ctx, &t.actor, NaiveDate::from_ymd_opt(2026, 2, 10).unwrap()).await.unwrap(); // invoiced 8000
    payments::record(&ctx, &t.actor, &pay(x, 8_000, "2026-03-01")).await.unwrap();
    let got = reports::collection(&ctx.db, &t.actor, &q1).await.unwrap();
    let rows: Vec<_> = got
        .iter()
        .map(|r| {
            (
                r.bucket.as_str(),
                r.invoiced_minor,
                r.collected_minor,
                r.collection_rate_bp,
                r.receivables_end_minor,
                r.dso_centidays,
            )
        })
        .collect();
    // Jan: 10000 of 15000 (6667 bp), 5000 owed, DSO 5000 / 15000 x 31 days = 10.33 days.
    // Feb: 2000 of 8000 (2500 bp), 11000 owed, DSO 11000 / 8000 x 28 = 38.50 days.
    // Mar: nothing invoiced, 8000 collected, 3000 owed.
    assert_eq!(
        rows,
        vec![
            ("2026-01", 15_000, 10_000, Some(6_667), 5_000, Some(1_033)),
            ("2026-02", 8_000, 2_000, Some(2_500), 11_000, Some(3_850)),
            ("2026-03", 0, 8_000, None, 3_000, None),
        ]
    );
    // A range starting later carries what was owed before it.
    let feb = t.range("2026-02-01", "2026-02-28", ReportBucket::Month);
    assert_eq!(reports::collection(&ctx.db, &t.actor, &feb).await.unwrap()[0].receivables_end_minor, 11_000);

    // Revenue by tax class: the subscription lines of a run, by their plan's class.
    let rates: Vec<(String, i64)> = query_as(
        "SELECT p.tax_class, CAST(SUM(l.net_minor) AS BIGINT) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
         JOIN plans p ON p.id = l.plan_id WHERE l.tenant_id = $1 AND l.kind = 'SUBSCRIPTION' AND i.status <> 'VOID' \
         AND i.issue_date >= '2026-04-01' AND i.issue_date <= '2026-04-30' GROUP BY p.tax_class",
    )
    .bind(s.actor.tenant_id)
    .fetch_all(&ctx.db)
    .await
    .unwrap();
    assert!(rates.is_empty());
    s.at("2026-04-01 10:00");
    crate::db::query("UPDATE plans SET tax_class = 'reduced' WHERE tenant_id = $1 AND id = $2")
        .bind(s.actor.tenant_id)
        .bind(annual)
        .execute(&ctx.db)
        .await
        .unwrap();
    run::run(&ctx, &s.actor, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()).await.unwrap();
    let mut want: Vec<(String, i64)> = query_as(
        "SELECT p.tax_class, CAST(SUM(l.net_minor) AS BIGINT) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
         JOIN plans p ON p.id = l.plan_id WHERE l.tenant_id = $1 AND l.kind = 'SUBSCRIPTION' AND i.status <> 'VOID' \
         AND i.issue_date >= '2026-04-01' AND i.issue_date <= '2026-04-30' GROUP BY p.tax_class",
    )
    .bind(s.actor.tenant_id)
    .fetch_all(&ctx.db)
    .await
    .unwrap();
    want.sort();
    let apr = s.range("2026-04-01", "2026-04-30", ReportBucket::Month);
    let got: Vec<(String, i64)> = reports::revenue_by_tax_class(&ctx.db, &s.actor, &apr)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.tax_class, r.net_minor))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got, want);

    // Top data users: usage periods starting in the range.
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let mut tx = ctx.db.begin().await.unwrap();
    let tid = s.actor.tenant_id;
    usage::add(&mut tx, tid, a1, (d("2026-03-05"), d("2026-04-05")), 100, 900, 60, 0).await.unwrap();
    usage::add(&mut tx, tid, a1, (d("2026-04-05"), d("2026-05-05")), 50, 450, 30, 0).await.unwrap();
    usage::add(&mut tx, tid, _c1, (d("2026-03-01"), d("2027-03-01")), 10, 1_200, 5, 0).await.unwrap();
    usage::add(&mut tx, tid, b1, (d("2026-02-20"), d("2026-03-20")), 5_000, 5_000, 9, 0).await.unwrap();
    tx.commit().await.unwrap();
    let mar_apr = s.range("2026-03-01", "2026-04-30", ReportBucket::Day);
    let top = reports::top_data_users(&ctx.db, &s.actor, &mar_apr, 10).await.unwrap();
    let got: Vec<_> = top
        .iter()
        .map(|r| (r.subscription_id, r.input_octets, r.output_octets, r.total_octets, r.session_time))
        .collect();
    assert_eq!(got, vec![(a1, 150, 1_350, 1_500, 90), (_c1, 10, 1_200, 1_210, 5)]);
    assert_eq!(top[0].customer_name, "Ana");
    // A long range reads the usage in subscription order (SQLite): the same sums.
    let year = s.range("2026-03-01", "2027-02-28", ReportBucket::Month);
    let long: Vec<_> = reports::top_data_users(&ctx.db, &s.actor, &year, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.subscription_id, r.input_octets, r.output_octets, r.total_octets, r.session_time))
        .collect();
    assert_eq!(long, got);
    assert_eq!(reports::top_data_users(&ctx.db, &s.actor, &mar_apr, 1).await.unwrap().len(), 1);
    assert!(matches!(reports::top_data_users(&ctx.db, &s.actor, &mar_apr, 0).await, Err(CoreError::Validation { .. })));

    // Another tenant sees none of it.
    let got = reports::mrr_movement(&ctx.db, &t.actor, &q1).await.unwrap();
    assert!(got.iter().all(|r| r.ending_mrr_minor == 0 && r.active_subscriptions == 0));
    assert!(reports::acquisition(&ctx.db, &t.actor, &q1, true).await.unwrap().is_empty());
    // Staff without ReportRead are refused.
    let support = Actor { role: crate::auth::Role::Support, ..s.actor.clone() };
    assert!(matches!(reports::mrr_movement(&ctx.db, &support, &q1).await, Err(CoreError::Forbidden(_))));
}

async fn open_ctx(database_url: String) -> (Ctx, ManualClock, std::path::PathBuf) {
    scratch_ctx(database_url, "figures", Utc.with_ymd_and_hms(2026, 1, 2, 9, 0, 0).unwrap()).await
}

#[tokio::test]
async fn report_figures_match_hand_computed_on_sqlite() {
    let (ctx, clock, dir) = open_ctx(String::new()).await;
    figures(ctx.clone(), clock).await;
    ctx.db.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn report_figures_match_hand_computed_on_postgres() {
    let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) else {
        eprintln!("skipped: needs TEST_DATABASE_URL");
        return;
    };
    let (ctx, clock, dir) = open_ctx(url).await;
    figures(ctx.clone(), clock).await;
    ctx.db.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
