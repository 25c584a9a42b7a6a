//! A small async telnet client for OLT command lines: RFC 854 option negotiation, a
//! one-line "screen" that undoes the pager's erase sequences, login, prompt and pager
//! detection, and one timeout per command.
//!
//! [`TelnetCli`] reads any byte stream: a telnet TCP connection (option negotiation answered
//! and IAC sequences stripped) or an SSH shell channel (bytes as they come, see
//! [`super::ssh`]), so the vendor drivers do not know the transport.

use super::OltError;
use std::any::Any;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

// RFC 854 "TELNET COMMAND STRUCTURE".
const SE: u8 = 240;
const SB: u8 = 250;
const WILL: u8 = 251;
const WONT: u8 = 252;
const DO: u8 = 253;
const DONT: u8 = 254;
const IAC: u8 = 255;
/// RFC 857.
const OPT_ECHO: u8 = 1;
/// RFC 858.
const OPT_SGA: u8 = 3;

/// Pager prompts: Huawei MA5600T/MA5800 and ZTE C300/C320.
pub(crate) const HUAWEI_PAGER: &str = "---- More ( Press 'Q' to break ) ----";
pub(crate) const ZTE_PAGER: &str = "--More--";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IacState {
    Data,
    Iac,
    Verb(u8),
    Sub,
    SubIac,
}

/// Splits a telnet byte stream into data and answers to the peer's option negotiation.
///
/// Policy (RFC 854 §"general considerations", RFC 1143 loop avoidance: only answer a
/// request that changes the state): the server may ECHO and suppress go-ahead (RFC 857/858),
/// every other server option is refused with DONT; we offer only SGA ourselves and refuse
/// every DO with WONT (no terminal type, no window size). Subnegotiations are skipped.
pub struct IacParser {
    state: IacState,
    remote: [bool; 256],
    local: [bool; 256],
}

impl Default for IacParser {
    fn default() -> Self {
        Self { state: IacState::Data, remote: [false; 256], local: [false; 256] }
    }
}

impl IacParser {
    /// Appends the data bytes of `input` to `data` and the negotiation answers to `reply`.
    pub fn feed(&mut self, input: &[u8], data: &mut Vec<u8>, reply: &mut Vec<u8>) {
        for &b in input {
            self.state = match (self.state, b) {
                (IacState::Data, IAC) => IacState::Iac,
                // NUL is NVT padding (CR NUL is a bare carriage return).
                (IacState::Data, 0) => IacState::Data,
                (IacState::Data, _) => {
                    data.push(b);
                    IacState::Data
                }
                (IacState::Iac, IAC) => {
                    data.push(IAC);
                    IacState::Data
                }
                (IacState::Iac, WILL | WONT | DO | DONT) => IacState::Verb(b),
                (IacState::Iac, SB) => IacState::Sub,
                // NOP, GA, AYT, ... carry nothing for us.
                (IacState::Iac, _) => IacState::Data,
                (IacState::Verb(verb), opt) => {
                    self.negotiate(verb, opt, reply);
                    IacState::Data
                }
                (IacState::Sub, IAC) => IacState::SubIac,
                (IacState::Sub, _) => IacState::Sub,
                (IacState::SubIac, SE) => IacState::Data,
                (IacState::SubIac, _) => IacState::Sub,
            };
        }
    }

    fn negotiate(&mut self, verb: u8, opt: u8, reply: &mut Vec<u8>) {
        let i = usize::from(opt);
        let server_may = opt == OPT_ECHO || opt == OPT_SGA;
        match verb {
            WILL if server_may && !self.remote[i] => {
                self.remote[i] = true;
                reply.extend_from_slice(&[IAC, DO, opt]);
            }
            WILL if !server_may => reply.extend_from_slice(&[IAC, DONT, opt]),
            WONT if self.remote[i] => {
                self.remote[i] = false;
                reply.extend_from_slice(&[IAC, DONT, opt]);
            }
            DO if opt == OPT_SGA && !self.local[i] => {
                self.local[i] = true;
                reply.extend_from_slice(&[IAC, WILL, opt]);
            }
            DO if opt != OPT_SGA => reply.extend_from_slice(&[IAC, WONT, opt]),
            DONT if self.local[i] => {
                self.local[i] = false;
                reply.extend_from_slice(&[IAC, WONT, opt]);
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    None,
    /// After ESC.
    Start,
    /// After ESC [.
    Csi,
}

/// Finished lines plus the line under the cursor, as a terminal would show them: backspace
/// and `ESC [ n D` move the cursor left and later text overwrites, which is how both vendors
/// erase their pager prompt; other escape sequences are dropped.
#[derive(Debug, Default)]
pub struct Screen {
    lines: Vec<String>,
    cur: Vec<u8>,
    pos: usize,
    esc: EscState,
}

#[derive(Debug)]
struct EscState {
    mode: Esc,
    arg: usize,
}

impl Default for EscState {
    fn default() -> Self {
        Self { mode: Esc::None, arg: 0 }
    }
}

impl Screen {
    /// Applies data bytes (IAC already removed).
    pub fn feed(&mut self, data: &[u8]) {
        for &b in data {
            match self.esc.mode {
                Esc::Start => {
                    self.esc = EscState { mode: if b == b'[' { Esc::Csi } else { Esc::None }, arg: 0 };
                    continue;
                }
                Esc::Csi => {
                    if b.is_ascii_digit() {
                        self.esc.arg = self.esc.arg.saturating_mul(10).saturating_add(usize::from(b - b'0'));
                    } else if b.is_ascii_alphabetic() {
                        if b == b'D' {
                            self.pos = self.pos.saturating_sub(self.esc.arg.max(1));
                        }
                        self.esc.mode = Esc::None;
                    }
                    continue;
                }
                Esc::None => {}
            }
            match b {
                0x1b => self.esc = EscState { mode: Esc::Start, arg: 0 },
                b'\n' => {
                    let line = String::from_utf8_lossy(&self.cur).trim_end().to_owned();
                    self.lines.push(line);
                    self.cur.clear();
                    self.pos = 0;
                }
                b'\r' => self.pos = 0,
                0x08 => self.pos = self.pos.saturating_sub(1),
                0x07 => {}
                _ => {
                    if self.pos < self.cur.len() {
                        self.cur[self.pos] = b;
                    } else {
                        self.cur.push(b);
                    }
                    self.pos += 1;
                }
            }
        }
    }

    /// The unfinished line under the cursor (a prompt, when the device waits for input).
    pub fn current(&self) -> String {
        String::from_utf8_lossy(&self.cur).into_owned()
    }

    /// Forgets the unfinished line (after answering a pager prompt).
    pub fn clear_current(&mut self) {
        self.cur.clear();
        self.pos = 0;
    }

    /// Takes the finished lines.
    pub fn take_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }
}

/// What the device is waiting for at the end of its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// A command prompt, e.g. `MA5600T(config)#`.
    Prompt(String),
    /// `>>User name:` / `Username:`.
    User,
    /// `>>User password:` / `Password:`.
    Password,
    /// A question such as Huawei's `{ <cr>|number<U><10,512> }:` or `(y/n)[n]:`.
    Question(String),
}

/// Whether `line` looks like a CLI prompt: a host name, an optional `(mode)`, then `>` or `#`.
/// With `host`, the name must be that one, so a data line ending in `#` is not taken for one.
pub fn is_prompt(line: &str, host: Option<&str>) -> bool {
    let line = line.trim_end();
    let Some(body) = line.strip_suffix('#').or_else(|| line.strip_suffix('>')) else {
        return false;
    };
    let name = match body.find('(') {
        Some(open) => {
            if !body.ends_with(')') {
                return false;
            }
            &body[..open]
        }
        None => body,
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return false;
    }
    host.is_none_or(|h| h == name)
}

/// The host name part of a prompt (`MA5600T(config)#` -> `MA5600T`).
pub fn prompt_host(line: &str) -> String {
    let line = line.trim_end().trim_end_matches(['#', '>']);
    line.split('(').next().unwrap_or(line).to_owned()
}

fn classify(cur: &str, host: Option<&str>) -> Option<Wait> {
    let t = cur.trim_end();
    let lower = t.to_ascii_lowercase();
    if lower.ends_with("password:") {
        Some(Wait::Password)
    } else if lower.ends_with("user name:") || lower.ends_with("username:") || lower.ends_with("login:") {
        Some(Wait::User)
    } else if is_prompt(t, host) {
        Some(Wait::Prompt(t.to_owned()))
    } else if (t.contains("{ <cr>") && t.ends_with("}:")) || t.ends_with("(y/n)[n]:") {
        Some(Wait::Question(t.to_owned()))
    } else {
        None
    }
}

/// A bidirectional byte stream a CLI runs over.
pub trait CliStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> CliStream for T {}

/// One connection to a device CLI: telnet, or an SSH shell channel.
pub struct TelnetCli {
    stream: Box<dyn CliStream>,
    /// Whether the stream speaks telnet (IAC negotiation); false for an SSH channel.
    telnet: bool,
    /// What must live as long as the stream (the SSH connection handle).
    _keep: Option<Box<dyn Any + Send>>,
    iac: IacParser,
    screen: Screen,
    timeout: Duration,
    host: Option<String>,
    prompt: String,
    /// Set once the peer has closed the connection.
    eof: bool,
}

impl TelnetCli {
    /// Opens the TCP connection within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self, OltError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| OltError::Timeout { what: format!("connecting to {addr}"), after: timeout })?
            .map_err(|source| OltError::Connect { addr: addr.to_owned(), source })?;
        stream.set_nodelay(true).map_err(|source| OltError::Connect { addr: addr.to_owned(), source })?;
        Ok(Self {
            stream: Box::new(stream),
            telnet: true,
            _keep: None,
            iac: IacParser::default(),
            screen: Screen::default(),
            timeout,
            host: None,
            prompt: String::new(),
            eof: false,
        })
    }

    /// A CLI over an already open stream that is not telnet (an SSH shell channel): bytes
    /// pass unchanged. `keep` is dropped with the CLI (the connection the stream belongs to).
    pub fn over_stream(stream: Box<dyn CliStream>, keep: Option<Box<dyn Any + Send>>, timeout: Duration) -> Self {
        Self {
            stream,
            telnet: false,
            _keep: keep,
            iac: IacParser::default(),
            screen: Screen::default(),
            timeout,
            host: None,
            prompt: String::new(),
            eof: false,
        }
    }

    /// Accepts only prompts with this host name from now on.
    pub fn set_host(&mut self, host: String) {
        self.host = Some(host);
    }

    /// The last prompt seen, e.g. `MA5600T(config)#`.
    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// The per-command timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends raw bytes (IAC doubled over telnet, RFC 854).
    pub async fn send_raw(&mut self, text: &str) -> Result<(), OltError> {
        let mut out = Vec::with_capacity(text.len());
        for &b in text.as_bytes() {
            out.push(b);
            if b == IAC && self.telnet {
                out.push(IAC);
            }
        }
        self.stream.write_all(&out).await.map_err(|e| OltError::Disconnected(e.to_string()))?;
        self.stream.flush().await.map_err(|e| OltError::Disconnected(e.to_string()))
    }

    /// Sends one line, ended by CR LF (the NVT end of line).
    /// Forgets the prompt on screen first, so only the device's next prompt ends a wait.
    pub async fn send_line(&mut self, line: &str) -> Result<(), OltError> {
        self.screen.clear_current();
        self.send_raw(&format!("{line}\r\n")).await
    }

    /// Reads until the device waits for input, answering pager prompts with a space on the
    /// way. Returns what it waits for and the finished lines before it. `what` names the
    /// step for a timeout message.
    pub async fn wait(&mut self, what: &str) -> Result<(Wait, Vec<String>), OltError> {
        let deadline = Instant::now() + self.timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let cur = self.screen.current();
            if cur.contains(HUAWEI_PAGER) || cur.trim() == ZTE_PAGER {
                self.screen.clear_current();
                self.send_raw(" ").await?;
            } else if let Some(w) = classify(&cur, self.host.as_deref()) {
                if let Wait::Prompt(p) = &w {
                    self.prompt.clone_from(p);
                }
                return Ok((w, self.screen.take_lines()));
            }
            if self.eof {
                let mut lines = self.screen.take_lines();
                lines.push(self.screen.current());
                let text = lines.join("\n").trim().to_owned();
                return Err(OltError::Disconnected(if text.is_empty() {
                    format!("the device closed the connection while {what}")
                } else {
                    format!("the device closed the connection while {what}: {text}")
                }));
            }
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return Err(OltError::Timeout { what: what.to_owned(), after: self.timeout }),
                Ok(Err(e)) => return Err(OltError::Disconnected(e.to_string())),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                self.eof = true;
                continue;
            }
            if !self.telnet {
                self.screen.feed(&buf[..n]);
                continue;
            }
            let (mut data, mut reply) = (Vec::new(), Vec::new());
            self.iac.feed(&buf[..n], &mut data, &mut reply);
            if !reply.is_empty() {
                self.stream.write_all(&reply).await.map_err(|e| OltError::Disconnected(e.to_string()))?;
            }
            self.screen.feed(&data);
        }
    }

    /// Sends `line` and returns its output (without the echoed command and the prompt) once
    /// a prompt is back, answering `{ <cr>... }:` parameter questions with Enter.
    pub async fn command(&mut self, line: &str) -> Result<String, OltError> {
        self.screen.take_lines();
        self.send_line(line).await?;
        let mut out = Vec::new();
        let what = format!("waiting for `{line}`");
        loop {
            let (w, lines) = self.wait(&what).await?;
            out.extend(lines);
            match w {
                Wait::Prompt(_) => break,
                Wait::Question(q) if q.contains("{ <cr>") => {
                    self.send_line("").await?;
                }
                other => {
                    return Err(OltError::Protocol(format!("`{line}` left the device waiting for {other:?}")));
                }
            }
        }
        if out.first().is_some_and(|first| first.trim_end().ends_with(line.trim())) {
            out.remove(0);
        }
        Ok(out.join("\n"))
    }

    /// Shuts the connection down after sending `logout` lines (best effort: answers a
    /// `(y/n)` question with `y` and waits at most one second for the device to hang up).
    pub async fn close(mut self, logout: &[&str]) {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            for line in logout {
                if self.send_line(line).await.is_err() {
                    return;
                }
            }
            self.timeout = Duration::from_secs(1);
            if let Ok((Wait::Question(_), _)) = self.wait("logging out").await {
                let _ = self.send_line("y").await;
            }
            let mut buf = [0u8; 512];
            while matches!(self.stream.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
        let _ = self.stream.shutdown().await;
    }
}

/// The device's complaint in `output`, if it rejected the command: `% Unknown command`,
/// `%Error 20200: ...`, `Failure: ...`, `% Invalid input ...`.
pub fn rejection(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with('%') || l.starts_with("Failure:") || l.starts_with("Error:"))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        IacParser::default().feed(input, &mut data, &mut reply);
        (data, reply)
    }

    #[test]
    fn iac_negotiation_accepts_echo_and_sga_and_refuses_the_rest() {
        // WILL ECHO, WILL SGA, DO TTYPE (24), DO NAWS (31), WILL LINEMODE (34), DO SGA
        let (data, reply) =
            parse(&[IAC, WILL, 1, IAC, WILL, 3, IAC, DO, 24, IAC, DO, 31, IAC, WILL, 34, IAC, DO, 3, b'o', b'k']);
        assert_eq!(data, b"ok");
        assert_eq!(reply, vec![IAC, DO, 1, IAC, DO, 3, IAC, WONT, 24, IAC, WONT, 31, IAC, DONT, 34, IAC, WILL, 3]);
    }

    #[test]
    fn iac_repeated_requests_are_not_acknowledged_twice() {
        let mut p = IacParser::default();
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        p.feed(&[IAC, WILL, 1], &mut data, &mut reply);
        p.feed(&[IAC, WILL, 1], &mut data, &mut reply);
        assert_eq!(reply, vec![IAC, DO, 1]);
        reply.clear();
        p.feed(&[IAC, WONT, 1, IAC, WONT, 1], &mut data, &mut reply);
        assert_eq!(reply, vec![IAC, DONT, 1]);
    }

    #[test]
    fn iac_escaped_ff_subnegotiation_and_split_sequences() {
        let mut p = IacParser::default();
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        // IAC IAC is a data 0xFF; SB ... IAC SE is skipped whole; a sequence split across reads.
        p.feed(&[b'a', IAC], &mut data, &mut reply);
        p.feed(&[IAC, b'b', IAC, SB, 24, 1, IAC], &mut data, &mut reply);
        p.feed(&[SE, b'c', IAC, 241, b'd', 0, IAC, DO], &mut data, &mut reply);
        p.feed(&[24], &mut data, &mut reply);
        assert_eq!(data, vec![b'a', 0xFF, b'b', b'c', b'd']);
        assert_eq!(reply, vec![IAC, WONT, 24]);
    }

    #[test]
    fn screen_undoes_both_pager_erasures() {
        let mut s = Screen::default();
        // ZTE: "--More--", 8 backspaces, 8 spaces, 8 backspaces, then the next line.
        s.feed(b"line1\r\n--More--\x08\x08\x08\x08\x08\x08\x08\x08        \x08\x08\x08\x08\x08\x08\x08\x08line2\r\n");
        // Huawei: cursor left by ESC[37D, blank it, back again.
        let erase = format!("  {HUAWEI_PAGER}\x1b[37D{}\x1b[37Dline3\r\nMA5600T#", " ".repeat(37));
        s.feed(erase.as_bytes());
        let lines = s.take_lines();
        assert_eq!(lines[0], "line1");
        assert_eq!(lines[1], "line2");
        assert!(lines[2].trim_start().starts_with("line3"), "{:?}", lines[2]);
        assert_eq!(s.current(), "MA5600T#");
    }

    #[test]
    fn prompts_are_recognised_by_shape_and_host() {
        for p in ["MA5600T>", "MA5600T#", "MA5600T(config)#", "MA5600T(config-if-gpon-0/1)#", "ZXAN(config-if)#"] {
            assert!(is_prompt(p, None), "{p}");
        }
        assert!(is_prompt("ZXAN# ", Some("ZXAN")));
        assert!(!is_prompt("ZXAN#", Some("MA5600T")));
        assert!(!is_prompt("  Description : room #", None));
        assert!(!is_prompt("value > 3 #", None));
        assert_eq!(prompt_host("MA5600T(config-if-gpon-0/1)#"), "MA5600T");
        assert_eq!(classify(">>User name:", None), Some(Wait::User));
        assert_eq!(classify("Password:", None), Some(Wait::Password));
        assert!(matches!(classify("{ <cr>|number<U><10,512> }:", None), Some(Wait::Question(_))));
    }

    #[test]
    fn rejections_are_found_in_both_dialects() {
        assert_eq!(
            rejection("                 ^\n  % Unknown command, the error locates at '^'").as_deref(),
            Some("% Unknown command, the error locates at '^'")
        );
        assert_eq!(rejection("%Error 20200: Invalid command.").as_deref(), Some("%Error 20200: Invalid command."));
        assert_eq!(rejection("  Failure: The ONT does not exist").as_deref(), Some("Failure: The ONT does not exist"));
        assert_eq!(rejection("  Control flag : active"), None);
    }
}
