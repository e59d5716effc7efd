//! The editor-facing server: the main loop over the editor's JSON-RPC messages.
//!
//! Lifecycle messages (`initialize`, `shutdown`, `exit`, `$/cancelRequest`) are handled inline, in
//! order. Every other request runs as its own task (so an approval the editor answers late never
//! blocks the loop) with a cancellation token that `$/cancelRequest` fires. Handlers are split by
//! resource: [`thread`], [`turn`], [`provider`], [`lease`] (several windows on one database).

mod lease;
mod params;
mod provider;
mod thread;
mod turn;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_protocol::{
    CancelParams, InitializeParams, InitializeResult, PROTOCOL_VERSION, ServerCapabilities,
    ServerInfo, errors,
};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::editor::{Editor, EditorSettings};
use crate::provider::Providers;
use crate::rpc::{self, Incoming, Peer, PeerOptions, RequestId, RpcError};
use crate::session::{Context, Sessions};
use crate::store::Store;

/// Everything the server needs that is decided before the editor connects.
pub struct ServerConfig {
    pub store: Store,
    pub providers: Providers,
    pub include_raw: Arc<std::sync::atomic::AtomicBool>,
    pub idle_timeout: Duration,
    /// `--max-live-sessions`; `initializationOptions.maxLiveSessions` overrides it.
    pub max_live_sessions: usize,
    pub turn_inactivity_timeout: Duration,
}

/// How the connection ended, as the process exit code.
pub async fn run<R, W>(config: ServerConfig, input: R, output: W) -> i32
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (peer, mut incoming) = rpc::spawn(input, output, PeerOptions::editor());
    let settings = Arc::new(EditorSettings {
        include_raw: config.include_raw.clone(),
        ..Default::default()
    });
    let ctx = Context {
        store: config.store.clone(),
        editor: Editor::new(peer.clone(), settings.clone()),
        providers: config.providers.clone(),
        idle_timeout: Arc::new(config.idle_timeout.as_secs().into()),
        turn_inactivity_timeout: Arc::new(config.turn_inactivity_timeout.as_secs().into()),
    };
    let sessions = Sessions::new(ctx);
    sessions.budget().set_max(config.max_live_sessions);
    // Leases and follows are polled for as long as the editor is connected.
    let background = [
        tokio::spawn(crate::session::run_heartbeat(sessions.clone())),
        tokio::spawn(crate::follow::run_poller(
            sessions.context().editor.follows().clone(),
            config.store.clone(),
            sessions.context().editor.clone(),
        )),
    ];
    let mut state = State {
        peer: peer.clone(),
        sessions: sessions.clone(),
        settings,
        initialized: false,
        shutdown: false,
        inflight: Arc::new(Mutex::new(HashMap::new())),
    };
    let code = loop {
        let Some(msg) = incoming.recv().await else {
            tracing::info!("editor closed the connection; shutting down");
            break 0;
        };
        match msg {
            Incoming::Request { id, method, params } => {
                state.request(id, method, params.into_value()).await
            }
            Incoming::Notification { method, params } => {
                if method == "exit" {
                    break if state.shutdown { 0 } else { 1 };
                }
                state.notification(&method, params.into_value());
            }
        }
    };
    for task in background {
        task.abort();
    }
    shutdown(&sessions, &config.providers, &config.store).await;
    peer.close().await;
    code
}

/// Soft-stops every session, ends provider processes and flushes the store, within 5 s.
async fn shutdown(sessions: &Sessions, providers: &Providers, store: &Store) {
    if tokio::time::timeout(Duration::from_secs(3), sessions.shutdown_all())
        .await
        .is_err()
    {
        tracing::warn!("sessions did not stop within 3 s");
    }
    if tokio::time::timeout(Duration::from_millis(1500), providers.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("provider processes did not exit in time; they are killed");
    }
    // Every actor gave its lease back as it stopped; this catches any a stuck actor kept.
    let me = sessions.leases().me();
    if let Err(e) = store.release_all_leases(&me).await {
        tracing::warn!("cannot release our leases: {e}");
    }
    if let Err(e) = store.flush().await {
        tracing::error!("store flush failed: {e}");
    }
}

/// The answer to a request the editor cancelled with `$/cancelRequest`.
fn cancelled() -> RpcError {
    RpcError::new(errors::REQUEST_CANCELLED, "request cancelled")
}

type Inflight = Arc<Mutex<HashMap<RequestId, CancellationToken>>>;

struct State {
    peer: Peer,
    sessions: Sessions,
    settings: Arc<EditorSettings>,
    initialized: bool,
    shutdown: bool,
    inflight: Inflight,
}

fn inflight(map: &Inflight) -> std::sync::MutexGuard<'_, HashMap<RequestId, CancellationToken>> {
    crate::sync::lock(map)
}

impl State {
    async fn respond(&self, id: RequestId, result: Result<Value, RpcError>) {
        if let Err(e) = self.peer.respond(id, result).await {
            tracing::debug!("cannot respond, editor gone: {e}");
        }
    }

    fn notification(&mut self, method: &str, params: Value) {
        match method {
            "initialized" => {}
            "$/cancelRequest" => match serde_json::from_value::<CancelParams>(params) {
                Ok(p) => match serde_json::from_value::<RequestId>(p.id) {
                    Ok(id) => {
                        if let Some(token) = inflight(&self.inflight).get(&id) {
                            token.cancel();
                        }
                    }
                    Err(_) => tracing::debug!("$/cancelRequest with a bad id"),
                },
                Err(_) => tracing::debug!("$/cancelRequest without an id"),
            },
            other => tracing::debug!(method = other, "ignoring notification"),
        }
    }

    async fn request(&mut self, id: RequestId, method: String, params: Value) {
        if method == "initialize" {
            let (r, refresh) = match self.initialize(params).await {
                Ok((r, refresh)) => (Ok(r), Some(refresh)),
                Err(e) => (Err(e), None),
            };
            self.respond(id, r).await;
            // Only after the answer, so `provider/changed` can never come before it.
            if let Some((reported, stale)) = refresh {
                provider::refresh(self.sessions.context().clone(), reported, stale);
            }
            return;
        }
        if !self.initialized {
            let e = RpcError::new(
                errors::SERVER_NOT_INITIALIZED,
                "server not initialized: send `initialize` first",
            );
            return self.respond(id, Err(e)).await;
        }
        if method == "shutdown" {
            self.shutdown = true;
            return self.respond(id, Ok(Value::Null)).await;
        }
        if self.shutdown {
            let e = RpcError::new(
                errors::INVALID_REQUEST,
                "shutdown was requested; only `exit` is accepted",
            );
            return self.respond(id, Err(e)).await;
        }
        // Ids name requests in flight: a second request under the id of one still running could
        // neither be cancelled nor told apart in the answers, so it is refused.
        if inflight(&self.inflight).contains_key(&id) {
            let e = RpcError::invalid_request(format!(
                "request id {id} is already used by a request in progress"
            ));
            return self.respond(id, Err(e)).await;
        }
        let sessions = self.sessions.clone();
        let token = CancellationToken::new();
        // thread/start has side effects a dropped future would leave half done, so it watches the
        // token itself and rolls back; every other handler is simply dropped when cancelled.
        let handles_cancel = method == "thread/start";
        let fut: std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Value, RpcError>> + Send>,
        > = match method.as_str() {
            "provider/list" => Box::pin(provider::list(sessions, params)),
            "thread/start" => Box::pin(thread::start(sessions, params, token.clone())),
            "thread/list" => Box::pin(thread::list(sessions, params)),
            "thread/read" => Box::pin(thread::read(sessions, params)),
            "thread/update" => Box::pin(thread::update(sessions, params)),
            "thread/stop" => Box::pin(thread::stop(sessions, params)),
            "thread/delete" => Box::pin(thread::delete(sessions, params)),
            "thread/compact/start" => Box::pin(thread::compact(sessions, params)),
            "thread/switch" => Box::pin(thread::switch(sessions, params)),
            "turn/start" => Box::pin(turn::start(sessions, params)),
            "turn/interrupt" => Box::pin(turn::interrupt(sessions, params)),
            "thread/takeover" => Box::pin(lease::takeover(sessions, params)),
            "thread/subscribe" => Box::pin(lease::subscribe(sessions, params)),
            "thread/unsubscribe" => Box::pin(lease::unsubscribe(sessions, params)),
            _ => {
                return self
                    .respond(id, Err(RpcError::method_not_found(&method)))
                    .await;
            }
        };
        inflight(&self.inflight).insert(id.clone(), token.clone());
        let peer = self.peer.clone();
        let map = self.inflight.clone();
        tokio::spawn(async move {
            // Its own task, so that a handler that panics still gets its request answered.
            let task = tokio::spawn(fut);
            let abort = task.abort_handle();
            let result = tokio::select! {
                r = task => r.unwrap_or_else(|e| {
                    tracing::error!(%method, "request handler failed: {e}");
                    Err(RpcError::internal(format!("internal error while handling {method}")))
                }),
                _ = token.cancelled(), if !handles_cancel => {
                    abort.abort();
                    Err(cancelled())
                }
            };
            inflight(&map).remove(&id);
            if let Err(e) = peer.respond(id, result).await {
                tracing::debug!("cannot respond, editor gone: {e}");
            }
        });
    }

    /// Answers `initialize` from the probe cache; returns the answer and what to probe after it.
    async fn initialize(&mut self, params: Value) -> Result<(Value, ProbeLater), RpcError> {
        if self.initialized {
            return Err(RpcError::new(
                errors::INVALID_REQUEST,
                "already initialized",
            ));
        }
        let p: InitializeParams = params::parse(params)?;
        if let Some(opts) = &p.initialization_options {
            self.settings
                .include_raw
                .store(opts.include_raw, Ordering::Relaxed);
            if let Some(secs) = opts.approval_timeout_secs {
                self.settings
                    .approval_timeout_secs
                    .store(secs, Ordering::Relaxed);
            }
            if let Some(secs) = opts.turn_inactivity_timeout_secs {
                self.sessions
                    .context()
                    .turn_inactivity_timeout
                    .store(secs, Ordering::Relaxed);
            }
            if let Some(providers) = &opts.providers {
                self.sessions.context().providers.overlay(providers);
            }
            if let Some(n) = opts.max_live_sessions {
                self.sessions
                    .budget()
                    .set_max(usize::try_from(n).unwrap_or(usize::MAX));
            }
            if let Some(secs) = opts.idle_timeout_secs {
                self.sessions
                    .context()
                    .idle_timeout
                    .store(secs, Ordering::Relaxed);
            }
        }
        if let Some(client) = &p.client_info {
            tracing::info!(client = %client.name, version = ?client.version, "editor connected");
            // Other windows see this name when this process drives a thread they want.
            self.sessions.leases().set_client(&client.name);
        }
        let (providers, stale) = provider::cached(self.sessions.context()).await;
        let config_errors = self.sessions.context().providers.config_errors();
        self.initialized = true;
        let later = (providers.clone(), stale);
        params::to_value(InitializeResult {
            server_info: ServerInfo {
                name: "baton".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            protocol_version: PROTOCOL_VERSION,
            capabilities: ServerCapabilities {},
            providers,
            config_errors,
        })
        .map(|v| (v, later))
    }
}

/// What `initialize` reported and the provider binaries it still has to probe.
type ProbeLater = (
    Vec<baton_protocol::ProviderInfo>,
    Vec<crate::provider::discovery::FileKey>,
);
