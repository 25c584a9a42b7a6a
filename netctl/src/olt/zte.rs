//! ZTE C300 / C320 dialect: `show gpon onu by sn|detail-info|state|baseinfo` and
//! `shutdown` / `no shutdown` under `interface gpon-onu_R/S/P:ID` (see the module doc of
//! [`super`] for the exact lines and why).

use super::telnet::{rejection, TelnetCli};
use super::{checked, normalize_serial, OltError, OnuInfo};
use std::collections::{BTreeMap, HashMap};

/// ZTE's answer when a query matches nothing.
const NOTHING: &str = "No related information to show";

/// Looks an ONU up by serial: its interface from `show gpon onu by sn`, then its states
/// from `show gpon onu detail-info`.
pub async fn find(cli: &mut TelnetCli, serial: &str) -> Result<Option<OnuInfo>, OltError> {
    let command = format!("show gpon onu by sn {serial}");
    let out = cli.command(&command).await?;
    if out.contains(NOTHING) {
        return Ok(None);
    }
    if let Some(message) = rejection(&out) {
        return Err(OltError::Rejected { command, message });
    }
    match parse_by_sn(&out) {
        Some((port, id)) => detail(cli, &port, id).await.map(Some),
        None => Ok(None),
    }
}

/// `show gpon onu detail-info gpon-onu_P:ID`.
/// Firmware whose detail block lacks "Admin state" gets the state from
/// `show gpon onu state gpon-olt_P` instead.
pub async fn detail(cli: &mut TelnetCli, port: &str, id: u32) -> Result<OnuInfo, OltError> {
    let command = format!("show gpon onu detail-info gpon-onu_{port}:{id}");
    let out = checked(cli, &command).await?;
    if let Some(onu) = parse_detail(&out) {
        return Ok(onu);
    }
    let unreadable = || OltError::Protocol(format!("`{command}` gave no ONU fields: {out}"));
    let serial = field(&out, "Serial number").and_then(|s| normalize_serial(&s).ok()).ok_or_else(unreadable)?;
    let states = checked(cli, &format!("show gpon onu state gpon-olt_{port}")).await?;
    let row = parse_state(&states).into_iter().find(|r| r.port == port && r.onu_id == id).ok_or_else(unreadable)?;
    Ok(OnuInfo { port: row.port, onu_id: row.onu_id, serial, active: row.active, online: row.online })
}

/// The value of `Key: value` in a detail block.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// Every ONU: states from `show gpon onu state`, serials from `show gpon onu baseinfo` per
/// PON port.
pub async fn list(cli: &mut TelnetCli) -> Result<Vec<OnuInfo>, OltError> {
    let out = cli.command("show gpon onu state").await?;
    if out.contains(NOTHING) {
        return Ok(Vec::new());
    }
    if let Some(message) = rejection(&out) {
        return Err(OltError::Rejected { command: "show gpon onu state".into(), message });
    }
    let states = parse_state(&out);
    let mut serials: HashMap<(String, u32), String> = HashMap::new();
    let ports: BTreeMap<&str, ()> = states.iter().map(|s| (s.port.as_str(), ())).collect();
    for port in ports.keys() {
        let out = checked(cli, &format!("show gpon onu baseinfo gpon-olt_{port}")).await?;
        serials.extend(parse_baseinfo(&out).into_iter().map(|(p, id, sn)| ((p, id), sn)));
    }
    Ok(states
        .into_iter()
        .filter_map(|s| {
            let serial = serials.get(&(s.port.clone(), s.onu_id))?.clone();
            Some(OnuInfo { port: s.port, onu_id: s.onu_id, serial, active: s.active, online: s.online })
        })
        .collect())
}

/// `shutdown` (deactivate) or `no shutdown` (activate) on the ONU interface, then reads the
/// admin state back.
pub async fn set_active(cli: &mut TelnetCli, onu: &OnuInfo, active: bool) -> Result<OnuInfo, OltError> {
    checked(cli, "configure terminal").await?;
    let result = async {
        checked(cli, &format!("interface gpon-onu_{}:{}", onu.port, onu.onu_id)).await?;
        checked(cli, if active { "no shutdown" } else { "shutdown" }).await
    }
    .await;
    cli.command("end").await?;
    result?;
    detail(cli, &onu.port, onu.onu_id).await
}

/// `gpon-onu_1/2/1:5` (or `1/2/1:5`) -> (`1/2/1`, 5).
fn parse_index(s: &str) -> Option<(String, u32)> {
    let s = s.strip_prefix("gpon-onu_").unwrap_or(s);
    let (port, id) = s.split_once(':')?;
    if port.matches('/').count() != 2 || !port.chars().all(|c| c.is_ascii_digit() || c == '/') {
        return None;
    }
    Some((port.to_owned(), id.parse().ok()?))
}

/// The interface under "Search result" of `show gpon onu by sn`.
pub fn parse_by_sn(text: &str) -> Option<(String, u32)> {
    text.split_whitespace().find(|t| t.starts_with("gpon-onu_")).and_then(parse_index)
}

/// Reads the `Key: value` block of `show gpon onu detail-info`.
pub fn parse_detail(text: &str) -> Option<OnuInfo> {
    let field = |key: &str| field(text, key);
    let (port, onu_id) = parse_index(&field("ONU interface")?)?;
    let serial = normalize_serial(&field("Serial number")?).ok()?;
    let active = match field("Admin state")?.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return None,
    };
    let online = field("Phase state").map(|p| p.eq_ignore_ascii_case("working"));
    Some(OnuInfo { port, onu_id, serial, active, online })
}

/// One row of `show gpon onu state` (no serial there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    /// PON port, `1/2/1`.
    pub port: String,
    /// ONU id.
    pub onu_id: u32,
    /// Admin State `enable`.
    pub active: bool,
    /// Phase State `working`.
    pub online: Option<bool>,
}

/// Reads `show gpon onu state`; firmware with an "O7 State" column has the phase one further.
pub fn parse_state(text: &str) -> Vec<StateRow> {
    let phase_col = if text.contains("O7 State") { 4 } else { 3 };
    text.lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            let (port, onu_id) = parse_index(t.first()?)?;
            let active = match *t.get(1)? {
                "enable" => true,
                "disable" => false,
                _ => return None,
            };
            let online = t.get(phase_col).map(|p| p.eq_ignore_ascii_case("working"));
            Some(StateRow { port, onu_id, active, online })
        })
        .collect()
}

/// Reads `show gpon onu baseinfo`: (port, id, serial) from AuthInfo `SN:ZTEGC0A1B2C3`.
pub fn parse_baseinfo(text: &str) -> Vec<(String, u32, String)> {
    text.lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            let (port, id) = parse_index(t.first()?)?;
            let sn = t.iter().find_map(|w| w.strip_prefix("SN:"))?;
            Some((port, id, normalize_serial(sn).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BY_SN: &str = "Search result\n-------------------------------\ngpon-onu_1/2/1:5\n";

    const DETAIL: &str = "ONU interface:         gpon-onu_1/2/1:5
  Name:                flat-12
  Type:                F660
  State:               ready
  Admin state:         disable
  Phase state:         OffLine
  Authentication mode: sn
  SN Bind:             enable with SN check
  Serial number:       ZTEGC0A1B2C3
  Password:
  Device ID:
  Description:         Main St 4: flat 12
  Vport mode:          gemport
  DBA Mode:            Hybrid
  ONU Status:          enable
  OMCI BW Profile:     enable
  Line Profile:        N/A
  Service Profile:     N/A
  Alarm Profile:       N/A
  Performance Profile: N/A
  ONU Distance:        3703m
  Online Duration:     34h 45m 21s
  FEC:                 none
  1PPS+ToD:            disable
------------------------------------------
       Authpass Time          OfflineTime             Cause
   1   2022-09-05 14:04:42    0000-00-00 00:00:00
   2   0000-00-00 00:00:00    0000-00-00 00:00:00";

    /// Newer firmware: full interface names and an O7 State column.
    const STATE_O7: &str = "OnuIndex               Admin State  OMCC State   O7 State     Phase State
----------------------------------------------------------------------------
gpon-onu_1/1/1:1       enable       enable       operation    working
gpon-onu_1/1/1:3       enable       disable      unknown      LOS
gpon-onu_1/1/2:8       disable      disable      unknown      DyingGasp";

    /// Older firmware: bare indices and a Channel column.
    const STATE_OLD: &str = "OnuIndex   Admin State OMCC State Phase State Channel
--------------------------------------------------------------
1/2/1:5    disable     disable    OffLine     1(GPON)
1/2/1:6    enable      enable     working     1(GPON)
ONU Number: 2/2";

    const BASEINFO: &str = "OnuIndex                 Type          Mode    AuthInfo             State
-------------------------------------------------------------------------------
gpon-onu_1/2/1:5         F660          sn      SN:ZTEGC0A1B2C3      ready
gpon-onu_1/2/1:6         HG8245H       sn      SN:HWTC1A2B3C4D      ready";

    #[test]
    fn by_sn_gives_the_interface() {
        assert_eq!(parse_by_sn(BY_SN), Some(("1/2/1".into(), 5)));
        assert_eq!(parse_by_sn("No related information to show."), None);
    }

    #[test]
    fn detail_info_gives_admin_state_phase_and_serial() {
        let onu = parse_detail(DETAIL).unwrap();
        assert_eq!(
            onu,
            OnuInfo {
                port: "1/2/1".into(),
                onu_id: 5,
                serial: "ZTEGC0A1B2C3".into(),
                active: false,
                online: Some(false)
            }
        );
        let up = parse_detail(
            &DETAIL.replace("disable\n  Phase state:         OffLine", "enable\n  Phase state:         working"),
        )
        .unwrap();
        assert!(up.active);
        assert_eq!(up.online, Some(true));
    }

    #[test]
    fn state_tables_of_both_firmware_generations() {
        let rows = parse_state(STATE_O7);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], StateRow { port: "1/1/1".into(), onu_id: 1, active: true, online: Some(true) });
        assert_eq!(rows[1].online, Some(false));
        assert!(!rows[2].active);
        let rows = parse_state(STATE_OLD);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], StateRow { port: "1/2/1".into(), onu_id: 5, active: false, online: Some(false) });
        assert_eq!(rows[1].online, Some(true));
    }

    #[test]
    fn baseinfo_gives_serials() {
        assert_eq!(
            parse_baseinfo(BASEINFO),
            vec![("1/2/1".into(), 5, "ZTEGC0A1B2C3".into()), ("1/2/1".into(), 6, "HWTC1A2B3C4D".into())]
        );
    }
}
