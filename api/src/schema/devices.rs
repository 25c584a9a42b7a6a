//! Network devices in the graph (routers and OLTs the worker pushes suspensions to; the
//! password is write-only) and the device-job outbox with its dead letters.

use super::radius::Nas;
use super::{connection, core, Conn, ListCount};
use crate::access::root;
use crate::error::{found, Gql};
use crate::fast::{fast, Fast};
use crate::ids::{self, page_args};
use crate::schema::request_loaders;
use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use isp_core::clock::from_ms;
use isp_core::patch::Patch;
use isp_core::store::devices::{self, Device as DeviceRow, DeviceKind, Transport};
use isp_core::store::jobs::{self, DeviceJob as JobRow, JobKind, JobStatus};
use isp_core::store::page::{Cursor as Pos, SortKey};
use isp_core::workflows::devices::DevicePatch;

/// A router or OLT the system pushes suspensions to.
pub struct Device(pub DeviceRow);

#[Object]
impl Device {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Device", self.0.id)
    }
    /// Name, unique in the tenant.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What it is.
    async fn kind(&self) -> DeviceKind {
        self.0.kind
    }
    /// Host name or IP address.
    async fn host(&self) -> &str {
        &self.0.host
    }
    /// TCP port.
    async fn port(&self) -> i64 {
        self.0.port
    }
    /// How it is reached.
    async fn transport(&self) -> Transport {
        self.0.transport
    }
    /// Pinned SHA-256 fingerprint (lower-case hex): the router's API-SSL certificate, or the
    /// OLT's SSH host key (SHA-256 of the key blob, the hash `ssh-keygen -l -E sha256` shows).
    async fn tls_fingerprint(&self) -> Option<&str> {
        self.0.tls_fingerprint.as_deref()
    }
    /// Login name.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Whether a password is stored (the password itself is write-only).
    async fn has_password(&self) -> bool {
        !self.0.password_enc.is_empty()
    }
    /// The NAS record of the same router, if linked (null if deleted since).
    async fn nas(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Nas>>> {
        super::radius::load_nas(ctx, self.0.nas_id).await
    }
    /// Whether jobs are sent to it.
    async fn enabled(&self) -> bool {
        self.0.is_enabled()
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

/// One change a device must receive (RADIUS Disconnect/CoA or a router/OLT suspension),
/// delivered by the worker with retries; DEAD once it gave up.
pub struct DeviceJob(pub JobRow);

#[Object]
impl DeviceJob {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("DeviceJob", self.0.id)
    }
    /// What it asks for.
    async fn kind(&self) -> JobKind {
        self.0.kind
    }
    /// Where it is in its life.
    async fn status(&self) -> JobStatus {
        self.0.status
    }
    /// Delivery attempts so far.
    async fn attempts(&self) -> i64 {
        self.0.attempts
    }
    /// Error of the last failed attempt.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When the next attempt is due (PENDING jobs).
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        from_ms(self.0.next_attempt_at)
    }
    /// What the job carries (JSON: the session or the subscription and device operation;
    /// never credentials).
    async fn payload(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(serde_json::from_str(&self.0.payload).unwrap_or(serde_json::Value::Null))
    }
    /// The router or OLT (device jobs; null if deleted since).
    async fn device(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Device>>> {
        let Some(id) = self.0.device_id else { return Ok(None) };
        Ok(request_loaders(ctx)?.devices.one(id).await?.map(fast(Device)))
    }
    /// The NAS (RADIUS jobs; null if deleted since).
    async fn nas(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<Nas>>> {
        super::radius::load_nas(ctx, self.0.nas_id).await
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

/// A new device.
#[derive(InputObject)]
pub struct CreateDeviceInput {
    /// Name, unique in the tenant.
    pub name: String,
    /// What it is.
    pub kind: DeviceKind,
    /// Host name or IP address.
    pub host: String,
    /// TCP port (default: 8728 API, 8729 API_SSL, 23 TELNET, 22 SSH).
    pub port: Option<i64>,
    /// MikroTik: API (default) or API_SSL; OLTs: TELNET (default) or SSH.
    pub transport: Option<Transport>,
    /// SHA-256 fingerprint to pin, for API_SSL (certificate) and SSH (host key); 64 hex digits,
    /// colons allowed. Without one an SSH host key is accepted and logged on first use.
    pub tls_fingerprint: Option<String>,
    /// Login name.
    pub username: String,
    /// Password (write-only).
    pub password: String,
    /// The NAS record of the same router.
    pub nas_id: Option<ID>,
    /// Whether jobs are sent to it (default true).
    pub enabled: Option<bool>,
}

/// Changes to a device; omitted fields stay as they are, null clears.
#[derive(InputObject, Default)]
pub struct UpdateDeviceInput {
    /// Name.
    pub name: Option<String>,
    /// Kind (refused while subscriptions rely on it being a router or an OLT).
    pub kind: Option<DeviceKind>,
    /// Host name or IP address.
    pub host: Option<String>,
    /// TCP port (a port left at the old transport's default follows a transport change).
    pub port: Option<i64>,
    /// Transport.
    pub transport: Option<Transport>,
    /// API-SSL certificate or SSH host key fingerprint to pin (null clears).
    pub tls_fingerprint: Patch<String>,
    /// Login name.
    pub username: Option<String>,
    /// New password (write-only).
    pub password: Option<String>,
    /// Linked NAS (null clears).
    pub nas_id: Patch<ID>,
    /// Whether jobs are sent to it.
    pub enabled: Option<bool>,
}

/// Device reads.
#[derive(Default)]
pub struct DeviceQuery;

#[Object]
impl DeviceQuery {
    /// The tenant's routers and OLTs by name, optionally of one kind.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn devices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        kind: Option<DeviceKind>,
    ) -> async_graphql::Result<Conn<Device>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = devices::list(&db, t, kind, &args).await.gql()?;
        let count = ListCount::new(async move { devices::count(&db, t, kind).await });
        Ok(connection(page, |d| Pos { key: SortKey::T(d.name.clone()), id: d.id, order: None }, Device, count))
    }

    /// One device; null when not in the caller's tenant.
    async fn device(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Fast<Device>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Device", "id")?;
        Ok(found(devices::get(&core(ctx).db, a.tenant_id, id).await)?.map(fast(Device)))
    }

    /// The device-job outbox, newest first; `status: DEAD` lists the dead letters.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn device_jobs(
        &self,
        ctx: &Context<'_>,
        status: Option<JobStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<DeviceJob>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = jobs::list(&db, t, status, &args).await.gql()?;
        let count = ListCount::new(async move { jobs::count(&db, t, status).await });
        Ok(connection(page, |j| Pos { key: SortKey::I(j.id), id: j.id, order: None }, DeviceJob, count))
    }
}

/// Device changes.
#[derive(Default)]
pub struct DeviceMutation;

#[Object]
impl DeviceMutation {
    /// Registers a router or OLT.
    async fn create_device(&self, ctx: &Context<'_>, input: CreateDeviceInput) -> async_graphql::Result<Fast<Device>> {
        let a = root(ctx)?;
        let p = DevicePatch {
            name: Some(input.name),
            kind: Some(input.kind),
            host: Some(input.host),
            port: input.port,
            transport: input.transport,
            tls_fingerprint: Patch::set_or_clear(input.tls_fingerprint),
            username: Some(input.username),
            password: Some(input.password),
            nas_id: Patch::set_or_clear(ids::decode_opt(&input.nas_id, "Nas", "nasId")?),
            enabled: input.enabled,
        };
        isp_core::workflows::devices::create(core(ctx), a, &p).await.gql().map(fast(Device))
    }

    /// Changes a device.
    async fn update_device(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDeviceInput,
    ) -> async_graphql::Result<Fast<Device>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Device", "id")?;
        let nas_id = input.nas_id.try_map(|n| ids::decode(&n, "Nas", "nasId"))?;
        let p = DevicePatch {
            name: input.name,
            kind: input.kind,
            host: input.host,
            port: input.port,
            transport: input.transport,
            tls_fingerprint: input.tls_fingerprint,
            username: input.username,
            password: input.password,
            nas_id,
            enabled: input.enabled,
        };
        isp_core::workflows::devices::update(core(ctx), a, id, &p).await.gql().map(fast(Device))
    }

    /// Removes a device; CONFLICT while it has pending jobs or serves a subscription that is
    /// not cancelled (disable it instead). Returns the removed device.
    async fn delete_device(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<Device>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Device", "id")?;
        isp_core::workflows::devices::delete(core(ctx), a, id).await.gql().map(fast(Device))
    }

    /// Puts a dead job back in the queue with its attempts reset; CONFLICT unless it is DEAD.
    async fn retry_device_job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<DeviceJob>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "DeviceJob", "id")?;
        isp_core::workflows::jobs::retry(core(ctx), a, id).await.gql().map(fast(DeviceJob))
    }
}
