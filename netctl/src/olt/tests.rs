//! The drivers against the simulator, for both dialects, over telnet and SSH.

use super::sim::{OltSim, SimOnu};
use super::*;

const USER: &str = "noc";
const PASS: &str = "s3cret";

fn huawei_onus() -> Vec<SimOnu> {
    vec![
        SimOnu::new("0/1/0", 0, "HWTC1A2B3C4D"),
        SimOnu::new("0/1/0", 1, "HWTCAABBCCDD"),
        SimOnu::new("0/1/3", 5, "ZTEGC0A1B2C3"),
    ]
}

fn zte_onus() -> Vec<SimOnu> {
    vec![
        SimOnu::new("1/2/1", 5, "ZTEGC0A1B2C3"),
        SimOnu::new("1/2/1", 6, "HWTC1A2B3C4D"),
        SimOnu::new("1/2/2", 1, "ZTEG00000001"),
    ]
}

async fn sim(vendor: OltVendor) -> OltSim {
    let onus = match vendor {
        OltVendor::Huawei => huawei_onus(),
        OltVendor::Zte => zte_onus(),
    };
    OltSim::start(vendor, USER, PASS, onus).await
}

#[test]
fn serials_are_normalised_from_every_form() {
    for s in ["HWTC1A2B3C4D", "hwtc1a2b3c4d", "HWTC-1A2B3C4D", "485754431A2B3C4D", " 485754431a2b3c4d "] {
        assert_eq!(normalize_serial(s).unwrap(), "HWTC1A2B3C4D", "{s}");
    }
    assert_eq!(serial_hex("HWTC1A2B3C4D"), "485754431A2B3C4D");
    assert_eq!(normalize_serial("5A544547C0A1B2C3").unwrap(), "ZTEGC0A1B2C3");
    for bad in ["", "HWTC1A2B3C4", "HWTC1A2B3C4Z", "0000000011223344", "HW?C1A2B3C4D", "zzzzzzzzzzzzzzzz"] {
        assert!(matches!(normalize_serial(bad), Err(OltError::InvalidSerial(_))), "{bad}");
    }
}

#[test]
fn retryable_errors_are_the_transient_ones() {
    let timeout = OltError::Timeout { what: "x".into(), after: Duration::from_secs(1) };
    let auth = OltError::Auth { user: "noc".into(), message: "Username or password invalid.".into() };
    assert!(timeout.retryable());
    assert!(OltError::Disconnected("eof".into()).retryable());
    assert!(OltError::Verify { serial: "HWTC1A2B3C4D".into(), port: "0/1/0:0".into(), wanted: false }.retryable());
    assert!(!auth.retryable());
    assert!(auth.to_string().contains("username and password"), "{auth}");
    assert!(!OltError::OnuNotFound("HWTC1A2B3C4D".into()).retryable());
    assert!(!OltError::InvalidSerial("x".into()).retryable());
}

async fn suspend_resume_roundtrip(vendor: OltVendor, serial_form: &str, canonical: &str) {
    let sim = sim(vendor).await;
    let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
    assert_eq!(s.set_onu_active(serial_form, None, false).await.unwrap(), Change::Applied);
    assert!(!sim.onu(canonical).unwrap().active);
    assert_eq!(sim.mutations(), 1);
    let found = s.find_onu(canonical).await.unwrap().unwrap();
    assert!(!found.active);
    assert_eq!(found.online, Some(false));

    // Suspending again sends nothing and says so.
    assert_eq!(s.set_onu_active(canonical, None, false).await.unwrap(), Change::AlreadyInState);
    assert_eq!(sim.mutations(), 1);

    assert_eq!(s.set_onu_active(canonical, None, true).await.unwrap(), Change::Applied);
    assert!(sim.onu(canonical).unwrap().active);
    assert_eq!(s.set_onu_active(canonical, None, true).await.unwrap(), Change::AlreadyInState);
    assert_eq!(sim.mutations(), 2);
    s.close().await;
}

#[tokio::test]
async fn huawei_deactivate_activate_with_readback() {
    suspend_resume_roundtrip(OltVendor::Huawei, "485754431A2B3C4D", "HWTC1A2B3C4D").await;
}

#[tokio::test]
async fn huawei_sends_the_documented_commands() {
    let sim = sim(OltVendor::Huawei).await;
    let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
    s.set_onu_active("ZTEGC0A1B2C3", Some("0/1/3"), false).await.unwrap();
    assert_eq!(
        sim.commands(),
        [
            "enable",
            "scroll",
            "display ont info by-sn 5A544547C0A1B2C3",
            "config",
            "interface gpon 0/1",
            "ont deactivate 3 5",
            "display ont info 3 5",
            "quit",
            "quit"
        ]
    );
    // The client refused the terminal-type request and accepted ECHO and SGA.
    assert_eq!(sim.client_negotiation(), [255, 253, 1, 255, 253, 3, 255, 252, 24]);
}

#[tokio::test]
async fn zte_shutdown_no_shutdown_with_readback() {
    suspend_resume_roundtrip(OltVendor::Zte, "zteg-c0a1b2c3", "ZTEGC0A1B2C3").await;
}

#[tokio::test]
async fn zte_firmware_without_admin_state_in_detail_info_falls_back_to_the_state_table() {
    let sim = sim(OltVendor::Zte).await;
    sim.terse_detail(true);
    let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
    assert_eq!(s.set_onu_active("ZTEGC0A1B2C3", None, false).await.unwrap(), Change::Applied);
    assert!(!sim.onu("ZTEGC0A1B2C3").unwrap().active);
    let found = s.find_onu("ZTEGC0A1B2C3").await.unwrap().unwrap();
    assert_eq!((found.port.as_str(), found.onu_id, found.active, found.online), ("1/2/1", 5, false, Some(false)));
    assert!(sim.commands().contains(&"show gpon onu state gpon-olt_1/2/1".to_owned()));
    assert_eq!(s.set_onu_active("ZTEGC0A1B2C3", None, false).await.unwrap(), Change::AlreadyInState);
}

#[tokio::test]
async fn zte_sends_the_documented_commands() {
    let sim = sim(OltVendor::Zte).await;
    let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
    s.set_onu_active("5A544547C0A1B2C3", None, false).await.unwrap();
    assert_eq!(
        sim.commands(),
        [
            "terminal length 0",
            "show gpon onu by sn ZTEGC0A1B2C3",
            "show gpon onu detail-info gpon-onu_1/2/1:5",
            "configure terminal",
            "interface gpon-onu_1/2/1:5",
            "shutdown",
            "end",
            "show gpon onu detail-info gpon-onu_1/2/1:5"
        ]
    );
}

#[tokio::test]
async fn a_change_by_hand_is_seen_and_repaired() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = sim(vendor).await;
        let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
        assert!(sim.set_onu_active("HWTC1A2B3C4D", false));
        let found = s.find_onu("HWTC1A2B3C4D").await.unwrap().unwrap();
        assert!(!found.active, "{vendor:?}");
        assert_eq!(s.set_onu_active("HWTC1A2B3C4D", None, true).await.unwrap(), Change::Applied);
        assert!(sim.onu("HWTC1A2B3C4D").unwrap().active);
    }
}

#[tokio::test]
async fn a_change_the_device_does_not_take_fails_verification() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = sim(vendor).await;
        sim.ignore_changes(true);
        let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
        let err = s.set_onu_active("HWTC1A2B3C4D", None, false).await.unwrap_err();
        match &err {
            OltError::Verify { serial, wanted, .. } => assert_eq!((serial.as_str(), *wanted), ("HWTC1A2B3C4D", false)),
            other => panic!("{vendor:?}: {other:?}"),
        }
        assert!(err.retryable());
        assert_eq!(sim.mutations(), 1);
        // Back in privileged mode: the next operation works once the device behaves.
        sim.ignore_changes(false);
        assert_eq!(s.set_onu_active("HWTC1A2B3C4D", None, false).await.unwrap(), Change::Applied);
    }
}

#[tokio::test]
async fn list_onus_reports_every_onu_with_its_state() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = sim(vendor).await;
        sim.set_onu_active("ZTEGC0A1B2C3", false);
        let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
        let mut got = s.list_onus().await.unwrap();
        got.sort_by(|a, b| (&a.port, a.onu_id).cmp(&(&b.port, b.onu_id)));
        let mut want: Vec<OnuInfo> = match vendor {
            OltVendor::Huawei => huawei_onus(),
            OltVendor::Zte => zte_onus(),
        }
        .into_iter()
        .map(|o| {
            let active = o.serial != "ZTEGC0A1B2C3";
            OnuInfo { port: o.port, onu_id: o.onu_id, serial: o.serial, active, online: Some(active) }
        })
        .collect();
        want.sort_by(|a, b| (&a.port, a.onu_id).cmp(&(&b.port, b.onu_id)));
        assert_eq!(got, want, "{vendor:?}");
    }
}

#[tokio::test]
async fn the_pager_is_answered_when_paging_stays_on() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let onus: Vec<SimOnu> =
            (0..45u32).map(|i| SimOnu::new("0/1/2", i, &format!("HWTC{:08X}", 0x1000 + i))).collect();
        let onus = match vendor {
            OltVendor::Huawei => onus,
            OltVendor::Zte => onus.into_iter().map(|o| SimOnu { port: "1/1/2".into(), ..o }).collect(),
        };
        let sim = OltSim::start(vendor, USER, PASS, onus).await;
        sim.keep_paging(7);
        let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
        let got = s.list_onus().await.unwrap();
        assert_eq!(got.len(), 45, "{vendor:?}");
        let ids: Vec<u32> = got.iter().map(|o| o.onu_id).collect();
        assert_eq!(ids, (0..45).collect::<Vec<_>>(), "{vendor:?}");
        assert!(got.iter().all(|o| o.serial.starts_with("HWTC0000")), "{vendor:?}");
        // The session is still in step after the pager: a point query works.
        let one = s.find_onu("HWTC0000102A").await.unwrap().unwrap();
        assert_eq!(one.onu_id, 42);
    }
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_non_retryable_error() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = sim(vendor).await;
        let err = OltSession::connect(&sim.config(USER, "wrong")).await.err().unwrap();
        match &err {
            OltError::Auth { user, message } => {
                assert_eq!(user, USER);
                let vendor_text = match vendor {
                    OltVendor::Huawei => "Username or password invalid.",
                    OltVendor::Zte => "Bad password or user name.",
                };
                assert!(message.contains(vendor_text), "{vendor:?}: {message}");
            }
            other => panic!("{vendor:?}: {other:?}"),
        }
        assert!(!err.retryable());
        assert!(sim.commands().is_empty());
    }
}

#[tokio::test]
async fn an_unknown_serial_is_not_found() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = sim(vendor).await;
        let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
        assert_eq!(s.find_onu("ALCL00000001").await.unwrap(), None, "{vendor:?}");
        let err = s.set_onu_active("ALCL00000001", None, false).await.unwrap_err();
        assert!(matches!(err, OltError::OnuNotFound(ref sn) if sn == "ALCL00000001"), "{err:?}");
        assert!(!err.retryable());
        let err = s.set_onu_active("not-a-serial", None, false).await.unwrap_err();
        assert!(matches!(err, OltError::InvalidSerial(_)), "{err:?}");
        assert_eq!(sim.mutations(), 0);
    }
}

#[tokio::test]
async fn bad_commands_are_rejected_with_the_device_text() {
    for (vendor, text) in [(OltVendor::Huawei, "% Unknown command"), (OltVendor::Zte, "%Error 20200: Invalid command.")]
    {
        let sim = sim(vendor).await;
        let mut s = OltSession::connect(&sim.config(USER, PASS)).await.unwrap();
        let err = s.exec("frobnicate the olt").await.unwrap_err();
        match err {
            OltError::Rejected { command, message } => {
                assert_eq!(command, "frobnicate the olt");
                assert!(message.contains(text), "{vendor:?}: {message}");
            }
            other => panic!("{vendor:?}: {other:?}"),
        }
        // A raw command that works returns its output, and a mode change by exec does not
        // confuse the next operation.
        let entered = match vendor {
            OltVendor::Huawei => s.exec("config").await,
            OltVendor::Zte => s.exec("configure terminal").await,
        };
        entered.unwrap();
        // Huawei asks `{ <cr>|backplane<K>|... }:` first; Enter is sent for it.
        let version = match vendor {
            OltVendor::Huawei => s.exec("display version").await.unwrap(),
            OltVendor::Zte => s.exec("show version").await.unwrap(),
        };
        assert!(version.contains("MA5600T") || version.contains("ZXA10"), "{version}");
        assert!(s.find_onu("HWTC1A2B3C4D").await.unwrap().is_some());
    }
}

#[tokio::test]
async fn device_down_then_back() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = sim(vendor).await;
        let cfg = sim.config(USER, PASS);
        let mut s = OltSession::connect(&cfg).await.unwrap();
        sim.go_down();
        let err = s.set_onu_active("HWTC1A2B3C4D", None, false).await.unwrap_err();
        assert!(matches!(err, OltError::Disconnected(_)), "{vendor:?}: {err:?}");
        assert!(err.retryable());
        let err = OltSession::connect(&cfg).await.err().unwrap();
        assert!(matches!(err, OltError::Connect { .. }), "{vendor:?}: {err:?}");
        assert!(err.retryable());

        sim.come_back().await;
        let mut s = OltSession::connect(&cfg).await.unwrap();
        assert_eq!(s.set_onu_active("HWTC1A2B3C4D", None, false).await.unwrap(), Change::Applied);
        assert!(!sim.onu("HWTC1A2B3C4D").unwrap().active);
    }
}

#[tokio::test]
async fn a_silent_device_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let (_sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let cfg = OltConfig {
        vendor: OltVendor::Huawei,
        host: addr.ip().to_string(),
        port: addr.port(),
        transport: OltTransport::Telnet,
        host_key_fingerprint: None,
        username: USER.into(),
        password: PASS.into(),
        timeout: Duration::from_millis(200),
    };
    let err = OltSession::connect(&cfg).await.err().unwrap();
    assert!(matches!(err, OltError::Timeout { .. }), "{err:?}");
    assert!(err.retryable());
}

// ---- The same CLI over SSH ----

fn onus(vendor: OltVendor) -> Vec<SimOnu> {
    match vendor {
        OltVendor::Huawei => huawei_onus(),
        OltVendor::Zte => zte_onus(),
    }
}

async fn ssh_sim(vendor: OltVendor) -> OltSim {
    OltSim::start_ssh(vendor, USER, PASS, onus(vendor), OltSim::generate_host_key()).await
}

/// Suspend, resume and read back over SSH with the host key pinned, for one dialect.
async fn ssh_roundtrip(vendor: OltVendor, serial: &str) {
    let sim = ssh_sim(vendor).await;
    let pin = sim.host_key_fingerprint().unwrap();
    assert_eq!(pin.len(), 64);
    let mut cfg = sim.config(USER, PASS);
    assert_eq!(cfg.transport, OltTransport::Ssh);
    // The pin may be written with colons and in upper case.
    let colons: Vec<String> = pin.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect();
    cfg.host_key_fingerprint = Some(colons.join(":"));
    let mut s = OltSession::connect(&cfg).await.unwrap();
    assert_eq!(s.vendor(), vendor);
    assert_eq!(s.set_onu_active(serial, None, false).await.unwrap(), Change::Applied);
    assert!(!sim.onu(serial).unwrap().active);
    let found = s.find_onu(serial).await.unwrap().unwrap();
    assert!(!found.active);
    assert_eq!(found.online, Some(false));
    assert_eq!(s.set_onu_active(serial, None, false).await.unwrap(), Change::AlreadyInState);
    assert_eq!(s.set_onu_active(serial, None, true).await.unwrap(), Change::Applied);
    assert!(sim.onu(serial).unwrap().active);
    assert_eq!(sim.mutations(), 2);
    assert_eq!(s.list_onus().await.unwrap().len(), 3);
    s.close().await;
    // Over SSH the device asks no user name: the first command after login is paging off.
    let first = match vendor {
        OltVendor::Huawei => "enable",
        OltVendor::Zte => "terminal length 0",
    };
    assert_eq!(sim.commands().first().map(String::as_str), Some(first));
}

#[tokio::test]
async fn huawei_over_ssh_with_pinned_host_key() {
    ssh_roundtrip(OltVendor::Huawei, "HWTC1A2B3C4D").await;
}

#[tokio::test]
async fn zte_over_ssh_with_pinned_host_key() {
    ssh_roundtrip(OltVendor::Zte, "ZTEGC0A1B2C3").await;
}

#[tokio::test]
async fn ssh_without_pin_accepts_the_host_key() {
    let sim = ssh_sim(OltVendor::Zte).await;
    let cfg = sim.config(USER, PASS);
    assert_eq!(cfg.host_key_fingerprint, None);
    let mut s = OltSession::connect(&cfg).await.unwrap();
    assert!(s.find_onu("ZTEG00000001").await.unwrap().unwrap().active);
    s.close().await;
}

#[tokio::test]
async fn ssh_host_key_mismatch_is_refused_before_logging_in() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = ssh_sim(vendor).await;
        let actual = sim.host_key_fingerprint().unwrap();
        // The fingerprint of another key: what a pin looks like after the device was replaced.
        let other = super::ssh::fingerprint(OltSim::generate_host_key().public_key());
        let mut cfg = sim.config(USER, PASS);
        cfg.host_key_fingerprint = Some(other.clone());
        let err = OltSession::connect(&cfg).await.err().unwrap();
        match &err {
            OltError::HostKey { expected, found } => {
                assert_eq!(expected, &other);
                assert_eq!(found, &actual);
            }
            other => panic!("{vendor:?}: {other:?}"),
        }
        assert!(!err.retryable());
        assert!(err.to_string().contains("host key mismatch"), "{err}");
        assert!(sim.commands().is_empty());

        cfg.host_key_fingerprint = Some("not-a-fingerprint".into());
        let err = OltSession::connect(&cfg).await.err().unwrap();
        assert!(matches!(err, OltError::InvalidFingerprint(_)), "{err:?}");
    }
}

#[tokio::test]
async fn ssh_wrong_password_is_a_clear_non_retryable_error() {
    for vendor in [OltVendor::Huawei, OltVendor::Zte] {
        let sim = ssh_sim(vendor).await;
        let err = OltSession::connect(&sim.config(USER, "wrong")).await.err().unwrap();
        match &err {
            OltError::Auth { user, message } => {
                assert_eq!(user, USER);
                assert!(message.contains("SSH password"), "{message}");
            }
            other => panic!("{vendor:?}: {other:?}"),
        }
        assert!(!err.retryable());
        assert!(sim.commands().is_empty());
    }
}

#[tokio::test]
async fn ssh_pager_is_answered_and_the_device_can_go_down_and_come_back() {
    let sim = ssh_sim(OltVendor::Huawei).await;
    sim.keep_paging(2);
    let cfg = sim.config(USER, PASS);
    let mut s = OltSession::connect(&cfg).await.unwrap();
    assert_eq!(s.list_onus().await.unwrap().len(), 3);
    sim.go_down();
    let err = s.find_onu("HWTC1A2B3C4D").await.err().unwrap();
    assert!(err.retryable(), "{err:?}");
    let err = OltSession::connect(&cfg).await.err().unwrap();
    assert!(matches!(err, OltError::Connect { .. }), "{err:?}");
    sim.come_back().await;
    let mut s = OltSession::connect(&cfg).await.unwrap();
    assert!(s.find_onu("HWTC1A2B3C4D").await.unwrap().is_some());
    s.close().await;
}
