//! A tenant's billing settings, branding and tax rates. Payment gateways and their webhook
//! secrets are configured in [`super::webhooks`].

use crate::auth::{Action, Actor};
use crate::billing::settings::{self, check_class, sniff_logo, BillingSettings, LogoChange, TaxRate};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::{validate, Ctx};
use serde_json::json;

/// Replaces the settings.
pub async fn update(ctx: &Ctx, actor: &Actor, s: &BillingSettings) -> CoreResult<BillingSettings> {
    update_with_logo(ctx, actor, s, LogoChange::Keep).await
}

/// [`update`] that also sets or removes the logo, in the same transaction.
pub async fn update_with_logo(
    ctx: &Ctx,
    actor: &Actor,
    s: &BillingSettings,
    logo: LogoChange,
) -> CoreResult<BillingSettings> {
    actor.require(Action::BillingSettingsWrite)?;
    s.validate()?;
    let logo = match logo {
        LogoChange::Set(data) => Some(Some((sniff_logo(&data)?, data))),
        LogoChange::Remove => Some(None),
        LogoChange::Keep => None,
    };
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    settings::upsert(&mut tx, actor.tenant_id, s, now).await?;
    let logo_details = match &logo {
        Some(Some((content_type, data))) => {
            settings::set_logo(&mut tx, actor.tenant_id, content_type, data, now).await?;
            json!({"contentType": content_type, "sizeBytes": data.len()})
        }
        Some(None) => {
            settings::remove_logo(&mut tx, actor.tenant_id).await?;
            json!("removed")
        }
        None => json!("unchanged"),
    };
    let details = json!({"billingDay": s.billing_day, "mode": s.mode, "paymentTermsDays": s.payment_terms_days,
        "invoiceTemplate": s.invoice_template, "draftInvoices": s.draft_invoices != 0, "logo": logo_details});
    Effects::new(ctx, actor, now)
        .audit("billing.settings", "Tenant", Some(actor.tenant_id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(s.clone())
}

/// Creates or replaces the rate of a tax class.
pub async fn set_tax_rate(ctx: &Ctx, actor: &Actor, r: &TaxRate) -> CoreResult<TaxRate> {
    actor.require(Action::BillingSettingsWrite)?;
    check_class(&r.tax_class)?;
    validate::text(&r.name, 60).map_err(|m| CoreError::validation("name", m))?;
    if !(0..=10_000).contains(&r.rate_bp) {
        return Err(CoreError::validation("rateBasisPoints", "must be 0-10000 (0-100 %)"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    settings::upsert_tax_rate(&mut tx, actor.tenant_id, r, now).await?;
    let details = json!({"taxClass": r.tax_class, "rateBp": r.rate_bp, "inclusive": r.inclusive});
    Effects::new(ctx, actor, now)
        .audit("billing.taxRate", "Tenant", Some(actor.tenant_id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(r.clone())
}

/// Sets the tax class of plan `plan_id`.
pub async fn set_plan_tax_class(ctx: &Ctx, actor: &Actor, plan_id: i64, class: &str) -> CoreResult<()> {
    actor.require(Action::BillingSettingsWrite)?;
    check_class(class)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    settings::set_plan_class(&mut tx, actor.tenant_id, plan_id, class, now).await?;
    Effects::new(ctx, actor, now)
        .audit("plan.taxClass", "Plan", Some(plan_id), json!({"taxClass": class}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
