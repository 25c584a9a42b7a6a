//! The connection pool against the simulator: reuse, the per-device limit, dead connections
//! replaced (transparently once), a device going down and up, credentials, timeouts.

use super::client::{ClientError, ErrorKind};
use super::ops::{self, Change, OpError};
use super::pool::{Device, PoolConfig, RouterConn, RouterPool};
use super::sim::RouterSim;
use super::tls::Fingerprint;
use std::sync::Arc;
use std::time::Duration;

fn config() -> PoolConfig {
    PoolConfig {
        max_per_device: 2,
        connect_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(60),
        acquire_timeout: Duration::from_secs(5),
    }
}

fn device(sim: &RouterSim, password: &str) -> Device {
    Device::plain("127.0.0.1", sim.addr().port(), "admin", password)
}

async fn suspend(pool: &RouterPool, dev: &Device, name: &str) -> Result<Change, OpError> {
    pool.run(dev, |c: Arc<RouterConn>| async move { ops::ppp_secret_set_disabled(&*c, name, true).await }).await
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn sequential_operations_reuse_one_connection() {
    let sim = RouterSim::start("admin", "secret").await;
    for i in 0..20 {
        sim.add_ppp_secret(&format!("user{i}"), "pw", "default");
    }
    let pool = RouterPool::new(config());
    let dev = device(&sim, "secret");
    for i in 0..20 {
        assert_eq!(suspend(&pool, &dev, &format!("user{i}")).await.unwrap(), Change::Applied);
    }
    assert_eq!(sim.connections_accepted(), 1);
    assert_eq!(sim.logins(), 1);
    let stats = pool.stats(&dev.key);
    assert_eq!((stats.in_use, stats.idle), (0, 1));
    assert!(sim.state().ppp_secrets.iter().all(|r| r["disabled"] == "true"));
}

#[tokio::test]
async fn concurrent_operations_never_exceed_the_device_limit() {
    let sim = RouterSim::start("admin", "secret").await;
    for i in 0..16 {
        sim.add_ppp_secret(&format!("user{i}"), "pw", "default");
    }
    let pool = RouterPool::new(config());
    let dev = device(&sim, "secret");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (pool, dev) = (pool.clone(), dev.clone());
            tokio::spawn(async move {
                pool.run(&dev, |c| async move {
                    let name = format!("user{i}");
                    let change = ops::ppp_secret_set_disabled(&*c, &name, true).await?;
                    // Hold the connection a while so the tasks really compete for it.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(change)
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Change::Applied);
    }
    assert_eq!(sim.max_open_connections(), 2);
    assert_eq!(sim.connections_accepted(), 2);
    assert_eq!(pool.stats(&dev.key).idle, 2);
    assert_eq!(sim.mutations(), 16);
}

#[tokio::test]
async fn pool_recovers_after_the_router_drops_every_connection() {
    let sim = RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "default");
    sim.add_ppp_secret("bob", "pw", "default");
    let pool = RouterPool::new(config());
    let dev = device(&sim, "secret");
    suspend(&pool, &dev, "alice").await.unwrap();
    sim.drop_connections();
    eventually("the simulator to close the connection", || sim.open_connections() == 0).await;
    assert_eq!(suspend(&pool, &dev, "bob").await.unwrap(), Change::Applied);
    assert_eq!(sim.connections_accepted(), 2);
    assert_eq!(pool.stats(&dev.key).idle, 1);
}

/// The pooled connection dies under the command (the router rebooted unnoticed): the
/// operation is run once more on a fresh connection and the caller sees only success.
#[tokio::test]
async fn dead_pooled_connection_is_retried_once_on_a_fresh_one() {
    let sim = RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "default");
    sim.add_ppp_secret("bob", "pw", "default");
    let pool = RouterPool::new(config());
    let dev = device(&sim, "secret");
    suspend(&pool, &dev, "alice").await.unwrap();

    sim.fail_next_commands(1);
    assert_eq!(suspend(&pool, &dev, "bob").await.unwrap(), Change::Applied);
    assert_eq!(sim.connections_accepted(), 2);
    assert_eq!(sim.ppp_secret("bob").unwrap()["disabled"], "true");

    // Dead twice: one retry only, and the error says the connection was lost.
    sim.fail_next_commands(2);
    let err = suspend(&pool, &dev, "bob").await.unwrap_err();
    assert!(matches!(err, OpError::Client(ClientError::Disconnected)), "{err}");
    assert!(err.is_connection_lost());
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert_eq!(sim.connections_accepted(), 3);
    assert_eq!(pool.stats(&dev.key), Default::default());
}

#[tokio::test]
async fn fresh_connection_dying_is_not_retried() {
    let sim = RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "default");
    let pool = RouterPool::new(config());
    let dev = device(&sim, "secret");
    sim.fail_next_commands(1);
    let err = suspend(&pool, &dev, "alice").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert_eq!(sim.connections_accepted(), 1);
    assert_eq!(suspend(&pool, &dev, "alice").await.unwrap(), Change::Applied);
}

#[tokio::test]
async fn device_down_then_up() {
    let sim = RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "default");
    sim.add_ppp_secret("bob", "pw", "default");
    let pool = RouterPool::new(config());
    let dev = device(&sim, "secret");
    suspend(&pool, &dev, "alice").await.unwrap();

    sim.go_down().await;
    let err = suspend(&pool, &dev, "bob").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(err.kind().is_transient());
    assert!(matches!(err, OpError::Client(ClientError::Connect(_) | ClientError::Disconnected)), "{err}");
    assert_eq!(pool.stats(&dev.key), Default::default());

    sim.come_up();
    assert_eq!(suspend(&pool, &dev, "bob").await.unwrap(), Change::Applied);
    assert_eq!(sim.ppp_secret("bob").unwrap()["disabled"], "true");
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_non_transient_error() {
    let sim = RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "default");
    let pool = RouterPool::new(config());
    let err = suspend(&pool, &device(&sim, "wrong"), "alice").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials, "{err}");
    assert!(!err.kind().is_transient());
    assert!(err.to_string().contains("login refused: invalid user name or password"), "{err}");
    assert_eq!(sim.logins(), 0);
    assert_eq!(sim.mutations(), 0);

    // Once the router has the password the device record holds, it works.
    sim.set_password("wrong");
    assert_eq!(suspend(&pool, &device(&sim, "wrong"), "alice").await.unwrap(), Change::Applied);
}

#[tokio::test]
async fn hung_router_times_out_and_its_connection_is_not_reused() {
    let sim = RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "default");
    let short = PoolConfig {
        connect_timeout: Duration::from_millis(300),
        command_timeout: Duration::from_millis(200),
        ..config()
    };
    let pool = RouterPool::new(short);
    let dev = device(&sim, "secret");
    assert_eq!(suspend(&pool, &dev, "alice").await.unwrap(), Change::Applied);

    sim.set_stalled(true);
    let err = suspend(&pool, &dev, "alice").await.unwrap_err();
    assert!(matches!(err, OpError::Client(ClientError::Timeout(_))), "{err}");
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert_eq!(pool.stats(&dev.key), Default::default());
    // A new connection cannot log in either: the connect timeout bounds it.
    let started = tokio::time::Instant::now();
    let err = suspend(&pool, &dev, "alice").await.unwrap_err();
    assert!(matches!(err, OpError::Client(ClientError::Timeout(_))), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));

    sim.set_stalled(false);
    assert_eq!(suspend(&pool, &dev, "alice").await.unwrap(), Change::AlreadyInState);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let sim = RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "default");
    let pool = RouterPool::new(PoolConfig { idle_timeout: Duration::from_millis(100), ..config() });
    let dev = device(&sim, "secret");
    suspend(&pool, &dev, "alice").await.unwrap();
    assert_eq!(pool.stats(&dev.key).idle, 1);
    eventually("the idle connection to close", || sim.open_connections() == 0).await;
    assert_eq!(pool.stats(&dev.key).idle, 0);
    assert_eq!(suspend(&pool, &dev, "alice").await.unwrap(), Change::AlreadyInState);
    assert_eq!(sim.connections_accepted(), 2);
}

#[tokio::test]
async fn busy_device_makes_callers_wait_then_gives_up() {
    let sim = RouterSim::start("admin", "secret").await;
    let pool =
        RouterPool::new(PoolConfig { max_per_device: 1, acquire_timeout: Duration::from_millis(100), ..config() });
    let dev = device(&sim, "secret");
    let held = pool.get(&dev).await.unwrap();
    assert!(!held.reused());
    let err = pool.get(&dev).await.err().unwrap();
    assert!(matches!(err, OpError::PoolBusy(_)), "{err}");
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    drop(held);
    let again = pool.get(&dev).await.unwrap();
    assert!(again.reused());
    assert_eq!(sim.connections_accepted(), 1);
}

#[tokio::test]
async fn api_ssl_devices_are_pooled_with_their_pin() {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["router.test".to_owned()]).unwrap();
    let pin = Fingerprint::of(cert.der());
    let sim = RouterSim::start_tls("admin", "secret", cert.der().to_vec(), key_pair.serialize_der()).await;
    sim.add_address_list_entry("suspended", "10.0.0.1", "");
    let pool = RouterPool::new(config());
    let dev = Device::tls("127.0.0.1", sim.addr().port(), pin, "admin", "secret");
    for _ in 0..3 {
        let entries =
            pool.run(&dev, |c| async move { ops::address_list_entries(&*c, "suspended").await }).await.unwrap();
        assert_eq!(entries.len(), 1);
    }
    assert_eq!(sim.connections_accepted(), 1);

    let wrong = Device::tls("127.0.0.1", sim.addr().port(), Fingerprint::of(b"other"), "admin", "secret");
    let err = pool.run(&wrong, |c| async move { ops::address_list_entries(&*c, "suspended").await }).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials, "{err}");
    assert!(err.to_string().contains(&pin.to_string()), "{err}");
    assert!(!format!("{dev:?}").contains("secret"), "the password must not be logged");
}
