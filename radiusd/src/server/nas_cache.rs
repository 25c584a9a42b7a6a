//! Source IP to NAS (tenant, decrypted secret, tenant settings), cached for a short time so
//! the hot path does not hit the database or decrypt the secret for every packet. Unknown
//! sources are cached too, so a flood from a stranger costs one query per TTL.

use isp_core::store::nas::{self, Nas};
use isp_core::store::tenants::{self, TenantSettings};
use isp_core::{CoreResult, Ctx};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A registered NAS, ready to use.
#[derive(Debug)]
pub struct NasEntry {
    /// The row.
    pub nas: Nas,
    /// Its shared secret in clear.
    pub secret: Vec<u8>,
    /// Its tenant's RADIUS-relevant settings.
    pub settings: TenantSettings,
    /// Its tenant's time zone: quota periods run on the tenant's local calendar.
    pub timezone: String,
}

/// When an entry was loaded, and the NAS (`None`: no NAS has that address).
type Slot = (Instant, Option<Arc<NasEntry>>);

/// The cache.
pub struct NasCache {
    ttl: Duration,
    map: RwLock<HashMap<IpAddr, Slot>>,
    /// `ctx.nas_generation` when the map was last valid.
    generation: AtomicU64,
}

impl NasCache {
    /// A cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, map: RwLock::new(HashMap::new()), generation: AtomicU64::new(0) }
    }

    /// The NAS for `ip`, or `None` when no tenant registered it.
    pub async fn lookup(&self, ctx: &Ctx, ip: IpAddr) -> CoreResult<Option<Arc<NasEntry>>> {
        let now = Instant::now();
        let ip = canonical(ip);
        // A NAS changed in this process: forget everything (other processes wait for the TTL).
        let generation = ctx.nas_generation.load(Ordering::Acquire);
        if self.generation.swap(generation, Ordering::AcqRel) != generation {
            self.clear();
        }
        if let Some((at, e)) = self.map.read().expect("nas cache lock").get(&ip) {
            if now.duration_since(*at) < self.ttl {
                return Ok(e.clone());
            }
        }
        let entry = match nas::by_ip(&ctx.db, &ip.to_string()).await? {
            Some(n) => {
                let secret = n.secret(&ctx.secrets)?.into_bytes();
                let tenant = tenants::get(&ctx.db, n.tenant_id).await?;
                let (settings, timezone) = (tenant.settings(), tenant.timezone);
                Some(Arc::new(NasEntry { nas: n, secret, settings, timezone }))
            }
            None => None,
        };
        let mut map = self.map.write().expect("nas cache lock");
        if map.len() > 100_000 {
            map.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
        }
        map.insert(ip, (now, entry.clone()));
        Ok(entry)
    }

    /// Drops every entry (after NAS changes in this process).
    pub fn clear(&self) {
        self.map.write().expect("nas cache lock").clear();
    }
}

/// IPv4-mapped IPv6 sources (dual-stack sockets) are looked up as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
