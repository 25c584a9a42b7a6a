//! Demo data: a realistic tenant with a few months of history to click through right after
//! the quick start, a second tenant to show isolation, and bulk data for benchmarks.

mod documents;
mod helpdesk;
mod history;
mod messages;
mod network;
mod timeline;

pub use documents::{sample_pdf, sample_png};

use crate::auth::{Actor, Role};
use crate::db::{query, query_as, Arg, Sql};
use crate::error::CoreResult;
use crate::patch::Patch;
use crate::store::plans::{BillingPeriod, Burst, DataQuota, Plan, PlanInput, QuotaAction};
use crate::store::subscriptions::{AccessType, SubscriptionStatus, PASSWORD_CONTEXT};
use crate::store::tenants::{self, NewTenant};
use crate::workflows::customers::{self, CustomerPatch};
use crate::workflows::plans;
use crate::workflows::staff::{self, Registration};
use crate::workflows::subscriptions::{self, SubscriptionPatch};
use crate::Ctx;
use timeline::Timeline;
use AccessType::*;

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

/// The sample import file (`isp import customers core/src/seed/import_sample.csv --tenant demo-isp`).
pub const SAMPLE_IMPORT: &str = include_str!("import_sample.csv");

/// The demo tenant's time zone (as registered).
const DEMO_ZONE: chrono_tz::Tz = chrono_tz::America::New_York;

/// Staff of the demo tenant who act in its history, one per role.
struct Staff {
    owner: Actor,
    admin: Actor,
    manager: Actor,
    engineer: Actor,
    cashier: Actor,
}

/// The demo tenant's plans.
struct Plans {
    home: Plan,
    fiber: Plan,
    fup: Plan,
    day: Plan,
    business: Plan,
}

/// A demo customer with their one subscription.
struct Person {
    /// Position in the demo's list (pay day and payment method follow from it).
    seq: usize,
    customer_id: i64,
    sub_id: i64,
    username: String,
    /// Suspended by staff for an unpaid invoice, and never pays.
    never_pays: bool,
}

/// Creates the demo tenants. Returns false (and changes nothing) when they already exist.
///
/// `demo-isp` gets a few months of history up to today, written through the workflows on a
/// clock of its own (`timeline`): see `history` and `network`. `acme-net` is created
/// today, without history.
pub async fn demo(ctx: &Ctx) -> CoreResult<bool> {
    if demo_exists(ctx).await? {
        return Ok(false);
    }
    let today = crate::billing::local_date(ctx.clock.now(), DEMO_ZONE.name());
    let first = history::start(today);
    let tl = Timeline::new(ctx, DEMO_ZONE, first);
    tl.at(first, 8, 0);
    let h = &tl.ctx;
    let s = staff::create_tenant_with_owner(h, &registration(DEMO_TENANT, "Demo ISP", "USD", DEMO_ZONE.name()), None)
        .await?;
    let owner =
        Actor { tenant_id: s.tenant.id, user_id: s.user.id, role: Role::Owner, name: s.user.email.clone(), ip: None };
    let mut team = Vec::new();
    for (role, email) in [
        (Role::Admin, "ops@demo-isp.com"),
        (Role::Manager, "manager@demo-isp.com"),
        (Role::Support, "support@demo-isp.com"),
        (Role::Engineer, "engineer@demo-isp.com"),
        (Role::Cashier, "cashier@demo-isp.com"),
    ] {
        let name = format!("Demo {}", role.as_str());
        let u = staff::create_staff(h, &owner, email, &name, role, DEMO_PASSWORD).await?;
        team.push(Actor { tenant_id: owner.tenant_id, user_id: u.id, role, name: u.email, ip: None });
    }
    let actor = |role: Role| team.iter().find(|a| a.role == role).cloned().unwrap_or_else(|| owner.clone());
    let crew = Staff {
        admin: actor(Role::Admin),
        manager: actor(Role::Manager),
        engineer: actor(Role::Engineer),
        cashier: actor(Role::Cashier),
        owner: owner.clone(),
    };
    let plans = demo_plans(h, &owner).await?;
    tl.at(first, 8, 30);
    let net = network::setup(h, &crew).await?;
    messages::setup(h, &owner).await?;

    // Everyone but the hotspot users signs up on the first day; those buy their day passes
    // a few days before today (`history`).
    tl.at(first, 9, 0);
    let mut customers = Vec::new();
    let mut hotspot = Vec::new();
    for i in 0..50usize {
        if i % 5 == 3 {
            hotspot.push(i);
            continue;
        }
        customers.push(signup(h, &owner, &plans, &net, i).await?);
        tl.advance(chrono::Duration::minutes(3));
    }
    for (n, (login, name)) in
        [("demo-suspended", "Sam Suspended"), ("demo-capped", "Cora Capped")].into_iter().enumerate()
    {
        customers.push(radius_login(h, &owner, &plans.fiber, 50 + n, login, name).await?);
    }
    let documents_of = customers[0].customer_id;
    history::run(&tl, &crew, &plans, &net, customers, &hotspot).await?;
    helpdesk::run(ctx, &owner, &actor(Role::Support), &actor(Role::Engineer), plans.business.id).await?;
    let ticket = crate::store::tickets::open(&ctx.db, owner.tenant_id).await?.first().map(|t| t.id);
    documents::run(ctx, &actor(Role::Support), documents_of, ticket).await?;
    messages::finish(h, &owner).await?;
    // New sign-ups awaiting installation, brought in by the bulk import (the README's sample file).
    let sample = crate::import::Request::new("import_sample.csv", SAMPLE_IMPORT.as_bytes().to_vec());
    crate::import::run(h, &owner, sample, std::sync::Arc::new(|_, _| {})).await?;

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

/// The five demo plans.
async fn demo_plans(ctx: &Ctx, owner: &Actor) -> CoreResult<Plans> {
    let home = plans::create(
        ctx,
        owner,
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
        owner,
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
        owner,
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
        owner,
        &PlanInput {
            time_quota_secs: Some(86_400),
            description: Some("24 hours of hotspot access".into()),
            ..plan("Hotspot Day Pass", 300, BillingPeriod::Daily, 10_000, 2_000, &[Hotspot])
        },
    )
    .await?;
    let business = plans::create(
        ctx,
        owner,
        &PlanInput {
            description: Some("Business line with a fixed public IP".into()),
            ..plan("Business Static 200", 14_900, BillingPeriod::Monthly, 200_000, 200_000, &[StaticIp, Pppoe])
        },
    )
    .await?;
    Ok(Plans { home, fiber, fup, day, business })
}

/// Demo customer `i` (of 50) signs up today, with one active subscription whose kind follows
/// `i`: PPPoE (the first is `demo-pppoe` / `demo123`), GPON on the demo OLT, fair use,
/// hotspot, business with a static IPv4.
async fn signup(ctx: &Ctx, owner: &Actor, plans: &Plans, net: &network::Network, i: usize) -> CoreResult<Person> {
    let name = format!("{} {}", FIRST[i % FIRST.len()], LAST[(i * 7) % LAST.len()]);
    let login = name.to_lowercase().replace(' ', ".");
    let c = customers::create(
        ctx,
        owner,
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
        0 if i == 0 => (plans.home.id, Pppoe, "demo-pppoe".to_string()),
        0 => (plans.home.id, Pppoe, format!("pppoe{i:03}")),
        1 => (plans.fiber.id, Gpon, format!("gpon{i:03}")),
        2 => (plans.fup.id, Pppoe, format!("fup{i:03}")),
        3 => (plans.day.id, Hotspot, format!("hs{i:03}")),
        _ => (plans.business.id, StaticIp, format!("biz{i:03}")),
    };
    let password =
        if i == 0 { "demo123".to_string() } else { format!("pw-{i:03}-{}", LAST[i % LAST.len()].to_lowercase()) };
    let sub = subscriptions::create(
        ctx,
        owner,
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
            device_id: if access == Gpon { Patch::Set(net.olt_id) } else { Patch::Unchanged },
            status: Some(SubscriptionStatus::Active),
            ..Default::default()
        },
    )
    .await?;
    Ok(Person { seq: i, customer_id: c.id, sub_id: sub.id, username: sub.username, never_pays: i % 10 == 9 })
}

/// The RADIUS demo logins (password `demo123`, plan Fiber 300 over PPPoE): `demo-suspended`,
/// whom staff suspend for an unpaid invoice, and `demo-capped`, whose 500 GB hard cap is used
/// up today (`history`).
async fn radius_login(
    ctx: &Ctx,
    owner: &Actor,
    plan: &Plan,
    seq: usize,
    login: &str,
    name: &str,
) -> CoreResult<Person> {
    let c = customers::create(ctx, owner, &CustomerPatch { name: Some(name.into()), ..Default::default() }).await?;
    let sub = subscriptions::create(
        ctx,
        owner,
        &SubscriptionPatch {
            customer_id: Some(c.id),
            plan_id: Some(plan.id),
            access_type: Some(Pppoe),
            username: Some(login.into()),
            password: Patch::Set("demo123".into()),
            status: Some(SubscriptionStatus::Active),
            ..Default::default()
        },
    )
    .await?;
    Ok(Person { seq, customer_id: c.id, sub_id: sub.id, username: sub.username, never_pays: login == "demo-suspended" })
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

#[cfg(test)]
mod tests;
