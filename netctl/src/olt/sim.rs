//! In-process OLT for tests, over telnet ([`OltSim::start`]) or SSH ([`OltSim::start_ssh`]):
//! Huawei MA5600T or ZTE C320 dialect on a real TCP port,
//! with the vendors' banners, login prompts and failure texts, prompts per mode, option
//! negotiation (it offers ECHO and SGA and asks for a terminal type), paging of long
//! output, and the ONUs (port, id, serial, admin state) in memory. Handles for tests:
//! change an ONU by hand, count mutating commands, keep paging on, go down and come back.
//! Over SSH the user is authenticated by the SSH password exchange and the shell starts at
//! the prompt, as on the devices; the CLI behind it is the same.

use super::telnet::CliStream;
use super::{normalize_serial, OltConfig, OltTransport, OltVendor};
use russh::keys::{Algorithm, PrivateKey};
use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod huawei;
mod zte;

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
    terse_detail: bool,
    page_lines: usize,
    negotiation: Vec<u8>,
}

/// A running simulated OLT bound to `127.0.0.1`; stops when dropped.
pub struct OltSim {
    addr: SocketAddr,
    /// SSH server configuration (with the host key), when serving SSH.
    ssh: Option<Arc<russh::server::Config>>,
    shared: Arc<Mutex<Shared>>,
    drop_tx: watch::Sender<u64>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl OltSim {
    /// Starts an OLT of `vendor` accepting one user, holding `onus`.
    pub async fn start(vendor: OltVendor, user: &str, password: &str, onus: Vec<SimOnu>) -> Self {
        Self::start_on(vendor, user, password, onus, None).await
    }

    /// The same OLT served over SSH with `host_key` (see [`generate_host_key`](Self::generate_host_key)):
    /// password authentication, then the CLI at its prompt.
    pub async fn start_ssh(
        vendor: OltVendor,
        user: &str,
        password: &str,
        onus: Vec<SimOnu>,
        host_key: PrivateKey,
    ) -> Self {
        let config = russh::server::Config {
            keys: vec![host_key],
            auth_rejection_time: Duration::from_millis(10),
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: None,
            ..Default::default()
        };
        Self::start_on(vendor, user, password, onus, Some(Arc::new(config))).await
    }

    /// A fresh Ed25519 host key for [`start_ssh`](Self::start_ssh).
    pub fn generate_host_key() -> PrivateKey {
        PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).expect("Ed25519 host key")
    }

    /// SSH: the host key's SHA-256 fingerprint as a client pins it (64 hex digits).
    pub fn host_key_fingerprint(&self) -> Option<String> {
        self.ssh.as_ref().and_then(|c| c.keys.first()).map(|k| super::ssh::fingerprint(k.public_key()))
    }

    async fn start_on(
        vendor: OltVendor,
        user: &str,
        password: &str,
        onus: Vec<SimOnu>,
        ssh: Option<Arc<russh::server::Config>>,
    ) -> Self {
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
            terse_detail: false,
            page_lines: 20,
            negotiation: Vec::new(),
        }));
        let (drop_tx, _) = watch::channel(0u64);
        let sim = Self { addr, ssh, shared, drop_tx, accept: Mutex::new(None) };
        sim.spawn_accept(listener);
        sim
    }

    fn spawn_accept(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let drop_rx = self.drop_tx.subscribe();
        let ssh = self.ssh.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                let mut drop_rx = drop_rx.clone();
                drop_rx.mark_unchanged();
                if let Some(config) = &ssh {
                    let handler = SshConn { shared: shared.clone(), drop_rx: drop_rx.clone(), channel: None };
                    let config = config.clone();
                    tokio::spawn(async move {
                        let Ok(running) = russh::server::run_stream(config, sock, handler).await else { return };
                        let handle = running.handle();
                        tokio::select! {
                            _ = drop_rx.changed() => {
                                let _ = handle
                                    .disconnect(russh::Disconnect::ByApplication, "device going down".into(), String::new())
                                    .await;
                            }
                            _ = running => {}
                        }
                    });
                    continue;
                }
                let conn = Conn::new(Box::new(sock), shared.clone(), false);
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
            transport: if self.ssh.is_some() { OltTransport::Ssh } else { OltTransport::Telnet },
            host_key_fingerprint: None,
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

    /// ZTE: leaves "Admin state" and "Phase state" out of `show gpon onu detail-info`, as
    /// older firmware does.
    pub fn terse_detail(&self, on: bool) {
        self.state().terse_detail = on;
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

/// One SSH connection: checks the password, then serves the CLI on the shell channel.
struct SshConn {
    shared: Arc<Mutex<Shared>>,
    drop_rx: watch::Receiver<u64>,
    channel: Option<Channel<Msg>>,
}

impl russh::server::Handler for SshConn {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let st = self.shared.lock().expect("simulator state poisoned");
        Ok(if st.user == user && st.password == password { Auth::Accept } else { Auth::reject() })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        self.channel = Some(channel);
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        let Some(ch) = self.channel.take().filter(|c| c.id() == channel) else {
            return session.channel_failure(channel);
        };
        session.channel_success(channel)?;
        let conn = Conn::new(Box::new(ch.into_stream()), self.shared.clone(), true);
        let mut drop_rx = self.drop_rx.clone();
        let handle = session.handle();
        tokio::spawn(async move {
            tokio::select! {
                _ = drop_rx.changed() => {}
                _ = conn.serve() => {}
            }
            // Logged out: end the SSH connection, as the devices do.
            let _ = handle.disconnect(russh::Disconnect::ByApplication, "logout".into(), String::new()).await;
        });
        Ok(())
    }
}

struct Conn {
    sock: Box<dyn CliStream>,
    /// SSH shell: no telnet negotiation, the user is already authenticated.
    ssh: bool,
    inbuf: VecDeque<u8>,
    after_cr: bool,
    shared: Arc<Mutex<Shared>>,
    vendor: OltVendor,
    mode: Mode,
    paging: bool,
}

impl Conn {
    fn new(sock: Box<dyn CliStream>, shared: Arc<Mutex<Shared>>, ssh: bool) -> Self {
        let vendor = shared.lock().expect("simulator state poisoned").vendor;
        Self { sock, ssh, inbuf: VecDeque::new(), after_cr: false, shared, vendor, mode: Mode::User, paging: true }
    }

    fn st(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("simulator state poisoned")
    }

    async fn write(&mut self, s: &str) -> Option<()> {
        self.sock.write_all(s.as_bytes()).await.ok()?;
        self.sock.flush().await.ok()
    }

    /// The next data byte, with the client's IAC sequences taken out (and recorded).
    async fn byte(&mut self) -> Option<u8> {
        loop {
            let b = self.raw().await?;
            if b != IAC || self.ssh {
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
        if self.ssh {
            if self.logged_in().await.is_some() {
                let _ = self.session().await;
            }
            return;
        }
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
                return self.logged_in().await;
            }
            self.write(refused).await?;
        }
        let _ = self.write("  Reenter times have reached the upper limit.\r\n").await;
        None
    }

    /// The welcome text and first prompt after a successful login.
    async fn logged_in(&mut self) -> Option<()> {
        self.mode = match self.vendor {
            OltVendor::Huawei => Mode::User,
            OltVendor::Zte => Mode::Privileged,
        };
        let welcome = match self.vendor {
            OltVendor::Huawei => "\r\n  Huawei Integrated Access Software (MA5600T).\r\n  Copyright(C) Huawei Technologies Co., Ltd. 2002-2014. All rights reserved.\r\n\r\n",
            OltVendor::Zte => "\r\n",
        };
        let prompt = self.prompt();
        self.write(&format!("{welcome}{prompt}")).await
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
                        Question::Version => self.output(huawei::HUAWEI_VERSION).await?,
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
            if i > 0 && self.paging {
                let (marker, erase) = match self.vendor {
                    OltVendor::Huawei => {
                        let m = "  ---- More ( Press 'Q' to break ) ----";
                        (m.to_owned(), format!("\x1b[37D{}\x1b[37D", " ".repeat(37)))
                    }
                    OltVendor::Zte => ("--More--".to_owned(), format!("{0}{1}{0}", "\x08".repeat(8), " ".repeat(8))),
                };
                self.write(&marker).await?;
                let key = self.byte().await?;
                self.write(&erase).await?;
                if key == b'q' || key == b'Q' {
                    return self.write("\r\n").await;
                }
            }
            let mut s = chunk.join("\r\n");
            s.push_str("\r\n");
            self.write(&s).await?;
        }
        Some(())
    }

    fn find(&self, port: &str, id: &str) -> Option<SimOnu> {
        self.st().onus.iter().find(|o| o.port == port && id.parse() == Ok(o.onu_id)).cloned()
    }
}
