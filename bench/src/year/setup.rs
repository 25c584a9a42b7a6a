//! The few rows a tenant sets up by hand, made through the same workflows the API calls:
//! staff, billing settings and the tax rate, plans (one archived), and per point of presence a
//! NAS with its MikroTik router; GPON OLTs. Their audit entries are real ones.

use super::names::CITIES;
use anyhow::{Context, Result};
use isp_core::auth::{Actor, Role};
use isp_core::billing::settings::{BillingSettings, TaxRate};
use isp_core::billing::tax::Rate;
use isp_core::billing::BillingMode;
use isp_core::patch::Patch;
use isp_core::store::devices::{DeviceKind, Transport};
use isp_core::store::plans::{BillingPeriod, Burst, DataQuota, PlanInput, QuotaAction};
use isp_core::store::subscriptions::AccessType;
use isp_core::workflows::billing_settings as settings;
use isp_core::workflows::devices::{self, DevicePatch};
use isp_core::workflows::nas::{self, NasPatch};
use isp_core::workflows::{plans, staff};
use isp_core::Ctx;

/// The `standard` tax class: 16 % on top of the price.
pub const TAX: Rate = Rate { bp: 1_600, inclusive: false };
/// Days from issue to due date.
pub const PAYMENT_TERMS_DAYS: i64 = 14;
/// Days after the due date before dunning suspends.
pub const SUSPEND_AFTER_DAYS: i64 = 7;

/// A plan as the generators need it.
#[derive(Debug, Clone)]
pub struct PlanInfo {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Monthly price in cents.
    pub price: i64,
    /// Download kbit/s (what sessions transfer scales with).
    pub down_kbps: i64,
    /// FUP quota in bytes, for the CoA jobs of those who pass it.
    pub fup_quota: Option<i64>,
}

/// A staff user who acts in the audit log.
#[derive(Debug, Clone)]
pub struct StaffInfo {
    /// Row id.
    pub id: i64,
    /// Login (the audit log's actor).
    pub email: String,
    /// Role.
    pub role: Role,
}

/// A point of presence: its NAS and the MikroTik that keeps its address lists.
#[derive(Debug, Clone)]
pub struct Pop {
    /// NAS row id.
    pub nas_id: i64,
    /// Router device id.
    pub router_id: i64,
}

/// What the generators build on.
pub struct Setup {
    /// Plans by the indexes in [`PLANS`].
    pub plans: Vec<PlanInfo>,
    /// Staff, owner first.
    pub staff: Vec<StaffInfo>,
    /// Points of presence.
    pub pops: Vec<Pop>,
    /// GPON OLT device ids.
    pub olts: Vec<i64>,
}

/// Plan indexes the generators refer to.
pub mod plan {
    /// PPPoE entry plan.
    pub const LITE: usize = 0;
    /// PPPoE with burst.
    pub const HOME50: usize = 1;
    /// PPPoE 100.
    pub const HOME100: usize = 2;
    /// GPON with a hard cap.
    pub const FIBER300: usize = 3;
    /// GPON gigabit.
    pub const FIBER1000: usize = 4;
    /// Fair use after 200 GB (PPPoE or static IP).
    pub const FUP100: usize = 5;
    /// Hotspot.
    pub const HOTSPOT: usize = 6;
    /// Business line with a fixed address (static IP or PPPoE).
    pub const BUSINESS: usize = 7;
    /// Archived plan kept by its old subscriptions.
    pub const LEGACY: usize = 8;
}

const GB: i64 = 1 << 30;

fn plan_input(i: usize) -> (PlanInput, Option<i64>) {
    use AccessType::*;
    let base = |name: &str, desc: &str, price, down, up, access: &[AccessType]| PlanInput {
        name: name.into(),
        description: Some(desc.into()),
        price_minor: price,
        billing_period: BillingPeriod::Monthly,
        download_kbps: down,
        upload_kbps: up,
        burst: None,
        data_quota: None,
        time_quota_secs: None,
        access_types: access.to_vec(),
        ip_pool: Some("pool-residencial".into()),
    };
    match i {
        plan::LITE => (base("Home 20 Lite", "Entry PPPoE plan", 1_999, 20_000, 5_000, &[Pppoe]), None),
        plan::HOME50 => (
            PlanInput {
                burst: Some(Burst {
                    download_kbps: 80_000,
                    upload_kbps: 20_000,
                    threshold_download_kbps: 40_000,
                    threshold_upload_kbps: 8_000,
                    time_secs: 16,
                }),
                ..base("Home 50", "Home broadband with burst", 2_999, 50_000, 10_000, &[Pppoe])
            },
            None,
        ),
        plan::HOME100 => (base("Home 100", "Home broadband", 3_999, 100_000, 20_000, &[Pppoe]), None),
        plan::FIBER300 => (
            PlanInput {
                data_quota: Some(DataQuota {
                    bytes: 500 * GB,
                    action: QuotaAction::HardCap,
                    fup_download_kbps: None,
                    fup_upload_kbps: None,
                }),
                ..base("Fibra 300", "GPON fibre, 500 GB per month", 4_999, 300_000, 100_000, &[Gpon, Pppoe])
            },
            None,
        ),
        plan::FIBER1000 => (base("Fibra 1000", "GPON gigabit", 7_999, 1_000_000, 500_000, &[Gpon]), None),
        plan::FUP100 => (
            PlanInput {
                data_quota: Some(DataQuota {
                    bytes: 200 * GB,
                    action: QuotaAction::Fup,
                    fup_download_kbps: Some(5_000),
                    fup_upload_kbps: Some(2_000),
                }),
                ..base("Ilimitado 100 FUP", "5 Mbit/s after 200 GB", 4_499, 100_000, 20_000, &[Pppoe, StaticIp])
            },
            Some(200 * GB),
        ),
        plan::HOTSPOT => (
            PlanInput {
                ip_pool: Some("pool-hotspot".into()),
                ..base("Hotspot Mensal", "Wi-Fi hotspot, monthly", 999, 10_000, 2_000, &[Hotspot])
            },
            None,
        ),
        plan::BUSINESS => (
            PlanInput {
                ip_pool: None,
                ..base(
                    "Empresarial 200 IP fixo",
                    "Business line, fixed IPv4",
                    14_900,
                    200_000,
                    200_000,
                    &[StaticIp, Pppoe],
                )
            },
            None,
        ),
        _ => (base("Legacy ADSL 8", "No longer sold", 1_499, 8_000, 1_000, &[Pppoe]), None),
    }
}

/// Number of plans (the last one archived).
pub const PLANS: usize = 9;

/// Creates staff, settings, plans, NAS and devices for a tenant of `customers` customers.
pub async fn run(ctx: &Ctx, owner: &Actor, customers: usize) -> Result<Setup> {
    let mut staff_users = vec![StaffInfo { id: owner.user_id, email: owner.name.clone(), role: Role::Owner }];
    let people = [
        (Role::Admin, "Fernanda Gonçalves"),
        (Role::Admin, "Jürgen Weiß"),
        (Role::Manager, "Ana Lúcia Araújo"),
        (Role::Manager, "Rafael Ribeiro"),
        (Role::Support, "João Pedro Silva"),
        (Role::Support, "Letícia Conceição"),
        (Role::Support, "Chloé Lefèvre"),
        (Role::Support, "Mehmet Öztürk"),
        (Role::Engineer, "Łukasz Wiśniewski"),
        (Role::Engineer, "Marcos Carvalho"),
        (Role::Cashier, "Mônica Barbosa"),
        (Role::Cashier, "Sören Håkansson"),
    ];
    for (role, name) in people {
        let email = format!("{}@bench-isp.example", super::names::ascii_fold(name));
        let u = staff::create_staff(ctx, owner, &email, name, role, "staff-password")
            .await
            .with_context(|| format!("creating staff {email}"))?;
        staff_users.push(StaffInfo { id: u.id, email: u.email, role });
    }

    let s = BillingSettings {
        billing_day: Some(1),
        mode: BillingMode::Prepaid,
        payment_terms_days: PAYMENT_TERMS_DAYS,
        suspend_after_days: SUSPEND_AFTER_DAYS,
        legal_address: Some("Avenida Paulista, 1000 - São Paulo".into()),
        tax_id: Some("12.345.678/0001-90".into()),
        payment_instructions: Some("PIX: financeiro@bench-isp.example".into()),
        ..BillingSettings::default()
    };
    settings::update(ctx, owner, &s).await.context("billing settings")?;
    let rate = TaxRate { tax_class: "standard".into(), name: "ICMS 16%".into(), rate_bp: TAX.bp, inclusive: false };
    settings::set_tax_rate(ctx, owner, &rate).await.context("tax rate")?;

    let mut plan_rows = Vec::with_capacity(PLANS);
    for i in 0..PLANS {
        let (input, fup_quota) = plan_input(i);
        let p = plans::create(ctx, owner, &input).await.with_context(|| format!("creating plan {}", input.name))?;
        plan_rows.push(PlanInfo {
            id: p.id,
            name: p.name,
            price: p.price_minor,
            down_kbps: p.download_kbps,
            fup_quota,
        });
    }
    plans::archive(ctx, owner, plan_rows[plan::LEGACY].id).await.context("archiving the legacy plan")?;

    let pops_n = (customers / 5_000).clamp(2, 40);
    let mut pops = Vec::with_capacity(pops_n);
    for p in 0..pops_n {
        let (city, _) = CITIES[p % CITIES.len()];
        let ip = format!("10.255.{}.{}", p / 200, 1 + p % 200);
        let name = format!("POP {city} {:02}", p / CITIES.len() + 1);
        let n = nas::create(
            ctx,
            owner,
            &NasPatch {
                name: Some(name.clone()),
                ip_address: Some(ip.clone()),
                secret: Some(format!("radius-secret-{p:03}")),
                description: Patch::Set(format!("BNG of {city}")),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("creating NAS {name}"))?;
        let d = devices::create(
            ctx,
            owner,
            &DevicePatch {
                name: Some(format!("mk-{:02}-{}", p, super::names::ascii_fold(city))),
                kind: Some(DeviceKind::Mikrotik),
                host: Some(ip),
                port: Some(8728),
                transport: Some(Transport::Api),
                username: Some("isp-api".into()),
                password: Some("router-password".into()),
                nas_id: Patch::Set(n.id),
                ..Default::default()
            },
        )
        .await
        .context("creating a router")?;
        pops.push(Pop { nas_id: n.id, router_id: d.id });
    }
    let olts_n = (customers / 10_000).clamp(1, 20);
    let mut olts = Vec::with_capacity(olts_n);
    for o in 0..olts_n {
        let huawei = o % 3 != 2;
        let d = devices::create(
            ctx,
            owner,
            &DevicePatch {
                name: Some(format!("olt-{o:02}-{}", if huawei { "ma5800" } else { "c320" })),
                kind: Some(if huawei { DeviceKind::HuaweiOlt } else { DeviceKind::ZteOlt }),
                host: Some(format!("10.254.{}.{}", o / 200, 1 + o % 200)),
                port: Some(if huawei { 23 } else { 22 }),
                transport: Some(if huawei { Transport::Telnet } else { Transport::Ssh }),
                username: Some("isp".into()),
                password: Some("olt-password".into()),
                ..Default::default()
            },
        )
        .await
        .context("creating an OLT")?;
        olts.push(d.id);
    }
    Ok(Setup { plans: plan_rows, staff: staff_users, pops, olts })
}
