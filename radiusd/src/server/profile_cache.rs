//! Username to [`AuthProfile`] (subscription, plan, open sessions, newest usage), cached so
//! an Access-Request for a known subscriber is decided without a database round trip.
//!
//! Staleness is bounded two ways:
//! - In this process, at once: every lookup first drains the event bus (`ctx.events`), so a
//!   subscription or plan change published before the request arrived evicts its entries
//!   before the request is decided; accounting in this process evicts the subscriptions it
//!   touched after each commit; Accounting-On/Off and the stale sweep clear everything. A
//!   lost event (the bus lagged) clears everything too.
//! - Across processes (another `isp api` or `isp radiusd` on the same PostgreSQL): an entry is
//!   used for at most the TTL (`radius.nas_cache_ttl_secs`, default 10 s) after it was read.
//!
//! Unknown usernames are not cached, so a subscription created elsewhere works at once.
//!
//! So that a busy subscriber is not read again on the hot path every TTL, [`ProfileCache::warm`]
//! fills the cache in pages at start and [`ProfileCache::refresh`] re-reads, a few hundred per
//! statement, the entries used since they were read that are past three quarters of their TTL.
//! Each refresh is a new read, so the bound above still holds.

use isp_core::events::{Event, EventKind};
use isp_core::store::radius_sessions::{self, AuthProfile, KeyedProfile};
use isp_core::{CoreResult, Ctx};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::TryRecvError};

/// Most subscribers remembered; past this, expired entries go first, then everything.
pub const CAPACITY: usize = 500_000;

struct Slot {
    at: Instant,
    profile: Arc<AuthProfile>,
    /// Whether a request used it since it was read (only those are refreshed).
    used: AtomicBool,
}

/// Subscriptions per refresh statement. On SQLite the read runs on the calling runtime
/// thread, so a statement stays well under a millisecond and requests queued behind it
/// barely wait.
const REFRESH_CHUNK: usize = 64;
/// Subscriptions per page of the start-up walk (same reason).
const WARM_PAGE: i64 = 250;

/// What an eviction covered, remembered so a load that raced it is not stored.
#[derive(Clone, Copy)]
enum Evicted {
    Sub(i64),
    Plan(i64),
    All,
}

/// Evictions remembered for racing loads; a load older than this many evictions is not stored.
const RECENT: usize = 4096;

#[derive(Default)]
struct Inner {
    /// tenant -> username -> profile.
    map: HashMap<i64, HashMap<String, Slot>>,
    /// subscription id -> (tenant, username), to evict by id.
    by_sub: HashMap<i64, (i64, String)>,
    len: usize,
    /// Evictions so far.
    epoch: u64,
    /// The last [`RECENT`] evictions, oldest first.
    recent: std::collections::VecDeque<Evicted>,
}

impl Inner {
    fn note(&mut self, e: Evicted) {
        self.epoch += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(e);
    }

    /// Whether a profile of `sub` on `plan` read when the epoch was `since` may be stored.
    fn still_valid(&self, since: u64, sub: i64, plan: i64) -> bool {
        let newer = (self.epoch - since) as usize;
        if newer > self.recent.len() {
            return false;
        }
        self.recent.iter().rev().take(newer).all(|e| match *e {
            Evicted::Sub(s) => s != sub,
            Evicted::Plan(p) => p != plan,
            Evicted::All => false,
        })
    }

    fn evict_sub(&mut self, sub: i64) {
        self.note(Evicted::Sub(sub));
        if let Some((tenant, username)) = self.by_sub.remove(&sub) {
            if let Some(m) = self.map.get_mut(&tenant) {
                if m.remove(&username).is_some() {
                    self.len -= 1;
                }
            }
        }
    }

    fn evict_plan(&mut self, tenant: i64, plan: i64) {
        self.note(Evicted::Plan(plan));
        let Some(m) = self.map.get_mut(&tenant) else { return };
        let before = m.len();
        let by_sub = &mut self.by_sub;
        m.retain(|_, s| {
            let keep = s.profile.plan.id != plan;
            if !keep {
                by_sub.remove(&s.profile.s_id);
            }
            keep
        });
        self.len -= before - m.len();
    }

    fn clear(&mut self) {
        self.note(Evicted::All);
        self.map.clear();
        self.by_sub.clear();
        self.len = 0;
    }
}

/// The cache; one per server.
pub struct ProfileCache {
    ttl: Duration,
    inner: RwLock<Inner>,
    events: Mutex<broadcast::Receiver<Event>>,
}

impl ProfileCache {
    /// A cache whose entries live for `ttl`, invalidated by the events of `ctx`.
    pub fn new(ctx: &Ctx, ttl: Duration) -> Self {
        Self { ttl, inner: RwLock::new(Inner::default()), events: Mutex::new(ctx.events.subscribe()) }
    }

    /// Applies the changes published since the last call.
    fn apply_events(&self) {
        let mut rx = self.events.lock().expect("profile events lock");
        loop {
            match rx.try_recv() {
                Ok(e) => {
                    let mut g = self.inner.write().expect("profile cache lock");
                    match e.kind {
                        EventKind::SubscriptionChanged => g.evict_sub(e.object_id),
                        EventKind::PlanChanged => g.evict_plan(e.tenant_id, e.object_id),
                        // An import updates or (rolled back) deletes many subscriptions at once,
                        // without an event each: forget everything.
                        EventKind::ImportChanged => g.clear(),
                        // Nothing a profile is made of.
                        EventKind::CustomerChanged
                        | EventKind::PaymentReceived
                        | EventKind::DeviceJobDead
                        | EventKind::TicketChanged
                        | EventKind::TicketEscalated
                        | EventKind::NotificationFailed => {}
                    }
                }
                Err(TryRecvError::Lagged(_)) => self.clear(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    /// The profile of `username` in `tenant_id`, from the cache or the database.
    pub async fn get(&self, ctx: &Ctx, tenant_id: i64, username: &str) -> CoreResult<Option<Arc<AuthProfile>>> {
        self.apply_events();
        let now = Instant::now();
        let epoch = {
            let g = self.inner.read().expect("profile cache lock");
            if let Some(s) = g.map.get(&tenant_id).and_then(|m| m.get(username)) {
                if now.duration_since(s.at) < self.ttl {
                    if !s.used.load(Ordering::Relaxed) {
                        s.used.store(true, Ordering::Relaxed);
                    }
                    return Ok(Some(s.profile.clone()));
                }
            }
            g.epoch
        };
        let Some(profile) = radius_sessions::auth_profile(&ctx.db, tenant_id, username).await? else {
            return Ok(None);
        };
        let profile = Arc::new(profile);
        let mut g = self.inner.write().expect("profile cache lock");
        self.store(&mut g, epoch, now, tenant_id, username, profile.clone(), true);
        Ok(Some(profile))
    }

    /// Stores `profile`, read at `at` when the epoch was `epoch`, unless an eviction since
    /// covered it.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        g: &mut Inner,
        epoch: u64,
        at: Instant,
        tenant_id: i64,
        username: &str,
        profile: Arc<AuthProfile>,
        used: bool,
    ) {
        if !g.still_valid(epoch, profile.s_id, profile.plan.id) {
            return;
        }
        if g.len >= CAPACITY {
            g.map.values_mut().for_each(|m| m.retain(|_, s| at.duration_since(s.at) < self.ttl));
            let len: usize = g.map.values().map(HashMap::len).sum();
            g.len = len;
            if g.len >= CAPACITY {
                g.clear();
            }
            let Inner { map, by_sub, .. } = &mut *g;
            by_sub.retain(|_, (t, u)| map.get(t).is_some_and(|m| m.contains_key(u.as_str())));
        }
        // A renamed subscription: forget its old name.
        if let Some((t, old)) = g.by_sub.get(&profile.s_id).cloned() {
            if (t, old.as_str()) != (tenant_id, username) {
                g.evict_sub(profile.s_id);
            }
        }
        let s_id = profile.s_id;
        let slot = Slot { at, profile, used: AtomicBool::new(used) };
        if g.map.entry(tenant_id).or_default().insert(username.to_string(), slot).is_none() {
            g.len += 1;
        }
        g.by_sub.insert(s_id, (tenant_id, username.to_string()));
    }

    fn store_all(&self, epoch: u64, at: Instant, rows: Vec<KeyedProfile>) -> usize {
        let mut g = self.inner.write().expect("profile cache lock");
        let n = rows.len();
        for r in rows {
            self.store(&mut g, epoch, at, r.k_tenant_id, &r.k_username, Arc::new(r.profile), false);
        }
        n
    }

    /// Reads every subscriber's profile into the cache, a page at a time, up to the capacity;
    /// returns how many were read.
    pub async fn warm(&self, ctx: &Ctx) -> CoreResult<usize> {
        let (mut after, mut total) = (0, 0);
        while total < CAPACITY {
            self.apply_events();
            let (epoch, at) = (self.inner.read().expect("profile cache lock").epoch, Instant::now());
            let rows = radius_sessions::auth_profiles_after(&ctx.db, after, WARM_PAGE).await?;
            let Some(last) = rows.last() else { break };
            after = last.profile.s_id;
            let full = rows.len() as i64 == WARM_PAGE;
            total += self.store_all(epoch, at, rows);
            if !full {
                break;
            }
            // Requests go first: the walk only saves them work.
            tokio::task::yield_now().await;
        }
        Ok(total)
    }

    /// Re-reads, in bulk, the entries used since they were read that are past three quarters
    /// of their TTL (about as often as requests would miss them); returns how many were read.
    pub async fn refresh(&self, ctx: &Ctx) -> CoreResult<usize> {
        self.apply_events();
        let now = Instant::now();
        let mut due: HashMap<i64, Vec<i64>> = HashMap::new();
        let epoch = {
            let g = self.inner.read().expect("profile cache lock");
            for (tenant, m) in &g.map {
                for s in m.values() {
                    if s.used.load(Ordering::Relaxed) && now.duration_since(s.at) >= self.ttl * 3 / 4 {
                        due.entry(*tenant).or_default().push(s.profile.s_id);
                    }
                }
            }
            g.epoch
        };
        let mut total = 0;
        let mut epoch_at = (epoch, now);
        for (tenant, ids) in due {
            for chunk in ids.chunks(REFRESH_CHUNK) {
                let (epoch, at) = epoch_at;
                let rows = radius_sessions::auth_profiles(&ctx.db, tenant, chunk).await?;
                total += self.store_all(epoch, at, rows);
                tokio::task::yield_now().await;
                self.apply_events();
                epoch_at = (self.inner.read().expect("profile cache lock").epoch, Instant::now());
            }
        }
        Ok(total)
    }

    /// Forgets subscription `sub` (its sessions or usage changed).
    pub fn evict_subscription(&self, sub: i64) {
        self.inner.write().expect("profile cache lock").evict_sub(sub);
    }

    /// Forgets several subscriptions at once.
    pub fn evict_subscriptions(&self, subs: impl IntoIterator<Item = i64>) {
        let mut g = self.inner.write().expect("profile cache lock");
        for s in subs {
            g.evict_sub(s);
        }
    }

    /// Forgets everything (sessions closed in bulk).
    pub fn clear(&self) {
        self.inner.write().expect("profile cache lock").clear();
    }

    /// Subscribers remembered.
    pub fn len(&self) -> usize {
        self.inner.read().expect("profile cache lock").len
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isp_core::clock::SystemClock;
    use isp_core::config::Config;
    use isp_core::db::Sql;

    async fn demo_ctx(name: &str) -> (Ctx, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("isp-profile-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = Config {
            data_dir: dir.clone(),
            database_url: std::env::var("TEST_DATABASE_URL").unwrap_or_default(),
            ..Config::default()
        };
        cfg.auth.argon2_memory_kib = 64;
        cfg.auth.argon2_iterations = 1;
        let ctx = Ctx::open(cfg, Arc::new(SystemClock)).await.unwrap();
        (ctx, dir)
    }

    #[tokio::test]
    async fn warm_fills_and_refresh_rereads_only_entries_in_use() {
        let (ctx, dir) = demo_ctx("warm").await;
        if !ctx.config.database_url.is_empty() {
            // The demo tenant is one per database; this test needs a fresh one.
            return;
        }
        isp_core::seed::demo(&ctx).await.unwrap();
        let (tenant,): (i64,) = Sql::new("SELECT tenant_id FROM subscriptions WHERE username = 'demo-capped'")
            .fetch_optional(&ctx.db)
            .await
            .unwrap()
            .unwrap();
        let cache = ProfileCache::new(&ctx, Duration::from_millis(400));
        let warmed = cache.warm(&ctx).await.unwrap();
        assert!(warmed >= 2, "{warmed}");
        assert_eq!(cache.len(), warmed);

        // Served from the cache: no statement.
        let before = ctx.db.statements();
        let p = cache.get(&ctx, tenant, "demo-capped").await.unwrap().expect("demo-capped");
        assert_eq!(ctx.db.statements(), before);

        // Past 3/4 of the TTL only the entry a request used is read again, in one statement.
        tokio::time::sleep(Duration::from_millis(320)).await;
        let before = ctx.db.statements();
        assert_eq!(cache.refresh(&ctx).await.unwrap(), 1);
        assert_eq!(ctx.db.statements(), before + 1);
        // Which keeps it past its first TTL, while the unused ones expire.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = ctx.db.statements();
        let again = cache.get(&ctx, tenant, "demo-capped").await.unwrap().unwrap();
        assert_eq!(again.s_id, p.s_id);
        assert_eq!(ctx.db.statements(), before);
        cache.get(&ctx, tenant, "demo-suspended").await.unwrap().unwrap();
        assert_eq!(ctx.db.statements(), before + 1);

        // A refresh does not bring back an evicted entry.
        cache.evict_subscription(p.s_id);
        assert_eq!(cache.refresh(&ctx).await.unwrap(), 0);
        ctx.db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
