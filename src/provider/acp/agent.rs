//! The ACP side of the shared host: the `initialize` handshake, routing by `sessionId`, and what
//! is done with messages no session routes.
//!
//! `initialize` advertises what baton serves (fs per the provider's config, no terminal, compaction
//! updates) and records what the agent says of itself (name, version, capabilities), which
//! `provider/list` shows from then on. Updates for a session that is not routed yet (an agent may
//! send `available_commands_update` right after answering `session/new`, before the session has
//! registered its route) are held briefly so the session can take them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_client_protocol_schema::v1::{AgentCapabilities, InitializeResponse};
use baton_protocol::ProviderCapabilities;
use serde_json::{Value, json};

use super::coverage::CLIENT_METHODS;
use super::permission;
use crate::config::FsCapabilities;
use crate::provider::ProviderError;
use crate::provider::coverage;
use crate::provider::host::{Agent, Connection};
use crate::rpc::{Incoming, Params, RpcError};
use crate::sync::lock;

/// How long `initialize` may take (gemini-cli needs ~2 s on a warm machine).
const INITIALIZE_TIMEOUT: Duration = Duration::from_secs(60);
/// Updates held for a session not routed yet: how many per session, and for how long.
const EARLY_MAX: usize = 64;
const EARLY_TTL: Duration = Duration::from_secs(30);

/// What the agent said of itself in `initialize`.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub name: Option<String>,
    pub version: Option<String>,
    pub load_session: bool,
    pub resume: bool,
    pub close: bool,
}

impl Facts {
    fn from(init: &InitializeResponse) -> Self {
        let caps: &AgentCapabilities = &init.agent_capabilities;
        Facts {
            name: init.agent_info.as_ref().map(|i| i.name.clone()),
            version: init.agent_info.as_ref().map(|i| i.version.clone()),
            load_session: caps.load_session,
            resume: caps.session_capabilities.resume.is_some(),
            close: caps.session_capabilities.close.is_some(),
        }
    }

    /// The capabilities `provider/list` reports; `compact` and the model switch are known only
    /// once a session showed its commands and options.
    pub fn capabilities(&self, compact: bool, model_switch: bool) -> ProviderCapabilities {
        ProviderCapabilities {
            compact,
            resume: self.resume || self.load_session,
            interrupt: true,
            approvals: true,
            in_session_model_switch: model_switch,
        }
    }
}

/// One provider id's agent, as the host sees it.
pub struct AcpAgent {
    name: &'static str,
    fs: FsCapabilities,
    facts: Mutex<Option<Facts>>,
    early: Mutex<HashMap<String, (Instant, Vec<Incoming>)>>,
}

impl AcpAgent {
    pub fn new(name: &'static str, fs: FsCapabilities) -> Self {
        AcpAgent {
            name,
            fs,
            facts: Mutex::new(None),
            early: Mutex::new(HashMap::new()),
        }
    }

    pub fn fs(&self) -> FsCapabilities {
        self.fs
    }

    /// What the agent said in its last `initialize`, once it ran.
    pub fn facts(&self) -> Option<Facts> {
        lock(&self.facts).clone()
    }

    /// The `initialize` params baton sends.
    pub fn initialize_params(&self) -> Value {
        json!({
            "protocolVersion": 1,
            "clientCapabilities": {
                "fs": {"readTextFile": self.fs.read_text_file, "writeTextFile": self.fs.write_text_file},
                "terminal": false,
                "session": {"compaction": {}},
            },
            "clientInfo": {"name": "baton", "title": "baton", "version": env!("CARGO_PKG_VERSION")},
        })
    }

    /// Takes what arrived for `session` before it was routed.
    pub fn take_early(&self, session: &str) -> Vec<Incoming> {
        lock(&self.early)
            .remove(session)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }
}

impl Agent for AcpAgent {
    async fn handshake(&self, conn: &Arc<Connection>) -> Result<(), ProviderError> {
        let result = conn
            .request(
                "initialize",
                self.initialize_params(),
                Some(INITIALIZE_TIMEOUT),
            )
            .await
            .map_err(|e| {
                ProviderError::Unavailable(format!("{} failed to initialize: {e}", self.name))
            })?;
        let init: InitializeResponse = serde_json::from_value(result).map_err(|e| {
            ProviderError::Unavailable(format!(
                "{} answered initialize with something else: {e}",
                self.name
            ))
        })?;
        let facts = Facts::from(&init);
        tracing::info!(provider = self.name, agent = ?facts.name, version = ?facts.version,
            load = facts.load_session, resume = facts.resume, close = facts.close, "ACP agent initialized");
        *lock(&self.facts) = Some(facts);
        Ok(())
    }

    fn route_key<'a>(&self, _method: &str, params: &'a Params) -> Option<Cow<'a, str>> {
        params
            .get("sessionId")
            .and_then(Value::as_str)
            .map(Cow::Borrowed)
    }

    async fn unrouted(&self, conn: &Arc<Connection>, msg: Incoming) {
        match msg {
            Incoming::Notification { method, params } => {
                let Some(session) = self.route_key(&method, &params).map(Cow::into_owned) else {
                    tracing::debug!(
                        provider = self.name,
                        method,
                        "process-wide ACP notification ignored"
                    );
                    return;
                };
                let mut early = lock(&self.early);
                early.retain(|_, (at, _)| at.elapsed() < EARLY_TTL);
                let (_, held) = early
                    .entry(session)
                    .or_insert_with(|| (Instant::now(), Vec::new()));
                if held.len() < EARLY_MAX {
                    held.push(Incoming::Notification { method, params });
                }
            }
            Incoming::Request { id, method, params } => {
                // A session nobody drives (stopped, or unknown): refuse, as its thread would.
                let answer = match method.as_str() {
                    "session/request_permission" => {
                        let options: Vec<agent_client_protocol_schema::v1::PermissionOption> =
                            params
                                .get("options")
                                .cloned()
                                .and_then(|o| serde_json::from_value(o).ok())
                                .unwrap_or_default();
                        Ok(permission::outcome(
                            &options,
                            baton_protocol::ApprovalDecision::Decline,
                        ))
                    }
                    _ => Err(refusal(
                        &method,
                        Some("no baton thread drives this session"),
                    )),
                };
                conn.respond(id, answer).await;
            }
        }
    }
}

/// The error for a request baton does not serve: `why`, else the coverage table's reason; a
/// method no row names is unknown.
pub fn refusal(method: &str, why: Option<&str>) -> RpcError {
    match coverage::find(CLIENT_METHODS, method) {
        Some(_) => {
            let reason = why
                .or_else(|| coverage::answer_reason(CLIENT_METHODS, method))
                .unwrap_or("not served by baton");
            RpcError::new(
                baton_protocol::errors::INVALID_REQUEST,
                format!("{method}: {reason}"),
            )
        }
        None => {
            coverage::unknown("acp", method);
            RpcError::method_not_found(method)
        }
    }
}
