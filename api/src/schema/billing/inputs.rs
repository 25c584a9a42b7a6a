//! Input objects of the billing mutations that the API defines itself: the settings change
//! (its logo arrives base64-encoded and is checked by typesetting it), a payment gateway (its
//! secret kept out of logs), and those that carry global `ID`s where the core takes row ids. `TaxRateInput` is the core's
//! `billing::settings::TaxRate`, derived behind its `graphql` feature.

use async_graphql::{InputObject, ID};
use isp_core::billing::gateways::GatewayScheme;
use isp_core::billing::{BillingMode, PaymentMethod};
use isp_core::patch::Patch;

/// Changes to the billing settings. Absent fields stay as they are.
#[derive(InputObject)]
pub struct BillingSettingsInput {
    /// Fixed day of the month 1-28; null bills each subscription on its anniversary (0 and
    /// days 29-31 are refused).
    pub billing_day: Patch<i64>,
    /// In advance or in arrears.
    pub mode: Option<BillingMode>,
    /// Days from issue to due date.
    pub payment_terms_days: Option<i64>,
    /// Invoice number template (`{YYYY}`, `{YY}`, `{MM}`, and `{SEQ}` or `{SEQ:n}` once).
    pub invoice_template: Option<String>,
    /// Receipt number template.
    pub receipt_template: Option<String>,
    /// Credit note number template.
    pub credit_note_template: Option<String>,
    /// Reminder days before the due date.
    pub reminder_days_before: Option<i64>,
    /// Overdue days after the due date.
    pub overdue_after_days: Option<i64>,
    /// Suspension days after the due date.
    pub suspend_after_days: Option<i64>,
    /// Brand color of PDFs, `#RRGGBB`.
    pub brand_color: Option<String>,
    /// Second colour of PDFs (table headings), `#RRGGBB` (null: a tint of the brand color).
    pub accent_color: Patch<String>,
    /// Logo printed on PDFs: a PNG (at most 4096 px each way) or SVG image of at most 128 KiB,
    /// base64-encoded; the type is sniffed from the bytes (null removes the logo).
    pub logo: Patch<String>,
    /// Address printed on invoices (null clears).
    pub legal_address: Patch<String>,
    /// Tax id printed on invoices (null clears).
    pub tax_id: Patch<String>,
    /// Payment instructions printed on invoices (null clears).
    pub payment_instructions: Patch<String>,
    /// Billing runs create DRAFT invoices, numbered when issued (`issueInvoices`).
    pub draft_invoices: Option<bool>,
}

/// A payment gateway to configure, or whose scheme and secret to replace.
#[derive(InputObject)]
pub struct PaymentGatewayInput {
    /// Provider name as it will appear in the webhook URL
    /// (`/webhooks/payments/{provider}?tenant=<slug>`): 1-40 of `a-z`, `0-9` and `-`, stored in
    /// lower case.
    pub provider: String,
    /// How its webhooks are signed.
    pub scheme: GatewayScheme,
    /// The secret the gateway signs with (16-512 characters; write-only, never returned).
    #[graphql(secret)]
    pub secret: String,
}

/// A one-off charge, or with `credit: true` a credit, for the next invoice.
#[derive(InputObject)]
pub struct AddChargeInput {
    /// Customer.
    pub customer_id: ID,
    /// Subscription it concerns.
    pub subscription_id: Option<ID>,
    /// Text on the invoice.
    pub description: String,
    /// Amount of the line in minor units, at most 10^12 either way: positive for a charge,
    /// negative for a credit (`credit: true`); a negative amount is refused otherwise.
    pub amount_minor: i64,
    /// A credit (line kind CREDIT, negative amount) rather than a charge (ONE_OFF).
    #[graphql(default)]
    pub credit: bool,
    /// Tax class (default `standard`).
    pub tax_class: Option<String>,
}

/// A payment to record.
#[derive(InputObject)]
pub struct RecordPaymentInput {
    /// Customer paying.
    pub customer_id: ID,
    /// Amount in minor units, 1 to 10^12.
    pub amount_minor: i64,
    /// How.
    pub method: PaymentMethod,
    /// Reference.
    pub reference: Option<String>,
    /// Date received (default today).
    pub received_on: Option<String>,
    /// Invoices to pay, in this order; default: the oldest open invoices first.
    pub invoice_ids: Option<Vec<ID>>,
}
