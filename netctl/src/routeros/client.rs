//! Async RouterOS API client over any byte stream: many commands at once on one connection,
//! told apart by `.tag` (help.mikrotik.com "API", "Tags").

use super::codec::{ApiCodec, CodecError};
use super::sentence::{Attributes, Command, Reply, ReplyBody, Trap};
use futures::stream::{SplitSink, StreamExt};
use futures::SinkExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

/// Default time allowed for one command, from sending it to its `!done`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a timed-out command may spend sending its `/cancel`.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a RouterOS API call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The router refused the command (`!trap`).
    #[error("router refused the command: {message} (category {category:?})")]
    Trap {
        /// `=category=`, if sent.
        category: Option<u32>,
        /// `=message=`.
        message: String,
    },
    /// Login was refused (wrong user name or password, or no API permission).
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// The router answered login with a challenge: it runs RouterOS older than 6.43.
    #[error("router requires the pre-6.43 challenge login, which is not supported")]
    LegacyLogin,
    /// The router sent `!fatal` and closed the connection.
    #[error("router closed the session: {0}")]
    Fatal(String),
    /// No `!done` within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection is gone (closed by the peer, or after an earlier error).
    #[error("connection to the router is closed")]
    Disconnected,
    /// The byte stream could not be framed (sending), or the router sent bytes that are not
    /// the API protocol (receiving; the connection is then closed).
    #[error("protocol: {0}")]
    Protocol(String),
    /// The API-SSL handshake failed, e.g. the certificate does not match the pinned one.
    #[error("tls: {0}")]
    Tls(String),
    /// Connecting failed.
    #[error("connect: {0}")]
    Connect(std::io::Error),
}

/// Everything a command returned before its `!done`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The `!re` rows, in order.
    pub rows: Vec<Attributes>,
    /// `=ret=` of the `!done`, e.g. the `.id` of an added item.
    pub ret: Option<String>,
}

/// Why the reader task stopped; sent to every command still waiting.
#[derive(Debug, Clone)]
enum Closed {
    Fatal(String),
    Protocol(String),
    Eof,
}

/// What a failure means for whoever retries it: the device-job worker retries
/// [`ErrorKind::Unreachable`] with backoff, reports [`ErrorKind::Credentials`] plainly, and
/// does not expect a retry to fix [`ErrorKind::Rejected`] or [`ErrorKind::NotFound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The device could not be reached, did not answer in time, dropped the connection or is
    /// busy: retry later.
    Unreachable,
    /// The device refused the API user or password, or did not prove the pinned identity
    /// (API-SSL certificate), or needs the unsupported pre-6.43 login: fix the device's
    /// settings; retrying alone will not help.
    Credentials,
    /// The router refused the command itself (`!trap`): a bad command, argument or value.
    Rejected,
    /// The item to change does not exist on the router.
    NotFound,
    /// The router accepted a change but reading it back shows otherwise (someone or
    /// something changed it at the same time); a retry reads again.
    Unverified,
}

impl ErrorKind {
    /// Whether retrying the same operation later can succeed without anyone fixing anything.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Unreachable | ErrorKind::Unverified)
    }
}

impl ClientError {
    /// What this failure means for a retry.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Trap { .. } => ErrorKind::Rejected,
            ClientError::LoginRefused(_) | ClientError::LegacyLogin | ClientError::Tls(_) => ErrorKind::Credentials,
            ClientError::Fatal(_)
            | ClientError::Timeout(_)
            | ClientError::Disconnected
            | ClientError::Protocol(_)
            | ClientError::Connect(_) => ErrorKind::Unreachable,
        }
    }

    /// Whether the connection this came from is gone (`!fatal`, end of stream, a reset or
    /// unframeable bytes): the command may or may not have run, and the client must be
    /// replaced. A [`ClientError::Timeout`] is not counted: the connection may still work.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, ClientError::Fatal(_) | ClientError::Disconnected | ClientError::Protocol(_))
    }
}

/// Something that runs RouterOS API commands: a [`Client`] over any stream, or a pooled
/// connection. The operations in [`super::ops`] take this, so they work over plain TCP and
/// API-SSL alike.
pub trait RouterApi: Send + Sync {
    /// Sends `cmd` and collects the replies up to its `!done` (see [`Client::run`]).
    fn run(&self, cmd: Command) -> impl std::future::Future<Output = Result<Response, ClientError>> + Send;
}

impl<S> RouterApi for Client<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    fn run(&self, cmd: Command) -> impl std::future::Future<Output = Result<Response, ClientError>> + Send {
        Client::run(self, cmd)
    }
}

impl From<Closed> for ClientError {
    fn from(c: Closed) -> Self {
        match c {
            Closed::Fatal(m) => ClientError::Fatal(m),
            Closed::Protocol(m) => ClientError::Protocol(m),
            Closed::Eof => ClientError::Disconnected,
        }
    }
}

type Event = Result<ReplyBody, Closed>;
/// Commands waiting for replies, by tag; `closed` is set (under the same lock) when the
/// reader stops, so no command can register after the final drain and wait forever.
#[derive(Default)]
struct Waiters {
    by_tag: HashMap<String, mpsc::UnboundedSender<Event>>,
    closed: bool,
}

type Pending = Arc<Mutex<Waiters>>;
type Writer<S> = SplitSink<Framed<S, ApiCodec>, Vec<String>>;

/// A logged-in (or not yet logged-in) API connection; cheap to share behind an `Arc`.
pub struct Client<S> {
    writer: tokio::sync::Mutex<Writer<S>>,
    pending: Pending,
    next_tag: AtomicU64,
    timeout: Duration,
    reader: JoinHandle<()>,
}

impl Client<TcpStream> {
    /// Connects over plain TCP (port 8728 on a router) and logs in.
    pub async fn connect(
        addr: impl ToSocketAddrs,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
            .map_err(ClientError::Connect)?;
        stream.set_nodelay(true).map_err(ClientError::Connect)?;
        let client = Self::new(stream, timeout);
        client.login(user, password).await?;
        Ok(client)
    }
}

impl<S> Client<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    /// Wraps an open stream without logging in; `timeout` applies to each command.
    pub fn new(stream: S, timeout: Duration) -> Self {
        let (writer, mut stream) = Framed::new(stream, ApiCodec::new()).split();
        let pending: Pending = Arc::default();
        let reader_pending = pending.clone();
        let reader = tokio::spawn(async move {
            let reason = loop {
                let words = match stream.next().await {
                    Some(Ok(words)) => words,
                    // A reset or a stream cut inside a sentence is a lost line, not a protocol error.
                    Some(Err(CodecError::Io(_) | CodecError::Truncated)) => break Closed::Eof,
                    Some(Err(e)) => break Closed::Protocol(e.to_string()),
                    None => break Closed::Eof,
                };
                let reply = match Reply::parse(&words) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring a reply the client does not understand");
                        continue;
                    }
                };
                if let ReplyBody::Fatal(reason) = reply.body {
                    break Closed::Fatal(reason);
                }
                let Some(tag) = reply.tag else {
                    tracing::debug!(?reply.body, "ignoring an untagged reply");
                    continue;
                };
                let mut map = reader_pending.lock().expect("pending map poisoned");
                let done = matches!(reply.body, ReplyBody::Done { .. });
                match map.by_tag.get(&tag) {
                    // The waiter may have timed out and gone; that is fine.
                    Some(tx) => drop(tx.send(Ok(reply.body))),
                    // Late replies to timed-out or cancelled commands.
                    None => tracing::debug!(%tag, "ignoring a reply nobody waits for"),
                }
                if done {
                    map.by_tag.remove(&tag);
                }
            };
            // Fail every command still waiting, with the reason the router gave.
            let waiters: Vec<_> = {
                let mut map = reader_pending.lock().expect("pending map poisoned");
                map.closed = true;
                map.by_tag.drain().collect()
            };
            for (_, tx) in waiters {
                let _ = tx.send(Err(reason.clone()));
            }
        });
        Self { writer: tokio::sync::Mutex::new(writer), pending, next_tag: AtomicU64::new(1), timeout, reader }
    }

    /// Logs in with the RouterOS 6.43+ method: `/login =name= =password=` in clear text
    /// (use API-SSL on untrusted networks).
    pub async fn login(&self, user: &str, password: &str) -> Result<(), ClientError> {
        let cmd = Command::new("/login").attr("name", user).attr("password", password);
        match self.run(cmd).await {
            // Before 6.43 the router answers with `=ret=<challenge>` instead of logging in.
            Ok(Response { ret: Some(_), .. }) => Err(ClientError::LegacyLogin),
            Ok(_) => Ok(()),
            Err(ClientError::Trap { message, .. }) => Err(ClientError::LoginRefused(message)),
            Err(e) => Err(e),
        }
    }

    /// Sends `cmd` (its own tag is replaced) and collects the replies up to its `!done`, within
    /// the client's per-command timeout. A lost connection (`!fatal`, end of stream) fails with
    /// [`ClientError::Fatal`] or [`ClientError::Disconnected`] (see
    /// [`ClientError::is_connection_lost`]).
    pub async fn run(&self, cmd: Command) -> Result<Response, ClientError> {
        self.run_with_timeout(cmd, self.timeout).await
    }

    /// [`Client::run`] with its own timeout, e.g. for a print known to be long.
    pub async fn run_with_timeout(&self, mut cmd: Command, timeout: Duration) -> Result<Response, ClientError> {
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed).to_string();
        cmd.tag = Some(tag.clone());
        // Unbounded so the reader never waits on one slow caller while others starve; a
        // command's rows are collected into memory anyway.
        let (tx, mut rx) = mpsc::unbounded_channel();
        {
            let mut map = self.pending.lock().expect("pending map poisoned");
            if map.closed {
                return Err(ClientError::Disconnected);
            }
            map.by_tag.insert(tag.clone(), tx);
        }

        let exchange = async {
            self.writer.lock().await.send(cmd.to_words()).await.map_err(|e| match e {
                CodecError::Io(_) => ClientError::Disconnected,
                e => ClientError::Protocol(e.to_string()),
            })?;
            let mut response = Response::default();
            let mut trap: Option<Trap> = None;
            while let Some(event) = rx.recv().await {
                match event? {
                    ReplyBody::Re(row) => response.rows.push(row),
                    ReplyBody::Empty => {}
                    // RouterOS may send several traps; the first names the cause.
                    ReplyBody::Trap(t) => {
                        trap.get_or_insert(t);
                    }
                    ReplyBody::Fatal(reason) => return Err(ClientError::Fatal(reason)),
                    ReplyBody::Done { ret } => {
                        return match trap {
                            Some(t) => Err(ClientError::Trap { category: t.category, message: t.message }),
                            None => {
                                response.ret = ret;
                                Ok(response)
                            }
                        };
                    }
                }
            }
            Err(ClientError::Disconnected)
        };

        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => {
                if result.is_err() {
                    self.forget(&tag);
                }
                result
            }
            Err(_) => {
                self.forget(&tag);
                // Stop the router from working on (and streaming) an answer nobody awaits;
                // best effort, the reply to `/cancel` itself is dropped as an unknown tag.
                let cancel = Command::new("/cancel").attr("tag", &tag).with_tag(format!("cancel-{tag}"));
                let send = async { self.writer.lock().await.send(cancel.to_words()).await };
                let _ = tokio::time::timeout(CANCEL_TIMEOUT, send).await;
                Err(ClientError::Timeout(timeout))
            }
        }
    }

    /// Whether the connection has ended; a closed client must be replaced.
    pub fn is_closed(&self) -> bool {
        self.pending.lock().expect("pending map poisoned").closed
    }

    fn forget(&self, tag: &str) {
        self.pending.lock().expect("pending map poisoned").by_tag.remove(tag);
    }
}

impl<S> Drop for Client<S> {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routeros::sim::RouterSim;
    use tokio::net::TcpListener;

    const T: Duration = Duration::from_secs(5);

    async fn wait_closed<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(c: &Client<S>) {
        for _ in 0..100 {
            if c.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("client did not notice the closed connection");
    }

    async fn logged_in(sim: &RouterSim) -> Client<TcpStream> {
        Client::connect(sim.addr(), "admin", "secret", T).await.unwrap()
    }

    #[tokio::test]
    async fn login_and_ppp_secret_lifecycle() {
        let sim = RouterSim::start("admin", "secret").await;
        let c = logged_in(&sim).await;
        let added = c
            .run(Command::new("/ppp/secret/add").attr("name", "alice").attr("password", "pw").attr("profile", "10M"))
            .await
            .unwrap();
        let id = added.ret.expect(".id of the new secret");
        c.run(Command::new("/ppp/secret/set").attr(".id", &id).attr("profile", "20M")).await.unwrap();
        c.run(Command::new("/ppp/secret/disable").attr("numbers", &id)).await.unwrap();
        let rows = c.run(Command::new("/ppp/secret/print").query("name=alice")).await.unwrap().rows;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["profile"], "20M");
        assert_eq!(rows[0]["disabled"], "true");
        assert_eq!(rows[0][".id"], id);
        let none = c.run(Command::new("/ppp/secret/print").query("name=bob")).await.unwrap();
        assert!(none.rows.is_empty());
    }

    #[tokio::test]
    async fn address_list_add_print_remove_and_trap() {
        let sim = RouterSim::start("admin", "secret").await;
        let c = logged_in(&sim).await;
        let add = || {
            Command::new("/ip/firewall/address-list/add")
                .attr("list", "suspended")
                .attr("address", "10.0.0.7")
                .attr("comment", "subscription 42")
        };
        let id = c.run(add()).await.unwrap().ret.unwrap();
        let dup = c.run(add()).await.unwrap_err();
        assert!(matches!(&dup, ClientError::Trap { message, .. } if message.contains("already have")), "{dup}");
        let rows = c.run(Command::new("/ip/firewall/address-list/print").query("list=suspended")).await.unwrap().rows;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["comment"], "subscription 42");
        c.run(Command::new("/ip/firewall/address-list/remove").attr(".id", &id)).await.unwrap();
        let rows = c.run(Command::new("/ip/firewall/address-list/print")).await.unwrap().rows;
        assert!(rows.is_empty());
        let err = c.run(Command::new("/no/such/thing")).await.unwrap_err();
        assert!(matches!(err, ClientError::Trap { .. }), "{err}");
        // The connection is still usable after a trap.
        c.run(Command::new("/ppp/secret/print")).await.unwrap();
    }

    #[tokio::test]
    async fn wrong_password_is_refused() {
        let sim = RouterSim::start("admin", "secret").await;
        let err = Client::connect(sim.addr(), "admin", "wrong", T).await.err().unwrap();
        assert!(matches!(err, ClientError::LoginRefused(ref m) if m.contains("invalid")), "{err}");
    }

    #[tokio::test]
    async fn command_before_login_is_fatal() {
        let sim = RouterSim::start("admin", "secret").await;
        let c = Client::new(TcpStream::connect(sim.addr()).await.unwrap(), T);
        let err = c.run(Command::new("/ppp/secret/print")).await.unwrap_err();
        assert!(matches!(err, ClientError::Fatal(_)), "{err}");
        wait_closed(&c).await;
        assert!(matches!(c.run(Command::new("/ppp/secret/print")).await, Err(ClientError::Disconnected)));
    }

    #[tokio::test]
    async fn concurrent_commands_share_one_connection() {
        let sim = RouterSim::start("admin", "secret").await;
        let c = Arc::new(logged_in(&sim).await);
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move {
                    c.run(
                        Command::new("/ip/firewall/address-list/add")
                            .attr("list", "suspended")
                            .attr("address", format!("10.1.0.{i}")),
                    )
                    .await
                    .unwrap()
                    .ret
                    .unwrap()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50);
        let rows = c.run(Command::new("/ip/firewall/address-list/print")).await.unwrap().rows;
        assert_eq!(rows.len(), 50);
    }

    /// A peer that answers two commands in reverse order, interleaved: replies must still
    /// reach the right caller.
    #[tokio::test]
    async fn replies_are_routed_by_tag() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let mut framed = Framed::new(sock, ApiCodec::new());
            let mut tags = Vec::new();
            for _ in 0..2 {
                let cmd = Command::parse(&framed.next().await.unwrap().unwrap()).unwrap();
                let name = cmd.get("name").unwrap().to_owned();
                tags.push((cmd.tag.unwrap(), name));
            }
            let send = |tag: &str, body: ReplyBody| Reply { tag: Some(tag.to_owned()), body }.to_words();
            let row = |name: &str| ReplyBody::Re([("name".to_owned(), name.to_owned())].into_iter().collect());
            let (t0, n0) = &tags[0];
            let (t1, n1) = &tags[1];
            framed.send(send(t1, row(n1))).await.unwrap();
            framed.send(send(t0, row(n0))).await.unwrap();
            framed.send(send(t0, ReplyBody::Empty)).await.unwrap();
            framed.send(send(t1, ReplyBody::Done { ret: None })).await.unwrap();
            framed.send(send(t0, ReplyBody::Done { ret: None })).await.unwrap();
            // Keep the socket open until the client is done.
            let _ = framed.next().await;
        });
        let c = Client::new(TcpStream::connect(addr).await.unwrap(), T);
        let (a, b) = tokio::join!(
            c.run(Command::new("/x").attr("name", "first")),
            c.run(Command::new("/x").attr("name", "second"))
        );
        assert_eq!(a.unwrap().rows[0]["name"], "first");
        assert_eq!(b.unwrap().rows[0]["name"], "second");
    }

    #[tokio::test]
    async fn silent_peer_times_out_and_the_command_is_cancelled() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let mut framed = Framed::new(sock, ApiCodec::new());
            let first = Command::parse(&framed.next().await.unwrap().unwrap()).unwrap();
            let second = Command::parse(&framed.next().await.unwrap().unwrap()).unwrap();
            let _ = seen_tx.send((first, second));
            let _ = framed.next().await;
        });
        let t = Duration::from_millis(100);
        let c = Client::new(TcpStream::connect(addr).await.unwrap(), t);
        let err = c.run(Command::new("/ppp/secret/print")).await.unwrap_err();
        assert!(matches!(err, ClientError::Timeout(d) if d == t), "{err}");
        assert!(c.pending.lock().unwrap().by_tag.is_empty());
        let (first, second) = seen_rx.await.unwrap();
        assert_eq!(second.path, "/cancel");
        assert_eq!(second.get("tag"), first.tag.as_deref());
    }

    #[tokio::test]
    async fn dropped_connection_closes_the_client() {
        let sim = RouterSim::start("admin", "secret").await;
        let c = logged_in(&sim).await;
        c.run(Command::new("/ppp/secret/print")).await.unwrap();
        sim.drop_connections();
        wait_closed(&c).await;
        let err = c.run(Command::new("/ppp/secret/print")).await.unwrap_err();
        assert!(matches!(err, ClientError::Disconnected), "{err}");
        // The router is still up: a new connection works.
        logged_in(&sim).await;
    }

    #[tokio::test]
    async fn connection_lost_mid_command_fails_the_waiting_command() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let mut framed = Framed::new(sock, ApiCodec::new());
            let cmd = Command::parse(&framed.next().await.unwrap().unwrap()).unwrap();
            // One row, then the line goes dead before `!done`.
            let row = Reply { tag: cmd.tag, body: ReplyBody::Re(Attributes::new()) };
            framed.send(row.to_words()).await.unwrap();
        });
        let c = Client::new(TcpStream::connect(addr).await.unwrap(), T);
        let err = c.run(Command::new("/ppp/secret/print")).await.unwrap_err();
        assert!(matches!(err, ClientError::Disconnected), "{err}");
    }

    /// A reset (the router rebooted) is a lost connection, not a protocol error.
    #[tokio::test]
    async fn reset_by_peer_is_a_lost_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let mut framed = Framed::new(sock, ApiCodec::new());
            let _ = framed.next().await;
            // Linger 0: closing sends RST instead of FIN.
            framed.get_ref().set_zero_linger().unwrap();
        });
        let c = Client::new(TcpStream::connect(addr).await.unwrap(), T);
        let err = c.run(Command::new("/ppp/secret/print")).await.unwrap_err();
        assert!(matches!(err, ClientError::Disconnected), "{err}");
        assert!(err.is_connection_lost());
        assert_eq!(err.kind(), ErrorKind::Unreachable);
    }

    #[test]
    fn errors_are_classified_for_retries() {
        let trap = ClientError::Trap { category: Some(0), message: "no such command".into() };
        assert_eq!(trap.kind(), ErrorKind::Rejected);
        assert!(!trap.is_connection_lost());
        assert_eq!(
            ClientError::LoginRefused("invalid user name or password (6)".into()).kind(),
            ErrorKind::Credentials
        );
        assert_eq!(ClientError::LegacyLogin.kind(), ErrorKind::Credentials);
        assert_eq!(ClientError::Tls("fingerprint mismatch".into()).kind(), ErrorKind::Credentials);
        let refused = ClientError::Connect(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(refused.kind(), ErrorKind::Unreachable);
        assert!(!refused.is_connection_lost());
        let timeout = ClientError::Timeout(T);
        assert_eq!(timeout.kind(), ErrorKind::Unreachable);
        assert!(!timeout.is_connection_lost());
        assert!(ClientError::Fatal("session terminated on request".into()).is_connection_lost());
        assert!(ErrorKind::Unreachable.is_transient() && ErrorKind::Unverified.is_transient());
        assert!(!ErrorKind::Credentials.is_transient() && !ErrorKind::Rejected.is_transient());
    }

    #[tokio::test]
    async fn garbage_from_peer_is_a_clear_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await;
            let _ = tokio::io::AsyncWriteExt::write_all(&mut sock, &[0xFF, 0xFF]).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        });
        let c = Client::new(TcpStream::connect(addr).await.unwrap(), T);
        let err = c.run(Command::new("/ppp/secret/print")).await.unwrap_err();
        assert!(matches!(&err, ClientError::Protocol(m) if m.contains("control byte")), "{err}");
    }
}
