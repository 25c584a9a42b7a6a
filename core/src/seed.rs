//! Demo data: a realistic tenant to click through right after the quick start, a second
//! tenant to show isolation, and bulk data for benchmarks.

use crate::auth::{Actor, Role};
use crate::db::{query, query_as, Arg, Sql};
use crate::error::CoreResult;
use crate::patch::Patch;
use crate::store::plans::{BillingPeriod, Burst, DataQuota, PlanInput, QuotaAction};
use crate::store::subscriptions::{AccessType, SubscriptionStatus, PASSWORD_CONTEXT};
use crate::store::tenants::{self, NewTenant};
use crate::store::usage;
use crate::workflows::customers::{self, CustomerPatch};
use crate::workflows::nas::{self, NasPatch};
use crate::workflows::plans;
use crate::workflows::staff::{self, Registration};
use crate::workflows::subscriptions::{self, SubscriptionPatch};
use crate::Ctx;

/// Slug of the demo tenant.
pub const DEMO_TENANT: &str = "demo-isp";
/// Password of every demo staff user.
pub const DEMO_PASSWORD: &str = "admin123";
/// Source address of the demo NAS.
pub const DEMO_NAS_IP: &str = "127.0.0.1";
/// Shared secret of the demo NAS.
pub const DEMO_NAS_SECRET: &str = "testing123";

const FIRST: &[&str] = &[
    "Ana", "Bruno", "Carla", "Diego", "Elena", "Felipe", "Gabriela", "Hugo", "Irene", "Jorge", "Karin", "Luis",
    "Marta", "Nicolas", "Olga", "Pablo", "Rosa", "Samuel", "Teresa", "Victor",
];
const LAST: &[&str] = &[
    "Silva", "Moreno", "Okafor", "Nguyen", "Kowalski", "Haddad", "Fischer", "Rossi", "Tanaka", "Mensah", "Petrov",
    "Alvarez",
];
const STREETS: &[&str] = &["Main St", "Oak Ave", "River Rd", "Hill St", "Station Rd", "Market Sq"];

/// Whether the demo tenant exists already.
pub async fn demo_exists(ctx: &Ctx) -> CoreResult<bool> {
    Ok(tenants::by_slug(&ctx.db, DEMO_TENANT).await?.is_some())
}

fn registration(slug: &str, name: &str, currency: &str, tz: &str) -> Registration {
    Registration {
        tenant: NewTenant { slug: slug.into(), name: name.into(), currency: currency.into(), timezone: tz.into() },
        owner_email: format!("admin@{slug}.com"),
        owner_name: format!("{name} Owner"),
        owner_password: DEMO_PASSWORD.into(),
    }
}

fn plan(name: &str, price: i64, period: BillingPeriod, down: i64, up: i64, access: &[AccessType]) -> PlanInput {
    PlanInput {
        name: name.into(),
        description: None,
        price_minor: price,
        billing_period: period,
        download_kbps: down,
        upload_kbps: up,
        burst: None,
        data_quota: None,
        time_quota_secs: None,
        access_types: access.to_vec(),
        ip_pool: None,
    }
}

/// A field set by `v` when `cond` holds, else left out.
fn set_if(cond: bool, v: impl FnOnce() -> String) -> Patch<String> {
    if cond {
        Patch::Set(v())
    } else {
        Patch::Unchanged
    }
}

/// Creates the demo tenants. Returns false (and changes nothing) when they already exist.
pub async fn demo(ctx: &Ctx) -> CoreResult<bool> {
    if demo_exists(ctx).await? {
        return Ok(false);
    }
    let s =
        staff::create_tenant_with_owner(ctx, &registration(DEMO_TENANT, "Demo ISP", "USD", "America/New_York"), None)
            .await?;
    let owner =
        Actor { tenant_id: s.tenant.id, user_id: s.user.id, role: Role::Owner, name: s.user.email.clone(), ip: None };
    for (role, email) in [
        (Role::Admin, "ops@demo-isp.com"),
        (Role::Manager, "manager@demo-isp.com"),
        (Role::Support, "support@demo-isp.com"),
        (Role::Engineer, "engineer@demo-isp.com"),
        (Role::Cashier, "cashier@demo-isp.com"),
    ] {
        let name = format!("Demo {}", role.as_str());
        staff::create_staff(ctx, &owner, email, &name, role, DEMO_PASSWORD).await?;
    }

    use AccessType::*;
    let home = plans::create(
        ctx,
        &owner,
        &PlanInput {
            burst: Some(Burst {
                download_kbps: 80_000,
                upload_kbps: 20_000,
                threshold_download_kbps: 40_000,
                threshold_upload_kbps: 8_000,
                time_secs: 16,
            }),
            description: Some("Home broadband over PPPoE with burst".into()),
            ..plan("Home 50", 2_999, BillingPeriod::Monthly, 50_000, 10_000, &[Pppoe])
        },
    )
    .await?;
    let fiber = plans::create(
        ctx,
        &owner,
        &PlanInput {
            data_quota: Some(DataQuota {
                bytes: 500 * (1 << 30),
                action: QuotaAction::HardCap,
                fup_download_kbps: None,
                fup_upload_kbps: None,
            }),
            description: Some("GPON fiber, 500 GB per month".into()),
            ..plan("Fiber 300", 4_999, BillingPeriod::Monthly, 300_000, 100_000, &[Gpon, Pppoe])
        },
    )
    .await?;
    let fup = plans::create(
        ctx,
        &owner,
        &PlanInput {
            data_quota: Some(DataQuota {
                bytes: 200 * (1 << 30),
                action: QuotaAction::Fup,
                fup_download_kbps: Some(5_000),
                fup_upload_kbps: Some(2_000),
            }),
            description: Some("Unlimited with fair use: 5 Mbit/s after 200 GB".into()),
            ..plan("Unlimited 100 FUP", 3_999, BillingPeriod::Monthly, 100_000, 20_000, &[Pppoe, StaticIp])
        },
    )
    .await?;
    let day = plans::create(
        ctx,
        &owner,
        &PlanInput {
            time_quota_secs: Some(86_400),
            description: Some("24 hours of hotspot access".into()),
            ..plan("Hotspot Day Pass", 300, BillingPeriod::Daily, 10_000, 2_000, &[Hotspot])
        },
    )
    .await?;
    let business = plans::create(
        ctx,
        &owner,
        &PlanInput {
            description: Some("Business line with a fixed public IP".into()),
            ..plan("Business Static 200", 14_900, BillingPeriod::Monthly, 200_000, 200_000, &[StaticIp, Pppoe])
        },
    )
    .await?;

    for i in 0..50usize {
        let name = format!("{} {}", FIRST[i % FIRST.len()], LAST[(i * 7) % LAST.len()]);
        let login = name.to_lowercase().replace(' ', ".");
        let c = customers::create(
            ctx,
            &owner,
            &CustomerPatch {
                name: Some(name.clone()),
                email: Patch::Set(format!("{login}{i}@example.net")),
                phone: Patch::Set(format!("+1 555 01{i:02}")),
                address: Patch::Set(format!("{} {}, Springfield", 10 + i * 3, STREETS[i % STREETS.len()])),
                ..Default::default()
            },
        )
        .await?;
        let (plan_id, access, username) = match i % 5 {
            0 if i == 0 => (home.id, Pppoe, "demo-pppoe".to_string()),
            0 => (home.id, Pppoe, format!("pppoe{i:03}")),
            1 => (fiber.id, Gpon, format!("gpon{i:03}")),
            2 => (fup.id, Pppoe, format!("fup{i:03}")),
            3 => (day.id, Hotspot, format!("hs{i:03}")),
            _ => (business.id, StaticIp, format!("biz{i:03}")),
        };
        let password =
            if i == 0 { "demo123".to_string() } else { format!("pw-{i:03}-{}", LAST[i % LAST.len()].to_lowercase()) };
        let sub = subscriptions::create(
            ctx,
            &owner,
            &SubscriptionPatch {
                customer_id: Some(c.id),
                plan_id: Some(plan_id),
                access_type: Some(access),
                username: Some(username),
                password: Patch::Set(password),
                static_ipv4: set_if(access == StaticIp, || format!("203.0.113.{}", 10 + i)),
                mac_address: set_if(i % 10 == 7, || format!("02:00:00:00:00:{i:02X}")),
                onu_serial: set_if(access == Gpon, || format!("HWTC{:08X}", 0x1A2B_0000 + i)),
                olt_port: set_if(access == Gpon, || format!("0/1/{}", i % 8)),
                status: Some(SubscriptionStatus::Active),
                ..Default::default()
            },
        )
        .await?;
        if i % 10 == 9 {
            subscriptions::change_status(
                ctx,
                &owner,
                sub.id,
                SubscriptionStatus::Suspended,
                Some("unpaid invoice (demo)"),
            )
            .await?;
        } else if i == 48 {
            subscriptions::change_status(ctx, &owner, sub.id, SubscriptionStatus::Cancelled, Some("moved away (demo)"))
                .await?;
        }
    }

    radius_demo(ctx, &owner, &fiber).await?;

    let other =
        staff::create_tenant_with_owner(ctx, &registration("acme-net", "Acme Net", "EUR", "Europe/Berlin"), None)
            .await?;
    let acme = Actor {
        tenant_id: other.tenant.id,
        user_id: other.user.id,
        role: Role::Owner,
        name: other.user.email.clone(),
        ip: None,
    };
    let basic =
        plans::create(ctx, &acme, &plan("Basic 20", 1_900, BillingPeriod::Monthly, 20_000, 5_000, &[Pppoe])).await?;
    for i in 0..5 {
        let c = customers::create(
            ctx,
            &acme,
            &CustomerPatch { name: Some(format!("Acme Kunde {i}")), ..Default::default() },
        )
        .await?;
        subscriptions::create(
            ctx,
            &acme,
            &SubscriptionPatch {
                customer_id: Some(c.id),
                plan_id: Some(basic.id),
                access_type: Some(Pppoe),
                username: Some(format!("acme{i}")),
                password: Patch::Set(format!("acme-pass-{i}")),
                status: Some(SubscriptionStatus::Active),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(true)
}

/// RADIUS demo: the NAS `127.0.0.1` (secret `testing123`), a suspended subscriber
/// `demo-suspended` and a subscriber `demo-capped` whose hard-cap quota is used up,
/// both with password `demo123`.
async fn radius_demo(ctx: &Ctx, owner: &Actor, capped_plan: &crate::store::plans::Plan) -> CoreResult<()> {
    nas::create(
        ctx,
        owner,
        &NasPatch {
            name: Some("Demo router (localhost)".into()),
            ip_address: Some(DEMO_NAS_IP.into()),
            secret: Some(DEMO_NAS_SECRET.into()),
            ..Default::default()
        },
    )
    .await?;
    let mut subs = Vec::new();
    for (login, name) in [("demo-suspended", "Sam Suspended"), ("demo-capped", "Cora Capped")] {
        let c = customers::create(ctx, owner, &CustomerPatch { name: Some(name.into()), ..Default::default() }).await?;
        let sub = subscriptions::create(
            ctx,
            owner,
            &SubscriptionPatch {
                customer_id: Some(c.id),
                plan_id: Some(capped_plan.id),
                access_type: Some(AccessType::Pppoe),
                username: Some(login.into()),
                password: Patch::Set("demo123".into()),
                status: Some(SubscriptionStatus::Active),
                ..Default::default()
            },
        )
        .await?;
        subs.push(sub);
    }
    subscriptions::change_status(ctx, owner, subs[0].id, SubscriptionStatus::Suspended, Some("unpaid invoice (demo)"))
        .await?;
    let capped = &subs[1];
    let quota = capped_plan.data_quota_bytes.unwrap_or(0);
    let start = usage::parse_date(&capped.start_date)?;
    let period = usage::period_containing(start, capped_plan.billing_period, ctx.clock.now().date_naive());
    let mut tx = ctx.db.begin().await?;
    usage::add(&mut tx, owner.tenant_id, capped.id, period, quota / 10, quota - quota / 10, 3_600, ctx.now_ms())
        .await?;
    tx.commit().await
}

/// Inserts `n` customers with one active PPPoE subscription each on `plan_id`, in batched
/// multi-row statements inside one transaction (for benchmarks; no audit entries).
/// Logins are `{prefix}{i}` with password `pw{i}`.
pub async fn bulk(ctx: &Ctx, tenant_id: i64, plan_id: i64, n: usize, prefix: &str) -> CoreResult<()> {
    const BATCH: usize = 500;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if ctx.db.backend() == crate::db::Backend::Postgres {
        // The ids are chosen here, past the largest; other writers wait until they are taken.
        query("LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE").execute(&mut tx).await?;
    }
    let first_id = {
        let (max,): (Option<i64>,) = query_as("SELECT MAX(id) FROM customers").fetch_one(&mut tx).await?;
        max.unwrap_or(0)
    };
    let mut start = 0;
    while start < n {
        let end = (start + BATCH).min(n);
        let mut sql = Sql::new("INSERT INTO customers (id, tenant_id, account_number, name, email, phone, status, created_at, updated_at) VALUES ");
        for i in start..end {
            if i > start {
                sql.push(", ");
            }
            let name = format!("{} {} {i}", FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
            sql.push("(").arg(Arg::I(first_id + 1 + i as i64)).push(", ").arg(Arg::I(tenant_id)).push(", ");
            sql.arg(Arg::text(format!("B{prefix}{i:07}"))).push(", ").arg(Arg::text(name)).push(", ");
            sql.arg(Arg::text(format!("{prefix}{i}@bulk.example"))).push(", ").arg(Arg::text(format!("+1555{i:07}")));
            sql.push(", 'ACTIVE', ").arg(Arg::I(now + i as i64)).push(", ").arg(Arg::I(now)).push(")");
        }
        sql.execute(&mut tx).await?;
        let mut sql = Sql::new(
            "INSERT INTO subscriptions (tenant_id, customer_id, plan_id, access_type, username, password_enc, status, start_date, created_at, updated_at) VALUES ",
        );
        for i in start..end {
            if i > start {
                sql.push(", ");
            }
            sql.push("(")
                .arg(Arg::I(tenant_id))
                .push(", ")
                .arg(Arg::I(first_id + 1 + i as i64))
                .push(", ")
                .arg(Arg::I(plan_id));
            sql.push(", 'PPPOE', ").arg(Arg::text(format!("{prefix}{i}"))).push(", ");
            sql.arg(Arg::text(ctx.secrets.cipher.encrypt(PASSWORD_CONTEXT, &format!("pw{i}"))));
            sql.push(", 'ACTIVE', '2026-01-01', ").arg(Arg::I(now)).push(", ").arg(Arg::I(now)).push(")");
        }
        sql.execute(&mut tx).await?;
        start = end;
    }
    if ctx.db.backend() == crate::db::Backend::Postgres {
        // Explicit ids leave the identity sequence behind; move it past them.
        query("SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT MAX(id) FROM customers))")
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await
}
