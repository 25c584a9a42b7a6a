//! DataLoaders: nested fields of a page are fetched in one statement per kind, not one per
//! row. A set of loaders is created per request, bound to the caller's tenant.

use async_graphql::dataloader::{DataLoader, Loader};
use isp_core::db::Db;
use isp_core::store::customers::{self, Customer};
use isp_core::store::devices::{self, Device};
use isp_core::store::plans::{self, Plan};
use isp_core::store::subscriptions::{self, Subscription};
use isp_core::CoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Error type loaders share (DataLoader needs it cloneable).
pub type LoadError = Arc<CoreError>;

/// Loaders of one request.
pub struct Loaders {
    /// Plans by id.
    pub plans: DataLoader<PlansById>,
    /// Customers by id.
    pub customers: DataLoader<CustomersById>,
    /// Subscriptions of each customer.
    pub subscriptions_by_customer: DataLoader<SubscriptionsByCustomer>,
    /// Devices by id.
    pub devices: DataLoader<DevicesById>,
    /// Rows read ahead by a list resolver.
    prefetched: Prefetched,
    db: Db,
    tenant_id: i64,
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
    /// Loaders scoped to `tenant_id`.
    pub fn new(db: &Db, tenant_id: i64) -> Self {
        Self {
            plans: DataLoader::new(PlansById { db: db.clone(), tenant_id }, tokio::spawn),
            customers: DataLoader::new(CustomersById { db: db.clone(), tenant_id }, tokio::spawn),
            subscriptions_by_customer: DataLoader::new(
                SubscriptionsByCustomer { db: db.clone(), tenant_id },
                tokio::spawn,
            ),
            devices: DataLoader::new(DevicesById { db: db.clone(), tenant_id }, tokio::spawn),
            prefetched: Prefetched::default(),
            db: db.clone(),
            tenant_id,
        }
    }

    /// Reads the subscriptions of `customer_ids` (and, with `plans`, their plans) ahead, in
    /// one statement each.
    pub async fn prefetch_subscriptions(&self, customer_ids: &[i64], plans: bool) -> Result<(), LoadError> {
        let subs =
            SubscriptionsByCustomer { db: self.db.clone(), tenant_id: self.tenant_id }.load(customer_ids).await?;
        if plans {
            let mut ids: Vec<i64> = subs.values().flatten().map(|s| s.plan_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let rows = PlansById { db: self.db.clone(), tenant_id: self.tenant_id }.load(&ids).await?;
            lock(&self.prefetched.plans).extend(rows);
        }
        lock(&self.prefetched.subscriptions).extend(subs);
        Ok(())
    }

    /// The read-ahead subscriptions of a customer (handed out once).
    pub fn take_subscriptions(&self, customer_id: i64) -> Option<Vec<Subscription>> {
        lock(&self.prefetched.subscriptions).remove(&customer_id)
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

    /// A read-ahead plan.
    pub fn prefetched_plan(&self, id: i64) -> Option<Plan> {
        lock(&self.prefetched.plans).get(&id).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Loads plans of one tenant by id.
pub struct PlansById {
    db: Db,
    tenant_id: i64,
}

impl Loader<i64> for PlansById {
    type Value = Plan;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Plan>, LoadError> {
        let rows = plans::get_many(&self.db, self.tenant_id, keys).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// Loads customers of one tenant by id.
pub struct CustomersById {
    db: Db,
    tenant_id: i64,
}

impl Loader<i64> for CustomersById {
    type Value = Customer;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Customer>, LoadError> {
        let rows = customers::get_many(&self.db, self.tenant_id, keys).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// Loads devices of one tenant by id.
pub struct DevicesById {
    db: Db,
    tenant_id: i64,
}

impl Loader<i64> for DevicesById {
    type Value = Device;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Device>, LoadError> {
        let rows = devices::get_many(&self.db, self.tenant_id, keys).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|d| (d.id, d)).collect())
    }
}

/// Loads all subscriptions of each customer id.
pub struct SubscriptionsByCustomer {
    db: Db,
    tenant_id: i64,
}

impl Loader<i64> for SubscriptionsByCustomer {
    type Value = Vec<Subscription>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<Subscription>>, LoadError> {
        let rows = subscriptions::by_customers(&self.db, self.tenant_id, keys).await.map_err(Arc::new)?;
        let mut map: HashMap<i64, Vec<Subscription>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for s in rows {
            map.entry(s.customer_id).or_default().push(s);
        }
        Ok(map)
    }
}

/// Converts a loader error into a GraphQL error with its code.
pub fn load_err(e: LoadError) -> async_graphql::Error {
    // A batch's error is shared by every key that waited on it; each keeps its code.
    let core = Arc::try_unwrap(e).unwrap_or_else(|shared| CoreError::clone(&shared));
    crate::error::to_gql(core)
}
