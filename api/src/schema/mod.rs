//! The GraphQL schema: roots, the Node interface, connections and per-request helpers.

mod inputs;
mod mutation;
mod query;
mod subscription;
pub mod types;

use crate::loaders::Loaders;
use crate::request::actor;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Interface, ObjectType, OutputType, Schema, ID};
use isp_core::config::GraphqlConfig;
use isp_core::store::page::{self, Page};
use isp_core::store::tenants;
use isp_core::Ctx;
pub use subscription::SubscriptionRoot;

/// Entry points for reading the graph; each feature area contributes one part.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(query::CoreQuery);

/// Entry points for changing the graph; each feature area contributes one part.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(mutation::CoreMutation);
use tokio::sync::OnceCell;
use types::*;

/// The executable schema type.
pub type IspSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Builds the schema with its limits; `ctx` is shared by every request.
pub fn build(ctx: Ctx, limits: &GraphqlConfig) -> IspSchema {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .data(ctx)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(20)
        .finish()
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot).finish().sdl()
}

/// Anything with a global ID (Relay Object Identification).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global ID."))]
pub enum Node {
    /// A customer.
    Customer(Customer),
    /// A plan.
    Plan(Plan),
    /// A subscription.
    Subscription(Subscription),
    /// A staff user.
    StaffUser(StaffUser),
    /// The caller's tenant.
    Tenant(Tenant),
}

/// Per-request state created after authentication.
pub struct RequestState {
    /// Batching loaders bound to the caller's tenant.
    pub loaders: Loaders,
    /// The caller's tenant currency, read at most once per request.
    pub currency: OnceCell<String>,
}

impl RequestState {
    /// State for a caller in `tenant_id`.
    pub fn new(ctx: &Ctx, tenant_id: i64) -> Self {
        Self { loaders: Loaders::new(&ctx.db, tenant_id), currency: OnceCell::new() }
    }
}

/// The shared context.
pub fn core<'a>(ctx: &'a Context<'_>) -> &'a Ctx {
    ctx.data_unchecked::<Ctx>()
}

/// The request's loaders (requires an authenticated caller).
pub fn request_loaders<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Loaders> {
    actor(ctx)?;
    Ok(&ctx.data::<RequestState>()?.loaders)
}

/// The caller's tenant currency, loaded once per request.
pub async fn tenant_currency(ctx: &Context<'_>) -> async_graphql::Result<String> {
    let a = actor(ctx)?;
    let state = ctx.data::<RequestState>()?;
    let c = state
        .currency
        .get_or_try_init(|| async { tenants::get(&core(ctx).db, a.tenant_id).await.map(|t| t.currency) })
        .await
        .map_err(crate::error::to_gql)?;
    Ok(c.clone())
}

/// Builds a Relay connection from a keyset page.
pub fn connection<R, N, F>(
    page: Page<R>,
    cursor: impl Fn(&R) -> page::Cursor,
    wrap: impl Fn(R) -> N,
    fields: F,
) -> Connection<crate::ids::Cursor, N, F>
where
    N: OutputType,
    F: ObjectType,
{
    let mut c = Connection::with_additional_fields(page.has_previous, page.has_next, fields);
    c.edges.extend(page.items.into_iter().map(|r| Edge::new(crate::ids::Cursor(cursor(&r)), wrap(r))));
    c
}
