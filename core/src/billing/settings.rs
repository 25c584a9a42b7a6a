//! Per-tenant billing settings, tax rates per tax class, plans' tax classes and the
//! gateway webhook secret (encrypted at rest).

use super::numbering;
use super::tax::Rate;
use super::BillingMode;
use crate::auth::{Action, Actor};
use crate::db::{Db, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::audit;
use crate::Ctx;
use serde_json::json;
use std::collections::HashMap;

/// Context string binding encrypted webhook secrets to their column.
pub const WEBHOOK_SECRET_CONTEXT: &str = "billing.webhook_secret";

/// How a tenant bills.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BillingSettings {
    /// Fixed day of the month 1-28, or 0 for the subscription's anniversary.
    pub billing_day: i64,
    /// In advance or in arrears.
    pub mode: BillingMode,
    /// Days from issue to due date.
    pub payment_terms_days: i64,
    /// Invoice number template.
    pub invoice_template: String,
    /// Receipt number template.
    pub receipt_template: String,
    /// Credit note number template.
    pub credit_note_template: String,
    /// Reminder this many days before the due date (0: none).
    pub reminder_days_before: i64,
    /// Overdue this many days after the due date.
    pub overdue_after_days: i64,
    /// Suspension this many days after the due date.
    pub suspend_after_days: i64,
    /// Encrypted HMAC secret for payment webhooks.
    pub webhook_secret_enc: Option<String>,
    /// Brand color of invoices and receipts, `#RRGGBB`.
    pub brand_color: String,
    /// Address printed on invoices.
    pub legal_address: Option<String>,
    /// Tax id printed on invoices.
    pub tax_id: Option<String>,
    /// How to pay (bank account, payment link), printed on invoices.
    pub payment_instructions: Option<String>,
    /// 1 when billing runs create DRAFT invoices (numbered when issued), 0 to issue at once.
    pub draft_invoices: i64,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            billing_day: 0,
            mode: BillingMode::Prepaid,
            payment_terms_days: 14,
            invoice_template: "INV-{YYYY}-{SEQ:5}".into(),
            receipt_template: "RCT-{YYYY}-{SEQ:5}".into(),
            credit_note_template: "CN-{YYYY}-{SEQ:5}".into(),
            reminder_days_before: 3,
            overdue_after_days: 0,
            suspend_after_days: 7,
            webhook_secret_enc: None,
            brand_color: "#1E66F5".into(),
            legal_address: None,
            tax_id: None,
            payment_instructions: None,
            draft_invoices: 0,
        }
    }
}

impl BillingSettings {
    /// The fixed billing day, or None for anniversaries.
    pub fn fixed_day(&self) -> Option<u32> {
        (self.billing_day > 0).then_some(self.billing_day as u32)
    }

    /// Checks every rule, naming the field.
    pub fn validate(&self) -> CoreResult<()> {
        let v = |f: &str, m: &str| Err(CoreError::validation(f, m));
        if !(0..=28).contains(&self.billing_day) {
            return v("billingDay", "must be 1-28, or 0 for the subscription's anniversary");
        }
        for (f, n) in [
            ("paymentTermsDays", self.payment_terms_days),
            ("reminderDaysBefore", self.reminder_days_before),
            ("overdueAfterDays", self.overdue_after_days),
            ("suspendAfterDays", self.suspend_after_days),
        ] {
            if !(0..=365).contains(&n) {
                return v(f, "must be 0-365 days");
            }
        }
        let c = self.brand_color.as_bytes();
        if c.len() != 7 || c[0] != b'#' || !c[1..].iter().all(u8::is_ascii_hexdigit) {
            return v("brandColor", "must be #RRGGBB");
        }
        for (f, t, max) in [
            ("legalAddress", &self.legal_address, 300),
            ("taxId", &self.tax_id, 60),
            ("paymentInstructions", &self.payment_instructions, 500),
        ] {
            if let Some(t) = t {
                if t.chars().count() > max {
                    return Err(CoreError::validation(f, format!("must be at most {max} characters")));
                }
            }
        }
        if self.suspend_after_days < self.overdue_after_days {
            return v("suspendAfterDays", "must not be before overdueAfterDays");
        }
        for (f, t) in [
            ("invoiceTemplate", &self.invoice_template),
            ("receiptTemplate", &self.receipt_template),
            ("creditNoteTemplate", &self.credit_note_template),
        ] {
            numbering::validate(t).map_err(|m| CoreError::validation(f, m))?;
        }
        Ok(())
    }
}

const COLS: &str = "billing_day, mode, payment_terms_days, invoice_template, receipt_template, credit_note_template, \
    reminder_days_before, overdue_after_days, suspend_after_days, webhook_secret_enc, brand_color, legal_address, tax_id, \
    payment_instructions, draft_invoices";

/// The tenant's settings (defaults until changed).
pub async fn get(db: &Db, tenant_id: i64) -> CoreResult<BillingSettings> {
    Ok(sqlx::query_as::<_, BillingSettings>(&format!("SELECT {COLS} FROM billing_settings WHERE tenant_id = $1"))
        .bind(tenant_id)
        .fetch_optional(db.x())
        .await?
        .unwrap_or_default())
}

/// Like [`get`] inside a transaction.
pub async fn get_in(tx: &mut Tx, tenant_id: i64) -> CoreResult<BillingSettings> {
    Ok(sqlx::query_as::<_, BillingSettings>(&format!("SELECT {COLS} FROM billing_settings WHERE tenant_id = $1"))
        .bind(tenant_id)
        .fetch_optional(tx.x())
        .await?
        .unwrap_or_default())
}

/// Replaces the settings (the webhook secret is kept unless `new_secret` is given).
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    s: &BillingSettings,
    new_secret: Option<&str>,
) -> CoreResult<BillingSettings> {
    actor.require(Action::BillingSettingsWrite)?;
    s.validate()?;
    let mut s = s.clone();
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = get_in(&mut tx, actor.tenant_id).await?;
    s.webhook_secret_enc = match new_secret {
        Some(secret) if secret.len() < 16 => {
            return Err(CoreError::validation("webhookSecret", "must be at least 16 characters"));
        }
        Some(secret) => Some(ctx.secrets.cipher.encrypt(WEBHOOK_SECRET_CONTEXT, secret)),
        None => cur.webhook_secret_enc,
    };
    sqlx::query(&format!(
        "INSERT INTO billing_settings (tenant_id, {COLS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $17, $16) \
         ON CONFLICT (tenant_id) DO UPDATE SET billing_day = $2, mode = $3, payment_terms_days = $4, invoice_template = $5, \
         receipt_template = $6, credit_note_template = $7, reminder_days_before = $8, overdue_after_days = $9, \
         suspend_after_days = $10, webhook_secret_enc = $11, brand_color = $12, legal_address = $13, tax_id = $14, \
         payment_instructions = $15, updated_at = $16, draft_invoices = $17"
    ))
    .bind(actor.tenant_id)
    .bind(s.billing_day)
    .bind(s.mode)
    .bind(s.payment_terms_days)
    .bind(&s.invoice_template)
    .bind(&s.receipt_template)
    .bind(&s.credit_note_template)
    .bind(s.reminder_days_before)
    .bind(s.overdue_after_days)
    .bind(s.suspend_after_days)
    .bind(&s.webhook_secret_enc)
    .bind(s.brand_color.to_ascii_uppercase())
    .bind(s.legal_address.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(s.tax_id.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(s.payment_instructions.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(now)
    .bind(s.draft_invoices.signum())
    .execute(tx.x())
    .await?;
    let details = json!({"billingDay": s.billing_day, "mode": s.mode, "paymentTermsDays": s.payment_terms_days,
        "invoiceTemplate": s.invoice_template, "draftInvoices": s.draft_invoices != 0, "webhookSecretChanged": new_secret.is_some()});
    audit::record(&mut tx, actor, "billing.settings", "Tenant", Some(actor.tenant_id), details, now).await?;
    tx.commit().await?;
    Ok(s)
}

/// A tax rate of a tax class.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaxRate {
    /// Tax class (`standard`, `reduced` ...), referenced by plans and charges.
    pub tax_class: String,
    /// Name printed on invoices (`VAT 16%`).
    pub name: String,
    /// Basis points (1600 = 16.00 %).
    pub rate_bp: i64,
    /// 1 when prices include the tax.
    pub inclusive: i64,
}

impl TaxRate {
    /// As used by [`super::tax::apply`].
    pub fn rate(&self) -> Rate {
        Rate { bp: self.rate_bp, inclusive: self.inclusive != 0 }
    }
}

/// The tenant's tax rates by class.
pub async fn tax_rates(db: &Db, tenant_id: i64) -> CoreResult<Vec<TaxRate>> {
    Ok(sqlx::query_as::<_, TaxRate>(
        "SELECT tax_class, name, rate_bp, inclusive FROM tax_rates WHERE tenant_id = $1 ORDER BY tax_class",
    )
    .bind(tenant_id)
    .fetch_all(db.x())
    .await?)
}

/// Tax rates by class, inside a transaction.
pub async fn rate_map(tx: &mut Tx, tenant_id: i64) -> CoreResult<HashMap<String, Rate>> {
    let rows =
        sqlx::query_as::<_, TaxRate>("SELECT tax_class, name, rate_bp, inclusive FROM tax_rates WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(tx.x())
            .await?;
    Ok(rows.into_iter().map(|r| (r.tax_class.clone(), r.rate())).collect())
}

fn check_class(class: &str) -> CoreResult<()> {
    let ok =
        (1..=40).contains(&class.len()) && class.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CoreError::validation("taxClass", "must be 1-40 letters, digits, - or _"))
    }
}

/// Creates or replaces the rate of a tax class.
pub async fn set_tax_rate(ctx: &Ctx, actor: &Actor, r: &TaxRate) -> CoreResult<TaxRate> {
    actor.require(Action::BillingSettingsWrite)?;
    check_class(&r.tax_class)?;
    crate::validate::text(&r.name, 60).map_err(|m| CoreError::validation("name", m))?;
    if !(0..=10_000).contains(&r.rate_bp) {
        return Err(CoreError::validation("rateBasisPoints", "must be 0-10000 (0-100 %)"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    sqlx::query(
        "INSERT INTO tax_rates (tenant_id, tax_class, name, rate_bp, inclusive, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, tax_class) DO UPDATE SET name = $3, rate_bp = $4, inclusive = $5, updated_at = $6",
    )
    .bind(actor.tenant_id)
    .bind(&r.tax_class)
    .bind(r.name.trim())
    .bind(r.rate_bp)
    .bind(r.inclusive.signum())
    .bind(now)
    .execute(tx.x())
    .await?;
    let details = json!({"taxClass": r.tax_class, "rateBp": r.rate_bp, "inclusive": r.inclusive != 0});
    audit::record(&mut tx, actor, "billing.taxRate", "Tenant", Some(actor.tenant_id), details, now).await?;
    tx.commit().await?;
    Ok(r.clone())
}

/// Sets the tax class of plan `plan_id`.
pub async fn set_plan_tax_class(ctx: &Ctx, actor: &Actor, plan_id: i64, class: &str) -> CoreResult<()> {
    actor.require(Action::BillingSettingsWrite)?;
    check_class(class)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let r = sqlx::query("UPDATE plans SET tax_class = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(class)
        .bind(now)
        .bind(actor.tenant_id)
        .bind(plan_id)
        .execute(tx.x())
        .await?;
    if r.rows_affected() == 0 {
        return Err(CoreError::NotFound("plan"));
    }
    audit::record(&mut tx, actor, "plan.taxClass", "Plan", Some(plan_id), json!({"taxClass": class}), now).await?;
    tx.commit().await?;
    Ok(())
}

/// The tax class of plan `plan_id`.
pub async fn plan_tax_class(db: &Db, tenant_id: i64, plan_id: i64) -> CoreResult<String> {
    let (c,): (String,) = sqlx::query_as("SELECT tax_class FROM plans WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(plan_id)
        .fetch_optional(db.x())
        .await?
        .ok_or(CoreError::NotFound("plan"))?;
    Ok(c)
}
