//! The duplicate cache: a retransmitted request (same source, Identifier and Request
//! Authenticator, RFC 2865 §3 / RFC 5080 §2.2.2) gets the reply already sent and is never
//! processed twice. One in flight is silently dropped; its reply is on the way.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Identifies one request from one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestKey {
    /// Source address and port.
    pub source: SocketAddr,
    /// Packet code.
    pub code: u8,
    /// Identifier octet.
    pub identifier: u8,
    /// Request Authenticator.
    pub authenticator: [u8; 16],
}

enum Slot {
    InFlight,
    Replied(Vec<u8>),
}

struct Entry {
    slot: Slot,
    at: Instant,
}

/// What to do with an incoming request.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time: process it, then call [`DuplicateCache::finish`] or [`DuplicateCache::forget`].
    New,
    /// Being processed right now: drop the copy.
    InFlight,
    /// Already answered: send these bytes again.
    Replied(Vec<u8>),
}

/// A bounded, time-limited map from requests to their replies.
pub struct DuplicateCache {
    inner: Mutex<Inner>,
    capacity: usize,
    ttl: Duration,
}

struct Inner {
    map: HashMap<RequestKey, Entry>,
    order: VecDeque<(RequestKey, Instant)>,
}

impl DuplicateCache {
    /// A cache holding at most `capacity` requests for `ttl` each.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner { map: HashMap::with_capacity(capacity.min(65_536)), order: VecDeque::new() }),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// Registers `key` as in flight unless it is known.
    pub fn check(&self, key: RequestKey, now: Instant) -> Seen {
        let mut g = self.inner.lock().expect("dedup lock");
        // Expire from the front: entries are in arrival order.
        while let Some((k, at)) = g.order.front().copied() {
            if now.duration_since(at) < self.ttl && g.map.len() < self.capacity {
                break;
            }
            g.order.pop_front();
            if g.map.get(&k).is_some_and(|e| e.at == at) {
                g.map.remove(&k);
            }
        }
        if let Some(e) = g.map.get(&key) {
            return match &e.slot {
                Slot::InFlight => Seen::InFlight,
                Slot::Replied(b) => Seen::Replied(b.clone()),
            };
        }
        g.map.insert(key, Entry { slot: Slot::InFlight, at: now });
        g.order.push_back((key, now));
        Seen::New
    }

    /// Stores the reply sent for `key`.
    pub fn finish(&self, key: &RequestKey, reply: Vec<u8>) {
        if let Some(e) = self.inner.lock().expect("dedup lock").map.get_mut(key) {
            e.slot = Slot::Replied(reply);
        }
    }

    /// Forgets `key` (no reply was sent), so a retransmission is processed again.
    pub fn forget(&self, key: &RequestKey) {
        self.inner.lock().expect("dedup lock").map.remove(key);
    }

    /// Requests currently remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("dedup lock").map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u8) -> RequestKey {
        RequestKey { source: "127.0.0.1:5000".parse().unwrap(), code: 1, identifier: id, authenticator: [id; 16] }
    }

    #[test]
    fn retransmissions_get_the_same_reply_until_expiry() {
        let c = DuplicateCache::new(2, Duration::from_secs(5));
        let t = Instant::now();
        assert_eq!(c.check(key(1), t), Seen::New);
        assert_eq!(c.check(key(1), t), Seen::InFlight);
        c.finish(&key(1), vec![9]);
        assert_eq!(c.check(key(1), t), Seen::Replied(vec![9]));
        assert_eq!(c.check(key(2), t), Seen::New);
        c.forget(&key(2));
        assert_eq!(c.check(key(2), t), Seen::New);
        // Capacity 2: a third request pushes out the oldest.
        assert_eq!(c.check(key(3), t), Seen::New);
        assert!(c.len() <= 2);
        assert_eq!(c.check(key(3), t + Duration::from_secs(6)), Seen::New);
    }
}
