//! Per-tenant billing settings, tax rates per tax class, plans' tax classes and the branding
//! of invoice and receipt PDFs (colours, address, tax id, payment instructions and a logo).
//! Payment gateways, each with its own webhook secret, are in [`super::gateways`].

use super::numbering;
use super::tax::Rate;
use super::BillingMode;
use crate::db::{query, query_as, Db, FromRow, Tx};
use crate::error::{CoreError, CoreResult};
use std::collections::HashMap;

/// How a tenant bills.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BillingSettings {
    /// Fixed day of the month 1-28, or None to bill on each subscription's anniversary
    /// (stored as 0).
    pub billing_day: Option<i64>,
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
    /// Brand color of invoices and receipts (name, titles, rules), `#RRGGBB`.
    pub brand_color: String,
    /// Second colour (table headings), `#RRGGBB`; None: a light tint of the brand colour.
    pub accent_color: Option<String>,
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
            billing_day: None,
            mode: BillingMode::Prepaid,
            payment_terms_days: 14,
            invoice_template: "INV-{YYYY}-{SEQ:5}".into(),
            receipt_template: "RCT-{YYYY}-{SEQ:5}".into(),
            credit_note_template: "CN-{YYYY}-{SEQ:5}".into(),
            reminder_days_before: 3,
            overdue_after_days: 0,
            suspend_after_days: 7,
            brand_color: "#1E66F5".into(),
            accent_color: None,
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
        self.billing_day.and_then(|d| u32::try_from(d).ok())
    }

    /// Checks every rule, naming the field.
    pub fn validate(&self) -> CoreResult<()> {
        let v = |f: &str, m: &str| Err(CoreError::validation(f, m));
        // Days 29-31 do not occur in every month, and 0 is no day: anniversaries are `null`.
        if self.billing_day.is_some_and(|d| !(1..=28).contains(&d)) {
            return v("billingDay", "must be 1-28 (null bills on each subscription's anniversary)");
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
        let is_rgb = |c: &str| {
            let c = c.as_bytes();
            c.len() == 7 && c[0] == b'#' && c[1..].iter().all(u8::is_ascii_hexdigit)
        };
        if !is_rgb(&self.brand_color) {
            return v("brandColor", "must be #RRGGBB");
        }
        if !self.accent_color.as_deref().is_none_or(is_rgb) {
            return v("accentColor", "must be #RRGGBB");
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

// `billing_settings.webhook_secret_enc`, the tenant-wide webhook secret of before migration
// 0011, is no longer read: each payment gateway has its own secret.
const COLS: &str = "mode, payment_terms_days, invoice_template, receipt_template, credit_note_template, \
    reminder_days_before, overdue_after_days, suspend_after_days, brand_color, legal_address, tax_id, \
    payment_instructions, draft_invoices, accent_color";

/// Reads a tenant's (`$1`) settings row.
pub(crate) fn select_sql() -> String {
    format!("SELECT NULLIF(billing_day, 0) AS billing_day, {COLS} FROM billing_settings WHERE tenant_id = $1")
}

/// The tenant's settings (defaults until changed).
pub async fn get(db: &Db, tenant_id: i64) -> CoreResult<BillingSettings> {
    Ok(query_as::<BillingSettings>(&select_sql()).bind(tenant_id).fetch_optional(db).await?.unwrap_or_default())
}

/// Like [`get`] inside a transaction.
pub async fn get_in(tx: &mut Tx, tenant_id: i64) -> CoreResult<BillingSettings> {
    Ok(query_as::<BillingSettings>(&select_sql()).bind(tenant_id).fetch_optional(&mut *tx).await?.unwrap_or_default())
}

/// Largest logo accepted, in bytes. The image travels base64-encoded inside a GraphQL request,
/// whose body is capped at 256 KiB (`graphql.max_body_bytes`), so 128 KiB (171 KiB encoded)
/// always fits; that is ample for a logo printed a few centimetres wide.
pub const MAX_LOGO_BYTES: usize = 128 * 1024;

/// Largest logo width or height in pixels (bounds the memory a PNG decodes to).
pub const MAX_LOGO_PIXELS: u32 = 4096;

/// What [`update_with_logo`] does with the logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoChange {
    /// Leave it as it is.
    Keep,
    /// Remove it.
    Remove,
    /// Replace it with this image (PNG or SVG; checked by [`sniff_logo`]).
    Set(Vec<u8>),
}

/// A tenant's logo.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Logo {
    /// `image/png` or `image/svg+xml`, sniffed from the bytes.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The image.
    pub data: Vec<u8>,
}

/// The content type of a logo, sniffed from its bytes (never taken from the client): a PNG
/// (signature and an IHDR of at most [`MAX_LOGO_PIXELS`] each way) or an SVG document (UTF-8
/// text whose first element is `<svg`), of at most [`MAX_LOGO_BYTES`]. VALIDATION on `logo`.
pub fn sniff_logo(data: &[u8]) -> CoreResult<&'static str> {
    let bad = |m: &str| Err(CoreError::validation("logo", m));
    if data.is_empty() {
        return bad("is empty");
    }
    if data.len() > MAX_LOGO_BYTES {
        return Err(CoreError::validation("logo", format!("must be at most {} KiB", MAX_LOGO_BYTES / 1024)));
    }
    // PNG: 8-byte signature, then the IHDR chunk (length 13) with width and height (PNG spec §11.2.2).
    if let Some(rest) = data.strip_prefix(b"\x89PNG\r\n\x1a\n") {
        if rest.len() < 25 || &rest[..8] != b"\x00\x00\x00\x0dIHDR" {
            return bad("is not a valid PNG image");
        }
        let dim = |at: usize| u32::from_be_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]);
        let (w, h) = (dim(8), dim(12));
        if w == 0 || h == 0 {
            return bad("is not a valid PNG image");
        }
        if w > MAX_LOGO_PIXELS || h > MAX_LOGO_PIXELS {
            return Err(CoreError::validation(
                "logo",
                format!("must be at most {MAX_LOGO_PIXELS} pixels wide and high"),
            ));
        }
        return Ok("image/png");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return bad("must be a PNG or SVG image");
    };
    if first_element(text) == Some("svg") {
        Ok("image/svg+xml")
    } else {
        bad("must be a PNG or SVG image")
    }
}

/// The name of the first element of an XML document, skipping a BOM, the XML declaration,
/// comments, processing instructions and a doctype.
fn first_element(mut t: &str) -> Option<&str> {
    t = t.trim_start_matches('\u{feff}');
    loop {
        t = t.trim_start();
        if let Some(r) = t.strip_prefix("<!--") {
            t = &r[r.find("-->")? + 3..];
        } else if t.starts_with("<?") || t.starts_with("<!") {
            t = &t[t.find('>')? + 1..];
        } else {
            let r = t.strip_prefix('<')?;
            let end = r.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(r.len());
            return Some(&r[..end]);
        }
    }
}

/// The tenant's logo, if one is set.
pub async fn logo(db: &Db, tenant_id: i64) -> CoreResult<Option<Logo>> {
    query_as::<Logo>("SELECT content_type, size_bytes, data FROM billing_logos WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_optional(db)
        .await
}

/// The content type and size of the tenant's logo, without the image.
pub async fn logo_info(db: &Db, tenant_id: i64) -> CoreResult<Option<(String, i64)>> {
    query_as("SELECT content_type, size_bytes FROM billing_logos WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_optional(db)
        .await
}

// The tax class is what plans and charges refer to; the name is printed (`VAT 16%`).
/// A tax rate for a tax class.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "TaxRateInput"))]
pub struct TaxRate {
    /// Tax class (`standard`, `reduced` ...).
    pub tax_class: String,
    /// Name printed on invoices.
    pub name: String,
    /// Basis points (1600 = 16.00 %).
    #[cfg_attr(feature = "graphql", graphql(name = "rateBasisPoints"))]
    pub rate_bp: i64,
    /// Prices include the tax.
    pub inclusive: bool,
}

impl TaxRate {
    /// As used by [`super::tax::apply`].
    pub fn rate(&self) -> Rate {
        Rate { bp: self.rate_bp, inclusive: self.inclusive }
    }
}

/// The tenant's tax rates by class.
pub async fn tax_rates(db: &Db, tenant_id: i64) -> CoreResult<Vec<TaxRate>> {
    query_as::<TaxRate>(
        "SELECT tax_class, name, rate_bp, inclusive FROM tax_rates WHERE tenant_id = $1 ORDER BY tax_class",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await
}

/// A tenant's (`$1`) tax rates.
pub(crate) const RATES_SQL: &str = "SELECT tax_class, name, rate_bp, inclusive FROM tax_rates WHERE tenant_id = $1";

/// Tax rates by class, inside a transaction.
pub async fn rate_map(tx: &mut Tx, tenant_id: i64) -> CoreResult<HashMap<String, Rate>> {
    Ok(rate_map_of(query_as::<TaxRate>(RATES_SQL).bind(tenant_id).fetch_all(&mut *tx).await?))
}

/// Rates by class.
pub(crate) fn rate_map_of(rows: Vec<TaxRate>) -> HashMap<String, Rate> {
    rows.into_iter().map(|r| (r.tax_class.clone(), r.rate())).collect()
}

/// A tax class name: 1-40 letters, digits, `-` or `_`.
pub fn check_class(class: &str) -> CoreResult<()> {
    let ok =
        (1..=40).contains(&class.len()) && class.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CoreError::validation("taxClass", "must be 1-40 letters, digits, - or _"))
    }
}

/// Writes the tenant's settings.
pub async fn upsert(tx: &mut Tx, tenant_id: i64, s: &BillingSettings, now: i64) -> CoreResult<()> {
    query(&format!(
        "INSERT INTO billing_settings (tenant_id, billing_day, {COLS}, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (tenant_id) DO UPDATE SET billing_day = $2, mode = $3, payment_terms_days = $4, invoice_template = $5, \
         receipt_template = $6, credit_note_template = $7, reminder_days_before = $8, overdue_after_days = $9, \
         suspend_after_days = $10, brand_color = $11, legal_address = $12, tax_id = $13, \
         payment_instructions = $14, draft_invoices = $15, accent_color = $16, updated_at = $17"
    ))
    .bind(tenant_id)
    .bind(s.billing_day.unwrap_or(0))
    .bind(s.mode)
    .bind(s.payment_terms_days)
    .bind(&s.invoice_template)
    .bind(&s.receipt_template)
    .bind(&s.credit_note_template)
    .bind(s.reminder_days_before)
    .bind(s.overdue_after_days)
    .bind(s.suspend_after_days)
    .bind(s.brand_color.to_ascii_uppercase())
    .bind(s.legal_address.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(s.tax_id.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(s.payment_instructions.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(s.draft_invoices.signum())
    .bind(s.accent_color.as_deref().map(str::to_ascii_uppercase))
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores the tenant's logo (sniffed `content_type`).
pub async fn set_logo(tx: &mut Tx, tenant_id: i64, content_type: &str, data: &[u8], now: i64) -> CoreResult<()> {
    query(
        "INSERT INTO billing_logos (tenant_id, content_type, size_bytes, data, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id) DO UPDATE SET content_type = $2, size_bytes = $3, data = $4, updated_at = $5",
    )
    .bind(tenant_id)
    .bind(content_type)
    .bind(data.len() as i64)
    .bind(data)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Removes the tenant's logo.
pub async fn remove_logo(tx: &mut Tx, tenant_id: i64) -> CoreResult<()> {
    query("DELETE FROM billing_logos WHERE tenant_id = $1").bind(tenant_id).execute(tx).await?;
    Ok(())
}

/// Creates or replaces the rate of a tax class (already checked).
pub async fn upsert_tax_rate(tx: &mut Tx, tenant_id: i64, r: &TaxRate, now: i64) -> CoreResult<()> {
    query(
        "INSERT INTO tax_rates (tenant_id, tax_class, name, rate_bp, inclusive, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, tax_class) DO UPDATE SET name = $3, rate_bp = $4, inclusive = $5, updated_at = $6",
    )
    .bind(tenant_id)
    .bind(&r.tax_class)
    .bind(r.name.trim())
    .bind(r.rate_bp)
    .bind(r.inclusive)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Sets the tax class of plan `plan_id`; NOT_FOUND when the plan is not in the tenant.
pub async fn set_plan_class(tx: &mut Tx, tenant_id: i64, plan_id: i64, class: &str, now: i64) -> CoreResult<()> {
    let n = query("UPDATE plans SET tax_class = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(class)
        .bind(now)
        .bind(tenant_id)
        .bind(plan_id)
        .execute(tx)
        .await?;
    if n == 0 {
        return Err(CoreError::NotFound("plan"));
    }
    Ok(())
}

/// The tax class of plan `plan_id`.
pub async fn plan_tax_class(db: &Db, tenant_id: i64, plan_id: i64) -> CoreResult<String> {
    let (c,): (String,) = query_as("SELECT tax_class FROM plans WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(plan_id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("plan"))?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut p = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        p.extend(w.to_be_bytes());
        p.extend(h.to_be_bytes());
        p.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        p
    }

    #[test]
    fn logos_are_sniffed_not_trusted() {
        assert_eq!(sniff_logo(&png(200, 80)).unwrap(), "image/png");
        let svg = "\u{feff}<?xml version=\"1.0\"?>\n<!-- logo -->\n<!DOCTYPE svg>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
        assert_eq!(sniff_logo(svg.as_bytes()).unwrap(), "image/svg+xml");
        let field = |r: CoreResult<&str>| match r {
            Err(CoreError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(field(sniff_logo(b"")), "logo");
        assert_eq!(field(sniff_logo(b"GIF89a....")), "logo");
        assert_eq!(field(sniff_logo(b"<html><svg/></html>")), "logo");
        assert_eq!(field(sniff_logo(&png(0, 10))), "logo");
        assert_eq!(field(sniff_logo(&png(5000, 10))), "logo");
        assert_eq!(field(sniff_logo(&png(10, 10)[..20])), "logo");
        let mut big = png(10, 10);
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert_eq!(field(sniff_logo(&big)), "logo");
    }

    #[test]
    fn billing_day_is_a_day_of_every_month_or_none() {
        let day = |d| BillingSettings { billing_day: d, ..Default::default() }.validate();
        assert!(day(None).is_ok() && day(Some(1)).is_ok() && day(Some(28)).is_ok());
        for bad in [0, 29, 31, -1, i64::MAX] {
            assert!(
                matches!(day(Some(bad)), Err(CoreError::Validation { field, .. }) if field == "billingDay"),
                "{bad}"
            );
        }
        assert_eq!(BillingSettings { billing_day: Some(5), ..Default::default() }.fixed_day(), Some(5));
        assert_eq!(BillingSettings::default().fixed_day(), None);
    }

    #[test]
    fn accent_color_is_checked_like_the_brand_color() {
        let s = BillingSettings { accent_color: Some("#12abEF".into()), ..Default::default() };
        assert!(s.validate().is_ok());
        let s = BillingSettings { accent_color: Some("red".into()), ..Default::default() };
        assert!(matches!(s.validate(), Err(CoreError::Validation { field, .. }) if field == "accentColor"));
    }
}
