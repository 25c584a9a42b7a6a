//! Branded invoice and receipt PDFs: `GET /invoices/{id}/pdf` and `GET /payments/{id}/receipt`,
//! authorised by the same bearer tokens and roles as the graph (`InvoiceRead`).
//!
//! Documents are typst markup filled with escaped string literals and typeset in-process
//! with fonts embedded from `typst-assets` (nothing is read or downloaded at run time); the
//! tenant's logo is the one file the document can read. Branding comes from the billing
//! settings: logo, brand and accent colours, address, tax id and payment instructions. The
//! typesetter is the `pdf` cargo feature, on by default in the `isp` binary; without it the
//! routes answer 501.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use isp_core::auth::{Action, Actor};
use isp_core::billing::settings::{self, BillingSettings, Logo};
use isp_core::billing::{invoices, payments, InvoiceKind};
use isp_core::store::{customers, tenants};
use isp_core::workflows::staff;
use isp_core::{CoreError, Ctx};

/// A typst string literal holding `s` (inserted into markup as `#"..."`).
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    out.push_str("#\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A document to typeset: typst markup and the logo it may show.
#[derive(Debug, Clone)]
pub struct Document {
    /// Typst markup.
    pub markup: String,
    /// The tenant's logo, readable by the markup at [`logo_path`].
    pub logo: Option<Logo>,
}

/// Where the markup finds the logo (typst picks the decoder from the extension).
pub fn logo_path(content_type: &str) -> &'static str {
    if content_type == "image/svg+xml" {
        "/logo.svg"
    } else {
        "/logo.png"
    }
}

fn header_block(s: &BillingSettings, logo: Option<&Logo>, tenant: &str, title: &str, facts: &[String]) -> String {
    let mut left = String::new();
    if let Some(l) = logo {
        // 1.6 cm high, or 7 cm wide when that is smaller; left-aligned, aspect kept.
        left.push_str(&format!(
            "#context {{ let logo = image(\"{p}\", height: 1.6cm); \
             if measure(logo).width > 7cm {{ image(\"{p}\", width: 7cm) }} else {{ logo }} }} \\\n",
            p = logo_path(&l.content_type)
        ));
    }
    left.push_str(&format!("#text(size: 18pt, weight: \"bold\", fill: brand)[{}]", lit(tenant)));
    if let Some(a) = &s.legal_address {
        left.push_str(&format!(" \\\n{}", lit(a)));
    }
    if let Some(t) = &s.tax_id {
        left.push_str(&format!(" \\\n{}", lit(&format!("Tax ID: {t}"))));
    }
    let right: Vec<String> = facts.iter().map(|f| lit(f)).collect();
    let accent = match &s.accent_color {
        Some(c) => format!("rgb(\"{c}\")"),
        None => "brand.lighten(80%)".into(),
    };
    format!(
        "#set page(paper: \"a4\", margin: 2cm)\n#set text(size: 10pt)\n#let brand = rgb(\"{}\")\n#let accent = {accent}\n\
         #grid(columns: (1fr, auto), gutter: 1em, [{left}], align(right)[#text(size: 16pt, weight: \"bold\")[{}] \\\n{}])\n\
         #line(length: 100%, stroke: 1pt + brand)\n",
        s.brand_color,
        lit(title),
        right.join(" \\\n")
    )
}

fn customer_block(c: &customers::Customer) -> String {
    let mut b = format!("*Bill to* \\\n{} \\\n{}", lit(&c.name), lit(&format!("Account {}", c.account_number)));
    if let Some(a) = &c.address {
        b.push_str(&format!(" \\\n{}", lit(a)));
    }
    if let Some(t) = &c.tax_id {
        b.push_str(&format!(" \\\n{}", lit(&format!("Tax ID: {t}"))));
    }
    b + "\n\n"
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols =
        std::iter::once("1fr").chain(std::iter::repeat_n("auto", headers.len() - 1)).collect::<Vec<_>>().join(", ");
    let mut t =
        format!("#table(columns: ({cols}), stroke: 0.5pt + luma(200), fill: (x, y) => if y == 0 {{ accent }},\n");
    for h in headers {
        t.push_str(&format!("  [*{}*],", lit(h)));
    }
    for r in rows {
        t.push('\n');
        for cell in r {
            t.push_str(&format!("  [{}],", lit(cell)));
        }
    }
    t + "\n)\n"
}

fn totals(rows: &[(&str, String)]) -> String {
    let cells: Vec<String> = rows.iter().map(|(k, v)| format!("[{}], [{}]", lit(k), lit(v))).collect();
    format!("#align(right)[#grid(columns: 2, column-gutter: 2em, row-gutter: 0.6em, {})]\n", cells.join(", "))
}

/// The typst source of invoice (or credit note) `id`, with the tenant's logo.
pub async fn invoice_source(ctx: &Ctx, actor: &Actor, id: i64) -> Result<Document, CoreError> {
    actor.require(Action::InvoiceRead)?;
    let t = actor.tenant_id;
    let inv = invoices::get(&ctx.db, t, id).await?;
    let lines = invoices::lines(&ctx.db, t, &[id]).await?;
    let tenant = tenants::get(&ctx.db, t).await?;
    let customer = customers::get(&ctx.db, t, inv.customer_id).await?;
    let s = settings::get(&ctx.db, t).await?;
    let logo = settings::logo(&ctx.db, t).await?;
    let m = |a: i64| isp_core::billing::fmt_money(a, &tenant.currency);
    let title = if inv.kind == InvoiceKind::CreditNote { "CREDIT NOTE" } else { "INVOICE" };
    let number = inv.number.clone().unwrap_or_else(|| "DRAFT".into());
    let facts = [
        number,
        format!("Issued {}", inv.issue_date),
        format!("Due {}", inv.due_date),
        format!("Status {}", inv.status),
    ];
    let mut src = header_block(&s, logo.as_ref(), &tenant.name, title, &facts);
    src.push_str(&customer_block(&customer));
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let rate = format!(
                "{}.{:02} %{}",
                l.tax_rate_bp / 100,
                l.tax_rate_bp % 100,
                if l.tax_inclusive != 0 { " incl." } else { "" }
            );
            vec![l.description.clone(), m(l.net_minor), rate, m(l.tax_minor), m(l.total_minor)]
        })
        .collect();
    src.push_str(&table(&["Description", "Net", "Tax rate", "Tax", "Total"], &rows));
    src.push_str(&totals(&[
        ("Subtotal", m(inv.subtotal_minor)),
        ("Tax", m(inv.tax_minor)),
        ("Total", m(inv.total_minor)),
        ("Paid", m(inv.paid_minor)),
        ("Balance due", m(inv.balance())),
    ]));
    if let Some(p) = &s.payment_instructions {
        src.push_str(&format!("\n*Payment instructions* \\\n{}\n", lit(p)));
    }
    Ok(Document { markup: src, logo })
}

/// The typst source of the receipt of payment `id`, with the tenant's logo.
pub async fn receipt_source(ctx: &Ctx, actor: &Actor, id: i64) -> Result<Document, CoreError> {
    actor.require(Action::InvoiceRead)?;
    let t = actor.tenant_id;
    let p = payments::get(&ctx.db, t, id).await?;
    let tenant = tenants::get(&ctx.db, t).await?;
    let customer = customers::get(&ctx.db, t, p.customer_id).await?;
    let s = settings::get(&ctx.db, t).await?;
    let logo = settings::logo(&ctx.db, t).await?;
    let m = |a: i64| isp_core::billing::fmt_money(a, &tenant.currency);
    let facts = [p.receipt_number.clone(), format!("Received {}", p.received_on), format!("Method {}", p.method)];
    let mut src = header_block(&s, logo.as_ref(), &tenant.name, "RECEIPT", &facts);
    src.push_str(&customer_block(&customer));
    let mut rows = Vec::new();
    for a in payments::allocations(&ctx.db, t, &[id], false).await? {
        let inv = invoices::get(&ctx.db, t, a.invoice_id).await?;
        rows.push(vec![format!("Invoice {}", inv.number.unwrap_or_default()), m(a.amount_minor)]);
    }
    src.push_str(&table(&["Applied to", "Amount"], &rows));
    src.push_str(&totals(&[("Amount received", m(p.amount_minor)), ("Refunded", m(p.refunded_minor))]));
    if let Some(r) = &p.reference {
        src.push_str(&format!("\n{}\n", lit(&format!("Reference: {r}"))));
    }
    Ok(Document { markup: src, logo })
}

/// Checks that typst can read a logo (sniffed as `content_type`) by typesetting a page that
/// shows it, so a broken image is refused when uploaded rather than breaking every PDF later.
/// Without the `pdf` feature there is nothing to check against.
pub async fn check_logo(content_type: &str, data: Vec<u8>) -> Result<(), String> {
    if cfg!(not(feature = "pdf")) {
        return Ok(());
    }
    let path = logo_path(content_type);
    let logo = Logo { content_type: content_type.to_string(), size_bytes: data.len() as i64, data };
    let doc = Document { markup: format!("#image(\"{path}\", width: 3cm)"), logo: Some(logo) };
    match tokio::task::spawn_blocking(move || render(doc)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(msg)) => Err(format!("is not an image that can be printed ({msg})")),
        Err(e) => Err(format!("could not be checked ({e})")),
    }
}

/// Typesets a document into a PDF.
#[cfg(feature = "pdf")]
pub fn render(doc: Document) -> Result<Vec<u8>, String> {
    use std::sync::OnceLock;
    use typst::diag::{FileError, FileResult};
    use typst::foundations::{Bytes, Datetime};
    use typst::layout::PagedDocument;
    use typst::syntax::{FileId, Source, VirtualPath};
    use typst::text::{Font, FontBook};
    use typst::utils::LazyHash;
    use typst::{Library, World};

    struct Fonts {
        library: LazyHash<Library>,
        book: LazyHash<FontBook>,
        fonts: Vec<Font>,
    }
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    let shared = FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts().flat_map(|d| Font::iter(Bytes::new(d))).collect();
        Fonts { library: LazyHash::new(Library::default()), book: LazyHash::new(FontBook::from_fonts(&fonts)), fonts }
    });
    struct Doc<'a> {
        shared: &'a Fonts,
        source: Source,
        logo: Option<(FileId, Bytes)>,
    }
    impl World for Doc<'_> {
        fn library(&self) -> &LazyHash<Library> {
            &self.shared.library
        }
        fn book(&self) -> &LazyHash<FontBook> {
            &self.shared.book
        }
        fn main(&self) -> FileId {
            self.source.id()
        }
        fn source(&self, id: FileId) -> FileResult<Source> {
            if id == self.source.id() {
                Ok(self.source.clone())
            } else {
                Err(FileError::NotFound(id.vpath().as_rootless_path().into()))
            }
        }
        fn file(&self, id: FileId) -> FileResult<Bytes> {
            match &self.logo {
                Some((logo, bytes)) if *logo == id => Ok(bytes.clone()),
                _ => Err(FileError::NotFound(id.vpath().as_rootless_path().into())),
            }
        }
        fn font(&self, index: usize) -> Option<Font> {
            self.shared.fonts.get(index).cloned()
        }
        fn today(&self, _offset: Option<i64>) -> Option<Datetime> {
            None
        }
    }
    let source = Source::new(FileId::new(None, VirtualPath::new("/document.typ")), doc.markup);
    let logo = doc.logo.map(|l| (FileId::new(None, VirtualPath::new(logo_path(&l.content_type))), Bytes::new(l.data)));
    let doc = Doc { shared, source, logo };
    let paged: PagedDocument = typst::compile(&doc)
        .output
        .map_err(|errs| errs.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))?;
    typst_pdf::pdf(&paged, &typst_pdf::PdfOptions::default())
        .map_err(|errs| errs.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
}

/// Invoice PDFs for the notification worker to attach to invoice emails; None when this
/// build has no typesetter (the emails then carry the invoice's link only).
pub fn attachments() -> Option<std::sync::Arc<dyn isp_core::delivery::Attachments>> {
    if cfg!(feature = "pdf") {
        Some(std::sync::Arc::new(InvoiceAttachments))
    } else {
        None
    }
}

/// Typesets invoice PDFs for emails, as the download route does.
struct InvoiceAttachments;

impl isp_core::delivery::Attachments for InvoiceAttachments {
    fn invoice_pdf<'a>(
        &'a self,
        ctx: &'a Ctx,
        tenant_id: i64,
        invoice_id: i64,
    ) -> isp_core::delivery::BoxFut<'a, Result<isp_core::delivery::Attachment, String>> {
        Box::pin(async move {
            let actor = Actor::system(tenant_id, "notify");
            let doc = invoice_source(ctx, &actor, invoice_id).await.map_err(|e| e.to_string())?;
            let number = invoices::get(&ctx.db, tenant_id, invoice_id)
                .await
                .map_err(|e| e.to_string())?
                .number
                .unwrap_or_else(|| format!("invoice-{invoice_id}"));
            let data = tokio::task::spawn_blocking(move || render(doc)).await.map_err(|e| e.to_string())??;
            Ok(isp_core::delivery::Attachment {
                filename: format!("{number}.pdf"),
                content_type: "application/pdf".into(),
                data,
            })
        })
    }
}

/// Without the `pdf` feature there is no typesetter.
#[cfg(not(feature = "pdf"))]
pub fn render(_doc: Document) -> Result<Vec<u8>, String> {
    Err("this server was built without PDF support (cargo feature `pdf`)".into())
}

fn error(e: CoreError) -> Response {
    let status = match e {
        CoreError::Unauthenticated => StatusCode::UNAUTHORIZED,
        CoreError::Forbidden(_) => StatusCode::FORBIDDEN,
        CoreError::NotFound(_) | CoreError::Validation { .. } => StatusCode::NOT_FOUND,
        CoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            tracing::error!(error = %e, "PDF source failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    (status, status.canonical_reason().unwrap_or("error")).into_response()
}

async fn serve_pdf(st: &super::AppState, headers: &HeaderMap, id: &str, ty: &str, filename: &str) -> Response {
    let Some(actor) = super::bearer(headers).and_then(|t| staff::authenticate(&st.ctx, t, None).ok()) else {
        return error(CoreError::Unauthenticated);
    };
    let Some((_, n)) = crate::ids::parse(id).filter(|(t, _)| t == ty) else {
        return error(CoreError::NotFound("document"));
    };
    let source = if ty == "Invoice" {
        invoice_source(&st.ctx, &actor, n).await
    } else {
        receipt_source(&st.ctx, &actor, n).await
    };
    let doc = match source {
        Ok(m) => m,
        Err(e) => return error(e),
    };
    match tokio::task::spawn_blocking(move || render(doc)).await {
        Ok(Ok(pdf)) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (header::CONTENT_DISPOSITION, format!("inline; filename=\"{filename}.pdf\"")),
            ],
            pdf,
        )
            .into_response(),
        Ok(Err(msg)) if cfg!(not(feature = "pdf")) => (StatusCode::NOT_IMPLEMENTED, msg).into_response(),
        Ok(Err(msg)) => {
            tracing::error!(error = %msg, "typesetting a PDF failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Err(e) => error(CoreError::from(e)),
    }
}

/// `GET /invoices/{id}/pdf`.
pub(crate) async fn invoice_pdf(
    State(st): State<super::AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve_pdf(&st, &headers, &id, "Invoice", "invoice").await
}

/// `GET /payments/{id}/receipt`.
pub(crate) async fn payment_receipt(
    State(st): State<super::AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve_pdf(&st, &headers, &id, "Payment", "receipt").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_shows_the_logo_and_both_colours() {
        let s = BillingSettings {
            brand_color: "#AA3300".into(),
            accent_color: Some("#FFEEDD".into()),
            ..Default::default()
        };
        let logo = Logo { content_type: "image/svg+xml".into(), size_bytes: 4, data: b"<svg".to_vec() };
        let h = header_block(&s, Some(&logo), "ISP", "INVOICE", &[]);
        assert!(h.contains("image(\"/logo.svg\", height: 1.6cm)"), "{h}");
        assert!(h.contains("#let brand = rgb(\"#AA3300\")") && h.contains("#let accent = rgb(\"#FFEEDD\")"), "{h}");
        let h = header_block(&BillingSettings::default(), None, "ISP", "INVOICE", &[]);
        assert!(!h.contains("image(") && h.contains("#let accent = brand.lighten(80%)"), "{h}");
    }

    #[cfg(feature = "pdf")]
    #[test]
    fn logos_typeset_or_are_reported() {
        let svg = br##"<svg xmlns="http://www.w3.org/2000/svg" width="60" height="20"><rect width="60" height="20" fill="#A30"/></svg>"##;
        let logo = Logo { content_type: "image/svg+xml".into(), size_bytes: svg.len() as i64, data: svg.to_vec() };
        let s = BillingSettings::default();
        let markup = header_block(&s, Some(&logo), "ISP", "INVOICE", &[]);
        let pdf = render(Document { markup: markup.clone(), logo: Some(logo) }).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let broken = Logo { content_type: "image/svg+xml".into(), size_bytes: 5, data: b"<svg>".to_vec() };
        assert!(render(Document { markup, logo: Some(broken) }).is_err());
    }

    #[test]
    fn literals_escape_typst_syntax() {
        assert_eq!(lit(r#"a "b" \ #c"#), r##"#"a \"b\" \\ #c""##);
        assert_eq!(lit("l1\r\nl2"), "#\"l1\\nl2\"");
    }
}
