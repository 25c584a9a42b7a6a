//! In-process telnet OLT for tests: Huawei MA5600T or ZTE C320 dialect on a real TCP port,
//! with the vendors' banners, login prompts and failure texts, prompts per mode, option
//! negotiation (it offers ECHO and SGA and asks for a terminal type), paging of long
//! output, and the ONUs (port, id, serial, admin state) in memory. Handles for tests:
//! change an ONU by hand, count mutating commands, keep paging on, go down and come back.

use super::{normalize_serial, serial_hex, OltConfig, OltVendor};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;

/// One ONU in the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOnu {
    /// PON port as the vendor writes it (`0/1/3`, `1/2/1`).
    pub port: String,
    /// ONU id on the port.
    pub onu_id: u32,
    /// Normalised serial.
    pub serial: String,
    /// Administrative state.
    pub active: bool,
    /// Up on the fibre (only while active).
    pub online: bool,
}

impl SimOnu {
    /// An active, online ONU; `serial` in any accepted form.
    pub fn new(port: &str, onu_id: u32, serial: &str) -> Self {
        let serial = normalize_serial(serial).expect("simulator ONU serial");
        Self { port: port.to_owned(), onu_id, serial, active: true, online: true }
    }
}

struct Shared {
    vendor: OltVendor,
    user: String,
    password: String,
    onus: Vec<SimOnu>,
    mutations: usize,
    commands: Vec<String>,
    keep_paging: bool,
    ignore_changes: bool,
    page_lines: usize,
    negotiation: Vec<u8>,
}

/// A running simulated OLT bound to `127.0.0.1`; stops when dropped.
pub struct OltSim {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    drop_tx: watch::Sender<u64>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl OltSim {
    /// Starts an OLT of `vendor` accepting one user, holding `onus`.
    pub async fn start(vendor: OltVendor, user: &str, password: &str, onus: Vec<SimOnu>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind OLT simulator");
        let addr = listener.local_addr().expect("simulator address");
        let shared = Arc::new(Mutex::new(Shared {
            vendor,
            user: user.to_owned(),
            password: password.to_owned(),
            onus,
            mutations: 0,
            commands: Vec::new(),
            keep_paging: false,
            ignore_changes: false,
            page_lines: 20,
            negotiation: Vec::new(),
        }));
        let (drop_tx, _) = watch::channel(0u64);
        let sim = Self { addr, shared, drop_tx, accept: Mutex::new(None) };
        sim.spawn_accept(listener);
        sim
    }

    fn spawn_accept(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let drop_rx = self.drop_tx.subscribe();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                let mut drop_rx = drop_rx.clone();
                drop_rx.mark_unchanged();
                let conn = Conn::new(sock, shared.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = drop_rx.changed() => {}
                        _ = conn.serve() => {}
                    }
                });
            }
        });
        if let Some(old) = self.accept.lock().expect("accept handle").replace(task) {
            old.abort();
        }
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client configuration for this simulator with the given credentials.
    pub fn config(&self, user: &str, password: &str) -> OltConfig {
        OltConfig {
            vendor: self.state().vendor,
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            username: user.to_owned(),
            password: password.to_owned(),
            timeout: Duration::from_secs(5),
        }
    }

    fn state(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("simulator state poisoned")
    }

    /// The ONU with this serial (any accepted form).
    pub fn onu(&self, serial: &str) -> Option<SimOnu> {
        let serial = normalize_serial(serial).ok()?;
        self.state().onus.iter().find(|o| o.serial == serial).cloned()
    }

    /// Changes an ONU's admin state "by hand"; false if there is no such ONU.
    pub fn set_onu_active(&self, serial: &str, active: bool) -> bool {
        let Ok(serial) = normalize_serial(serial) else { return false };
        let mut st = self.state();
        match st.onus.iter_mut().find(|o| o.serial == serial) {
            Some(o) => {
                o.active = active;
                o.online = active;
                true
            }
            None => false,
        }
    }

    /// How many mutating commands (`ont activate|deactivate`, `shutdown`, `no shutdown`)
    /// the simulator has received.
    pub fn mutations(&self) -> usize {
        self.state().mutations
    }

    /// Every command line received after login, in order.
    pub fn commands(&self) -> Vec<String> {
        self.state().commands.clone()
    }

    /// Ignores the paging-off commands, so long output comes through the pager; `lines` per page.
    pub fn keep_paging(&self, lines: usize) {
        let mut st = self.state();
        st.keep_paging = true;
        st.page_lines = lines.max(1);
    }

    /// Accepts mutating commands without applying them (a device that says yes and does
    /// nothing), so the driver's read-back has something to catch.
    pub fn ignore_changes(&self, on: bool) {
        self.state().ignore_changes = on;
    }

    /// The option negotiation bytes clients sent back (IAC verb option triples).
    pub fn client_negotiation(&self) -> Vec<u8> {
        self.state().negotiation.clone()
    }

    /// Closes every open connection at once, as a reboot or a cut fibre would.
    pub fn drop_connections(&self) {
        self.drop_tx.send_modify(|n| *n += 1);
    }

    /// Stops accepting connections (refused) and drops the open ones: the device is down.
    pub fn go_down(&self) {
        if let Some(task) = self.accept.lock().expect("accept handle").take() {
            task.abort();
        }
        self.drop_connections();
    }

    /// Listens again on the same address after [`go_down`](Self::go_down).
    pub async fn come_back(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("re-bind OLT simulator");
        self.spawn_accept(listener);
    }
}

impl Drop for OltSim {
    fn drop(&mut self) {
        self.go_down();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    User,
    Privileged,
    Config,
    /// Huawei `interface gpon F/S`.
    IfGpon(String),
    /// ZTE `interface gpon-onu_P:ID`.
    IfOnu(String, u32),
}

/// What the session loop does after a command.
enum Next {
    Prompt,
    /// Ask this question, then run the closure's counterpart in `serve`.
    Ask(&'static str, Question),
    Close,
}

#[derive(Clone, Copy)]
enum Question {
    Scroll,
    Logout,
    /// Huawei `display version` asks which board first.
    Version,
}

struct Conn {
    sock: TcpStream,
    inbuf: VecDeque<u8>,
    after_cr: bool,
    shared: Arc<Mutex<Shared>>,
    vendor: OltVendor,
    mode: Mode,
    paging: bool,
}

impl Conn {
    fn new(sock: TcpStream, shared: Arc<Mutex<Shared>>) -> Self {
        let vendor = shared.lock().expect("simulator state poisoned").vendor;
        Self { sock, inbuf: VecDeque::new(), after_cr: false, shared, vendor, mode: Mode::User, paging: true }
    }

    fn st(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("simulator state poisoned")
    }

    async fn write(&mut self, s: &str) -> Option<()> {
        self.sock.write_all(s.as_bytes()).await.ok()
    }

    /// The next data byte, with the client's IAC sequences taken out (and recorded).
    async fn byte(&mut self) -> Option<u8> {
        loop {
            let b = self.raw().await?;
            if b != IAC {
                return Some(b);
            }
            match self.raw().await? {
                IAC => return Some(IAC),
                SB => while !(self.raw().await? == IAC && self.raw().await? == SE) {},
                verb @ 251..=254 => {
                    let opt = self.raw().await?;
                    self.st().negotiation.extend_from_slice(&[IAC, verb, opt]);
                }
                _ => {}
            }
        }
    }

    async fn raw(&mut self) -> Option<u8> {
        if self.inbuf.is_empty() {
            let mut buf = [0u8; 1024];
            let n = self.sock.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            self.inbuf.extend(&buf[..n]);
        }
        self.inbuf.pop_front()
    }

    /// One input line (CR, LF, CR LF and CR NUL all end it), echoed back if `echo`.
    async fn line(&mut self, echo: bool) -> Option<String> {
        let mut line = Vec::new();
        loop {
            let b = self.byte().await?;
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\n' | 0 if after_cr => continue,
                b'\r' | b'\n' => break,
                _ => line.push(b),
            }
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        if echo {
            self.write(&format!("{line}\r\n")).await?;
        } else {
            self.write("\r\n").await?;
        }
        Some(line)
    }

    fn prompt(&self) -> String {
        let host = match self.vendor {
            OltVendor::Huawei => "MA5600T",
            OltVendor::Zte => "ZXAN",
        };
        match &self.mode {
            Mode::User => format!("{host}>"),
            Mode::Privileged => format!("{host}#"),
            Mode::Config => format!("{host}(config)#"),
            Mode::IfGpon(fs) => format!("{host}(config-if-gpon-{fs})#"),
            Mode::IfOnu(..) => format!("{host}(config-if)#"),
        }
    }

    async fn serve(mut self) {
        // Offer ECHO and SGA, ask for a terminal type (clients should refuse).
        if self.sock.write_all(&[IAC, 251, 1, IAC, 251, 3, IAC, 253, 24]).await.is_err() {
            return;
        }
        if self.login().await.is_none() {
            return;
        }
        let _ = self.session().await;
    }

    async fn login(&mut self) -> Option<()> {
        let (banner, user_prompt, pass_prompt, refused) = match self.vendor {
            OltVendor::Huawei => (
                "\r\n\r\nWarning: Telnet is not a secure protocol, and it is recommended to use Stelnet.\r\n\r\n",
                ">>User name:",
                ">>User password:",
                "\r\n  Username or password invalid.\r\n\r\n",
            ),
            OltVendor::Zte => (
                "\r\n************************************************\r\nWelcome to ZXAN product C320 of ZTE Corporation\r\n************************************************\r\n\r\n",
                "Username:",
                "Password:",
                "\r\n%Error 20209: Bad password or user name.\r\n",
            ),
        };
        self.write(banner).await?;
        for _ in 0..3 {
            self.write(user_prompt).await?;
            let user = self.line(true).await?;
            self.write(pass_prompt).await?;
            let pass = self.line(false).await?;
            let ok = {
                let st = self.st();
                st.user == user && st.password == pass
            };
            if ok {
                self.mode = match self.vendor {
                    OltVendor::Huawei => Mode::User,
                    OltVendor::Zte => Mode::Privileged,
                };
                let welcome = match self.vendor {
                    OltVendor::Huawei => "\r\n  Huawei Integrated Access Software (MA5600T).\r\n  Copyright(C) Huawei Technologies Co., Ltd. 2002-2014. All rights reserved.\r\n\r\n",
                    OltVendor::Zte => "\r\n",
                };
                let prompt = self.prompt();
                return self.write(&format!("{welcome}{prompt}")).await;
            }
            self.write(refused).await?;
        }
        let _ = self.write("  Reenter times have reached the upper limit.\r\n").await;
        None
    }

    async fn session(&mut self) -> Option<()> {
        loop {
            let line = self.line(true).await?;
            let line = line.trim().to_owned();
            if !line.is_empty() {
                self.st().commands.push(line.clone());
            }
            let (text, next) = match self.vendor {
                OltVendor::Huawei => self.huawei(&line),
                OltVendor::Zte => self.zte(&line),
            };
            self.output(&text).await?;
            match next {
                Next::Prompt => {}
                Next::Close => return None,
                Next::Ask(q, which) => {
                    self.write(q).await?;
                    let answer = self.line(true).await?;
                    match which {
                        Question::Scroll => {
                            if !self.st().keep_paging {
                                self.paging = false;
                            }
                        }
                        Question::Logout if answer.trim().eq_ignore_ascii_case("y") => {
                            let _ = self.write("\r\n  Check whether system data has been changed. Please save data before logout.\r\n").await;
                            return None;
                        }
                        Question::Logout => {}
                        Question::Version => self.output(HUAWEI_VERSION).await?,
                    }
                }
            }
            let prompt = self.prompt();
            let gap = if self.vendor == OltVendor::Huawei && !text.is_empty() { "\r\n" } else { "" };
            self.write(&format!("{gap}{prompt}")).await?;
        }
    }

    /// Writes command output, through the pager when paging is on and it is long.
    async fn output(&mut self, text: &str) -> Option<()> {
        if text.is_empty() {
            return Some(());
        }
        let page = self.st().page_lines;
        let lines: Vec<&str> = text.lines().collect();
        for (i, chunk) in lines.chunks(page).enumerate() {
            if i > 0 {
                if !self.paging {
                    // fall through: no pager
                } else {
                    let (marker, erase) = match self.vendor {
                        OltVendor::Huawei => {
                            let m = "  ---- More ( Press 'Q' to break ) ----";
                            (m.to_owned(), format!("\x1b[37D{}\x1b[37D", " ".repeat(37)))
                        }
                        OltVendor::Zte => {
                            ("--More--".to_owned(), format!("{0}{1}{0}", "\x08".repeat(8), " ".repeat(8)))
                        }
                    };
                    self.write(&marker).await?;
                    let key = self.byte().await?;
                    self.write(&erase).await?;
                    if key == b'q' || key == b'Q' {
                        return self.write("\r\n").await;
                    }
                }
            }
            let mut s = chunk.join("\r\n");
            s.push_str("\r\n");
            self.write(&s).await?;
        }
        Some(())
    }

    fn huawei(&mut self, line: &str) -> (String, Next) {
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

    fn find(&self, port: &str, id: &str) -> Option<SimOnu> {
        self.st().onus.iter().find(|o| o.port == port && id.parse() == Ok(o.onu_id)).cloned()
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

    fn zte(&mut self, line: &str) -> (String, Next) {
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
                ok(found.map_or(NO_ONU.into(), |o| zte_detail(&o)))
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

const HUAWEI_VERSION: &str = "
  Command:
          display version
  VERSION : MA5600V800R013C10
  PATCH   : SPC100
  PRODUCT : MA5600T
  Uptime is 12 day(s), 3 hour(s), 10 minute(s), 5 second(s)";

const ZTE_VERSION: &str = "ZTE ZXA10 Software, Version: V2.1.0, Release software
Copyright (c) 2001-2016 by ZTE Corporation
System uptime is 12 days 3 hours 10 minutes";

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

fn zte_index(name: &str) -> Option<(String, u32)> {
    let (port, id) = name.strip_prefix("gpon-onu_")?.split_once(':')?;
    Some((port.to_owned(), id.parse().ok()?))
}

fn zte_detail(o: &SimOnu) -> String {
    [
        format!("ONU interface:         gpon-onu_{}:{}", o.port, o.onu_id),
        "  Name:                ONU".into(),
        "  Type:                F660".into(),
        "  State:               ready".into(),
        format!("  Admin state:         {}", if o.active { "enable" } else { "disable" }),
        format!("  Phase state:         {}", if o.online { "working" } else { "OffLine" }),
        "  Authentication mode: sn".into(),
        format!("  Serial number:       {}", o.serial),
        "  ONU Distance:        1203m".into(),
    ]
    .join("\n")
}
