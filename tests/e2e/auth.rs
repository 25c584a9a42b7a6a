//! Staff authentication: sign-up, login, token lifetimes, refresh rotation with reuse
//! detection, logout, password changes and login throttling.

use crate::*;
use chrono::Duration;
use serde_json::{json, Value};

const ME: &str = "{ me { email role } }";
const REFRESH: &str =
    "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken expiresIn user { email } } }";

async fn refresh(app: &TestApp, token: &str) -> Value {
    app.gql(None, REFRESH, json!({"r": token})).await
}

fn refresh_token(r: &Value) -> String {
    r["data"]["refreshToken"]["refreshToken"].as_str().unwrap_or_else(|| panic!("refresh failed: {r:#}")).into()
}

#[tokio::test]
async fn register_and_login_return_tokens_with_a_15_minute_access_token() {
    let app = spawn_app().await;
    let slug = format!("t{}", unique());
    let r = app
        .gql(
            None,
            "mutation($i: RegisterTenantInput!) { registerTenant(input: $i) { accessToken refreshToken expiresIn user { email role } tenant { slug currency } } }",
            json!({"i": {"slug": slug, "name": "Reg ISP", "currency": "EUR", "timezone": "Europe/Berlin",
                         "ownerEmail": format!("Boss@{slug}.test"), "ownerName": "Boss", "ownerPassword": PASSWORD}}),
        )
        .await;
    let d = &r["data"]["registerTenant"];
    assert!(d["accessToken"].as_str().is_some_and(|t| t.split('.').count() == 3), "{r:#}");
    assert!(d["refreshToken"].as_str().is_some_and(|t| t.len() >= 32), "{r:#}");
    assert_eq!(d["expiresIn"], 900);
    let payload = d["accessToken"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&b64url_decode(payload)).unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900, "{claims}");
    assert_eq!(d["user"]["email"], format!("boss@{slug}.test"));
    assert_eq!(d["user"]["role"], "OWNER");
    assert_eq!(d["tenant"], json!({"slug": slug, "currency": "EUR"}));
    // The registration token works at once.
    let me = app.ok(d["accessToken"].as_str().unwrap(), ME, json!({})).await;
    assert_eq!(me["me"]["role"], "OWNER");

    let r = app.login_raw(&slug, &format!("boss@{slug}.test"), PASSWORD, &[]).await;
    let l = &r["data"]["login"];
    assert_eq!(l["expiresIn"], 900, "{r:#}");
    assert_eq!(l["user"]["role"], "OWNER");
    assert_ne!(l["refreshToken"], d["refreshToken"]);
    let me = app.ok(l["accessToken"].as_str().unwrap(), ME, json!({})).await;
    assert_eq!(me["me"]["email"], format!("boss@{slug}.test"));
    // A duplicate slug is a conflict on `slug`.
    let r = app
        .gql(
            None,
            "mutation($i: RegisterTenantInput!) { registerTenant(input: $i) { accessToken } }",
            json!({"i": {"slug": slug, "name": "Again", "currency": "EUR", "timezone": "UTC",
                         "ownerEmail": "x@y.test", "ownerName": "X", "ownerPassword": PASSWORD}}),
        )
        .await;
    assert_eq!((code(&r), field(&r)), (Some("CONFLICT"), Some("slug")), "{r:#}");
}

#[tokio::test]
async fn registration_disabled_in_config_is_forbidden() {
    let app = spawn_app_with(|c| c.auth.allow_registration = false).await;
    let slug = format!("t{}", unique());
    let r = app
        .gql(
            None,
            "mutation($i: RegisterTenantInput!) { registerTenant(input: $i) { accessToken } }",
            json!({"i": {"slug": slug, "name": "No ISP", "currency": "USD", "timezone": "UTC",
                         "ownerEmail": format!("o@{slug}.test"), "ownerName": "O", "ownerPassword": PASSWORD}}),
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r:#}");
    assert!(r["data"].is_null());
    // Nothing was created: the slug cannot log in.
    let r = app.login_raw(&slug, &format!("o@{slug}.test"), PASSWORD, &[]).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r:#}");
}

#[tokio::test]
async fn failed_logins_are_indistinguishable_and_disabled_users_cannot_log_in() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let disabled = app.staff(&t, "SUPPORT").await;
    app.ok(
        &t.token,
        "mutation($id: ID!) { updateStaffUser(input: {id: $id, disabled: true}) { disabled } }",
        json!({"id": disabled.id}),
    )
    .await;
    let cases = [
        ("unknown tenant", format!("no-{}", t.slug), t.email.clone(), PASSWORD),
        ("unknown email", t.slug.clone(), format!("nobody@{}.test", t.slug), PASSWORD),
        ("wrong password", t.slug.clone(), t.email.clone(), "wrong-password-1"),
        ("disabled user", t.slug.clone(), disabled.email.clone(), PASSWORD),
    ];
    let mut seen = Vec::new();
    for (case, slug, email, pw) in &cases {
        let r = app.login_raw(slug, email, pw, &[]).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{case}: {r:#}");
        assert!(r["data"].is_null(), "{case}: {r:#}");
        seen.push((r["errors"][0]["message"].clone(), r["errors"][0]["extensions"].clone()));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "errors differ: {seen:#?}");
    // The right password still works (the failures above stay below the throttle).
    app.login(&t.slug, &t.email, PASSWORD).await;
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_used_token_revokes_its_family() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let login = app.login_raw(&t.slug, &t.email, PASSWORD, &[]).await;
    let r0 = login["data"]["login"]["refreshToken"].as_str().unwrap().to_string();

    let first = refresh(&app, &r0).await;
    let r1 = refresh_token(&first);
    assert_ne!(r1, r0);
    assert_eq!(first["data"]["refreshToken"]["expiresIn"], 900);
    app.ok(first["data"]["refreshToken"]["accessToken"].as_str().unwrap(), ME, json!({})).await;
    let r2 = refresh_token(&refresh(&app, &r1).await);

    // r1 was used already: presenting it again is theft, so the whole family dies.
    let reuse = refresh(&app, &r1).await;
    assert_eq!(code(&reuse), Some("UNAUTHENTICATED"), "{reuse:#}");
    let newest = refresh(&app, &r2).await;
    assert_eq!(code(&newest), Some("UNAUTHENTICATED"), "newest token of a revoked family: {newest:#}");
    let oldest = refresh(&app, &r0).await;
    assert_eq!(code(&oldest), Some("UNAUTHENTICATED"), "{oldest:#}");

    // Another login (the registration session) is another family and keeps working.
    let other = refresh(&app, &t.refresh).await;
    assert!(other["errors"].is_null(), "unrelated family was revoked: {other:#}");
    // The reuse is in the audit log.
    let d = app.ok(&t.token, "{ auditLog(filter: {actionPrefix: \"auth.\"}) { nodes { action } } }", json!({})).await;
    assert_eq!(d["auditLog"]["nodes"], json!([{"action": "auth.refresh_reuse"}]));
    // Garbage is refused the same way.
    assert_eq!(code(&refresh(&app, "not-a-token").await), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_family() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let r1 = refresh_token(&refresh(&app, &t.refresh).await);
    let r = app.gql(None, "mutation($r: String!) { logout(refreshToken: $r) }", json!({"r": r1})).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "logout needs an access token: {r:#}");
    let d = app.ok(&t.token, "mutation($r: String!) { logout(refreshToken: $r) }", json!({"r": r1})).await;
    assert_eq!(d["logout"], true);
    assert_eq!(code(&refresh(&app, &r1).await), Some("UNAUTHENTICATED"));
    // A second login is unaffected.
    let l = app.login_raw(&t.slug, &t.email, PASSWORD, &[]).await;
    let other = l["data"]["login"]["refreshToken"].as_str().unwrap();
    refresh_token(&refresh(&app, other).await);
}

#[tokio::test]
async fn change_password_checks_the_current_one_and_signs_out_everywhere() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let other_session = app.login_raw(&t.slug, &t.email, PASSWORD, &[]).await["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let r = app.gql(Some(&t.token), CHANGE, json!({"c": "not-my-password", "n": "brand-new-pass-1"})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("currentPassword")), "{r:#}");
    let r = app.gql(Some(&t.token), CHANGE, json!({"c": PASSWORD, "n": "short"})).await;
    assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("newPassword")), "{r:#}");
    // Nothing changed so far.
    refresh_token(&refresh(&app, &other_session).await);
    let other_session = app.login_raw(&t.slug, &t.email, PASSWORD, &[]).await["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    let d = app.ok(&t.token, CHANGE, json!({"c": PASSWORD, "n": "brand-new-pass-1"})).await;
    assert_eq!(d["changePassword"], true);
    for (name, token) in [("registration", &t.refresh), ("other login", &other_session)] {
        assert_eq!(code(&refresh(&app, token).await), Some("UNAUTHENTICATED"), "{name} session survived");
    }
    let r = app.login_raw(&t.slug, &t.email, PASSWORD, &[]).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "old password still works: {r:#}");
    app.login(&t.slug, &t.email, "brand-new-pass-1").await;
}

#[tokio::test]
async fn access_tokens_expire_after_15_minutes() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    app.clock.advance(Duration::seconds(899));
    app.ok(&t.token, ME, json!({})).await;
    app.clock.advance(Duration::seconds(2));
    let r = app.gql(Some(&t.token), ME, json!({})).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r:#}");
    // The refresh token outlives it and gives a fresh access token.
    let fresh = refresh(&app, &t.refresh).await;
    app.ok(fresh["data"]["refreshToken"]["accessToken"].as_str().unwrap(), ME, json!({})).await;
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let staff = app.staff(&t, "CASHIER").await;
    let parts: Vec<&str> = staff.token.split('.').collect();
    // Escalate the cashier to owner in the payload, keeping the signature.
    let mut claims: Value = serde_json::from_slice(&b64url_decode(parts[1])).unwrap();
    assert_eq!(claims["role"], "cashier");
    claims["role"] = json!("owner");
    let forged = format!("{}.{}.{}", parts[0], b64url(claims.to_string().as_bytes()), parts[2]);
    let mut sig = parts[2].to_string();
    let last = sig.pop().unwrap();
    sig.push(if last == 'A' { 'B' } else { 'A' });
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], sig);
    let alg_none = format!("{}.{}.", b64url(br#"{"alg":"none","typ":"JWT"}"#), b64url(claims.to_string().as_bytes()));
    // A token signed by another deployment (its own generated secret), even for this tenant.
    let other = spawn_app().await;
    let foreign = other.tenant().await.token;
    let cases = [
        ("role escalated in payload", forged),
        ("signature changed", bad_sig),
        ("alg none", alg_none),
        ("another server's key", foreign),
        ("not a JWT", "garbage".to_string()),
    ];
    for (case, token) in cases {
        let r = app.gql(Some(&token), ME, json!({})).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{case}: {r:#}");
        let r = app.gql(Some(&token), "{ staffUsers { nodes { email } } }", json!({})).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{case}: {r:#}");
    }
    // The untouched token works and is still a cashier.
    assert_eq!(app.ok(&staff.token, ME, json!({})).await["me"]["role"], "CASHIER");
}

#[tokio::test]
async fn too_many_failures_per_account_are_rate_limited_until_the_window_passes() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let max = app.ctx.config.auth.max_failures_per_account;
    let window = app.ctx.config.auth.throttle_window_secs;
    for i in 0..max {
        let r = app.login_raw(&t.slug, &t.email, "wrong-password-1", &[]).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "attempt {i}: {r:#}");
    }
    // Locked even with the right password, and the email's case does not dodge it.
    for email in [t.email.clone(), t.email.to_uppercase()] {
        let r = app.login_raw(&t.slug, &email, PASSWORD, &[]).await;
        assert_eq!(code(&r), Some("RATE_LIMITED"), "{r:#}");
        let retry = r["errors"][0]["extensions"]["retryAfter"].as_i64().unwrap_or(0);
        assert!(retry > 0 && retry <= window, "retryAfter {retry}");
    }
    // Other accounts are not affected.
    let staff = app.staff(&t, "ADMIN").await;
    app.ok(&staff.token, ME, json!({})).await;
    app.clock.advance(Duration::seconds(window - 60));
    let r = app.login_raw(&t.slug, &t.email, PASSWORD, &[]).await;
    assert_eq!(code(&r), Some("RATE_LIMITED"), "still inside the window: {r:#}");
    app.clock.advance(Duration::seconds(61));
    app.login(&t.slug, &t.email, PASSWORD).await;
}

#[tokio::test]
async fn too_many_failures_per_ip_are_rate_limited_behind_a_trusted_proxy() {
    let app = spawn_app_with(|c| {
        c.trust_proxy = true;
        c.auth.max_failures_per_ip = 3;
    })
    .await;
    let t = app.tenant().await;
    let (bad_ip, good_ip) = (unique_ip(), unique_ip());
    let xff_bad = format!("{bad_ip}, 10.0.0.1");
    let bad = [("X-Forwarded-For", xff_bad.as_str())];
    // Failures spread over different accounts, all from one address.
    for i in 0..3 {
        let r = app.login_raw(&t.slug, &format!("nobody{i}@{}.test", t.slug), PASSWORD, &bad).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r:#}");
    }
    let r = app.login_raw(&t.slug, &t.email, PASSWORD, &bad).await;
    assert_eq!(code(&r), Some("RATE_LIMITED"), "{r:#}");
    assert!(r["errors"][0]["extensions"]["retryAfter"].as_i64().unwrap_or(0) > 0, "{r:#}");
    // The same account from another address is fine.
    let r = app.login_raw(&t.slug, &t.email, PASSWORD, &[("X-Forwarded-For", good_ip.as_str())]).await;
    assert!(r["errors"].is_null(), "{r:#}");
    app.clock.advance(Duration::seconds(app.ctx.config.auth.throttle_window_secs + 1));
    let r = app.login_raw(&t.slug, &t.email, PASSWORD, &bad).await;
    assert!(r["errors"].is_null(), "window passed: {r:#}");
}
