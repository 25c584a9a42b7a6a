//! Staff authentication and management: tenant sign-up, login with throttling, rotating
//! refresh tokens with reuse detection, password changes, and staff administration.

use crate::auth::{Action, Actor, Role};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::jwt::{self, Claims};
use crate::password;
use crate::store::tenants::{self, NewTenant, Tenant};
use crate::store::tokens::{self, Throttle};
use crate::store::users::{self, User};
use crate::{validate, Ctx};
use serde_json::json;
use std::sync::OnceLock;

/// What a successful login, sign-up or refresh hands the client.
#[derive(Debug, Clone)]
pub struct Session {
    /// Short-lived bearer token (JWT, HS256).
    pub access_token: String,
    /// Long-lived, single-use token for `refreshToken`.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The staff user.
    pub user: User,
    /// Their tenant.
    pub tenant: Tenant,
}

/// A new tenant and its owner.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "RegisterTenantInput"))]
pub struct Registration {
    /// The new tenant (over GraphQL its fields come first, inline).
    #[cfg_attr(feature = "graphql", graphql(flatten))]
    pub tenant: NewTenant,
    /// Owner's email.
    pub owner_email: String,
    /// Owner's name.
    pub owner_name: String,
    /// Owner's password (at least 8 characters).
    pub owner_password: String,
}

async fn hash(ctx: &Ctx, pw: &str) -> CoreResult<String> {
    let cost = ctx.hash_cost();
    let pw = pw.to_string();
    Ok(tokio::task::spawn_blocking(move || password::hash(&pw, cost)).await?)
}

async fn verify(pw: &str, phc: &str) -> CoreResult<bool> {
    let (pw, phc) = (pw.to_string(), phc.to_string());
    Ok(tokio::task::spawn_blocking(move || password::verify(&pw, &phc)).await?)
}

fn check_new_user(email: &str, name: &str, pw: &str) -> CoreResult<()> {
    validate::email(email).map_err(|m| CoreError::validation("email", m))?;
    validate::text(name, 120).map_err(|m| CoreError::validation("name", m))?;
    password::check_strength(pw).map_err(|m| CoreError::validation("password", m))?;
    Ok(())
}

async fn session(
    ctx: &Ctx,
    tx: &mut crate::db::Tx,
    user: User,
    tenant: Tenant,
    family: Option<&str>,
    ip: Option<&str>,
) -> CoreResult<Session> {
    let now = ctx.now_ms();
    let ttl = ctx.config.auth.access_token_ttl_secs;
    let claims = Claims {
        sub: user.id,
        tid: tenant.id,
        role: user.role.clone(),
        email: user.email.clone(),
        iat: now / 1000,
        exp: now / 1000 + ttl,
    };
    let access_token = jwt::encode(&ctx.secrets.jwt_key, &claims);
    let refresh_ttl = ctx.config.auth.refresh_token_ttl_days * 86_400_000;
    let refresh_token = tokens::issue(tx, tenant.id, user.id, family, ip, now, refresh_ttl).await?;
    Ok(Session { access_token, refresh_token, expires_in: ttl, user, tenant })
}

/// Creates a tenant and its owner, and logs the owner in.
pub async fn register_tenant(ctx: &Ctx, r: &Registration, ip: Option<&str>) -> CoreResult<Session> {
    if !ctx.config.auth.allow_registration {
        return Err(CoreError::Forbidden("self-service registration is disabled on this server".into()));
    }
    create_tenant_with_owner(ctx, r, ip).await
}

/// Creates a tenant and its owner regardless of the registration switch (CLI, seed).
pub async fn create_tenant_with_owner(ctx: &Ctx, r: &Registration, ip: Option<&str>) -> CoreResult<Session> {
    r.tenant.validate()?;
    let email = r.owner_email.trim().to_lowercase();
    check_new_user(&email, &r.owner_name, &r.owner_password)?;
    let hash = hash(ctx, &r.owner_password).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let tenant = tenants::insert(&mut tx, &r.tenant, now).await?;
    let user = users::insert(&mut tx, tenant.id, &email, &r.owner_name, Role::Owner, &hash, now).await?;
    crate::store::helpdesk::insert_default_categories(&mut tx, tenant.id, now).await?;
    crate::notify::seed_default_templates(&mut tx, tenant.id, now).await?;
    let actor = Actor {
        tenant_id: tenant.id,
        user_id: user.id,
        role: Role::Owner,
        name: email.clone(),
        ip: ip.map(str::to_string),
    };
    Effects::new(ctx, &actor, now)
        .audit("tenant.register", "Tenant", Some(tenant.id), json!({"slug": tenant.slug}))
        .write(&mut tx)
        .await?;
    let s = session(ctx, &mut tx, user, tenant, None, ip).await?;
    tx.commit().await?;
    Ok(s)
}

fn dummy_hash(ctx: &Ctx) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| password::dummy_hash(ctx.hash_cost()))
}

/// Logs a staff user in. Unknown tenant, unknown email, wrong password and disabled account
/// all give the same error after the same work, so accounts cannot be probed.
pub async fn login(ctx: &Ctx, tenant_slug: &str, email: &str, pw: &str, ip: &str) -> CoreResult<Session> {
    let email = email.trim().to_lowercase();
    let account = format!("{}/{}", tenant_slug.trim().to_lowercase(), email);
    let now = ctx.now_ms();
    let a = &ctx.config.auth;
    let throttle = Throttle {
        per_account: a.max_failures_per_account,
        per_ip: a.max_failures_per_ip,
        window_ms: a.throttle_window_secs * 1000,
    };
    tokens::check_throttle(&ctx.db, &account, ip, now, throttle).await?;
    let tenant = tenants::by_slug(&ctx.db, tenant_slug.trim()).await?;
    let user = match &tenant {
        Some(t) => users::by_email(&ctx.db, t.id, &email).await?,
        None => None,
    };
    let phc = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| dummy_hash(ctx).to_string());
    let ok = verify(pw, &phc).await? && user.as_ref().is_some_and(|u| !u.is_disabled());
    tokens::record_attempt(&ctx.db, &account, ip, ok, now).await?;
    let (Some(tenant), Some(user), true) = (tenant, user, ok) else {
        ctx.metrics.inc("isp_staff_logins_total", "result=\"failed\"");
        return Err(CoreError::InvalidCredentials);
    };
    ctx.metrics.inc("isp_staff_logins_total", "result=\"ok\"");
    users::touch_login(&ctx.db, user.id, now).await?;
    let mut tx = ctx.db.begin().await?;
    let s = session(ctx, &mut tx, user, tenant, None, Some(ip)).await?;
    tx.commit().await?;
    Ok(s)
}

/// Exchanges a refresh token for a new pair. A token that was already used means it leaked:
/// the whole family is revoked and the caller must log in again.
pub async fn refresh(ctx: &Ctx, token: &str, ip: Option<&str>) -> CoreResult<Session> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let Some(t) = tokens::find(&mut tx, token).await? else {
        return Err(CoreError::Unauthenticated);
    };
    if t.revoked_at.is_some() || t.expires_at <= now {
        return Err(CoreError::Unauthenticated);
    }
    if t.used_at.is_some() || !tokens::mark_used(&mut tx, t.id, now).await? {
        tokens::revoke_family(&mut tx, &t.family_id, now).await?;
        let actor = Actor {
            tenant_id: t.tenant_id,
            user_id: t.user_id,
            role: Role::Cashier,
            name: "system:auth".into(),
            ip: ip.map(str::to_string),
        };
        Effects::new(ctx, &actor, now)
            .audit("auth.refresh_reuse", "User", Some(t.user_id), json!({"family": "revoked"}))
            .write(&mut tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(user_id = t.user_id, "refresh token reused: family revoked");
        return Err(CoreError::Unauthenticated);
    }
    let user = users::get(&ctx.db, t.tenant_id, t.user_id).await?;
    if user.is_disabled() {
        return Err(CoreError::Unauthenticated);
    }
    let tenant = tenants::get(&ctx.db, t.tenant_id).await?;
    let s = session(ctx, &mut tx, user, tenant, Some(&t.family_id), ip).await?;
    tx.commit().await?;
    Ok(s)
}

/// Revokes the refresh token's family (this login on this device).
pub async fn logout(ctx: &Ctx, actor: &Actor, refresh_token: &str) -> CoreResult<()> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if let Some(t) = tokens::find(&mut tx, refresh_token).await? {
        if t.tenant_id == actor.tenant_id && t.user_id == actor.user_id {
            tokens::revoke_family(&mut tx, &t.family_id, now).await?;
        }
    }
    tx.commit().await
}

/// Checks a bearer access token and returns who it belongs to.
pub fn authenticate(ctx: &Ctx, bearer: &str, ip: Option<String>) -> CoreResult<Actor> {
    let c = jwt::decode(&ctx.secrets.jwt_key, bearer, ctx.now_ms() / 1000).map_err(|_| CoreError::Unauthenticated)?;
    let role: Role = c.role.parse().map_err(|_| CoreError::Unauthenticated)?;
    let name = if c.email.is_empty() { format!("user:{}", c.sub) } else { c.email };
    Ok(Actor { tenant_id: c.tid, user_id: c.sub, role, name, ip })
}

/// Changes the caller's own password and signs out every other session.
pub async fn change_password(ctx: &Ctx, actor: &Actor, current: &str, new: &str) -> CoreResult<()> {
    let user = users::get(&ctx.db, actor.tenant_id, actor.user_id).await?;
    if !verify(current, &user.password_hash).await? {
        return Err(CoreError::validation("currentPassword", "is not correct"));
    }
    password::check_strength(new).map_err(|m| CoreError::validation("newPassword", m))?;
    let hash = hash(ctx, new).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    users::set_password(&mut tx, actor.tenant_id, actor.user_id, &hash, now).await?;
    tokens::revoke_user(&mut tx, actor.user_id, now).await?;
    Effects::new(ctx, actor, now)
        .audit("staff.password", "User", Some(actor.user_id), json!({"by": "self"}))
        .write(&mut tx)
        .await?;
    tx.commit().await
}

/// Adds a staff user. Only owners may create owners.
pub async fn create_staff(ctx: &Ctx, actor: &Actor, email: &str, name: &str, role: Role, pw: &str) -> CoreResult<User> {
    actor.require(Action::StaffManage)?;
    if role == Role::Owner && actor.role != Role::Owner {
        return Err(CoreError::Forbidden("only an owner can create another owner".into()));
    }
    let email = email.trim().to_lowercase();
    check_new_user(&email, name, pw)?;
    let hash = hash(ctx, pw).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let u = users::insert(&mut tx, actor.tenant_id, &email, name, role, &hash, now).await?;
    Effects::new(ctx, actor, now)
        .audit("staff.create", "User", Some(u.id), json!({"email": u.email, "role": u.role}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(u)
}

/// Changes a staff user's name, role, disabled flag or password. Owners can only be changed
/// by owners, nobody can lock themselves out, and the last enabled owner stays an owner.
pub async fn update_staff(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    name: Option<&str>,
    role: Option<Role>,
    disabled: Option<bool>,
    new_password: Option<&str>,
) -> CoreResult<User> {
    actor.require(Action::StaffManage)?;
    let cur = users::get(&ctx.db, actor.tenant_id, id).await?;
    if (cur.role() == Role::Owner || role == Some(Role::Owner)) && actor.role != Role::Owner {
        return Err(CoreError::Forbidden("only an owner can change an owner or grant ownership".into()));
    }
    if id == actor.user_id && (disabled == Some(true) || role.is_some_and(|r| r != cur.role())) {
        return Err(CoreError::validation("id", "you cannot disable yourself or change your own role"));
    }
    if let Some(n) = name {
        validate::text(n, 120).map_err(|m| CoreError::validation("name", m))?;
    }
    let hash = match new_password {
        Some(pw) => {
            password::check_strength(pw).map_err(|m| CoreError::validation("password", m))?;
            Some(hash(ctx, pw).await?)
        }
        None => None,
    };
    let now = ctx.now_ms();
    let new_role = role.unwrap_or(cur.role());
    let new_disabled = disabled.unwrap_or(cur.is_disabled());
    let mut tx = ctx.db.begin().await?;
    let u = users::update(&mut tx, actor.tenant_id, id, name.unwrap_or(&cur.name), new_role, new_disabled, now).await?;
    if cur.role() == Role::Owner && users::active_owners(&mut tx, actor.tenant_id).await? == 0 {
        return Err(CoreError::conflict("role", "the tenant must keep at least one enabled owner"));
    }
    if let Some(h) = &hash {
        users::set_password(&mut tx, actor.tenant_id, id, h, now).await?;
    }
    if new_disabled || hash.is_some() || new_role != cur.role() {
        tokens::revoke_user(&mut tx, id, now).await?;
    }
    let details = json!({
        "role": {"from": cur.role, "to": u.role},
        "disabled": {"from": cur.is_disabled(), "to": u.is_disabled()},
        "passwordReset": hash.is_some(),
    });
    Effects::new(ctx, actor, now).audit("staff.update", "User", Some(id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(u)
}
