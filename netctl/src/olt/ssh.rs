//! The OLT CLI over SSH-2 ([`russh`], ring crypto): password authentication, one session
//! channel with a PTY and an interactive shell, whose bytes go to the same [`TelnetCli`]
//! reader as telnet's.
//!
//! Host key policy: with [`OltConfig::host_key_fingerprint`] set, the device must present
//! exactly that key (SHA-256 over the key's SSH wire-format blob, written as hex; the
//! digest `ssh-keygen -l -E sha256` prints in base64), otherwise the connection is refused
//! with [`OltError::HostKey`] before the password is sent. Without a pin any key is
//! accepted and its fingerprint logged at INFO, as OpenSSH does with
//! `StrictHostKeyChecking=accept-new`; copy it into the device's fingerprint to pin it.

use super::telnet::TelnetCli;
use super::{OltConfig, OltError};
use russh::client;
use russh::keys::{HashAlg, PublicKeyOrCertificate};
use std::sync::{Arc, Mutex};

/// Terminal size asked for: wide enough that no table line wraps.
const PTY_COLUMNS: u32 = 256;
const PTY_ROWS: u32 = 0;

/// The pinning form of a host key fingerprint: 64 lower-case hex digits (colons and case
/// are accepted on input).
pub fn normalize_fingerprint(value: &str) -> Result<String, OltError> {
    let hex: String = value.trim().chars().filter(|c| *c != ':').collect();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(OltError::InvalidFingerprint(value.to_owned()))
    }
}

/// The SHA-256 fingerprint of an SSH public key, as 64 lower-case hex digits.
pub fn fingerprint(key: &russh::keys::PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the server's host key against the pin; remembers what it saw.
struct HostKeyCheck {
    addr: String,
    pin: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let data = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => russh::keys::PublicKey::from(cert.public_key().clone()),
        };
        let found = fingerprint(&data);
        *self.seen.lock().expect("host key slot") = Some(found.clone());
        match &self.pin {
            Some(pin) => Ok(*pin == found),
            None => {
                tracing::info!(
                    addr = %self.addr,
                    algorithm = %data.algorithm(),
                    fingerprint = %found,
                    "OLT SSH host key accepted without a pin (set the device's fingerprint to pin it)"
                );
                Ok(true)
            }
        }
    }
}

/// Connects, checks the host key, authenticates with the password and opens a shell with
/// a PTY. Every step is bounded by `cfg.timeout`.
pub async fn connect(cfg: &OltConfig) -> Result<TelnetCli, OltError> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let pin = cfg.host_key_fingerprint.as_deref().map(normalize_fingerprint).transpose()?;
    let timeout = cfg.timeout;
    let step = |what: &str| OltError::Timeout { what: format!("{what} {addr} over SSH"), after: timeout };
    let lost = |e: russh::Error| OltError::Disconnected(format!("SSH: {e}"));

    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr))
        .await
        .map_err(|_| step("connecting to"))?
        .map_err(|source| OltError::Connect { addr: addr.clone(), source })?;
    tcp.set_nodelay(true).map_err(|source| OltError::Connect { addr: addr.clone(), source })?;

    let seen = Arc::new(Mutex::new(None));
    let check = HostKeyCheck { addr: addr.clone(), pin: pin.clone(), seen: seen.clone() };
    let config = Arc::new(client::Config { inactivity_timeout: None, ..Default::default() });
    let handshake = tokio::time::timeout(timeout, client::connect_stream(config, tcp, check))
        .await
        .map_err(|_| step("negotiating with"))?;
    let mut handle = match handshake {
        Ok(h) => h,
        Err(russh::Error::UnknownKey) => {
            let found = seen.lock().expect("host key slot").clone().unwrap_or_default();
            return Err(OltError::HostKey { expected: pin.unwrap_or_default(), found });
        }
        Err(e) => return Err(lost(e)),
    };

    let auth =
        tokio::time::timeout(timeout, handle.authenticate_password(cfg.username.as_str(), cfg.password.as_str()))
            .await
            .map_err(|_| step("authenticating to"))?
            .map_err(lost)?;
    if !auth.success() {
        return Err(OltError::Auth {
            user: cfg.username.clone(),
            message: "the device refused the SSH password authentication".into(),
        });
    }

    let open = async {
        let channel = handle.channel_open_session().await?;
        channel.request_pty(false, "vt100", PTY_COLUMNS, PTY_ROWS, 0, 0, &[]).await?;
        channel.request_shell(false).await?;
        Ok::<_, russh::Error>(channel)
    };
    let channel = tokio::time::timeout(timeout, open).await.map_err(|_| step("opening a shell on"))?.map_err(lost)?;
    Ok(TelnetCli::over_stream(Box::new(channel.into_stream()), Some(Box::new(handle)), timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalised_and_checked() {
        let upper = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_fingerprint(&upper).unwrap(), "ab".repeat(32));
        assert!(matches!(normalize_fingerprint("abcd"), Err(OltError::InvalidFingerprint(_))));
        assert!(matches!(normalize_fingerprint(&"zz".repeat(32)), Err(OltError::InvalidFingerprint(_))));
    }
}
