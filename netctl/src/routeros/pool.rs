//! A small pool of logged-in API connections per router, for the device-job worker: at most
//! N connections per device (RouterOS allows few API sessions, and a router works through a
//! connection's commands one at a time anyway), opened on first use within a connect timeout,
//! reused while alive, replaced when dead, closed after sitting idle.
//!
//! [`RouterPool::run`] runs an operation on a pooled connection and, when that connection
//! turns out to be dead (the router rebooted, a NAT dropped the flow), once more on a fresh
//! one: the operations in [`super::ops`] are idempotent, so running one twice is safe.
//!
//! ```no_run
//! # async fn suspend() -> Result<(), isp_netctl::routeros::OpError> {
//! use isp_netctl::routeros::{ops, Device, PoolConfig, RouterPool};
//! let pool = RouterPool::new(PoolConfig::default());
//! let router = Device::plain("10.0.0.1", 8728, "billing", "api-password");
//! let change = pool.run(&router, |c| async move { ops::ppp_secret_set_disabled(&*c, "alice", true).await }).await?;
//! pool.run(&router, |c| async move { ops::ppp_active_remove(&*c, "alice").await }).await?;
//! # let _ = change; Ok(()) }
//! ```
//!
//! A failed operation's [`OpError::kind`] says what to do next: retry later
//! ([`super::ErrorKind::Unreachable`]), report the device's credentials, or give up.

use super::client::{Client, ClientError, Response, RouterApi};
use super::ops::OpError;
use super::sentence::Command;
use super::tls::Fingerprint;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// What identifies one pool of connections: where the router is, how it is reached and as whom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceKey {
    /// Host name or IP address.
    pub host: String,
    /// API port (8728 plain, 8729 API-SSL).
    pub port: u16,
    /// API-SSL with this pinned certificate fingerprint; `None` for plain API.
    pub tls: Option<Fingerprint>,
    /// API user name.
    pub username: String,
}

/// A router to connect to: its key and the API password (used for new connections only, so
/// a changed password takes effect as connections are replaced).
#[derive(Clone)]
pub struct Device {
    /// Which pool the connections go to.
    pub key: DeviceKey,
    /// API password.
    pub password: String,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device").field("key", &self.key).field("password", &"<hidden>").finish()
    }
}

impl Device {
    /// A router reached over plain API.
    pub fn plain(host: impl Into<String>, port: u16, username: impl Into<String>, password: impl Into<String>) -> Self {
        let key = DeviceKey { host: host.into(), port, tls: None, username: username.into() };
        Self { key, password: password.into() }
    }

    /// A router reached over API-SSL, accepting only the certificate with fingerprint `pin`.
    pub fn tls(
        host: impl Into<String>,
        port: u16,
        pin: Fingerprint,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        let key = DeviceKey { host: host.into(), port, tls: Some(pin), username: username.into() };
        Self { key, password: password.into() }
    }
}

/// Pool limits and timeouts.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Connections per device, in use and idle together.
    pub max_per_device: usize,
    /// Time allowed to connect, finish the TLS handshake and log in.
    pub connect_timeout: Duration,
    /// Time allowed for each command.
    pub command_timeout: Duration,
    /// An idle connection is closed after this long.
    pub idle_timeout: Duration,
    /// Time to wait for a connection while all of a device's are busy.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_per_device: 2,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// A logged-in connection, plain or API-SSL.
pub enum RouterConn {
    /// Plain API.
    Plain(Client<TcpStream>),
    /// API-SSL.
    Tls(Client<TlsStream<TcpStream>>),
}

impl RouterConn {
    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        match self {
            RouterConn::Plain(c) => c.is_closed(),
            RouterConn::Tls(c) => c.is_closed(),
        }
    }
}

impl RouterApi for RouterConn {
    async fn run(&self, cmd: Command) -> Result<Response, ClientError> {
        match self {
            RouterConn::Plain(c) => c.run(cmd).await,
            RouterConn::Tls(c) => c.run(cmd).await,
        }
    }
}

/// Connection counts of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections handed out now.
    pub in_use: usize,
    /// Open connections waiting to be reused.
    pub idle: usize,
}

/// Connections to many routers, at most [`PoolConfig::max_per_device`] each; cheap to clone.
#[derive(Clone)]
pub struct RouterPool {
    inner: Arc<Inner>,
}

struct Inner {
    config: PoolConfig,
    devices: Mutex<HashMap<DeviceKey, Arc<Slot>>>,
}

/// One device's connections: a permit per connection handed out, and the idle ones.
struct Slot {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<(Arc<RouterConn>, Instant)>>,
}

impl Slot {
    fn take_idle(&self, idle_timeout: Duration) -> Option<Arc<RouterConn>> {
        let mut idle = self.idle.lock().expect("idle list poisoned");
        // Most recently used first: the oldest ones are then the ones that age out.
        while let Some((conn, since)) = idle.pop() {
            if !conn.is_closed() && since.elapsed() < idle_timeout {
                return Some(conn);
            }
        }
        None
    }

    fn reap(&self, idle_timeout: Duration) -> usize {
        let mut idle = self.idle.lock().expect("idle list poisoned");
        let before = idle.len();
        idle.retain(|(conn, since)| !conn.is_closed() && since.elapsed() < idle_timeout);
        before - idle.len()
    }
}

/// A connection handed out by [`RouterPool::get`]; it goes back to the pool when dropped,
/// unless it closed or [`PooledConn::discard`] was called.
pub struct PooledConn {
    conn: Arc<RouterConn>,
    slot: Arc<Slot>,
    reused: bool,
    broken: bool,
    // Released after `drop` has put the connection back, so the count never overshoots.
    _permit: OwnedSemaphorePermit,
}

impl PooledConn {
    /// Whether this connection was used before (and so may have died unnoticed).
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Closes the connection instead of returning it, e.g. after a timeout left it in doubt.
    pub fn discard(mut self) {
        self.broken = true;
    }

    /// A shared handle to the connection, for work that must own it.
    pub fn handle(&self) -> Arc<RouterConn> {
        self.conn.clone()
    }
}

impl std::ops::Deref for PooledConn {
    type Target = RouterConn;

    fn deref(&self) -> &RouterConn {
        &self.conn
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if !self.broken && !self.conn.is_closed() {
            self.slot.idle.lock().expect("idle list poisoned").push((self.conn.clone(), Instant::now()));
        }
    }
}

impl RouterPool {
    /// An empty pool. Called inside a Tokio runtime it also starts a task that closes idle
    /// connections (it ends with the pool); otherwise they are closed when next looked at.
    pub fn new(config: PoolConfig) -> Self {
        let inner = Arc::new(Inner { config, devices: Mutex::default() });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let every = (inner.config.idle_timeout / 2).max(Duration::from_millis(10));
            rt.spawn(reaper(Arc::downgrade(&inner), every));
        }
        Self { inner }
    }

    /// The pool's settings.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// A connection to `device`: an idle one if there is one alive, else a new one; waits up
    /// to [`PoolConfig::acquire_timeout`] while the device's connections are all in use.
    pub async fn get(&self, device: &Device) -> Result<PooledConn, OpError> {
        self.checkout(device, false).await
    }

    /// Runs `op` on a connection to `device`. When the connection was a reused one and turns
    /// out to be dead, the device's other idle connections are closed and `op` runs once
    /// more on a fresh connection; so `op` must be idempotent. A timed-out connection is
    /// closed, not reused, and not retried (the device is slow or unreachable: the caller
    /// retries later).
    pub async fn run<T, F, Fut>(&self, device: &Device, mut op: F) -> Result<T, OpError>
    where
        F: FnMut(Arc<RouterConn>) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let mut conn = self.get(device).await?;
        let err = match op(conn.handle()).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !doubtful(&err) {
            return Err(err);
        }
        conn.broken = true;
        let reused = conn.reused;
        drop(conn);
        if !(reused && err.is_connection_lost()) {
            return Err(err);
        }
        tracing::debug!(device = %device.key.host, error = %err, "pooled RouterOS connection was dead; retrying on a new one");
        let mut fresh = self.checkout(device, true).await?;
        let result = op(fresh.handle()).await;
        if result.as_ref().is_err_and(doubtful) {
            fresh.broken = true;
        }
        result
    }

    /// Connection counts of one device.
    pub fn stats(&self, key: &DeviceKey) -> PoolStats {
        let Some(slot) = self.inner.devices.lock().expect("pool map poisoned").get(key).cloned() else {
            return PoolStats::default();
        };
        let idle = slot.idle.lock().expect("idle list poisoned").len();
        PoolStats { in_use: self.inner.config.max_per_device - slot.permits.available_permits(), idle }
    }

    /// Closes idle connections that are dead or older than [`PoolConfig::idle_timeout`];
    /// returns how many. The pool's own task does this periodically.
    pub fn close_idle(&self) -> usize {
        self.inner.close_idle()
    }

    fn slot(&self, key: &DeviceKey) -> Arc<Slot> {
        let mut devices = self.inner.devices.lock().expect("pool map poisoned");
        devices
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    permits: Arc::new(Semaphore::new(self.inner.config.max_per_device)),
                    idle: Mutex::default(),
                })
            })
            .clone()
    }

    async fn checkout(&self, device: &Device, fresh: bool) -> Result<PooledConn, OpError> {
        let config = &self.inner.config;
        let slot = self.slot(&device.key);
        let permit = tokio::time::timeout(config.acquire_timeout, slot.permits.clone().acquire_owned())
            .await
            .map_err(|_| OpError::PoolBusy(config.acquire_timeout))?
            .expect("the pool never closes its semaphores");
        if fresh {
            // They predate whatever killed the last one; dropping them also keeps the count.
            slot.idle.lock().expect("idle list poisoned").clear();
        } else if let Some(conn) = slot.take_idle(config.idle_timeout) {
            return Ok(PooledConn { conn, slot, reused: true, broken: false, _permit: permit });
        }
        let conn = Arc::new(self.connect(device).await?);
        Ok(PooledConn { conn, slot, reused: false, broken: false, _permit: permit })
    }

    async fn connect(&self, device: &Device) -> Result<RouterConn, ClientError> {
        let DeviceKey { host, port, tls, username } = &device.key;
        let (addr, t) = ((host.as_str(), *port), self.inner.config.command_timeout);
        let connect = async {
            match tls {
                None => Client::connect(addr, username, &device.password, t).await.map(RouterConn::Plain),
                Some(pin) => Client::connect_tls(addr, *pin, username, &device.password, t).await.map(RouterConn::Tls),
            }
        };
        let limit = self.inner.config.connect_timeout;
        let conn = tokio::time::timeout(limit, connect).await.map_err(|_| ClientError::Timeout(limit))??;
        tracing::debug!(device = %host, port, "connected to RouterOS API");
        Ok(conn)
    }
}

impl Inner {
    fn close_idle(&self) -> usize {
        let slots: Vec<_> = self.devices.lock().expect("pool map poisoned").values().cloned().collect();
        slots.iter().map(|s| s.reap(self.config.idle_timeout)).sum()
    }
}

/// Whether an error leaves the connection in doubt, so it must not be reused.
fn doubtful(e: &OpError) -> bool {
    e.is_connection_lost() || matches!(e, OpError::Client(ClientError::Timeout(_)))
}

async fn reaper(pool: Weak<Inner>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = pool.upgrade() else { return };
        inner.close_idle();
    }
}
