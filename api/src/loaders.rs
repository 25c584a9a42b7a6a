//! DataLoaders: nested fields of a page are fetched in one statement per kind, not one per
//! row. A set of loaders is created per request, bound to the caller's tenant and role.
//!
//! They are also where a nested object's permission is checked, once for every field that
//! reaches it: each kind of row names the action its root list requires ([`Rows::READ`]), and
//! a loader answers FORBIDDEN to a role without it, so `radiusSessions { nas { ... } }` is
//! refused exactly when `nasDevices` is.

use async_graphql::dataloader::{DataLoader, Loader};
use isp_core::auth::{Action, Role};
use isp_core::billing::invoices::{self, InvoiceLine};
use isp_core::billing::payments::{self, Allocation, Refund};
use isp_core::db::Db;
use isp_core::error::CoreResult;
use isp_core::store::customers::{self, Customer};
use isp_core::store::devices::{self, Device};
use isp_core::store::documents::{self, Attachment, Document};
use isp_core::store::helpdesk::{self, Category, Team};
use isp_core::store::nas::{self, Nas};
use isp_core::store::plans::{self, Plan};
use isp_core::store::subscriptions::{self, Subscription};
use isp_core::store::tickets::{self, Message};
use isp_core::CoreError;
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// Error type loaders share (DataLoader needs it cloneable).
pub type LoadError = Arc<CoreError>;

/// Loaders of one request.
pub struct Loaders {
    /// Plans by id.
    pub plans: Load<One<Plans>>,
    /// Customers by id.
    pub customers: Load<One<Customers>>,
    /// Subscriptions by id.
    pub subscriptions: Load<One<Subscriptions>>,
    /// Subscriptions of each customer.
    pub subscriptions_by_customer: Load<Many<SubscriptionsOfCustomers>>,
    /// Devices by id.
    pub devices: Load<One<Devices>>,
    /// NAS by id.
    pub nas: Load<One<NasDevices>>,
    /// Lines of each invoice.
    pub invoice_lines: Load<Many<LinesOfInvoices>>,
    /// Allocations to each invoice.
    pub allocations_by_invoice: Load<Many<AllocationsToInvoices>>,
    /// Allocations of each payment.
    pub allocations_by_payment: Load<Many<AllocationsOfPayments>>,
    /// Refunds of each payment.
    pub refunds: Load<Many<RefundsOfPayments>>,
    /// Messages of each ticket.
    pub ticket_messages: Load<Many<MessagesOfTickets>>,
    /// Ticket categories by id.
    pub ticket_categories: Load<One<TicketCategories>>,
    /// Documents of each customer.
    pub customer_documents: Load<Many<DocumentsOfCustomers>>,
    /// Attachments of each ticket message.
    pub ticket_attachments: Load<Many<AttachmentsOfMessages>>,
    /// Ticket teams by id.
    pub ticket_teams: Load<One<TicketTeams>>,
    /// Rows read ahead by a list resolver.
    prefetched: Prefetched,
    db: Db,
    tenant_id: i64,
    role: Role,
}

/// Rows a list resolver read ahead for the nested fields the query asks for (look-ahead), so
/// those fields resolve at once instead of each waiting for a DataLoader batch: the same
/// statements the loaders would run, without the batching round trips. Only queries read
/// ahead (a query changes nothing, so what was read stays true for the request).
#[derive(Default)]
struct Prefetched {
    subscriptions: Mutex<HashMap<i64, Vec<Subscription>>>,
    plans: Mutex<HashMap<i64, Plan>>,
}

impl Loaders {
    /// Loaders scoped to `tenant_id`, for a caller with `role`.
    pub fn new(db: &Db, tenant_id: i64, role: Role) -> Self {
        fn one<R: Rows>(db: &Db, tenant_id: i64, role: Role) -> Load<One<R>> {
            Load::new(role, One(Scope { db: db.clone(), tenant_id }, PhantomData))
        }
        fn many<R: Rows>(db: &Db, tenant_id: i64, role: Role) -> Load<Many<R>> {
            Load::new(role, Many(Scope { db: db.clone(), tenant_id }, PhantomData))
        }
        Self {
            plans: one(db, tenant_id, role),
            customers: one(db, tenant_id, role),
            subscriptions: one(db, tenant_id, role),
            subscriptions_by_customer: many(db, tenant_id, role),
            devices: one(db, tenant_id, role),
            nas: one(db, tenant_id, role),
            invoice_lines: many(db, tenant_id, role),
            allocations_by_invoice: many(db, tenant_id, role),
            allocations_by_payment: many(db, tenant_id, role),
            refunds: many(db, tenant_id, role),
            ticket_messages: many(db, tenant_id, role),
            ticket_categories: one(db, tenant_id, role),
            customer_documents: many(db, tenant_id, role),
            ticket_attachments: many(db, tenant_id, role),
            ticket_teams: one(db, tenant_id, role),
            prefetched: Prefetched::default(),
            db: db.clone(),
            tenant_id,
            role,
        }
    }

    /// Reads the subscriptions of `customer_ids` (and, with `plans`, their plans) ahead, in
    /// one statement each.
    pub async fn prefetch_subscriptions(&self, customer_ids: &[i64], plans: bool) -> Result<(), LoadError> {
        let scope = || Scope { db: self.db.clone(), tenant_id: self.tenant_id };
        let subs = Many::<SubscriptionsOfCustomers>(scope(), PhantomData).load(customer_ids).await?;
        if plans {
            let mut ids: Vec<i64> = subs.values().flatten().map(|s| s.plan_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let rows = One::<Plans>(scope(), PhantomData).load(&ids).await?;
            lock(&self.prefetched.plans).extend(rows);
        }
        lock(&self.prefetched.subscriptions).extend(subs);
        Ok(())
    }

    /// The subscriptions of a customer: read ahead (handed out once) or through the loader.
    pub async fn subscriptions_of(&self, customer_id: i64) -> async_graphql::Result<Vec<Subscription>> {
        let ahead = lock(&self.prefetched.subscriptions).remove(&customer_id);
        match ahead {
            Some(subs) => allow::<SubscriptionsOfCustomers>(self.role).map(|()| subs),
            None => self.subscriptions_by_customer.of(customer_id).await,
        }
    }

    /// Plan `id`: read ahead or through the loader.
    pub async fn plan(&self, id: i64) -> async_graphql::Result<Option<Plan>> {
        let ahead = lock(&self.prefetched.plans).get(&id).cloned();
        match ahead {
            Some(p) => allow::<Plans>(self.role).map(|()| Some(p)),
            None => self.plans.one(id).await,
        }
    }

    /// Everything read ahead (subscriptions by customer, plans by id), for reading in place;
    /// the locks are held while the guards live.
    #[allow(clippy::type_complexity)]
    pub fn prefetched(
        &self,
    ) -> (std::sync::MutexGuard<'_, HashMap<i64, Vec<Subscription>>>, std::sync::MutexGuard<'_, HashMap<i64, Plan>>)
    {
        (lock(&self.prefetched.subscriptions), lock(&self.prefetched.plans))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The database and the tenant a request's loaders read in.
pub struct Scope {
    db: Db,
    tenant_id: i64,
}

/// FORBIDDEN unless `role` may read rows of `R`.
fn allow<R: Rows>(role: Role) -> async_graphql::Result<()> {
    role.require(R::READ).map_err(crate::error::to_gql)
}

/// A request's loader of `L`, answering only what the caller's role may read.
pub struct Load<L: Loader<i64>> {
    loader: DataLoader<L>,
    role: Role,
}

impl<L: Loader<i64>> Load<L> {
    fn new(role: Role, l: L) -> Self {
        Self { loader: DataLoader::new(l, tokio::spawn), role }
    }
}

impl<R: Rows> Load<One<R>> {
    /// Row `id` (none if it is not in the tenant); FORBIDDEN unless the role may read `R`.
    pub async fn one(&self, id: i64) -> async_graphql::Result<Option<R::Row>> {
        allow::<R>(self.role)?;
        self.loader.load_one(id).await.map_err(load_err)
    }
}

impl<R: Rows> Load<Many<R>> {
    /// The rows of `key`, in order; FORBIDDEN unless the role may read `R`.
    pub async fn of(&self, key: i64) -> async_graphql::Result<Vec<R::Row>> {
        allow::<R>(self.role)?;
        Ok(self.loader.load_one(key).await.map_err(load_err)?.unwrap_or_default())
    }
}

/// Rows a loader reads in batches: one statement for many keys, scoped to the tenant.
pub trait Rows: Send + Sync + 'static {
    /// What the caller's role must be allowed: the permission of the root list of these rows.
    const READ: Action;
    /// One row.
    type Row: Clone + Send + Sync + 'static;
    /// The rows of `keys` (in the order the nested list shows them, for [`Many`]).
    fn read(db: &Db, tenant_id: i64, keys: &[i64]) -> impl Future<Output = CoreResult<Vec<Self::Row>>> + Send;
    /// The key a row belongs to.
    fn key(row: &Self::Row) -> i64;
}

/// Loads one row per key (objects by id); a key without a row has none.
pub struct One<R>(Scope, PhantomData<R>);

impl<R: Rows> Loader<i64> for One<R> {
    type Value = R::Row;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, R::Row>, LoadError> {
        let rows = R::read(&self.0.db, self.0.tenant_id, keys).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|r| (R::key(&r), r)).collect())
    }
}

/// Loads the rows of each key (a nested list), in order; a key without rows has an empty list.
pub struct Many<R>(Scope, PhantomData<R>);

impl<R: Rows> Loader<i64> for Many<R> {
    type Value = Vec<R::Row>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<R::Row>>, LoadError> {
        let rows = R::read(&self.0.db, self.0.tenant_id, keys).await.map_err(Arc::new)?;
        let mut map: HashMap<i64, Vec<R::Row>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for r in rows {
            map.entry(R::key(&r)).or_default().push(r);
        }
        Ok(map)
    }
}

/// Declares a [`Rows`]: its name, row type, batch read and key.
macro_rules! rows {
    ($(#[$doc:meta] $name:ident: $row:ty = $read:expr, $key:expr, $action:ident;)*) => {$(
        #[$doc]
        pub struct $name;

        impl Rows for $name {
            const READ: Action = Action::$action;
            type Row = $row;
            fn read(db: &Db, tenant_id: i64, keys: &[i64]) -> impl Future<Output = CoreResult<Vec<$row>>> + Send {
                $read(db, tenant_id, keys)
            }
            fn key(row: &$row) -> i64 {
                $key(row)
            }
        }
    )*};
}

rows! {
    /// Plans by id.
    Plans: Plan = plans::get_many, |r: &Plan| r.id, PlanRead;
    /// Customers by id.
    Customers: Customer = customers::get_many, |r: &Customer| r.id, CustomerRead;
    /// Subscriptions by id.
    Subscriptions: Subscription = subscriptions::get_many, |r: &Subscription| r.id, SubscriptionRead;
    /// Subscriptions by customer.
    SubscriptionsOfCustomers: Subscription = subscriptions::by_customers, |r: &Subscription| r.customer_id, SubscriptionRead;
    /// Devices by id.
    Devices: Device = devices::get_many, |r: &Device| r.id, DeviceRead;
    /// NAS by id.
    NasDevices: Nas = nas::get_many, |r: &Nas| r.id, NasRead;
    /// Invoice lines by invoice.
    LinesOfInvoices: InvoiceLine = invoices::lines, |r: &InvoiceLine| r.invoice_id, InvoiceRead;
    /// Allocations by invoice.
    AllocationsToInvoices: Allocation = |db, t, keys| payments::allocations(db, t, keys, true), |r: &Allocation| r.invoice_id, InvoiceRead;
    /// Allocations by payment.
    AllocationsOfPayments: Allocation = |db, t, keys| payments::allocations(db, t, keys, false), |r: &Allocation| r.payment_id, InvoiceRead;
    /// Refunds by payment.
    RefundsOfPayments: Refund = payments::refunds, |r: &Refund| r.payment_id, InvoiceRead;
    /// Ticket messages by ticket.
    MessagesOfTickets: Message = tickets::messages, |r: &Message| r.ticket_id, TicketRead;
    /// Ticket categories by id.
    TicketCategories: Category = helpdesk::categories_by_id, |r: &Category| r.id, TicketRead;
    /// Ticket teams by id.
    TicketTeams: Team = helpdesk::teams_by_id, |r: &Team| r.id, TicketRead;
    /// Customer documents by customer.
    DocumentsOfCustomers: Document = documents::of_customers, |r: &Document| r.customer_id, DocumentRead;
    /// Ticket attachments by message.
    AttachmentsOfMessages: Attachment = documents::of_messages, |r: &Attachment| r.message_id, TicketRead;
}

/// Converts a loader error into a GraphQL error with its code.
pub fn load_err(e: LoadError) -> async_graphql::Error {
    // A batch's error is shared by every key that waited on it; each keeps its code.
    let core = Arc::try_unwrap(e).unwrap_or_else(|shared| CoreError::clone(&shared));
    crate::error::to_gql(core)
}
