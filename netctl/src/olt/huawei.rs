//! Huawei MA5600T / MA5800 dialect: `display ont info`, `ont activate|deactivate` under
//! `interface gpon F/S` (see the module doc of [`super`] for the exact lines).

use super::telnet::{rejection, TelnetCli};
use super::{checked, normalize_serial, serial_hex, OltError, OnuInfo};

/// Looks an ONT up by serial (`display ont info by-sn`, serial in 16-hex form).
pub async fn find(cli: &mut TelnetCli, serial: &str) -> Result<Option<OnuInfo>, OltError> {
    let command = format!("display ont info by-sn {}", serial_hex(serial));
    let out = cli.command(&command).await?;
    if let Some(message) = rejection(&out) {
        if message.contains("does not exist") {
            return Ok(None);
        }
        return Err(OltError::Rejected { command, message });
    }
    parse_detail(&out).map(Some).ok_or_else(|| OltError::Protocol(format!("`{command}` gave no ONT fields: {out}")))
}

/// Every ONT of frame 0 (`display ont info 0 all`).
pub async fn list(cli: &mut TelnetCli) -> Result<Vec<OnuInfo>, OltError> {
    let out = checked(cli, "display ont info 0 all").await?;
    Ok(parse_table(&out))
}

/// Deactivates or activates `onu` under its `interface gpon F/S` and reads it back with
/// `display ont info P ID` before leaving the interface.
pub async fn set_active(cli: &mut TelnetCli, onu: &OnuInfo, active: bool) -> Result<OnuInfo, OltError> {
    let (fs, p) = split_port(&onu.port)?;
    checked(cli, "config").await?;
    let result = async {
        checked(cli, &format!("interface gpon {fs}")).await?;
        let verb = if active { "activate" } else { "deactivate" };
        checked(cli, &format!("ont {verb} {p} {}", onu.onu_id)).await?;
        let command = format!("display ont info {p} {}", onu.onu_id);
        let out = checked(cli, &command).await?;
        parse_detail(&out).ok_or_else(|| OltError::Protocol(format!("`{command}` gave no ONT fields: {out}")))
    }
    .await;
    // Back to privileged mode whatever happened (interface -> config -> privileged).
    for _ in 0..3 {
        if !cli.prompt().contains('(') {
            break;
        }
        cli.command("quit").await?;
    }
    result
}

/// `0/1/3` -> (`0/1`, `3`).
fn split_port(port: &str) -> Result<(&str, &str), OltError> {
    port.rsplit_once('/')
        .filter(|(fs, _)| fs.contains('/'))
        .ok_or_else(|| OltError::Protocol(format!("not a Huawei F/S/P port: {port}")))
}

/// Reads the `Key : value` block of `display ont info P ID` / `display ont info by-sn`.
pub fn parse_detail(text: &str) -> Option<OnuInfo> {
    let field = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    let port: String = field("F/S/P")?.chars().filter(|c| !c.is_whitespace()).collect();
    let onu_id = field("ONT-ID")?.parse().ok()?;
    let serial = normalize_serial(field("SN")?.split_whitespace().next()?).ok()?;
    let active = match field("Control flag")?.as_str() {
        "active" => true,
        "deactivated" => false,
        _ => return None,
    };
    let online = field("Run state").map(|r| r == "online");
    Some(OnuInfo { port, onu_id, serial, active, online })
}

/// Reads the table of `display ont info 0 all`; rows look like
/// `0/ 1/0    1  485754431A2B3C4D  active      online   normal   match    no`.
pub fn parse_table(text: &str) -> Vec<OnuInfo> {
    text.lines()
        .filter_map(|line| {
            let mut joined = line.trim().to_owned();
            while joined.contains("/ ") {
                joined = joined.replace("/ ", "/");
            }
            let t: Vec<&str> = joined.split_whitespace().collect();
            if t.len() < 5 || t[0].matches('/').count() != 2 || !t[0].chars().all(|c| c.is_ascii_digit() || c == '/') {
                return None;
            }
            let active = match t[3] {
                "active" => true,
                "deactivated" => false,
                _ => return None,
            };
            Some(OnuInfo {
                port: t[0].to_owned(),
                onu_id: t[1].parse().ok()?,
                serial: normalize_serial(t[2]).ok()?,
                active,
                online: match t[4] {
                    "online" => Some(true),
                    "offline" => Some(false),
                    _ => None,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `display ont info 3 5` on an MA5600T V800R013, as an operator would capture it.
    const DETAIL: &str = "  -----------------------------------------------------------------------------
  F/S/P                   : 0/1/3
  ONT-ID                  : 5
  Control flag            : deactivated
  Run state               : offline
  Config state            : initial
  Match state             : initial
  DBA type                : SR
  ONT distance(m)         : -
  ONT battery state       : -
  Memory occupation       : -
  CPU occupation          : -
  Temperature             : -
  Authentic type          : SN-auth
  SN                      : 485754431A2B3C4D (HWTC-1A2B3C4D)
  Management mode         : OMCI
  Software work mode      : normal
  Isolation state         : normal
  ONT IP 0 address/mask   : -
  Description             : flat 12: Main St 4
  Last down cause         : -
  Last up time            : 2024-03-01 10:21:11+08:00
  Last down time          : 2024-03-02 09:00:02+08:00
  Last dying gasp time    : -
  ONT online duration     : -
  -----------------------------------------------------------------------------";

    const TABLE: &str = "  -----------------------------------------------------------------------------
  F/S/P   ONT         SN         Control     Run      Config   Match    Protect
          ID                     flag        state    state    state    side
  -----------------------------------------------------------------------------
  0/ 1/0    0  485754431A2B3C4D  active      online   normal   match    no
  0/ 1/0    1  48575443AABBCCDD  deactivated offline  normal   match    no
  0/ 1/3   12  5A544547C0A1B2C3  active      offline  normal   match    no
  -----------------------------------------------------------------------------
  In port 0/ 1/0 , the total of ONTs are: 2, online: 1
  -----------------------------------------------------------------------------
  F/S/P   ONT-ID   Description
  -----------------------------------------------------------------------------
  0/ 1/0       0   ONT_NO_DESCRIPTION
  -----------------------------------------------------------------------------";

    #[test]
    fn detail_block_gives_port_id_serial_and_states() {
        let onu = parse_detail(DETAIL).unwrap();
        assert_eq!(
            onu,
            OnuInfo {
                port: "0/1/3".into(),
                onu_id: 5,
                serial: "HWTC1A2B3C4D".into(),
                active: false,
                online: Some(false)
            }
        );
        let active = parse_detail(&DETAIL.replace("deactivated", "active").replace(": offline", ": online")).unwrap();
        assert!(active.active);
        assert_eq!(active.online, Some(true));
        assert_eq!(parse_detail("  Failure: The ONT does not exist"), None);
    }

    #[test]
    fn table_rows_are_read_and_other_lines_ignored() {
        let rows = parse_table(TABLE);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].port, "0/1/0");
        assert_eq!((rows[1].onu_id, rows[1].serial.as_str(), rows[1].active), (1, "HWTCAABBCCDD", false));
        assert_eq!(rows[1].online, Some(false));
        assert_eq!((rows[2].port.as_str(), rows[2].onu_id, rows[2].serial.as_str()), ("0/1/3", 12, "ZTEGC0A1B2C3"));
    }

    #[test]
    fn ports_split_into_interface_and_pon() {
        assert_eq!(split_port("0/1/3").unwrap(), ("0/1", "3"));
        assert!(split_port("3").is_err());
    }
}
