//! The suspension operations against the simulator: each change applied once, read back,
//! and a second call sending no mutating command.

use super::client::{Client, ClientError, ErrorKind};
use super::ops::{self, Change, OpError};
use super::sim::RouterSim;
use std::time::Duration;
use tokio::net::TcpStream;

async fn router() -> (RouterSim, Client<TcpStream>) {
    let sim = RouterSim::start("admin", "secret").await;
    let client = Client::connect(sim.addr(), "admin", "secret", Duration::from_secs(5)).await.unwrap();
    (sim, client)
}

#[tokio::test]
async fn address_list_add_once_then_already_in_state() {
    let (sim, c) = router().await;
    sim.add_address_list_entry("suspended", "10.0.0.9", "other customer");
    let change = ops::address_list_set(&c, "suspended", "10.0.0.7", "subscription 42", true).await.unwrap();
    assert_eq!(change, Change::Applied);
    assert_eq!(sim.mutations(), 1);
    let rows = sim.address_list("suspended");
    let ours: Vec<_> = rows.iter().filter(|r| r["address"] == "10.0.0.7").collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["comment"], "subscription 42");

    // Again, and with the `/32` the router strips: no command that changes anything.
    for address in ["10.0.0.7", "10.0.0.7/32"] {
        let again = ops::address_list_set(&c, "suspended", address, "subscription 42", true).await.unwrap();
        assert_eq!(again, Change::AlreadyInState);
    }
    assert_eq!(sim.mutations(), 1);
    assert_eq!(sim.address_list("suspended").len(), 2);

    let entries = ops::address_list_entries(&c, "suspended").await.unwrap();
    let entry = entries.iter().find(|e| e.address == "10.0.0.7").unwrap();
    assert_eq!(entry.comment, "subscription 42");
    assert!(!entry.disabled);
    assert!(entry.id.starts_with('*'), "{}", entry.id);
    assert_eq!(entry.id, ours[0][".id"]);
    assert!(ops::address_list_entries(&c, "no-such-list").await.unwrap().is_empty());
}

#[tokio::test]
async fn reads_filter_on_the_router_and_ask_only_for_needed_properties() {
    let (sim, c) = router().await;
    sim.add_ppp_secret("alice", "pw", "10M");
    ops::ppp_secret_set_disabled(&c, "alice", true).await.unwrap();
    ops::address_list_set(&c, "suspended", "10.0.0.7", "s", true).await.unwrap();
    let log = sim.state().log.clone();
    let prints: Vec<_> = log.iter().filter(|c| c.path.ends_with("/print")).collect();
    assert!(!prints.is_empty());
    for p in prints {
        assert!(!p.queries.is_empty(), "unfiltered print: {p:?}");
        assert!(p.get(".proplist").is_some(), "print without .proplist: {p:?}");
    }
    let set = log.iter().find(|c| c.path == "/ppp/secret/set").unwrap();
    assert_eq!(set.get("disabled"), Some("yes"));
    assert!(set.get(".id").is_some_and(|id| id.starts_with('*')));
}

#[tokio::test]
async fn address_list_remove_takes_every_matching_entry_and_nothing_else() {
    let (sim, c) = router().await;
    sim.add_address_list_entry("suspended", "10.0.0.7", "subscription 42");
    // A second entry for the same address, e.g. one added dynamically, put there by hand.
    {
        let mut state = sim.state();
        let mut dup = state.address_list[0].clone();
        dup.insert(".id".into(), "*FF".into());
        dup.insert("dynamic".into(), "true".into());
        state.address_list.push(dup);
    }
    sim.add_address_list_entry("suspended", "10.0.0.8", "subscription 43");
    sim.add_address_list_entry("walled", "10.0.0.7", "subscription 42");

    let change = ops::address_list_set(&c, "suspended", "10.0.0.7", "subscription 42", false).await.unwrap();
    assert_eq!(change, Change::Applied);
    assert_eq!(sim.mutations(), 2);
    let left: Vec<_> = sim.address_list("suspended").iter().map(|r| r["address"].clone()).collect();
    assert_eq!(left, ["10.0.0.8"]);
    assert_eq!(sim.address_list("walled").len(), 1);

    let again = ops::address_list_set(&c, "suspended", "10.0.0.7", "subscription 42", false).await.unwrap();
    assert_eq!(again, Change::AlreadyInState);
    assert_eq!(sim.mutations(), 2);
}

#[tokio::test]
async fn disabled_address_list_entry_is_enabled_not_duplicated() {
    let (sim, c) = router().await;
    let id = sim.add_address_list_entry("suspended", "10.0.0.7", "subscription 42");
    sim.state().address_list[0].insert("disabled".into(), "true".into());
    let change = ops::address_list_set(&c, "suspended", "10.0.0.7", "subscription 42", true).await.unwrap();
    assert_eq!(change, Change::Applied);
    let rows = sim.address_list("suspended");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][".id"], id);
    assert_eq!(rows[0]["disabled"], "false");
}

#[tokio::test]
async fn ppp_secret_disable_enable_readback_and_idempotency() {
    let (sim, c) = router().await;
    sim.add_ppp_secret("alice", "pw", "10M");
    sim.add_ppp_secret("bob", "pw", "20M");

    assert_eq!(ops::ppp_secret_set_disabled(&c, "alice", true).await.unwrap(), Change::Applied);
    assert_eq!(sim.ppp_secret("alice").unwrap()["disabled"], "true");
    assert_eq!(sim.ppp_secret("bob").unwrap()["disabled"], "false");
    assert_eq!(sim.mutations(), 1);
    assert_eq!(ops::ppp_secret_set_disabled(&c, "alice", true).await.unwrap(), Change::AlreadyInState);
    assert_eq!(sim.mutations(), 1);

    let secret = ops::ppp_secret(&c, "alice").await.unwrap().unwrap();
    assert!(secret.disabled);
    assert_eq!((secret.name.as_str(), secret.profile.as_str(), secret.service.as_str()), ("alice", "10M", "any"));
    let all = ops::ppp_secrets(&c).await.unwrap();
    assert_eq!(
        all.iter().map(|s| (s.name.as_str(), s.disabled)).collect::<Vec<_>>(),
        [("alice", true), ("bob", false)]
    );
    assert!(ops::ppp_secret(&c, "carol").await.unwrap().is_none());

    assert_eq!(ops::ppp_secret_set_disabled(&c, "alice", false).await.unwrap(), Change::Applied);
    assert_eq!(sim.ppp_secret("alice").unwrap()["disabled"], "false");
    assert_eq!(sim.mutations(), 2);
}

#[tokio::test]
async fn ppp_secret_changed_by_hand_is_already_in_state() {
    let (sim, c) = router().await;
    sim.add_ppp_secret("alice", "pw", "10M");
    sim.state().ppp_secrets[0].insert("disabled".into(), "true".into());
    assert_eq!(ops::ppp_secret_set_disabled(&c, "alice", true).await.unwrap(), Change::AlreadyInState);
    assert_eq!(sim.mutations(), 0);
}

#[tokio::test]
async fn missing_secret_or_user_is_not_found() {
    let (sim, c) = router().await;
    sim.add_ppp_secret("alice", "pw", "10M");
    let err = ops::ppp_secret_set_disabled(&c, "mallory", true).await.unwrap_err();
    assert!(matches!(&err, OpError::NotFound { name, .. } if name == "mallory"), "{err}");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!err.kind().is_transient());
    assert!(err.to_string().contains("PPP secret \"mallory\""), "{err}");
    let err = ops::hotspot_user_set_disabled(&c, "mallory", false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(sim.mutations(), 0);
}

#[tokio::test]
async fn ppp_sessions_listed_and_disconnected() {
    let (sim, c) = router().await;
    sim.add_ppp_active("alice", "100.64.0.2", "AA:BB:CC:00:00:01");
    sim.add_ppp_active("alice", "100.64.0.3", "AA:BB:CC:00:00:02");
    sim.add_ppp_active("bob", "100.64.0.4", "AA:BB:CC:00:00:03");

    let sessions = ops::ppp_active(&c).await.unwrap();
    assert_eq!(sessions.len(), 3);
    let s = &sessions[0];
    assert_eq!(
        (s.name.as_str(), s.address.as_str(), s.caller_id.as_str(), s.uptime.as_str(), s.service.as_str()),
        ("alice", "100.64.0.2", "AA:BB:CC:00:00:01", "1h2m3s", "pppoe")
    );
    assert!(s.id.starts_with('*'));

    assert_eq!(ops::ppp_active_remove(&c, "alice").await.unwrap(), 2);
    let left = ops::ppp_active(&c).await.unwrap();
    assert_eq!(left.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["bob"]);
    assert_eq!(sim.mutations(), 2);
    assert_eq!(ops::ppp_active_remove(&c, "alice").await.unwrap(), 0);
    assert_eq!(sim.mutations(), 2);
}

#[tokio::test]
async fn hotspot_users_and_sessions() {
    let (sim, c) = router().await;
    sim.add_hotspot_user("guest1", "pw");
    sim.add_hotspot_user("guest2", "pw");
    sim.add_hotspot_active("guest1", "10.5.50.10", "AA:BB:CC:00:00:10");
    sim.add_hotspot_active("guest2", "10.5.50.11", "AA:BB:CC:00:00:11");

    assert_eq!(ops::hotspot_user_set_disabled(&c, "guest1", true).await.unwrap(), Change::Applied);
    assert_eq!(sim.hotspot_user("guest1").unwrap()["disabled"], "true");
    assert_eq!(ops::hotspot_user_set_disabled(&c, "guest1", true).await.unwrap(), Change::AlreadyInState);
    assert_eq!(sim.mutations(), 1);
    let users = ops::hotspot_users(&c).await.unwrap();
    assert_eq!(
        users.iter().map(|u| (u.name.as_str(), u.disabled)).collect::<Vec<_>>(),
        [("guest1", true), ("guest2", false)]
    );
    assert_eq!(users[0].server, "all");

    let active = ops::hotspot_active(&c).await.unwrap();
    assert_eq!(active.len(), 2);
    assert_eq!(
        (active[0].user.as_str(), active[0].address.as_str(), active[0].mac_address.as_str()),
        ("guest1", "10.5.50.10", "AA:BB:CC:00:00:10")
    );
    assert_eq!(ops::hotspot_active_remove(&c, "guest1").await.unwrap(), 1);
    assert_eq!(ops::hotspot_active(&c).await.unwrap().iter().map(|s| s.user.clone()).collect::<Vec<_>>(), ["guest2"]);
    assert_eq!(ops::hotspot_active_remove(&c, "guest1").await.unwrap(), 0);
    assert_eq!(sim.mutations(), 2);

    assert_eq!(ops::hotspot_user_set_disabled(&c, "guest1", false).await.unwrap(), Change::Applied);
    assert_eq!(sim.hotspot_user("guest1").unwrap()["disabled"], "false");
}

/// A router that acknowledges changes but keeps its old state (a script reverting them):
/// the readback catches it, and the error says a retry may help.
#[tokio::test]
async fn readback_that_disagrees_is_unverified() {
    let (sim, c) = router().await;
    sim.add_ppp_secret("alice", "pw", "10M");
    sim.add_ppp_active("alice", "100.64.0.2", "AA:BB:CC:00:00:01");
    sim.state().frozen = true;

    let err = ops::ppp_secret_set_disabled(&c, "alice", true).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Unverified { expected, found, .. } if expected == "disabled" && found == "enabled")
    );
    assert_eq!(err.kind(), ErrorKind::Unverified);
    assert!(err.kind().is_transient());
    let err = ops::address_list_set(&c, "suspended", "10.0.0.7", "s", true).await.unwrap_err();
    assert!(matches!(&err, OpError::Unverified { found, .. } if found == "absent"), "{err}");
    let err = ops::ppp_active_remove(&c, "alice").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unverified, "{err}");
}

#[tokio::test]
async fn simulator_traps_like_routeros() {
    use super::sentence::Command;
    let (sim, c) = router().await;
    let trap = |r: Result<_, ClientError>| match r {
        Err(ClientError::Trap { message, .. }) => message,
        other => panic!("expected a trap, got {other:?}"),
    };
    assert_eq!(trap(c.run(Command::new("/ip/nothing/print")).await), "no such command prefix");
    assert_eq!(trap(c.run(Command::new("/ppp/active/add").attr("name", "x")).await), "no such command");
    assert_eq!(trap(c.run(Command::new("/ppp/secret/remove").attr(".id", "*99")).await), "no such item");
    assert_eq!(
        trap(c.run(Command::new("/ppp/secret/add").attr("name", "a").attr("bogus", "1")).await),
        "unknown parameter"
    );
    sim.add_hotspot_user("guest", "pw");
    let dup = c.run(Command::new("/ip/hotspot/user/add").attr("name", "guest")).await;
    assert!(trap(dup).contains("already have user with this name"));
    // A refused command changed nothing, and the trap is classified as a bad command.
    assert_eq!(sim.state().hotspot_users.len(), 1);
    let err = c.run(Command::new("/ip/nothing/print")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    let err: OpError = c.run(Command::new("/ppp/secret/set").attr(".id", "*99")).await.unwrap_err().into();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // `.proplist` and `?-prop` queries.
    let rows = c.run(Command::new("/ip/hotspot/user/print").attr(".proplist", "name")).await.unwrap().rows;
    assert_eq!(rows[0].keys().collect::<Vec<_>>(), ["name"]);
    let rows = c.run(Command::new("/ip/hotspot/user/print").query("-name")).await.unwrap().rows;
    assert!(rows.is_empty());
}
