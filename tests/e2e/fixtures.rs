//! Test data builders (customers, plans, subscriptions, staff) and raw-request helpers that
//! several modules share. Every builder goes through the public API, like a client would.

use crate::*;
use serde_json::{json, Value};

/// A staff user created by a tenant's owner and logged in.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Global ID.
    pub id: String,
    /// Login email.
    pub email: String,
    /// Access token.
    pub token: String,
}

/// `base64url("Type:id")` without padding: the server's global ID format.
pub fn global_id(ty: &str, id: i64) -> String {
    b64url(format!("{ty}:{id}").as_bytes())
}

/// The `(type, row id)` inside a global ID.
pub fn parse_global_id(id: &str) -> (String, i64) {
    let raw = String::from_utf8(b64url_decode(id)).expect("utf-8 id");
    let (ty, n) = raw.split_once(':').expect("Type:id");
    (ty.to_string(), n.parse().expect("numeric id"))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url, enough for IDs and JWT parts.
pub fn b64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes unpadded base64url.
pub fn b64url_decode(s: &str) -> Vec<u8> {
    let vals: Vec<u32> = s.bytes().map(|c| B64.iter().position(|b| *b == c).expect("base64url") as u32).collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// A client IP no other test (or earlier run against the same database) uses.
pub fn unique_ip() -> String {
    let u = unique();
    let n: u128 = u.parse().unwrap_or(0);
    format!("fd00::{:x}:{:x}:{:x}", (n >> 32) & 0xffff, (n >> 16) & 0xffff, n & 0xffff)
}

impl TestApp {
    /// POSTs an arbitrary JSON body to `/graphql` with extra headers; the raw response.
    pub async fn post_raw(&self, token: Option<&str>, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.post(format!("{}/graphql", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// Like [`TestApp::gql`] with extra request headers (e.g. `X-Forwarded-For`).
    pub async fn gql_headers(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> Value {
        let body = json!({"query": query, "variables": variables});
        self.post_raw(token, &body, headers).await.json().await.unwrap()
    }

    /// The full `login` response (tokens, `expiresIn`, user) or the errors.
    pub async fn login_raw(&self, slug: &str, email: &str, password: &str, headers: &[(&str, &str)]) -> Value {
        self.gql_headers(
            None,
            "mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { accessToken refreshToken expiresIn user { email role } } }",
            json!({"t": slug, "e": email, "p": password}),
            headers,
        )
        .await
    }

    /// Creates a customer named `name`; returns its global ID.
    pub async fn customer(&self, token: &str, name: &str) -> String {
        let d = self
            .ok(token, "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }", json!({"n": name}))
            .await;
        d["createCustomer"]["id"].as_str().unwrap().to_string()
    }

    /// Creates a plan named `name` (price 29.99, 50/10 Mbit/s) sold for `access`; returns its ID.
    pub async fn plan(&self, token: &str, name: &str, access: &[&str]) -> String {
        let d = self
            .ok(
                token,
                "mutation($i: PlanInput!) { createPlan(input: $i) { id } }",
                json!({"i": plan_input(name, access)}),
            )
            .await;
        d["createPlan"]["id"].as_str().unwrap().to_string()
    }

    /// Creates a PPPoE subscription with `username` (status PENDING or the given one); its ID.
    pub async fn subscription(&self, token: &str, customer: &str, plan: &str, username: &str, status: &str) -> String {
        let d = self
            .ok(
                token,
                "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }",
                json!({"i": {"customerId": customer, "planId": plan, "accessType": "PPPOE", "username": username,
                             "password": "s3cret", "status": status}}),
            )
            .await;
        d["createSubscription"]["id"].as_str().unwrap().to_string()
    }

    /// Has the tenant's owner create a staff user with `role` (e.g. `"ADMIN"`), then logs it in.
    pub async fn staff(&self, t: &Tenant, role: &str) -> Staff {
        let email = format!("{}-{}@{}.test", role.to_lowercase(), unique(), t.slug);
        let d = self
            .ok(
                &t.token,
                "mutation($i: CreateStaffUserInput!) { createStaffUser(input: $i) { id } }",
                json!({"i": {"email": email, "name": format!("{role} user"), "role": role, "password": PASSWORD}}),
            )
            .await;
        let token = self.login(&t.slug, &email, PASSWORD).await;
        Staff { id: d["createStaffUser"]["id"].as_str().unwrap().to_string(), email, token }
    }

    /// Global ID of the caller (`me { id }`).
    pub async fn me_id(&self, token: &str) -> String {
        self.ok(token, "{ me { id } }", json!({})).await["me"]["id"].as_str().unwrap().to_string()
    }
}

/// A valid `PlanInput` for `createPlan` / `updatePlan`.
pub fn plan_input(name: &str, access: &[&str]) -> Value {
    json!({"name": name, "priceMinor": 2999, "billingPeriod": "MONTHLY", "downloadKbps": 50000,
           "uploadKbps": 10000, "accessTypes": access})
}

/// The error messages of a response (empty when it succeeded).
pub fn messages(r: &Value) -> Vec<String> {
    r["errors"]
        .as_array()
        .map_or(Vec::new(), |es| es.iter().map(|e| e["message"].as_str().unwrap_or("").into()).collect())
}
