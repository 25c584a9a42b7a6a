//! Customers: the people and businesses an ISP sells to.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use super::search;
use crate::db::{query_as, Backend, Db, Executor, FromRow, Sql, Tx};
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
        /// Best matches of the search first: names that begin with its first word, names that
        /// contain it, then the other matches, each group by name (needs a search).
        Relevance = "RELEVANCE",
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
            // Sorted by an expression over the search (see `list_sql`); the column names the
            // order in cursors.
            Self::Relevance => Order { column: "relevance", integer: false, desc: false },
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
    get_many_sql(tenant_id, ids).fetch_all::<Customer>(db).await
}

/// The statement of [`get_many`] (the plan test checks that it looks the ids up).
pub fn get_many_sql(tenant_id: i64, ids: &[i64]) -> Sql<'static> {
    super::by_ids(COLS, "customers", tenant_id, ids)
}

/// Filters for `customers`.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "CustomerFilterInput"))]
pub struct CustomerFilter {
    /// Words that must all appear in the customer's name, email, phone, account number,
    /// address, or a subscription's login, static IP or ONU serial (case and accents do not
    /// matter; words need three characters or more).
    pub search: Option<String>,
    /// Only these statuses (default: all but ARCHIVED).
    pub status: Option<Vec<CustomerStatus>>,
}

impl CustomerFilter {
    /// The search terms, if the filter searches.
    fn terms(&self) -> CoreResult<Option<Vec<search::Term>>> {
        match self.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => search::terms("filter.search", s).map(Some),
            None => Ok(None),
        }
    }
}

/// Appends ` FROM customers WHERE ...` for `f` in `tenant_id` to `sql`; `counting`: for a
/// statement that stops after some rows (see [`search::push_from_matches`]).
fn from_where(
    sql: &mut Sql<'static>,
    backend: Backend,
    tenant_id: i64,
    f: &CustomerFilter,
    counting: bool,
) -> CoreResult<()> {
    let terms = f.terms()?;
    let joined = match &terms {
        Some(t) if counting => search::push_from_matches(sql, backend, search::Index::Customers, "customers", t),
        _ => false,
    };
    if !joined {
        sql.push(" FROM customers WHERE");
    }
    sql.push(" tenant_id = ").arg(tenant_id);
    match &f.status {
        Some(list) if !list.is_empty() => {
            sql.push(" AND status IN (");
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.arg(*s);
            }
            sql.push(")");
        }
        _ => {
            sql.push(" AND status <> 'ARCHIVED'");
        }
    }
    if let Some(terms) = terms.filter(|_| !joined) {
        search::push_match(sql, backend, search::Index::Customers, "id", tenant_id, &terms);
    }
    Ok(())
}

/// The statement of a page of the tenant's customers. In [`CustomerSort::Relevance`] order
/// each row also carries its sort key, column `relevance` ([`RankedCustomer`]).
pub fn list_sql(
    backend: Backend,
    tenant_id: i64,
    f: &CustomerFilter,
    sort: CustomerSort,
    args: &PageArgs,
) -> CoreResult<ListQuery> {
    if sort != CustomerSort::Relevance {
        let mut sql = Sql::new(&format!("SELECT {COLS}"));
        from_where(&mut sql, backend, tenant_id, f, false)?;
        let plan = page::apply(&mut sql, sort.order(), args)?;
        return Ok(ListQuery { sql, plan });
    }
    let terms = f.terms()?.ok_or_else(|| CoreError::validation("orderBy", "RELEVANCE needs a search"))?;
    let first = &terms[0].0[0];
    let name = match backend {
        Backend::Sqlite => "lower(name)",
        Backend::Postgres => "isp_fold(name)",
    };
    // Names that begin with the first word, then names that contain it, then the other
    // matches (an email, a login ...), each group by name. The key is computed over the
    // search's matches only, and sorted there.
    let mut sql = Sql::new(&format!("SELECT * FROM (SELECT {COLS}, (CASE WHEN {name} LIKE "));
    let starts = sql.param(format!("{}%", like_escape(first)));
    let contains = sql.param(format!("%{}%", like_escape(first)));
    sql.push(&format!(
        "{starts} ESCAPE '\\' THEN '0' WHEN {name} LIKE {contains} ESCAPE '\\' THEN '1' ELSE '2' END || {name}) AS relevance"
    ));
    from_where(&mut sql, backend, tenant_id, f, false)?;
    sql.push(") r WHERE 1 = 1");
    let plan = page::apply(&mut sql, sort.order(), args)?;
    Ok(ListQuery { sql, plan })
}

/// A customer in [`CustomerSort::Relevance`] order, with its sort key (for cursors).
#[derive(Debug, Clone, FromRow)]
pub struct RankedCustomer {
    /// The customer.
    #[row(flatten)]
    pub customer: Customer,
    /// Its place in the order.
    pub relevance: String,
}

/// `s` with `%`, `_` and `\` escaped for `LIKE ... ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    s.chars().fold(String::with_capacity(s.len()), |mut out, c| {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// A page of the search's matches, best first ([`CustomerSort::Relevance`]).
pub async fn list_ranked(
    db: &Db,
    tenant_id: i64,
    f: &CustomerFilter,
    args: &PageArgs,
) -> CoreResult<Page<RankedCustomer>> {
    list_sql(db.backend(), tenant_id, f, CustomerSort::Relevance, args)?.page(db, args).await
}

/// A page of the tenant's customers.
pub async fn list(
    db: &Db,
    tenant_id: i64,
    f: &CustomerFilter,
    sort: CustomerSort,
    args: &PageArgs,
) -> CoreResult<Page<Customer>> {
    list_sql(db.backend(), tenant_id, f, sort, args)?.page(db, args).await
}

/// The statement counting the customers that match the filter.
pub fn count_sql(backend: Backend, tenant_id: i64, f: &CustomerFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| from_where(sql, backend, tenant_id, f, true))
}

/// How many customers match the filter (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: &CustomerFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(db.backend(), tenant_id, f)?).await
}
