//! In-process RouterOS API simulator for tests: speaks the real wire protocol on a TCP port
//! (plain or API-SSL) and keeps PPP secrets and sessions, hotspot users and sessions and
//! firewall address lists in memory ([`SimState`]). It answers `print` (with `?` queries and
//! `=.proplist=`), `add`, `set`, `enable`, `disable` and `remove` (by `=.id=` or `=numbers=`)
//! with RouterOS's replies and `!trap` messages, `/login` (6.43+ style) and `/cancel`.
//! Commands before login get `!fatal` and a closed connection.
//!
//! Tests seed and read the state, change it "by hand", count commands and connections, cut
//! every connection, make the next commands lose their connection, stall, or take the router
//! down (connections refused) and bring it back on the same port.

mod menus;

pub use menus::SimState;

use super::codec::ApiCodec;
use super::sentence::{Attributes, Command, Reply, ReplyBody, Trap};
use futures::{SinkExt, StreamExt};
use menus::Menu;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

/// Everything the accept loop and the connections share.
struct Shared {
    state: Mutex<SimState>,
    creds: Mutex<(String, String)>,
    tls: Option<TlsAcceptor>,
    drop_tx: watch::Sender<u64>,
    accepted: AtomicU64,
    logins: AtomicU64,
    open: AtomicUsize,
    max_open: AtomicUsize,
    fail_next: AtomicU64,
    stalled: AtomicBool,
}

/// A running simulator bound to `127.0.0.1:<port>`; stops when dropped.
pub struct RouterSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
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
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            creds: Mutex::new((user.to_owned(), password.to_owned())),
            tls,
            drop_tx: watch::channel(0u64).0,
            accepted: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            max_open: AtomicUsize::new(0),
            fail_next: AtomicU64::new(0),
            stalled: AtomicBool::new(false),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Self { addr, shared, task: Mutex::new(Some(task)) }
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The router's state, to seed it, change it "by hand" or check what a client did.
    pub fn state(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.shared.state.lock().expect("simulator state poisoned")
    }

    /// Closes every open connection at once, as a router reboot or a network cut would.
    pub fn drop_connections(&self) {
        self.shared.drop_tx.send_modify(|n| *n += 1);
    }

    /// Takes the router off the network: open connections close and new ones are refused
    /// until [`RouterSim::come_up`]. The configuration survives, as it does a reboot.
    pub async fn go_down(&self) {
        let task = self.task.lock().expect("simulator task slot poisoned").take();
        if let Some(task) = task {
            task.abort();
            // Once the task is gone its listener is closed, so connections are refused.
            let _ = task.await;
        }
        self.drop_connections();
    }

    /// Listens again on the same address after [`RouterSim::go_down`].
    pub fn come_up(&self) {
        let mut slot = self.task.lock().expect("simulator task slot poisoned");
        if slot.is_some() {
            return;
        }
        let socket = TcpSocket::new_v4().expect("simulator socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("rebind the simulator's address");
        let listener = socket.listen(128).expect("listen");
        *slot = Some(tokio::spawn(accept_loop(listener, self.shared.clone())));
    }

    /// Changes the API user's password; open sessions stay logged in.
    pub fn set_password(&self, password: &str) {
        self.shared.creds.lock().expect("simulator credentials poisoned").1 = password.to_owned();
    }

    /// The next `n` commands after login (on any connection) get no answer: the router drops
    /// their connection instead, as one that reboots mid-command does.
    pub fn fail_next_commands(&self, n: u64) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// While stalled the router accepts connections and reads commands but answers nothing,
    /// like an overloaded or hung device.
    pub fn set_stalled(&self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Mutating commands received so far (`add`, `set`, `enable`, `disable`, `remove`).
    pub fn mutations(&self) -> u64 {
        self.state().mutations
    }

    /// Commands received after login so far.
    pub fn commands(&self) -> u64 {
        self.state().log.len() as u64
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u64 {
        self.shared.logins.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// The most connections that were ever open at once.
    pub fn max_open_connections(&self) -> usize {
        self.shared.max_open.load(Ordering::SeqCst)
    }

    fn seed(&self, menu: Menu, pairs: &[(&str, &str)]) -> String {
        let row = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.state().insert(menu, row).unwrap_or_else(|t| panic!("cannot seed {menu:?}: {t:?}"))
    }

    /// Adds an enabled PPP secret; returns its `.id`.
    pub fn add_ppp_secret(&self, name: &str, password: &str, profile: &str) -> String {
        self.seed(Menu::PppSecret, &[("name", name), ("password", password), ("profile", profile)])
    }

    /// Adds a connected PPPoE session; returns its `.id`.
    pub fn add_ppp_active(&self, name: &str, address: &str, caller_id: &str) -> String {
        self.seed(
            Menu::PppActive,
            &[("name", name), ("address", address), ("caller-id", caller_id), ("uptime", "1h2m3s")],
        )
    }

    /// Adds an enabled hotspot user for all servers; returns its `.id`.
    pub fn add_hotspot_user(&self, name: &str, password: &str) -> String {
        self.seed(Menu::HotspotUser, &[("name", name), ("password", password)])
    }

    /// Adds a logged-in hotspot session; returns its `.id`.
    pub fn add_hotspot_active(&self, user: &str, address: &str, mac: &str) -> String {
        self.seed(Menu::HotspotActive, &[("user", user), ("address", address), ("mac-address", mac), ("uptime", "12m")])
    }

    /// Adds an address-list entry; returns its `.id`.
    pub fn add_address_list_entry(&self, list: &str, address: &str, comment: &str) -> String {
        self.seed(Menu::AddressList, &[("list", list), ("address", address), ("comment", comment)])
    }

    /// The PPP secret called `name`, as the router holds it.
    pub fn ppp_secret(&self, name: &str) -> Option<Attributes> {
        self.state().ppp_secrets.iter().find(|r| r["name"] == name).cloned()
    }

    /// The hotspot users called `name` (one per server at most).
    pub fn hotspot_user(&self, name: &str) -> Option<Attributes> {
        self.state().hotspot_users.iter().find(|r| r["name"] == name).cloned()
    }

    /// The entries of address list `list`.
    pub fn address_list(&self, list: &str) -> Vec<Attributes> {
        self.state().address_list.iter().filter(|r| r["list"] == list).cloned().collect()
    }
}

impl Drop for RouterSim {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().expect("simulator task slot poisoned").take() {
            task.abort();
        }
        self.drop_connections();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((sock, _)) = listener.accept().await {
        let conn = Connection { shared: shared.clone(), logged_in: false };
        match shared.tls.clone() {
            None => drop(tokio::spawn(conn.serve(sock))),
            Some(acceptor) => drop(tokio::spawn(async move {
                if let Ok(sock) = acceptor.accept(sock).await {
                    conn.serve(sock).await;
                }
            })),
        }
    }
}

/// Keeps the open-connection count right however a connection task ends.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Connection {
    shared: Arc<Shared>,
    logged_in: bool,
}

impl Connection {
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut self, sock: S) {
        let shared = self.shared.clone();
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let open = shared.open.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_open.fetch_max(open, Ordering::SeqCst);
        let _guard = OpenGuard(shared.clone());
        let mut drop_rx = shared.drop_tx.subscribe();
        let mut framed = Framed::new(sock, ApiCodec::new());
        loop {
            let words = tokio::select! {
                _ = drop_rx.changed() => return,
                next = framed.next() => match next {
                    Some(Ok(words)) => words,
                    _ => return,
                },
            };
            if shared.stalled.load(Ordering::SeqCst) {
                continue;
            }
            let Ok(cmd) = Command::parse(&words) else {
                let _ = framed.send(Reply::untagged(ReplyBody::Fatal("malformed command".into())).to_words()).await;
                return;
            };
            if self.logged_in
                && shared.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
            {
                return;
            }
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
            let ok = {
                let creds = self.shared.creds.lock().expect("simulator credentials poisoned");
                cmd.get("name") == Some(&creds.0) && cmd.get("password") == Some(&creds.1)
            };
            if ok {
                self.logged_in = true;
                self.shared.logins.fetch_add(1, Ordering::SeqCst);
                return (vec![done(None)], false);
            }
            return (vec![trap(None, "invalid user name or password (6)"), done(None)], false);
        }
        if !self.logged_in {
            return (vec![ReplyBody::Fatal("not logged in".into())], true);
        }
        let mut state = self.shared.state.lock().expect("simulator state poisoned");
        state.log.push(cmd.clone());
        // Commands here finish at once, so there is never anything left to cancel.
        let result = if cmd.path == "/cancel" { Ok((Vec::new(), None)) } else { state.handle(cmd) };
        match result {
            Ok((mut replies, ret)) => {
                replies.push(done(ret));
                (replies, false)
            }
            Err(t) => (vec![t, done(None)], false),
        }
    }
}

fn done(ret: Option<String>) -> ReplyBody {
    ReplyBody::Done { ret }
}

fn trap(category: Option<u32>, message: &str) -> ReplyBody {
    ReplyBody::Trap(Trap { category, message: message.to_owned() })
}
