//! `baton acp`: baton as an Agent Client Protocol agent.
//!
//! A front end on top of baton's own protocol, so it depends on nothing inside the server: the
//! normal server runs in-process ([`crate::server::run`] over a `tokio::io::duplex` pipe) and
//! this module translates between the ACP client on stdin/stdout (newline-delimited JSON-RPC,
//! protocol version 1, wire types from `agent-client-protocol-schema`) and that server, using
//! baton's JSON-RPC peer on both sides. An ACP session is a baton thread (same id).
//!
//! - [`session`]: `initialize` and the session lifecycle (new, load, resume, list, close, delete);
//! - [`prompt`]: `session/prompt`, `session/cancel` and the slash commands;
//! - [`config`]: config options (provider, model, approval policy), modes, the default provider;
//! - [`route`]: what the server sends (events, approvals, questions) -> ACP;
//! - [`updates`] / [`tools`]: baton events -> `session/update`s; [`permission`]: approvals and
//!   questions as `session/request_permission`.

mod config;
mod permission;
mod prompt;
mod route;
mod session;
mod tools;
mod updates;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agent_client_protocol_schema::v1::{SessionNotification, SessionUpdate};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

use crate::rpc::{self, Incoming, Peer, PeerOptions, ReadFraming, RequestId, RpcError};
use crate::server::{self, ServerConfig};

pub use config::default_provider;

/// ACP's "resource not found" (an unknown session id).
const RESOURCE_NOT_FOUND: i64 = -32002;

/// How a running turn ended, as the router saw it in `turn.completed`.
#[derive(Debug, Clone)]
pub struct TurnEnd {
    pub state: String,
    pub error: Option<String>,
}

/// One ACP session attached on this connection (a baton thread).
pub struct Session {
    pub provider: String,
    pub model: Option<String>,
    pub approval_policy: Option<String>,
    pub title: Option<String>,
    pub mapper: updates::Mapper,
    /// Set while a `session/prompt` (or slash command) waits for its turn to end.
    pub prompt: Option<oneshot::Sender<TurnEnd>>,
    pub prompt_active: bool,
    pub cancel_requested: bool,
    /// The seq of the newest event routed to the client.
    pub routed_seq: i64,
}

/// What the client said about itself in `initialize`.
#[derive(Debug, Default, Clone)]
pub struct ClientCaps {
    /// `clientCapabilities.session.compaction`: render `compaction_update`.
    pub compaction: bool,
    /// `clientCapabilities.session.notices`: render `notice`.
    pub notices: bool,
}

/// State shared by the tasks of one `baton acp` connection.
pub struct Acp {
    /// The ACP client (stdin/stdout).
    pub client: Peer,
    /// The in-process baton server.
    pub baton: Peer,
    pub default_provider: String,
    pub caps: Mutex<ClientCaps>,
    /// Set once `initialize` was answered; other requests are refused before (as ACP's SDKs do).
    initialized: AtomicBool,
    /// `provider/list` as the server reported it at start.
    providers: Mutex<Vec<Value>>,
    sessions: Mutex<HashMap<String, Session>>,
    /// Woken whenever the router delivered events (see [`Acp::wait_routed`]).
    routed: Notify,
}

impl Acp {
    pub fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        // A poisoned map of sessions is still a valid map.
        crate::sync::lock(&self.sessions)
    }

    pub fn providers(&self) -> Vec<Value> {
        self.providers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn caps(&self) -> ClientCaps {
        crate::sync::lock(&self.caps).clone()
    }

    /// Sends one `session/update`.
    pub async fn update(&self, session: &str, update: SessionUpdate) {
        let n = SessionNotification::new(session.to_string(), update);
        if let Err(e) = self.client.notify("session/update", n).await {
            tracing::debug!("client gone, update not sent: {e}");
        }
    }

    /// Calls the baton server; its errors become ACP errors.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.baton.request(method, params).await.map_err(from_baton)
    }

    /// Waits (bounded) until the router has delivered the events of `thread` up to `seq`, so
    /// that a response sent next follows the updates the operation caused.
    pub async fn wait_routed(&self, thread: &str, seq: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let notified = self.routed.notified();
            let done = self
                .sessions()
                .get(thread)
                .is_none_or(|s| s.routed_seq >= seq);
            if done || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

/// Parses ACP params; a mismatch is -32602 naming what is wrong.
pub fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("invalid params: {e}")))
}

pub fn to_value<T: serde::Serialize>(v: T) -> Result<Value, RpcError> {
    serde_json::to_value(v).map_err(|e| RpcError::internal(format!("cannot serialise: {e}")))
}

pub fn not_found(session: &str) -> RpcError {
    RpcError::new(RESOURCE_NOT_FOUND, format!("session not found: {session}"))
        .with_data(json!({ "sessionId": session }))
}

/// baton's error codes as ACP sees them: unknown threads are ACP's "resource not found", state
/// conflicts are invalid requests, invalid params stay; the rest keep baton's message and carry
/// baton's code in `data.batonCode`.
pub fn from_baton(e: RpcError) -> RpcError {
    use baton_protocol::errors as be;
    let code = match e.code {
        be::THREAD_NOT_FOUND => RESOURCE_NOT_FOUND,
        be::TURN_IN_PROGRESS | be::NO_ACTIVE_TURN | be::THREAD_BUSY => be::INVALID_REQUEST,
        be::INVALID_PARAMS => be::INVALID_PARAMS,
        rpc::DISCONNECTED => be::INTERNAL_ERROR,
        c if (-32099..=-32000).contains(&c) => be::INTERNAL_ERROR,
        c => c,
    };
    RpcError::new(code, e.message).with_data(json!({ "batonCode": e.code }))
}

/// Runs `baton acp` until the client closes stdin; returns the exit code.
pub async fn run(config: ServerConfig, default_provider: String) -> i32 {
    // The in-process server: one end of the pipe is its stdin/stdout, the other end is ours.
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let (server_in, server_out) = tokio::io::split(theirs);
    let server = tokio::spawn(server::run(config, server_in, server_out));
    let (baton_in, baton_out) = tokio::io::split(ours);
    let mut opts = PeerOptions::provider("baton");
    opts.read_framing = ReadFraming::Ndjson;
    let (baton, baton_incoming) = rpc::spawn(baton_in, baton_out, opts);

    let client_opts = PeerOptions {
        name: "acp-client",
        read_framing: ReadFraming::Ndjson,
        ..PeerOptions::editor()
    };
    let (client, mut incoming) =
        rpc::spawn(crate::stdio::input(), crate::stdio::output(), client_opts);

    let acp = Arc::new(Acp {
        client,
        baton: baton.clone(),
        default_provider,
        caps: Mutex::new(ClientCaps::default()),
        initialized: AtomicBool::new(false),
        providers: Mutex::new(Vec::new()),
        sessions: Mutex::new(HashMap::new()),
        routed: Notify::new(),
    });
    if let Err(e) = session::initialize_server(&acp).await {
        tracing::error!("the in-process baton server did not initialise: {e}");
        return 1;
    }
    let router = tokio::spawn(route::run(acp.clone(), baton_incoming));

    while let Some(msg) = incoming.recv().await {
        match msg {
            Incoming::Request { id, method, params } => {
                let acp = acp.clone();
                tokio::spawn(async move {
                    // An attached session learns its slash commands right after the answer (the
                    // client only knows a new session's id from the answer).
                    let announce = matches!(
                        method.as_str(),
                        "session/new" | "session/load" | "session/resume"
                    );
                    let hint = params["sessionId"].as_str().map(str::to_string);
                    let result = dispatch(&acp, &method, params.into_value()).await;
                    let session = match &result {
                        Ok(v) if announce => v["sessionId"].as_str().map(str::to_string).or(hint),
                        _ => None,
                    };
                    respond(&acp, id, result).await;
                    if let Some(session) = session {
                        session::announce_commands(&acp, &session).await;
                    }
                });
            }
            Incoming::Notification { method, params } => match method.as_str() {
                "session/cancel" => {
                    let acp = acp.clone();
                    tokio::spawn(async move { prompt::cancel(&acp, params.into_value()).await });
                }
                other => tracing::debug!(method = other, "ignoring notification"),
            },
        }
    }
    tracing::info!("ACP client closed the connection; shutting down");
    // Closing our end of the pipe is an orderly shutdown for the server: sessions are
    // soft-stopped with their resume cursors kept.
    baton.close().await;
    drop(acp);
    let code = match tokio::time::timeout(Duration::from_secs(6), server).await {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            tracing::error!("the baton server task failed: {e}");
            1
        }
        Err(_) => {
            tracing::warn!("the baton server did not stop within 6 s");
            1
        }
    };
    router.abort();
    code
}

async fn respond(acp: &Acp, id: RequestId, result: Result<Value, RpcError>) {
    if let Err(e) = acp.client.respond(id, result).await {
        tracing::debug!("cannot respond, client gone: {e}");
    }
}

async fn dispatch(acp: &Arc<Acp>, method: &str, params: Value) -> Result<Value, RpcError> {
    if method == "initialize" {
        let r = session::initialize(acp, params).await;
        if r.is_ok() {
            acp.initialized.store(true, Ordering::SeqCst);
        }
        return r;
    }
    if !acp.initialized.load(Ordering::SeqCst) {
        return Err(RpcError::invalid_request(format!(
            "ACP connection must be initialized before '{method}'"
        )));
    }
    match method {
        "authenticate" => Ok(json!({})),
        "session/new" => session::new(acp, params).await,
        "session/load" => session::load(acp, params).await,
        "session/resume" => session::resume(acp, params).await,
        "session/list" => session::list(acp, params).await,
        "session/close" => session::close(acp, params).await,
        "session/delete" => session::delete(acp, params).await,
        "session/prompt" => prompt::prompt(acp, params).await,
        "session/set_config_option" => config::set_config_option(acp, params).await,
        "session/set_mode" => config::set_mode(acp, params).await,
        other => Err(RpcError::method_not_found(other)),
    }
}
