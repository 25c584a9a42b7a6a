//! The Huawei MA5600T dialect of the simulator: user, privileged, `config` and
//! `interface gpon F/S` modes.

use super::{Conn, Mode, Next, Question, SimOnu};
use crate::olt::{normalize_serial, serial_hex};
use std::collections::BTreeMap;

impl Conn {
    pub(super) fn huawei(&mut self, line: &str) -> (String, Next) {
        const UNKNOWN: &str = "                 ^\r\n  % Unknown command, the error locates at '^'";
        const NO_ONT: &str = "  Failure: The ONT does not exist";
        let t: Vec<&str> = line.split_whitespace().collect();
        let ok = |s: String| (s, Next::Prompt);
        match (&self.mode, t.as_slice()) {
            (_, []) => ok(String::new()),
            (Mode::User, ["enable"]) => {
                self.mode = Mode::Privileged;
                ok(String::new())
            }
            (Mode::Privileged | Mode::Config, ["display", "version"]) => {
                (String::new(), Next::Ask("{ <cr>|backplane<K>|frameid/slotid<S><Length 1-15> }:", Question::Version))
            }
            (_, ["scroll"]) => (String::new(), Next::Ask("{ <cr>|number<U><10,512> }:", Question::Scroll)),
            (Mode::Privileged, ["config"]) => {
                self.mode = Mode::Config;
                ok(String::new())
            }
            (Mode::User | Mode::Privileged, ["quit"]) => {
                (String::new(), Next::Ask("  Are you sure to log out? (y/n)[n]:", Question::Logout))
            }
            (Mode::Config, ["quit"]) => {
                self.mode = Mode::Privileged;
                ok(String::new())
            }
            (Mode::IfGpon(_), ["quit"]) => {
                self.mode = Mode::Config;
                ok(String::new())
            }
            (Mode::Config, ["interface", "gpon", fs]) if fs.split('/').count() == 2 => {
                self.mode = Mode::IfGpon((*fs).to_owned());
                ok(String::new())
            }
            (Mode::IfGpon(fs), ["ont", verb @ ("activate" | "deactivate"), p, id]) => {
                let port = format!("{fs}/{p}");
                let active = *verb == "activate";
                let mut st = self.st();
                st.mutations += 1;
                let apply = !st.ignore_changes;
                match st.onus.iter_mut().find(|o| o.port == port && id.parse() == Ok(o.onu_id)) {
                    Some(o) => {
                        if apply {
                            o.active = active;
                            o.online = active;
                        }
                        ok(String::new())
                    }
                    None => ok(NO_ONT.into()),
                }
            }
            (Mode::Privileged | Mode::Config | Mode::IfGpon(_), ["display", "ont", "info", "by-sn", sn]) => {
                let found =
                    normalize_serial(sn).ok().and_then(|s| self.st().onus.iter().find(|o| o.serial == s).cloned());
                ok(found.map_or(NO_ONT.into(), |o| huawei_detail(&o)))
            }
            (Mode::IfGpon(fs), ["display", "ont", "info", p, id]) => {
                let port = format!("{fs}/{p}");
                ok(self.find(&port, id).map_or(NO_ONT.into(), |o| huawei_detail(&o)))
            }
            (Mode::Privileged | Mode::Config, ["display", "ont", "info", f, s, p, id]) => {
                let port = format!("{f}/{s}/{p}");
                ok(self.find(&port, id).map_or(NO_ONT.into(), |o| huawei_detail(&o)))
            }
            (Mode::Privileged | Mode::Config, ["display", "ont", "info", f, "all"]) => ok(self.huawei_table(f)),
            _ => ok(UNKNOWN.into()),
        }
    }

    fn huawei_table(&self, frame: &str) -> String {
        let st = self.st();
        let mut by_port: BTreeMap<&str, Vec<&SimOnu>> = BTreeMap::new();
        for o in st.onus.iter().filter(|o| o.port.split('/').next() == Some(frame)) {
            by_port.entry(&o.port).or_default().push(o);
        }
        let rule = format!("  {}", "-".repeat(77));
        let mut out = vec![
            rule.clone(),
            "  F/S/P   ONT         SN         Control     Run      Config   Match    Protect".into(),
            "          ID                     flag        state    state    state    side".into(),
            rule.clone(),
        ];
        for (port, onus) in &by_port {
            let wide = huawei_port(port);
            for o in onus {
                out.push(format!(
                    "  {wide}  {:>3}  {}  {:<11} {:<8} normal   match    no",
                    o.onu_id,
                    serial_hex(&o.serial),
                    if o.active { "active" } else { "deactivated" },
                    if o.online { "online" } else { "offline" },
                ));
            }
            out.push(rule.clone());
            let online = onus.iter().filter(|o| o.online).count();
            out.push(format!("  In port {wide} , the total of ONTs are: {}, online: {online}", onus.len()));
            out.push(rule.clone());
        }
        out.join("\n")
    }
}

pub(super) const HUAWEI_VERSION: &str = "
  Command:
          display version
  VERSION : MA5600V800R013C10
  PATCH   : SPC100
  PRODUCT : MA5600T
  Uptime is 12 day(s), 3 hour(s), 10 minute(s), 5 second(s)";

/// `0/1/3` -> `0/ 1/3`, as Huawei prints F/S/P in tables.
fn huawei_port(port: &str) -> String {
    let parts: Vec<&str> = port.split('/').collect();
    match parts.as_slice() {
        [f, s, p] => format!("{f}/{s:>2}/{p}"),
        _ => port.to_owned(),
    }
}

fn huawei_detail(o: &SimOnu) -> String {
    let rule = format!("  {}", "-".repeat(77));
    let (vendor, rest) = o.serial.split_at(4);
    [
        rule.clone(),
        format!("  F/S/P                   : {}", o.port),
        format!("  ONT-ID                  : {}", o.onu_id),
        format!("  Control flag            : {}", if o.active { "active" } else { "deactivated" }),
        format!("  Run state               : {}", if o.online { "online" } else { "offline" }),
        "  Config state            : normal".into(),
        "  Match state             : match".into(),
        "  Authentic type          : SN-auth".into(),
        format!("  SN                      : {} ({vendor}-{rest})", serial_hex(&o.serial)),
        "  Management mode         : OMCI".into(),
        "  Description             : ONT_NO_DESCRIPTION".into(),
        rule,
    ]
    .join("\n")
}
