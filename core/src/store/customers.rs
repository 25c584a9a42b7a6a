//! Customers: the people and businesses an ISP sells to.

use super::page::{self, Order, Page, PageArgs};
use crate::db::{like_pattern, query_as, Arg, Db, Executor, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;

text_enum!(
    /// Where a customer stands with the ISP.
    CustomerStatus, "status" {
        /// A current customer.
        Active = "ACTIVE",
        /// Kept on file, no current service (a lead, or a former customer).
        Inactive = "INACTIVE",
        /// Hidden from default lists; kept for history.
        Archived = "ARCHIVED",
    }
);

text_enum!(
    /// Sort orders for customer lists (ties broken by id).
    CustomerSort, "orderBy" {
        /// By name, A to Z.
        NameAsc = "NAME_ASC",
        /// By name, Z to A.
        NameDesc = "NAME_DESC",
        /// Oldest first.
        CreatedAtAsc = "CREATED_AT_ASC",
        /// Newest first.
        CreatedAtDesc = "CREATED_AT_DESC",
        /// By account number.
        AccountNumberAsc = "ACCOUNT_NUMBER_ASC",
    }
);

impl CustomerSort {
    /// Column and direction.
    pub fn order(self) -> Order {
        match self {
            Self::NameAsc => Order { column: "name", integer: false, desc: false },
            Self::NameDesc => Order { column: "name", integer: false, desc: true },
            Self::CreatedAtAsc => Order { column: "created_at", integer: true, desc: false },
            Self::CreatedAtDesc => Order { column: "created_at", integer: true, desc: true },
            Self::AccountNumberAsc => Order { column: "account_number", integer: false, desc: false },
        }
    }
}

/// A customer of the tenant.
#[derive(Debug, Clone, FromRow)]
pub struct Customer {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Human account number, unique per tenant (`C000042`).
    pub account_number: String,
    /// Full name or company name.
    pub name: String,
    /// Contact email.
    pub email: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Service or postal address.
    pub address: Option<String>,
    /// Tax id for invoices.
    pub tax_id: Option<String>,
    /// Free-form staff notes.
    pub notes: Option<String>,
    /// Status.
    pub status: CustomerStatus,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

pub(crate) const COLS: &str =
    "id, tenant_id, account_number, name, email, phone, address, tax_id, notes, status, created_at, updated_at";

/// A customer's editable fields as stored: trimmed, validated and normalised by the caller.
#[derive(Debug, Clone)]
pub struct CustomerFields {
    /// Name.
    pub name: String,
    /// Email (lower case).
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Tax id.
    pub tax_id: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Status.
    pub status: CustomerStatus,
}

/// Inserts a customer with account number `number`.
pub async fn insert(tx: &mut Tx, tenant_id: i64, number: &str, f: &CustomerFields, now: i64) -> CoreResult<Customer> {
    query_as::<Customer>(&format!(
        "INSERT INTO customers (tenant_id, account_number, name, email, phone, address, tax_id, notes, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {COLS}"
    ))
    .bind(tenant_id)
    .bind(number)
    .bind(f.name.as_str())
    .bind(&f.email)
    .bind(&f.phone)
    .bind(&f.address)
    .bind(&f.tax_id)
    .bind(&f.notes)
    .bind(f.status)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Overwrites the editable fields of customer `id`.
pub async fn update(tx: &mut Tx, tenant_id: i64, id: i64, f: &CustomerFields, now: i64) -> CoreResult<Customer> {
    query_as::<Customer>(&format!(
        "UPDATE customers SET name = $1, email = $2, phone = $3, address = $4, tax_id = $5, notes = $6, status = $7, updated_at = $8 \
         WHERE tenant_id = $9 AND id = $10 RETURNING {COLS}"
    ))
    .bind(f.name.as_str())
    .bind(&f.email)
    .bind(&f.phone)
    .bind(&f.address)
    .bind(&f.tax_id)
    .bind(&f.notes)
    .bind(f.status)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("customer"))
}

/// Sets customer `id`'s status; NOT_FOUND when it is not in the tenant.
pub async fn set_status(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    status: CustomerStatus,
    now: i64,
) -> CoreResult<Customer> {
    query_as::<Customer>(&format!(
        "UPDATE customers SET status = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4 RETURNING {COLS}"
    ))
    .bind(status)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("customer"))
}

/// Customer `id` of `tenant_id`, on the pool or in a transaction.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Customer> {
    query_as::<Customer>(&format!("SELECT {COLS} FROM customers WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(CoreError::NotFound("customer"))
}

/// The id of the customer with account number `number`, if any.
pub async fn by_account_number(ex: impl Executor, tenant_id: i64, number: &str) -> CoreResult<Option<i64>> {
    let row: Option<(i64,)> = query_as("SELECT id FROM customers WHERE tenant_id = $1 AND account_number = $2")
        .bind(tenant_id)
        .bind(number)
        .fetch_optional(ex)
        .await?;
    Ok(row.map(|r| r.0))
}

/// Customers with the given ids in `tenant_id` (others are silently absent), one statement.
pub async fn get_many(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Customer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM customers WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND id IN ").in_list(ids);
    sql.fetch_all::<Customer>(db).await
}

// The search is case-insensitive.
/// Filters for `customers`.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "CustomerFilterInput"))]
pub struct CustomerFilter {
    /// Name, email, phone, account number or subscription login contains this.
    pub search: Option<String>,
    /// Only these statuses (default: all but ARCHIVED).
    pub status: Option<Vec<CustomerStatus>>,
}

fn filter_sql(sql: &mut Sql, tenant_id: i64, f: &CustomerFilter) {
    sql.arg(Arg::I(tenant_id));
    match &f.status {
        Some(list) if !list.is_empty() => {
            sql.push(" AND status IN (");
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.arg(s);
            }
            sql.push(")");
        }
        _ => {
            sql.push(" AND status <> 'ARCHIVED'");
        }
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = like_pattern(s);
        sql.push(" AND (LOWER(name) LIKE ").arg(Arg::text(p.clone())).push(" ESCAPE '\\'");
        sql.push(" OR LOWER(email) LIKE ").arg(Arg::text(p.clone())).push(" ESCAPE '\\'");
        sql.push(" OR phone LIKE ").arg(Arg::text(p.clone())).push(" ESCAPE '\\'");
        sql.push(" OR LOWER(account_number) LIKE ").arg(Arg::text(p.clone())).push(" ESCAPE '\\'");
        sql.push(" OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = customers.id AND s.tenant_id = ")
            .arg(Arg::I(tenant_id))
            .push(" AND LOWER(s.username) LIKE ")
            .arg(Arg::text(p))
            .push(" ESCAPE '\\'))");
    }
}

/// A page of the tenant's customers.
pub async fn list(
    db: &Db,
    tenant_id: i64,
    f: &CustomerFilter,
    sort: CustomerSort,
    args: &PageArgs,
) -> CoreResult<Page<Customer>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM customers WHERE tenant_id = "));
    filter_sql(&mut sql, tenant_id, f);
    let plan = page::apply(&mut sql, sort.order(), args)?;
    Ok(page::finish(sql.fetch_all::<Customer>(db).await?, plan, args))
}

/// How many customers match the filter.
pub async fn count(db: &Db, tenant_id: i64, f: &CustomerFilter) -> CoreResult<i64> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM customers WHERE tenant_id = ");
    filter_sql(&mut sql, tenant_id, f);
    let (n,): (i64,) = sql.fetch_one(db).await?;
    Ok(n)
}
