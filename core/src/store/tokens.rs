//! Refresh tokens (stored hashed, rotated on every use, reuse revokes the whole family) and
//! the login throttle (failed attempts per account and per client IP, kept in the database so
//! every API process sees the same counts).

use crate::db::{query, query_as, Db, FromRow, Tx};
use crate::error::{CoreError, CoreResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A stored refresh token.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshToken {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Staff user.
    pub user_id: i64,
    /// Family: every rotation of one login shares it.
    pub family_id: String,
    /// Expiry, Unix ms.
    pub expires_at: i64,
    /// When it was exchanged for a new one.
    pub used_at: Option<i64>,
    /// When it (or its family) was revoked.
    pub revoked_at: Option<i64>,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    B64URL.encode(b)
}

/// SHA-256 of a token: tokens are high-entropy random strings, so a fast hash suffices.
fn digest(token: &str) -> String {
    B64URL.encode(Sha256::digest(token.as_bytes()))
}

/// Issues a refresh token in `family` (a new family when None) and returns its plaintext.
pub async fn issue(
    tx: &mut Tx,
    tenant_id: i64,
    user_id: i64,
    family: Option<&str>,
    ip: Option<&str>,
    now: i64,
    ttl_ms: i64,
) -> CoreResult<String> {
    let token = random_token();
    let family = family.map(str::to_string).unwrap_or_else(random_token);
    query(
        "INSERT INTO refresh_tokens (tenant_id, user_id, token_hash, family_id, created_at, expires_at, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(digest(&token))
    .bind(family)
    .bind(now)
    .bind(now + ttl_ms)
    .bind(ip)
    .execute(&mut *tx)
    .await?;
    Ok(token)
}

/// Looks a presented token up by its hash.
pub async fn find(tx: &mut Tx, token: &str) -> CoreResult<Option<RefreshToken>> {
    query_as::<RefreshToken>(
        "SELECT id, tenant_id, user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(digest(token))
    .fetch_optional(&mut *tx)
    .await
}

/// Marks token `id` as used, only if nobody used it first; false when it lost that race.
pub async fn mark_used(tx: &mut Tx, id: i64, now: i64) -> CoreResult<bool> {
    let r = query("UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(r == 1)
}

/// Revokes every token of a family (logout, or reuse of a rotated token).
pub async fn revoke_family(db_or_tx: &mut Tx, family: &str, now: i64) -> CoreResult<()> {
    query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(family)
        .execute(db_or_tx)
        .await?;
    Ok(())
}

/// Revokes every token of a user (password change, disabling the account).
pub async fn revoke_user(tx: &mut Tx, user_id: i64, now: i64) -> CoreResult<()> {
    query("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Limits of the login throttle.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// Failures per account in the window before refusing.
    pub per_account: i64,
    /// Failures per IP in the window before refusing.
    pub per_ip: i64,
    /// Window length, ms.
    pub window_ms: i64,
}

/// Refuses with RATE_LIMITED when `account` or `ip` failed too often within the window.
///
/// An account's count restarts at its last successful login; the retry-after is the time
/// until the oldest counted failure leaves the window.
pub async fn check_throttle(db: &Db, account: &str, ip: &str, now: i64, t: Throttle) -> CoreResult<()> {
    let since = now - t.window_ms;
    let (n_acct, oldest_acct): (i64, Option<i64>) = query_as(
        "SELECT COUNT(*), MIN(at) FROM login_attempts WHERE account = $1 AND success = 0 AND at > $2 \
         AND at > COALESCE((SELECT MAX(at) FROM login_attempts WHERE account = $3 AND success = 1), 0)",
    )
    .bind(account)
    .bind(since)
    .bind(account)
    .fetch_one(db)
    .await?;
    let (n_ip, oldest_ip): (i64, Option<i64>) =
        query_as("SELECT COUNT(*), MIN(at) FROM login_attempts WHERE ip = $1 AND success = 0 AND at > $2")
            .bind(ip)
            .bind(since)
            .fetch_one(db)
            .await?;
    let limited = [(n_acct, oldest_acct, t.per_account), (n_ip, oldest_ip, t.per_ip)]
        .into_iter()
        .filter(|(n, _, max)| n >= max)
        .filter_map(|(_, oldest, _)| oldest)
        .map(|oldest| (oldest + t.window_ms - now).max(1000))
        .max();
    match limited {
        Some(ms) => Err(CoreError::RateLimited { retry_after_secs: (ms + 999) / 1000 }),
        None => Ok(()),
    }
}

/// Records a login attempt for the throttle, and forgets attempts older than a day.
pub async fn record_attempt(db: &Db, account: &str, ip: &str, success: bool, now: i64) -> CoreResult<()> {
    query("INSERT INTO login_attempts (account, ip, success, at) VALUES ($1, $2, $3, $4)")
        .bind(account)
        .bind(ip)
        .bind(i64::from(success))
        .bind(now)
        .execute(db)
        .await?;
    if success {
        query("DELETE FROM login_attempts WHERE at < $1").bind(now - 86_400_000).execute(db).await?;
    }
    Ok(())
}
