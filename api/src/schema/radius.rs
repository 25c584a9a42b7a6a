//! RADIUS in the graph: NAS devices (secret write-only), live and past sessions with usage,
//! usage per subscription and billing period, the auth log, and `disconnectSession`.

use super::types::Subscription;
use super::{connection, core, Conn, ListCount};
use crate::access::root;
use crate::error::Gql;
use crate::fast::{fast, Fast};
use crate::ids::{self, page_args};
use crate::schema::request_loaders;
use async_graphql::{Context, Enum, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use isp_core::clock::from_ms;
use isp_core::patch::Patch;
use isp_core::store::auth_log::{self, AuthLogEntry as AuthLogRow, AuthLogFilter};
use isp_core::store::nas::{self, Nas as NasRow, NasType};
use isp_core::store::page::{Cursor as Pos, SortKey};
use isp_core::store::radius_sessions::{self, RadiusSession as SessionRow, SessionFilter};
use isp_core::store::usage::{self, Usage as UsageRow};
use isp_core::workflows::nas::NasPatch;

fn by_id(id: i64) -> Pos {
    Pos { key: SortKey::I(id), id, order: None }
}

/// A router that authenticates subscribers against us over RADIUS.
pub struct Nas(pub NasRow);

#[Object]
impl Nas {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Nas", self.0.id)
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Source IPv4 address of its RADIUS packets (unique across all tenants).
    async fn ip_address(&self) -> &str {
        &self.0.ip_address
    }
    /// Router kind.
    async fn nas_type(&self) -> NasType {
        self.0.nas_type
    }
    /// UDP port for CoA and Disconnect requests.
    async fn coa_port(&self) -> i64 {
        self.0.coa_port
    }
    /// Whether Access-Requests without Message-Authenticator are dropped (BlastRADIUS).
    async fn require_message_authenticator(&self) -> bool {
        self.0.requires_message_authenticator()
    }
    /// Notes.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
}

/// One RADIUS accounting session (PPPoE or hotspot login), live or finished.
pub struct RadiusSession(pub SessionRow);

#[Object]
impl RadiusSession {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("RadiusSession", self.0.id)
    }
    /// The NAS that reported it (null if deleted since).
    async fn nas(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Nas>>> {
        load_nas(ctx, Some(self.0.nas_id)).await
    }
    /// The subscription, when the user name is known.
    async fn subscription(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Subscription>>> {
        let Some(id) = self.0.subscription_id else { return Ok(None) };
        Ok(request_loaders(ctx)?.subscriptions.one(id).await?.map(fast(Subscription)))
    }
    /// User-Name.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Acct-Session-Id.
    async fn acct_session_id(&self) -> &str {
        &self.0.acct_session_id
    }
    /// Framed-IP-Address.
    async fn framed_ip(&self) -> Option<&str> {
        self.0.framed_ip.as_deref()
    }
    /// Calling-Station-Id (usually the MAC).
    async fn calling_station_id(&self) -> Option<&str> {
        self.0.calling_station_id.as_deref()
    }
    /// NAS-Port-Id (interface).
    async fn nas_port_id(&self) -> Option<&str> {
        self.0.nas_port_id.as_deref()
    }
    /// Whether it is live.
    async fn active(&self) -> bool {
        self.0.open != 0
    }
    /// Started.
    async fn started_at(&self) -> DateTime<Utc> {
        from_ms(self.0.started_at)
    }
    /// Last accounting update.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
    /// Ended.
    async fn stopped_at(&self) -> Option<DateTime<Utc>> {
        self.0.stopped_at.map(from_ms)
    }
    /// Octets from the subscriber (upload).
    async fn input_octets(&self) -> i64 {
        self.0.input_octets
    }
    /// Octets to the subscriber (download).
    async fn output_octets(&self) -> i64 {
        self.0.output_octets
    }
    /// Seconds online.
    async fn session_time(&self) -> i64 {
        self.0.session_time
    }
    /// Why it ended (Acct-Terminate-Cause, or Stale / NAS-Reboot when we closed it).
    async fn terminate_cause(&self) -> Option<&str> {
        self.0.terminate_cause.as_deref()
    }
}

/// Traffic and time of one subscription in one billing period.
pub struct UsagePeriod(pub UsageRow);

#[Object]
impl UsagePeriod {
    /// First day of the period (UTC).
    async fn period_start(&self) -> &str {
        &self.0.period_start
    }
    /// First day after the period (UTC).
    async fn period_end(&self) -> &str {
        &self.0.period_end
    }
    /// Octets from the subscriber (upload).
    async fn input_octets(&self) -> i64 {
        self.0.input_octets
    }
    /// Octets to the subscriber (download).
    async fn output_octets(&self) -> i64 {
        self.0.output_octets
    }
    /// Upload plus download: what a data quota counts.
    async fn total_octets(&self) -> i64 {
        self.0.total_octets()
    }
    /// Seconds online: what a time quota counts.
    async fn session_time(&self) -> i64 {
        self.0.session_time
    }
}

/// Outcome of an authentication attempt.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AuthResult {
    /// Access-Accept.
    Accept,
    /// Access-Reject.
    Reject,
}

/// One RADIUS authentication attempt and why it ended as it did.
pub struct AuthLogEntry(pub AuthLogRow);

#[Object]
impl AuthLogEntry {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("AuthLogEntry", self.0.id)
    }
    /// When.
    async fn at(&self) -> DateTime<Utc> {
        from_ms(self.0.at)
    }
    /// The NAS that asked (null if deleted since).
    async fn nas(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Nas>>> {
        load_nas(ctx, Some(self.0.nas_id)).await
    }
    /// User-Name as sent.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Global ID of the matching subscription, if the user exists.
    async fn subscription_id(&self) -> Option<ID> {
        self.0.subscription_id.map(|s| ids::encode("Subscription", s))
    }
    /// PAP, CHAP, MSCHAPV2 or NONE.
    async fn method(&self) -> &str {
        &self.0.method
    }
    /// ACCEPT or REJECT.
    async fn result(&self) -> AuthResult {
        if self.0.result == "ACCEPT" {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }
    /// Why: `ok`, `bad password`, `unknown user`, `subscription suspended`, ...
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Calling-Station-Id (MAC) as sent.
    async fn calling_station_id(&self) -> Option<&str> {
        self.0.calling_station_id.as_deref()
    }
}

/// Filters for `radiusSessions`.
#[derive(InputObject, Default)]
pub struct RadiusSessionFilterInput {
    /// Only live (true) or only finished (false) sessions.
    pub active: Option<bool>,
    /// Only sessions of this subscription.
    pub subscription_id: Option<ID>,
    /// Only sessions reported by this NAS.
    pub nas_id: Option<ID>,
    /// Only this User-Name.
    pub username: Option<String>,
}

/// Filters for `authLog`.
#[derive(InputObject, Default)]
pub struct AuthLogFilterInput {
    /// Only this User-Name.
    pub username: Option<String>,
    /// Only this subscription.
    pub subscription_id: Option<ID>,
    /// Only accepts or only rejects.
    pub result: Option<AuthResult>,
}

/// A new NAS.
#[derive(InputObject)]
pub struct CreateNasInput {
    /// Display name.
    pub name: String,
    /// Source IPv4 address of its RADIUS packets.
    pub ip_address: String,
    /// Shared secret (6-128 printable characters; write-only).
    pub secret: String,
    /// Router kind (default MIKROTIK).
    pub nas_type: Option<NasType>,
    /// CoA/Disconnect port (default 3799).
    pub coa_port: Option<i64>,
    /// Drop Access-Requests without Message-Authenticator (default true).
    pub require_message_authenticator: Option<bool>,
    /// Notes.
    pub description: Option<String>,
}

/// The NAS `id` (through the request's loader), for the types that name one; null if deleted,
/// FORBIDDEN to a role that may not list NAS devices.
pub async fn load_nas(ctx: &Context<'_>, id: Option<i64>) -> async_graphql::Result<Option<Fast<Nas>>> {
    let Some(id) = id else { return Ok(None) };
    Ok(request_loaders(ctx)?.nas.one(id).await?.map(fast(Nas)))
}

/// RADIUS reads.
#[derive(Default)]
pub struct RadiusQuery;

#[Object]
impl RadiusQuery {
    /// The tenant's NAS devices by name.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn nas_devices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Nas>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = nas::list(&db, t, &args).await.gql()?;
        let count = ListCount::new(async move { nas::count(&db, t).await });
        Ok(connection(page, |n| Pos { key: SortKey::T(n.name.clone()), id: n.id, order: None }, Nas, count))
    }

    /// RADIUS sessions, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn radius_sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<RadiusSessionFilterInput>,
    ) -> async_graphql::Result<Conn<RadiusSession>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = SessionFilter {
            open: f.active,
            subscription_id: ids::decode_opt(&f.subscription_id, "Subscription", "filter.subscriptionId")?,
            nas_id: ids::decode_opt(&f.nas_id, "Nas", "filter.nasId")?,
            username: f.username,
        };
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = radius_sessions::list(&db, t, &filter, &args).await.gql()?;
        let count = ListCount::new(async move { radius_sessions::count(&db, t, &filter).await });
        Ok(connection(page, |s| by_id(s.id), RadiusSession, count))
    }

    /// Usage of one subscription per billing period, newest period first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn subscription_usage(
        &self,
        ctx: &Context<'_>,
        subscription_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<UsagePeriod>> {
        let a = root(ctx)?;
        let sub = ids::decode(&subscription_id, "Subscription", "subscriptionId")?;
        let args = page_args(first, after, last, before)?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = usage::list(&db, t, sub, &args).await.gql()?;
        Ok(connection(
            page,
            |u| Pos { key: SortKey::T(u.period_start.clone()), id: u.id, order: None },
            UsagePeriod,
            ListCount::new(async move { usage::count(&db, t, sub).await }),
        ))
    }

    /// The RADIUS auth log, newest first: why a subscriber could or could not connect.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn auth_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AuthLogFilterInput>,
    ) -> async_graphql::Result<Conn<AuthLogEntry>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = AuthLogFilter {
            username: f.username,
            subscription_id: ids::decode_opt(&f.subscription_id, "Subscription", "filter.subscriptionId")?,
            result: f.result.map(|r| if r == AuthResult::Accept { "ACCEPT" } else { "REJECT" }.to_string()),
        };
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = auth_log::list(&db, t, &filter, &args).await.gql()?;
        let count = ListCount::new(async move { auth_log::count(&db, t, &filter).await });
        Ok(connection(page, |e| by_id(e.id), AuthLogEntry, count))
    }
}

/// RADIUS changes.
#[derive(Default)]
pub struct RadiusMutation;

#[Object]
impl RadiusMutation {
    /// Registers a NAS; its packets are accepted from now on (within the NAS cache TTL).
    async fn create_nas(&self, ctx: &Context<'_>, input: CreateNasInput) -> async_graphql::Result<Fast<Nas>> {
        let a = root(ctx)?;
        let p = NasPatch {
            name: Some(input.name),
            ip_address: Some(input.ip_address),
            secret: Some(input.secret),
            nas_type: input.nas_type,
            coa_port: input.coa_port,
            require_message_authenticator: input.require_message_authenticator,
            description: Patch::set_or_clear(input.description),
        };
        isp_core::workflows::nas::create(core(ctx), a, &p).await.gql().map(fast(Nas))
    }

    /// Changes a NAS.
    async fn update_nas(&self, ctx: &Context<'_>, id: ID, input: NasPatch) -> async_graphql::Result<Fast<Nas>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Nas", "id")?;
        isp_core::workflows::nas::update(core(ctx), a, id, &input).await.gql().map(fast(Nas))
    }

    /// Removes a NAS; its past sessions stay. Returns the removed NAS.
    async fn delete_nas(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<Nas>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Nas", "id")?;
        isp_core::workflows::nas::delete(core(ctx), a, id).await.gql().map(fast(Nas))
    }

    /// Asks the NAS to end a live session (a Disconnect-Request delivered by the worker).
    async fn disconnect_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<RadiusSession>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "RadiusSession", "id")?;
        isp_core::workflows::sessions::disconnect(core(ctx), a, id).await.gql().map(fast(RadiusSession))
    }
}
