//! Staff users of a tenant.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::auth::Role;
use crate::db::{query, query_as, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};

/// A staff member who logs in to manage the tenant.
#[derive(Debug, Clone, FromRow)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Login email, stored lower-case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// 1 when the account may not log in.
    pub disabled: i64,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
    /// Last successful login, Unix ms.
    pub last_login_at: Option<i64>,
}

impl User {
    /// The parsed role.
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Cashier)
    }

    /// Whether the account is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled != 0
    }
}

const COLS: &str = "id, tenant_id, email, name, role, password_hash, disabled, created_at, updated_at, last_login_at";

/// Inserts a staff user inside `tx`; the email must already be validated and lower-cased.
pub async fn insert(
    tx: &mut Tx,
    tenant_id: i64,
    email: &str,
    name: &str,
    role: Role,
    hash: &str,
    now: i64,
) -> CoreResult<User> {
    query_as::<User>(&format!(
        "INSERT INTO users (tenant_id, email, name, role, password_hash, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6) RETURNING {COLS}"
    ))
    .bind(tenant_id)
    .bind(email)
    .bind(name.trim())
    .bind(role.as_str())
    .bind(hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
}

/// The user `id` of `tenant_id`.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<User> {
    query_as::<User>(&format!("SELECT {COLS} FROM users WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("user"))
}

/// The user with `email` in `tenant_id`, if any.
pub async fn by_email(db: &Db, tenant_id: i64, email: &str) -> CoreResult<Option<User>> {
    query_as::<User>(&format!("SELECT {COLS} FROM users WHERE tenant_id = $1 AND email = $2"))
        .bind(tenant_id)
        .bind(email.trim().to_lowercase())
        .fetch_optional(db)
        .await
}

/// Number of enabled owners of the tenant (there must always be one).
pub async fn active_owners(tx: &mut Tx, tenant_id: i64) -> CoreResult<i64> {
    let (n,): (i64,) = query_as("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = 'owner' AND disabled = 0")
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    Ok(n)
}

/// Appends ` FROM users WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64) {
    sql.push(" FROM users WHERE tenant_id = ");
    sql.arg(tenant_id);
}

/// The statement of a page of the tenant's staff ordered by email.
pub fn list_sql(tenant_id: i64, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id);
    let plan = page::apply(&mut sql, Order { column: "email", integer: false, desc: false }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's staff ordered by email.
pub async fn list(db: &Db, tenant_id: i64, args: &PageArgs) -> CoreResult<Page<User>> {
    list_sql(tenant_id, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id)?).await
}

/// Sets name, role and disabled flag of user `id` inside `tx`.
pub async fn update(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    name: &str,
    role: Role,
    disabled: bool,
    now: i64,
) -> CoreResult<User> {
    query_as::<User>(&format!(
        "UPDATE users SET name = $1, role = $2, disabled = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6 RETURNING {COLS}"
    ))
    .bind(name.trim())
    .bind(role.as_str())
    .bind(i64::from(disabled))
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(CoreError::NotFound("user"))
}

/// Replaces the password hash of user `id` inside `tx`.
pub async fn set_password(tx: &mut Tx, tenant_id: i64, id: i64, hash: &str, now: i64) -> CoreResult<()> {
    query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(hash)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Notes a successful login.
pub async fn touch_login(db: &Db, id: i64, now: i64) -> CoreResult<()> {
    query("UPDATE users SET last_login_at = $1 WHERE id = $2").bind(now).bind(id).execute(db).await?;
    Ok(())
}
