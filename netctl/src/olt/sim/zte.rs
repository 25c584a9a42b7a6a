//! The ZTE C320 dialect of the simulator: privileged, `configure terminal` and
//! `interface gpon-onu_P:ID` modes.

use super::{Conn, Mode, Next, SimOnu};
use crate::olt::normalize_serial;

impl Conn {
    pub(super) fn zte(&mut self, line: &str) -> (String, Next) {
        const INVALID: &str = "%Error 20200: Invalid command.";
        const NO_ONU: &str = "%Error 20105: The ONU does not exist.";
        const NOTHING: &str = "%Code 32310-GPONSRV : No related information to show.";
        let t: Vec<&str> = line.split_whitespace().collect();
        let ok = |s: String| (s, Next::Prompt);
        match (&self.mode, t.as_slice()) {
            (_, []) => ok(String::new()),
            (_, ["terminal", "length", "0"]) => {
                if !self.st().keep_paging {
                    self.paging = false;
                }
                ok(String::new())
            }
            (Mode::Privileged, ["configure", "terminal"]) => {
                self.mode = Mode::Config;
                ok("Enter configuration commands, one per line.  End with CNTL/Z.".into())
            }
            (Mode::Config | Mode::IfOnu(..), ["interface", name]) => match zte_index(name) {
                Some((port, id)) if self.find(&port, &id.to_string()).is_some() => {
                    self.mode = Mode::IfOnu(port, id);
                    ok(String::new())
                }
                Some(_) => ok(NO_ONU.into()),
                None => ok(INVALID.into()),
            },
            (Mode::IfOnu(port, id), cmd @ (["shutdown"] | ["no", "shutdown"])) => {
                let (port, id, active) = (port.clone(), *id, cmd.len() == 2);
                let mut st = self.st();
                st.mutations += 1;
                let apply = !st.ignore_changes;
                if let Some(o) = st.onus.iter_mut().find(|o| apply && o.port == port && o.onu_id == id) {
                    o.active = active;
                    o.online = active;
                }
                ok(String::new())
            }
            (Mode::IfOnu(..), ["exit"]) => {
                self.mode = Mode::Config;
                ok(String::new())
            }
            (Mode::Config, ["exit"]) => {
                self.mode = Mode::Privileged;
                ok(String::new())
            }
            (Mode::Privileged | Mode::User, ["exit"]) => (String::new(), Next::Close),
            (_, ["end"]) => {
                self.mode = Mode::Privileged;
                ok(String::new())
            }
            (_, ["show", "version"]) => ok(ZTE_VERSION.into()),
            (_, ["show", "gpon", "onu", "by", "sn", sn]) => {
                let found =
                    normalize_serial(sn).ok().and_then(|s| self.st().onus.iter().find(|o| o.serial == s).cloned());
                ok(found.map_or(NOTHING.into(), |o| {
                    format!("Search result\n-----------------------------------\ngpon-onu_{}:{}", o.port, o.onu_id)
                }))
            }
            (_, ["show", "gpon", "onu", "detail-info", name]) => {
                let found = zte_index(name).and_then(|(p, id)| self.find(&p, &id.to_string()));
                let terse = self.st().terse_detail;
                ok(found.map_or(NO_ONU.into(), |o| zte_detail(&o, terse)))
            }
            (_, ["show", "gpon", "onu", "state", rest @ ..]) if rest.len() <= 1 => {
                let port = rest.first().map(|r| r.trim_start_matches("gpon-olt_"));
                ok(self.zte_table(port, true))
            }
            (_, ["show", "gpon", "onu", "baseinfo", olt]) => {
                ok(self.zte_table(Some(olt.trim_start_matches("gpon-olt_")), false))
            }
            _ => ok(format!("{}^\n{INVALID}", " ".repeat(line.len() + 5))),
        }
    }

    fn zte_table(&self, port: Option<&str>, state: bool) -> String {
        let st = self.st();
        let rows: Vec<&SimOnu> = st.onus.iter().filter(|o| port.is_none_or(|p| p == o.port)).collect();
        if rows.is_empty() {
            return "%Code 32310-GPONSRV : No related information to show.".into();
        }
        let mut out = if state {
            vec!["OnuIndex               Admin State  OMCC State   O7 State     Phase State".to_owned(), "-".repeat(76)]
        } else {
            vec!["OnuIndex                 Type          Mode    AuthInfo             State".to_owned(), "-".repeat(79)]
        };
        for o in rows {
            let index = format!("gpon-onu_{}:{}", o.port, o.onu_id);
            out.push(if state {
                let (omcc, o7, phase) =
                    if o.online { ("enable", "operation", "working") } else { ("disable", "unknown", "OffLine") };
                format!("{index:<22} {:<12} {omcc:<12} {o7:<12} {phase}", if o.active { "enable" } else { "disable" })
            } else {
                format!("{index:<24} F660          sn      SN:{:<17} ready", o.serial)
            });
        }
        out.join("\n")
    }
}

const ZTE_VERSION: &str = "ZTE ZXA10 Software, Version: V2.1.0, Release software
Copyright (c) 2001-2016 by ZTE Corporation
System uptime is 12 days 3 hours 10 minutes";

fn zte_index(name: &str) -> Option<(String, u32)> {
    let (port, id) = name.strip_prefix("gpon-onu_")?.split_once(':')?;
    Some((port.to_owned(), id.parse().ok()?))
}

fn zte_detail(o: &SimOnu, terse: bool) -> String {
    let lines = [
        format!("ONU interface:         gpon-onu_{}:{}", o.port, o.onu_id),
        "  Name:                ONU".into(),
        "  Type:                F660".into(),
        "  State:               ready".into(),
        format!("  Admin state:         {}", if o.active { "enable" } else { "disable" }),
        format!("  Phase state:         {}", if o.online { "working" } else { "OffLine" }),
        "  Authentication mode: sn".into(),
        format!("  Serial number:       {}", o.serial),
        "  ONU Distance:        1203m".into(),
    ];
    let keep = |l: &&String| !(terse && (l.contains("Admin state") || l.contains("Phase state")));
    lines.iter().filter(keep).cloned().collect::<Vec<_>>().join("\n")
}
