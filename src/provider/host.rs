//! One JSON-RPC agent process serving many native threads.
//!
//! A [`Host`] owns at most one live agent process (a [`Connection`]): it spawns it on demand
//! (through [`child`](super::child)), runs the adapter's handshake, and speaks to it through
//! [`rpc::Peer`](crate::rpc::Peer). Each native thread (or session) registers a *route* under its
//! id and gets a bounded queue of the messages that name it; the adapter's [`Agent::route_key`]
//! says which id a message names. The routing loop only moves messages into queues: whatever a
//! thread does with them (mapping, waiting for a summary, asking the user) happens in the
//! thread's own task and never holds up another thread. When the process exits every route
//! gets [`Routed::Exited`], and the next [`Host::connection`] spawns a new process; when no route
//! has been registered for the idle timeout the process is stopped.
//!
//! Requests carry their own timeout, chosen per request kind by the adapter (`None` waits as
//! long as the agent takes: a prompt lasts as long as its turn).
//!
//! Codex uses it (one `codex app-server` for every Codex thread). An ACP agent fits the same
//! way, with one host per provider id and routes keyed by `sessionId`:
//!
//! ```ignore
//! struct Acp { caps: OnceLock<ProviderCapabilities> }
//! impl Agent for Acp {
//!     async fn handshake(&self, conn: &Arc<Connection>) -> Result<(), ProviderError> {
//!         let init = conn.request("initialize", json!({"protocolVersion": 1}), Some(T)).await?;
//!         let _ = self.caps.set(capabilities_from(&init)); // capabilities from the agent
//!         Ok(())
//!     }
//!     fn route_key<'a>(&self, _method: &str, params: &'a Params) -> Option<Cow<'a, str>> {
//!         params.get("sessionId").and_then(Value::as_str).map(Cow::Borrowed)
//!     }
//!     async fn unrouted(&self, conn: &Arc<Connection>, msg: Incoming) {
//!         if let Incoming::Request { id, method, .. } = msg {
//!             conn.respond(id, Err(RpcError::method_not_found(&method))).await;
//!         }
//!     }
//! }
//! let launch = Transport::launcher(move || Ok(spec.clone())); // spec.env: the agent's env
//! let host = Host::new("gemini", Arc::new(Acp::default()), launch, idle);
//! let conn = host.connection().await?;
//! let session = conn.request("session/new", json!({"cwd": cwd, "mcpServers": []}), Some(T)).await?;
//! let mut rx = conn.register(session_id);  // session/update, session/request_permission, fs/*
//! tokio::spawn(async move { while let Some(m) = rx.recv().await { /* map, ask::approval */ } });
//! conn.request("session/prompt", prompt, None).await?; // as long as the turn takes
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Mutex, mpsc, watch};

use super::ProviderError;
use super::child::{self, ChildHandle, ChildSpec};
use crate::rpc::{self, DISCONNECTED, Incoming, Params, Peer, PeerOptions, RequestId, RpcError};
use crate::sync::lock;

/// How many messages a route holds before the routing loop waits for its thread (backpressure).
const ROUTE_CAPACITY: usize = 256;
/// How long a stopped agent gets to exit after its stdin closed, before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What the host does with one kind of agent: the adapter's side of the contract.
pub trait Agent: Send + Sync + 'static {
    /// Runs after every spawn, before any thread uses the process (e.g. `initialize`). An error
    /// ends the new process and fails the start that needed it.
    fn handshake(
        &self,
        conn: &Arc<Connection>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// The route a message belongs to (its native thread or session id); `None` for
    /// process-wide messages.
    fn route_key<'a>(&self, method: &str, params: &'a Params) -> Option<Cow<'a, str>>;

    /// A message no route took: process-wide, or naming a thread nobody routes. Every request
    /// must be answered. It runs on the routing loop, so it must not wait on a thread.
    fn unrouted(&self, conn: &Arc<Connection>, msg: Incoming) -> impl Future<Output = ()> + Send;
}

/// What a route receives.
#[derive(Debug)]
pub enum Routed {
    /// A notification or an agent->client request naming the route (requests must be answered
    /// with [`Connection::respond`]), or a process-wide notification sent to every route.
    Message(Incoming),
    /// The process exited without being asked to; nothing follows. Says how it ended.
    Exited(String),
}

/// The pipes to an agent and, when it is a process, its handle.
pub struct Transport {
    pub reader: Box<dyn AsyncRead + Unpin + Send>,
    pub writer: Box<dyn AsyncWrite + Unpin + Send>,
    pub child: Option<ChildHandle>,
}

/// Makes a new transport each time the host needs a process.
pub type Launcher = Arc<dyn Fn() -> Result<Transport, ProviderError> + Send + Sync>;

impl Transport {
    /// Spawns the agent process described by `spec`.
    pub fn spawn(spec: &ChildSpec) -> Result<Transport, ProviderError> {
        let spawned = child::spawn(spec).map_err(|e| {
            ProviderError::Unavailable(format!("cannot start {}: {e}", spec.bin.display()))
        })?;
        Ok(Transport {
            reader: Box::new(spawned.stdout),
            writer: Box::new(spawned.stdin),
            child: Some(spawned.handle),
        })
    }

    /// A launcher that spawns the process `spec` describes each time (resolved anew, so a
    /// binary installed or removed meanwhile is noticed at the next start).
    pub fn launcher(
        spec: impl Fn() -> Result<ChildSpec, ProviderError> + Send + Sync + 'static,
    ) -> Launcher {
        Arc::new(move || Transport::spawn(&spec()?))
    }
}

/// The live agent process of a provider, spawned on demand.
pub struct Host<A: Agent> {
    name: &'static str,
    agent: Arc<A>,
    launch: Launcher,
    idle: Duration,
    // A tokio mutex because spawning and the handshake await; it is held only on that cold
    // path, never while a thread's turn runs.
    current: Arc<Mutex<Option<Arc<Connection>>>>,
}

impl<A: Agent> Host<A> {
    pub fn new(name: &'static str, agent: Arc<A>, launch: Launcher, idle: Duration) -> Self {
        Host {
            name,
            agent,
            launch,
            idle,
            current: Arc::new(Mutex::new(None)),
        }
    }

    pub fn agent(&self) -> &Arc<A> {
        &self.agent
    }

    /// The live process, spawned (and handshaken) if there is none.
    pub async fn connection(&self) -> Result<Arc<Connection>, ProviderError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref().filter(|c| c.usable()) {
            c.touch();
            return Ok(c.clone());
        }
        let transport = (self.launch)()?;
        let (peer, incoming) = rpc::spawn(
            transport.reader,
            transport.writer,
            PeerOptions::provider(self.name),
        );
        let (exit_tx, exit_rx) = watch::channel(false);
        let conn = Arc::new(Connection {
            name: self.name,
            peer,
            child: transport.child,
            routes: StdMutex::new(HashMap::new()),
            last_used: StdMutex::new(Instant::now()),
            dead: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            exited: exit_rx,
        });
        tokio::spawn(route_loop(
            conn.clone(),
            self.agent.clone(),
            incoming,
            exit_tx,
        ));
        if let Err(e) = self.agent.handshake(&conn).await {
            conn.kill().await;
            let mut message = match e {
                ProviderError::Unavailable(m) => m,
                other => format!("{} failed its handshake: {other}", self.name),
            };
            // The agent's own last words say why (a crash message, a usage error).
            if let Some(child) = &conn.child {
                child.stderr_drained(Duration::from_secs(1)).await;
                let tail = child.stderr_tail();
                if !tail.is_empty() {
                    message = format!("{message}; its stderr: {tail}");
                }
            }
            return Err(ProviderError::Unavailable(message));
        }
        tracing::info!(agent = self.name, pid = ?conn.child.as_ref().and_then(ChildHandle::pid), "agent process started");
        watch_idle(&conn, Arc::downgrade(&self.current), self.idle);
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// Stops the process (orderly: stdin closed, a grace period, then the group is killed).
    pub async fn shutdown(&self) {
        let conn = self.current.lock().await.take();
        if let Some(c) = conn {
            c.shutdown().await;
        }
    }
}

/// One running agent process and the routes of the threads that use it.
pub struct Connection {
    name: &'static str,
    peer: Peer,
    child: Option<ChildHandle>,
    routes: StdMutex<HashMap<String, mpsc::Sender<Routed>>>,
    last_used: StdMutex<Instant>,
    dead: AtomicBool,
    retiring: AtomicBool,
    /// True once the routing loop ended (the process is gone).
    exited: watch::Receiver<bool>,
}

impl Connection {
    /// False once the process died or is being retired: the next start spawns a new one.
    pub fn usable(&self) -> bool {
        !self.dead.load(Ordering::SeqCst) && !self.retiring.load(Ordering::SeqCst)
    }

    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    /// Sends a request and waits for the answer, at most `timeout` (`None`: as long as it takes;
    /// the process exiting still ends the wait).
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, ProviderError> {
        if self.dead.load(Ordering::SeqCst) || self.peer.is_closed() {
            return Err(ProviderError::Gone(format!("{} is not running", self.name)));
        }
        self.touch();
        let answer = self.peer.request(method, params);
        let result = match timeout {
            Some(limit) => tokio::time::timeout(limit, answer).await.map_err(|_| {
                ProviderError::Failed(format!(
                    "{} did not answer {method} within {}s",
                    self.name,
                    limit.as_secs()
                ))
            })?,
            None => answer.await,
        };
        result.map_err(|e| {
            if e.code == DISCONNECTED {
                ProviderError::Gone(e.message)
            } else {
                ProviderError::Failed(e.message)
            }
        })
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<(), ProviderError> {
        self.peer
            .notify(method, params)
            .await
            .map_err(|e| ProviderError::Gone(e.message))
    }

    /// Answers a request of the agent (a gone agent needs no answer).
    pub async fn respond(&self, id: RequestId, result: Result<Value, RpcError>) {
        let _ = self.peer.respond(id, result).await;
    }

    /// Routes the messages naming `key` to the returned queue, until [`Connection::unregister`]
    /// or the process exits (then [`Routed::Exited`] is the last message).
    pub fn register(&self, key: &str) -> mpsc::Receiver<Routed> {
        self.touch();
        let (tx, rx) = mpsc::channel(ROUTE_CAPACITY);
        lock(&self.routes).insert(key.to_string(), tx);
        rx
    }

    /// Stops routing `key`; its queue ends after what it holds.
    pub fn unregister(&self, key: &str) {
        self.touch();
        lock(&self.routes).remove(key);
    }

    /// Sends a copy of a process-wide notification to every route; returns how many got it.
    pub async fn broadcast(&self, method: &str, params: &Value) -> usize {
        let routes: Vec<mpsc::Sender<Routed>> = lock(&self.routes).values().cloned().collect();
        let mut reached = 0;
        for route in routes {
            let msg = Incoming::Notification {
                method: method.to_string(),
                params: Params::from(params.clone()),
            };
            if route.send(Routed::Message(msg)).await.is_ok() {
                reached += 1;
            }
        }
        reached
    }

    /// Ends the process at once (its whole group), e.g. after a failed handshake.
    async fn kill(&self) {
        self.dead.store(true, Ordering::SeqCst);
        match &self.child {
            Some(child) => child.kill().await,
            None => self.peer.close().await,
        }
    }

    /// The orderly stop: routes are dropped without an exit event (their threads asked for
    /// it), stdin is closed, and the group is killed after a grace period.
    pub async fn shutdown(&self) {
        self.retiring.store(true, Ordering::SeqCst);
        lock(&self.routes).clear();
        match &self.child {
            Some(child) => child.stop(self.peer.close(), STOP_GRACE).await,
            None => self.peer.close().await,
        }
        let mut exited = self.exited.clone();
        let _ = tokio::time::timeout(STOP_GRACE, exited.wait_for(|e| *e)).await;
    }
}

/// Moves each message of the process into the queue of the route it names, and tells every
/// route when the process is gone.
async fn route_loop<A: Agent>(
    conn: Arc<Connection>,
    agent: Arc<A>,
    mut incoming: mpsc::Receiver<Incoming>,
    exited: watch::Sender<bool>,
) {
    let child = conn.child.clone();
    // One watch of the process's exit for the whole loop (not one per message); it never ends
    // when there is no process.
    let exit = async {
        match &child {
            Some(c) => drop(c.exited().await),
            None => std::future::pending().await,
        }
    };
    tokio::pin!(exit);
    let mut child_exited = false;
    loop {
        let next = if child_exited {
            // The process is gone: what it wrote before is still read, but a grandchild that
            // holds its stdout open must not keep the routes waiting.
            tokio::time::timeout(Duration::from_secs(1), incoming.recv())
                .await
                .ok()
                .flatten()
        } else {
            tokio::select! {
                // What the process wrote comes first, exit or not.
                biased;
                m = incoming.recv() => m,
                () = &mut exit => {
                    child_exited = true;
                    continue;
                }
            }
        };
        let Some(msg) = next else { break };
        let key = match &msg {
            Incoming::Notification { method, params }
            | Incoming::Request { method, params, .. } => agent.route_key(method, params),
        };
        let route = key.and_then(|k| lock(&conn.routes).get(&*k).cloned());
        let msg = match route {
            Some(route) => match route.send(Routed::Message(msg)).await {
                Ok(()) => continue,
                // The thread's task is gone; what it would have answered is answered here.
                Err(mpsc::error::SendError(Routed::Message(m))) => m,
                Err(_) => continue,
            },
            None => msg,
        };
        agent.unrouted(&conn, msg).await;
    }
    finish(&conn).await;
    let _ = exited.send(true);
}

/// The process is gone (or its output is): make sure it is, and tell the threads still on it.
async fn finish(conn: &Connection) {
    conn.dead.store(true, Ordering::SeqCst);
    let message = match &conn.child {
        Some(child) => {
            if child.exit_status().is_none() {
                // Its stdout closed while it runs: it is of no use any more.
                child.kill().await;
            }
            child.stderr_drained(Duration::from_millis(500)).await;
            child.exit_message()
        }
        None => format!("{} closed its connection", conn.name),
    };
    let routes: Vec<mpsc::Sender<Routed>> = lock(&conn.routes).drain().map(|(_, r)| r).collect();
    if !routes.is_empty() {
        tracing::warn!(agent = conn.name, threads = routes.len(), "{message}");
    }
    for route in routes {
        let _ = route.send(Routed::Exited(message.clone())).await;
    }
}

/// Retires the process when no route has been registered for `idle`.
fn watch_idle(
    conn: &Arc<Connection>,
    current: Weak<Mutex<Option<Arc<Connection>>>>,
    idle: Duration,
) {
    let conn = Arc::downgrade(conn);
    let tick = (idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            let (Some(c), Some(current)) = (conn.upgrade(), current.upgrade()) else {
                return;
            };
            if !c.usable() {
                return;
            }
            let mut slot = current.lock().await;
            if lock(&c.routes).is_empty() && lock(&c.last_used).elapsed() >= idle {
                c.retiring.store(true, Ordering::SeqCst);
                if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &c)) {
                    *slot = None;
                }
                drop(slot);
                tracing::info!(agent = c.name, "agent process idle; stopping it");
                c.shutdown().await;
                return;
            }
        }
    });
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
