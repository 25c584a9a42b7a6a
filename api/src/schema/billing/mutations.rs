//! Billing changes: settings and tax rates, charges and plan changes, billing and dunning
//! runs, issuing and voiding invoices, payments and refunds.

use super::inputs::{AddChargeInput, BillingSettingsInput, PaymentGatewayInput, RecordPaymentInput};
use super::{
    date_arg, BillingRunResult, BillingSettings, Charge, DunningRunResult, Invoice, Payment, PaymentGateway, TaxRate,
};
use crate::access::root;
use crate::error::{invalid, Gql};
use crate::fast::{fast, Fast, FastList};
use crate::ids;
use crate::schema::{core, tenant_currency};
use async_graphql::{Context, Object, ID};
use isp_core::billing::payments::NewPayment;
use isp_core::billing::run;
use isp_core::billing::settings::{self as bsettings, LogoChange, TaxRate as CoreTaxRate};
use isp_core::patch::Patch;
use isp_core::workflows::charges::NewCharge;

/// Changes of billing.
#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Changes the billing settings (owner and admin).
    async fn update_billing_settings(
        &self,
        ctx: &Context<'_>,
        input: BillingSettingsInput,
    ) -> async_graphql::Result<Fast<BillingSettings>> {
        let a = root(ctx)?;
        let c = core(ctx);
        let mut s = bsettings::get(&c.db, a.tenant_id).await.gql()?;
        let i = input;
        s.billing_day = i.billing_day.apply(s.billing_day);
        s.mode = i.mode.unwrap_or(s.mode);
        s.payment_terms_days = i.payment_terms_days.unwrap_or(s.payment_terms_days);
        s.invoice_template = i.invoice_template.unwrap_or(s.invoice_template);
        s.receipt_template = i.receipt_template.unwrap_or(s.receipt_template);
        s.credit_note_template = i.credit_note_template.unwrap_or(s.credit_note_template);
        s.reminder_days_before = i.reminder_days_before.unwrap_or(s.reminder_days_before);
        s.overdue_after_days = i.overdue_after_days.unwrap_or(s.overdue_after_days);
        s.suspend_after_days = i.suspend_after_days.unwrap_or(s.suspend_after_days);
        s.brand_color = i.brand_color.unwrap_or(s.brand_color);
        s.draft_invoices = i.draft_invoices.map_or(s.draft_invoices, i64::from);
        for (field, v) in [
            (&mut s.legal_address, i.legal_address),
            (&mut s.tax_id, i.tax_id),
            (&mut s.payment_instructions, i.payment_instructions),
            (&mut s.accent_color, i.accent_color),
        ] {
            *field = v.apply(field.take());
        }
        let logo = match i.logo {
            Patch::Unchanged => LogoChange::Keep,
            Patch::Clear => LogoChange::Remove,
            Patch::Set(b64) => {
                use base64::Engine;
                let data = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| invalid("logo", "must be base64"))?;
                let content_type = bsettings::sniff_logo(&data).gql()?;
                crate::pdf::check_logo(content_type, data.clone()).await.map_err(|m| invalid("logo", &m))?;
                LogoChange::Set(data)
            }
        };
        isp_core::workflows::billing_settings::update_with_logo(c, a, &s, logo).await.gql().map(fast(BillingSettings))
    }

    /// Configures a payment gateway, or replaces its scheme and secret (owner and admin).
    /// Webhooks are accepted only for configured gateways; the secret is never returned.
    async fn set_payment_gateway(
        &self,
        ctx: &Context<'_>,
        input: PaymentGatewayInput,
    ) -> async_graphql::Result<Fast<PaymentGateway>> {
        let a = root(ctx)?;
        isp_core::workflows::webhooks::set_gateway(core(ctx), a, &input.provider, input.scheme, &input.secret)
            .await
            .gql()
            .map(fast(PaymentGateway))
    }

    /// Removes a payment gateway (owner and admin): its webhooks are answered 404 from then on.
    /// Returns the provider name.
    async fn remove_payment_gateway(&self, ctx: &Context<'_>, provider: String) -> async_graphql::Result<String> {
        let a = root(ctx)?;
        isp_core::workflows::webhooks::remove_gateway(core(ctx), a, &provider).await.gql()
    }

    /// Creates or replaces the tax rate of a tax class (owner and admin).
    async fn set_tax_rate(&self, ctx: &Context<'_>, input: CoreTaxRate) -> async_graphql::Result<Fast<TaxRate>> {
        let a = root(ctx)?;
        isp_core::workflows::billing_settings::set_tax_rate(core(ctx), a, &input).await.gql().map(|s| Fast(s.into()))
    }

    /// Sets a plan's tax class (owner and admin). Returns the class.
    async fn set_plan_tax_class(
        &self,
        ctx: &Context<'_>,
        plan_id: ID,
        tax_class: String,
    ) -> async_graphql::Result<String> {
        let a = root(ctx)?;
        let p = ids::decode(&plan_id, "Plan", "planId")?;
        isp_core::workflows::billing_settings::set_plan_tax_class(core(ctx), a, p, &tax_class).await.gql()?;
        Ok(tax_class)
    }

    /// Adds a one-off charge (or credit) to the customer's next invoice.
    async fn add_charge(&self, ctx: &Context<'_>, input: AddChargeInput) -> async_graphql::Result<Fast<Charge>> {
        let a = root(ctx)?;
        let c = ids::decode(&input.customer_id, "Customer", "customerId")?;
        let s = ids::decode_opt(&input.subscription_id, "Subscription", "subscriptionId")?;
        let charge = NewCharge {
            customer_id: c,
            subscription_id: s,
            description: &input.description,
            amount_minor: input.amount_minor,
            credit: input.credit,
            tax_class: input.tax_class.as_deref(),
        };
        isp_core::workflows::charges::add(core(ctx), a, &charge).await.gql().map(fast(Charge))
    }

    /// Moves a subscription to another plan from `effectiveDate` (default today), adding the
    /// prorated difference for the rest of the cycle to the next invoice. Returns the adjustments.
    async fn change_subscription_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
        plan_id: ID,
        effective_date: Option<String>,
    ) -> async_graphql::Result<FastList<Charge>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Subscription", "id")?;
        let p = ids::decode(&plan_id, "Plan", "planId")?;
        Ok(isp_core::workflows::subscriptions::change_plan(core(ctx), a, id, p, effective_date.as_deref())
            .await
            .gql()?
            .into_iter()
            .map(Charge)
            .collect())
    }

    /// Cancels a subscription from `effectiveDate` (default today) with a prorated credit or
    /// final charge on the next invoice. Returns the adjustment, if any.
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
        effective_date: Option<String>,
        reason: Option<String>,
    ) -> async_graphql::Result<Option<Fast<Charge>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Subscription", "id")?;
        Ok(isp_core::workflows::subscriptions::cancel(core(ctx), a, id, effective_date.as_deref(), reason.as_deref())
            .await
            .gql()?
            .map(fast(Charge)))
    }

    /// Bills every due cycle and pending charge as of `asOf` (default today). Safe to repeat:
    /// nothing is ever billed twice. Returns counts and totals, and the invoices page by page.
    async fn run_billing(
        &self,
        ctx: &Context<'_>,
        as_of: Option<String>,
    ) -> async_graphql::Result<Fast<BillingRunResult>> {
        let a = root(ctx)?;
        let day = date_arg("asOf", as_of, ctx).await?;
        let out = run::run(core(ctx), a, day).await.gql()?;
        Ok(Fast(BillingRunResult { as_of: day, out, currency: tenant_currency(ctx).await? }))
    }

    /// Issues a draft invoice: numbers it, dates it today and pays it from customer credit.
    async fn issue_invoice(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<Invoice>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Invoice", "id")?;
        let mut issued = isp_core::workflows::invoices::issue(core(ctx), a, &[id]).await.gql()?;
        Ok(Fast(Invoice(issued.remove(0))))
    }

    /// Issues draft invoices, all or none (at most 1000), numbered in the order given.
    async fn issue_invoices(&self, ctx: &Context<'_>, ids: Vec<ID>) -> async_graphql::Result<FastList<Invoice>> {
        let a = root(ctx)?;
        let list = ids.iter().map(|i| ids::decode(i, "Invoice", "ids")).collect::<Result<Vec<_>, _>>()?;
        Ok(isp_core::workflows::invoices::issue(core(ctx), a, &list).await.gql()?.into_iter().map(Invoice).collect())
    }

    /// Deletes a draft invoice; its cycles and charges are billed again by the next run.
    /// Returns the deleted invoice's ID. Issued invoices cannot be deleted: void them.
    async fn delete_invoice(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let a = root(ctx)?;
        let raw = ids::decode(&id, "Invoice", "id")?;
        isp_core::workflows::invoices::delete_draft(core(ctx), a, raw).await.gql()?;
        Ok(id)
    }

    /// Voids an invoice: issues a credit note and turns its payments into customer credit.
    /// Returns the credit note, or, for a draft (never sent, so no credit note), the voided draft.
    async fn void_invoice(&self, ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<Fast<Invoice>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Invoice", "id")?;
        isp_core::workflows::invoices::void(core(ctx), a, id, &reason)
            .await
            .gql()
            .map(|(voided, note)| Fast(Invoice(note.unwrap_or(voided))))
    }

    /// Records a payment and allocates it (cashiers and up).
    async fn record_payment(
        &self,
        ctx: &Context<'_>,
        input: RecordPaymentInput,
    ) -> async_graphql::Result<Fast<Payment>> {
        let a = root(ctx)?;
        let invoice_ids = match &input.invoice_ids {
            Some(list) => {
                Some(list.iter().map(|i| ids::decode(i, "Invoice", "invoiceIds")).collect::<Result<Vec<_>, _>>()?)
            }
            None => None,
        };
        let p = NewPayment {
            customer_id: ids::decode(&input.customer_id, "Customer", "customerId")?,
            amount_minor: input.amount_minor,
            method: input.method,
            reference: input.reference,
            received_on: input.received_on,
            invoice_ids,
        };
        isp_core::workflows::payments::record(core(ctx), a, &p).await.gql().map(fast(Payment))
    }

    /// Refunds all or part of a payment (`amountMinor` 1 to 10^12); more than what is left to
    /// refund is refused.
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        amount_minor: i64,
        reason: String,
    ) -> async_graphql::Result<Fast<Payment>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Payment", "id")?;
        isp_core::workflows::payments::refund(core(ctx), a, id, amount_minor, &reason).await.gql().map(fast(Payment))
    }

    /// Runs the dunning policy as of `asOf` (default today).
    async fn run_dunning(
        &self,
        ctx: &Context<'_>,
        as_of: Option<String>,
    ) -> async_graphql::Result<Fast<DunningRunResult>> {
        let a = root(ctx)?;
        let day = date_arg("asOf", as_of, ctx).await?;
        let o = isp_core::workflows::dunning::run(core(ctx), a, day).await.gql()?;
        Ok(Fast(DunningRunResult {
            reminders: o.reminders as i64,
            overdue: o.overdue as i64,
            suspended: o.suspended as i64,
        }))
    }
}
