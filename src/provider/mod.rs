//! Providers: the agent CLIs baton drives, behind one small interface.
//!
//! A provider adapter starts (or resumes) a native session for a baton thread and reports what the
//! agent does as [`ProviderEvent`]s through an [`EventSink`]. The sink tags every event with the
//! session *generation* it belongs to, so the thread's actor can drop late events from a session it
//! already replaced or stopped. Nothing above this module knows a provider's wire format.

pub mod acp;
pub mod ask;
pub mod child;
pub mod claude;
pub mod codex;
pub mod coverage;
pub mod discovery;
pub mod host;
pub mod paced;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use baton_protocol::{
    ApprovalDecision, ApprovalKind, ApprovalPolicy, EventBody, ExitReason, FileChange, InputOption,
    InputQuestion, InputResponse, ProviderCapabilities, ProviderId, ProviderInfo, ProviderKind,
    SandboxMode, TurnMode,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;

/// Where to find the provider binaries and how long idle provider processes live.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub codex_bin: Option<String>,
    pub claude_bin: Option<String>,
    /// A shared provider process with no thread using it exits after this long.
    pub process_idle_timeout: Duration,
    /// Whether adapters attach the provider's raw message to events (the editor asked for it).
    pub include_raw: Arc<std::sync::atomic::AtomicBool>,
    /// Leading arguments and environment the config file gives `codex` and `claude`.
    pub codex_extra: ChildExtra,
    pub claude_extra: ChildExtra,
}

/// What a config file adds to a built-in provider's process: arguments before baton's own, and
/// environment variables on top of baton's.
#[derive(Debug, Clone, Default)]
pub struct ChildExtra {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl ChildExtra {
    /// The `command[1..]` and `env` of a config entry.
    pub fn from_entry(entry: Option<&crate::config::ProviderEntry>) -> Self {
        let Some(e) = entry else {
            return ChildExtra::default();
        };
        ChildExtra {
            args: e
                .command
                .as_ref()
                .map(|c| c.iter().skip(1).cloned().collect())
                .unwrap_or_default(),
            env: e.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// Everything a provider needs to start or resume the native session of one baton thread.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub thread_id: String,
    pub cwd: String,
    pub model: Option<String>,
    pub approval_policy: Option<ApprovalPolicy>,
    pub sandbox: Option<SandboxMode>,
    /// The native thread/session id to resume, if any.
    pub resume: Option<String>,
}

/// What a successful start reports.
#[derive(Debug, Clone)]
pub struct Started {
    pub native_id: String,
    /// True when `resume` was honoured with the provider's history.
    pub resumed: bool,
    pub model: Option<String>,
    /// Set when a requested resume could not be honoured (the cursor was lost); never silent.
    pub warning: Option<String>,
}

/// An approval the agent asks for.
#[derive(Debug, Clone)]
pub struct ApprovalAsk {
    pub kind: ApprovalKind,
    pub title: String,
    pub command: Option<String>,
    pub cwd: Option<String>,
    pub changes: Option<Vec<FileChange>>,
    pub reason: Option<String>,
}

/// The choices of a question, as both Codex and Claude Code send them (`[{label, description}]`);
/// an empty description is left out.
pub fn input_options(options: Option<&Value>) -> Vec<InputOption> {
    options
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
            Some(InputOption {
                label: text("label")?,
                description: text("description").filter(|d| !d.is_empty()),
            })
        })
        .collect()
}

/// One thing a provider session reports.
// The ACP schema crate turns on serde_json's `preserve_order`, which makes `Value` (inside
// `EventBody`) larger; events are moved once through a bounded channel, so boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ProviderEvent {
    /// A normalised event. `native_turn` is the provider's turn id when it has one.
    Event {
        body: EventBody,
        native_turn: Option<String>,
        item_id: Option<String>,
        raw: Option<Value>,
    },
    /// The agent waits for a decision; the adapter forwards whatever is sent on `reply`
    /// (a dropped sender counts as `decline`).
    Approval {
        ask: ApprovalAsk,
        native_turn: Option<String>,
        reply: oneshot::Sender<ApprovalDecision>,
        /// The provider's request, when the editor asked for raw messages.
        raw: Option<Value>,
    },
    /// The agent asks the user questions; the adapter forwards whatever is sent on `reply`
    /// (a dropped sender counts as cancelled).
    Input {
        questions: Vec<InputQuestion>,
        native_turn: Option<String>,
        reply: oneshot::Sender<InputResponse>,
        /// The provider's request, when the editor asked for raw messages.
        raw: Option<Value>,
    },
    /// The provider is alive and working but said nothing worth an event (keeps the reaper away).
    Activity,
    /// The session ended without being asked to (process crash, EOF).
    Exited {
        reason: ExitReason,
        message: Option<String>,
    },
}

impl ProviderEvent {
    /// Attaches the provider message this event was made from (`data.raw` of the live event).
    pub fn set_raw(&mut self, message: &Value) {
        match self {
            ProviderEvent::Event { raw, .. }
            | ProviderEvent::Approval { raw, .. }
            | ProviderEvent::Input { raw, .. } => *raw = Some(message.clone()),
            ProviderEvent::Activity | ProviderEvent::Exited { .. } => {}
        }
    }
}

/// The channel a session reports into, stamped with its generation.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<(u64, ProviderEvent)>,
    generation: u64,
}

impl EventSink {
    pub fn new(tx: mpsc::Sender<(u64, ProviderEvent)>, generation: u64) -> Self {
        EventSink { tx, generation }
    }

    /// Delivers an event, waiting for room (backpressure). Returns false when the thread is gone.
    pub async fn send(&self, event: ProviderEvent) -> bool {
        self.tx.send((self.generation, event)).await.is_ok()
    }
}

/// Errors of provider operations, each mapped to a stable JSON-RPC code by the server.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// Unknown, not installed or not startable.
    #[error("{0}")]
    Unavailable(String),
    /// The provider answered with an error.
    #[error("{0}")]
    Failed(String),
    /// The provider process went away.
    #[error("provider process exited: {0}")]
    Gone(String),
}

/// A live native session of one thread. Cheap to clone: every variant is a handle.
#[derive(Clone)]
pub enum Session {
    Codex(codex::CodexSession),
    Claude(claude::ClaudeSession),
    Acp(acp::AcpSession),
}

impl Session {
    /// Sends the user's text as a new turn; returns the provider's turn id when it has one.
    pub async fn send_turn(
        &self,
        text: String,
        model: Option<String>,
        mode: TurnMode,
    ) -> Result<Option<String>, ProviderError> {
        match self {
            Session::Codex(s) => s.send_turn(text, model, mode).await.map(Some),
            Session::Claude(s) => s.send_turn(text, mode).await.map(|()| None),
            Session::Acp(s) => s.send_turn(text, model, mode).await.map(|()| None),
        }
    }

    /// Interrupts the running turn; its `turn.completed {interrupted}` follows as an event.
    pub async fn interrupt(&self, native_turn: Option<String>) -> Result<(), ProviderError> {
        match self {
            Session::Codex(s) => s.interrupt(native_turn).await,
            Session::Claude(s) => s.interrupt().await,
            Session::Acp(s) => s.interrupt().await,
        }
    }

    /// Starts a native compaction; `compaction.*` events report its progress and summary.
    pub async fn compact(&self, instructions: Option<String>) -> Result<(), ProviderError> {
        match self {
            // Codex's compaction takes no instructions.
            Session::Codex(s) => s.compact().await,
            Session::Claude(s) => s.compact(instructions).await,
            Session::Acp(s) => s.compact(instructions).await,
        }
    }

    /// Changes the model within the session.
    pub async fn set_model(&self, model: &str) -> Result<(), ProviderError> {
        match self {
            // Codex takes the model per turn: the next turn/start carries it.
            Session::Codex(_) => Ok(()),
            Session::Claude(s) => s.set_model(model).await,
            Session::Acp(s) => s.set_model(model).await,
        }
    }

    /// Ends the native session softly: the provider keeps the thread so it can be resumed.
    pub async fn stop(&self) {
        match self {
            Session::Codex(s) => s.stop().await,
            Session::Claude(s) => s.stop().await,
            Session::Acp(s) => s.stop().await,
        }
    }
}

/// All providers of this baton process: the built-ins and every provider the config declares.
#[derive(Clone)]
pub struct Providers {
    settings: Arc<ProviderSettings>,
    codex: codex::CodexPool,
    // std locks, never held across an await: the config is swapped whole by an overlay, and
    // the ACP providers are looked up (or made) on the start path.
    config: Arc<std::sync::RwLock<Arc<Config>>>,
    acp: Arc<std::sync::Mutex<BTreeMap<ProviderId, Arc<acp::AcpProvider>>>>,
}

impl Providers {
    /// The built-in providers only (no config file).
    #[cfg(test)]
    pub fn new(settings: ProviderSettings) -> Self {
        Self::with_config(settings, Config::default())
    }

    pub fn with_config(settings: ProviderSettings, config: Config) -> Self {
        let settings = Arc::new(settings);
        Providers {
            codex: codex::CodexPool::new(settings.clone()),
            settings,
            config: Arc::new(std::sync::RwLock::new(Arc::new(config))),
            acp: Arc::new(std::sync::Mutex::new(BTreeMap::new())),
        }
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies `initializationOptions.providers` for this editor session; its problems are
    /// logged and reported with the file's.
    pub fn overlay(&self, providers: &Value) {
        let next = self.config().overlay(providers);
        for e in next.errors.iter().skip(self.config().errors.len()) {
            tracing::warn!("config: {e}");
        }
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    /// Every config problem, one line each.
    pub fn config_errors(&self) -> Vec<String> {
        self.config()
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The ACP provider of `id`, made on first use (and remade when an overlay changed its entry).
    fn acp(&self, id: &ProviderId) -> Option<Arc<acp::AcpProvider>> {
        let config = self.config();
        let entry = config
            .providers
            .get(id)
            .filter(|e| e.kind == ProviderKind::Acp)?;
        let mut map = crate::sync::lock(&self.acp);
        if let Some(p) = map.get(id).filter(|p| p.entry() == entry) {
            return Some(p.clone());
        }
        let p = Arc::new(acp::AcpProvider::new(entry.clone(), self.settings.clone()));
        map.insert(id.clone(), p.clone());
        Some(p)
    }

    /// Puts an ACP provider in place (tests: one reaching an in-process fake agent).
    #[cfg(test)]
    pub fn insert_acp(&self, provider: acp::AcpProvider) {
        let id = provider.entry().id.clone();
        let mut config = (*self.config()).clone();
        config
            .providers
            .insert(id.clone(), provider.entry().clone());
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        crate::sync::lock(&self.acp).insert(id, Arc::new(provider));
    }

    /// Starts or resumes the native session of a thread.
    pub async fn start(
        &self,
        provider: ProviderId,
        config: SessionConfig,
        sink: EventSink,
    ) -> Result<(Session, Started), ProviderError> {
        match self.kind(&provider) {
            Some(ProviderKind::Codex) => {
                let (s, started) = self.codex.start(config, sink).await?;
                Ok((Session::Codex(s), started))
            }
            Some(ProviderKind::Claude) => {
                let (s, started) = claude::start(&self.settings, config, sink).await?;
                Ok((Session::Claude(s), started))
            }
            Some(ProviderKind::Acp) => {
                let p = self.acp(&provider).ok_or_else(|| {
                    ProviderError::Unavailable(format!("unknown provider `{provider}`"))
                })?;
                let (s, started) = p.start(config, sink).await?;
                Ok((Session::Acp(s), started))
            }
            None => Err(ProviderError::Unavailable(format!(
                "unknown provider `{provider}` (see provider/list)"
            ))),
        }
    }

    /// The adapter behind a provider id, `None` for an id nothing declares. The one place that
    /// maps ids to adapters (config-declared ids will join here).
    pub fn kind(&self, provider: &ProviderId) -> Option<ProviderKind> {
        self.config().providers.get(provider).map(|e| e.kind)
    }

    /// Every provider id this baton knows, in `provider/list` order.
    pub fn ids(&self) -> Vec<ProviderId> {
        vec![ProviderId::codex(), ProviderId::claude()]
    }

    /// What the adapter of a provider supports (each adapter declares its own).
    pub fn capabilities(&self, provider: &ProviderId) -> ProviderCapabilities {
        match self.kind(provider) {
            Some(ProviderKind::Codex) => codex::CAPABILITIES,
            Some(ProviderKind::Claude) => claude::CAPABILITIES,
            Some(ProviderKind::Acp) | None => ProviderCapabilities::default(),
        }
    }

    /// The configured path and the PATH name of a provider's binary.
    fn binary(&self, provider: &ProviderId) -> Option<(Option<String>, &'static str)> {
        match self.kind(provider)? {
            ProviderKind::Codex => Some((self.settings.codex_bin.clone(), codex::BIN_NAME)),
            ProviderKind::Claude => Some((self.settings.claude_bin.clone(), claude::BIN_NAME)),
            ProviderKind::Acp => None,
        }
    }

    /// Whether the provider can compact natively (its binary must be there to do it; an ACP
    /// agent must have offered `/compact` to a session).
    pub fn can_compact(&self, provider: &ProviderId) -> bool {
        if self.kind(provider) == Some(ProviderKind::Acp) {
            return self.acp(provider).is_some_and(|p| p.can_compact());
        }
        self.capabilities(provider).compact
            && self.binary(provider).is_some_and(|(explicit, name)| {
                discovery::resolve_bin(explicit.as_deref(), name).is_some()
            })
    }

    /// What each provider looks like on this machine, running every binary's `--version`
    /// (`baton doctor`); ACP providers as far as their agents told.
    pub async fn list(&self) -> Vec<ProviderInfo> {
        let mut out = discovery::list(self.probes()).await;
        out.extend(self.acp_infos());
        out
    }

    /// The providers whose binaries can be probed, and where to look for them.
    pub fn probes(&self) -> Vec<discovery::Probe> {
        self.ids()
            .into_iter()
            .filter_map(|id| {
                let kind = self.kind(&id)?;
                let (explicit, name) = self.binary(&id)?;
                Some(discovery::Probe {
                    capabilities: self.capabilities(&id),
                    id,
                    kind,
                    explicit,
                    name,
                })
            })
            .collect()
    }

    /// The ACP providers as their agents described themselves (versions once an agent ran); no
    /// process is started for this.
    pub fn acp_infos(&self) -> Vec<ProviderInfo> {
        let acp: Vec<ProviderId> = self
            .config()
            .providers
            .values()
            .filter(|e| e.kind == ProviderKind::Acp)
            .map(|e| e.id.clone())
            .collect();
        acp.iter()
            .filter_map(|id| self.acp(id))
            .map(|p| p.info())
            .collect()
    }

    /// Runs every ACP agent once (`initialize`, then stop), concurrently, so that `list` shows
    /// their versions; what failed is returned by provider id.
    pub async fn probe_acp(&self) -> Vec<(ProviderId, String)> {
        let ids: Vec<ProviderId> = self
            .config()
            .providers
            .values()
            .filter(|e| e.kind == ProviderKind::Acp)
            .map(|e| e.id.clone())
            .collect();
        let mut probes = tokio::task::JoinSet::new();
        for id in ids {
            if let Some(p) = self.acp(&id) {
                probes.spawn(async move {
                    let limit = Duration::from_secs(60);
                    match tokio::time::timeout(limit, p.probe()).await {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some((id, e.to_string())),
                        Err(_) => Some((id, "did not answer initialize within 60 s".into())),
                    }
                });
            }
        }
        let mut failed = Vec::new();
        while let Some(r) = probes.join_next().await {
            if let Ok(Some(f)) = r {
                failed.push(f);
            }
        }
        failed
    }

    /// Ends every provider process (orderly shutdown).
    pub async fn shutdown(&self) {
        let acp: Vec<Arc<acp::AcpProvider>> =
            crate::sync::lock(&self.acp).values().cloned().collect();
        // Concurrently: each agent gets its own grace period, not one after the other.
        let mut stops = tokio::task::JoinSet::new();
        for p in acp {
            stops.spawn(async move { p.shutdown().await });
        }
        self.codex.shutdown().await;
        while stops.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod coverage_tests;
#[cfg(test)]
pub(crate) mod mapping_tests;
