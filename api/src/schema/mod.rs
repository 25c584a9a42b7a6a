//! The GraphQL schema: roots, the Node interface, connections and per-request helpers.

pub mod billing;
pub mod devices;
pub mod documents;
pub mod helpdesk;
pub mod imports;
mod inputs;
mod mutation;
pub mod notifications;
mod query;
pub mod radius;
mod subscription;
pub mod types;

use crate::fast::{Fast, FastConnection};
use crate::loaders::Loaders;
use crate::request::actor;
use async_graphql::connection::{Connection, Edge};
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{Context, Interface, Object, Schema, ValidationMode, ID};
use futures::future::{BoxFuture, FutureExt, Shared};
use isp_core::config::GraphqlConfig;
use isp_core::error::CoreResult;
use isp_core::store::page::{self, Count, Page};
use isp_core::store::tenants;
use isp_core::Ctx;
use std::future::Future;
pub use subscription::SubscriptionRoot;

/// Entry points for reading the graph; each feature area contributes one part.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    query::CoreQuery,
    radius::RadiusQuery,
    billing::BillingQuery,
    billing::BusinessReportQuery,
    devices::DeviceQuery,
    helpdesk::HelpdeskQuery,
    notifications::NotificationQuery,
    documents::DocumentQuery,
    imports::ImportQuery,
);

/// Entry points for changing the graph; each feature area contributes one part.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    mutation::CoreMutation,
    radius::RadiusMutation,
    billing::BillingMutation,
    devices::DeviceMutation,
    helpdesk::HelpdeskMutation,
    notifications::NotificationMutation,
    documents::DocumentMutation,
    imports::ImportMutation,
);
use tokio::sync::OnceCell;
use types::*;

/// The executable schema type.
pub type IspSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Builds the schema with its limits twice, sharing `ctx` (shared by every request) and the
/// caches: one validating every rule of the spec, one that only checks the limits (depth,
/// complexity), for documents the first has already validated with variables of the same
/// shape (see `crate::DocCache`).
pub fn build_pair(ctx: Ctx, limits: &GraphqlConfig) -> (IspSchema, IspSchema) {
    let cache = CurrencyCache::default();
    let strict = build_with(ctx.clone(), limits, ValidationMode::Strict, cache.clone());
    (strict, build_with(ctx, limits, ValidationMode::Fast, cache))
}

fn build_with(ctx: Ctx, limits: &GraphqlConfig, mode: ValidationMode, cache: CurrencyCache) -> IspSchema {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .data(ctx)
        .data(cache)
        .validation_mode(mode)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(20)
        // No `.extension(...)`: list pages resolve through `crate::fast`, which per-field
        // extension hooks would not see.
        .finish()
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot).finish().sdl()
}

/// Anything with a global ID (Relay Object Identification): every object type with an `id`.
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
    /// A router or OLT.
    Device(devices::Device),
    /// A network job for a device.
    DeviceJob(devices::DeviceJob),
    /// A RADIUS client.
    Nas(radius::Nas),
    /// A RADIUS session.
    RadiusSession(radius::RadiusSession),
    /// A RADIUS authentication attempt.
    AuthLogEntry(radius::AuthLogEntry),
    /// An audit log entry.
    AuditEntry(AuditEntry),
    /// An invoice or credit note.
    Invoice(billing::Invoice),
    /// A payment.
    Payment(billing::Payment),
    /// A one-off charge.
    Charge(billing::Charge),
    /// A message to a customer in the delivery log.
    Notification(notifications::Notification),
    /// A notification template.
    NotificationTemplate(notifications::NotificationTemplate),
    /// A dunning event.
    DunningEvent(billing::DunningEvent),
    /// A bulk import.
    ImportJob(imports::ImportJob),
    /// A helpdesk ticket.
    Ticket(helpdesk::Ticket),
    /// A message of a ticket.
    TicketMessage(helpdesk::TicketMessage),
    /// A ticket category.
    TicketCategory(helpdesk::TicketCategory),
    /// A helpdesk team.
    TicketTeam(helpdesk::TicketTeam),
    /// A customer's document.
    CustomerDocument(documents::CustomerDocument),
    /// A file attached to a ticket message.
    TicketAttachment(documents::TicketAttachment),
}

/// Per-request state created after authentication.
pub struct RequestState {
    /// Batching loaders bound to the caller's tenant.
    pub loaders: Loaders,
    /// The caller's tenant currency, read at most once per request.
    pub currency: OnceCell<String>,
}

impl RequestState {
    /// State for `caller`.
    pub fn new(ctx: &Ctx, caller: &isp_core::auth::Actor) -> Self {
        Self { loaders: Loaders::new(&ctx.db, caller.tenant_id, caller.role), currency: OnceCell::new() }
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
        .get_or_try_init(|| async {
            let cache = ctx.data_opt::<CurrencyCache>();
            if let Some(c) = cache.and_then(|c| c.get(a.tenant_id)) {
                return Ok(c);
            }
            let c = tenants::get(&core(ctx).db, a.tenant_id).await.map(|t| t.currency)?;
            if let Some(cache) = cache {
                cache.put(a.tenant_id, &c);
            }
            Ok::<_, isp_core::CoreError>(c)
        })
        .await
        .map_err(crate::error::to_gql)?;
    Ok(c.clone())
}

/// How long a tenant's currency is trusted without reading it again. A change made through
/// this process is seen at once; one made through another process within this time.
const CURRENCY_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Tenant currencies, read by every priced page and changed almost never: a cache that is
/// safe to lose.
#[derive(Default, Clone)]
pub struct CurrencyCache(
    std::sync::Arc<std::sync::RwLock<std::collections::HashMap<i64, (String, std::time::Instant)>>>,
);

impl CurrencyCache {
    fn get(&self, tenant_id: i64) -> Option<String> {
        let map = self.0.read().ok()?;
        map.get(&tenant_id).filter(|(_, at)| at.elapsed() < CURRENCY_TTL).map(|(c, _)| c.clone())
    }

    fn put(&self, tenant_id: i64, currency: &str) {
        if let Ok(mut map) = self.0.write() {
            map.insert(tenant_id, (currency.to_string(), std::time::Instant::now()));
        }
    }

    /// Drops a tenant's entry after its currency changed.
    pub fn forget(&self, tenant_id: i64) {
        if let Ok(mut map) = self.0.write() {
            map.remove(&tenant_id);
        }
    }
}

/// A connection of the schema: its edges and nodes resolved in one pass ([`FastConnection`]),
/// with the count fields every connection has.
pub type Conn<N> = FastConnection<N, ListCount>;

/// Builds a Relay connection from a keyset page; `count` counts the whole list when asked.
pub fn connection<R, N: ContainerType>(
    page: Page<R>,
    cursor: impl Fn(&R) -> page::Cursor,
    wrap: impl Fn(R) -> N,
    count: ListCount,
) -> Conn<N> {
    let mut c = Connection::with_additional_fields(page.has_previous, page.has_next, count);
    c.edges.extend(page.items.into_iter().map(|r| Edge::new(crate::ids::Cursor(cursor(&r)), Fast(wrap(r)))));
    FastConnection(c)
}

/// The count fields of every connection: the list's statement counted (at most once per
/// connection, and only when one of them is asked for) up to a limit, so that a page of a
/// large list does not read every row of it to say how many there are.
pub struct ListCount(Shared<BoxFuture<'static, CoreResult<Count>>>);

impl ListCount {
    /// The count `count` gives when awaited (it is not run unless a count field is asked for).
    pub fn new(count: impl Future<Output = CoreResult<Count>> + Send + 'static) -> Self {
        Self(count.boxed().shared())
    }
}

#[Object]
impl ListCount {
    /// How many items the list has with the given filter, whatever the page: exact up to
    /// 1,000; beyond that 1,000, and `totalCountExact` is false (README: Counts).
    async fn total_count(&self) -> async_graphql::Result<i64> {
        self.0.clone().await.map(|c| c.value).map_err(crate::error::to_gql)
    }

    /// Whether `totalCount` is the exact number of items (false: there are more than it says).
    async fn total_count_exact(&self) -> async_graphql::Result<bool> {
        self.0.clone().await.map(|c| c.exact).map_err(crate::error::to_gql)
    }
}

/// The access table (`crate::access`) against the schema: it lives here, not in `access`,
/// because `access` must not depend on the schema it guards.
#[cfg(test)]
mod access_tests {
    use super::sdl;

    #[test]
    fn every_root_field_of_the_sdl_has_a_rule_and_every_rule_a_field() {
        let sdl = sdl();
        let doc = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
        let mut fields = Vec::new();
        for def in doc.definitions {
            if let async_graphql::parser::types::TypeSystemDefinition::Type(t) = def {
                let name = t.node.name.node.to_string();
                if let async_graphql::parser::types::TypeKind::Object(o) = &t.node.kind {
                    if ["Query", "Mutation", "SubscriptionRoot"].contains(&name.as_str()) {
                        fields.extend(o.fields.iter().map(|f| (name.clone(), f.node.name.node.to_string())));
                    }
                }
            }
        }
        let mut rules: Vec<(String, String)> =
            crate::access::ROOT_FIELDS.iter().map(|(r, f, _)| (r.to_string(), f.to_string())).collect();
        fields.sort();
        rules.sort();
        assert_eq!(fields, rules);
        assert!(fields.len() > 100, "{} root fields", fields.len());
    }
}
