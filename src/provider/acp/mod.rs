//! Any Agent Client Protocol agent as a baton provider, through one generic adapter.
//!
//! A provider id declared with `kind = "acp"` gets one [`AcpProvider`]: one agent process (through
//! the shared [`Host`]) serving every baton thread on that id, each as its own ACP session routed
//! by `sessionId`. The resume cursor is the `sessionId`: `session/resume` when the agent advertises
//! it, else `session/load` (whose replayed history is not logged again), else a fresh session
//! with a warning. Wire types come from the protocol's own crate, `agent-client-protocol-schema`.
//!
//! | file | what it owns |
//! |---|---|
//! | `agent.rs` | `initialize` (client capabilities, the agent's facts), routing by `sessionId`, unrouted messages |
//! | `session.rs` | starting a session (new / resume / load / fresh), the handle the actor drives |
//! | `task.rs` | one session's messages in order: updates, permission and fs requests, end of turn |
//! | `mapping.rs` | `session/update` -> baton events |
//! | `tools.rs` | tool calls as items (command, file change with a diff, tool call) |
//! | `coverage.rs` | what is done with every update kind and agent->client method |
//! | `permission.rs` | permission requests as approvals, decisions as options |
//! | `fs.rs` | `fs/*` inside the thread's cwd only |

mod agent;
pub mod coverage;
mod fs;
pub(crate) mod mapping;
mod permission;
mod session;
mod task;
mod tools;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use baton_protocol::{ProviderCapabilities, ProviderInfo, ProviderKind};

use super::child::ChildSpec;
use super::host::{Host, Launcher, Transport};
use super::{EventSink, ProviderError, ProviderSettings, SessionConfig, Started};
use crate::config::ProviderEntry;
pub use agent::AcpAgent;
pub use session::AcpSession;

/// One ACP provider id: its config entry, its agent process, what the agent said of itself.
pub struct AcpProvider {
    entry: ProviderEntry,
    name: &'static str,
    host: Host<AcpAgent>,
    settings: Arc<ProviderSettings>,
    /// Learned from sessions: whether the agent offers `/compact` and a model choice.
    learned: Arc<Learned>,
}

/// What sessions showed of the agent beyond `initialize`.
#[derive(Default)]
pub(crate) struct Learned {
    pub compact: AtomicBool,
    pub model: AtomicBool,
    /// A compaction ended without a summary to hand over.
    pub no_summary: AtomicBool,
}

/// Provider names live as long as baton (host and peer name their logs with `&'static str`);
/// there are only as many as the config declares.
fn leak_name(id: &str) -> &'static str {
    Box::leak(id.to_string().into_boxed_str())
}

impl AcpProvider {
    /// The provider of a config entry (`kind = "acp"`, `command` checked by the config).
    pub fn new(entry: ProviderEntry, settings: Arc<ProviderSettings>) -> Self {
        let name = leak_name(entry.id.as_str());
        let launch = launcher(name, &entry);
        Self::with_launcher(entry, settings, launch)
    }

    /// The provider with a custom way to reach its agent (tests: an in-process fake).
    pub fn with_launcher(
        entry: ProviderEntry,
        settings: Arc<ProviderSettings>,
        launch: Launcher,
    ) -> Self {
        let name = leak_name(entry.id.as_str());
        let agent = Arc::new(AcpAgent::new(name, entry.fs));
        AcpProvider {
            host: Host::new(name, agent, launch, settings.process_idle_timeout),
            entry,
            name,
            settings,
            learned: Arc::default(),
        }
    }

    pub fn entry(&self) -> &ProviderEntry {
        &self.entry
    }

    /// Starts or resumes the session of a thread (spawning the agent if it is not running).
    pub async fn start(
        &self,
        config: SessionConfig,
        sink: EventSink,
    ) -> Result<(AcpSession, Started), ProviderError> {
        let conn = self.host.connection().await?;
        let (session, started) = session::start(
            self.name,
            conn,
            self.host.agent().clone(),
            config,
            sink,
            self.settings.include_raw.clone(),
            self.learned.clone(),
        )
        .await?;
        Ok((session, started))
    }

    /// Whether handoffs from this provider can use its compaction: it offered `/compact` to a
    /// session, and no compaction so far came without a summary. Otherwise baton's transcript.
    pub fn can_compact(&self) -> bool {
        self.learned.compact.load(Ordering::SeqCst)
            && !self.learned.no_summary.load(Ordering::SeqCst)
    }

    /// What `provider/list` shows: the command found, and once the agent ran, its version and
    /// capabilities from `initialize`.
    pub fn info(&self) -> ProviderInfo {
        let program = self.entry.command.as_ref().and_then(|c| c.first()).cloned();
        let bin = program
            .as_deref()
            .and_then(|p| super::discovery::resolve_bin(Some(p), p));
        let facts = self.host.agent().facts();
        let compact = self.learned.compact.load(Ordering::SeqCst);
        let model = self.learned.model.load(Ordering::SeqCst);
        let capabilities = match &facts {
            Some(f) => f.capabilities(compact, model),
            None => ProviderCapabilities {
                compact: false,
                resume: false,
                interrupt: true,
                approvals: true,
                in_session_model_switch: false,
            },
        };
        ProviderInfo {
            id: self.entry.id.clone(),
            kind: ProviderKind::Acp,
            available: bin.is_some(),
            version: facts.and_then(|f| f.version),
            path: bin.as_ref().map(|b| b.display().to_string()),
            error: match (&bin, &program) {
                (Some(_), _) => None,
                (None, Some(p)) => Some(format!("`{p}` not found")),
                (None, None) => Some("no command configured".into()),
            },
            capabilities,
        }
    }

    /// Starts the agent and runs `initialize` (so that [`AcpProvider::info`] knows its version
    /// and capabilities), then stops it again: what `baton doctor` does.
    pub async fn probe(&self) -> Result<(), ProviderError> {
        let r = self.host.connection().await.map(|_| ());
        self.host.shutdown().await;
        r
    }

    /// Stops the agent process (orderly, then its whole process group).
    pub async fn shutdown(&self) {
        self.host.shutdown().await;
    }
}

/// Spawns the configured command with its env, in its own process group.
fn launcher(name: &'static str, entry: &ProviderEntry) -> Launcher {
    let command = entry.command.clone().unwrap_or_default();
    let env: Vec<(String, String)> = entry
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    std::sync::Arc::new(move || {
        let Some(program) = command.first() else {
            return Err(ProviderError::Unavailable(format!(
                "{name}: no command configured"
            )));
        };
        let bin = super::discovery::resolve_bin(Some(program), program)
            .unwrap_or_else(|| PathBuf::from(program));
        let mut spec = ChildSpec::new(name, bin, command[1..].to_vec());
        spec.env = env.clone();
        Transport::spawn(&spec)
    })
}

#[cfg(test)]
mod actor_tests;
#[cfg(test)]
mod coverage_tests;
#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
pub(crate) mod tests;
