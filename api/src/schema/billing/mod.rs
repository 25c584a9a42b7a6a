//! Billing in the graph: settings and tax rates, billing preview and runs, invoices and
//! credit notes, payments and refunds, balances and statements, dunning, reports.
//!
//! - `types`: what billing stores (settings, tax rates, invoices and their lines, payments,
//!   allocations, refunds, charges, dunning events);
//! - `reports`: what it computes (run previews and outcomes, balances, statements, the
//!   billing report);
//! - `queries` and `mutations`: the `BillingQuery` and `BillingMutation` roots;
//! - `inputs`: the mutations' input objects.

mod business;
mod inputs;
mod mutations;
mod queries;
mod reports;
mod types;

pub use business::BusinessReportQuery;
pub use inputs::*;
pub use mutations::BillingMutation;
pub use queries::BillingQuery;
pub use reports::*;
pub use types::*;

use super::core;
use super::tenant_currency;
use super::types::{Customer, Money};
use crate::error::{invalid, Gql};
use crate::fast::{fast, Fast};
use crate::request::actor;
use crate::schema::request_loaders;
use async_graphql::Context;
use chrono::NaiveDate;
use isp_core::CoreError;

use super::Conn;

/// A date argument; absent means today in the tenant's time zone.
async fn date_arg(field: &str, v: Option<String>, ctx: &Context<'_>) -> async_graphql::Result<NaiveDate> {
    match v {
        Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| invalid(field, "must be a date YYYY-MM-DD")),
        None => isp_core::billing::tenant_today(core(ctx), actor(ctx)?.tenant_id).await.gql(),
    }
}

async fn money(ctx: &Context<'_>, amount: i64) -> async_graphql::Result<Fast<Money>> {
    Ok(Fast(Money::new(amount, &tenant_currency(ctx).await?)))
}

async fn load_customer(ctx: &Context<'_>, id: i64) -> async_graphql::Result<Fast<Customer>> {
    let c = request_loaders(ctx)?.customers.one(id).await?;
    c.map(fast(Customer)).ok_or_else(|| crate::error::to_gql(CoreError::NotFound("customer")))
}
