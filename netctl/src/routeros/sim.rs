//! In-process RouterOS API simulator for tests: speaks the real wire protocol on a TCP port
//! (plain or API-SSL) and keeps PPP secrets and firewall address lists in memory. Minimal for now: `/login`,
//! `/ppp/secret/print|add|set|disable|enable|remove`,
//! `/ip/firewall/address-list/print|add|remove`, `/cancel`; anything else gets a `!trap`.
//! Commands before login get `!fatal` and a closed connection.

use super::codec::ApiCodec;
use super::sentence::{Attributes, Command, Reply, ReplyBody, Trap};
use futures::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

/// In-memory router state, shared by every connection to one simulator.
#[derive(Debug, Default)]
pub struct SimState {
    /// `/ppp/secret` rows, each with `.id`.
    pub ppp_secrets: Vec<Attributes>,
    /// `/ip/firewall/address-list` rows, each with `.id`.
    pub address_list: Vec<Attributes>,
    next_id: u64,
}

/// A running simulator bound to `127.0.0.1:0`; stops when dropped.
pub struct RouterSim {
    addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    drop_tx: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl RouterSim {
    /// Starts a simulator that accepts one API user.
    pub async fn start(user: &str, password: &str) -> Self {
        Self::spawn(user, password, None).await
    }

    /// Starts an API-SSL simulator presenting the DER certificate `cert` with key `key`
    /// (PKCS#8, SEC1 or PKCS#1 DER).
    pub async fn start_tls(user: &str, password: &str, cert: Vec<u8>, key: Vec<u8>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::try_from(key).expect("simulator key");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert)], key)
            .expect("simulator certificate");
        Self::spawn(user, password, Some(TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn spawn(user: &str, password: &str, tls: Option<TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind simulator");
        let addr = listener.local_addr().expect("simulator address");
        let state = Arc::new(Mutex::new(SimState::default()));
        let (drop_tx, drop_rx) = watch::channel(0u64);
        let creds = Arc::new((user.to_owned(), password.to_owned()));
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let conn = Connection { state: accept_state.clone(), creds: creds.clone(), logged_in: false };
                let drop_rx = drop_rx.clone();
                match tls.clone() {
                    None => drop(tokio::spawn(conn.serve(sock, drop_rx))),
                    Some(acceptor) => drop(tokio::spawn(async move {
                        if let Ok(sock) = acceptor.accept(sock).await {
                            conn.serve(sock, drop_rx).await;
                        }
                    })),
                }
            }
        });
        Self { addr, state, drop_tx, task }
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The router's state, to seed it or to check what a client did.
    pub fn state(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().expect("simulator state poisoned")
    }

    /// Closes every open connection at once, as a router reboot or a network cut would.
    pub fn drop_connections(&self) {
        self.drop_tx.send_modify(|n| *n += 1);
    }
}

impl Drop for RouterSim {
    fn drop(&mut self) {
        self.task.abort();
        self.drop_connections();
    }
}

struct Connection {
    state: Arc<Mutex<SimState>>,
    creds: Arc<(String, String)>,
    logged_in: bool,
}

impl Connection {
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut self, sock: S, mut drop_rx: watch::Receiver<u64>) {
        let mut framed = Framed::new(sock, ApiCodec::new());
        drop_rx.mark_unchanged();
        loop {
            let words = tokio::select! {
                _ = drop_rx.changed() => return,
                next = framed.next() => match next {
                    Some(Ok(words)) => words,
                    _ => return,
                },
            };
            let Ok(cmd) = Command::parse(&words) else {
                let _ = framed.send(Reply::untagged(ReplyBody::Fatal("malformed command".into())).to_words()).await;
                return;
            };
            let (replies, close) = self.handle(&cmd);
            for body in replies {
                let reply = Reply { tag: cmd.tag.clone(), body };
                if framed.send(reply.to_words()).await.is_err() {
                    return;
                }
            }
            if close {
                return;
            }
        }
    }

    /// Replies to one command, and whether to close the connection afterwards.
    fn handle(&mut self, cmd: &Command) -> (Vec<ReplyBody>, bool) {
        if cmd.path == "/login" {
            let (user, pass) = &*self.creds;
            if cmd.get("name") == Some(user) && cmd.get("password") == Some(pass) {
                self.logged_in = true;
                return (vec![done(None)], false);
            }
            return (vec![trap(None, "invalid user name or password (6)"), done(None)], false);
        }
        if !self.logged_in {
            return (vec![ReplyBody::Fatal("not logged in".into())], true);
        }
        let mut state = self.state.lock().expect("simulator state poisoned");
        let result = match cmd.path.as_str() {
            "/ppp/secret/print" => print(&state.ppp_secrets, cmd),
            "/ppp/secret/add" => state.add_secret(cmd),
            "/ppp/secret/set" => set(&mut state.ppp_secrets, cmd, &[]),
            "/ppp/secret/disable" => set(&mut state.ppp_secrets, cmd, &[("disabled", "true")]),
            "/ppp/secret/enable" => set(&mut state.ppp_secrets, cmd, &[("disabled", "false")]),
            "/ppp/secret/remove" => remove(&mut state.ppp_secrets, cmd),
            "/ip/firewall/address-list/print" => print(&state.address_list, cmd),
            "/ip/firewall/address-list/add" => state.add_address(cmd),
            "/ip/firewall/address-list/remove" => remove(&mut state.address_list, cmd),
            // Commands here finish at once, so there is never anything left to cancel.
            "/cancel" => Ok((Vec::new(), None)),
            _ => Err(trap(None, "no such command")),
        };
        match result {
            Ok((mut replies, ret)) => {
                replies.push(done(ret));
                (replies, false)
            }
            Err(t) => (vec![t, done(None)], false),
        }
    }
}

impl SimState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("*{:X}", self.next_id)
    }

    fn add_secret(&mut self, cmd: &Command) -> Result<Answer, ReplyBody> {
        let name = cmd.get("name").filter(|n| !n.is_empty()).ok_or_else(|| trap(Some(1), "name must be set"))?;
        if self.ppp_secrets.iter().any(|r| r["name"] == name) {
            return Err(trap(Some(1), "failure: secret with the same name already exists"));
        }
        let mut row = defaults(&[
            ("service", "any"),
            ("profile", "default"),
            ("password", ""),
            ("disabled", "false"),
            ("comment", ""),
        ]);
        row.extend(cmd.attributes.iter().cloned());
        let id = self.new_id();
        row.insert(".id".into(), id.clone());
        self.ppp_secrets.push(row);
        Ok((Vec::new(), Some(id)))
    }

    fn add_address(&mut self, cmd: &Command) -> Result<Answer, ReplyBody> {
        let (Some(list), Some(address)) = (cmd.get("list"), cmd.get("address")) else {
            return Err(trap(Some(1), "list and address must be set"));
        };
        if self.address_list.iter().any(|r| r["list"] == list && r["address"] == address) {
            return Err(trap(Some(1), "failure: already have such entry"));
        }
        let mut row = defaults(&[("disabled", "false"), ("dynamic", "false"), ("comment", "")]);
        row.extend(cmd.attributes.iter().cloned());
        let id = self.new_id();
        row.insert(".id".into(), id.clone());
        self.address_list.push(row);
        Ok((Vec::new(), Some(id)))
    }
}

/// Replies before the `!done`, and the `=ret=` of the `!done`.
type Answer = (Vec<ReplyBody>, Option<String>);

fn defaults(pairs: &[(&str, &str)]) -> Attributes {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn done(ret: Option<String>) -> ReplyBody {
    ReplyBody::Done { ret }
}

fn trap(category: Option<u32>, message: &str) -> ReplyBody {
    ReplyBody::Trap(Trap { category, message: message.to_owned() })
}

/// `print` with AND-ed `?name=value` / `?=name=value` equality queries; `!empty` when no row
/// matches, as RouterOS 7.18+ does.
fn print(rows: &[Attributes], cmd: &Command) -> Result<Answer, ReplyBody> {
    let mut filters = Vec::new();
    for q in &cmd.queries {
        let q = q.strip_prefix('=').unwrap_or(q);
        match q.split_once('=') {
            Some((k, v)) => filters.push((k, v)),
            None => return Err(trap(Some(1), "simulator supports only ?name=value queries")),
        }
    }
    let out: Vec<_> = rows
        .iter()
        .filter(|r| filters.iter().all(|(k, v)| r.get(*k).map(String::as_str) == Some(*v)))
        .map(|r| ReplyBody::Re(r.clone()))
        .collect();
    Ok((if out.is_empty() { vec![ReplyBody::Empty] } else { out }, None))
}

/// Finds the rows named by `=.id=` or `=numbers=` (comma-separated `.id`s or names).
fn targets(rows: &[Attributes], cmd: &Command) -> Result<Vec<usize>, ReplyBody> {
    let spec = cmd.get(".id").or_else(|| cmd.get("numbers")).ok_or_else(|| trap(Some(1), "no such item"))?;
    spec.split(',')
        .map(|item| {
            rows.iter()
                .position(|r| {
                    r.get(".id").map(String::as_str) == Some(item) || r.get("name").map(String::as_str) == Some(item)
                })
                .ok_or_else(|| trap(Some(0), "no such item"))
        })
        .collect()
}

fn set(rows: &mut [Attributes], cmd: &Command, fixed: &[(&str, &str)]) -> Result<Answer, ReplyBody> {
    for i in targets(rows, cmd)? {
        for (k, v) in &cmd.attributes {
            if k != ".id" && k != "numbers" {
                rows[i].insert(k.clone(), v.clone());
            }
        }
        for (k, v) in fixed {
            rows[i].insert((*k).to_owned(), (*v).to_owned());
        }
    }
    Ok((Vec::new(), None))
}

fn remove(rows: &mut Vec<Attributes>, cmd: &Command) -> Result<Answer, ReplyBody> {
    let mut idx = targets(rows, cmd)?;
    idx.sort_unstable();
    idx.dedup();
    for i in idx.into_iter().rev() {
        rows.remove(i);
    }
    Ok((Vec::new(), None))
}
