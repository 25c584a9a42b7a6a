//! Customers: the people and businesses an ISP sells to.

use super::page::{self, Order, Page, PageArgs};
use super::{audit, tenants};
use crate::auth::{Action, Actor};
use crate::db::{like_pattern, query_as, Arg, Db, FromRow, Sql};
use crate::error::{CoreError, CoreResult};
use crate::events::{Event, EventKind};
use crate::{text_enum, validate, Ctx};
use serde_json::json;

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

/// Fields of a customer as a client sends them. For updates, `None` leaves a field alone and
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct CustomerPatch {
    /// Name (required on create).
    pub name: Option<String>,
    /// Email.
    pub email: Option<Option<String>>,
    /// Phone.
    pub phone: Option<Option<String>>,
    /// Address.
    pub address: Option<Option<String>>,
    /// Tax id.
    pub tax_id: Option<Option<String>>,
    /// Notes.
    pub notes: Option<Option<String>>,
    /// Status (ACTIVE or INACTIVE; archive has its own operation).
    pub status: Option<CustomerStatus>,
}

fn clean(v: &Option<Option<String>>) -> Option<Option<String>> {
    v.as_ref().map(|o| o.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

impl CustomerPatch {
    fn validate(&self) -> CoreResult<()> {
        if let Some(n) = &self.name {
            validate::text(n, 200).map_err(|m| CoreError::validation("name", m))?;
        }
        if let Some(Some(e)) = clean(&self.email) {
            validate::email(&e).map_err(|m| CoreError::validation("email", m))?;
        }
        if let Some(Some(p)) = clean(&self.phone) {
            validate::phone(&p).map_err(|m| CoreError::validation("phone", m))?;
        }
        for (field, v, max) in [("address", &self.address, 500), ("taxId", &self.tax_id, 64)] {
            if let Some(Some(s)) = clean(v) {
                validate::text(&s, max).map_err(|m| CoreError::validation(field, m))?;
            }
        }
        if let Some(Some(n)) = clean(&self.notes) {
            if n.chars().count() > 5000 {
                return Err(CoreError::validation("notes", "must be at most 5000 characters"));
            }
        }
        if self.status == Some(CustomerStatus::Archived) {
            return Err(CoreError::validation("status", "use archiveCustomer to archive"));
        }
        Ok(())
    }

    /// The fields this patch sets, for the audit log.
    fn changed(&self) -> Vec<&'static str> {
        audit::set_fields(&[
            ("name", self.name.is_some()),
            ("email", self.email.is_some()),
            ("phone", self.phone.is_some()),
            ("address", self.address.is_some()),
            ("taxId", self.tax_id.is_some()),
            ("notes", self.notes.is_some()),
            ("status", self.status.is_some()),
        ])
    }
}

fn publish(ctx: &Ctx, c: &Customer) {
    ctx.events.publish(Event { tenant_id: c.tenant_id, kind: EventKind::CustomerChanged, object_id: c.id });
}

/// Creates a customer with the next account number.
pub async fn create(ctx: &Ctx, actor: &Actor, p: &CustomerPatch) -> CoreResult<Customer> {
    actor.require(Action::CustomerWrite)?;
    let name = p.name.as_deref().ok_or_else(|| CoreError::validation("name", "is required"))?;
    p.validate()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let number = tenants::next_customer_number(&mut tx, actor.tenant_id).await?;
    let c = query_as::<Customer>(&format!(
        "INSERT INTO customers (tenant_id, account_number, name, email, phone, address, tax_id, notes, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {COLS}"
    ))
    .bind(actor.tenant_id)
    .bind(format!("C{number:06}"))
    .bind(name.trim())
    .bind(clean(&p.email).flatten().map(|e| e.to_lowercase()))
    .bind(clean(&p.phone).flatten())
    .bind(clean(&p.address).flatten())
    .bind(clean(&p.tax_id).flatten())
    .bind(clean(&p.notes).flatten())
    .bind(p.status.unwrap_or(CustomerStatus::Active))
    .bind(now)
    .fetch_one(&mut tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        "customer.create",
        "Customer",
        Some(c.id),
        json!({"accountNumber": c.account_number, "name": c.name}),
        now,
    )
    .await?;
    tx.commit().await?;
    publish(ctx, &c);
    Ok(c)
}

/// Changes the fields `p` sets on customer `id`.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &CustomerPatch) -> CoreResult<Customer> {
    actor.require(Action::CustomerWrite)?;
    p.validate()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = query_as::<Customer>(&format!("SELECT {COLS} FROM customers WHERE tenant_id = $1 AND id = $2"))
        .bind(actor.tenant_id)
        .bind(id)
        .fetch_optional(&mut tx)
        .await?
        .ok_or(CoreError::NotFound("customer"))?;
    if cur.status == CustomerStatus::Archived {
        return Err(CoreError::conflict("id", "customer is archived"));
    }
    let pick = |new: &Option<Option<String>>, old: &Option<String>| match clean(new) {
        Some(v) => v,
        None => old.clone(),
    };
    let c = query_as::<Customer>(&format!(
        "UPDATE customers SET name = $1, email = $2, phone = $3, address = $4, tax_id = $5, notes = $6, status = $7, updated_at = $8 \
         WHERE tenant_id = $9 AND id = $10 RETURNING {COLS}"
    ))
    .bind(p.name.as_deref().map(str::trim).unwrap_or(&cur.name))
    .bind(pick(&p.email, &cur.email).map(|e| e.to_lowercase()))
    .bind(pick(&p.phone, &cur.phone))
    .bind(pick(&p.address, &cur.address))
    .bind(pick(&p.tax_id, &cur.tax_id))
    .bind(pick(&p.notes, &cur.notes))
    .bind(p.status.unwrap_or(cur.status))
    .bind(now)
    .bind(actor.tenant_id)
    .bind(id)
    .fetch_one(&mut tx)
    .await?;
    audit::record(&mut tx, actor, "customer.update", "Customer", Some(id), json!({"fields": p.changed()}), now).await?;
    tx.commit().await?;
    publish(ctx, &c);
    Ok(c)
}

/// Archives customer `id`; refused while it has subscriptions that are not cancelled.
pub async fn archive(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Customer> {
    actor.require(Action::CustomerArchive)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let (open,): (i64,) = query_as(
        "SELECT COUNT(*) FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 AND status <> 'CANCELLED'",
    )
    .bind(actor.tenant_id)
    .bind(id)
    .fetch_one(&mut tx)
    .await?;
    if open > 0 {
        return Err(CoreError::conflict("id", format!("customer has {open} subscription(s) that are not cancelled")));
    }
    let c = query_as::<Customer>(&format!(
        "UPDATE customers SET status = 'ARCHIVED', updated_at = $1 WHERE tenant_id = $2 AND id = $3 RETURNING {COLS}"
    ))
    .bind(now)
    .bind(actor.tenant_id)
    .bind(id)
    .fetch_optional(&mut tx)
    .await?
    .ok_or(CoreError::NotFound("customer"))?;
    audit::record(&mut tx, actor, "customer.archive", "Customer", Some(id), json!({}), now).await?;
    tx.commit().await?;
    publish(ctx, &c);
    Ok(c)
}

/// Customer `id` of `tenant_id`.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<Customer> {
    query_as::<Customer>(&format!("SELECT {COLS} FROM customers WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("customer"))
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

/// Filters for customer lists.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Matches name, email, phone, account number or a subscription's login (case-insensitive).
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
