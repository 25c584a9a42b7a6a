//! GPON OLT drivers over telnet or SSH: suspend and resume a subscriber by deactivating or
//! activating their ONU, verified by reading the state back, and list every ONU for `sync`.
//!
//! [`OltSession`] logs in ([`telnet`]: RFC 854 negotiation, pager, prompts), leaves the CLI in
//! privileged mode with paging off, and speaks one of two dialects. The transport is telnet
//! or SSH ([`ssh`]: password authentication, a shell channel with a PTY, the host key pinned
//! by [`OltConfig::host_key_fingerprint`] or accepted and logged on first use); either way the
//! drivers read the same byte stream (telnet after IAC stripping, or the SSH channel), so
//! prompts, paging and error texts are handled alike. Over SSH the device authenticates the
//! user itself and goes straight to its prompt. These are the exact
//! command lines sent:
//!
//! **Huawei MA5600T / MA5800** ([`huawei`]; prompts `MA5600T>`, `MA5600T#`,
//! `MA5600T(config)#`, `MA5600T(config-if-gpon-0/1)#`)
//! - login: `>>User name:` / `>>User password:`, then `enable`, then `scroll` (the device
//!   asks `{ <cr>|number<U><10,512> }:` and Enter is sent: no paging for the session).
//! - find: `display ont info by-sn 485754431A2B3C4D` (Huawei shows and takes the serial as
//!   16 hex digits); `Failure: The ONT does not exist` means not found.
//! - list: `display ont info 0 all` (the frame-0 table: F/S/P, ONT ID, SN, Control flag, Run state).
//! - suspend/resume: `config`, `interface gpon 0/1`, `ont deactivate 3 5` or
//!   `ont activate 3 5`, read back with `display ont info 3 5` ("Control flag : active |
//!   deactivated", "Run state : online | offline"), then `quit`, `quit`.
//!
//! **ZTE C300 / C320** ([`zte`]; prompts `ZXAN>`, `ZXAN#`, `ZXAN(config)#`, `ZXAN(config-if)#`)
//! - login: `Username:` / `Password:` (then `enable` if the user lands in `ZXAN>`; an
//!   enable password, if asked, is the login password), then `terminal length 0`.
//! - find: `show gpon onu by sn ZTEGC0A1B2C3` (ZTE shows and takes the serial as 4 vendor
//!   letters + 8 hex digits) gives `gpon-onu_1/2/1:5` under "Search result"; then
//!   `show gpon onu detail-info gpon-onu_1/2/1:5` gives "Admin state: enable | disable",
//!   "Phase state: working | LOS | DyingGasp | OffLine ..." and "Serial number:" (firmware
//!   without the two state lines there: `show gpon onu state gpon-olt_1/2/1` for them).
//! - list: `show gpon onu state` (OnuIndex, Admin State, OMCC State, [O7 State,] Phase
//!   State for every ONU), then `show gpon onu baseinfo gpon-olt_1/2/1` per PON port for the
//!   serials (AuthInfo `SN:...`).
//! - suspend/resume: `configure terminal`, `interface gpon-onu_1/2/1:5`, `shutdown` or
//!   `no shutdown`, `end`, read back with `show gpon onu detail-info gpon-onu_1/2/1:5`.
//!   Why `shutdown` on the ONU interface: it is the ONU's administrative state, the one the
//!   "Admin State" column of `show gpon onu state` and "Admin state" of `detail-info`
//!   report, and it survives the ONU re-ranging (unlike `onu reset`) without removing its
//!   configuration (unlike `no onu 5` under `interface gpon-olt_1/2/1`). Some V2.x
//!   firmware notes describe `onu 5 state disable` under `interface gpon-olt_1/2/1` for the
//!   same state; the driver does not send it. Both were found in public operator notes, not
//!   checked against a real C300/C320 here: the read-back is what proves the effect.
//!
//! Serial numbers are accepted as `HWTC1A2B3C4D`, `HWTC-1A2B3C4D` or `485754431A2B3C4D`
//! (any case) and kept as [`normalize_serial`] gives them: vendor letters + 8 hex digits.
//! [`sim`] is a telnet and SSH OLT for tests (feature `sim`).

pub mod huawei;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod ssh;
pub mod telnet;
pub mod zte;

#[cfg(test)]
mod tests;

use std::time::Duration;
use telnet::{TelnetCli, Wait};
use thiserror::Error;

/// Which CLI dialect the OLT speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OltVendor {
    /// Huawei MA5600T / MA5800.
    Huawei,
    /// ZTE C300 / C320.
    Zte,
}

/// How to reach and log in to one OLT.
#[derive(Debug, Clone)]
pub struct OltConfig {
    /// CLI dialect.
    pub vendor: OltVendor,
    /// Host name or IP address.
    pub host: String,
    /// TCP port (23 for telnet, 22 for SSH on the devices).
    pub port: u16,
    /// Telnet or SSH.
    pub transport: OltTransport,
    /// SSH only: the pinned host key, SHA-256 of its SSH wire-format blob in hex (the hash
    /// `ssh-keygen -l -E sha256` shows in base64). A different key is refused; without a
    /// pin any key is accepted and its fingerprint logged (like OpenSSH's
    /// `StrictHostKeyChecking=accept-new`, without the known_hosts file).
    pub host_key_fingerprint: Option<String>,
    /// CLI user.
    pub username: String,
    /// CLI password (also the enable password, when the device asks for one).
    pub password: String,
    /// Time allowed for connecting and for each command.
    pub timeout: Duration,
}

/// How the CLI is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OltTransport {
    /// Telnet (RFC 854), the device's login prompts.
    Telnet,
    /// SSH-2 with password authentication and an interactive shell.
    Ssh,
}

/// One ONU as the OLT reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnuInfo {
    /// The PON port as the vendor writes it: `0/1/3` (Huawei F/S/P), `1/2/1` (ZTE).
    pub port: String,
    /// ONU (ONT) id on that port.
    pub onu_id: u32,
    /// Serial, normalised (see [`normalize_serial`]).
    pub serial: String,
    /// Administrative state: `true` unless deactivated / shut down.
    pub active: bool,
    /// Whether the ONU is up on the fibre, when the device says.
    pub online: Option<bool>,
}

/// What [`OltSession::set_onu_active`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The state was changed and read back.
    Applied,
    /// The ONU already was in that state; nothing was sent.
    AlreadyInState,
}

/// Why an OLT operation failed.
#[derive(Debug, Error)]
pub enum OltError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to OLT {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The OLT refused the user name or password.
    #[error("OLT login refused for user {user}: {message} (check the device's username and password)")]
    Auth {
        /// The user that was refused.
        user: String,
        /// What the device said.
        message: String,
    },
    /// No answer in time.
    #[error("OLT did not answer in {after:?} while {what}")]
    Timeout {
        /// The step that timed out.
        what: String,
        /// The timeout.
        after: Duration,
    },
    /// SSH: the device's host key is not the pinned one.
    #[error(
        "OLT SSH host key mismatch: expected SHA-256 {expected}, the device presented {found} \
         (if the key was changed on purpose, update the device's fingerprint)"
    )]
    HostKey {
        /// The pinned fingerprint (hex).
        expected: String,
        /// The fingerprint of the key the device presented (hex).
        found: String,
    },
    /// The pinned host key fingerprint is not 64 hex digits.
    #[error("invalid SSH host key fingerprint {0:?}: expected SHA-256 as 64 hex digits (colons allowed)")]
    InvalidFingerprint(String),
    /// The device rejected a command.
    #[error("OLT rejected `{command}`: {message}")]
    Rejected {
        /// The command line.
        command: String,
        /// The device's text.
        message: String,
    },
    /// No ONU with this serial on the OLT.
    #[error("no ONU with serial {0} on this OLT")]
    OnuNotFound(String),
    /// Not a GPON serial number.
    #[error("invalid ONU serial {0:?}: expected 4 vendor letters + 8 hex digits (HWTC1A2B3C4D) or 16 hex digits")]
    InvalidSerial(String),
    /// The command was accepted but reading the ONU back shows the old state.
    #[error("ONU {serial} on {port} should be {} but the OLT reports it {}", state(*.wanted), state(!*.wanted))]
    Verify {
        /// The ONU's serial.
        serial: String,
        /// Its port and id, as `port:id`.
        port: String,
        /// The administrative state asked for.
        wanted: bool,
    },
    /// The connection dropped.
    #[error("OLT connection lost: {0}")]
    Disconnected(String),
    /// The device answered something the driver cannot read.
    #[error("unexpected OLT output: {0}")]
    Protocol(String),
}

fn state(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "deactivated"
    }
}

impl OltError {
    /// Whether trying again later may help: network trouble, timeouts and an unconfirmed
    /// change do; wrong credentials, an unknown ONU, bad input or a rejected command do not.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            OltError::Connect { .. } | OltError::Timeout { .. } | OltError::Disconnected(_) | OltError::Verify { .. }
        )
    }
}

/// Normalises a GPON serial to vendor letters + 8 upper-case hex digits: `hwtc-1a2b3c4d`,
/// `HWTC1A2B3C4D` and `485754431A2B3C4D` all give `HWTC1A2B3C4D`.
pub fn normalize_serial(input: &str) -> Result<String, OltError> {
    let bad = || OltError::InvalidSerial(input.to_owned());
    let s: String = input.trim().chars().filter(|c| *c != '-' && *c != ' ').collect::<String>().to_ascii_uppercase();
    let (vendor, rest) = match s.len() {
        12 => (s[..4].to_owned(), &s[4..]),
        16 if s.is_ascii() && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            let bytes = (0..4).map(|i| u8::from_str_radix(&s[i * 2..i * 2 + 2], 16)).collect::<Result<Vec<u8>, _>>();
            let vendor = String::from_utf8(bytes.map_err(|_| bad())?).map_err(|_| bad())?;
            (vendor.to_ascii_uppercase(), &s[8..])
        }
        _ => return Err(bad()),
    };
    if !vendor.chars().all(|c| c.is_ascii_alphanumeric()) || !rest.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(format!("{vendor}{rest}"))
}

/// The 16-hex-digit form of a normalised serial (`HWTC1A2B3C4D` -> `485754431A2B3C4D`).
pub fn serial_hex(serial: &str) -> String {
    let (vendor, rest) = serial.split_at(4.min(serial.len()));
    let mut out: String = vendor.bytes().map(|b| format!("{b:02X}")).collect();
    out.push_str(rest);
    out
}

/// A logged-in CLI session on one OLT.
pub struct OltSession {
    cli: TelnetCli,
    vendor: OltVendor,
}

impl OltSession {
    /// Connects, logs in, enters privileged mode and turns paging off.
    pub async fn connect(cfg: &OltConfig) -> Result<Self, OltError> {
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let mut cli = match cfg.transport {
            OltTransport::Telnet => TelnetCli::connect(&addr, cfg.timeout).await?,
            OltTransport::Ssh => ssh::connect(cfg).await?,
        };
        let auth = |message: String| OltError::Auth { user: cfg.username.clone(), message };
        let (mut sent_user, mut sent_pass) = (false, false);
        let prompt = loop {
            let (wait, lines) = match cli.wait("logging in").await {
                Err(OltError::Disconnected(m)) if sent_pass => return Err(auth(m)),
                other => other?,
            };
            let said = || {
                let text = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
                if text.is_empty() {
                    "the device asked for the credentials again".to_owned()
                } else {
                    text
                }
            };
            match wait {
                Wait::User if !sent_user => {
                    cli.send_line(&cfg.username).await?;
                    sent_user = true;
                }
                Wait::Password if !sent_pass => {
                    cli.send_line(&cfg.password).await?;
                    sent_pass = true;
                }
                Wait::User | Wait::Password => return Err(auth(said())),
                Wait::Prompt(p) => break p,
                Wait::Question(q) => return Err(OltError::Protocol(format!("unexpected question at login: {q}"))),
            }
        };
        cli.set_host(telnet::prompt_host(&prompt));
        if prompt.trim_end().ends_with('>') {
            cli.send_line("enable").await?;
            loop {
                match cli.wait("entering privileged mode").await?.0 {
                    Wait::Password => cli.send_line(&cfg.password).await?,
                    Wait::Prompt(p) if p.trim_end().ends_with('#') => break,
                    other => {
                        return Err(OltError::Rejected {
                            command: "enable".into(),
                            message: format!("still at {other:?}"),
                        })
                    }
                }
            }
        }
        // Paging off; if the device refuses, the pager is still answered by `TelnetCli`.
        let paging_off = match cfg.vendor {
            OltVendor::Huawei => "scroll",
            OltVendor::Zte => "terminal length 0",
        };
        let out = cli.command(paging_off).await?;
        if let Some(complaint) = telnet::rejection(&out) {
            tracing::debug!(command = paging_off, %complaint, "OLT kept paging on");
        }
        Ok(Self { cli, vendor: cfg.vendor })
    }

    /// The dialect of this session.
    pub fn vendor(&self) -> OltVendor {
        self.vendor
    }

    /// Runs one raw CLI line and returns its output; a device complaint is
    /// [`OltError::Rejected`].
    pub async fn exec(&mut self, line: &str) -> Result<String, OltError> {
        checked(&mut self.cli, line).await
    }

    /// The ONU with this serial (any accepted form), or `None`.
    pub async fn find_onu(&mut self, serial: &str) -> Result<Option<OnuInfo>, OltError> {
        let serial = normalize_serial(serial)?;
        self.leave_config().await?;
        match self.vendor {
            OltVendor::Huawei => huawei::find(&mut self.cli, &serial).await,
            OltVendor::Zte => zte::find(&mut self.cli, &serial).await,
        }
    }

    /// Every ONU the OLT knows, for reconciliation.
    pub async fn list_onus(&mut self) -> Result<Vec<OnuInfo>, OltError> {
        self.leave_config().await?;
        match self.vendor {
            OltVendor::Huawei => huawei::list(&mut self.cli).await,
            OltVendor::Zte => zte::list(&mut self.cli).await,
        }
    }

    /// Activates (`active`) or deactivates the ONU with this serial, then reads it back.
    /// Idempotent: an ONU already in that state gets no command and gives
    /// [`Change::AlreadyInState`]. The ONU is located by serial on the device; `port_hint`
    /// (the port the caller has on record) only produces a warning when it disagrees.
    pub async fn set_onu_active(
        &mut self,
        serial: &str,
        port_hint: Option<&str>,
        active: bool,
    ) -> Result<Change, OltError> {
        let serial = normalize_serial(serial)?;
        let onu = self.find_onu(&serial).await?.ok_or_else(|| OltError::OnuNotFound(serial.clone()))?;
        if let Some(hint) = port_hint.filter(|h| *h != onu.port) {
            tracing::warn!(%serial, expected = hint, found = %onu.port, "ONU is on another port than on record");
        }
        if onu.active == active {
            return Ok(Change::AlreadyInState);
        }
        let after = match self.vendor {
            OltVendor::Huawei => huawei::set_active(&mut self.cli, &onu, active).await?,
            OltVendor::Zte => zte::set_active(&mut self.cli, &onu, active).await?,
        };
        if after.active != active {
            return Err(OltError::Verify { serial, port: format!("{}:{}", onu.port, onu.onu_id), wanted: active });
        }
        Ok(Change::Applied)
    }

    /// Logs out and closes the connection.
    pub async fn close(self) {
        let logout: &[&str] = match self.vendor {
            OltVendor::Huawei => &["quit"],
            OltVendor::Zte => &["exit"],
        };
        let mut this = self;
        let _ = this.leave_config().await;
        this.cli.close(logout).await;
    }

    /// Leaves any configuration mode a raw [`exec`](Self::exec) may have entered.
    async fn leave_config(&mut self) -> Result<(), OltError> {
        for _ in 0..4 {
            if !self.cli.prompt().contains('(') {
                return Ok(());
            }
            let up = match self.vendor {
                OltVendor::Huawei => "quit",
                OltVendor::Zte => "end",
            };
            self.cli.command(up).await?;
        }
        Err(OltError::Protocol(format!("cannot leave configuration mode (prompt {})", self.cli.prompt())))
    }
}

/// Runs `line` and fails with [`OltError::Rejected`] if the device complains.
pub(crate) async fn checked(cli: &mut TelnetCli, line: &str) -> Result<String, OltError> {
    let out = cli.command(line).await?;
    match telnet::rejection(&out) {
        Some(message) => Err(OltError::Rejected { command: line.to_owned(), message }),
        None => Ok(out),
    }
}
