//! Branded invoice and receipt PDFs: `GET /invoices/{id}/pdf` and `GET /payments/{id}/receipt`,
//! authorised by the same bearer tokens and roles as the graph (`InvoiceRead`).
//!
//! Documents are typst markup filled with escaped string literals and typeset in-process
//! with fonts embedded from `typst-assets` (nothing is read or downloaded at run time). The
//! typesetter is behind the `pdf` cargo feature; without it the routes answer 501.

use crate::schema::types::Money;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use isp_core::auth::{Action, Actor};
use isp_core::billing::settings::{self, BillingSettings};
use isp_core::billing::{invoices, payments, InvoiceKind};
use isp_core::store::{customers, tenants};
use isp_core::{staff, CoreError, Ctx};

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

fn header_block(s: &BillingSettings, tenant: &str, title: &str, facts: &[String]) -> String {
    let mut left = format!("#text(size: 18pt, weight: \"bold\", fill: brand)[{}]", lit(tenant));
    if let Some(a) = &s.legal_address {
        left.push_str(&format!(" \\\n{}", lit(a)));
    }
    if let Some(t) = &s.tax_id {
        left.push_str(&format!(" \\\n{}", lit(&format!("Tax ID: {t}"))));
    }
    let right: Vec<String> = facts.iter().map(|f| lit(f)).collect();
    format!(
        "#set page(paper: \"a4\", margin: 2cm)\n#set text(size: 10pt)\n#let brand = rgb(\"{}\")\n\
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
    let mut t = format!(
        "#table(columns: ({cols}), stroke: 0.5pt + luma(200), fill: (x, y) => if y == 0 {{ brand.lighten(80%) }},\n"
    );
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

/// The typst source of invoice (or credit note) `id`.
pub async fn invoice_source(ctx: &Ctx, actor: &Actor, id: i64) -> Result<String, CoreError> {
    actor.require(Action::InvoiceRead)?;
    let t = actor.tenant_id;
    let inv = invoices::get(&ctx.db, t, id).await?;
    let lines = invoices::lines(&ctx.db, t, &[id]).await?;
    let tenant = tenants::get(&ctx.db, t).await?;
    let customer = customers::get(&ctx.db, t, inv.customer_id).await?;
    let s = settings::get(&ctx.db, t).await?;
    let m = |a: i64| Money::new(a, &tenant.currency).formatted;
    let title = if inv.kind == InvoiceKind::CreditNote { "CREDIT NOTE" } else { "INVOICE" };
    let number = inv.number.clone().unwrap_or_else(|| "DRAFT".into());
    let facts = [
        number,
        format!("Issued {}", inv.issue_date),
        format!("Due {}", inv.due_date),
        format!("Status {}", inv.status),
    ];
    let mut src = header_block(&s, &tenant.name, title, &facts);
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
    Ok(src)
}

/// The typst source of the receipt of payment `id`.
pub async fn receipt_source(ctx: &Ctx, actor: &Actor, id: i64) -> Result<String, CoreError> {
    actor.require(Action::InvoiceRead)?;
    let t = actor.tenant_id;
    let p = payments::get(&ctx.db, t, id).await?;
    let tenant = tenants::get(&ctx.db, t).await?;
    let customer = customers::get(&ctx.db, t, p.customer_id).await?;
    let s = settings::get(&ctx.db, t).await?;
    let m = |a: i64| Money::new(a, &tenant.currency).formatted;
    let facts = [p.receipt_number.clone(), format!("Received {}", p.received_on), format!("Method {}", p.method)];
    let mut src = header_block(&s, &tenant.name, "RECEIPT", &facts);
    src.push_str(&customer_block(&customer));
    let mut rows = Vec::new();
    for a in payments::allocations(&ctx.db, t, id, false).await? {
        let inv = invoices::get(&ctx.db, t, a.invoice_id).await?;
        rows.push(vec![format!("Invoice {}", inv.number.unwrap_or_default()), m(a.amount_minor)]);
    }
    src.push_str(&table(&["Applied to", "Amount"], &rows));
    src.push_str(&totals(&[("Amount received", m(p.amount_minor)), ("Refunded", m(p.refunded_minor))]));
    if let Some(r) = &p.reference {
        src.push_str(&format!("\n{}\n", lit(&format!("Reference: {r}"))));
    }
    Ok(src)
}

/// Typesets typst markup into a PDF.
#[cfg(feature = "pdf")]
pub fn render(markup: String) -> Result<Vec<u8>, String> {
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
            Err(FileError::NotFound(id.vpath().as_rootless_path().into()))
        }
        fn font(&self, index: usize) -> Option<Font> {
            self.shared.fonts.get(index).cloned()
        }
        fn today(&self, _offset: Option<i64>) -> Option<Datetime> {
            None
        }
    }
    let source = Source::new(FileId::new(None, VirtualPath::new("/document.typ")), markup);
    let doc = Doc { shared, source };
    let paged: PagedDocument = typst::compile(&doc)
        .output
        .map_err(|errs| errs.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))?;
    typst_pdf::pdf(&paged, &typst_pdf::PdfOptions::default())
        .map_err(|errs| errs.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
}

/// Without the `pdf` feature there is no typesetter.
#[cfg(not(feature = "pdf"))]
pub fn render(_markup: String) -> Result<Vec<u8>, String> {
    Err("this server was built without PDF support (cargo feature `pdf`)".into())
}

fn error(e: CoreError) -> Response {
    let status = match e {
        CoreError::Unauthenticated => StatusCode::UNAUTHORIZED,
        CoreError::Forbidden(_) => StatusCode::FORBIDDEN,
        CoreError::NotFound(_) | CoreError::Validation { .. } => StatusCode::NOT_FOUND,
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
    let markup = match source {
        Ok(m) => m,
        Err(e) => return error(e),
    };
    match tokio::task::spawn_blocking(move || render(markup)).await {
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
    fn literals_escape_typst_syntax() {
        assert_eq!(lit(r#"a "b" \ #c"#), r##"#"a \"b\" \\ #c""##);
        assert_eq!(lit("l1\r\nl2"), "#\"l1\\nl2\"");
    }
}
